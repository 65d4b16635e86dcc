"""Card numbers out of text before it leaves the receipt parser.

A card number is a run of 13-19 digits that passes the Luhn check, in groups separated by
spaces (a tab's padding: up to 8), or one dot or dash; in a raw print job, formatting
commands between the groups (`ESC E` bold on/off, `ESC !`, `GS !`, Star's `ESC E`/`ESC F`)
separate nothing either. It becomes `****` + its last four digits. A valid GTIN (EAN-13, GTIN-14)
printed as an item code is kept even when it happens to pass Luhn too (one in ten do): it is
listed in `item_codes`, printed at the start of a line followed by a description, or printed
anywhere on a line that names no card (VISA, tarjeta, cartão...).
Masked numbers (`****1234`, `XXXX-XXXX-XXXX-1234`) contain no such run and stay as printed.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator

_GROUP = re.compile(r"[0-9]+")
# What may stand between two digit groups of one card number.
_SEP = re.compile(r"[ \t]{1,8}|[ \t]?[.\-][ \t]?")
# Formatting commands a POS puts around part of a number (bold, size, underline): in a raw
# job they are skipped; their parameter bytes are never read as digits or masked. ESC/POS's
# `ESC E n` takes a parameter that may be "1", Star's `ESC E` none: a line is read both ways.
_FMT_ESCPOS = rb"\x1b[E\-G][\x00-\x02\x30-\x32]|\x1b![\x00-\xff]|\x1d![\x00-\xff]"
_FMT_STAR = rb"\x1b[EF45]|\x1b-[\x00\x01\x30\x31]"
_FMT = _FMT_ESCPOS + b"|" + _FMT_STAR
_FORMATTING = (re.compile(_FMT_ESCPOS), re.compile(_FMT_STAR))
# 13+ digits with short separators between: the only stretches of a raw job worth a look
# (a regex in C, so a 200 MB raster job is scanned at hundreds of MB/s).
_RAW_CANDIDATE = re.compile(rb"[0-9](?:(?:[ \t.\-]|" + _FMT + rb"){0,10}[0-9]){12,}")
_CONTEXT = 256  # bytes of the line either side of a candidate read for card words
_DIGIT_MARKS = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
MAX_GROUPS = 5
_CODE_AT_START = re.compile(r"^\s*(\d{8,14})\s+(?=\S*[^\W\d_])")
# Words that put a card on the line: there a GTIN-shaped number is still masked.
_CARD_WORDS = re.compile(
    r"(?i)\b(tarj\w*|card|visa|master\w*|amex|american|diners|maestro|cabal|naranja|"
    r"cart[aã]o|cr[eé]dito|d[eé]bito|nro\.? de tarjeta|cuenta)\b"
)


def luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def gtin_ok(digits: str) -> bool:
    """GTIN-8/12/13/14 check digit (weights 3,1 from the right, check digit excluded)."""
    if len(digits) not in (8, 12, 13, 14) or not digits.isdigit():
        return False
    body, check = digits[:-1], int(digits[-1])
    total = sum((3 if i % 2 == 0 else 1) * int(d) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10 == check


def mask(digits: str) -> str:
    return "****" + digits[-4:]


def _runs(text: str) -> list[list[re.Match[str]]]:
    """Maximal runs of digit groups with a separator (_SEP) between each. A group next to
    a decimal mark (`1.234,50`) may join a run: the search below tries every stretch, so the
    card inside `4111 1111 1111 1111 1.234,50` is still found, and nothing is missed because
    of what happens to be printed next to it."""
    runs: list[list[re.Match[str]]] = []
    current: list[re.Match[str]] = []
    for match in _GROUP.finditer(text):
        joined = bool(
            current and _SEP.fullmatch(text, current[-1].end(), match.start()) is not None
        )
        if not joined and current:
            runs.append(current)
            current = []
        current.append(match)
    if current:
        runs.append(current)
    return runs


def _card_shaped(text: str, run: list[re.Match[str]], idx: range) -> bool:
    """Groups joined by one space, tab, dot or dash are a card if Luhn says so. Wider gaps
    (double spaces, a tab's padding) also join columns (`0001-0012345  20/11/2026`), so
    there the groups must be laid out as cards are: fours (the last may be shorter) or
    4-6-5 / 4-6-4."""
    gaps = [text[run[k].end() : run[k + 1].start()] for k in idx[:-1]]
    if all(len(gap) == 1 for gap in gaps):
        return True
    sizes = [run[k].end() - run[k].start() for k in idx]
    return sizes[:-1] == [4] * (len(sizes) - 1) or sizes in ([4, 6, 5], [4, 6, 4])


def card_spans(text: str, *, item_codes: Collection[str] = ()) -> list[tuple[int, int, str]]:
    """(start, end, digits) of every card number in `text`, longest candidates first."""
    start_code = _CODE_AT_START.match(text)
    card_line = bool(_CARD_WORDS.search(text))
    spans: list[tuple[int, int, str]] = []
    for run in _runs(text):
        protected: set[int] = set()
        for i, group in enumerate(run):
            digits = group.group()
            at_start = bool(start_code and start_code.start(1) == group.start())
            # a GTIN on a line that names no card is a product code: a card is printed
            # beside its brand or the word for card
            if gtin_ok(digits) and (digits in item_codes or at_start or not card_line):
                protected.add(i)
        taken: set[int] = set()
        # Cards are printed in at most five groups (4-4-4-4-3, 4-6-5): longest stretch first,
        # so `4111 1111 1111 1111` is one number; bounded work whatever the line holds.
        ends = [0]
        for group in run:
            ends.append(ends[-1] + group.end() - group.start())
        for size in range(min(len(run), MAX_GROUPS), 0, -1):
            for i in range(len(run) - size + 1):
                if not 13 <= ends[i + size] - ends[i] <= 19:
                    continue
                idx = range(i, i + size)
                if taken.intersection(idx) or protected.intersection(idx):
                    continue
                digits = "".join(run[k].group() for k in idx)
                if 13 <= len(digits) <= 19 and luhn_ok(digits) and _card_shaped(text, run, idx):
                    spans.append((run[i].start(), run[i + size - 1].end(), digits))
                    taken.update(idx)
    return sorted(spans)


def redact_card_numbers(text: str, *, item_codes: Collection[str] = ()) -> str:
    """Replace every card number in `text` by `****` + its last four digits.

    `item_codes` are digit strings known to be item codes (GTINs) on this receipt; a valid
    GTIN at the start of a line followed by a description counts as one without being listed.
    """
    spans = card_spans(text, item_codes=item_codes)
    if not spans:
        return text
    out: list[str] = []
    last = 0
    for start, end, digits in spans:
        out.append(text[last:start])
        out.append(mask(digits))
        last = end
    out.append(text[last:])
    return "".join(out)


def _line_text(
    data: bytes, start: int, end: int, formatting: re.Pattern[bytes]
) -> tuple[str, list[int]]:
    """data[start:end] as text with formatting commands left out and other control bytes
    as `|` (they end a number), and each character's offset in `data`."""
    chars: list[str] = []
    where: list[int] = []
    i = start
    while i < end:
        command = formatting.match(data, i, end)
        if command is not None:
            i = command.end()
            continue
        byte = data[i]
        chars.append(chr(byte) if byte >= 0x20 or byte == 0x09 else "|")
        where.append(i)
        i += 1
    return "".join(chars), where


def _candidates(data: bytes) -> Iterator[re.Match[bytes]]:
    """The candidate stretches of a raw job. Every card layout has a group of four digits,
    found by bytes.find on a digits-only view (C speed, whatever a raster job holds); the
    regex runs only around those."""
    marks = data.translate(_DIGIT_MARKS)
    at = marks.find(b"0000")
    while at >= 0:
        lo, hi = max(0, at - _CONTEXT), min(len(data), at + _CONTEXT)
        found = list(_RAW_CANDIDATE.finditer(data, lo, hi))
        yield from found
        at = marks.find(b"0000", max(hi - 3, *(m.end() for m in found)) if found else hi - 3)


def redact_job(data: bytes) -> bytes:
    """A raw print job with every card number's digits but the last four turned into `*`,
    in place: the length and every command byte stay, so the job still parses the same."""
    out = bytearray(data)
    done: set[int] = set()
    for candidate in _candidates(data):
        lo = max(0, candidate.start() - _CONTEXT)
        start = data.rfind(b"\n", lo, candidate.start()) + 1 or lo
        end = data.find(b"\n", candidate.end(), candidate.end() + _CONTEXT)
        end = min(len(data), candidate.end() + _CONTEXT) if end < 0 else end
        if start in done:
            continue
        done.add(start)
        for formatting in _FORMATTING:
            text, where = _line_text(data, start, end, formatting)
            for first, last, _digits in card_spans(text):
                digits = [where[k] for k in range(first, last) if "0" <= text[k] <= "9"]
                for at in digits[:-4]:
                    out[at] = 0x2A  # '*'
    return bytes(out)


class JobMasker:
    """`redact_job` for a job streamed in chunks (a capture spooled to disk): `feed` returns
    the masked bytes that are settled, holding back the line still open (or, in a long run
    without a line end, the stretch a number could still cross); `flush` the rest."""

    HOLD = 64 * 1024  # a line longer than this is cut where no number can be

    def __init__(self) -> None:
        self._held = b""

    def feed(self, chunk: bytes) -> bytes:
        data = self._held + chunk
        cut = data.rfind(b"\n") + 1
        if len(data) - cut > self.HOLD:
            cut = len(data) - _CONTEXT
            for candidate in _RAW_CANDIDATE.finditer(data, max(0, cut - _CONTEXT)):
                if candidate.start() < cut < candidate.end() + 1:
                    cut = candidate.start()
                    break
        self._held = data[cut:]
        return redact_job(data[:cut]) if cut else b""

    def flush(self) -> bytes:
        data, self._held = self._held, b""
        return redact_job(data)
