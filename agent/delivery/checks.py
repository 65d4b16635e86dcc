"""The event rules that need no model: one place for the checks the Event model (pydantic)
and `track`'s fast path (no pydantic) both apply. Stdlib only; pycountry is imported the
first time a currency is checked."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache

ACTION_RE = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)+$")
# Hellotext's two built-in actions without a dot (tracking-events.md: "current exceptions").
UNDOTTED_ACTIONS = frozenset({"subscribed", "unsubscribed"})
ID_KEY = "agent_event_id"  # metadata key reserved for the event id
MAX_AMOUNT = Decimal("999999999999.99")  # below 2**53 cents: a float carries it exactly
MAX_IDENT = 128


def check_action(value: str) -> str:
    if value not in UNDOTTED_ACTIONS and not ACTION_RE.match(value):
        raise ValueError(f"{value!r} is not a lowercase action name like 'object.activity'")
    return value


@lru_cache(maxsize=64)
def currency_code(code: str) -> str | None:
    """'uyu' -> 'UYU'; None when ISO 4217 has no such code."""
    import pycountry

    found = pycountry.currencies.get(alpha_3=code.upper())
    return None if found is None else str(found.alpha_3)


def check_amount(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError("must be a finite number")
    if value < 0:
        raise ValueError("must be greater than or equal to 0")
    if value > MAX_AMOUNT:
        raise ValueError(f"must be less than or equal to {MAX_AMOUNT}")
    return value


def check_ident(value: str) -> str:
    """A profile or session id: trimmed, 1 to 128 characters."""
    text = value.strip()
    if not 0 < len(text) <= MAX_IDENT:
        raise ValueError(f"must be 1 to {MAX_IDENT} characters")
    return text


def iso_utc(moment: datetime) -> str:
    """'2026-11-26T22:37:47Z' (milliseconds only when present): ISO 8601, always with its Z."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("a time must carry a timezone (naive times are ambiguous)")
    spec = "milliseconds" if moment.microsecond else "seconds"
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec=spec) + "Z"
