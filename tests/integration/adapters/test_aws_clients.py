"""adapters/aws.py: a function's clients come from one boto3 Session (botocore's data loaded once at
cold start, not once per client), and threads asking at once all get the one client."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest

from runway_bridge.adapters import aws


@pytest.fixture
def fresh_clients(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-3")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    made: list[Any] = []
    real = boto3.session.Session

    def counting_session(*args: Any, **kwargs: Any) -> Any:
        session = real(*args, **kwargs)
        made.append(session)
        return session

    monkeypatch.setattr(boto3.session, "Session", counting_session)
    aws.forget_clients()
    yield made
    aws.forget_clients()


def test_every_client_of_a_process_comes_from_one_session(fresh_clients: list[Any]) -> None:
    clients = [aws.aws_client(service) for service in ("dynamodb", "s3", "sqs", "secretsmanager", "events")]
    assert len(fresh_clients) == 1
    assert [client.meta.service_model.service_name for client in clients] == [
        "dynamodb",
        "s3",
        "sqs",
        "secretsmanager",
        "events",
    ]
    assert all(client.meta.region_name == "eu-west-3" for client in clients)
    assert aws.aws_client("s3") is clients[1]


def test_threads_asking_at_once_share_one_client_per_service(fresh_clients: list[Any]) -> None:
    services = ["dynamodb", "s3", "sqs", "stepfunctions"] * 4
    with ThreadPoolExecutor(max_workers=8) as pool:
        clients = list(pool.map(aws.aws_client, services))
    by_service = {
        service: {id(c) for s, c in zip(services, clients, strict=True) if s == service}
        for service in services
    }
    assert all(len(ids) == 1 for ids in by_service.values())
    assert len(fresh_clients) == 1


def test_presigned_input_urls_are_sigv4_on_the_buckets_regional_host(
    fresh_clients: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Runway follows no redirect and new buckets take SigV4 only: the GETs it is given are SigV4 on
    the bucket's own regional host (path style where a host cannot carry the name)."""
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    presigner = aws.s3_presigner()
    assert presigner is aws.s3_presigner()  # one per process
    assert presigner is not aws.aws_client("s3")  # the bridge's own S3 calls keep their client
    url = presigner.generate_presigned_url("get_object", Params={"Bucket": "in-frames", "Key": "a b.png"})
    assert url.startswith("https://in-frames.s3.eu-west-3.amazonaws.com/a%20b.png?")
    assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in url
    dotted = presigner.generate_presigned_url("get_object", Params={"Bucket": "in.frames", "Key": "a.png"})
    assert dotted.startswith("https://s3.eu-west-3.amazonaws.com/in.frames/a.png?")
