"""The shapes an item line takes on Latin-American tills, as pure parsing functions.

Yerba Canarias 1kg                 245,00      description and amount
7730241003257 Yerba 1kg                        code and description, then
   2 x 245,00                      490,00      quantity x unit price and amount
2,000 x 45,00 (21,00)                          quantity above the item (Argentine tique)
Yerba Mate 1kg                      90,00
0,750 kg x 120,00                   90,00      weighed
2  Yerba 1kg         245,00        490,00      columns CANT DESCRIPCION P.U. IMPORTE
Yerba 1kg       2    245,00        490,00      columns DESCRIPCION CANT P.U. IMPORTE
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from agent.receipts.currency import PREFIX, SUFFIX, strip_trailing_signs
from agent.receipts.numbers import NO_CENTS, Amount, find_amounts, parse_number

# A refund printed as the sale with negative quantities: `-1 Units x 459.00   -459.00`.
_QTY = r"(?P<minus>-\s?)?(?P<quantity>\d+(?:[.,]\d+)?)"
_UNIT = (
    r"(?:\s*(?P<unit>kgs?|kilos?|grs?|g|lts?|l|units?|unidades?|unids?|un|und|uni|uds?|u|"
    r"pzas?|pz|ea|pcs?|pieces?|uns?)\b)?\.?"
)
_TIMES = r"\s*[x×*@]\s*"
_PRICE = rf"(?P<price>(?:{PREFIX})?\s?\d[\d.,]*(?:\s?(?:{SUFFIX}))?)"
_PER = r"(?:\s*\$?\s*/\s*(?:kgs?|kilo|un|u|lts?|l)\b)?"
QTY_LINE = re.compile(rf"^\s*{_QTY}{_UNIT}{_TIMES}{_PRICE}{_PER}(?P<rest>.*)$", re.I)
DESC_QTY_LINE = re.compile(
    rf"^\s*(?P<description>\S.*?)\s+{_QTY}{_UNIT}{_TIMES}{_PRICE}{_PER}(?P<rest>.*)$",
    re.I,
)
# uniCenta's columns: `Zapatilla urbana   459.00   x-1   -459.00` (price, then x quantity)
PRICE_QTY_LINE = re.compile(
    rf"^\s*(?P<description>\S.*?)\s+{_PRICE}\s+[x×]\s?{_QTY}{_UNIT}(?P<rest>\s.*)$", re.I
)
_RATE = re.compile(r"\(\s*\d+(?:[.,]\d+)?\s*%?\s*\)|\b\d+(?:[.,]\d+)?\s*%")
_TRAILING_FLAG = re.compile(r"\s+(?:[A-Z]{1,2}|\*|\(\w\))\s*$")
# An item number (`001`) may come before the code, as on Brazilian NFC-e.
_CODE = re.compile(r"^\s*(?:\d{1,3}\s+(?=\d{4,14}\s))?(?P<code>\d{4,14})\s+(?=\S)")
_TAIL_CODE = re.compile(r"\s(?P<code>\d{8,14})(?:\s+[A-Z])?$")  # `MILK 2% GAL  0078742351 F`
_AFTER_AMOUNT = re.compile(r"\s*(?:[A-Z]{1,2}|\*|\(\w\)|€)?\s*\**$")  # tax flags: `3.48 N`
_LEAD_QTY = re.compile(
    r"^\s*(?:(?:\d{1,3}\s+(?=\d{4,14}\s))?(?P<code>\d{4,14})\s+)?(?P<quantity>\d{1,4}(?:[.,]\d{1,3})?)\s+"
    r"(?:(?P<unit>kgs?|un|u|uds?)\.?\s+)?(?P<description>.*\S)\s*$",
    re.I,
)
_TAIL_QTY = re.compile(
    r"^\s*(?:(?:\d{1,3}\s+(?=\d{4,14}\s))?(?P<code>\d{4,14})\s+)?(?P<description>.*?\S)\s+"
    r"(?P<quantity>\d{1,4}(?:[.,]\d{1,3})?)\s*(?P<unit>kgs?|un|u|uds?)?\.?\s*$",
    re.I,
)
_LETTER = re.compile(r"[^\W\d_]")
# `2 Croissant   5.980`: a small count before a word that is not a unit of the product.
_LEAD_COUNT = re.compile(
    r"^\s*(?P<quantity>[1-9]\d?)\s+(?!(?:ml|cc|g|gr|grs|kg|kgs|l|lt|lts|cm|mm|m|x|oz|lb|"
    r"un|und|u|pack|%)\b)(?P<description>[^\W\d_].*)$",
    re.I,
)


_NONE = Amount(Decimal(0), 0, 0, False, None)  # bounds for slicing between amounts
_END = Amount(Decimal(0), 10**9, 10**9, False, None)


@dataclass(frozen=True, slots=True)
class QtyLine:
    """`2 x 45,00   90,00` or `0,750 kg x 120,00`: quantity, unit price, maybe the amount."""

    quantity: Decimal
    unit_price: Decimal
    amount: Decimal | None
    unit: str | None


@dataclass(frozen=True, slots=True)
class ItemLine:
    description: str
    amount: Decimal
    code: str | None = None
    quantity: Decimal = Decimal(1)
    unit_price: Decimal | None = None
    unit: str | None = None


def unit_name(raw: str | None) -> str | None:
    if not raw:
        return None
    word = raw.lower().rstrip("s.")
    if word in ("kg", "kilo"):
        return "kg"
    if word in ("g", "gr"):
        return "g"
    if word in ("l", "lt"):
        return "l"
    return None  # units, pieces: a plain count


def _price(token: str, country: str) -> Decimal | None:
    amounts = find_amounts(token, country)
    return abs(amounts[-1].value) if amounts else None


def _rest_amount(rest: str, country: str) -> tuple[bool, Decimal | None]:
    """What follows `qty x price`: (only numbers there?, the amount if printed)."""
    rest = _RATE.sub(" ", rest)
    amounts = find_amounts(rest, country)
    # what is left once the amounts (their currency signs too) are taken out: tax flags
    bounds = zip([_NONE, *amounts], [*amounts, _END], strict=True)
    bare = "".join(rest[a.end : b.start] for a, b in bounds)
    if _LETTER.search(_TRAILING_FLAG.sub("", bare.rstrip())):
        return False, None
    return True, (amounts[-1].value if amounts else None)


def parse_qty_line(text: str, country: str) -> QtyLine | None:
    match = QTY_LINE.match(text)
    if not match:
        return None
    only_numbers, amount = _rest_amount(match["rest"], country)
    quantity = parse_number(match["quantity"], country, prefer_decimal=True)
    price = _price(match["price"], country)
    if not only_numbers or quantity is None or price is None:
        return None
    return QtyLine(quantity, price, amount, unit_name(match["unit"]))


def parse_desc_qty_line(text: str, country: str) -> ItemLine | None:
    """`Coca Cola 1,5L 2 x 45,00   90,00` all on one line, or uniCenta's columns
    `Zapatilla urbana   459.00   x-1   -459.00`."""
    match = DESC_QTY_LINE.match(text)
    if match is None and (" x" in text or "×" in text):
        match = PRICE_QTY_LINE.match(text)
    if not match:
        return None
    only_numbers, amount = _rest_amount(match["rest"], country)
    quantity = parse_number(match["quantity"], country, prefer_decimal=True)
    price = _price(match["price"], country)
    if not only_numbers or amount is None or quantity is None or price is None:
        return None
    if not has_letters(match["description"]) or not close_enough(quantity, price, amount, country):
        return None  # `Ibuprofeno 400 x20  90,00`: a pack size, not a quantity
    code, description = split_code(match["description"])
    return ItemLine(description, amount, code, quantity, price, unit_name(match["unit"]))


def close_enough(quantity: Decimal, price: Decimal, amount: Decimal, country: str) -> bool:
    step = Decimal(1) if country.upper() in NO_CENTS else Decimal("0.01")
    return abs(quantity * price - abs(amount)) <= step


def parse_columns(text: str, amounts: list[Amount], country: str) -> ItemLine | None:
    """`qty description price amount` or `description qty price amount`, when the arithmetic
    holds (qty x price = amount to the cent): that is what tells columns from a description
    that happens to end in numbers."""
    if len(amounts) < 2:
        return None
    price, amount = amounts[-2], amounts[-1]
    between = text[price.end : amount.start]
    if between.strip() or text[amount.end :].strip():
        return None
    head = text[: price.start]
    for pattern in (_LEAD_QTY, _TAIL_QTY):
        match = pattern.match(head)
        if not match or not has_letters(match["description"]):
            continue
        quantity = parse_number(match["quantity"], country, prefer_decimal=True)
        if quantity is None or quantity == 0:
            continue
        if not close_enough(quantity, abs(price.value), amount.value, country):
            continue
        return ItemLine(
            description=clean_description(match["description"]),
            amount=amount.value,
            code=match["code"],
            quantity=quantity,
            unit_price=abs(price.value),
            unit=unit_name(match["unit"]),
        )
    return None


def parse_amount_line(text: str, last: Amount, country: str, *, columns: bool) -> ItemLine | None:
    """`Description   90,00`, `7730241003258 Description  90,00`, `2 Croissant  5.980`, or
    (under a header with a quantity column) `Description   2   7.800`."""
    if not _AFTER_AMOUNT.fullmatch(text[last.end :]):
        return None
    head = text[: last.start]
    if columns:
        match = _LEAD_QTY.match(head) or _TAIL_QTY.match(head)
        quantity = parse_number(match["quantity"], country, prefer_decimal=True) if match else None
        if match and quantity and has_letters(match["description"]):
            description = clean_description(match["description"])
            return ItemLine(
                description, last.value, match["code"], quantity, None, unit_name(match["unit"])
            )
    count = _LEAD_COUNT.match(head)
    if count:
        return ItemLine(
            clean_description(count["description"]), last.value, None, Decimal(count["quantity"])
        )
    code, description = split_code(head)
    return ItemLine(description, last.value, code) if has_letters(description) else None


def split_code(text: str) -> tuple[str | None, str]:
    """'7730241003257 Yerba 1kg' -> ('7730241003257', 'Yerba 1kg')."""
    match = _CODE.match(text)
    if match and _LETTER.search(text[match.end() :]):
        return match["code"], clean_description(text[match.end() :])
    text = clean_description(text)
    tail = _TAIL_CODE.search(text)
    if tail and _LETTER.search(text[: tail.start()]):
        return tail["code"], text[: tail.start()].rstrip()
    return None, text


def clean_description(text: str) -> str:
    """Drop the IVA rate, currency sign and filler dots printed between name and amount."""
    text = re.sub(r"\(\s*\d+(?:[.,]\d+)?\s*%?\s*\)\s*$", "", text.rstrip())
    text = strip_trailing_signs(text)
    text = re.sub(r"\s*\.{3,}\s*$", "", text)
    return " ".join(text.split())


def has_letters(text: str) -> bool:
    return bool(_LETTER.search(text))
