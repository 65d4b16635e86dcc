"""The stand-in checks coupons, refunds, built-in actions, products and orders as Hellotext's
help describes them (issue 23), so a payload that drifts fails here first."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from agent.standin.server import FakeHellotext

TOKEN = "objects-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
WHEN = "2026-11-26T10:00:00-03:00"


@pytest.fixture
def fake() -> Iterator[FakeHellotext]:
    with FakeHellotext(token=TOKEN, seed=3) as server:
        yield server


@pytest.fixture
def client(fake: FakeHellotext) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fake.url, headers=AUTH, timeout=5) as c:
        yield c


def event(action: str, **fields: Any) -> dict[str, Any]:
    return {"action": action, "session": "s-1", "tracked_at": WHEN, **fields}


def refused(answer: httpx.Response, status: int, type_: str, parameter: str) -> None:
    assert answer.status_code == status, answer.text
    assert answer.json() == {"errors": [{"type": type_, "message": answer.json()["errors"][0][
        "message"], "parameter": parameter}]}  # fmt: skip


def test_a_coupon_needs_its_code_and_the_plugins_shape_passes(client: httpx.Client) -> None:
    old = {"reference": "VERANO10", "source": "tienda_fisica", "name": "VERANO10"}
    refused(client.post("/attribution/events", json=event("coupon.redeemed",
            object_parameters=old)), 422, "parameter_missing", "code")  # fmt: skip
    plugin = {"type": "coupon", "reference": "VERANO10", "code": "VERANO10",
              "description": "Cupón VERANO10"}  # fmt: skip
    ok = client.post("/attribution/events", json=event("coupon.redeemed", object_parameters=plugin))
    assert ok.status_code == 200 and ok.json() == {"status": "received"}
    wrong_type = {**plugin, "type": "product"}
    refused(client.post("/attribution/events", json=event("coupon.redeemed",
            object_parameters=wrong_type)), 422, "object_invalid", "type")  # fmt: skip


def test_a_refund_needs_its_money_inside(client: httpx.Client) -> None:
    named = {"reference": "NC-1", "source": "tienda_fisica", "name": "Devolución NC-1"}
    refused(client.post("/attribution/events", json=event("refund.received",
            object_parameters=named)), 422, "parameter_missing", "amount")  # fmt: skip
    refund = {"reference": "NC-1", "source": "tienda_fisica", "amount": 189.9, "currency": "UYU",
              "total": {"amount": 189.9, "currency": "UYU"}}  # fmt: skip
    answer = client.post("/attribution/events", json=event("refund.received",
                         object_parameters=refund))  # fmt: skip
    assert answer.status_code == 200
    bad = {**refund, "currency": "PESOS"}
    refused(client.post("/attribution/events", json=event("refund.received",
            object_parameters=bad)), 422, "invalid", "currency")  # fmt: skip


def test_hellotexts_newer_built_in_actions_are_known(client: httpx.Client) -> None:
    for action in ("subscribed", "unsubscribed"):  # no dot, no object
        assert client.post("/attribution/events", json=event(action)).status_code == 200
    cart = event("cart.viewed", object_parameters={"reference": "c-1", "source": "app"})
    assert client.post("/attribution/events", json=cart).status_code == 200
    refused(client.post("/attribution/events", json=event("checkout.started")), 422,
            "parameter_missing", "object")  # fmt: skip


def product(client: httpx.Client, reference: str = "7730241003258") -> httpx.Response:
    return client.post("/attribution/products", json={
        "name": "Yerba 1kg", "reference": reference, "source": "tienda_fisica",
        "sku": reference, "price": {"amount": 245.0, "currency": "UYU"}})  # fmt: skip


def order(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "reference": "sale-1", "source": "tienda_fisica", "delivery": "collect",
        "items": [{"product": "7730241003258", "quantity": 2,
                   "price": {"amount": 245.0, "currency": "UYU"}}],
    }  # fmt: skip
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def test_products_are_created_once_by_reference(client: httpx.Client) -> None:
    first = product(client)
    assert first.status_code == 200 and first.json()["id"]
    refused(product(client), 422, "invalid", "reference")
    nameless = client.post("/attribution/products", json={"reference": "x", "source": "s"})
    refused(nameless, 422, "parameter_missing", "name")


def test_an_order_needs_delivery_and_known_products_and_is_made_once(
    client: httpx.Client, fake: FakeHellotext
) -> None:
    refused(client.post("/attribution/orders", json=order()), 422, "not_found", "items[0].product")
    pid = product(client).json()["id"]
    refused(client.post("/attribution/orders", json=order(delivery=None)), 422,
            "parameter_missing", "delivery")  # fmt: skip
    refused(client.post("/attribution/orders", json=order(delivery="pickup")), 422,
            "invalid", "delivery")  # fmt: skip
    half = order(items=[{"product": pid, "quantity": 0.5}])
    refused(client.post("/attribution/orders", json=half), 422, "invalid", "items[0].quantity")
    made = client.post("/attribution/orders", json=order())  # by reference; by id works too
    assert made.status_code == 200
    oid = made.json()["id"]
    assert made.json()["total"] == {"amount": 490.0, "currency": "UYU"}
    # The same reference and source again: refused, so a sale sent twice is one order.
    refused(client.post("/attribution/orders", json=order()), 422, "invalid", "reference")
    assert client.post("/attribution/orders", json=order(source="web")).status_code == 200
    assert len(fake.objects.orders) == 2
    listed = client.get("/attribution/orders", params={"page": 1}).json()["data"]
    assert [o["reference"] for o in listed] == ["sale-1", "sale-1"]
    assert client.get("/attribution/orders", params={"page": 2}).json() == {"data": []}
    assert client.get(f"/attribution/orders/{oid}").json()["reference"] == "sale-1"
    # The order event names the order by its id; an unknown id is a 404.
    confirmed = event("order.confirmed", object=oid, amount=490.0, currency="UYU")
    assert client.post("/attribution/events", json=confirmed).status_code == 200
    refused(client.post("/attribution/events", json={**confirmed, "object": "nope"}), 404,
            "not_found", "object")  # fmt: skip
    assert fake.state()["orders"] == 2 and fake.state()["products"] == 1
    fake.reset()
    assert fake.state()["orders"] == 0
