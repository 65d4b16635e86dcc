"""Receipts as real POS software prints them (issue 22): refunds printed as negatives, refund
words in English and Portuguese, any currency sign, customers by position. Real bytes made
with python-escpos, decoded and read as the daemon does."""

from __future__ import annotations

import logging
from decimal import Decimal as D

import pytest
from escpos.printer import Dummy

from agent.receipts import GENERIC, Receipt, extract
from drivers.escpos.select import decode_all

logging.getLogger("escpos").setLevel(logging.ERROR)


def printed(lines: list[str], *, bold: tuple[int, ...] = (), page: str = "CP858") -> bytes:
    p = Dummy()
    p.charcode(page)
    for i, line in enumerate(lines):
        p.set(bold=i in bold)
        p.text(line + "\n")
    p.cut()
    return bytes(p.output)


def read(data: bytes, country: str, currency: str) -> Receipt:
    (doc,) = decode_all(data)
    return extract(doc, template=GENERIC, country=country, currency=currency)


def amounts(receipt: Receipt) -> list[D]:
    return [line.amount for line in receipt.lines]


def test_a_refund_printed_as_the_sale_with_negative_quantities() -> None:
    receipt = read(printed([
        "ZAPATERIA CENTRAL",
        "Receipt 0042   20/11/2026 14:05",
        "------------------------------------------",
        "Zapatilla urbana 40",
        "-1 Units x 459.00                  -459.00",
        "Remera basica",
        "-1 Units x 329.00                  -329.00",
        "------------------------------------------",
        "TOTAL                              -788.00",
        "Refund to MC ****2290              -788.00",
    ], bold=(8,)), "US", "USD")
    assert receipt.kind == "refund" and receipt.total == D("788.00")
    assert [(line.description, line.amount, line.quantity) for line in receipt.lines] == [
        ("Zapatilla urbana 40", D("459.00"), D(1)), ("Remera basica", D("329.00"), D(1))]
    assert receipt.reconciled


def test_unicenta_columns_refund_with_a_signed_quantity_and_no_title() -> None:
    receipt = read(printed([
        "Receipt: 1-1042",
        "Item              Price   Qty       Value",
        "------------------------------------------",
        "Zapatilla urba  RM459.00   x-1   -RM459.00",
        "Teh tarik         RM3.50   x-2     -RM7.00",
        "------------------------------------------",
        "Total.                           -RM466.00",
    ]), "MY", "MYR")
    assert receipt.kind == "refund" and receipt.total == D("466.00")
    assert amounts(receipt) == [D("459.00"), D("7.00")]
    assert [line.quantity for line in receipt.lines] == [D(1), D(2)]
    assert receipt.currency == "MYR"


@pytest.mark.parametrize("lines, country", [
    (["RETURN RECEIPT", "Ticket 77", "Camisa 42       125.00", "TOTAL   125.00"], "US"),
    (["Merchandise Return", "Ticket 77", "Camisa 42       125.00", "TOTAL   125.00"], "US"),
    (["TROCA", "Ticket 77", "Camisa 42       125,00", "TOTAL   125,00"], "BR"),
    (["Ticket 77", "Camisa 42       125,00", "TOTAL   125,00", "Estorno cartão  -125,00"], "BR"),
    (["Ticket 77", "Camisa 42       125,00", "TOTAL   125,00", "VALOR DEVOLVIDO 125,00"], "BR"),
])
def test_refunds_in_english_and_portuguese(lines: list[str], country: str) -> None:
    receipt = read(printed(lines), country, "USD")
    assert receipt.kind == "refund" and amounts(receipt) == [D("125.00")]


def test_a_refund_told_only_by_its_payment_line_still_has_its_lines() -> None:
    receipt = read(printed([
        "Receipt 88", "Sneakers urban 40          45.50", "T-shirt basic              25.00",
        "TOTAL                      70.50", "Refund to MC ****2290     -70.50",
    ]), "US", "USD")
    assert receipt.kind == "refund" and amounts(receipt) == [D("45.50"), D("25.00")]


def test_a_returns_policy_in_the_footer_is_no_refund() -> None:
    receipt = read(printed([
        "Receipt 88", "T-shirt basic              25.00", "TOTAL                      25.00",
        "Returns accepted within 30 days",
    ]), "US", "USD")
    assert receipt.kind == "sale"


@pytest.mark.parametrize("country, currency, price, total, want", [
    ("MY", "MYR", "RM28.09", "RM56.18", "56.18"),
    ("GT", "GTQ", "Q28.09", "Q56.18", "56.18"),
    ("BO", "BOB", "28,09 Bs", "56,18 Bs", "56.18"),
    ("BO", "BOB", "28,09 BOB", "56,18 BOB", "56.18"),
    ("ID", "IDR", "Rp 28.000", "Rp 56.000", "56000"),
    ("UY", "UYU", "$U 28,09", "$U 56,18", "56.18"),
])
def test_a_currency_sign_before_or_after_every_amount(
    country: str, currency: str, price: str, total: str, want: str
) -> None:
    receipt = read(printed([
        "Ticket 1-204   20/11/2026", "Cafe con leche       " + price,
        "Pan de molde         " + price, "TOTAL                " + total,
    ]), country, "XXX")
    assert receipt.total == D(want) and len(receipt.lines) == 2, receipt.warnings
    assert receipt.reconciled and receipt.currency == currency


@pytest.mark.parametrize("country, price, total, want, currency", [
    ("JP", "¥1,100", "¥2,200", 2200, "XXX"), ("JP", "1,100円", "2,200円", 2200, "JPY"),
    # ESC R 13 (Korea) prints 0x5C as the won sign
    ("KR", "\\12,000", "\\24,000", 24000, "KRW"), ("KR", "12,000원", "24,000원", 24000, "KRW"),
])
def test_yen_and_won_amounts_in_kanji_mode(
    country: str, price: str, total: str, want: int, currency: str
) -> None:
    words = {"JP": ("カフェラテ", "合計", 8, "shift_jis"), "KR": ("카페 라떼", "합계", 13, "cp949")}
    item, label, intl, codec = words[country]
    p = Dummy()
    p._raw(bytes([0x1B, 0x52, intl, 0x1C, 0x26]))  # ESC R <country>, FS &: Kanji mode
    for line in ("Ticket 1-204", f"{item}        {price}", f"{item}        {price}",
                 f"{label}          {total}"):
        p._raw(line.encode(codec) + b"\n")
    p._raw(b"\x1c.")
    p.cut()
    receipt = read(bytes(p.output), country, "XXX")
    assert receipt.total == D(want) and [line.description for line in receipt.lines] == [item] * 2
    assert receipt.currency == currency and receipt.reconciled


def test_a_landline_under_the_customers_name_is_the_customers() -> None:
    receipt = read(printed([
        "TIENDA X", "Tel: (011) 4321-5678", "Factura B 0003-00001234  20/11/2026",
        "Juan Perez", "Av. Siempreviva 742", "Tel: 11 3333-4444", "--------------------",
        "Yerba 1kg          1.250,00", "TOTAL              1.250,00",
    ]), "AR", "ARS")
    assert receipt.customer.phone == "+541133334444"


def test_a_delivery_phone_in_an_order_block_is_the_customers() -> None:
    receipt = read(printed([
        "POLLERIA EL SOL", "Delivery cel.: 912 000 111", "Boleta B001-00012345  20/11/2026",
        "--------------------", "Pollo a la brasa      45.00", "TOTAL                 45.00",
        "", "Pedido 4521 - Delivery cel.: 912 345 678",
        "Pedidos por WhatsApp 987 654 321",
    ]), "PE", "PEN")
    assert receipt.customer.phone == "+51912345678"


@pytest.mark.parametrize("codec", ["shift_jis", "cp949", "gb18030"])
@pytest.mark.parametrize("page", ["cp858", "cp437", "cp1252"])
def test_a_cjk_receipt_read_through_the_wrong_code_page_yields_no_lines(
    codec: str, page: str
) -> None:
    lines = {"shift_jis": ["レシート: 7", "ブレンドコーヒー   440", "カフェラテ         390",
                           "合計               830"],
             "cp949": ["영수증: 7", "아메리카노    4,100", "카페 라떼    4,600",
                       "합계         8,700"],
             "gb18030": ["小票: 7", "拿铁咖啡    28.00", "美式咖啡    22.00", "合计        50.00"]}
    data = ("\n".join(lines[codec]) + "\n").encode(codec) + b"\x1dV\x00"
    (doc,) = decode_all(data, codepage=page)  # the printer is set to a CJK page, not this
    receipt = extract(doc, template=GENERIC, country="UY", currency="UYU")
    assert (receipt.lines, receipt.total) == ((), None)
    if codec != "shift_jis" or page == "cp1252":  # box-drawing glued to letters: named
        assert "code page" in receipt.problem
