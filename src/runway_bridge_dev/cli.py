"""`runway-bridge` console entry point. Sub-commands live in their own modules and are imported
only when chosen, so `runway-bridge --help` stays fast."""

from __future__ import annotations

import argparse
import importlib
import sys
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
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
