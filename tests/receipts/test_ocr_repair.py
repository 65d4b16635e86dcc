"""Amounts OCR misread (6 for 8, 3 for 8, ...) are put right by the receipt's own arithmetic,
only when exactly one fix makes it hold; a receipt printed as text is never changed."""

from __future__ import annotations

from decimal import Decimal

from agent.receipts import GENERIC, Receipt, extract
from agent.receipts.ocr_repair import variants
from drivers.escpos.document import Document, TextLine

HEAD = ["FARMACIA SAN MARTIN", "Ticket 007002", "Fecha: 09/11/2026 21:59"]


def receipt(body: list[str], *, ocr: bool = True) -> Receipt:
    lines = [TextLine(text, confidence=0.8 if ocr else None) for text in [*HEAD, *body]]
    return extract(Document(lines=lines, ocr=ocr), template=GENERIC, country="AR",
                   currency="ARS")


def amounts(read: Receipt) -> list[Decimal]:
    return [line.amount for line in read.lines]


def test_a_quantity_line_that_does_not_multiply_out_gets_its_one_fix() -> None:
    read = receipt(["Paracetamol 500mg", "  3 x 148,77          448,31",
                    "Cerveza Pilsen                643,90", "TOTAL $        1090,21"])
    assert amounts(read) == [Decimal("446.31"), Decimal("643.90")]
    assert read.reconciled and read.lines[0].unit_price == Decimal("148.77")


def test_of_two_equal_fixes_the_total_chooses() -> None:
    # 2 x 633,18 = 1266,36 and 2 x 633,19 = 1266,38 are both three digits away from what
    # OCR read; only the first adds up to the printed total
    body = ["Tomate perita", "  2x 833,18              1268,38", "Pan flauta        40,00"]
    read = receipt([*body, "TOTAL $        1306,36"])
    assert amounts(read) == [Decimal("1266.36"), Decimal("40.00")] and read.reconciled
    unsure = receipt([*body, "TOTAL $        1300,00"])  # neither adds up: left as read
    assert amounts(unsure) == [Decimal("1268.38"), Decimal("40.00")] and not unsure.reconciled


def test_a_single_misread_item_is_found_by_the_total() -> None:
    read = receipt(["Cafe con leche        346,68", "Banana Ecuador        906,45",
                    "TOTAL $        1253,05"])
    assert amounts(read) == [Decimal("346.60"), Decimal("906.45")] and read.reconciled


def test_two_misread_items_a_digit_each_are_found_by_the_total() -> None:
    read = receipt(["Cafe con leche        346,68", "Banana Ecuador        966,45",
                    "Pan flauta        41,27", "TOTAL $        1294,32"])
    assert amounts(read) == [Decimal("346.60"), Decimal("906.45"), Decimal("41.27")]
    assert read.reconciled
    # one more line that a 6 -> 0 could also have made up the difference: left as read
    unsure = receipt(["Cafe con leche        346,68", "Banana Ecuador        966,45",
                      "Leche Conaprole 1L        761,47", "TOTAL $        2014,52"])
    assert amounts(unsure)[:2] == [Decimal("346.68"), Decimal("966.45")]
    assert not unsure.reconciled


def test_a_speck_on_the_times_sign_keeps_the_quantity_line() -> None:
    from agent.receipts.ocr_lines import Word, words_to_lines

    words = [Word("Harina", 8, 0, 72, 22, 90), Word("Canuelas", 92, 0, 96, 22, 90),
             Word("2", 32, 30, 12, 22, 90), Word("yx", 56, 30, 24, 22, 60),
             Word("787,46", 92, 30, 72, 22, 90), Word("1574,92", 440, 30, 84, 22, 90),
             Word("TOTAL", 8, 60, 60, 22, 90), Word("1574,92", 440, 60, 84, 22, 90)]
    lines = words_to_lines(words)
    assert lines[1].text.split() == ["2", "x", "787,46", "1574,92"]
    read = extract(Document(lines=lines, ocr=True), template=GENERIC, country="UY",
                   currency="UYU")
    assert [(line.description, line.quantity) for line in read.lines] == [
        ("Harina Canuelas", Decimal(2))]


def test_two_items_that_could_be_the_misread_one_are_left_alone() -> None:
    # 8 -> 0 in the cents of either line would add up: nothing says which
    read = receipt(["Cafe con leche        346,68", "Medialuna        120,18",
                    "TOTAL $        466,78"])
    assert amounts(read) == [Decimal("346.68"), Decimal("120.18")] and not read.reconciled


def test_a_text_receipt_is_never_changed() -> None:
    read = receipt(["Paracetamol 500mg", "  3 x 148,77          448,31",
                    "TOTAL $        448,31"], ocr=False)
    assert amounts(read) == [Decimal("448.31")]


def test_variants_swap_at_most_two_confusable_digits() -> None:
    found = dict(variants("68,1"))
    assert found["88,1"] == 1 and found["86,1"] == 2 and "68,7" not in found
    assert all(edits <= 2 for edits in found.values())
