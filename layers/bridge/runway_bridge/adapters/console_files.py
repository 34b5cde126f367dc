"""The console's files, read from the package (they ship in the layer beside the code)."""

from __future__ import annotations

from functools import cache
from importlib import resources

from runway_bridge.models.console import ConsoleFile

PACKAGE = "runway_bridge.console"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}


class PackagedConsoleFiles:
    """Reads each file once per process; only the text kinds above, only top-level names."""

    def read(self, name: str) -> ConsoleFile | None:
        return _read(name)


@cache
def _read(name: str) -> ConsoleFile | None:
    suffix = name[name.rfind(".") :] if "." in name else ""
    content_type = CONTENT_TYPES.get(suffix)
    if content_type is None or "/" in name or "\\" in name or name.startswith("."):
        return None
    entry = resources.files(PACKAGE).joinpath(name)
    if not entry.is_file():
        return None
    return ConsoleFile(name=name, text=entry.read_text(encoding="utf-8"), content_type=content_type)
