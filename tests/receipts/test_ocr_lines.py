"""OCR word boxes become the lines a text receipt prints: amounts in their own column, a tall
TOTAL marked double height, each line with its confidence, placed where the picture was."""

from __future__ import annotations

from decimal import Decimal

from agent.receipts import GENERIC, extract
from agent.receipts.ocr_lines import Word, merge_ocr, words_from_data, words_to_lines
from drivers.escpos.document import Document, TextLine
from drivers.escpos.raster import RasterImage

CHAR = 12  # dots per character in these made-up boxes


def word(text: str, column: int, row: int, *, height: int = 22, conf: float = 95.0) -> Word:
    return Word(text, 8 + column * CHAR, row * 30 + (22 - height), len(text) * CHAR, height, conf)


def test_words_on_one_row_keep_the_amount_column_apart() -> None:
    words = [word("Yerba", 0, 0), word("1kg", 6, 0), word("245,00", 36, 0),
             word("Pan", 0, 1), word("40,00", 37, 1)]
    lines = words_to_lines(words)
    assert [line.text for line in lines] == [
        "Yerba 1kg" + " " * 27 + "245,00",
        "Pan" + " " * 34 + "40,00",
    ]
    assert lines[0].text.index("245,00") + 6 == lines[1].text.index("40,00") + 5  # right edges


def test_a_word_a_little_lower_is_on_the_same_line_and_order_is_by_x() -> None:
    words = [word("TOTAL", 0, 0), Word("100,00", 8 + 30 * CHAR, 5, 72, 22, 90.0), word("$", 6, 0)]
    (line,) = words_to_lines(words)
    assert line.text.split() == ["TOTAL", "$", "100,00"]


def test_tall_lines_are_double_height_and_confidence_is_the_mean() -> None:
    words = [word("Pan", 0, 0), word("40,00", 30, 0), word("Leche", 0, 1),
             word("TOTAL", 0, 2, height=40, conf=80), word("80,00", 30, 2, height=40, conf=60)]
    lines = words_to_lines(words)
    assert [line.double_height for line in lines] == [False, False, True]
    assert lines[2].confidence == 0.7 and lines[0].confidence == 0.95


def test_tesseract_rows_other_than_words_and_empty_noise_are_dropped() -> None:
    data = {
        "level": [1, 4, 5, 5, 5], "text": ["", "", "TOTAL", "  ", "~"],
        "left": [0, 0, 8, 100, 200], "top": [0, 0, 4, 4, 4], "width": [576, 576, 60, 5, 5],
        "height": [30, 30, 22, 22, 22], "conf": ["-1", "-1", "96.5", "-1", "3"],
    }
    assert words_from_data(data) == [Word("TOTAL", 8, 4, 60, 22, 96.5)]


def test_ocr_lines_go_where_the_picture_was_and_the_reader_takes_them() -> None:
    picture = RasterImage(576, 100, bytes(72 * 100), after_line=1)
    doc = Document(lines=[TextLine("SUPERMERCADO"), TextLine("Gracias")], images=[picture])
    ocr = words_to_lines([word("Pan", 0, 0), word("40,00", 37, 0),
                          word("TOTAL", 0, 1, height=36), word("40,00", 37, 1, height=36)])
    read = merge_ocr(doc, [ocr])
    assert [line.text.split()[0] for line in read.lines] == ["SUPERMERCADO", "Pan", "TOTAL",
                                                               "Gracias"]
    assert read.ocr and read.images == [picture] and read.has_raster
    receipt = extract(read, template=GENERIC, country="UY", currency="UYU")
    assert receipt.total == Decimal("40.00") and receipt.lines[0].description == "Pan"


def test_a_card_number_read_by_ocr_is_redacted_like_printed_text() -> None:
    doc = Document(images=[RasterImage(576, 60, bytes(72 * 60))])
    ocr = words_to_lines([word("VISA", 0, 0), word("4111111111111111", 6, 0),
                          word("TOTAL", 0, 1), word("40,00", 37, 1)])
    receipt = extract(merge_ocr(doc, [ocr]), template=GENERIC, country="UY", currency="UYU")
    assert "4111111111111111" not in str(receipt.to_json()) and receipt.total == Decimal("40")


def test_on_a_page_of_whole_pesos_a_misread_separator_does_not_make_cents() -> None:
    words = [word("Pan", 0, 0), word("24,310", 36, 0), word("Leche", 0, 1),
             word("18.760", 36, 1), word("TOTAL", 0, 2), word("43.070", 36, 2)]
    assert [line.text.split()[-1] for line in words_to_lines(words)] == [
        "24310", "18760", "43070"]
    # every dot read as a comma (an 8-dot ESC * picture): still pesos, not 70.74
    doc = Document(images=[RasterImage(576, 60, bytes(72 * 60))])
    ocr = words_to_lines([word("RUT", 0, 0), word("12.345.678-9", 6, 0),  # the store's, on top
                          word("Fecha:", 0, 1), word("07/12/2026", 8, 1),  # then the sale's date
                          word("Medialuna", 0, 2), word("70,740", 36, 2),
                          word("TOTAL", 0, 3), word("70,740", 36, 3)])
    assert "12.345.678-9" in ocr[0].text  # glued to more: not an amount
    receipt = extract(merge_ocr(doc, [ocr]), template=GENERIC, country="CL", currency="CLP")
    assert receipt.total == Decimal("70740") and receipt.lines[0].amount == Decimal("70740")
    with_cents = [word("Pan", 0, 0), word("24,310", 36, 0), word("TOTAL", 0, 1),
                  word("1.135,27", 34, 1)]  # cents on the page: 24,310 is not ours to judge
    assert words_to_lines(with_cents)[0].text.endswith("24,310")
