"""docs/events.md publishes the notification schema: it must be exactly what the code emits."""

from __future__ import annotations

import json
import re
from pathlib import Path

from runway_bridge.models.events import CALLBACK_EVENT_TYPES, EventType
from runway_bridge.models.notification import notification_json_schema

DOC = Path(__file__).resolve().parents[2] / "docs" / "events.md"


def test_the_documented_schema_is_the_one_the_code_emits() -> None:
    text = DOC.read_text()
    block = re.search(r"<!-- notification-schema:start -->\n```json\n(.*?)\n```", text, re.DOTALL)
    assert block is not None, "docs/events.md lost its schema block"
    assert json.loads(block.group(1)) == notification_json_schema()


def test_every_event_type_and_detail_type_is_documented() -> None:
    text = DOC.read_text()
    for event_type in EventType:
        assert f"| `{event_type}` | `{event_type.detail_type}` |" in text


def test_the_documented_table_lists_exactly_the_event_types() -> None:
    text = DOC.read_text()
    documented = set(re.findall(r"^\| `([a-z_]+\.[a-z_]+)` \| `[A-Za-z ]+` \|$", text, re.MULTILINE))
    assert documented == set(EventType)


def test_the_event_types_a_callback_may_ask_for_are_documented() -> None:
    # docs/events.md names the default (every `task.*` outcome) and `task.progress`.
    assert {str(event_type) for event_type in CALLBACK_EVENT_TYPES} == {
        event_type for event_type in EventType if event_type.startswith("task.")
    }
