"""The Event model: the body of `POST /v1/attribution/events`, validated on the way in.

An Event is what the outbox stores and the sync engine sends. It is validated once, when it is
built from a sale or the `track` command, so nothing malformed ever reaches the queue:
lowercase `object.activity` action, a real ISO 4217 currency, a non-negative Decimal amount
(required with a currency), a timezone-aware `tracked_at` kept in UTC, exactly one identity
(`profile`, `session`, or a `phone` and/or `email` resolved to a profile at send time) and
flat metadata.

Money stays Decimal until the wire: `body()` gives a dict for `httpx`'s `json=` (amounts as
floats equal to the 2-place decimal) and `body_json()` the same body as bytes with the amounts
written exactly (`89.90`). Storage (`to_json`/`from_json`) round-trips exactly, Decimals
inside `object_parameters` included.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_serializer,
    field_validator,
    model_validator,
)

from agent.delivery.checks import (
    ID_KEY,
    MAX_AMOUNT,
    UNDOTTED_ACTIONS,
    check_action,
    currency_code,
    iso_utc,
)
from agent.phones import to_e164

__all__ = ["Event", "Metadata", "iso_utc", "new_event_id", "stable_event_id"]

Metadata = dict[str, str | int | float | bool | None]
# Identifiers are trimmed (in pydantic-core, cheaply); customer text in metadata is kept as is.
Trimmed = Annotated[str, StringConstraints(strip_whitespace=True)]
Ident = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
# The same as Metadata, checked in pydantic-core: non-empty keys, finite floats (JSON numbers).
_MetadataField = dict[
    Annotated[str, StringConstraints(min_length=1)],
    str | int | Annotated[float, Field(allow_inf_nan=False)] | bool | None,
]

# Hellotext's own tracking names; any other action is custom: it takes no object, and with
# object_parameters Hellotext wants object_type too.
# (Hellotext help, developers/tracking-events.md, "Built-in actions for integrations".)
BUILTIN_ACTIONS = frozenset(
    f"{o}.{a}"
    for o, acts in {
        "app": ("installed", "removed", "spent"),
        "cart": ("abandoned", "added", "removed", "viewed"), "checkout": ("started",),
        "coupon": ("redeemed",), "form": ("completed",), "page": ("viewed",),
        "order": ("placed", "confirmed", "cancelled", "shipped", "delivered"),
        "product": ("purchased", "viewed"), "refund": ("requested", "received"),
    }.items()
    for a in acts
) | UNDOTTED_ACTIONS  # fmt: skip
# Fixed forever: changing it would change every stable id and resend old receipts.
NAMESPACE = uuid.UUID("5b0c8f7e-2f4e-5c1a-9a43-6e1d1f0a7c21")
CENTS = Decimal("0.01")
_DECIMAL_TAG = "$decimal"  # storage only: a Decimal inside object_parameters
_STORED_UNTAGGED = {"stored": "untagged"}
_STORED_TAGGED = {"stored": "tagged"}
_CANONICAL_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# body_json() splices exact decimals over these; json.dumps writes NUL as \u0000 and the
# random part makes a collision with customer text impossible in practice.
_PLACEHOLDER = f"\x00{uuid.uuid4().hex}:"


def new_event_id() -> str:
    """A fresh random id (uuid4), for events that have no natural identity (`track`)."""
    return str(uuid.uuid4())


def stable_event_id(*parts: str) -> str:
    """uuid5 over the parts: the same parts always give the same id (a replayed receipt)."""
    if not parts:
        raise ValueError("stable_event_id needs at least one part")
    # The unit separator cannot appear in receipt text, so ("a", "bc") != ("ab", "c").
    return str(uuid.uuid5(NAMESPACE, "\x1f".join(parts)))


class _WithDecimals(dict[str, Any]):
    """object_parameters holding a Decimal somewhere: only these need tagging for storage."""


def _json_value(value: Any, where: str, stored: bool, seen: list[bool]) -> Any:
    """Check that object_parameters hold JSON-able data (Decimals allowed); `stored`: our own
    JSON, whose tagged Decimals are turned back into Decimals. seen[0]: a Decimal was met."""
    if isinstance(value, dict):
        if stored and set(value) == {_DECIMAL_TAG}:
            seen[0] = True
            try:
                return Decimal(value[_DECIMAL_TAG])
            except (ArithmeticError, TypeError, ValueError):
                raise ValueError(f"{where}: {value!r} is not a stored decimal") from None
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{where}: keys must be strings, got {key!r}")
            if key == _DECIMAL_TAG and not stored:
                raise ValueError(f"{where}: the key {_DECIMAL_TAG!r} is reserved")
            out[key] = _json_value(item, f"{where}.{key}", stored, seen)
        return out
    if isinstance(value, list | tuple):
        return [_json_value(v, f"{where}[{i}]", stored, seen) for i, v in enumerate(value)]
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{where}: {value!r} is not a JSON number")
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{where}: {value!r} is not a JSON number")
        seen[0] = True
    if value is None or isinstance(value, str | int | float | bool | Decimal):
        return value
    raise ValueError(f"{where}: {type(value).__name__} is not JSON data")


def _wire(value: Any, decimals: list[Decimal] | None) -> Any:
    """object_parameters for the wire: Decimals become floats, or placeholders to splice."""
    if isinstance(value, dict):
        return {key: _wire(item, decimals) for key, item in value.items()}
    if isinstance(value, list):
        return [_wire(item, decimals) for item in value]
    if isinstance(value, Decimal):
        return _number(value, decimals)
    return value


def _number(value: Decimal, decimals: list[Decimal] | None) -> Any:
    if decimals is None:
        return float(value)
    decimals.append(value)
    return f"{_PLACEHOLDER}{len(decimals) - 1}\x00"


def _tag(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _tag(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_tag(item) for item in value]
    if isinstance(value, Decimal):
        return {_DECIMAL_TAG: str(value)}
    return value


class Event(BaseModel):
    """One Hellotext event, immutable. Exactly one of profile, session, phone."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Trimmed
    action: Trimmed
    profile: Ident | None = None
    session: Ident | None = None
    phone: Trimmed | None = None
    email: Trimmed | None = None
    object: str | None = Field(None, min_length=1, max_length=128)
    object_parameters: dict[str, Any] | None = None
    object_type: str | None = Field(None, min_length=1, max_length=64)
    # events.model = "orders": the order to create before sending (agent.delivery.orders);
    # its id becomes `object` on the wire. Never sent itself.
    order: dict[str, Any] | None = None
    amount: Decimal | None = Field(None, ge=0, le=MAX_AMOUNT, allow_inf_nan=False)
    currency: Trimmed | None = None
    tracked_at: datetime
    metadata: _MetadataField = Field(default_factory=dict)

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if _CANONICAL_UUID.match(value):
            return value
        try:
            return str(uuid.UUID(value))
        except ValueError:
            raise ValueError(f"{value!r} is not a UUID string") from None

    @field_validator("action")
    @classmethod
    def _action(cls, value: str) -> str:
        return check_action(value)

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        phone = to_e164(value, None)
        if phone is None or not value.startswith("+"):
            raise ValueError("not a phone number in E.164 form (+ and country code)")
        return phone

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is None:
            return None
        local, at, domain = value.rpartition("@")
        if not at or not local or "." not in domain or len(value) > 254 or " " in value:
            raise ValueError("not an e-mail address like ana@example.com")
        return f"{local}@{domain.lower()}"

    @field_validator("currency")
    @classmethod
    def _currency_code(cls, value: str | None) -> str | None:
        if value is None:
            return None
        code = currency_code(value)
        if code is None:
            raise ValueError(f"{value!r} is not an ISO 4217 currency code")
        return code

    @field_validator("tracked_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("tracked_at must carry a timezone (naive times are ambiguous)")
        return value.astimezone(UTC)

    @field_validator("object_parameters", "order")
    @classmethod
    def _params(cls, value: dict[str, Any] | None, info: ValidationInfo) -> dict[str, Any] | None:
        if value is None:
            return None
        if info.context == _STORED_UNTAGGED:  # our own JSON, no Decimals: nothing to undo
            return value
        seen = [False]
        name = info.field_name or "object_parameters"
        checked = _json_value(value, name, info.context == _STORED_TAGGED, seen)
        if not isinstance(checked, dict):
            raise ValueError(f"{name} must be a mapping")
        return _WithDecimals(checked) if seen[0] else checked

    @model_validator(mode="after")
    def _rules(self) -> Event:
        known = self.phone is not None or self.email is not None  # resolved when sent
        if (self.profile is not None) + (self.session is not None) + known != 1:
            names = ("profile", "session", "phone", "email")
            got = ", ".join(n for n in names if getattr(self, n) is not None) or "none"
            raise ValueError(
                f"exactly one of profile, session, phone/email is required (got {got})"
            )
        if self.currency is not None and self.amount is None:
            raise ValueError("amount is required when currency is given")
        if self.order is not None and (self.object or self.object_parameters):
            raise ValueError("an event with an order to create takes no object of its own")
        if self.metadata.get(ID_KEY, self.id) != self.id:
            raise ValueError(f"metadata.{ID_KEY} is reserved for the event id")
        return self

    @field_serializer("object_parameters", "order", when_used="json")
    def _store_params(self, value: dict[str, Any] | None) -> Any:
        return _tag(value) if isinstance(value, _WithDecimals) else value

    @field_serializer("amount", when_used="json")
    def _store_amount(self, value: Decimal | None) -> str | None:
        return None if value is None else str(value)

    # --- the wire -------------------------------------------------------------------------

    def _body(
        self, profile: str | None, decimals: list[Decimal] | None, order_id: str | None = None
    ) -> dict[str, Any]:
        if (self.order is None) != (order_id is None):
            raise ValueError("order_id= is given exactly when the event has an order to create")
        out: dict[str, Any] = {"action": self.action}
        by_contact = self.phone is not None or self.email is not None
        if profile is not None:
            if not by_contact:
                raise ValueError("profile= is only for an event identified by phone or e-mail")
            out["profile"] = profile
        elif by_contact:
            raise ValueError("an event identified by phone or e-mail needs its resolved profile=")
        elif self.profile is not None:
            out["profile"] = self.profile
        else:
            out["session"] = self.session
        if self.object is not None or order_id is not None:
            out["object"] = order_id or self.object
        if self.object_parameters is not None:
            out["object_parameters"] = _wire(self.object_parameters, decimals)
        if self.object_type is not None:
            out["object_type"] = self.object_type
        if self.amount is not None:
            cents = self.amount.quantize(CENTS, rounding=ROUND_HALF_UP)
            out["amount"] = _number(cents, decimals)
        if self.currency is not None:
            out["currency"] = self.currency
        out["tracked_at"] = iso_utc(self.tracked_at)
        out["metadata"] = {**self.metadata, ID_KEY: self.id}
        return out

    def body(self, *, profile: str | None = None, order_id: str | None = None) -> dict[str, Any]:
        """The JSON body as a dict (for `json=`). `profile` is the phone's (or e-mail's)
        resolved profile id; `phone` and `email` themselves are never sent. Amounts are floats
        equal to their 2-place value. `order_id`: the Hellotext id of the event's order."""
        return self._body(profile, None, order_id)

    def body_json(self, *, profile: str | None = None, order_id: str | None = None) -> bytes:
        """The same body as UTF-8 JSON with every Decimal written exactly (`89.90`)."""
        decimals: list[Decimal] = []
        body = self._body(profile, decimals, order_id)
        text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        marker = json.dumps(_PLACEHOLDER)[:-1]
        for index, value in enumerate(decimals):
            text = text.replace(f'{marker}{index}\\u0000"', format(value, "f"), 1)
        return text.encode("utf-8")

    # --- storage --------------------------------------------------------------------------

    def to_json(self) -> str:
        # Top-level None fields are left out (they are the defaults); None inside metadata stays.
        return self.model_dump_json(exclude_none=True)

    @classmethod
    def from_json(cls, text: str) -> Event:
        # Still validated (a hand-edited row must not reach the wire); only the walk looking
        # for tagged Decimals is skipped when there are none (the claim path's main cost).
        context = _STORED_TAGGED if _DECIMAL_TAG in text else _STORED_UNTAGGED
        return cls.model_validate_json(text, context=context)
