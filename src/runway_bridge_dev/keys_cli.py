"""`runway-bridge keys`: create and revoke bridge keys (one tenant per key), set tenant limits and
tenants' output destinations.

    runway-bridge keys create --tenant acme [--name ci] [--max-in-flight 5] [--max-jobs-per-day 500]
    runway-bridge keys update --tenant acme --max-credits-per-day 2000 [--max-in-flight none]
    runway-bridge keys update --tenant acme --output s3://acme-videos/bridge/ [--copier-function NAME]
    runway-bridge keys revoke <key>

`--output` is checked before anything is stored: its bucket must be in the stack's OutputBuckets and
the copier function (`--copier-function`, `$BRIDGE_COPY_FUNCTION_NAME`, or the running `runway-bridge
dev`'s) must manage to write there with its own role; `--output none` sends the tenant's outputs back
to the bridge's bucket.

The key is printed once at creation and stored hashed only. Table names and the AWS endpoint come
from the environment like in the functions (`BRIDGE_API_KEYS_TABLE_NAME`, `AWS_ENDPOINT_URL`, ...);
`--table` and `--endpoint-url` override them; with neither, a running `runway-bridge dev` is used,
and without one either the command says so (exit 2) instead of calling AWS. Errors are one line on
stderr (exit 1 refused, 2 usage, 3 the table could not be reached); `--json` prints JSON on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from runway_bridge.settings import get_settings
from runway_bridge_dev.client_cli import CliError, guarded, one_line

if TYPE_CHECKING:
    from runway_bridge.logic.tenants.keys import CreatedKey

# --flag -> TenantLimits field; the value "none" makes that limit unlimited (docs/tenants.md).
LIMIT_FLAGS = {
    "max_in_flight": ("--max-in-flight", int, "jobs sent to Runway and not finished"),
    "max_jobs_per_day": ("--max-jobs-per-day", int, "creates per UTC day"),
    "max_output_seconds_per_day": ("--max-output-seconds-per-day", int, "seconds of output per UTC day"),
    "max_credits_per_day": ("--max-credits-per-day", float, "credits per UTC day (needs CreditPrices)"),
}


BRIDGE_BUCKET_TEXT = "the bridge's bucket"


def _limit_value(kind: Any) -> Any:
    def parse(text: str) -> Any:
        return None if text.lower() in ("none", "unlimited") else kind(text)

    return parse


def _add_limit_flags(parser: argparse.ArgumentParser) -> None:
    for field, (flag, kind, meaning) in LIMIT_FLAGS.items():
        parser.add_argument(
            flag,
            dest=field,
            type=_limit_value(kind),
            default=argparse.SUPPRESS,
            help=f"{meaning}; 'none': unlimited",
        )


def _add_output_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--output",
        default=None,
        metavar="S3_URI",
        help="copy the tenant's outputs to s3://bucket/prefix/ (checked by the copier first); "
        "'none': back to the bridge's bucket",
    )


def _limit_changes(args: argparse.Namespace) -> dict[str, Any]:
    return {field: getattr(args, field) for field in LIMIT_FLAGS if hasattr(args, field)}


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "keys",
        help="create and revoke bridge keys",
        description="Create (printed once, stored hashed) and revoke the keys callers send as Bearer.",
    )
    parser.add_argument("--table", default=None, help="API keys table (default: $BRIDGE_API_KEYS_TABLE_NAME)")
    parser.add_argument("--endpoint-url", default=None, help="AWS endpoint (e.g. the local stack's moto)")
    parser.add_argument(
        "--copier-function",
        default=None,
        help="the stack's copier function, which checks an --output destination "
        "(stack output CopyOutputsFunctionName; default: $BRIDGE_COPY_FUNCTION_NAME)",
    )
    actions = parser.add_subparsers(dest="keys_action", metavar="ACTION", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="machine-readable output on stdout")

    create = actions.add_parser(
        "create", parents=[common], help="create a key for a tenant and print it (once)"
    )
    create.add_argument("--tenant", required=True, help="tenant id the key acts for")
    create.add_argument("--name", default=None, help="a label for the key (e.g. where it is used)")
    _add_limit_flags(create)
    _add_output_flag(create)
    create.set_defaults(func=run_create)

    update = actions.add_parser(
        "update", parents=[common], help="change a tenant's limits or output destination (the rest is kept)"
    )
    update.add_argument("--tenant", required=True, help="tenant id")
    _add_limit_flags(update)
    _add_output_flag(update)
    update.set_defaults(func=run_update)

    revoke = actions.add_parser("revoke", parents=[common], help="revoke a key: it stops working at once")
    revoke.add_argument("key", help="the key itself, or its key id (the SHA-256 the table holds)")
    revoke.set_defaults(func=run_revoke)


def _configure(args: argparse.Namespace) -> None:
    configured = args.table or args.endpoint_url or os.environ.get("BRIDGE_API_KEYS_TABLE_NAME")
    if not configured and not _use_dev_profile():
        raise CliError(
            "no keys table to use: start `make dev` (its keys table is used), or pass --table "
            "(or set BRIDGE_API_KEYS_TABLE_NAME) and --endpoint-url for a local one",
            2,
        )
    if args.table:
        os.environ["BRIDGE_API_KEYS_TABLE_NAME"] = args.table
    if args.copier_function:
        os.environ["BRIDGE_COPY_FUNCTION_NAME"] = args.copier_function
    if args.endpoint_url:
        os.environ["AWS_ENDPOINT_URL"] = args.endpoint_url
    get_settings.cache_clear()
    from runway_bridge.observability import logger  # noqa: PLC0415

    logger.setLevel("WARNING")  # the functions' JSON logs are not CLI output


def _use_dev_profile() -> bool:
    """No table or endpoint given: the running `runway-bridge dev` (its moto and keys table);
    False when none runs."""
    from runway_bridge_dev.profile import read_dev_profile  # noqa: PLC0415

    profile = read_dev_profile()
    if profile is None:
        return False
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": profile.aws_endpoint_url,
            "AWS_DEFAULT_REGION": profile.region,
            "BRIDGE_API_KEYS_TABLE_NAME": profile.api_keys_table,
        }
    )
    if profile.copy_function:
        os.environ.setdefault("BRIDGE_COPY_FUNCTION_NAME", profile.copy_function)
    # moto takes any credentials; a machine without AWS ones must not fail on their absence.
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    return True


def create_key(
    tenant_id: str, name: str | None = None, limits: dict[str, Any] | None = None, output: str | None = None
) -> CreatedKey:
    """Create a key for `tenant_id` (with limit changes, by TenantLimits field name, and an output
    destination `s3://bucket/prefix/` or "none"; both checked before anything is stored); the answer
    is the only time the key is seen."""
    from runway_bridge.wiring.keys import build_key_service  # noqa: PLC0415  (boto3 is slow to import)

    keys = build_key_service(get_settings())
    if limits or output is not None:
        keys.update_tenant(tenant_id, limit_changes=limits, output=output)
    return keys.create_key(name or "cli", tenant_id)


def update_tenant(tenant_id: str, limits: dict[str, Any], output: str | None = None) -> dict[str, Any]:
    """Change some of a tenant's limits and/or its output destination (a refusal changes nothing);
    all its limits as JSON, and its output destination (None: the bridge's bucket)."""
    from runway_bridge.wiring.keys import build_key_service  # noqa: PLC0415

    profile = build_key_service(get_settings()).update_tenant(tenant_id, limit_changes=limits, output=output)
    destination = profile.output_destination
    return {"limits": profile.limits.to_json(), "output": destination.uri if destination else None}


def update_limits(tenant_id: str, limits: dict[str, Any]) -> dict[str, Any]:
    """Change some of a tenant's limits; all its limits as JSON."""
    return dict(update_tenant(tenant_id, limits)["limits"])


def revoke_key(key_or_id: str) -> bool:
    """Revoke a key (by the key or its id); False if no such key exists."""
    from runway_bridge.errors import NotFoundError  # noqa: PLC0415
    from runway_bridge.wiring.keys import build_key_service  # noqa: PLC0415

    try:
        build_key_service(get_settings()).revoke_key(key_or_id)
    except NotFoundError:
        return False
    return True


def keys_command(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Configure, run, and turn what the key service or AWS raise into a one-line CliError."""

    def run(args: argparse.Namespace) -> int:
        from botocore.exceptions import (  # noqa: PLC0415
            BotoCoreError,
            ClientError,
            EndpointConnectionError,
            NoCredentialsError,
        )

        from runway_bridge.errors import BridgeError, StoreUnavailableError  # noqa: PLC0415

        _configure(args)
        try:
            return command(args)
        except BridgeError as exc:
            raise CliError(one_line(str(exc.message))) from exc
        except StoreUnavailableError as exc:
            raise CliError(one_line(str(exc)), 3) from exc
        except (EndpointConnectionError, NoCredentialsError) as exc:
            raise CliError(
                f"cannot reach the keys table: {one_line(str(exc))}; is `make dev` running?", 3
            ) from exc
        except (BotoCoreError, ClientError) as exc:
            raise CliError(f"the keys table refused: {one_line(str(exc))}") from exc

    return guarded(run)


def emit(args: argparse.Namespace, data: Any, lines: list[str]) -> None:
    print(json.dumps(data) if args.json else "\n".join(lines), flush=True)


@keys_command
def run_create(args: argparse.Namespace) -> int:
    created = create_key(args.tenant, args.name, _limit_changes(args), args.output)
    limits = created.limits.to_json()
    output = created.output_destination.uri if created.output_destination else None
    lines = [
        f"tenant:  {created.tenant_id}",
        f"key id:  {created.key_id}",
        f"key:     {created.api_key}",
    ]
    if created.webhook_secret:
        lines.append(f"webhook signing secret (new tenant): {created.webhook_secret}")
    lines.append(f"limits:  {_limits_text(limits)}")
    lines.append(f"output:  {output or BRIDGE_BUCKET_TEXT}")
    lines.append(
        "Shown once; only the key's hash is stored. SDK: RunwayML(api_key=<key>, base_url=<ApiUrl>)."
    )
    data = {
        "tenantId": created.tenant_id,
        "keyId": created.key_id,
        "apiKey": created.api_key,
        "webhookSecret": created.webhook_secret,
        "limits": limits,
        "output": output,
    }
    emit(args, data, lines)
    return 0


@keys_command
def run_update(args: argparse.Namespace) -> int:
    changes = _limit_changes(args)
    if not changes and args.output is None:
        raise CliError("give at least one limit or --output to change (see --help)", 2)
    updated = update_tenant(args.tenant, changes, args.output)
    lines = [
        f"tenant {args.tenant} limits: {_limits_text(updated['limits'])}",
        f"tenant {args.tenant} output: {updated['output'] or BRIDGE_BUCKET_TEXT}",
    ]
    emit(args, {"tenantId": args.tenant, **updated}, lines)
    return 0


def _limits_text(limits: dict[str, Any]) -> str:
    return ", ".join(f"{name} {'unlimited' if value is None else value}" for name, value in limits.items())


@keys_command
def run_revoke(args: argparse.Namespace) -> int:
    if not revoke_key(args.key):
        raise CliError("no such key")
    emit(args, {"revoked": True}, ["revoked"])
    return 0
