"""Logger, Tracer and Metrics for every handler, from one place (service name from the env).

`tracer` and `metrics` are made on first use: a Tracer loads the X-Ray SDK (and botocore with it), so a
function that only logs (the authorizer) does not pay for them at cold start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

if TYPE_CHECKING:
    from aws_lambda_powertools import Metrics, Tracer

    tracer: Tracer
    metrics: Metrics

SERVICE = "runway-bridge"
METRICS_NAMESPACE = "RunwayBridge"

logger = Logger(service=SERVICE)


def __getattr__(name: str) -> Any:
    """The process's one Tracer or Metrics, made when a module first imports it."""
    if name == "tracer":
        from aws_lambda_powertools import Tracer  # noqa: PLC0415

        value: Any = Tracer(service=SERVICE)
    elif name == "metrics":
        from aws_lambda_powertools import Metrics  # noqa: PLC0415

        value = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value
