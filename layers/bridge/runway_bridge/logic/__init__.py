"""Plain Python business logic; dependencies are passed in."""
