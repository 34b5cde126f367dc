"""EventBridge publishing on the bridge's bus."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from runway_bridge.errors import StoreUnavailableError
from runway_bridge.models.events import EVENT_SOURCE, GENERATION_REJECTED
from runway_bridge.models.outbox import GenerationRejectedDetail


class EventBridgeRejectionPublisher:
    def __init__(self, client: Any, bus_name: str) -> None:
        self._client = client
        self._bus_name = bus_name

    def publish_rejection(self, rejection: GenerationRejectedDetail) -> None:
        entry = {
            "EventBusName": self._bus_name,
            "Source": EVENT_SOURCE,
            "DetailType": GENERATION_REJECTED,
            "Detail": json.dumps(rejection.model_dump(mode="json", by_alias=True)),
        }
        try:
            answer = self._client.put_events(Entries=[entry])
        except (BotoCoreError, ClientError) as exc:
            raise StoreUnavailableError("could not publish the rejection event") from exc
        if answer.get("FailedEntryCount"):
            raise StoreUnavailableError(f"EventBridge refused the rejection event: {answer.get('Entries')}")
