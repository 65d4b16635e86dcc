"""`hellotext-agent fake-hellotext`: run the local Hellotext stand-in in the foreground.

Prints exactly one line, `listening on http://HOST:PORT/v1`, so scripts (benchmarks, the
demo) can read the URL, then serves until SIGTERM or SIGINT and exits 0. Faults can be
changed while it runs through `POST /_control/faults`.
"""

from __future__ import annotations

import argparse
import signal
import threading
from types import FrameType
from typing import Any

from agent.cli.common import EXIT_OK, Context, add_command
from agent.errors import AgentError


def register(commands: Any) -> None:
    """Add this area's subcommands to the `hellotext-agent` parser."""
    parser = add_command(
        commands,
        "fake-hellotext",
        _run,
        "run a local stand-in of the Hellotext API (tests, benchmarks, demo)",
        "Serve the Hellotext endpoints and rules on a local port, with fault injection. "
        "Prints 'listening on http://HOST:PORT/v1' and serves until SIGTERM/SIGINT.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default %(default)s)")
    parser.add_argument("--port", type=int, default=0, help="port; 0 picks a free one (default)")
    parser.add_argument("--token", default="test-token", help="accepted Bearer token")
    parser.add_argument(
        "--action",
        action="append",
        metavar="NAME",
        help="a custom action the business has created (repeatable; default tienda_fisica.pago)",
    )
    parser.add_argument("--seed", type=int, help="seed of the fault dice (reproducible runs)")
    faults = parser.add_argument_group("fault injection")
    faults.add_argument(
        "--fail-rate",
        type=float,
        default=0.0,
        metavar="R",
        help="share of requests answered 500/502/503",
    )
    faults.add_argument(
        "--rate-limit-every",
        type=int,
        default=0,
        metavar="N",
        help="answer every Nth request with 429",
    )
    faults.add_argument(
        "--rate-limit",
        type=float,
        default=0.0,
        metavar="N",
        dest="rate_limit_per_second",
        help="answer at most N requests in any second; beyond, 429 with Retry-After",
    )
    faults.add_argument(
        "--retry-after", metavar="S", help="Retry-After on 429/503: seconds or an HTTP date"
    )
    faults.add_argument(
        "--delay", type=float, default=0.0, metavar="S", help="seconds to wait before answering"
    )
    faults.add_argument(
        "--drop-rate",
        type=float,
        default=0.0,
        metavar="R",
        help="share of requests whose connection is closed unanswered",
    )
    faults.add_argument(
        "--lose-answer-rate",
        type=float,
        default=0.0,
        metavar="R",
        help="share of requests processed (events recorded) whose answer is never sent",
    )
    faults.add_argument(
        "--offline",
        action="store_true",
        help="reset every connection at once (as if the network were down)",
    )
    faults.add_argument(
        "--status",
        type=int,
        metavar="CODE",
        dest="status_override",
        help="answer every request with this status (e.g. 401, 403)",
    )


def _run(args: argparse.Namespace, ctx: Context) -> int:
    from agent.standin.server import FakeHellotext, Faults

    faults = Faults(
        fail_rate=args.fail_rate,
        rate_limit_every=args.rate_limit_every,
        rate_limit_per_second=args.rate_limit_per_second,
        retry_after=args.retry_after,
        delay=args.delay,
        drop_rate=args.drop_rate,
        offline=args.offline,
        status_override=args.status_override,
        lose_answer_rate=args.lose_answer_rate,
    )
    try:
        faults.check()
    except ValueError as exc:
        raise SystemExit(f"hellotext-agent fake-hellotext: {exc}") from None
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()  # only a flag: the main loop does the work

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    fake = FakeHellotext(
        host=args.host,
        port=args.port,
        token=args.token,
        actions=args.action or ("tienda_fisica.pago",),
        faults=faults,
        seed=args.seed,
    )
    try:
        fake.start()
    except OSError as exc:  # port taken, address not on this host
        raise AgentError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from exc
    with fake:
        print(f"listening on {fake.url}", flush=True)
        while not stop.wait(0.5):
            pass
    return EXIT_OK
