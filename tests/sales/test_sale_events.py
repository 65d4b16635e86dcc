"""The events of a sale as Hellotext's own integrations shape them (issue 23): coupons by
code, refunds with their money inside, revenue counted once, a sale as an order."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal

from test_checkout import NOW, POLICY, ZONE, line, receipt, scan

from agent.delivery.events import Event
from agent.receipts import Coupon
from agent.sales.checkout import Checkout, Sale
from agent.sales.events import SalePolicy, events_for_sale
from agent.sales.orders import order_reference
from drivers.scanners.barcodes import Product, Unknown


def sale_of(r: object, *scans: tuple[str, object], text: str = "t", till: str = "caja-1") -> Sale:
    checkout = Checkout(till)
    for code, meaning in scans:
        checkout.add_scan(scan(code), meaning)  # type: ignore[arg-type]
    return checkout.complete(r, now=NOW, text=text, local_zone=ZONE)  # type: ignore[arg-type]


def money(events: list[Event]) -> Decimal:
    """What Hellotext's reports would add up: every event's amount, as sent."""
    total = Decimal(0)
    for event in events:
        profile = "p" if event.phone or event.email else None
        body = json.loads(event.body_json(profile=profile), parse_float=Decimal)
        total += body.get("amount", Decimal(0))
    return total


YERBA = line("Yerba 1kg", "490.00", quantity="2", code="7730241003258", unit_price="245.00")
CAFE = line("Café molido", "189.90")


def test_revenue_is_counted_once_on_the_payment_or_on_the_products() -> None:
    sale = sale_of(receipt(YERBA, CAFE, total="679.90", phone="+59894555010"))
    on_payment = list(events_for_sale(sale, POLICY).events)
    assert money(on_payment) == Decimal("679.90")
    payment, *products = on_payment
    assert payment.amount == Decimal("679.90") and payment.currency == "UYU"
    for product in products:  # quantities and references only
        body = json.loads(product.body_json(profile="p"))
        assert "amount" not in body and "currency" not in body
        assert body["object_parameters"]["reference"] and body["metadata"]["quantity"]
    assert products[0].metadata["quantity"] == "2"

    on_products = list(events_for_sale(sale, replace(POLICY, revenue="products")).events)
    assert money(on_products) == Decimal("679.90")
    payment, yerba, cafe = on_products
    assert payment.amount is None and payment.currency is None
    assert payment.metadata["item_count"] == 2
    assert (yerba.amount, cafe.amount) == (Decimal("490.00"), Decimal("189.90"))
    # The same ids whatever the setting: switching it never resends an old receipt.
    assert [e.id for e in on_products] == [e.id for e in on_payment]


def test_a_coupon_goes_by_its_code_as_the_plugin_sends_it_and_is_not_revenue() -> None:
    r = receipt(YERBA, total="440.00", coupons=(Coupon("VERANO10", Decimal("50.00")),))
    policy = replace(POLICY, coupon_url="https://tienda.example/cupon/{code}")
    events = events_for_sale(sale_of(r), policy).events
    coupon = [e for e in events if e.action == "coupon.redeemed"]
    assert len(coupon) == 1
    body = json.loads(coupon[0].body_json())
    assert body["object_parameters"] == {
        "type": "coupon",
        "reference": "VERANO10",
        "code": "VERANO10",
        "description": "Cupón VERANO10",
        "destination_url": "https://tienda.example/cupon/VERANO10",
    }
    assert "amount" not in body and body["metadata"]["discount"] == "50.00"
    assert money(list(events)) == Decimal("440.00")
    plain = events_for_sale(sale_of(r), POLICY).events[-1]
    assert "destination_url" not in (plain.object_parameters or {})  # optional: not invented


def test_a_coupon_line_without_a_code_takes_the_scanned_coupon_or_sends_nothing() -> None:
    r = receipt(YERBA, total="440.00", coupons=(Coupon("?", Decimal("50.00")),))
    policy = replace(POLICY, coupon_pattern=r"CUP-\d{4}")
    # Nothing readable, nothing scanned: no coupon event (Hellotext needs the code), and the
    # payment says a coupon line went unread.
    events = events_for_sale(sale_of(r), policy).events
    assert [e.action for e in events] == ["tienda_fisica.pago", "product.purchased"]
    assert events[0].metadata["coupons_unread"] == 1
    # The coupon scanned at that checkout gives the code (a product scan does not).
    scanned = sale_of(r, ("CUP-0042", Unknown("CUP-0042")), ("7730241003258",
                      Product("7730241003258", "07730241003258")))  # fmt: skip
    events = events_for_sale(scanned, policy).events
    coupon = events[-1]
    assert coupon.action == "coupon.redeemed" and coupon.object_parameters is not None
    assert coupon.object_parameters["code"] == "CUP-0042"
    assert "coupons_unread" not in events[0].metadata
    # A scanned coupon the receipt shows no coupon line for was not redeemed.
    no_line = receipt(YERBA, total="490.00")
    events = events_for_sale(sale_of(no_line, ("CUP-0042", Unknown("CUP-0042"))), policy).events
    assert "coupon.redeemed" not in [e.action for e in events]


def test_a_refund_carries_its_money_inside_the_refund_object() -> None:
    r = receipt(CAFE, kind="refund", number="NC-0001", total="189.90")
    (refund,) = events_for_sale(sale_of(r), POLICY).events
    body = json.loads(refund.body_json())
    assert body["action"] == "refund.received"
    assert body["object_parameters"] == {
        "reference": "NC-0001",
        "source": "tienda_fisica",
        "amount": 189.90,
        "currency": "UYU",
        "total": {"amount": 189.90, "currency": "UYU"},
    }
    assert b'"amount":189.90' in refund.body_json()  # written exactly
    assert "amount" not in body, "a refund is not revenue"
    orders = events_for_sale(sale_of(r), replace(POLICY, model="orders")).events
    assert [e.action for e in orders] == ["refund.received"]  # the same in the orders model


def test_a_sale_as_an_order_carries_items_and_its_money_once() -> None:
    weighed = line("Queso dambo", "232.35", quantity="0.745", unit_price="311.88")
    again = line("Yerba 1kg", "245.00", code="7730241003258", unit_price="245.00")
    r = receipt(YERBA, CAFE, weighed, again, total="1157.25", phone="+59894555010")
    policy = SalePolicy(store_id="tienda-1", currency="UYU", source="tienda_fisica",
                        payment_action="tienda_fisica.pago", unidentified="session",
                        model="orders")  # fmt: skip
    sale = sale_of(r)
    events = events_for_sale(sale, policy).events
    assert [e.action for e in events] == ["order.confirmed"], "no product.purchased with orders"
    (confirmed,) = events
    assert confirmed.amount == Decimal("1157.25") and confirmed.object is None
    order = confirmed.order
    assert order is not None
    assert order["reference"] == order_reference(sale) and order["source"] == "tienda_fisica"
    assert order["delivery"] == "collect" and order["name"] == "Ticket 0001-00000010"
    items = order["items"]
    # The yerba on two lines at one price is one item of 3; the weighed cheese is 1 at its
    # charged price (quantities must be whole).
    assert [(i["product"]["reference"], i["quantity"], i["price"]["amount"]) for i in items] == [
        ("7730241003258", 3, Decimal("245.00")),
        ("cafe-molido", 1, Decimal("189.90")),
        ("queso-dambo", 1, Decimal("232.35")),
    ]
    assert items[0]["product"] == {
        "name": "Yerba 1kg", "reference": "7730241003258", "source": "tienda_fisica",
        "price": {"amount": Decimal("245.00"), "currency": "UYU"}, "sku": "7730241003258",
    }  # fmt: skip
    # Stored and read back exactly; the wire body names the order by the id it got.
    stored = Event.from_json(confirmed.to_json())
    assert stored == confirmed
    body = json.loads(stored.body_json(profile="p", order_id="ORD1"))
    assert body["object"] == "ORD1" and "order" not in body and body["amount"] == 1157.25
    # A replayed receipt names the same order; another till's receipt another one.
    assert events_for_sale(sale_of(r), policy).events[0].order == order
    other = events_for_sale(sale_of(r, till="caja-2"), policy).events[0].order
    assert other is not None and other["reference"] != order["reference"]
