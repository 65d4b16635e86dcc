"""The Event model: what Hellotext receives, what the outbox stores, what is refused."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from agent.delivery.events import Event, new_event_id, stable_event_id

MONTEVIDEO = timezone(timedelta(hours=-3))
AT = datetime(2026, 3, 14, 18, 30, 5, tzinfo=MONTEVIDEO)


def event(**fields: Any) -> Event:
    values: dict[str, Any] = {
        "id": stable_event_id("caja-1", "000123", "payment"),
        "action": "tienda_fisica.pago",
        "session": "pos-caja-1",
        "tracked_at": AT,
    }
    values.update(fields)
    return Event(**values)


def test_stable_ids_repeat_and_do_not_collide_across_part_boundaries() -> None:
    assert stable_event_id("caja-1", "123") == stable_event_id("caja-1", "123")
    assert stable_event_id("caja-1", "123") != stable_event_id("caja-11", "23")
    assert uuid.UUID(stable_event_id("x")).version == 5
    assert uuid.UUID(new_event_id()).version == 4
    assert new_event_id() != new_event_id()


def test_body_is_what_hellotext_expects() -> None:
    e = event(
        amount=Decimal("1234.5"),
        currency="uyu",
        metadata={"receipt_number": "000123", "item_count": 3, "reconciled": True},
    )
    body = e.body()
    assert body == {
        "action": "tienda_fisica.pago",
        "session": "pos-caja-1",
        "amount": 1234.5,
        "currency": "UYU",
        "tracked_at": "2026-03-14T21:30:05Z",  # 18:30 in Montevideo is 21:30 UTC
        "metadata": {
            "receipt_number": "000123",
            "item_count": 3,
            "reconciled": True,
            "agent_event_id": e.id,
        },
    }
    assert "phone" not in body and "profile" not in body
    assert json.loads(json.dumps(body)) == body  # plain JSON data, ready for httpx json=


def test_body_json_writes_money_exactly_with_two_places() -> None:
    e = event(
        amount=Decimal("89.9"),
        currency="UYU",
        object_parameters={"reference": "779", "price": {"amount": Decimal("10.50")}},
    )
    text = e.body_json().decode()
    assert '"amount":89.90' in text
    assert '"price":{"amount":10.50}' in text
    data = json.loads(text, parse_float=Decimal)
    assert data["amount"] == Decimal("89.90")
    assert data["metadata"]["agent_event_id"] == e.id


def test_amount_is_rounded_half_up_to_cents_on_the_wire_only() -> None:
    e = event(amount=Decimal("10.005"), currency="UYU")
    assert e.body()["amount"] == 10.01
    assert Event.from_json(e.to_json()).amount == Decimal("10.005")


def test_phone_is_resolved_at_send_time_and_never_sent() -> None:
    e = event(session=None, phone="+598 99 000 001")
    assert e.phone == "+59899000001"  # normalised to E.164
    body = e.body(profile="BvYeyVYz")
    assert body["profile"] == "BvYeyVYz"
    assert "phone" not in body and "session" not in body
    assert "99000001" not in e.body_json(profile="BvYeyVYz").decode()
    with pytest.raises(ValueError, match="resolved profile"):
        e.body()
    with pytest.raises(ValueError, match="only for an event identified by phone"):
        event().body(profile="BvYeyVYz")


def test_storage_round_trip_is_exact() -> None:
    e = event(
        session=None,
        profile="BvYeyVYz",
        object_parameters={
            "name": "Yerba 1kg",
            "price": {"amount": Decimal("189.90"), "currency": "UYU"},
            "categories": ["almacén", "yerba"],
            "weight": 1.25,
        },
        amount=Decimal("0"),
        currency="UYU",
        metadata={"quantity": "2", "n": 2, "ratio": 0.5, "ok": False, "none": None},
    )
    back = Event.from_json(e.to_json())
    assert back == e
    assert back.object_parameters is not None
    assert back.object_parameters["price"]["amount"] == Decimal("189.90")
    assert isinstance(back.metadata["n"], int) and isinstance(back.metadata["ok"], bool)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"action": "Tienda.Pago"}, "lowercase action"),
        ({"action": "pago"}, "lowercase action"),
        ({"currency": "XYZ", "amount": Decimal(1)}, "ISO 4217"),
        ({"currency": "UYU"}, "amount is required"),
        ({"amount": Decimal("-1")}, "greater than or equal to 0"),
        ({"amount": Decimal("NaN")}, "finite"),
        ({"tracked_at": datetime(2026, 3, 14, 18, 30)}, "timezone"),
        ({"profile": "BvYeyVYz"}, "exactly one of profile, session, phone"),
        ({"session": None}, "exactly one"),
        ({"session": None, "phone": "099000001"}, "E.164"),
        ({"session": None, "phone": "+1 23"}, "E.164"),
        ({"metadata": {"nested": {"a": 1}}}, "metadata"),
        ({"metadata": {"x": float("inf")}}, "finite number"),
        ({"metadata": {"": "x"}}, "at least 1 character"),
        ({"metadata": {"agent_event_id": "other"}}, "reserved"),
        ({"object_parameters": {"at": datetime.now(UTC)}}, "not JSON data"),
        ({"object_parameters": {"p": {"$decimal": "1"}}}, "reserved"),
        ({"id": "receipt-123"}, "UUID"),
        ({"colour": "red"}, "Extra inputs"),
    ],
)
def test_invalid_events_are_refused_on_the_way_in(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        event(**fields)


def test_tracked_at_is_normalised_to_utc_and_event_is_immutable() -> None:
    e = event()
    assert e.tracked_at == AT and e.tracked_at.tzinfo == UTC
    with pytest.raises(ValidationError):
        e.action = "other.thing"  # type: ignore[misc]


def test_milliseconds_are_kept_on_the_wire() -> None:
    e = event(tracked_at=datetime(2026, 1, 1, 0, 0, 0, 250_000, tzinfo=UTC))
    assert e.body()["tracked_at"] == "2026-01-01T00:00:00.250Z"


def test_identifiers_are_trimmed_but_customer_text_is_kept() -> None:
    e = event(session=" pos-caja-1 ", metadata={"note": "  two spaces "})
    assert e.session == "pos-caja-1"
    assert e.metadata["note"] == "  two spaces "
    with pytest.raises(ValidationError, match="at least 1 character"):
        event(session="   ")


json_leaf = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20)
json_leaf |= st.floats(allow_nan=False, allow_infinity=False)
json_leaf |= st.decimals(
    allow_nan=False, allow_infinity=False, places=2, max_value=10**9, min_value=-(10**9)
)  # noqa: E501
json_data = st.recursive(
    json_leaf,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)


@settings(max_examples=80, deadline=None)
@given(
    params=st.dictionaries(st.text(max_size=8), json_data, max_size=4),
    metadata=st.dictionaries(
        st.text(min_size=1, max_size=8).filter(lambda k: k != "agent_event_id"),
        json_leaf.filter(lambda v: not isinstance(v, Decimal)),
        max_size=4,
    ),  # noqa: E501
    amount=st.none() | st.decimals(min_value=0, max_value=10**11, places=3),
)
def test_any_valid_event_round_trips_and_both_bodies_agree(
    params: dict[str, Any], metadata: dict[str, Any], amount: Decimal | None
) -> None:
    e = event(object_parameters=params, metadata=metadata, amount=amount)
    assert Event.from_json(e.to_json()) == e
    exact = json.loads(e.body_json(), parse_float=Decimal)
    loose = e.body()
    assert json.loads(json.dumps(loose)) == json.loads(e.body_json())  # same values
    if amount is not None:
        assert exact["amount"] == amount.quantize(Decimal("0.01"), rounding="ROUND_HALF_UP")


def test_a_damaged_stored_event_is_a_validation_error() -> None:
    text = event(object_parameters={"price": Decimal("1.50")}).to_json()
    with pytest.raises(ValidationError, match="stored decimal"):
        Event.from_json(text.replace('"1.50"', '"one fifty"'))
