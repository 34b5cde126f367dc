"""REQUEST authorizer of the bridge API: accepts a bridge key as `Authorization: Bearer <key>` (what the
runwayml SDK sends) or `x-api-key`, checks it against the hashed keys, and names the tenant.

The answer carries the tenant in the context for the API function. Per-tenant limits are the
bridge's own (docs/tenants.md); API Gateway throttles the stage as a whole.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerRequestEvent,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from runway_bridge.observability import logger
from runway_bridge.wiring.authorizer import get_authenticator

BEARER_PREFIX = "bearer "


def presented_key(event: APIGatewayAuthorizerRequestEvent) -> str | None:
    """The bridge key from `Authorization: Bearer` or `x-api-key` (header names are case-blind)."""
    authorization = (event.headers.get("authorization") or "").strip()
    if authorization.lower().startswith(BEARER_PREFIX):
        key = authorization[len(BEARER_PREFIX) :].strip()
        if key:
            return key
    api_key = (event.headers.get("x-api-key") or "").strip()
    return api_key or None


def api_wide_resource(method_arn: str) -> str:
    """`arn:...:api-id/stage/*/*`: with result caching off this is only tidier, but if caching is
    ever turned on a policy naming one method would refuse the tenant's other routes."""
    api_part, _, path = method_arn.partition("/")
    stage = path.split("/", 1)[0]
    return f"{api_part}/{stage}/*/*"


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = APIGatewayAuthorizerRequestEvent(event)
    key = presented_key(request)
    if key is None:
        # API Gateway answers 401 for exactly this exception message.
        raise Exception("Unauthorized")
    tenant = get_authenticator().authenticate(key)
    if tenant is None:
        logger.info("refused an unknown or revoked bridge key")
        raise Exception("Unauthorized")
    logger.append_keys(tenant_id=tenant.tenant_id)
    answer: dict[str, Any] = {
        "principalId": tenant.tenant_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Action": "execute-api:Invoke",
                    "Effect": "Allow",
                    "Resource": api_wide_resource(request.method_arn),
                }
            ],
        },
        "context": {"tenantId": tenant.tenant_id, "keyId": tenant.key_id},
    }
    return answer
