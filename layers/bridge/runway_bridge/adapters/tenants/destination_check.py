"""The key setup's question to the copier function: may and can it write a tenant's outputs to this
bucket and prefix? Asked by invoking the function itself (its role is what writes outputs; the
operator's own credentials would prove nothing), synchronously, with a `checkDestination` event."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from runway_bridge.errors import StoreUnavailableError
from runway_bridge.models.copy import DestinationCheck, DestinationCheckRequest
from runway_bridge.models.tenant import OutputDestination


class LambdaDestinationChecker:
    def __init__(self, client: Any, function_name: str) -> None:
        self._client = client
        self._function = function_name

    def check(self, destination: OutputDestination) -> DestinationCheck:
        request = DestinationCheckRequest(check_destination=destination)
        try:
            answer = self._client.invoke(
                FunctionName=self._function,
                InvocationType="RequestResponse",
                Payload=request.model_dump_json(by_alias=True).encode(),
            )
            payload = answer["Payload"].read()
        except (BotoCoreError, ClientError) as exc:
            raise StoreUnavailableError(
                f"could not ask the copier function {self._function} to check the destination: {exc}"
            ) from exc
        if answer.get("FunctionError"):
            raise StoreUnavailableError(
                f"the copier function {self._function} failed the destination check: {_error(payload)}"
            )
        try:
            return DestinationCheck.model_validate_json(payload)
        except ValidationError as exc:
            raise StoreUnavailableError(
                f"the copier function {self._function} answered the destination check with "
                f"{payload[:200]!r}: is it this version of the bridge?"
            ) from exc


def _error(payload: bytes) -> str:
    try:
        error = json.loads(payload)
        return f"{error.get('errorType', 'error')}: {error.get('errorMessage', '')}"
    except (ValueError, AttributeError):
        return payload[:200].decode(errors="replace")
