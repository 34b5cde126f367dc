"""The console's files as the bridge serves them (the pages are in runway_bridge/console/)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ConsoleFile:
    """One text file of the console: its name, its text and its content type."""

    name: str
    text: str
    content_type: str


@dataclass(frozen=True)
class ConsoleAnswer:
    """What a console route answers: status, content type, body and headers."""

    status: int
    content_type: str
    body: str
    headers: dict[str, str] = field(default_factory=dict)
