"""The event types, declared once (models/events.py): what each one is, where it goes, and the ids
receivers dedupe on, which must not change with the way the types are declared."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from runway_bridge.models.events import (
    CALLBACK_EVENT_TYPES,
    DEFAULT_CALLBACK_EVENT_TYPES,
    OUTCOME_EVENT_TYPES,
    EventType,
)
from runway_bridge.models.job import TERMINAL
from runway_bridge.models.notification import Notification, exhausted_event_id, progress_event_id
from runway_bridge.models.outbox import event_id_for


def test_every_terminal_status_has_exactly_one_outcome_event_type() -> None:
    assert set(OUTCOME_EVENT_TYPES) == TERMINAL
    assert len(set(OUTCOME_EVENT_TYPES.values())) == len(TERMINAL)
    assert {event_type for event_type in EventType if event_type.is_outcome} == set(
        OUTCOME_EVENT_TYPES.values()
    )


def test_topic_and_bus_get_outcomes_and_exhausted_webhooks_not_progress_or_tests() -> None:
    assert {event_type for event_type in EventType if event_type.broadcast} == {
        *OUTCOME_EVENT_TYPES.values(),
        EventType.WEBHOOK_EXHAUSTED,
    }


def test_a_callback_gets_every_outcome_by_default_and_may_add_progress_only() -> None:
    assert set(OUTCOME_EVENT_TYPES.values()) == DEFAULT_CALLBACK_EVENT_TYPES
    assert {EventType.TASK_PROGRESS} == CALLBACK_EVENT_TYPES - DEFAULT_CALLBACK_EVENT_TYPES


def test_every_type_has_its_own_detail_type() -> None:
    assert len({event_type.detail_type for event_type in EventType}) == len(EventType)


def test_ids_are_the_ones_receivers_already_deduped_on() -> None:
    # uuid5 over the plain type names: an enum must not change a single id.
    assert event_id_for("job-1", EventType.TASK_SUCCEEDED) == "265e4ec9-52f7-5d6a-94ca-3ef631f29ad3"
    assert progress_event_id("job-1", 3) == "038c2275-d1f3-5e3f-b97a-76cfcd919327"
    assert exhausted_event_id("e-1") == "725089cd-7e69-5ada-beac-aa7b22acdcc8"


def test_a_notification_carries_its_type_as_the_plain_name_and_refuses_unknown_ones() -> None:
    notification = Notification.model_validate(
        {"id": "e1", "type": "webhook.test", "timestamp": "2026-11-24T12:00:00Z", "data": {}}
    )
    assert notification.type is EventType.WEBHOOK_TEST
    assert notification.model_dump(mode="json")["type"] == "webhook.test"
    assert notification.detail_type == "Webhook Test"
    with pytest.raises(ValidationError):
        Notification.model_validate(
            {"id": "e1", "type": "task.exploded", "timestamp": "2026-11-24T12:00:00Z", "data": {}}
        )
