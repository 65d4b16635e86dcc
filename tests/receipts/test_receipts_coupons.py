"""Coupon codes printed after the label with no colon: the code, never the label word."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from agent.receipts import GENERIC, Coupon, Receipt, extract
from drivers.escpos.document import Document, TextLine


def read(text: str) -> Receipt:
    doc = Document(lines=[TextLine(line) for line in text.strip("\n").split("\n")])
    return extract(doc, template=GENERIC, country="UY", currency="UYU")


@pytest.mark.parametrize(
    ("label", "code"),
    [
        ("CUPON VERANO10", "VERANO10"),
        ("CUPÓN VERANO10", "VERANO10"),
        ("VOUCHER ABC123", "ABC123"),
        ("Cupón de descuento VERANO10", "VERANO10"),
        ("CUPON DE DESCUENTO VERANO", "VERANO"),
        ("Cupón: hola2026", "HOLA2026"),
    ],
)
def test_the_code_after_the_label_is_the_coupon(label: str, code: str) -> None:
    receipt = read(f"""
Remera                  1.000,00
SUBTOTAL                1.000,00
{label:<28}-100,00
TOTAL                     900,00
""")
    assert receipt.coupons == (Coupon(code, D(100)),)
    assert receipt.total == D(900) and receipt.reconciled


def test_a_code_printed_on_its_own_line_above_the_amount() -> None:
    receipt = read("""
Remera                  1.000,00
SUBTOTAL                1.000,00
CUPON VERANO10
DESCUENTO                 -100,00
TOTAL                     900,00
""")
    assert receipt.coupons == (Coupon("VERANO10", D(100)),)


def test_a_code_that_is_a_discount_word_is_still_read_when_nothing_else_is() -> None:
    receipt = read("Remera   1.000,00\nCUPON PROMO   -100,00\nTOTAL   900,00")
    assert receipt.coupons == (Coupon("PROMO", D(100)),)
