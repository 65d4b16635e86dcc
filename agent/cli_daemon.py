"""Commands of the service: `config check` (and run, demo, doctor as they land)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from agent.cli_common import EXIT_OK, Context, add_command
from agent.config import masked


def register(commands: Any) -> None:
    config = add_command(commands, "config", _config_help, "inspect the configuration")
    sub = config.add_subparsers(dest="config_command", metavar="SUBCOMMAND", required=True)
    check = add_command(
        sub,
        "check",
        _config_check,
        "validate the config and print the effective values (token masked)",
    )
    check.add_argument("--json", action="store_true", help="print JSON instead of TOML-like text")


def _config_help(args: argparse.Namespace, ctx: Context) -> int:
    return EXIT_OK


def _config_check(args: argparse.Namespace, ctx: Context) -> int:
    data = masked(ctx.config())
    if args.json:
        print(json.dumps(data, indent=2, sort_keys=True))
        return EXIT_OK
    for section, values in data.items():
        if isinstance(values, list):
            for item in values:
                print(f"[[{section}]]")
                _print_values(item)
        else:
            print(f"[{section}]")
            _print_values(values)
        print()
    print("config OK")
    return EXIT_OK


def _print_values(values: dict[str, Any]) -> None:
    for key, value in values.items():
        print(f"{key} = {json.dumps(value, ensure_ascii=False)}")
