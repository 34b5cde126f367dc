"""Bridge API keys: each key belongs to one tenant. Keys are shown once, at creation, and stored
only as their SHA-256 (a leaked table reveals no usable key). A tenant's webhook signing secret is
created with its first key. A tenant's output destination (its own bucket and prefix) is stored only
after the copier function itself wrote there (docs/tenants.md, "Output destination")."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from typing import Final

from runway_bridge.errors import InvalidRequestError, NotFoundError, StoreConditionFailedError
from runway_bridge.logic.ports import ApiKeyStore, Clock, DestinationChecker, TenantDirectory, TenantSecrets
from runway_bridge.models.records import ApiKeyRecord
from runway_bridge.models.tenant import OutputDestination, TenantLimits, TenantProfile
from runway_bridge.observability import logger

KEY_PREFIX: Final = "rwb_"
KEY_MAX_LENGTH: Final = 200
TENANT_ID_MAX_LENGTH: Final = 64


@dataclass(frozen=True)
class Tenant:
    """Who a request acts for."""

    tenant_id: str
    key_id: str


@dataclass(frozen=True)
class CreatedKey:
    """Returned once: `api_key` (and a new tenant's `webhook_secret`) are never shown again."""

    api_key: str
    key_id: str
    tenant_id: str
    name: str
    webhook_secret: str | None
    limits: TenantLimits
    output_destination: OutputDestination | None = None


def hash_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


class Authenticator:
    """Who a bridge key acts for (the authorizer's one question)."""

    def __init__(self, keys: ApiKeyStore) -> None:
        self._keys = keys

    def authenticate(self, api_key: str | None) -> Tenant | None:
        """The tenant of a valid, unrevoked key; None otherwise (the authorizer answers 401)."""
        if not api_key or len(api_key) > KEY_MAX_LENGTH or not api_key.startswith(KEY_PREFIX):
            return None
        key_hash = hash_key(api_key)
        record = self._keys.get(key_hash)
        if record is None or record.revoked_at is not None:
            return None
        return Tenant(tenant_id=record.tenant_id, key_id=key_hash)


class KeyService:
    def __init__(
        self,
        *,
        keys: ApiKeyStore,
        tenants: TenantDirectory,
        tenant_secrets: TenantSecrets,
        clock: Clock,
        destinations: DestinationChecker | None = None,
    ) -> None:
        self._keys = keys
        self._tenants = tenants
        self._tenant_secrets = tenant_secrets
        self._clock = clock
        self._destinations = destinations

    def create_key(
        self,
        name: str,
        tenant_id: str | None = None,
        *,
        limits: TenantLimits | None = None,
    ) -> CreatedKey:
        """A new key for `tenant_id` (a new tenant when None). Its key id is the SHA-256 of the key.
        `limits` replaces the tenant's limits (they apply to all its keys); None keeps them."""
        tenant = tenant_id or f"tnt_{uuid.uuid4().hex}"
        _check_tenant_id(tenant)
        if not 1 <= len(name) <= 128:
            raise InvalidRequestError("name: must be 1 to 128 characters")
        api_key = KEY_PREFIX + secrets.token_urlsafe(32)
        key_hash = hash_key(api_key)
        if limits is not None:
            self._tenants.set_limits(tenant, limits)
        webhook_secret = self._tenant_secrets.ensure_webhook_secret(tenant)
        self._keys.put(
            ApiKeyRecord(
                key_hash=key_hash,
                tenant_id=tenant,
                name=name,
                created_at=self._clock(),
                revoked_at=None,
            )
        )
        logger.info("api key created", extra={"tenant_id": tenant, "key_id": key_hash[:12]})
        profile = self._tenants.profile(tenant)
        return CreatedKey(
            api_key=api_key,
            key_id=key_hash,
            tenant_id=tenant,
            name=name,
            webhook_secret=webhook_secret,
            limits=profile.limits,
            output_destination=profile.output_destination,
        )

    def limits(self, tenant_id: str) -> TenantLimits:
        return self._tenants.limits(tenant_id)

    def update_limits(self, tenant_id: str, changes: dict[str, int | float | None]) -> TenantLimits:
        """Change some of the tenant's limits (by field name; None makes that one unlimited) and
        return them all. Takes effect for the next create."""
        return self.update_tenant(tenant_id, limit_changes=changes).limits

    def check_output_destination(self, uri: str) -> OutputDestination:
        """`s3://bucket/prefix/` as a destination the copier may and can write to: the bucket must be
        in the stack's OutputBuckets, and the copier function (its own role) must manage the calls
        of a copy there. `InvalidRequestError` otherwise, with the copier's reason; nothing is
        stored either way."""
        try:
            destination = OutputDestination.parse(uri)
        except ValueError as exc:
            raise InvalidRequestError(f"output destination: {_first_error(exc)}") from None
        if self._destinations is None:
            raise InvalidRequestError(
                "output destination: no copier function to check it with (give the stack output "
                "CopyOutputsFunctionName)",
                code="output_destination_unchecked",
            )
        check = self._destinations.check(destination)
        if not check.writable:
            raise InvalidRequestError(
                f"output destination {destination.uri} refused: {check.message}; nothing was stored",
                code=f"output_destination_{check.code}",
            )
        logger.info(
            "output destination checked", extra={"destination": destination.uri, "check": check.message}
        )
        return destination

    def update_tenant(
        self,
        tenant_id: str,
        *,
        limit_changes: dict[str, int | float | None] | None = None,
        output: str | None = None,
    ) -> TenantProfile:
        """Change some of the tenant's limits (as `update_limits`) and/or its output destination:
        `output` `s3://bucket/prefix/` (checked by the copier, see `check_output_destination`),
        "none" (back to the bridge's bucket), or None (unchanged). Everything is validated and
        checked before anything is written: a refusal changes nothing. Takes effect for the next
        create; the tenant's limits and destination are returned."""
        _check_tenant_id(tenant_id)
        limits = None
        if limit_changes:
            current = self._tenants.limits(tenant_id)
            try:
                limits = TenantLimits.model_validate({**current.model_dump(), **limit_changes})
            except ValueError as exc:
                raise InvalidRequestError(f"limits: {exc}") from None
        destination = None
        if output is not None and output.lower() != "none":
            destination = self.check_output_destination(output)
        if limits is not None:
            self._tenants.set_limits(tenant_id, limits)
            logger.info("tenant limits set", extra={"tenant_id": tenant_id, "limits": limits.to_json()})
        if output is not None:
            self._tenants.set_output_destination(tenant_id, destination)
            logger.info(
                "tenant output destination set",
                extra={"tenant_id": tenant_id, "destination": destination.uri if destination else None},
            )
        return self._tenants.profile(tenant_id)

    def revoke_key(self, key_or_id: str) -> ApiKeyRecord:
        """Revoke by the key itself or by its key id (SHA-256 hex). `NotFoundError` if unknown.
        Takes effect at once for new authorizations (API Gateway may cache an authorization for
        its TTL)."""
        key_hash = hash_key(key_or_id) if key_or_id.startswith(KEY_PREFIX) else key_or_id.lower()
        try:
            record = self._keys.revoke(key_hash, at=self._clock())
        except StoreConditionFailedError:
            record = None
        if record is None:
            raise NotFoundError("No such API key.")
        logger.info("api key revoked", extra={"tenant_id": record.tenant_id, "key_id": key_hash[:12]})
        return record

    def list_keys(self, tenant_id: str) -> list[ApiKeyRecord]:
        return self._keys.list_for_tenant(tenant_id)


def _check_tenant_id(tenant_id: str) -> None:
    if not 1 <= len(tenant_id) <= TENANT_ID_MAX_LENGTH or not all(
        ch.isascii() and (ch.isalnum() or ch in "-_") for ch in tenant_id
    ):
        raise InvalidRequestError(f"tenant id: 1 to {TENANT_ID_MAX_LENGTH} letters, digits, '-' or '_'")


def _first_error(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        return "; ".join(str(error.get("msg", "")).removeprefix("Value error, ") for error in errors())
    return str(exc)
