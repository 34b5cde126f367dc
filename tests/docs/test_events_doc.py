"""docs/events.md publishes the notification schema: it must be exactly what the code emits."""

from __future__ import annotations

import json
import re
from pathlib import Path

from runway_bridge.models.notification import DETAIL_TYPES, notification_json_schema

DOC = Path(__file__).resolve().parents[2] / "docs" / "events.md"


def test_the_documented_schema_is_the_one_the_code_emits() -> None:
    text = DOC.read_text()
    block = re.search(r"<!-- notification-schema:start -->\n```json\n(.*?)\n```", text, re.DOTALL)
    assert block is not None, "docs/events.md lost its schema block"
    assert json.loads(block.group(1)) == notification_json_schema()


def test_every_event_type_and_detail_type_is_documented() -> None:
    text = DOC.read_text()
    for event_type, detail_type in DETAIL_TYPES.items():
        assert f"| `{event_type}` | `{detail_type}` |" in text
