"""In-memory fakes of the ports in logic/ports.py, for the fast unit tier (no moto, no emulator).

They keep the adapters' observable behaviour, not their layout: conditional writes and versions,
the tenant and bridge-wide in-flight counters, the daily charge counters and the queue roster move
as `DynamoJobStore` moves them. `tests/unit/fakes/contract.py` holds behavioural checks that run
against `FakeJobStore` here and against `DynamoJobStore` on moto in tests/integration, so the two
cannot drift apart unnoticed.
"""

from tests.unit.fakes.clock import FakeClock
from tests.unit.fakes.copy import FakeMultipartStore, FakeOutputSource
from tests.unit.fakes.jobs import FakeJobStore
from tests.unit.fakes.notifications import (
    RecordingChannel,
    RecordingDeadLetters,
    RecordingRejections,
    RecordingWebhookQueue,
    ScriptedWebhookSender,
)
from tests.unit.fakes.objects import FakeInputObjects, FakeObjectStore
from tests.unit.fakes.poller import FakePollerState, RecordingPollerStarter
from tests.unit.fakes.runway import ScriptedRunway
from tests.unit.fakes.tenants import FakeApiKeyStore, FakeTenantSecrets

__all__ = [
    "FakeApiKeyStore",
    "FakeClock",
    "FakeInputObjects",
    "FakeJobStore",
    "FakeMultipartStore",
    "FakeObjectStore",
    "FakeOutputSource",
    "FakePollerState",
    "FakeTenantSecrets",
    "RecordingChannel",
    "RecordingDeadLetters",
    "RecordingPollerStarter",
    "RecordingRejections",
    "RecordingWebhookQueue",
    "ScriptedRunway",
    "ScriptedWebhookSender",
]
