"""Secrets Manager through Powertools Parameters (cached for `secret_cache_seconds`): the Runway
API key and per-tenant webhook signing secrets. Secret values are never logged."""

from __future__ import annotations

import base64
import secrets as random_secrets
from collections.abc import Callable
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
