"""`hellotext-agent track ACTION`: one event into the outbox, fast enough to call per event.

In-store software calls this once per check-in, so it imports only what storing one event
needs: no pydantic (the config comes from the validated cache, the event is checked with the
model's own rules in agent.delivery.checks), no httpx, rich or sqlite-utils. Phone numbers
(phonenumbers) and currencies (pycountry) are loaded only when given. The daemon's claim
validates the stored row with the Event model again before anything is sent.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from agent.cli.common import EXIT_OK, Context, add_command
from agent.delivery import checks

# Fixed forever, like agent.delivery.events.NAMESPACE (a test checks they agree).
NAMESPACE = uuid.UUID("5b0c8f7e-2f4e-5c1a-9a43-6e1d1f0a7c21")


def register(commands: Any) -> None:
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
    parser.add_argument(
        "--amount",
        metavar="A",
        help="amount, e.g. 89.90 or 89,90 (1.234,50 in a decimal-comma country)",
    )
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


AMBIGUOUS = re.compile(r"^(\d{1,3})[.,](\d{3})$")


def parse_amount(text: str, country: str) -> Decimal:
    """'89.90', '89,90', '1.234,50' (the store's country decides a grouped number as on its
    receipts); '1.500' alone could be 1500 or 1.5, and is refused rather than guessed."""
    token = text.strip()
    body = token.lstrip("+-")
    sign = -1 if token.startswith("-") else 1
    if (match := AMBIGUOUS.match(body)) is not None:
        whole, frac = match.groups()
        small = f"{whole}.{frac.rstrip('0') or '0'}"
        raise ValueError(
            f"{text!r} is ambiguous ({whole}{frac} or {small}?): write {whole}{frac} without"
            f" a thousands separator, or {small}"
        )
    if "," not in body:  # 89.90, 1500: the fast path, no receipts module
        try:
            value = Decimal(body)
        except InvalidOperation:
            value = Decimal("NaN")
        if body and body[0].isdigit() and value.is_finite():
            return sign * value
    else:
        from agent.receipts.numbers import parse_number  # only for a comma

        found = parse_number(body, country)
        if found is not None:
            return sign * found
    raise ValueError(f"{text!r} is not a number like 89.90 or 89,90")


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


def _identity(parser: argparse.ArgumentParser, args: argparse.Namespace, country: str,
              event_id: str) -> dict[str, str]:  # fmt: skip
    if args.phone is not None:
        from agent.phones import to_e164  # phonenumbers: only when a phone is given

        phone = to_e164(args.phone, country)
        if phone is None:
            parser.error(f"--phone: {args.phone!r} is not a phone number in {country}")
        return {"phone": phone}
    for name in ("profile", "session"):
        if getattr(args, name) is not None:
            try:
                return {name: checks.check_ident(getattr(args, name))}
            except ValueError as exc:
                parser.error(f"--{name}: {exc}")
    # An anonymous session shaped like Hellotext's own: a UUID, derived from the event.
    return {"session": str(uuid.uuid5(NAMESPACE, "\x1f".join(("session", event_id))))}


def build(parser: argparse.ArgumentParser, args: argparse.Namespace, store: dict[str, Any],
          event_id: str) -> dict[str, Any]:  # fmt: skip
    """The stored event as Event.to_json() would write it, checked with the model's rules."""
    try:
        action = checks.check_action(args.action.strip())
    except ValueError as exc:
        parser.error(f"action: {exc}")
    body: dict[str, Any] = {"id": event_id, "action": action}
    body.update(_identity(parser, args, store["country"], event_id))
    if args.currency is not None and args.amount is None:
        parser.error("--currency needs --amount")
    if args.amount is not None:
        try:
            amount = parse_amount(args.amount, store["country"])
            body["amount"] = str(checks.check_amount(amount))
        except ValueError as exc:
            parser.error(f"--amount: {exc}")
        code = checks.currency_code(args.currency or store["currency"])
        if code is None:
            parser.error(f"currency: {args.currency!r} is not an ISO 4217 currency code")
        body["currency"] = code
    body["tracked_at"] = checks.iso_utc(args.at or datetime.now(UTC))
    metadata = dict(args.meta)
    if checks.ID_KEY in metadata:
        parser.error(f"metadata.{checks.ID_KEY} is reserved for the event id")
    body["metadata"] = metadata
    return body


def _track(parser: argparse.ArgumentParser, args: argparse.Namespace, ctx: Context) -> int:
    from agent.delivery.outbox import Outbox  # sqlite3 and the schema, no pydantic

    config = ctx.data()
    store = config["store"]
    event_id = str(uuid.uuid4())
    body = build(parser, args, store, event_id)
    anonymous = args.phone is None and args.profile is None and args.session is None
    hold = anonymous and store["unidentified"] == "local"
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    outbox = Outbox(Path(config["outbox"]["path"]), synchronous=config["outbox"]["synchronous"])
    with outbox:
        outbox.add_checked([(event_id, text)], now=time.time(), hold=hold)
    print(event_id)
    if hold:
        print(
            "kept on this till only (store.unidentified = 'local'): it will not be sent",
            file=sys.stderr,
        )
    return EXIT_OK
