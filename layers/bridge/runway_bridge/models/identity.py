"""Who a caller is, in the bridge's terms (pure functions, no I/O)."""

from __future__ import annotations

IAM_TENANT_PREFIX = "iam:"


def iam_tenant_id(caller_arn: str) -> str:
    """The tenant of an IAM-signed call (API Gateway's `identity.userArn`).

    An assumed role's ARN ends in a session name the caller picks freely
    (`arn:aws:sts::123:assumed-role/RoleName/session`); keying tenants on it would let one role
    act as any number of tenants. The tenant is the role itself:
    `iam:arn:aws:iam::123:role/RoleName`. IAM users (`arn:aws:iam::123:user/path/name`) and any
    other principal keep their ARN as it is.
    """
    parts = caller_arn.split(":", 5)
    if len(parts) == 6 and parts[0] == "arn" and parts[2] == "sts":
        _, partition, _, _, account, resource = parts
        kind, _, rest = resource.partition("/")
        role, slash, session = rest.rpartition("/")
        if kind == "assumed-role" and role and slash and session:
            return f"{IAM_TENANT_PREFIX}arn:{partition}:iam::{account}:role/{role}"
    return f"{IAM_TENANT_PREFIX}{caller_arn}"
