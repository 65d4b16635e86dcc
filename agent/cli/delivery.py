"""Commands of the delivery area: `outbox list|show|retry` (`track` is in track.py, kept light;
`sync` and `status` in sync.py).

They only touch the local outbox, so they work offline and while the daemon runs (the
outbox is shared through SQLite WAL).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import fields
from datetime import datetime
from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.table import Table

from agent.cli.common import EXIT_FAILURE, EXIT_OK, Context, add_command
from agent.config import AgentConfig
from agent.delivery.events import Event
from agent.delivery.outbox import STATES, Outbox, OutboxRow
from agent.errors import OutboxError
from agent.logs import mask_phone, scrub


def register(commands: Any) -> None:
    """Add this area's subcommands to the `hellotext-agent` parser."""
    _register_outbox(commands)


def open_outbox(config: AgentConfig, *, readonly: bool = False) -> Outbox:
    if readonly and not config.outbox.path.exists():
        raise OutboxError(f"no outbox yet: {config.outbox.path} is created with the first sale")
    path, sync = config.outbox.path, config.outbox.synchronous
    return Outbox(path, synchronous=sync, readonly=readonly)


# --- outbox -----------------------------------------------------------------------------


def _register_outbox(commands: Any) -> None:
    outbox = add_command(
        commands, "outbox", _outbox_usage, "inspect the outbox and retry parked events"
    )
    subs = outbox.add_subparsers(dest="outbox_command", metavar="SUBCOMMAND", required=True)
    listing = add_command(subs, "list", _list, "list events, newest first")
    listing.add_argument("--state", choices=STATES, help="only events in this state")
    listing.add_argument("--limit", type=int, default=50, metavar="N", help="at most N (50)")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    show = add_command(subs, "show", _show, "one event as JSON (phones masked)")
    show.add_argument("id", metavar="ID", help="event id, or its first characters")
    retry = add_command(subs, "retry", _retry, "send parked (or the given) events again, now", "")
    which = retry.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "ids", metavar="ID", nargs="*", default=[], help="event ids (or their first characters)"
    )
    which.add_argument("--parked", action="store_true", help="every parked event")


def _outbox_usage(args: argparse.Namespace, ctx: Context) -> int:  # argparse requires one
    return 2


def _row_data(row: OutboxRow) -> dict[str, Any]:
    """The row for a person or a script: phones masked, also in an error body echoing one."""
    data = {f.name: getattr(row, f.name) for f in fields(row)}
    event = json.loads(row.event.model_dump_json(exclude_none=True))
    if row.event.object_parameters is not None:  # Decimals as text, not storage tags
        event["object_parameters"] = _plain(row.event.object_parameters)
    if row.event.phone:
        event["phone"] = mask_phone(row.event.phone)
    if row.event.email:
        event["email"] = _mask_email(row.event.email)
    data["event"] = event
    data["last_error"] = scrub(row.last_error) if row.last_error else row.last_error
    return data


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return str(value) if isinstance(value, Decimal) else value


def _when(moment: float | None) -> str:
    if moment is None:
        return ""
    return datetime.fromtimestamp(moment).astimezone().strftime("%m-%d %H:%M")


def _mask_email(email: str) -> str:
    """'ana@example.com' -> 'a***@example.com'."""
    local, _, domain = email.rpartition("@")
    return f"{local[:1]}***@{domain}"


def _who(event: Event) -> str:
    if event.phone:
        return mask_phone(event.phone)
    if event.email:
        return _mask_email(event.email)
    return f"profile {event.profile}" if event.profile else f"session {event.session}"


def _list(args: argparse.Namespace, ctx: Context) -> int:
    if args.limit < 1:
        print("hellotext-agent: --limit must be at least 1", file=sys.stderr)
        return 2
    with open_outbox(ctx.config(), readonly=True) as outbox:
        rows = outbox.list(state=args.state, limit=args.limit)
    if args.json:
        for row in rows:
            print(json.dumps(_row_data(row), ensure_ascii=False))
        return EXIT_OK
    head = ("id", "state", "action", "customer", "amount", "created", "tries", "last")
    lines = [_line(row) for row in rows]
    if not sys.stdout.isatty():  # a pipe, a file, a script: one line per event, never wrapped
        print(f"outbox: {len(rows)} event(s), newest first")
        widths = [max(len(v[i]) for v in (head, *lines)) for i in range(len(head) - 1)]
        for values in (head, *lines):
            cells = [v.ljust(w) for v, w in zip(values, widths, strict=False)]
            print("  ".join([*cells, values[-1]]).rstrip())
        return EXIT_OK
    table = Table(title=f"outbox: {len(rows)} event(s), newest first", title_justify="left")
    for column in head:  # the first 8 characters of the id identify it (as in git)
        last = column == "last"
        table.add_column(column, no_wrap=not last, overflow="fold" if last else "ellipsis")
    for values in lines:
        table.add_row(*values)
    Console().print(table)
    return EXIT_OK


def _line(row: OutboxRow) -> tuple[str, ...]:
    e = row.event
    amount = f"{e.amount} {e.currency or ''}".strip() if e.amount is not None else ""
    last = f"{row.last_status or ''} {scrub(row.last_error or '')[:60]}".strip()
    return (row.id[:8], row.state, e.action, _who(e), amount, _when(row.created_at),
            str(row.attempts), last)  # fmt: skip


def _find(outbox: Outbox, text: str) -> OutboxRow | None:
    """The row with this id or unique id prefix; says why on stderr when there is none."""
    row = outbox.get(text)
    if row is None and text:
        found = outbox.ids_starting(text)
        if len(found) == 1:
            row = outbox.get(found[0])
        elif found:
            print(f"hellotext-agent: {text} matches several events; give more", file=sys.stderr)
            return None
    if row is None:
        print(f"hellotext-agent: no event {text} in the outbox", file=sys.stderr)
    return row


def _show(args: argparse.Namespace, ctx: Context) -> int:
    with open_outbox(ctx.config(), readonly=True) as outbox:
        row = _find(outbox, args.id)
    if row is None:
        return EXIT_FAILURE
    print(json.dumps(_row_data(row), indent=2, ensure_ascii=False))
    return EXIT_OK


def _retry(args: argparse.Namespace, ctx: Context) -> int:
    code = EXIT_OK
    ids: list[str] = []
    with open_outbox(ctx.config()) as outbox:
        for text in args.ids:
            row = _find(outbox, text)
            if row is None:
                code = EXIT_FAILURE
            elif row.state not in ("parked", "pending"):
                print(f"{row.id}: {row.state}, left as it is", file=sys.stderr)
            else:
                ids.append(row.id)
        count = outbox.requeue(ids, parked=args.parked, now=time.time())
    print(f"{count} event(s) will be sent at the next sync")
    return code
