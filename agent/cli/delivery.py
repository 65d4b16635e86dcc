"""Commands of the delivery area: `track` and `outbox list|show|retry` (`sync` and `status`
are in cli_sync.py).

They only touch the local outbox, so they work offline and while the daemon runs (the
outbox is shared through SQLite WAL).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import fields
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from agent.cli.common import EXIT_FAILURE, EXIT_OK, Context, add_command
from agent.config import AgentConfig
from agent.delivery.events import Event, Metadata, new_event_id, stable_event_id
from agent.delivery.outbox import STATES, Outbox, OutboxRow
from agent.logs import mask_phone, scrub
from agent.phones import to_e164


def register(commands: Any) -> None:
    """Add this area's subcommands to the `hellotext-agent` parser."""
    _register_track(commands)
    _register_outbox(commands)


def open_outbox(config: AgentConfig) -> Outbox:
    return Outbox(config.outbox.path, synchronous=config.outbox.synchronous)


def anonymous_session(event_id: str) -> str:
    """A session shaped like Hellotext's own (a UUID), derived from the event."""
    return stable_event_id("session", event_id)


# --- track ------------------------------------------------------------------------------


def _register_track(commands: Any) -> None:
    parser = add_command(
        commands,
        "track",
        lambda args, ctx: _track(parser, args, ctx),
        "enqueue a custom action (works offline; prints the event id)",
        "Store one event in the outbox; the daemon (or `sync`) delivers it. Without "
        "--profile, --session or --phone the event gets an anonymous session of its own (a UUID"
        " derived from the event), and is kept local when store.unidentified = 'local'.",
    )
    parser.add_argument(
        "action", metavar="ACTION", help="lowercase object.activity, e.g. evento.asistio"
    )
    who = parser.add_mutually_exclusive_group()
    who.add_argument("--profile", metavar="ID", help="Hellotext profile id")
    who.add_argument("--session", metavar="ID", help="Hellotext session id")
    who.add_argument(
        "--phone", metavar="PHONE", help="customer phone; local numbers use store.country"
    )
    parser.add_argument("--amount", metavar="A", type=_decimal, help="amount, e.g. 89.90")
    parser.add_argument(
        "--currency", metavar="CUR", help="ISO 4217 code (default with --amount: store.currency)"
    )
    parser.add_argument(
        "--at",
        metavar="ISO8601",
        type=_moment,
        help="when it happened (default now; without an offset: this machine's local time)",
    )
    parser.add_argument(
        "--meta",
        metavar="K=V",
        action="append",
        default=[],
        type=_pair,
        help="metadata, repeatable; values are stored as text",
    )


def _decimal(text: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number like 89.90") from None
    if not value.is_finite():
        raise argparse.ArgumentTypeError(f"{text!r} is not a number like 89.90")
    return value


def _moment(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 time like 2026-03-14T18:30:00-03:00"
        ) from None
    return value if value.tzinfo is not None else value.astimezone()


def _pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE")
    return key.strip(), value


def _explain(exc: ValidationError) -> str:
    """Pydantic's errors as 'field: reason' lines a person can act on."""
    parts = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "event"
        parts.append(f"{field}: {err['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)


def _track(parser: argparse.ArgumentParser, args: argparse.Namespace, ctx: Context) -> int:
    config = ctx.config()
    store = config.store
    identity: dict[str, str]
    if args.phone is not None:
        phone = to_e164(args.phone, store.country)
        if phone is None:
            parser.error(f"--phone: {args.phone!r} is not a phone number in {store.country}")
        identity = {"phone": phone}
    elif args.profile is not None:
        identity = {"profile": args.profile}
    elif args.session is not None:
        identity = {"session": args.session}
    else:
        identity = {"session": ""}  # set below, from the event id
    if args.currency is not None and args.amount is None:
        parser.error("--currency needs --amount")
    currency = args.currency or (store.currency if args.amount is not None else None)
    metadata: Metadata = dict(args.meta)
    event_id = new_event_id()
    if identity.get("session") == "":
        identity["session"] = anonymous_session(event_id)
    try:
        event = Event(
            id=event_id,
            action=args.action,
            amount=args.amount,
            currency=currency,
            tracked_at=args.at or datetime.now(UTC),
            metadata=metadata,
            **identity,
        )
    except ValidationError as exc:
        parser.error(_explain(exc))
    anonymous = args.phone is None and args.profile is None and args.session is None
    hold = anonymous and store.unidentified == "local"
    with open_outbox(config) as outbox:
        outbox.add([event], now=time.time(), hold=hold)
    print(event.id)
    if hold:
        print(
            "kept on this till only (store.unidentified = 'local'): it will not be sent",
            file=sys.stderr,
        )
    return EXIT_OK


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


def _who(event: Event) -> str:
    if event.phone:
        return mask_phone(event.phone)
    return f"profile {event.profile}" if event.profile else f"session {event.session}"


def _list(args: argparse.Namespace, ctx: Context) -> int:
    if args.limit < 1:
        print("hellotext-agent: --limit must be at least 1", file=sys.stderr)
        return 2
    with open_outbox(ctx.config()) as outbox:
        rows = outbox.list(state=args.state, limit=args.limit)
    if args.json:
        for row in rows:
            print(json.dumps(_row_data(row), ensure_ascii=False))
        return EXIT_OK
    table = Table(title=f"outbox: {len(rows)} event(s), newest first", title_justify="left")
    table.add_column("id", no_wrap=True)  # the first 8 characters identify it (as in git)
    for column in ("state", "action", "customer", "amount", "created", "tries", "last"):
        table.add_column(column, overflow="fold", no_wrap=column == "created")
    for row in rows:
        e = row.event
        amount = f"{e.amount} {e.currency or ''}".strip() if e.amount is not None else ""
        last = f"{row.last_status or ''} {scrub(row.last_error or '')[:60]}".strip()
        table.add_row(
            row.id[:8],
            row.state,
            e.action,
            _who(e),
            amount,
            _when(row.created_at),
            str(row.attempts),
            last,
        )
    Console().print(table)
    return EXIT_OK


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
    with open_outbox(ctx.config()) as outbox:
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
