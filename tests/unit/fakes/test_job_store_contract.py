"""The job store contract against the in-memory fake."""

from __future__ import annotations

import pytest

from tests.unit.fakes.contract import JobStoreContract
from tests.unit.fakes.jobs import FakeJobStore


class TestFakeJobStore(JobStoreContract):
    @pytest.fixture
    def store(self) -> FakeJobStore:
        return FakeJobStore()
