"""`runway-bridge` console entry point. Sub-commands live in their own modules and are imported
only when chosen, so `runway-bridge --help` stays fast."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from collections.abc import Sequence

# sub-command -> module exposing `register(subparsers)`; each module adds its own parser and sets
# `func` on it.
SUBCOMMAND_MODULES: dict[str, str] = {
    "emulator": "runway_bridge_dev.emulator.cli",
    "dev": "runway_bridge_dev.local.cli",
    "keys": "runway_bridge_dev.keys_cli",
    "generate": "runway_bridge_dev.client_cli",
    "tasks": "runway_bridge_dev.client_cli",
    "webhooks": "runway_bridge_dev.client_cli",
}

# Set to show the stack trace of an unexpected error instead of its one-line summary.
DEBUG_VARIABLE = "RUNWAY_BRIDGE_DEBUG"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="runway-bridge", description="Runway webhook bridge tools.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in dict.fromkeys(SUBCOMMAND_MODULES.values()):  # a module may serve several
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        result: int = args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001  (last resort: one line, not a stack trace; see DEBUG_VARIABLE)
        if os.environ.get(DEBUG_VARIABLE):
            traceback.print_exc()
        detail = " ".join(str(exc).split())[:300]
        print(f"error: {type(exc).__name__}: {detail} (set {DEBUG_VARIABLE}=1 for details)", file=sys.stderr)
        return 1
    return result


if __name__ == "__main__":
    sys.exit(main())
