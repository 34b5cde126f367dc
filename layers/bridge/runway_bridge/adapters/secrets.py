"""Secrets Manager: the Runway API key and the output-link key (through Powertools Parameters,
cached for `secret_cache_seconds`) and per-tenant webhook signing secrets (see `SecretsManagerTenantSecrets`
for how a rotation reaches every process). Secret values are never logged."""

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


def link_key_provider(settings: BridgeSettings, client: Any | None = None) -> Callable[[], bytes]:
    """A function returning the key that signs stable output links (the secret
    `link_secret_name`, cached by Powertools for `secret_cache_seconds`)."""
    provider = SecretsProvider(boto3_client=client or aws_client("secretsmanager"))
    name, max_age = settings.link_secret_name, settings.secret_cache_seconds

    def key() -> bytes:
        try:
            value = provider.get(name, max_age=max_age)
        except GetParameterError as exc:
            raise StoreUnavailableError(f"could not read the output link secret {name!r}") from exc
        return str(value).encode()

    return key


def new_webhook_secret() -> str:
    """Standard Webhooks format: `whsec_` + base64 of 24 random bytes."""
    return WEBHOOK_SECRET_PREFIX + base64.b64encode(random_secrets.token_bytes(24)).decode()


class SecretsManagerTenantSecrets:
    """Per-tenant webhook secrets, one Secrets Manager secret per tenant (AWSCURRENT signs, and
    AWSPREVIOUS too during `webhook_rotation_overlap_s` after a rotation).

    A rotation must take effect at once, not after a cache expires (it was `secret_cache_seconds`,
    5 min): receivers switch to the new secret as soon as the rotate call answers. So:
    - `webhook_secret` (what `GET /v1/webhooks/secret` shows) reads AWSCURRENT every time: a rare
      admin call, and any API process may serve it right after another one rotated;
    - `signing_secrets` (the deliverer, once per attempt) caches which versions sign for only
      `webhook_secret_recheck_s` (10 s) and forgets them at once when this process rotates. Each
      look costs one ListSecretVersionIds; the values are cached by version id, since a version's
      value never changes. A shared "last rotation" marker would need a read per delivery as well,
      so the short bound is the cheaper way to the same guarantee.
    """

    # Version values kept per process (two per tenant in use; cleared when this many pile up).
    _MAX_CACHED_VALUES = 1000

    def __init__(
        self, client: Any, settings: BridgeSettings, *, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._client = client
        self._prefix = settings.tenant_secret_prefix.rstrip("/")
        self._overlap_s = settings.webhook_rotation_overlap_s
        self._recheck_s = settings.webhook_secret_recheck_s
        self._monotonic = monotonic
        # tenant -> (monotonic time of the next look, version ids that sign, current first)
        self._signing_versions: dict[str, tuple[float, list[str]]] = {}
        self._values: dict[str, str] = {}  # version id -> value

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
            answer = self._client.get_secret_value(SecretId=self.secret_name(tenant_id))
        except (BotoCoreError, ClientError) as exc:
            raise StoreUnavailableError(f"could not read the webhook secret of tenant {tenant_id}") from exc
        return str(answer["SecretString"])

    def signing_secrets(self, tenant_id: str) -> list[str]:
        name = self.secret_name(tenant_id)
        try:
            return [self._value(name, version_id) for version_id in self._signing_version_ids(tenant_id)]
        except (BotoCoreError, ClientError) as exc:
            raise StoreUnavailableError(f"could not read the webhook secrets of tenant {tenant_id}") from exc

    def rotate_webhook_secret(self, tenant_id: str) -> str:
        """A new AWSCURRENT version; Secrets Manager relabels the old one AWSPREVIOUS."""
        value = new_webhook_secret()
        try:
            self._client.put_secret_value(SecretId=self.secret_name(tenant_id), SecretString=value)
        except (BotoCoreError, ClientError) as exc:
            raise StoreUnavailableError(f"could not rotate the webhook secret of tenant {tenant_id}") from exc
        self._signing_versions.pop(tenant_id, None)
        return value

    def _signing_version_ids(self, tenant_id: str) -> list[str]:
        cached = self._signing_versions.get(tenant_id)
        if cached is not None and cached[0] > self._monotonic():
            return cached[1]
        versions = self._client.list_secret_version_ids(SecretId=self.secret_name(tenant_id))["Versions"]
        current = next((v for v in versions if "AWSCURRENT" in v.get("VersionStages", [])), None)
        if current is None:
            raise StoreUnavailableError(f"tenant {tenant_id} has no current webhook secret")
        previous = next((v for v in versions if "AWSPREVIOUS" in v.get("VersionStages", [])), None)
        version_ids = [current["VersionId"]]
        created = current.get("CreatedDate")
        age_s = (datetime.now(UTC) - created).total_seconds() if created is not None else None
        if previous is not None and age_s is not None and age_s < self._overlap_s:
            version_ids.append(previous["VersionId"])
        self._signing_versions[tenant_id] = (self._monotonic() + self._recheck_s, version_ids)
        return version_ids

    def _value(self, name: str, version_id: str) -> str:
        value = self._values.get(version_id)
        if value is None:
            answer = self._client.get_secret_value(SecretId=name, VersionId=version_id)
            if len(self._values) >= self._MAX_CACHED_VALUES:
                self._values.clear()
            value = self._values[version_id] = str(answer["SecretString"])
        return value
