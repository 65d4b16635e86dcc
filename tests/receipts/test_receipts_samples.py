"""The demo receipts bundled in agent/samples (what `hellotext-agent parse` shows a new
installer) read as the demo script expects."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import pytest

from agent.daemon.ocr import ocr_document, tesseract_problem
from agent.receipts import GENERIC, Coupon, Receipt, extract
from drivers.escpos.select import decode_all  # auto: the Star sample too

LANGUAGES = "spa+por+eng"

SAMPLES = Path(__file__).resolve().parents[2] / "agent" / "samples"


def read(name: str) -> Receipt:
    docs = [doc for doc in decode_all((SAMPLES / name).read_bytes()) if doc.has_content]
    assert len(docs) == 1
    doc = docs[0]
    if doc.has_raster:  # printed as a picture: read as the daemon does, by OCR
        problem = tesseract_problem(LANGUAGES)
        if problem:
            pytest.skip(f"{name} is a raster receipt: {problem}")
        doc = ocr_document(doc, languages=LANGUAGES, timeout=30)
    return extract(doc, template=GENERIC, country="UY", currency="UYU")


@pytest.mark.parametrize("path", sorted(SAMPLES.glob("*.bin")), ids=lambda p: p.name)
def test_every_sample_reads_and_adds_up(path: Path) -> None:
    receipt = read(path.name)
    assert receipt.ok and receipt.reconciled and receipt.warnings == ()


def test_clothing_sample_has_its_coupon_and_the_whatsapp_customer() -> None:
    receipt = read("ropa.bin")
    assert receipt.coupons == (Coupon("VERANO10", D(100)),)
    assert receipt.customer.phone == "+59899123456"


def test_refund_and_supermarket_samples_carry_the_customer_phone() -> None:
    refund = read("devolucion.bin")
    assert refund.kind == "refund" and refund.customer.phone == "+59894555010"
    market = read("supermercado.bin")
    assert market.customer.phone == "+59894555010"
    assert [(line.description, line.amount) for line in market.lines] == [
        ("Yerba Canarias 1kg", D("490.00")),
        ("Café molido 250g", D("189.90")),
        ("Bananas Ecuador", D("67.43")),
    ]


def test_star_sample_has_its_line_discount_and_the_delivery_phone() -> None:
    receipt = read("star.bin")
    wine = receipt.lines[0]
    assert (wine.description, wine.amount, wine.discount) == ("Vino tinto", D(675), D(225))
    assert receipt.total == D(735) and receipt.customer.phone == "+59899876543"
