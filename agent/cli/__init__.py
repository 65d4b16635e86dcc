"""The only entry point: `hellotext-agent [--config PATH] COMMAND ...`. Thin: each command
parses its arguments and calls into the library. Commands are registered by one module
per command group in this package, so each area owns its own options.

Holds: the parser and `main` (here), shared plumbing (`common`), the command groups (`daemon`,
`delivery`, `sync`, `parse`, `standin`, `doctor`), and `demo`. May import anything in agent/
and drivers/; nothing imports agent.cli (it is the top)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from agent import __version__
from agent.cli import daemon as cli_daemon
from agent.cli import delivery as cli_delivery
from agent.cli import doctor
from agent.cli import parse as cli_parse
from agent.cli import standin as cli_fake
from agent.cli import sync as cli_sync
from agent.cli.common import EXIT_CONFIG, EXIT_FAILURE, EXIT_OK, Context
from agent.config import ENV_PATH
from agent.errors import AgentError, ConfigError
from agent.logs import setup_logging

REGISTRARS = (cli_daemon, cli_delivery, cli_sync, cli_parse, cli_fake, doctor)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hellotext-agent",
        description="Hellotext store agent: receipts and scans to Hellotext events.",
    )
    parser.add_argument(
        "--config",
        metavar="PATH",
        help="TOML config (default: $HELLOTEXT_AGENT_CONFIG or /etc/hellotext-agent/agent.toml)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in REGISTRARS:
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    ctx = Context(config_arg=args.config, verbose=args.verbose)
    setup_logging("DEBUG" if args.verbose else "INFO")
    try:
        explicit = args.config or os.environ.get(ENV_PATH)
        if explicit and not getattr(args, "reports_config", False):
            ctx.config()  # a config named explicitly is checked for every command (exit 78)
        code: int = args.handler(args, ctx)
    except ConfigError as exc:
        print(f"hellotext-agent: invalid configuration: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except AgentError as exc:
        print(f"hellotext-agent: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `... | head`: not an error of ours
        sys.stderr.close()
        return EXIT_OK
    return code

