"""The events of a sale delivered to the stand-in in every `[events]` setting (issue 23): the
money counted once, coupons and refunds accepted, and in the orders model one order per sale
whatever is lost on the way (a lost answer, a failure between the order and its event, the
receipt seen again)."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent.config import AgentConfig, HellotextSection, OutboxSection, SyncSection
from agent.delivery.hellotext import HellotextClient
from agent.delivery.outbox import Outbox
from agent.delivery.sync import Syncer
from agent.receipts import Coupon, Customer, Payment, Receipt, ReceiptLine
from agent.sales.checkout import Checkout
from agent.sales.events import SalePolicy, events_for_sale
from agent.standin.server import FakeHellotext

TOKEN = "orders-token"
NOW = datetime(2026, 11, 21, 13, 30, tzinfo=UTC).timestamp()
POLICY = SalePolicy(store_id="tienda-1", currency="UYU", source="tienda_fisica",
                    payment_action="tienda_fisica.pago", unidentified="session")  # fmt: skip
ORDERS = replace(POLICY, model="orders")


def receipt(number: str, *, kind: str = "sale", phone: str | None = "+59894555010",
            coupon: bool = False) -> Receipt:  # fmt: skip
    lines = (
        ReceiptLine("Yerba 1kg", Decimal(2), Decimal("245.00"), Decimal("490.00"),
                    "7730241003258"),
        ReceiptLine("Café molido", Decimal(1), None, Decimal("189.90"), None),
    )  # fmt: skip
    total = Decimal("629.90") if coupon else Decimal("679.90")
    return Receipt(
        kind=kind,  # type: ignore[arg-type]
        number=number, issued_at=datetime(2026, 11, 21, 10, 15), currency="UYU",
        lines=lines, subtotal=None, discount=Decimal(50 if coupon else 0), tax=Decimal(0),
        total=total, payments=(Payment("efectivo", total),),
        coupons=(Coupon("VERANO10", Decimal("50.00")),) if coupon else (),
        customer=Customer(phone=phone), warnings=(), reconciled=True,
    )  # fmt: skip


def sale_events(r: Receipt, policy: SalePolicy) -> list[Any]:
    sale = Checkout("caja-1").complete(r, now=NOW, text=r.number or "", local_zone=UTC)
    return list(events_for_sale(sale, policy).events)


class LoseOnce(httpx.BaseTransport):
    """The real request reaches the stand-in; the answer to the first one matching
    (method, path) is lost on the way back, as a timeout would lose it."""

    def __init__(self, method: str, path: str) -> None:
        self._real = httpx.HTTPTransport()
        self._target = (method, path)
        self.armed = True

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._real.handle_request(request)
        if self.armed and (request.method, request.url.path) == self._target:
            self.armed = False
            response.read()
            response.close()
            raise httpx.ReadTimeout("answer lost", request=request)
        return response

    def close(self) -> None:
        self._real.close()


class Rig:
    def __init__(self, tmp: Path, fake: FakeHellotext) -> None:
        self.tmp, self.fake = tmp, fake
        self.outbox = Outbox(tmp / "outbox.db", synchronous="normal")
        self.now = NOW
        self._open: list[Any] = []

    def sync(self, transport: httpx.BaseTransport | None = None) -> Any:
        config = AgentConfig(
            hellotext=HellotextSection(api_url=self.fake.url, timeout_seconds=3),
            outbox=OutboxSection(path=self.tmp / "outbox.db"),
            sync=SyncSection(concurrency=1, base_backoff_seconds=0.01, max_backoff_seconds=0.01),
        )
        client = HellotextClient(api_url=self.fake.url, token=TOKEN, transport=transport,
                                 clock=lambda: self.now)  # fmt: skip
        syncer = Syncer(self.outbox, client, config=config, rng=random.Random(1),
                        clock=lambda: self.now)  # fmt: skip
        self._open += [syncer, client]
        report = syncer.run_once()
        self.now += 60  # past any backoff
        return report

    def add(self, events: list[Any]) -> tuple[str, ...]:
        return self.outbox.add(events, now=self.now).added

    def kept_orders(self) -> list[tuple[str, str]]:
        with sqlite3.connect(self.tmp / "outbox.db") as db:
            return db.execute("SELECT key, object_id FROM objects WHERE kind = 'order'").fetchall()

    def close(self) -> None:
        for thing in self._open:
            thing.close()
        self.outbox.close()


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    with FakeHellotext(token=TOKEN, actions=("tienda_fisica.pago",)) as fake:
        made = Rig(tmp_path, fake)
        yield made
        made.close()


def amounts(fake: FakeHellotext) -> Decimal:
    return sum((Decimal(str(e["amount"])) for e in fake.events if "amount" in e), Decimal(0))


@pytest.mark.parametrize("revenue", ["payment", "products"])
def test_the_actions_model_counts_the_money_once_with_coupons_and_refunds(
    rig: Rig, revenue: str
) -> None:
    policy = replace(POLICY, revenue=revenue)
    rig.add(sale_events(receipt("0001-1", coupon=True), policy))
    rig.add(sale_events(receipt("NC-1", kind="refund"), policy))
    report = rig.sync()
    assert (report.sent, report.parked, report.retried) == (5, 0, 0), rig.outbox.list()
    actions = sorted(e["action"] for e in rig.fake.events)
    assert actions == ["coupon.redeemed", "product.purchased", "product.purchased",
                       "refund.received", "tienda_fisica.pago"]  # fmt: skip
    # Once: the paid total on the payment, or the lines' amounts (a discount on the whole
    # receipt, the coupon, is not spread over the lines).
    paid = {"payment": Decimal("629.90"), "products": Decimal("679.90")}[revenue]
    assert amounts(rig.fake) == paid, "the sale's money, once"
    carrier = "tienda_fisica.pago" if revenue == "payment" else "product.purchased"
    assert {e["action"] for e in rig.fake.events if "amount" in e} == {carrier}
    # The receipts seen again (a replay, a restart) add nothing and send nothing.
    assert rig.add(sale_events(receipt("0001-1", coupon=True), policy)) == ()
    assert rig.sync().sent == 0 and rig.fake.duplicates == 0


def test_the_orders_model_makes_one_order_then_confirms_it(rig: Rig) -> None:
    rig.add(sale_events(receipt("0001-1", coupon=True), ORDERS))
    report = rig.sync()
    assert (report.sent, report.parked) == (2, 0), rig.outbox.list()
    (order,) = rig.fake.objects.orders.values()
    assert len(rig.fake.objects.products) == 2
    assert order["delivery"] == "collect" and order["source"] == "tienda_fisica"
    assert order["total"] == {"amount": 679.9, "currency": "UYU"}  # from the items
    confirmed = [e for e in rig.fake.events if e["action"] == "order.confirmed"]
    assert len(confirmed) == 1 and confirmed[0]["object"] == order["id"]
    assert confirmed[0]["profile"] in rig.fake.profiles
    assert "product.purchased" not in {e["action"] for e in rig.fake.events}
    assert amounts(rig.fake) == Decimal("629.90")
    assert rig.kept_orders() == [(f"tienda_fisica|{order['reference']}", order["id"])]
    # A second sale with the same products creates no product again.
    rig.add(sale_events(receipt("0001-2"), ORDERS))
    assert rig.sync().sent == 1
    assert len(rig.fake.objects.orders) == 2 and len(rig.fake.objects.products) == 2


def test_a_lost_order_answer_is_reconciled_not_doubled(rig: Rig) -> None:
    rig.add(sale_events(receipt("0001-1"), ORDERS))
    lose = LoseOnce("POST", "/v1/attribution/orders")
    first = rig.sync(transport=lose)
    assert first.retried == 1 and first.maybe_delivered == 1 and not lose.armed
    assert len(rig.fake.objects.orders) == 1, "the order was made; its answer was lost"
    assert rig.fake.event_count == 0 and rig.kept_orders() == []
    second = rig.sync()
    assert second.sent == 1, rig.outbox.list()
    (order,) = rig.fake.objects.orders.values()  # refused as taken, found in the list
    assert rig.fake.objects.order_posts == 2
    assert rig.fake.events[0]["object"] == order["id"]


def test_an_order_whose_event_failed_is_reused_when_sent_again(rig: Rig) -> None:
    events = sale_events(receipt("0001-1"), ORDERS)
    (event_id,) = rig.add(events)
    lose = LoseOnce("POST", "/v1/attribution/events")
    assert rig.sync(transport=lose).retried == 1
    assert rig.fake.objects.order_posts == 1 and len(rig.kept_orders()) == 1
    assert rig.sync().sent == 1
    assert rig.fake.objects.order_posts == 1, "the kept order id was used, no second POST"
    assert rig.outbox.get(event_id) is not None


def test_a_sale_sent_again_from_a_fresh_outbox_is_still_one_order(
    rig: Rig, tmp_path: Path
) -> None:
    rig.add(sale_events(receipt("0001-1"), ORDERS))
    assert rig.sync().sent == 1
    # The same receipt from an outbox that forgot everything (a rebuilt file, another copy of
    # the agent): the stable reference makes the server refuse a second order, and the
    # event names the one that exists.
    again = Rig(tmp_path / "other", rig.fake)
    try:
        again.add(sale_events(receipt("0001-1"), ORDERS))
        assert again.sync().sent == 1
        assert rig.fake.objects.order_posts == 2 and len(rig.fake.objects.orders) == 1
        assert again.kept_orders() == rig.kept_orders()
        assert {e["object"] for e in rig.fake.events} == {rig.kept_orders()[0][1]}
    finally:
        again.close()


def test_an_order_refused_for_another_reason_is_parked_with_its_answer(rig: Rig) -> None:
    events = sale_events(receipt("0001-1"), ORDERS)
    assert events[0].order is not None
    broken = events[0].model_copy(update={"order": {**events[0].order, "delivery": "pickup"}})
    (event_id,) = rig.add([broken])
    assert rig.sync().parked == 1
    row = rig.outbox.get(event_id)
    assert row is not None and row.last_status == 422
    assert row.last_error is not None and '"parameter": "delivery"' in row.last_error
    assert rig.fake.event_count == 0 and rig.fake.objects.orders == {}


def test_a_malformed_stored_order_is_parked_and_the_queue_goes_on(rig: Rig) -> None:
    events = sale_events(receipt("0001-1"), ORDERS)
    assert events[0].order is not None
    broken = events[0].model_copy(update={"order": {"reference": "x"}})  # no items, no source
    fine = sale_events(receipt("0001-2"), ORDERS)
    rig.add([broken])
    rig.add(fine)
    report = rig.sync()
    assert (report.parked, report.sent) == (1, 1)
    assert len(rig.fake.objects.orders) == 1
