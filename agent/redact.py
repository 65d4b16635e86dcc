"""Card numbers out of text before it leaves the receipt parser.

A card number is a run of 13-19 digits, in groups separated by single spaces or dashes, that
passes the Luhn check. It becomes `****` + its last four digits. A valid GTIN (EAN-13, GTIN-14)
printed as an item code is kept even when it happens to pass Luhn too (one in ten do): it is
listed in `item_codes`, printed at the start of a line followed by a description, or printed
anywhere on a line that names no card (VISA, tarjeta, cartão...).
Masked numbers (`****1234`, `XXXX-XXXX-XXXX-1234`) contain no such run and stay as printed.
"""

from __future__ import annotations

import re
from collections.abc import Collection

# Digit groups joined by one space or dash.
_GROUP = re.compile(r"[0-9]+")
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
    """Maximal runs of digit groups separated by exactly one space or dash. A group next to
    a decimal mark (`1.234,50`) may join a run: the search below tries every stretch, so the
    card inside `4111 1111 1111 1111 1.234,50` is still found, and nothing is missed because
    of what happens to be printed next to it."""
    runs: list[list[re.Match[str]]] = []
    current: list[re.Match[str]] = []
    for match in _GROUP.finditer(text):
        joined = bool(
            current and match.start() - current[-1].end() == 1 and text[current[-1].end()] in " -"
        )
        if not joined and current:
            runs.append(current)
            current = []
        current.append(match)
    if current:
        runs.append(current)
    return runs


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
                if 13 <= len(digits) <= 19 and luhn_ok(digits):
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


def redact_job(data: bytes) -> bytes:
    """A raw print job with every card number's digits but the last four turned into `*`,
    in place: the length and every command byte stay, so the job still parses the same."""
    out = bytearray(data)
    text = data.decode("latin-1")  # one character per byte: offsets are byte offsets
    offset = 0
    for line in text.split("\n"):
        for start, end, _digits in card_spans(line):
            keep = 4
            for i in range(end - 1, start - 1, -1):
                if "0" <= line[i] <= "9":
                    if keep:
                        keep -= 1
                    else:
                        out[offset + i] = 0x2A  # '*'
        offset += len(line) + 1
    return bytes(out)
