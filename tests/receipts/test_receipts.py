"""Receipts printed by python-escpos in real store layouts, decoded, then read: exact values."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal as D
from pathlib import Path

import pytest

from agent.receipts import GENERIC, Coupon, Payment, Receipt, ReceiptLine, explain, extract
from drivers.escpos.decoder import decode_all
from tests.receipt_layouts import Item, cafe, clothing, ean13, pharmacy, supermarket

YERBA = Item("Yerba Canarias 1kg", D("245.00"), D(2), ean13("773024100325"))
BANANA = Item("Banana", D("89.90"), D("0.750"), "1042", weighed=True)
LECHE = Item("Leche Conaprole", D("42.00"), code=ean13("773010000123"))
NOQUIS = Item("Ñoquis de papa", D("1234.50"))


def read(data: bytes, country: str, currency: str) -> Receipt:
    docs = [doc for doc in decode_all(data) if doc.has_content]
    assert len(docs) == 1
    return extract(docs[0], template=GENERIC, country=country, currency=currency)


def test_escpos_php_receipt_with_logo(escpos_fixtures: Path) -> None:
    data = (escpos_fixtures / "escpos-php-receipt-with-logo.bin").read_bytes()
    receipt = read(data, "UY", "UYU")
    assert [(line.description, line.amount) for line in receipt.lines] == [
        ("Example item #1", D("4.00")),
        ("Another thing", D("3.50")),
        ("Something else", D("1.00")),
        ("A final item", D("4.45")),
    ]
    assert (receipt.subtotal, receipt.tax, receipt.total) == (D("12.95"), D("1.30"), D("14.25"))
    assert receipt.reconciled and receipt.ok and receipt.warnings == ()  # tax added here
    assert receipt.issued_at == datetime(2015, 4, 6, 14, 56, 25)


def test_uruguayan_supermarket_with_weighed_items_cash_and_customer_phone() -> None:
    data = supermarket([YERBA, BANANA, LECHE, NOQUIS], paid=D(2000), customer_phone="094 555 010")
    receipt = read(data, "UY", "UYU")
    assert receipt.lines == (
        ReceiptLine("Yerba Canarias 1kg", D(2), D("245.00"), D("490.00"), "7730241003258"),
        ReceiptLine("Banana", D("0.750"), D("89.90"), D("67.43"), "1042", "kg"),
        ReceiptLine("Leche Conaprole", D(1), None, D("42.00"), "7730100001234"),
        ReceiptLine("Ñoquis de papa", D(1), None, D("1234.50")),
    )
    assert (receipt.kind, receipt.number, receipt.currency) == ("sale", "A-1234567", "UYU")
    assert receipt.issued_at == datetime(2026, 11, 20, 14, 3)
    assert (receipt.subtotal, receipt.total, receipt.tax) == (D("1833.93"),) * 2 + (D("330.71"),)
    assert receipt.payments == (Payment("efectivo", D("2000.00")),)  # change is not a payment
    assert receipt.customer.phone == "+59894555010"
    assert receipt.reconciled  # IVA INCLUIDO was not added again


def test_argentine_pharmacy_fiscal_tique_with_customer_document() -> None:
    basket = [Item("Ibuprofeno 400 x20", D("45.00"), D(2)), Item("Protector FPS50", D("12500"))]
    receipt = read(pharmacy(basket), "AR", "ARS")
    assert receipt.lines == (
        ReceiptLine("Ibuprofeno 400 x20", D(2), D("45.00"), D("90.00")),
        ReceiptLine("Protector FPS50", D(1), D("12500.00"), D("12500.00")),
    )
    assert receipt.number == "0003-00001234"
    assert receipt.issued_at == datetime(2026, 11, 20, 14, 3)
    assert receipt.customer.document == "DNI 12.345.678"
    assert receipt.customer.phone is None  # the store's CUIT is not a phone
    assert (receipt.total, receipt.tax) == (D("12590.00"), D("2185.04"))
    assert receipt.payments == (Payment("debito", D("12590.00")),)
    assert receipt.reconciled


def test_mexican_clothing_store_with_columns_discount_and_coupon() -> None:
    basket = [Item("Playera algodón", D("249.00"), D(2)), Item("Jeans slim", D("1899.50"))]
    receipt = read(clothing(basket), "MX", "MXN")
    assert receipt.lines == (
        ReceiptLine("Playera algodón", D(2), D("249.00"), D("498.00")),
        ReceiptLine("Jeans slim", D(1), D("1899.50"), D("1899.50")),
    )
    assert receipt.subtotal == D("2397.50")
    assert receipt.discount == D("239.75") + D("50.00")  # every reduction, coupon included
    assert receipt.coupons == (Coupon("VERANO10", D("50.00")),)
    assert receipt.total == D("2107.75")
    assert receipt.payments == (Payment("credito", D("2107.75")),)
    assert receipt.customer.phone == "+525587650123"
    assert (receipt.number, receipt.issued_at) == ("000123", datetime(2026, 11, 20, 18, 45, 10))
    assert receipt.reconciled


def test_chilean_cafe_without_cents() -> None:
    basket = [Item("Cortado doble", D(1900), D(2)), Item("Medialuna", D(1200)), Item("Té", D(900))]
    receipt = read(cafe(basket), "CL", "CLP")
    assert receipt.lines == (
        ReceiptLine("Cortado doble", D(2), D(1900), D(3800)),
        ReceiptLine("Medialuna", D(1), None, D(1200)),
        ReceiptLine("Té", D(1), None, D(900)),
    )
    assert (receipt.total, receipt.tax, receipt.number) == (D(5900), D(942), "4567")
    assert receipt.payments == (Payment("debito", D(5900)),)  # REDCOMPRA is a debit network
    assert receipt.reconciled  # the suggested tip is not part of the total


def test_credit_note_is_a_refund() -> None:
    receipt = read(supermarket([YERBA, LECHE], kind="refund"), "UY", "UYU")
    assert (receipt.kind, receipt.total, receipt.number) == ("refund", D("532.00"), "A-1234567")
    assert [line.description for line in receipt.lines] == ["Yerba Canarias 1kg", "Leche Conaprole"]


def test_anulado_is_a_void() -> None:
    receipt = read(supermarket([YERBA], kind="void"), "UY", "UYU")
    assert receipt.kind == "void" and receipt.ok


def test_explain_names_the_rule_for_every_line() -> None:
    doc = decode_all(supermarket([YERBA, BANANA]))[0]
    steps = explain(doc, template=GENERIC, country="UY", currency="UYU")
    trace = {" ".join(text.split()): rule for text, rule in steps}
    assert trace["7730241003258 Yerba Canarias 1kg"] == "item description"
    assert trace["0,750 kg x 89,90 67,43"] == "item quantity x price"
    assert trace["IVA INCLUIDO 22% 100,52"] == "tax (included)"
    assert trace["SU VUELTO 0,00"] == "change"
    assert len(steps) == len(doc.lines) and all(rule for _, rule in steps)


@pytest.mark.parametrize("country", ["UY", "AR", "MX"])
def test_a_card_number_in_any_line_never_reaches_the_receipt(country: str) -> None:
    from drivers.escpos.document import Document, TextLine

    lines = [
        "Regalo 4111 1111 1111 1111      10,00",
        "TOTAL                           10,00",
        "VISA 4111111111111111           10,00",
        "Cliente: 4111-1111-1111-1111",
    ]
    doc = Document(lines=[TextLine(text) for text in lines])
    receipt = extract(doc, template=GENERIC, country=country, currency="UYU")
    trace = explain(doc, template=GENERIC, country=country, currency="UYU")
    assert "4111111111111111" not in str(receipt).replace(" ", "").replace("-", "")
    assert "41111111" not in "".join(text for text, _ in trace).replace(" ", "").replace("-", "")
    assert receipt.lines[0].description == "Regalo ****1111"


@pytest.mark.parametrize(
    ("data", "accented", "euro", "images", "qr"),
    [
        (cafe([Item("Té", D(900))]), "CAFÉ DEL ÁNGEL", True, 1, 1),  # CP858
        (clothing([Item("Jeans", D(100))]), "Envíos a España: pago en €", True, 1, 0),  # CP1252
        (pharmacy([Item("Té", D(900))]), "de Farmacéutica Güemes S.R.L.", False, 0, 1),
        (supermarket([YERBA]), "Gracias por su compra. ¡Vuelva pronto!", False, 1, 1),
    ],
)
def test_layouts_carry_accents_euro_logos_codes_and_cuts(
    data: bytes, accented: str, euro: bool, images: int, qr: int
) -> None:
    (doc,) = decode_all(data)
    assert doc.ended_by == "cut"
    assert accented in [line.text for line in doc.lines]
    assert any("€" in line.text for line in doc.lines) == euro
    assert doc.images_skipped == images and len(doc.qr_codes) == qr
    assert doc.barcodes  # every layout prints a CODE128 with the ticket number
