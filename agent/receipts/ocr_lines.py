"""Tesseract's word boxes -> the text lines a text receipt would have printed. Pure.

OCR gives words with boxes; the reader wants lines like `Yerba 1kg        245,00`, where a
right-aligned amount column is set apart by spaces. Words are grouped into lines by vertical
overlap (not by Tesseract's own line numbers, which split a line at a wide gap), then each
word is placed at the character column its left edge falls on, with the page's median
character width as the column width: amounts stay apart from descriptions and right-aligned
columns line up, as on a fixed-pitch printer. Tall lines (a double-height TOTAL) come back
`double_height`, and every line carries the mean confidence of its words for `--explain`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from statistics import median
from typing import Any

from drivers.escpos.document import Document, TextLine

__all__ = ["Word", "group_lines", "merge_ocr", "words_from_data", "words_to_lines"]

MIN_CONFIDENCE = 10.0  # Tesseract's word confidence (0-100) below which a "word" is noise


@dataclass(frozen=True, slots=True)
class Word:
    text: str
    left: int
    top: int
    width: int
    height: int
    confidence: float  # 0-100

    @property
    def middle(self) -> float:
        return self.top + self.height / 2


def words_from_data(data: Mapping[str, Sequence[Any]]) -> list[Word]:
    """Words from Tesseract's TSV as a dict of columns (pytesseract's Output.DICT)."""
    words: list[Word] = []
    for k, text in enumerate(data.get("text", ())):
        text = str(text).strip()
        if not text or int(data["level"][k]) != 5:
            continue
        conf = float(data["conf"][k])
        if conf < MIN_CONFIDENCE and not any(ch.isalnum() for ch in text):
            continue
        words.append(Word(text, int(data["left"][k]), int(data["top"][k]),
                          int(data["width"][k]), int(data["height"][k]), max(0.0, conf)))
    return words


def group_lines(words: list[Word]) -> list[list[Word]]:
    """Words on the same printed line: their vertical middles fall inside the line's band."""
    lines: list[list[Word]] = []
    bands: list[tuple[float, float]] = []  # (top, bottom) of each line so far
    for word in sorted(words, key=lambda w: (w.top, w.left)):
        for k in range(len(lines) - 1, max(-1, len(lines) - 4), -1):  # the last few lines
            top, bottom = bands[k]
            if top <= word.middle <= bottom or (
                word.top <= (top + bottom) / 2 <= word.top + word.height
            ):
                lines[k].append(word)
                bands[k] = (min(top, word.top), max(bottom, word.top + word.height))
                break
        else:
            lines.append([word])
            bands.append((word.top, word.top + word.height))
    for line in lines:
        line.sort(key=lambda w: w.left)
    return lines


def _gaps(lines: list[list[Word]]) -> list[int]:
    return [b.left - (a.left + a.width)
            for line in lines for a, b in zip(line, line[1:], strict=False)]


def _join_numbers(line: list[Word], char_width: float) -> list[Word]:
    """`2888,` `82` -> `2888,82`: Tesseract splits an amount at its separator sometimes."""
    out: list[Word] = []
    for word in line:
        prev = out[-1] if out else None
        if (prev is not None and prev.text[-1] in ".," and prev.text[:-1].replace(".", "")
                .replace(",", "").isdigit() and word.text[:1].isdigit()
                and word.left - (prev.left + prev.width) < 1.5 * char_width):
            right = word.left + word.width
            out[-1] = Word(prev.text + word.text, prev.left, min(prev.top, word.top),
                           right - prev.left, max(prev.height, word.height),
                           min(prev.confidence, word.confidence))
        else:
            out.append(word)
    return out


def words_to_lines(words: Sequence[Word]) -> list[TextLine]:
    """Lines of text, top to bottom, with amount columns kept apart (module docstring)."""
    usable = [w for w in words if w.width > 0 and w.height > 0]
    if not usable:
        return []
    long = [w.width / len(w.text) for w in usable if len(w.text) >= 2]
    char_width = max(1.0, median(long) if long else median(w.width for w in usable))
    grouped = [_join_numbers(line, char_width) for line in group_lines(usable)]
    gaps = [g for g in _gaps(grouped) if g > 0]
    # a column gap is much wider than the usual space between words (which, between ink
    # boxes, is wider than a character in some fonts)
    space = median(gaps) if gaps else char_width
    wide = max(2 * char_width, 2.2 * min(space, 2 * char_width))
    margin = min(w.left for w in usable)
    heights = median(w.height for w in usable)
    out: list[TextLine] = []
    for line in grouped:
        text = ""
        end = None  # right edge of the previous word, in dots
        for word in line:
            column = round((word.left - margin) / char_width)
            if end is None:
                text = " " * column
            else:
                spaces = 1 if word.left - end < wide else max(2, column - len(text))
                text += " " * spaces
            text += word.text
            end = word.left + word.width
        tall = median(w.height for w in line) > 1.35 * heights
        confidence = sum(w.confidence for w in line) / len(line) / 100
        out.append(TextLine(text.rstrip(), double_height=tall, confidence=round(confidence, 3)))
    return _same_separators([replace(line, text=_times_sign(line.text)) for line in out])


# `2 yx 787,46`: a speck OCR took for a letter glued to a quantity line's times sign
_SPECKED_TIMES = re.compile(r"^(\s*\d{1,3}(?:[.,]\d{1,3})?\s?)(?:[a-wyz]x|x[a-wyz])(?=\s+\d)")


def _times_sign(text: str) -> str:
    return _SPECKED_TIMES.sub(lambda m: m.group(1).rstrip() + " x", text)


_WHOLE = re.compile(r"(?<![^\s$])\d{1,3}(?:[.,]\d{3})+(?!\S)")  # 24.310 / 1,234.567 alone
_CENTS = re.compile(r"\d[.,]\d{2}(?![\d.,])")


def _same_separators(lines: list[TextLine]) -> list[TextLine]:
    """On a page of whole amounts (`135.270`, no cents anywhere: CLP, PYG, COP), OCR reads
    the grouping dot as a comma now and then (at 60-68 dpi a dot and a comma differ by one
    row of dots), and `24,310` then reads as 24.31 where a comma is the decimal sign: an
    amount standing alone in groups of three loses its separators (`24310`), which reads the
    same in every country. A group glued to more (`12.345.678-9`, a RUT) is left alone."""
    if any(_CENTS.search(line.text) for line in lines):
        return lines
    strip = lambda m: m.group(0).replace(".", "").replace(",", "")  # noqa: E731
    return [replace(line, text=_WHOLE.sub(strip, line.text)) for line in lines]


def merge_ocr(doc: Document, pictures: Sequence[Sequence[TextLine]]) -> Document:
    """The document with each picture's OCR lines put where the picture was printed
    (`pictures[k]` belongs to `doc.images[k]`); the pictures stay on the document."""
    lines = list(doc.lines)
    # from the last picture up, so earlier insertion points stay valid
    for image, ocr in sorted(zip(doc.images, pictures, strict=False),
                             key=lambda pair: pair[0].after_line, reverse=True):
        at = min(image.after_line, len(lines))
        lines[at:at] = list(ocr)
    return replace(doc, lines=lines, ocr=True)
