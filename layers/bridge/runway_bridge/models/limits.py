"""Caps on what a caller may send, declared once (docs: README "Limits"). No I/O.

They are part of the API contract rather than deployment settings: a caller's valid request must not
become invalid on another bridge, and the notification size they bound is a property of SNS and
EventBridge, not of a deployment.
"""

from __future__ import annotations

import json
from typing import Any, Final

# Bridge `metadata`: at most this many entries, each key and value at most this many characters, and
# the whole object, serialized as compact JSON, at most this many bytes. It rides along in every
# notification, so it must stay far below the channels' 256 KB.
METADATA_MAX_ENTRIES: Final = 20
METADATA_KEY_MAX_CHARS: Final = 64
METADATA_VALUE_MAX_CHARS: Final = 512
METADATA_MAX_BYTES: Final = 4096

# Deepest nesting of arrays/objects accepted in a request body (the HTTP body, or an event's
# detail). Runway's bodies need about 4; the cap keeps parsing and validation far from Python's
# recursion limit, so a hostile body is a 400 and not a crash.
JSON_MAX_DEPTH: Final = 32


class TooDeepError(ValueError):
    """A JSON document nests deeper than `JSON_MAX_DEPTH`."""

    def __init__(self, max_depth: int = JSON_MAX_DEPTH) -> None:
        super().__init__(f"the JSON nests deeper than {max_depth} levels")


def compact_json_size(value: Any) -> int:
    """Bytes of `value` as compact JSON (how it is stored and sent)."""
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def check_json_text_depth(text: str, max_depth: int = JSON_MAX_DEPTH) -> None:
    """Raise `TooDeepError` if the JSON text opens more than `max_depth` nested arrays/objects.

    Runs before `json.loads` (which recurses once per level and would hit the recursion limit on a
    body such as `"[" * 100000`). A linear scan that skips string contents; it does not validate the
    JSON, the parser does that afterwards."""
    depth = 0
    in_string = False
    escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > max_depth:
                raise TooDeepError(max_depth)
        elif char in "]}":
            depth -= 1


def check_value_depth(value: Any, max_depth: int = JSON_MAX_DEPTH) -> None:
    """Raise `TooDeepError` if a parsed value (dicts and lists) nests deeper than `max_depth`.
    Iterative, so an already parsed hostile value (an event's detail) cannot exhaust the stack."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        if depth > max_depth:
            raise TooDeepError(max_depth)
        stack.extend((child, depth + 1) for child in children)


def loads_bounded(text: str, max_depth: int = JSON_MAX_DEPTH) -> Any:
    """`json.loads` that refuses (ValueError) a document nested deeper than `max_depth`."""
    check_json_text_depth(text, max_depth)
    return json.loads(text)
