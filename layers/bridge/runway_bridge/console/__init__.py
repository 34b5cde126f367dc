"""The console's pages: text files only (HTML, CSS, JavaScript), read by adapters/console_files.py
and served by the API function under /console. Nothing here is imported."""
