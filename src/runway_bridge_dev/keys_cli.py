"""`runway-bridge keys`: create and revoke bridge keys (one tenant per key).

    runway-bridge keys create --tenant acme [--name ci] [--usage-plan-id abc123]
    runway-bridge keys revoke <key>

The key is printed once at creation and stored hashed only. Table names and the AWS endpoint come
from the environment like in the functions (`BRIDGE_API_KEYS_TABLE_NAME`, `AWS_ENDPOINT_URL`, ...);
`--table` and `--endpoint-url` override them; with neither, a running `runway-bridge dev` is used.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any

from runway_bridge.settings import get_settings

if TYPE_CHECKING:
    from runway_bridge.logic.keys import CreatedKey


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "keys",
        help="create and revoke bridge keys",
        description="Create (printed once, stored hashed) and revoke the keys callers send as Bearer.",
    )
    parser.add_argument("--table", default=None, help="API keys table (default: $BRIDGE_API_KEYS_TABLE_NAME)")
    parser.add_argument("--endpoint-url", default=None, help="AWS endpoint (e.g. the local stack's moto)")
    actions = parser.add_subparsers(dest="keys_action", metavar="ACTION", required=True)

    create = actions.add_parser("create", help="create a key for a tenant and print it (once)")
    create.add_argument("--tenant", required=True, help="tenant id the key acts for")
    create.add_argument("--name", default=None, help="a label for the key (e.g. where it is used)")
    create.add_argument(
        "--usage-plan-id",
        default=None,
        help="API Gateway usage plan (stack output UsagePlanId) the key joins, for per-key throttling",
    )
    create.set_defaults(func=run_create)

    revoke = actions.add_parser("revoke", help="revoke a key: it stops working at once")
    revoke.add_argument("key", help="the key itself, or its key id (the SHA-256 the table holds)")
    revoke.set_defaults(func=run_revoke)


def _configure(args: argparse.Namespace) -> None:
    if not (args.table or args.endpoint_url or os.environ.get("BRIDGE_API_KEYS_TABLE_NAME")):
        _use_dev_profile()
    if args.table:
        os.environ["BRIDGE_API_KEYS_TABLE_NAME"] = args.table
    if args.endpoint_url:
        os.environ["AWS_ENDPOINT_URL"] = args.endpoint_url
    if getattr(args, "usage_plan_id", None):
        os.environ["BRIDGE_USAGE_PLAN_ID"] = args.usage_plan_id
    get_settings.cache_clear()
    from runway_bridge.observability import logger  # noqa: PLC0415

    logger.setLevel("WARNING")  # the functions' JSON logs are not CLI output


def _use_dev_profile() -> None:
    """No table or endpoint given: the running `runway-bridge dev` (its moto and keys table)."""
    from runway_bridge_dev.profile import read_dev_profile  # noqa: PLC0415

    profile = read_dev_profile()
    if profile is None:
        return
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": profile.aws_endpoint_url,
            "AWS_DEFAULT_REGION": profile.region,
            "BRIDGE_API_KEYS_TABLE_NAME": profile.api_keys_table,
        }
    )
    # moto takes any credentials; a machine without AWS ones must not fail on their absence.
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")


def create_key(tenant_id: str, name: str | None = None) -> CreatedKey:
    """Create a key for `tenant_id`; the answer is the only time the key is seen."""
    from runway_bridge.logic.wiring import build_services  # noqa: PLC0415  (boto3 is slow to import)

    return build_services(get_settings()).keys.create_key(name or "cli", tenant_id)


def revoke_key(key_or_id: str) -> bool:
    """Revoke a key (by the key or its id); False if no such key exists."""
    from runway_bridge.errors import NotFoundError  # noqa: PLC0415
    from runway_bridge.logic.wiring import build_services  # noqa: PLC0415

    try:
        build_services(get_settings()).keys.revoke_key(key_or_id)
    except NotFoundError:
        return False
    return True


def run_create(args: argparse.Namespace) -> int:
    _configure(args)
    created = create_key(args.tenant, args.name)
    print(f"tenant:  {created.tenant_id}")
    print(f"key id:  {created.key_id}")
    print(f"key:     {created.api_key}")
    if created.webhook_secret:
        print(f"webhook signing secret (new tenant): {created.webhook_secret}")
    print("Shown once; only the key's hash is stored. SDK: RunwayML(api_key=<key>, base_url=<ApiUrl>).")
    return 0


def run_revoke(args: argparse.Namespace) -> int:
    _configure(args)
    if not revoke_key(args.key):
        print("no such key", file=sys.stderr)
        return 1
    print("revoked")
    return 0
