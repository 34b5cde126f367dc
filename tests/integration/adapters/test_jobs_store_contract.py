"""The job store contract (tests/unit/fakes/contract.py) against DynamoJobStore on moto: the same
checks the in-memory fake passes, so the unit tier's fake cannot drift from the adapter."""

from __future__ import annotations

import pytest

from runway_bridge.adapters.jobs.store import DynamoJobStore
from tests.integration.conftest import Aws
from tests.unit.fakes.contract import JobStoreContract


class TestDynamoJobStore(JobStoreContract):
    @pytest.fixture
    def store(self, aws: Aws) -> DynamoJobStore:
        return DynamoJobStore(aws.dynamodb, aws.jobs_table)
