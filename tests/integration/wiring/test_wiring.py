"""The deployed wiring: settings from the environment, boto3 clients from AWS_ENDPOINT_URL (moto),
the Runway key from Secrets Manager through Powertools Parameters, the emulator as Runway."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from runway_bridge.adapters.secrets import runway_api_key_provider
from runway_bridge.errors import StoreUnavailableError
from runway_bridge.models.job import JobStatus
from runway_bridge.settings import BridgeSettings, get_settings
from runway_bridge.wiring.api import get_api_services
from runway_bridge.wiring.authorizer import get_authenticator
from runway_bridge.wiring.cache import clear_all
from runway_bridge.wiring.keys import build_key_service
from runway_bridge_dev.emulator import RunwayEmulator
from tests.integration.conftest import TEXT_TO_VIDEO, Aws


@pytest.fixture
def deployed_env(monkeypatch: pytest.MonkeyPatch, aws: Aws, emulator: RunwayEmulator) -> Iterator[str]:
    secret_name = f"runway-key-{uuid.uuid4().hex[:8]}"
    aws.secretsmanager.create_secret(Name=secret_name, SecretString=emulator.api_key)
    environment = {
        "AWS_ENDPOINT_URL": aws.endpoint,
        "BRIDGE_RUNWAY_BASE_URL": emulator.base_url,
        "BRIDGE_RUNWAY_SECRET_NAME": secret_name,
        "BRIDGE_JOBS_TABLE_NAME": aws.jobs_table,
        "BRIDGE_API_KEYS_TABLE_NAME": aws.keys_table,
        "BRIDGE_BUCKET_NAME": aws.bucket,
        "BRIDGE_EVENT_BUS_NAME": aws.bus,
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("BRIDGE_RUNWAY_API_KEY", raising=False)
    get_settings.cache_clear()
    clear_all()
    yield secret_name
    get_settings.cache_clear()
    clear_all()


def test_the_deployed_wiring_submits_with_the_key_from_secrets_manager(
    deployed_env: str, emulator: RunwayEmulator
) -> None:
    services = get_api_services()
    assert get_api_services() is services  # built once per process

    created = build_key_service(get_settings()).create_key("wiring")
    tenant = get_authenticator().authenticate(created.api_key)
    assert tenant is not None
    result = services.submission.submit(tenant.tenant_id, "text_to_video", TEXT_TO_VIDEO)

    assert result.status is JobStatus.PENDING
    assert emulator.counters()["tasks_created"] == 1
    assert services.tasks.get_view(tenant.tenant_id, result.job_id).status == "PENDING"


def test_a_missing_runway_secret_is_a_typed_error_that_names_the_secret_not_a_value(aws: Aws) -> None:
    settings = BridgeSettings(runway_secret_name="no-such-secret", runway_api_key=None)
    read_key = runway_api_key_provider(settings, client=aws.secretsmanager)

    with pytest.raises(StoreUnavailableError, match="no-such-secret"):
        read_key()


def test_the_runway_key_is_cached_between_calls(aws: Aws) -> None:
    name = f"cached-{uuid.uuid4().hex[:8]}"
    aws.secretsmanager.create_secret(Name=name, SecretString="key-one")
    read_key = runway_api_key_provider(BridgeSettings(runway_secret_name=name), client=aws.secretsmanager)

    assert read_key() == "key-one"
    aws.secretsmanager.put_secret_value(SecretId=name, SecretString="key-two")
    assert read_key() == "key-one"  # within secret_cache_seconds: no new Secrets Manager call
