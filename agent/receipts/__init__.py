"""Document -> Receipt: what was sold, for how much, how it was paid and to whom. Pure.

The reader (`agent.receipts.reader`) walks the printed lines once, each taken by one rule
that `explain` reports. The generic template (`agent.receipts.templates`) reads these layouts:
description and amount; code + description then `qty x price  amount`; the Argentine
`qty x price (IVA)` above the item; columns `CANT DESCRIPCION P.U. IMPORTE` (or the
quantity after the description); weighed `0,750 kg x 120,00`. Card numbers are redacted
from every line before anything reads it, so no card number can reach a Receipt field.

Modules: `reader`, `fields`, `items`, `totals`, `model`, `templates`, `numbers`, `append` (the
`[printer.append]` block's rule). Pure: may import
agent top-level pure modules (errors, phones, redact) and drivers.escpos values; never daemon,
delivery, cli or standin.
"""

from __future__ import annotations

from agent.errors import ReceiptError
from agent.receipts import ocr_repair
from agent.receipts.garbled import is_garbled
from agent.receipts.model import (
    PAYMENT_METHODS,
    Coupon,
    Customer,
    Payment,
    Receipt,
    ReceiptLine,
)
from agent.receipts.reader import Reader
from agent.receipts.templates import GENERIC, Template, load_template
from agent.redact import redact_card_numbers
from drivers.escpos.document import Document

__all__ = [
    "GENERIC",
    "PAYMENT_METHODS",
    "Coupon",
    "Customer",
    "Payment",
    "Receipt",
    "ReceiptError",
    "ReceiptLine",
    "Template",
    "explain",
    "extract",
    "load_template",
]

_GTIN_SYMBOLOGIES = frozenset({"EAN13", "EAN8", "UPC-A", "UPCA", "UPC-E", "UPCE", "JAN", "ITF"})


def _read(doc: Document, template: Template, country: str, currency: str) -> Reader:
    codes = {b.data for b in doc.barcodes if b.symbology.upper() in _GTIN_SYMBOLOGIES}
    texts = [redact_card_numbers(line.text, item_codes=codes) for line in doc.lines]
    reader = Reader(template, country, currency)
    if is_garbled(texts):
        reader.unreadable(texts)
        return reader
    _feed(reader, doc, texts)
    if reader.kind == "sale" and reader.total_negative or reader.kind_late:
        # a refund seen only below its items (a negative TOTAL, `Refund to card`): read
        # again knowing it, so the items are its lines and not discounts
        kind = "refund" if reader.kind == "sale" else reader.kind
        reader = Reader(template, country, currency, kind=kind)
        _feed(reader, doc, texts)
    return reader


def _feed(reader: Reader, doc: Document, texts: list[str]) -> None:
    for line, text in zip(doc.lines, texts, strict=True):
        reader.feed(text, emphasized=line.bold or line.double_height)


def extract(doc: Document, *, template: Template, country: str, currency: str) -> Receipt:
    """Read one decoded print job. Pure; every text kept has had card numbers redacted."""
    receipt = _read(doc, template, country, currency).receipt()
    if doc.ocr and not receipt.reconciled:  # OCR's misread digits, checked by the arithmetic
        receipt = ocr_repair.repair(
            doc, receipt, lambda d: _read(d, template, country, currency).receipt(), country)
    return receipt


def explain(
    doc: Document, *, template: Template, country: str, currency: str
) -> list[tuple[str, str]]:
    """(printed line, rule that took it) for every line, for tuning a template on site."""
    return _read(doc, template, country, currency).trace
