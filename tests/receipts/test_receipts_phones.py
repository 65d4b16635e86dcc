"""The customer's phone on a bare `Tel/Cel/WhatsApp:` line below the items (issue #3), while
the store's own numbers (in the header, landlines, adverts) stay out."""

from __future__ import annotations

import pytest
from escpos.printer import Dummy

from agent.receipts import GENERIC, Receipt, extract
from drivers.escpos.decoder import decode_all
from drivers.escpos.document import Document, TextLine

HEADER = "TIENDA SOL\nRUT 21.234.567.0019\n{header}\nFecha: 20/11/2026 14:25"
BODY = "Remera          990,00\nTOTAL           990,00\nEFECTIVO        990,00"


def read(text: str, country: str = "UY", currency: str = "UYU") -> Receipt:
    doc = Document(lines=[TextLine(line) for line in text.strip("\n").split("\n")])
    return extract(doc, template=GENERIC, country=country, currency=currency)


def footer(line: str, country: str = "UY") -> str | None:
    text = HEADER.format(header="Av. Italia 2345") + f"\n{BODY}\n{line}\nGracias por su compra"
    return read(text, country).customer.phone


@pytest.mark.parametrize(
    ("line", "phone"),
    [
        ("Tel: 094 555 010", "+59894555010"),
        ("WhatsApp: 099 123 456", "+59899123456"),
        ("Whats App 099 123 456", "+59899123456"),
        ("Celular: 099123456", "+59899123456"),
        ("Móvil 099 123 456", "+59899123456"),
        ("WSP: 094-555-010", "+59894555010"),
        ("Teléfono: +598 94 555 010", "+59894555010"),
    ],
)
def test_a_mobile_on_a_bare_phone_line_after_the_payments_is_the_customer(
    line: str, phone: str
) -> None:
    assert footer(line) == phone


@pytest.mark.parametrize(
    "line",
    [
        "Tel: 2901 1234",  # a landline below the items is the store's
        "Pedidos por WhatsApp 099 123 456",  # an advert: the label does not open the line
        "Seguinos en WhatsApp: 099 123 456",
        "WhatsApp: 099 123 456 - pedidos",  # more than a number after the label
    ],
)
def test_store_numbers_in_the_footer_are_not_the_customer(line: str) -> None:
    assert footer(line) is None


@pytest.mark.parametrize("line", ["Tel: 094 555 010", "WhatsApp: 099 123 456"])
def test_the_same_lines_in_the_store_header_are_not_the_customer(line: str) -> None:
    assert read(HEADER.format(header=line) + "\n" + BODY).customer.phone is None


def test_an_argentine_cel_without_the_9_is_a_mobile_and_a_tel_is_not() -> None:
    assert footer("Cel: 11 4321-0987", "AR") == "+5491143210987"
    assert footer("Tel: 11 4321-0987", "AR") is None  # could be the store's landline


def test_a_customer_label_still_opens_the_block() -> None:
    assert footer("Cliente Tel: 094 555 010") == "+59894555010"
    assert footer("Cliente: Juana\nTel: 2901 1234") == "+59829011234"  # labelled: a landline


def test_printed_by_a_pos_through_the_decoder() -> None:
    p = Dummy()
    p.set(align="center", bold=True)
    p.text("MODA SOL\nWhatsApp: 098 765 432\n")
    p.set(align="left", bold=False)
    p.text("Remera algodón M                    990,00\n")
    p.text("TOTAL                               990,00\n")
    p.text("TARJETA CREDITO                     990,00\n")
    p.text("WhatsApp: 099 123 456\n")
    p.cut()
    docs = [doc for doc in decode_all(p.output) if doc.has_content]
    receipt = extract(docs[0], template=GENERIC, country="UY", currency="UYU")
    assert receipt.customer.phone == "+59899123456"  # the footer line, not the header one
