"""Which receipts get the [printer.append] block and what it says; the events that say so."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from agent.receipts import Payment, Receipt, ReceiptLine
from agent.receipts.append import (
    NO_NUMBER,
    NO_TEXT,
    NOT_READ,
    TOO_LONG,
    AppendRule,
    BlockPlan,
    plan_block,
)
from agent.sales.checkout import Checkout
from agent.sales.events import SalePolicy, events_for_sale

RULE = AppendRule.of("SMSTO:+59899000000:QUIERO {receipt}", ["Ticket {receipt}", "Gracias"],
                     ["sale"])
SALE = Receipt(
    kind="sale", number="A-1234567", issued_at=datetime(2026, 11, 21, 10, 15), currency="UYU",
    lines=(ReceiptLine("Yerba", Decimal(1), None, Decimal("100.00"), None),),
    subtotal=None, discount=Decimal(0), tax=Decimal(0), total=Decimal("100.00"),
    payments=(Payment("efectivo", Decimal("100.00")),), coupons=(),
)
POLICY = SalePolicy(store_id="t", currency="UYU", source="tienda_fisica",
                    payment_action="tienda_fisica.pago", unidentified="session")


def test_a_sale_gets_its_number_in_the_qr_and_the_lines() -> None:
    assert plan_block(SALE, RULE) == BlockPlan(
        ("Ticket A-1234567", "Gracias"), b"SMSTO:+59899000000:QUIERO A-1234567"
    )


def test_each_refusal_has_its_reason() -> None:
    assert plan_block(None, RULE) == NO_TEXT
    assert plan_block(replace(SALE, total=None), RULE) == NOT_READ
    assert plan_block(replace(SALE, kind="refund"), RULE) == "refund not in kinds"
    assert plan_block(replace(SALE, kind="void"), RULE) == "void not in kinds"
    assert plan_block(replace(SALE, number=None), RULE) == NO_NUMBER
    long = AppendRule.of("x" * 295 + "{receipt}", [], ["sale"])
    assert plan_block(SALE, long) == TOO_LONG


def test_without_the_placeholder_a_receipt_needs_no_number() -> None:
    rule = AppendRule.of("SMSTO:+59899000000:QUIERO", [], ["sale", "refund"])
    plan = plan_block(replace(SALE, number=None, kind="refund"), rule)
    assert plan == BlockPlan((), b"SMSTO:+59899000000:QUIERO")


def test_the_payment_event_says_the_qr_was_printed_and_only_then() -> None:
    now = datetime(2026, 11, 21, 13, 30, tzinfo=UTC).timestamp()
    sale = Checkout("caja-1").complete(SALE, now=now, text="t", local_zone=UTC)
    with_qr = events_for_sale(sale, POLICY, receipt_qr=True).events
    without = events_for_sale(sale, POLICY).events
    assert with_qr[0].action == "tienda_fisica.pago" and with_qr[0].metadata["receipt_qr"] is True
    assert all("receipt_qr" not in e.metadata for e in (*with_qr[1:], *without))
    assert [e.id for e in with_qr] == [e.id for e in without]  # same sale, same ids
