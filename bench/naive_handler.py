"""The yardstick of bench/cold_start.py: what a naive handler on the same stack pays at cold start.

It imports what every bridge function could use (boto3, httpx, pydantic and Powertools' Logger,
Tracer, Metrics, REST resolver and idempotency) and makes one boto3 client, nothing more.
"""

from __future__ import annotations

import boto3
import httpx  # noqa: F401
import pydantic  # noqa: F401
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.utilities import idempotency  # noqa: F401

logger = Logger(service="naive")
tracer = Tracer(service="naive")
metrics = Metrics(namespace="Naive", service="naive")
app = APIGatewayRestResolver()


def setup() -> None:
    """The first invocation's set-up: one client."""
    boto3.client("dynamodb")
