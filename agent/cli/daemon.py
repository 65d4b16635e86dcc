"""Commands of the service: `run`, `demo`, `config check`."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from agent import tokens
from agent.cli.common import EXIT_OK, Context, add_command
from agent.config import masked
from agent.logs import setup_logging


def register(commands: Any) -> None:
    add_command(
        commands,
        "run",
        _run,
        "run the agent (what systemd starts)",
        "Start the printer taps and scanners from the config, record sales in the outbox and "
        "deliver them to Hellotext until SIGTERM.",
    )
    demo = add_command(
        commands,
        "demo",
        _demo,
        "a one-minute demo on virtual devices (no hardware, no account)",
        "Start a local Hellotext stand-in, a virtual printer behind a tcp tap and a virtual "
        "scanner, play sample receipts, go offline midway and drain the backlog.",
    )
    demo.add_argument("--pause", type=float, default=1.2, help="seconds between receipts")
    config = add_command(commands, "config", _config_help, "inspect the configuration")
    sub = config.add_subparsers(dest="config_command", metavar="SUBCOMMAND", required=True)
    check = add_command(
        sub,
        "check",
        _config_check,
        "validate the config and print the effective values (token masked)",
    )
    check.add_argument("--json", action="store_true", help="print JSON instead of TOML-like text")


def _run(args: argparse.Namespace, ctx: Context) -> int:
    from agent.daemon.service import Service, limit_malloc_arenas

    limit_malloc_arenas()  # before the taps' and workers' threads exist
    config = ctx.config()
    setup_logging("DEBUG" if ctx.verbose else config.log.level)
    service = Service(config)
    service.handle_signals()
    try:
        service.start()
    except BaseException:
        service.stop(timeout=2)
        raise
    return service.run_until_signalled()


def _demo(args: argparse.Namespace, ctx: Context) -> int:
    from agent.cli.demo import run_demo

    setup_logging("DEBUG" if ctx.verbose else "ERROR")  # the live view is the output
    return run_demo(pause=args.pause)


def _config_help(args: argparse.Namespace, ctx: Context) -> int:
    return EXIT_OK


def _config_check(args: argparse.Namespace, ctx: Context) -> int:
    config = ctx.config()
    data = masked(config)
    for section, source in (("hellotext", tokens.API), ("ingest", tokens.INGEST)):
        file = getattr(config, section).token_file
        found = tokens.find(source, file, os.environ, config_file=ctx.config_file())
        data[section]["token_from"] = found.note or found.origin  # never the token itself
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
