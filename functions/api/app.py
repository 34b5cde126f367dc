"""API function: the bridge's HTTP front door (API Gateway REST proxy). Thin: routes parse into
models and make one call into `runway_bridge.logic`."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from runway_bridge.observability import logger, metrics, tracer

app = APIGatewayRestResolver(enable_validation=True)


@app.get("/v1/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
