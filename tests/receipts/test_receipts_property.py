"""Property: any basket printed in any of the store layouts is read back exactly: the same
lines (description, quantity, unit price, amount, code, unit) and the same total."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.receipts import GENERIC, Coupon, Payment, extract
from agent.receipts.numbers import fold
from agent.receipts.templates import GENERIC_LABELS, GENERIC_PAYMENTS
from drivers.escpos.decoder import decode_all
from tests.receipt_layouts import (
    COUNTRY,
    CURRENCY,
    LAYOUTS,
    Item,
    clothing,
    ean13,
    expected_lines,
    supermarket,
)

# A product called "Descuento" or "Total" is ambiguous for people too: keep label words out.
RESERVED = {
    word
    for table in (GENERIC_LABELS, GENERIC_PAYMENTS)
    for labels in table.values()
    for label in labels.split("|")
    for word in label.split()
} | {"kgs", "kilo", "kilos", "uds", "unid", "uni", "und", "pza", "pzas", "grs", "lts"}
VOCABULARY = [
    "Café", "Azúcar", "Leche", "Jamón", "Ñoquis", "Té", "Limón", "Pañales", "Champú",
    "Atún", "Galletas", "Maní", "Güisqui", "Crema", "Arroz", "Aceite", "Manzana", "1kg",
    "500g", "Camisa", "Pantalón", "Vestido", "Medialuna", "Cortado", "Ibuprofeno", "María",
]  # fmt: skip
WORD = st.one_of(
    st.sampled_from(VOCABULARY),
    st.text(alphabet="abcdefghijlmnoprstuvzáéíóúñü", min_size=3, max_size=9).map(str.capitalize),
).filter(lambda word: fold(word) not in RESERVED)
DESCRIPTION = st.lists(WORD, min_size=1, max_size=3).map(" ".join).filter(lambda d: len(d) <= 24)


def cents(low: int, high: int) -> st.SearchStrategy[Decimal]:
    return st.integers(low, high).map(lambda n: Decimal(n) / 100)


@st.composite
def items(draw: st.DrawFn, layout: str) -> Item:
    description = draw(DESCRIPTION)
    if layout == "cafe":
        price = Decimal(draw(st.integers(1, 999)) * 10)
        return Item(description, price, Decimal(draw(st.integers(1, 6))))
    price = draw(cents(50, 999_999))
    if layout == "supermarket":
        if draw(st.booleans()):
            weight = Decimal(draw(st.integers(5, 5000))) / 1000
            plu = str(draw(st.integers(1000, 9999)))
            return Item(description, price, weight, plu, weighed=True)
        code = draw(st.none() | st.integers(0, 10**9 - 1).map(lambda n: ean13(f"773{n:09d}")))
        return Item(description, price, Decimal(draw(st.integers(1, 12))), code)
    return Item(description, price, Decimal(draw(st.integers(1, 9))))


@dataclass(frozen=True)
class Job:
    layout: str
    basket: list[Item]
    discount_pct: int = 0  # clothing
    coupon: tuple[str, Decimal] | None = None  # clothing
    tendered_extra: Decimal = Decimal(0)  # supermarket: cash handed over beyond the total

    def print(self) -> bytes:
        if self.layout == "clothing":
            return clothing(self.basket, discount_pct=self.discount_pct, coupon=self.coupon)
        if self.layout == "supermarket":
            return supermarket(self.basket, paid=self.subtotal() + self.tendered_extra)
        return LAYOUTS[self.layout](self.basket)

    def subtotal(self) -> Decimal:
        cents = self.layout != "cafe"
        return sum((item.amount(cents=cents) for item in self.basket), Decimal(0))

    def discount(self) -> Decimal:
        off = (self.subtotal() * self.discount_pct / 100).quantize(
            Decimal("0.01"), rounding=ROUND_HALF_UP
        )
        return off + (self.coupon[1] if self.coupon else 0)

    def total(self) -> Decimal:
        return self.subtotal() - self.discount()


@st.composite
def jobs(draw: st.DrawFn) -> Job:
    layout = draw(st.sampled_from(sorted(LAYOUTS)))
    basket = draw(st.lists(items(layout), min_size=1, max_size=8))
    if layout == "clothing":
        job = Job(layout, basket, discount_pct=draw(st.integers(0, 30)))
        code = draw(st.from_regex(r"[A-Z]{4,8}[0-9]{0,3}", fullmatch=True))
        amount = draw(cents(100, 5000))
        if draw(st.booleans()) and job.total() > amount:
            job = Job(layout, basket, job.discount_pct, (code, amount))
        return job
    if layout == "supermarket":
        return Job(layout, basket, tendered_extra=draw(cents(0, 100_000)))
    return Job(layout, basket)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(jobs())
def test_random_baskets_are_read_back_exactly(job: Job) -> None:
    docs = [doc for doc in decode_all(job.print()) if doc.has_content]
    assert len(docs) == 1
    receipt = extract(
        docs[0], template=GENERIC, country=COUNTRY[job.layout], currency=CURRENCY[job.layout]
    )
    got = [
        (line.description, line.quantity, line.unit_price, line.amount, line.code, line.unit)
        for line in receipt.lines
    ]
    assert got == expected_lines(job.layout, job.basket)
    assert receipt.total == job.total()
    assert receipt.discount == job.discount()
    assert receipt.coupons == ((Coupon(*job.coupon),) if job.coupon else ())
    if job.layout == "supermarket":  # cash: the amount handed over, change not deducted
        assert receipt.payments == (Payment("efectivo", job.total() + job.tendered_extra),)
    else:
        assert [p.amount for p in receipt.payments] == [job.total()]
    assert receipt.reconciled, receipt.warnings

CARD = "4111 1111 1111 1111"
LINE = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=60)
# Lines made of what receipts are made of: digits, separators, signs and a few labels.
RECEIPTISH = st.lists(
    st.sampled_from(["TOTAL", "IVA", "x", "kg", "$", "-", "(", ")", "%", " ", "  ", "DESC"])
    | st.from_regex(r"[0-9]{1,25}([.,][0-9]{1,4})?", fullmatch=True),
    max_size=12,
).map("".join)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(LINE | RECEIPTISH, max_size=30),
    st.integers(0, 30),
    LINE.filter(lambda text: not text[-1:].isdigit()),
    LINE.filter(lambda text: not text[:1].isdigit()),
)
def test_any_text_is_read_without_error_and_without_card_numbers(
    lines: list[str], where: int, before: str, after: str
) -> None:
    from drivers.escpos.document import Document, TextLine

    # The card is printed among random text, right next to whatever comes before and after
    # (other than more digits: a longer digit string is not this card number).
    lines.insert(min(where, len(lines)), f"{before}{CARD}{after}")
    doc = Document(lines=[TextLine(line) for line in lines])
    receipt = extract(doc, template=GENERIC, country="UY", currency="UYU")
    assert "4111111111111111" not in repr(receipt.to_json()).replace(" ", "")


# The two captures that are receipts; the others are feature demos (barcodes, images, code
# pages, sizes) in which a reader must find no sale at all. The Korean café's text is
# mojibake (CP949 stored double-encoded): it must yield no lines rather than wrong ones.
RECEIPT_CAPTURES = {"escpos-php-receipt-with-logo.bin"}
GARBLED_CAPTURES = {"escp-receipts-korean-cafe.bin"}


def test_every_real_capture_is_read_without_error(escpos_fixtures: Path) -> None:
    paths = sorted(escpos_fixtures.glob("*.bin"))
    names = {p.name for p in paths}
    assert len(paths) >= 13 and names >= RECEIPT_CAPTURES | GARBLED_CAPTURES, "captures missing"
    for path in paths:
        docs = [doc for doc in decode_all(path.read_bytes()) if doc.has_content]
        assert docs, f"{path.name}: nothing decoded"
        receipts = [extract(doc, template=GENERIC, country="UY", currency="UYU") for doc in docs]
        if path.name in RECEIPT_CAPTURES:
            assert all(r.lines for r in receipts), f"{path.name}: its items were not read"
        elif path.name in GARBLED_CAPTURES:
            assert [(r.lines, r.total) for r in receipts] == [((), None)] * len(receipts)
            assert all("code page" in r.problem for r in receipts), path.name
        else:  # a demo page is not a sale: no invented items, totals or payments
            assert [(r.lines, r.total, r.payments) for r in receipts] == [
                ((), None, ())
            ] * len(receipts), path.name
    (logo,) = decode_all((escpos_fixtures / "escpos-php-receipt-with-logo.bin").read_bytes())
    assert extract(logo, template=GENERIC, country="UY", currency="UYU").total == Decimal("14.25")
