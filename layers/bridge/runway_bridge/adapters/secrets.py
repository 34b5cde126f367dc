"""Secrets Manager through Powertools Parameters (cached for `secret_cache_seconds`): the Runway
API key and per-tenant webhook signing secrets. Secret values are never logged."""

from __future__ import annotations

import base64
import secrets as random_secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.parameters import SecretsProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from botocore.exceptions import BotoCoreError, ClientError

from runway_bridge.adapters.aws import aws_client
from runway_bridge.errors import StoreUnavailableError
from runway_bridge.settings import BridgeSettings

WEBHOOK_SECRET_PREFIX = "whsec_"


def runway_api_key_provider(settings: BridgeSettings, client: Any | None = None) -> Callable[[], str]:
    """A function returning the Runway key: the literal `runway_api_key` setting (local runs
    only), else the secret `runway_secret_name`, cached by Powertools for `secret_cache_seconds`."""
    if settings.runway_api_key:
        literal = settings.runway_api_key
        return lambda: literal
    provider = SecretsProvider(boto3_client=client or aws_client("secretsmanager"))
    name, max_age = settings.runway_secret_name, settings.secret_cache_seconds

    def api_key() -> str:
        try:
            value = provider.get(name, max_age=max_age)
        except GetParameterError as exc:
            # The message names the secret, never its value.
            raise StoreUnavailableError(f"could not read the Runway API key secret {name!r}") from exc
        if not isinstance(value, str) or not value.strip():
            raise StoreUnavailableError(f"the Runway API key secret {name!r} is empty")
        return value.strip()

    return api_key


def new_webhook_secret() -> str:
    """Standard Webhooks format: `whsec_` + base64 of 24 random bytes."""
    return WEBHOOK_SECRET_PREFIX + base64.b64encode(random_secrets.token_bytes(24)).decode()


class SecretsManagerTenantSecrets:
    def __init__(self, client: Any, settings: BridgeSettings) -> None:
        self._client = client
        self._prefix = settings.tenant_secret_prefix.rstrip("/")
        self._max_age = settings.secret_cache_seconds
        self._provider = SecretsProvider(boto3_client=client)
        self._overlap_s = settings.webhook_rotation_overlap_s
        # tenant -> (monotonic expiry, signing secrets): one lookup per tenant per cache period.
        self._signing_cache: dict[str, tuple[float, list[str]]] = {}

    def secret_name(self, tenant_id: str) -> str:
        return f"{self._prefix}/{tenant_id}/webhook-secret"

    def ensure_webhook_secret(self, tenant_id: str) -> str | None:
        value = new_webhook_secret()
        try:
            self._client.create_secret(
                Name=self.secret_name(tenant_id),
                SecretString=value,
                Description=f"runway-bridge webhook signing secret of tenant {tenant_id}",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceExistsException":
                return None
            raise StoreUnavailableError("could not create the tenant's webhook secret") from exc
        except BotoCoreError as exc:
            raise StoreUnavailableError("could not create the tenant's webhook secret") from exc
        return value

    def webhook_secret(self, tenant_id: str) -> str:
        try:
            value = self._provider.get(self.secret_name(tenant_id), max_age=self._max_age)
        except GetParameterError as exc:
            raise StoreUnavailableError(f"could not read the webhook secret of tenant {tenant_id}") from exc
        return str(value)

    def signing_secrets(self, tenant_id: str) -> list[str]:
        cached = self._signing_cache.get(tenant_id)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        name = self.secret_name(tenant_id)
        try:
            versions = self._client.list_secret_version_ids(SecretId=name)["Versions"]
            current = next(v for v in versions if "AWSCURRENT" in v.get("VersionStages", []))
            previous = next((v for v in versions if "AWSPREVIOUS" in v.get("VersionStages", [])), None)
            values = [self._value(name, current["VersionId"])]
            created = current.get("CreatedDate")
            age_s = (datetime.now(UTC) - created).total_seconds() if created is not None else None
            in_overlap = age_s is not None and age_s < self._overlap_s
            if previous is not None and in_overlap:
                values.append(self._value(name, previous["VersionId"]))
        except StopIteration as exc:
            raise StoreUnavailableError(f"tenant {tenant_id} has no current webhook secret") from exc
        except (BotoCoreError, ClientError) as exc:
            raise StoreUnavailableError(f"could not read the webhook secrets of tenant {tenant_id}") from exc
        self._signing_cache[tenant_id] = (time.monotonic() + self._max_age, values)
        return values

    def rotate_webhook_secret(self, tenant_id: str) -> str:
        """A new AWSCURRENT version; Secrets Manager relabels the old one AWSPREVIOUS."""
        value = new_webhook_secret()
        try:
            self._client.put_secret_value(SecretId=self.secret_name(tenant_id), SecretString=value)
        except (BotoCoreError, ClientError) as exc:
            raise StoreUnavailableError(f"could not rotate the webhook secret of tenant {tenant_id}") from exc
        self._signing_cache.pop(tenant_id, None)
        return value

    def _value(self, name: str, version_id: str) -> str:
        return str(self._client.get_secret_value(SecretId=name, VersionId=version_id)["SecretString"])
