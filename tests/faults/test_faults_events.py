"""Issue 23 at the daemon: receipts printed through the tap in each `[events]` setting reach
the stand-in once each, through a restart of the service and a receipt printed again; in the
orders model no sale makes two orders."""

from __future__ import annotations

import signal
import time
from collections import Counter
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from escpos.printer import Dummy
from fake_printer import FakeTcpPrinter
from faultrig import Till, daemon_config, free_port, pos_print, run_daemon, stop_daemon, until

from agent.standin.server import FakeHellotext

ZONE = ZoneInfo("America/Montevideo")
WHEN = datetime.now(ZONE).replace(second=0, microsecond=0)


def ticket(number: int, *, coupon: bool = False, refund: bool = False) -> bytes:
    p = Dummy()
    p.charcode("CP858")
    if refund:
        p.text("NOTA DE CREDITO\n")
    p.text(f"e-Ticket 0001-{number:08d}\nFecha: {WHEN:%d/%m/%Y %H:%M}\n")
    p.text("7730241003258 Yerba 1kg\n")
    p.text("2 x 245,00".ljust(30) + "490,00".rjust(12) + "\n")
    p.text("Cafe molido 250g".ljust(30) + "189,90".rjust(12) + "\n")
    if coupon:
        p.text("CUPON VERANO10".ljust(30) + "-50,00".rjust(12) + "\n")
    total = "629,90" if coupon else "679,90"
    p.text("TOTAL".ljust(30) + total.rjust(12) + "\n")
    p.text("EFECTIVO".ljust(30) + total.rjust(12) + "\n")
    p.cut()
    return bytes(p.output)


def by_receipt(fake: FakeHellotext) -> Counter[tuple[str, str]]:
    return Counter(
        (e["metadata"].get("receipt_number", ""), e["action"]) for e in fake.events
    )


@pytest.mark.parametrize(
    ("model", "revenue"), [("actions", "payment"), ("actions", "products"), ("orders", "payment")]
)
def test_each_setting_delivers_once_through_a_restart_and_a_replayed_receipt(
    tmp_path: Path, fake: FakeHellotext, tills: list[Till], model: str, revenue: str
) -> None:
    path = tmp_path / "outbox.db"
    events = {"events": {"model": model, "revenue": revenue}}
    first = Till(tmp_path, outbox=path, fake=fake, **events)
    tills.append(first)
    first.start()
    first.print(ticket(1, coupon=True))
    first.print(ticket(2, refund=True))
    sale = ["order.confirmed"] if model == "orders" else ["tienda_fisica.pago"] + [
        "product.purchased"] * 2  # fmt: skip
    per_sale = len(sale)
    assert until(lambda: fake.event_count == per_sale + 2, 30), by_receipt(fake)
    first.stop()

    again = Till(tmp_path, outbox=path, fake=fake, **events)  # the service restarted
    tills.append(again)
    again.start()
    again.print(ticket(1, coupon=True))  # the same receipt printed again: nothing new
    again.print(ticket(3))
    assert until(lambda: fake.event_count >= 2 * per_sale + 2, 30), by_receipt(fake)
    assert again.printed_unchanged() and first.printed_unchanged()
    with_sale = {(f"0001-{n:08d}", action): count for n in (1, 3) for action, count in
                 Counter(sale).items()}  # fmt: skip
    expected = {**with_sale, ("0001-00000001", "coupon.redeemed"): 1,
                ("0001-00000002", "refund.received"): 1}  # fmt: skip
    assert dict(by_receipt(fake)) == expected and fake.duplicates == 0

    # The money of each sale counted once, on the event the setting names.
    money = [e for e in fake.events if "amount" in e]
    carriers = {"orders": {"order.confirmed"}, "payment": {"tienda_fisica.pago"},
                "products": {"product.purchased"}}[revenue if model == "actions" else model]
    assert {e["action"] for e in money} == carriers
    total = sum((Decimal(str(e["amount"])) for e in money), Decimal(0))
    lines = Decimal("679.90") * 2  # sale 1's coupon is a receipt discount, not a line's
    assert total == (lines if revenue == "products" else Decimal("629.90") + Decimal("679.90"))
    coupon = next(e for e in fake.events if e["action"] == "coupon.redeemed")
    assert coupon["object_parameters"]["code"] == "VERANO10"
    refund = next(e for e in fake.events if e["action"] == "refund.received")
    assert refund["object_parameters"]["amount"] == 679.9
    if model == "orders":
        orders = fake.objects.orders
        assert len(orders) == 2 and fake.objects.order_posts == 2, "one order per sale, ever"
        confirmed = [e["object"] for e in fake.events if e["action"] == "order.confirmed"]
        assert sorted(confirmed) == sorted(orders)


@pytest.mark.slow  # two daemon starts and a second-long pause per request: ~25 s
def test_a_daemon_killed_while_creating_the_order_makes_no_second_order(
    tmp_path: Path, fake: FakeHellotext
) -> None:
    """SIGKILL once the stand-in has made the order and before the agent has its answer;
    the restarted daemon finds the order the reference names instead of making another."""
    printer = FakeTcpPrinter().start()
    port = free_port()
    config = daemon_config(tmp_path, outbox=tmp_path / "outbox.db", runtime=tmp_path / "run",
                           api_url=fake.url, port=port, printer=printer.target,
                           extra='[events]\nmodel = "orders"\n')  # fmt: skip
    log = tmp_path / "daemon.log"
    fake.set_faults(delay=1.0)  # each request waits a second before it is processed
    daemon = run_daemon(config, log)
    try:
        pos_print(port, ticket(1))
        # Both products made: the order's request comes next, still asleep in its delay;
        # from now on an answer leaves the stand-in one byte a second.
        assert until(lambda: len(fake.objects.products) == 2, 40), log.read_text()[-2000:]
        fake.set_faults(trickle_seconds=1.0)
        assert until(lambda: fake.objects.order_posts >= 1, 10)
        daemon.send_signal(signal.SIGKILL)  # the order exists; its id is still on the wire
        daemon.wait(15)
        fake.set_faults(delay=0, trickle_seconds=0)
        assert fake.event_count == 0 and len(fake.objects.orders) == 1
        daemon = run_daemon(config, log)
        assert until(lambda: fake.event_count >= 1, 40), log.read_text()[-2000:]
        pos_print(port, ticket(1))  # the receipt printed again after the restart
        pos_print(port, ticket(3))
        assert until(lambda: fake.event_count >= 2, 40)
        time.sleep(1.0)  # a second order or event, if any, would arrive by now
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(15) == 0
    finally:
        stop_daemon(daemon, printer)
    assert len(fake.objects.orders) == 2, "one order per sale"
    confirmed = [e["object"] for e in fake.events if e["action"] == "order.confirmed"]
    assert sorted(confirmed) == sorted(fake.objects.orders), "each confirmed once, its own"
    assert "existed already" in log.read_text(), "the lost answer's order was found again"
