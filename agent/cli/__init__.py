"""The only entry point: `hellotext-agent [--config PATH] COMMAND ...`. Thin: each command
parses its arguments and calls into the library. Commands are registered by one module
per command group in this package, so each area owns its own options.

Holds: the parser and `main` (here), shared plumbing (`common`, `fastconfig`), the command
groups (`daemon`, `track`, `delivery`, `sync`, `parse`, `standin`, `doctor`), and `demo`. Only
the group of the command being run is imported, so `track` and `status` stay fast. May import
anything in agent/ and drivers/; nothing imports agent.cli (it is the top)."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Any

from agent.cli.common import EXIT_CONFIG, EXIT_FAILURE, EXIT_OK, Context
from agent.errors import AgentError, ConfigError, ConfigNotFoundError
from agent.logs import setup_logging
from agent.tokens import ENV_PATH

# Each command group's module and the commands it registers. Only the group of the command
# being run is imported (all of them for --help): `track` must not pay for `doctor`'s imports.
REGISTRARS: dict[str, tuple[str, ...]] = {
    "agent.cli.daemon": ("run", "demo", "config"),
    "agent.cli.track": ("track",),
    "agent.cli.delivery": ("outbox",),
    "agent.cli.sync": ("sync", "status"),
    "agent.cli.parse": ("parse",),
    "agent.cli.standin": ("fake-hellotext",),
    "agent.cli.doctor": ("doctor",),
}


class _Version(argparse.Action):
    """--version, read only when asked (importlib.metadata is slow to import)."""

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        from agent import __version__

        parser.exit(message=f"{parser.prog} {__version__}\n")


def _command_in(argv: Sequence[str]) -> str | None:
    """The command word of argv (after the global options), or None."""
    words = iter(argv)
    for word in words:
        if word == "--config":
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
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
    parser.add_argument("--version", action=_Version, nargs=0, help="print the version")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    word = None if argv is None else _command_in(argv)
    chosen = [name for name, words in REGISTRARS.items() if word in words] or list(REGISTRARS)
    for name in chosen:
        importlib.import_module(name).register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    ctx = Context(config_arg=args.config, verbose=args.verbose)
    setup_logging("DEBUG" if args.verbose else "INFO")
    try:
        explicit = args.config or os.environ.get(ENV_PATH)
        if explicit and not getattr(args, "reports_config", False):
            ctx.data()  # a config named explicitly is checked for every command (exit 78)
        code: int = args.handler(args, ctx)
    except ConfigNotFoundError as exc:
        print(f"hellotext-agent: {exc.hint}", file=sys.stderr)
        return EXIT_CONFIG
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
