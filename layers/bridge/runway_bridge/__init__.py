"""runway-bridge: deployed code (models, logic, adapters). Imports stay lean for cold starts."""
