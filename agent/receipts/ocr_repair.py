"""Amounts OCR misread, put right by the receipt's own arithmetic. Pure.

A receipt checks itself twice: a quantity line multiplies out (`2 x 633,18   1266,36`) and
the items add up to the total. In a picture printed at low density (8-dot `ESC *`) Tesseract
confuses a few digits (6/8, 3/8, 0/6/8/9, 5/6), though they still print as different dots
(`benchmarks/low_density.py`). When an OCR'd receipt does not add up, those digits are
tried in the amounts that break the arithmetic: a quantity line's unit price and amount,
then the items' amounts against the total (one item, or two by a digit each). A change is
made only when exactly one way of changing the fewest digits makes the arithmetic hold,
and the receipt then reconciles; otherwise the reading stays as OCR gave it. A receipt
printed as text is never touched.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator
from decimal import Decimal
from itertools import combinations, islice, product

from agent.receipts.model import Receipt
from agent.receipts.numbers import find_amounts, parse_number
from drivers.escpos.document import Document

__all__ = ["CONFUSED", "repair", "variants"]

CONFUSED = {"0": "689", "3": "8", "5": "6", "6": "058", "8": "0369", "9": "08"}
MAX_EDITS = 2  # digits changed in one amount
MAX_LINE_EDITS = 3  # in a quantity line's two amounts, which must multiply out exactly
MAX_CHOICES = 4  # equally good fixes of one line kept for the total to choose among
MAX_TRIES = 16  # readings of the receipt tried to choose among them
_QUANTITY = re.compile(r"\s*(\d{1,3}(?:[.,]\d{1,3})?)\s?[xX×*]\s*")
_DIGITS = re.compile(r"\d(?:[\d.,]*\d)?")

Read = Callable[[Document], Receipt]


def variants(token: str) -> Iterator[tuple[str, int]]:
    """`token` with one or two of its digits swapped for one OCR confuses it with."""
    spots = [i for i, ch in enumerate(token) if ch in CONFUSED]
    for edits in range(1, MAX_EDITS + 1):
        for where in combinations(spots, edits):
            for swap in product(*(CONFUSED[token[i]] for i in where)):
                chars = list(token)
                for i, ch in zip(where, swap, strict=True):
                    chars[i] = ch
                yield "".join(chars), edits


def _numbers(text: str, country: str, start: int = 0) -> list[tuple[int, int, str]]:
    """(start, end, digits) of each money token's number in `text` from `start`."""
    out = []
    for amount in find_amounts(text, country):
        if amount.start >= start and amount.value > 0:
            found = _DIGITS.search(text, amount.start, amount.end)
            if found:
                out.append((found.start(), found.end(), found.group()))
    return out


def _quantity_fixes(text: str, country: str) -> list[str]:
    """`q x unit  amount` that does not multiply out: the line with each of its fewest-digit
    fixes (none when it does, or when nothing within MAX_LINE_EDITS does)."""
    head = _QUANTITY.match(text)
    if head is None:
        return []
    quantity = parse_number(head.group(1), country, prefer_decimal=True)
    numbers = _numbers(text, country, head.end())
    if quantity is None or quantity <= 0 or len(numbers) != 2:
        return []
    (us, ue, unit), (as_, ae, amount) = numbers
    unit_value, amount_value = parse_number(unit, country), parse_number(amount, country)
    if unit_value is None or amount_value is None:
        return []
    cents = Decimal(1).scaleb(int(amount_value.as_tuple().exponent))
    if (quantity * unit_value).quantize(cents) == amount_value:
        return []
    amounts: dict[Decimal, list[tuple[str, int]]] = {}
    for token, edits in [(amount, 0), *variants(amount)]:
        if (value := parse_number(token, country)) is not None:
            amounts.setdefault(value, []).append((token, edits))
    fixes: list[tuple[int, str]] = []
    for token, edits in [(unit, 0), *variants(unit)]:
        value = parse_number(token, country)
        if value is None:
            continue
        for a_token, a_edits in amounts.get((quantity * value).quantize(cents), []):
            if 0 < edits + a_edits <= MAX_LINE_EDITS:
                line = text[:us] + token + text[ue:as_] + a_token + text[ae:]
                fixes.append((edits + a_edits, line))
    fewest = min((edits for edits, _ in fixes), default=0)
    return [line for edits, line in fixes if edits == fewest][:MAX_CHOICES]


def _with_texts(doc: Document, texts: dict[int, str]) -> Document:
    lines = [dataclasses.replace(line, text=texts[i]) if i in texts else line
             for i, line in enumerate(doc.lines)]
    return dataclasses.replace(doc, lines=lines)


def _fix_sum(doc: Document, receipt: Receipt, read: Read, country: str) -> Receipt | None:
    """The items' amounts changed by the fewest digits so that the receipt reconciles: one
    item by one or two digits, else two items by one digit each."""
    if receipt.total is None or not receipt.lines:
        return None
    items = {line.amount for line in receipt.lines}
    have = sum((line.amount for line in receipt.lines), Decimal(0))
    targets = {receipt.total + receipt.discount - tax for tax in (Decimal(0), receipt.tax)}
    targets |= {receipt.total - tax for tax in (Decimal(0), receipt.tax)}
    wanted = {target - have for target in targets} - {Decimal(0)}
    # every one-line change: (edits, line index, the line's new text, value change)
    changes: list[tuple[int, int, str, Decimal]] = []
    for index, line in enumerate(doc.lines):
        if line.confidence is None or _QUANTITY.match(line.text):
            continue  # a quantity line was checked by its own arithmetic
        numbers = _numbers(line.text, country)
        value = parse_number(numbers[0][2], country) if len(numbers) == 1 else None
        if value is None or value not in items:
            continue
        start, end, token = numbers[0]
        for new, edits in variants(token):
            changed = parse_number(new, country)
            if changed is not None:
                text = line.text[:start] + new + line.text[end:]
                changes.append((edits, index, text, changed - value))
    singles = [(edits, {index: text}) for edits, index, text, delta in changes
               if delta in wanted]
    fewest = min((edits for edits, _ in singles), default=0)
    fixes = [fix for edits, fix in singles if edits == fewest]
    if not fixes:  # two lines a digit each
        ones = [change for change in changes if change[0] == 1]
        by_delta: dict[Decimal, list[tuple[int, int, str, Decimal]]] = {}
        for change in ones:
            by_delta.setdefault(change[3], []).append(change)
        for _, index, text, delta in ones:
            for need in wanted:
                for _, other, other_text, _ in by_delta.get(need - delta, []):
                    if other > index:
                        fixes.append({index: text, other: other_text})
    if len(fixes) != 1:
        return None  # more than one way would do: nothing says which, leave it as read
    fixed = read(_with_texts(doc, fixes[0]))
    return fixed if fixed.reconciled else None


def repair(doc: Document, receipt: Receipt, read: Read, country: str) -> Receipt:
    """The receipt read again with its misread amounts put right (module docstring), or
    as it was. A quantity line with one fix takes it; one with several takes the one with
    which the receipt reconciles, if only one does."""
    if receipt.reconciled or not any(line.confidence is not None for line in doc.lines):
        return receipt
    choices = {index: fixes for index, line in enumerate(doc.lines)
               if line.confidence is not None
               and (fixes := _quantity_fixes(line.text, country))}
    sure = {index: fixes[0] for index, fixes in choices.items() if len(fixes) == 1}
    open_ = {index: fixes for index, fixes in choices.items() if len(fixes) > 1}
    if choices:
        picks = islice(product(*open_.values()), MAX_TRIES)  # one empty pick when none open
        tried = [read(_with_texts(doc, {**sure, **dict(zip(open_, pick, strict=True))}))
                 for pick in picks]
        reconciled = [again for again in tried if again.reconciled]
        if len(reconciled) == 1:
            return reconciled[0]
        if sure:  # each sure line multiplies out now, whatever the total says
            doc = _with_texts(doc, sure)
            receipt = read(doc) if open_ else tried[0]
    return _fix_sum(doc, receipt, read, country) or receipt
