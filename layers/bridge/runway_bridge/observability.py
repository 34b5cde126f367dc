"""Logger, Tracer and Metrics for every handler, from one place (service name from the env)."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = "runway-bridge"
METRICS_NAMESPACE = "RunwayBridge"

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE)
