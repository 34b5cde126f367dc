"""Bridge API keys (create, authenticate, revoke), tenant limits, and the usage view."""

from __future__ import annotations

import pytest

from runway_bridge.errors import InvalidRequestError, NotFoundError
from runway_bridge.logic.tenants.keys import KEY_PREFIX, hash_key
from runway_bridge.models.job import JobStatus
from runway_bridge.models.tenant import TenantLimits
from tests.unit.builders import TEXT_TO_VIDEO
from tests.unit.fakes.runway import rate_limited
from tests.unit.harness import Harness


def test_a_new_key_authenticates_as_its_tenant_and_is_stored_only_hashed(h: Harness) -> None:
    created = h.keys.create_key("ci", "tenant-a")
    assert created.api_key.startswith(KEY_PREFIX)
    tenant = h.authenticator.authenticate(created.api_key)
    assert tenant is not None
    assert (tenant.tenant_id, tenant.key_id) == ("tenant-a", hash_key(created.api_key))
    assert list(h.keys_store.records) == [hash_key(created.api_key)]
    assert created.api_key not in repr(h.keys_store.records)


def test_a_new_tenant_gets_its_webhook_secret_with_its_first_key_only(h: Harness) -> None:
    first = h.keys.create_key("one")
    second = h.keys.create_key("two", first.tenant_id)
    assert first.tenant_id.startswith("tnt_")
    assert first.webhook_secret is not None
    assert first.webhook_secret.startswith("whsec_")
    assert second.webhook_secret is None
    assert second.api_key != first.api_key


def test_a_revoked_key_no_longer_authenticates_and_others_still_do(h: Harness) -> None:
    kept = h.keys.create_key("kept", "tenant-a")
    revoked = h.keys.create_key("revoked", "tenant-a")
    record = h.keys.revoke_key(revoked.api_key)
    assert record.revoked_at == h.clock()
    assert h.authenticator.authenticate(revoked.api_key) is None
    assert h.authenticator.authenticate(kept.api_key) is not None
    h.keys.revoke_key(kept.key_id.upper())  # by its id, any case
    assert h.authenticator.authenticate(kept.api_key) is None
    assert h.keys_store.tenant_active("tenant-a") is False


def test_revoking_an_unknown_key_is_not_found(h: Harness) -> None:
    with pytest.raises(NotFoundError):
        h.keys.revoke_key(KEY_PREFIX + "never-issued")


@pytest.mark.parametrize("api_key", [None, "", "sk_live_abc", KEY_PREFIX + "x" * 300, KEY_PREFIX + "unknown"])
def test_anything_but_a_live_issued_key_is_refused(h: Harness, api_key: str | None) -> None:
    h.keys.create_key("ci", "tenant-a")
    assert h.authenticator.authenticate(api_key) is None


@pytest.mark.parametrize(("name", "tenant"), [("", "tenant-a"), ("ok", "bad tenant"), ("ok", "t" * 65)])
def test_a_bad_key_name_or_tenant_id_is_refused(h: Harness, name: str, tenant: str) -> None:
    with pytest.raises(InvalidRequestError):
        h.keys.create_key(name, tenant)
    assert h.keys_store.records == {}


def test_limits_set_with_a_key_apply_to_the_tenant_and_can_be_changed(h: Harness) -> None:
    created = h.keys.create_key("ci", "tenant-a", limits=TenantLimits(max_in_flight=2))
    assert created.limits.max_in_flight == 2
    updated = h.keys.update_limits("tenant-a", {"max_jobs_per_day": 10, "max_in_flight": None})
    assert (updated.max_in_flight, updated.max_jobs_per_day) == (None, 10)
    assert h.keys_store.limits("tenant-a") == updated
    with pytest.raises(InvalidRequestError):
        h.keys.update_limits("tenant-a", {"max_in_flight": 0})


def test_the_usage_view_counts_todays_jobs_in_flight_and_queued(h: Harness) -> None:
    h.keys.create_key("ci", "tenant-a", limits=TenantLimits(max_jobs_per_day=5))
    h.submission.submit("tenant-a", "text_to_video", {**TEXT_TO_VIDEO, "duration": 10}, "a")
    h.runway.create_answers.append(rate_limited())
    queued = h.submission.submit("tenant-a", "text_to_video", TEXT_TO_VIDEO, "b")
    assert queued.status is JobStatus.QUEUED
    view = h.usage.usage("tenant-a")
    assert (view.day, view.in_flight, view.queued) == ("2026-11-23", 1, 1)
    assert (view.today.jobs, view.today.output_seconds) == (2, 15)
    assert view.limits.max_jobs_per_day == 5
