"""The poller's learned task durations in the jobs table (moto): counted atomically by many
writers, read back per kind, and never blocking a check when the table cannot be read."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from runway_bridge.adapters.poller.state import DynamoPollerState
from runway_bridge.logic.poller.policy import duration_bucket, learned_prior, prior_key
from tests.integration.conftest import Aws


def test_durations_counted_by_many_writers_at_once_give_the_kinds_prior(aws: Aws) -> None:
    writer = DynamoPollerState(aws.dynamodb, aws.jobs_table)
    quick, slow = prior_key("gen4_turbo", 5), prior_key("gen4_turbo", 10)
    seconds = [25.0 + n for n in range(30)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda s: writer.record_duration(quick, duration_bucket(s)), seconds))
    writer.record_duration(slow, duration_bucket(300.0))
    reader = DynamoPollerState(aws.dynamodb, aws.jobs_table)  # another process: no cache
    counts = reader.duration_counts(quick)
    assert sum(counts.values()) == len(seconds)  # no count lost to a race
    prior = learned_prior(counts)
    assert prior is not None
    assert 35.0 < prior.typical_s < 45.0
    assert sum(reader.duration_counts(slow).values()) == 1  # kinds apart


def test_an_unreadable_table_gives_no_learned_prior_instead_of_failing_the_check(aws: Aws) -> None:
    state = DynamoPollerState(aws.dynamodb, "no-such-table")
    assert state.duration_counts(prior_key("gen4.5", 5)) == {}
    state.record_duration(prior_key("gen4.5", 5), 3)  # logged, not raised
