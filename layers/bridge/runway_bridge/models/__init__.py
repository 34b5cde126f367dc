"""Pydantic models. No I/O."""
