"""Sale assembly and the events of a sale: pure code, literal receipts and scans."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from agent.receipts import Coupon, Customer, Payment, Receipt, ReceiptLine
from agent.sales.checkout import Checkout, ScannedCode, occurred_at, slug
from agent.sales.events import SalePolicy, events_for_sale
from drivers.scanners.barcodes import (
    CustomerPhone,
    CustomerSession,
    LoyaltyCard,
    Product,
    Unknown,
    VariableMeasure,
)
from drivers.scanners.base import Scan

ZONE = ZoneInfo("America/Montevideo")
NOW = datetime(2026, 11, 21, 13, 30, tzinfo=UTC).timestamp()
POLICY = SalePolicy(
    store_id="tienda-1",
    currency="UYU",
    source="tienda_fisica",
    payment_action="tienda_fisica.pago",
    unidentified="session",
)


def line(
    description: str,
    amount: str,
    quantity: str = "1",
    code: str | None = None,
    unit_price: str | None = None,
) -> ReceiptLine:
    return ReceiptLine(
        description,
        Decimal(quantity),
        Decimal(unit_price) if unit_price else None,
        Decimal(amount),
        code,
    )


def receipt(
    *lines: ReceiptLine,
    kind: str = "sale",
    number: str | None = "0001-00000010",
    total: str = "100.00",
    phone: str | None = None,
    coupons: tuple[Coupon, ...] = (),
) -> Receipt:
    return Receipt(
        kind=kind,  # type: ignore[arg-type]
        number=number,
        issued_at=datetime(2026, 11, 21, 10, 15),
        currency="UYU",
        lines=tuple(lines),
        subtotal=None,
        discount=Decimal(0),
        tax=Decimal(0),
        total=Decimal(total),
        payments=(Payment("efectivo", Decimal(total)),),
        coupons=coupons,
        customer=Customer(phone=phone),
        warnings=(),
        reconciled=True,
    )


def scan(code: str, at: float = NOW - 30) -> Scan:
    return Scan(code=code, symbology=None, at=at)


def test_a_session_qr_scanned_at_the_till_identifies_the_sale() -> None:
    checkout = Checkout("caja-1")
    checkout.add_scan(scan("x"), CustomerSession("x", "s_abc"))
    sale = checkout.complete(receipt(line("Yerba", "100.00")), now=NOW, text="t", local_zone=ZONE)
    events = events_for_sale(sale, POLICY).events
    assert {e.session for e in events} == {"s_abc"}
    assert all(e.profile is None and e.phone is None for e in events)


def test_a_scanned_phone_beats_the_printed_one_and_scans_are_used_once() -> None:
    checkout = Checkout("caja-1")
    checkout.add_scan(scan("tel:+59899123456"), CustomerPhone("tel:+59899123456", "+59899123456"))
    first = checkout.complete(
        receipt(line("A", "100.00"), phone="+59894555010"), now=NOW, text="1", local_zone=ZONE
    )
    second = checkout.complete(
        receipt(line("B", "100.00"), phone="+59894555010"), now=NOW + 60, text="2", local_zone=ZONE
    )
    assert first.identity.phone == "+59899123456"
    assert second.identity.phone == "+59894555010"  # the scan belonged to the first sale only


def test_scans_older_than_the_window_are_forgotten() -> None:
    checkout = Checkout("caja-1", window_seconds=600)
    checkout.add_scan(scan("q", at=NOW - 601), CustomerSession("q", "s_old"))
    sale = checkout.complete(receipt(line("A", "100.00")), now=NOW, text="t", local_zone=ZONE)
    assert sale.identity.session is None
    events = events_for_sale(sale, POLICY).events
    # An anonymous session shaped like Hellotext's (a UUID), derived from the sale: the same
    # receipt seen again gets the same one.
    assert {e.session for e in events} == {str(uuid.UUID(events[0].session or ""))}
    again = events_for_sale(sale, POLICY).events
    assert again[0].session == events[0].session


def test_scanned_codes_fill_lines_only_when_they_match_one_to_one() -> None:
    checkout = Checkout("caja-1")
    checkout.add_scan(scan("7730241003258"), Product("7730241003258", "07730241003258"))
    checkout.add_scan(
        scan("2000123067438"), VariableMeasure("2000123067438", "00123", Decimal("67.43"), None)
    )
    checkout.add_scan(scan("7790070410115"), Product("7790070410115", "07790070410115"))
    sale = checkout.complete(
        receipt(
            line("Yerba", "245.00", code="7730241003258"),
            line("Leche", "52.00"),
            line("Bananas", "67.43", quantity="0.75"),
        ),
        now=NOW,
        text="t",
        local_zone=ZONE,
    )
    codes = [(s.code, s.code_from_scan) for s in sale.lines]
    assert codes == [("7730241003258", False), ("00123", True), ("7790070410115", True)]
    assert sale.lines[1].scale_price == Decimal("67.43")
    leche = events_for_sale(sale, POLICY).events[2]
    assert leche.metadata["scale_price"] == "67.43"

    ambiguous = Checkout("caja-1")
    ambiguous.add_scan(scan("7790070410115"), Product("7790070410115", "07790070410115"))
    sale = ambiguous.complete(
        receipt(line("Leche", "52.00"), line("Pan", "48.00")), now=NOW, text="t", local_zone=ZONE
    )
    assert [s.code for s in sale.lines] == [None, None]
    assert sale.notes and "not matched" in sale.notes[0]


def test_events_of_a_sale_have_amounts_products_and_stable_ids() -> None:
    r = receipt(
        line(
            "Yerba Canarias 1kg", "490.00", quantity="2", code="7730241003258", unit_price="245.00"
        ),
        line("Café molido", "189.90"),
        total="629.90",
        coupons=(Coupon("VERANO10", Decimal("50.00")),),
        phone="+59894555010",
    )
    sale = Checkout("caja-1").complete(r, now=NOW, text="t", local_zone=ZONE)
    events = events_for_sale(sale, POLICY).events
    assert [e.action for e in events] == [
        "tienda_fisica.pago",
        "product.purchased",
        "product.purchased",
        "coupon.redeemed",
    ]
    payment, yerba, cafe, coupon = events
    assert payment.amount == Decimal("629.90") and payment.currency == "UYU"
    # A custom action goes without an object (Hellotext would want object_type with one);
    # the wire time is ISO 8601 in UTC with its Z.
    assert payment.object is None and payment.object_parameters is None
    assert json.loads(payment.body_json(profile="p"))["tracked_at"] == "2026-11-21T13:15:00Z"
    assert payment.tracked_at == datetime(2026, 11, 21, 13, 15, tzinfo=UTC)  # 10:15 UY time
    assert payment.metadata["receipt_number"] == "0001-00000010"
    assert payment.metadata["payment_methods"] == "efectivo"
    assert payment.metadata["item_count"] == 2
    assert yerba.object_parameters == {
        "name": "Yerba Canarias 1kg",
        "reference": "7730241003258",
        "source": "tienda_fisica",
        "price": {"amount": Decimal("245.00"), "currency": "UYU"},
        "sku": "7730241003258",
    }
    assert yerba.amount is None and yerba.metadata["quantity"] == "2"  # revenue on the payment
    assert cafe.object_parameters is not None
    assert cafe.object_parameters["reference"] == "cafe-molido"
    assert coupon.object_parameters is not None
    assert coupon.object_parameters["reference"] == "VERANO10"
    assert {e.phone for e in events} == {"+59894555010"}
    again = events_for_sale(
        Checkout("caja-1").complete(r, now=NOW + 999, text="t", local_zone=ZONE), POLICY
    )
    assert [e.id for e in again.events] == [e.id for e in events]
    other_till = events_for_sale(
        Checkout("caja-2").complete(r, now=NOW, text="t", local_zone=ZONE), POLICY
    )
    assert not {e.id for e in other_till.events} & {e.id for e in events}


def test_refund_void_and_local_policy() -> None:
    refund = Checkout("caja-1").complete(
        receipt(line("Café molido", "189.90"), kind="refund", total="189.90"),
        now=NOW,
        text="r",
        local_zone=ZONE,
    )
    events = events_for_sale(refund, POLICY).events
    assert [e.action for e in events] == ["refund.received"]
    assert events[0].object_parameters is not None
    assert events[0].object_parameters["amount"] == Decimal("189.90")

    void = Checkout("caja-1").complete(
        receipt(line("A", "100.00"), kind="void"), now=NOW, text="v", local_zone=ZONE
    )
    result = events_for_sale(void, POLICY)
    assert result.events == () and "void" in result.reason

    local = replace(POLICY, unidentified="local")
    anonymous = Checkout("caja-1").complete(
        receipt(line("A", "100.00")), now=NOW, text="a", local_zone=ZONE
    )
    assert events_for_sale(anonymous, local).hold is True
    known = Checkout("caja-1").complete(
        receipt(line("A", "100.00"), phone="+59894555010"), now=NOW, text="k", local_zone=ZONE
    )
    assert events_for_sale(known, local).hold is False


def test_loyalty_card_keeps_one_cards_visits_together() -> None:
    def sale_with_card(number: str) -> set[str | None]:
        checkout = Checkout("caja-1")
        checkout.add_scan(scan("L123"), LoyaltyCard("L123", "123"))
        sale = checkout.complete(
            receipt(line("A", "100.00"), number=number), now=NOW, text=number, local_zone=ZONE
        )
        events = events_for_sale(sale, POLICY).events
        assert events[0].metadata["loyalty_card"] == "123"
        return {e.session for e in events}

    assert sale_with_card("0001-1") == sale_with_card("0001-2")


def test_price_checker_returns_product_scans_at_once() -> None:
    checker = Checkout("consulta", price_checker=True)
    product = Product("7730241003258", "07730241003258")
    viewed = checker.add_scan(scan("7730241003258"), product)
    # The product the shopper held to the checker, with its own scan: the viewed event's source.
    assert viewed == ScannedCode(scan("7730241003258"), product)
    assert checker.add_scan(scan("zz"), Unknown("zz")) is None
    # Only the unknown code waits for a receipt; the product was handed back, not kept.
    assert [s.meaning for s in checker.pending(now=NOW)] == [Unknown("zz")]


@pytest.mark.parametrize(
    ("printed", "expected"),
    [
        (datetime(2026, 11, 21, 10, 15), datetime(2026, 11, 21, 13, 15, tzinfo=UTC)),
        (None, datetime.fromtimestamp(NOW, UTC)),  # no time printed: capture time
        (datetime(2031, 1, 1, 10, 0), datetime.fromtimestamp(NOW, UTC)),  # till clock wrong
    ],
)
def test_tracked_at_is_the_printed_time_in_the_store_zone(
    printed: datetime | None, expected: datetime
) -> None:
    r = replace(receipt(line("A", "1.00")), issued_at=printed)
    assert occurred_at(r, now=NOW, local_zone=ZONE) == expected


def test_slug_is_stable_and_ascii() -> None:
    assert slug("Café Molido 250g") == "cafe-molido-250g"
    assert slug("  ÑANDÚ  ") == "nandu"
    assert slug("***") == "item"


def test_a_customer_known_by_email_is_identified_by_it() -> None:
    from agent.receipts.model import Customer

    only_mail = replace(receipt(line("A", "100.00")), customer=Customer(email="ana@example.com"))
    sale = Checkout("caja-1").complete(only_mail, now=NOW, text="t", local_zone=ZONE)
    assert sale.identity.source == "receipt-email"
    events = events_for_sale(sale, POLICY).events
    assert all(e.email == "ana@example.com" and e.session is None for e in events)
    both = replace(only_mail, customer=Customer(phone="+59899123456", email="ana@example.com"))
    sale = Checkout("caja-1").complete(both, now=NOW, text="t2", local_zone=ZONE)
    first = events_for_sale(sale, POLICY).events[0]
    assert (first.phone, first.email) == ("+59899123456", "ana@example.com")
