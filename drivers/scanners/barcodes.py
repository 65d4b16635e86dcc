"""What a scanned code means: a product, a weighed item, a customer, or unknown. Pure.

`classify(code, ...)` tries, in this order (the first that fits wins):

1. `CustomerSession`: a QR/URL (or bare text) carrying `hello_session=<id>`.
2. `CustomerPhone`: a `tel:` URI with a valid number, as E.164.
3. `LoyaltyCard`: the whole code matches the store's loyalty regex. Before products, because
   stores often print loyalty cards as in-store EAN-13s.
4. `VariableMeasure`: an EAN-13 with a 20-29 prefix, valid check digit, matching a layout.
5. `Product`: GTIN-8/12/13/14 digits with a valid check digit; or a GS1 element string
   (GS1-128, GS1 DataMatrix/QR, HRI with parentheses, a GS1 Digital Link URL) holding an
   (01) GTIN, parsed with biip. `gtin` is always the 14-digit form (zero-padded), the key
   GS1 uses everywhere; `code` keeps what was printed.
6. `CustomerPhone`: a bare phone number, valid for the store's country. In international
   form (`+598 99 ...`) from any symbology but the retail ones (EAN/UPC, ITF, GS1); in
   national form only from a 2D code (QR, Data Matrix, Aztec, PDF417), which is how a
   customer shows one. A national number from a linear code or a scanner that sends no AIM
   id could as well be an item code, and taking an item code for a customer would send
   messages to a stranger: such codes stay Unknown.
7. `Unknown`: anything else, kept as scanned.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING
from urllib.parse import unquote

import phonenumbers

if TYPE_CHECKING:
    from biip.gs1_messages import GS1Message

_SESSION_RE = re.compile(r"(?:^|[?&#;/\s])hello_session=([^&#;\s]+)")
_PHONE_RE = re.compile(r"\+?[\d\s().-]{6,24}")
_GS1_SYMBOLOGIES = frozenset({"GS1-128", "GS1-DATAMATRIX", "GS1-QR", "GS1-DATABAR"})
_NEVER_PHONE = _GS1_SYMBOLOGIES | {"EAN13", "EAN8", "ITF"}
_TWO_D = frozenset({"QR", "DATAMATRIX", "AZTEC", "PDF417"})
_GS = "\x1d"


@dataclass(frozen=True)
class VariableMeasureLayout:
    """How the store's scales print an EAN-13 for a weighed or priced item.

    `prefix PLU [K] VALUE C`: K, when `price_check` is set, is the GS1 price check digit over
    the 4- or 5-digit VALUE; C is the EAN-13 check digit. VALUE is a price or a weight with
    `decimals` decimals. The parts must add up to 13 digits for every prefix.
    """

    prefixes: tuple[str, ...] = ("20", "21", "22", "23", "24", "25")
    plu_digits: int = 5
    value: str = "price"  # "price" | "weight"
    value_digits: int = 5
    decimals: int = 2
    price_check: bool = False

    def __post_init__(self) -> None:
        if self.value not in ("price", "weight"):
            raise ValueError("value must be 'price' or 'weight'")
        if self.price_check and self.value_digits not in (4, 5):
            raise ValueError("a price check digit needs 4 or 5 value digits")
        inner = self.plu_digits + int(self.price_check) + self.value_digits + 1
        for prefix in self.prefixes:
            if not (prefix.isdigit() and prefix[0] == "2" and len(prefix) + inner == 13):
                raise ValueError(f"prefix {prefix!r} + {inner} digits is not an EAN-13 (20-29)")


@dataclass(frozen=True)
class Product:
    code: str
    gtin: str | None


@dataclass(frozen=True)
class VariableMeasure:
    code: str
    plu: str
    price: Decimal | None
    weight: Decimal | None


@dataclass(frozen=True)
class CustomerSession:
    code: str
    session: str


def _mask(text: str) -> str:
    return "*" * max(0, len(text) - 3) + text[-3:]


@dataclass(frozen=True)
class CustomerPhone:
    """A customer's phone. Its repr masks the number: a Scan may end up in a log line."""

    code: str = field(repr=False)
    phone: str = field(repr=False)

    def __repr__(self) -> str:
        return f"CustomerPhone(phone={_mask(self.phone)!r})"


@dataclass(frozen=True)
class LoyaltyCard:
    code: str
    number: str


@dataclass(frozen=True)
class Unknown:
    code: str


Meaning = Product | VariableMeasure | CustomerSession | CustomerPhone | LoyaltyCard | Unknown


def gtin_check_digit(body: str) -> int:
    """GS1 mod-10 check digit of `body` (the digits before the check digit)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def is_gtin(code: str) -> bool:
    """GTIN-8, -12, -13 or -14 with a valid check digit."""
    return (
        len(code) in (8, 12, 13, 14)
        and code.isascii()
        and code.isdigit()
        and gtin_check_digit(code[:-1]) == int(code[-1])
    )


# GS1 price check digit weights (General Specifications 7.9.8): digit -> weighted digit.
_W2MINUS = (0, 2, 4, 6, 8, 9, 1, 3, 5, 7)
_W3 = (0, 3, 6, 9, 2, 5, 8, 1, 4, 7)
_W5PLUS = (0, 5, 1, 6, 2, 7, 3, 8, 4, 9)
_W5MINUS = (0, 5, 9, 4, 8, 3, 7, 2, 6, 1)


def price_check_digit(value: str) -> int:
    """The GS1 check digit over a 4- or 5-digit price field inside a variable-measure EAN."""
    d = [int(c) for c in value]
    if len(d) == 4:
        total = _W2MINUS[d[0]] + _W2MINUS[d[1]] + _W3[d[2]] + _W5MINUS[d[3]]
        return (total * 3) % 10
    if len(d) == 5:
        total = _W5PLUS[d[0]] + _W2MINUS[d[1]] + _W5MINUS[d[2]] + _W5PLUS[d[3]] + _W2MINUS[d[4]]
        return _W5MINUS.index((10 - total % 10) % 10)
    raise ValueError("a price check digit covers 4 or 5 digits")


def _variable_measure(
    code: str, layouts: Sequence[VariableMeasureLayout]
) -> VariableMeasure | None:
    if not (len(code) == 13 and is_gtin(code) and "20" <= code[:2] <= "29"):
        return None
    for layout in layouts:
        prefix = next((p for p in layout.prefixes if code.startswith(p)), None)
        if prefix is None:
            continue
        at = len(prefix)
        plu = code[at : at + layout.plu_digits]
        at += layout.plu_digits
        check = code[at] if layout.price_check else None
        at += int(layout.price_check)
        digits = code[at : at + layout.value_digits]
        if check is not None and price_check_digit(digits) != int(check):
            continue
        amount = Decimal(int(digits)).scaleb(-layout.decimals)
        if layout.value == "price":
            return VariableMeasure(code, plu, price=amount, weight=None)
        return VariableMeasure(code, plu, price=None, weight=amount)
    return None


def _gs1_gtin(code: str, symbology: str | None) -> str | None:
    """The (01)/(02) GTIN of a GS1 element string, HRI or Digital Link; None if not one."""
    digits_only = code.isascii() and code.isdigit()
    looks_gs1 = (
        symbology in _GS1_SYMBOLOGIES
        or _GS in code
        or (digits_only and len(code) > 14 and code[:2] in ("01", "02"))
    )
    if not (looks_gs1 or code.startswith(("(", "http://", "https://"))):
        return None
    # biip loads GS1's prefix tables (~15 MB of RSS) on import: only pay for it when a code
    # could be GS1 at all.
    import biip
    from biip.gs1_messages import GS1Message

    message: GS1Message | None
    try:
        if code.startswith("("):
            message = GS1Message.parse_hri(code)
        else:
            result = biip.parse(code)
            if result.gs1_digital_link_uri is not None:
                message = result.gs1_digital_link_uri.as_gs1_message()
            else:
                message = result.gs1_message if looks_gs1 else None
    except (biip.ParseError, ValueError):
        return None
    if message is None:
        return None
    for element in message.element_strings:
        if element.ai.ai in ("01", "02") and element.gtin is not None:
            return str(element.gtin.value).zfill(14)
    return None


def _phone(text: str, country: str) -> str | None:
    try:
        number = phonenumbers.parse(text, country)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def classify(
    code: str,
    *,
    symbology: str | None = None,
    country: str = "UY",
    layouts: Sequence[VariableMeasureLayout] = (VariableMeasureLayout(),),
    loyalty_pattern: str = "",
) -> Meaning:
    """The meaning of a scanned `code` (see the module docstring for the order)."""
    text = code.strip()
    session = _SESSION_RE.search(text)
    if session and (value := unquote(session.group(1))):
        return CustomerSession(code, value)
    if text[:4].lower() == "tel:":
        number = unquote(text[4:]).split(";", 1)[0]
        phone = _phone(number, country)
        return CustomerPhone(code, phone) if phone else Unknown(code)
    if loyalty_pattern and re.fullmatch(loyalty_pattern, text):
        return LoyaltyCard(code, text)
    measure = _variable_measure(text, layouts)
    if measure is not None:
        return measure
    if is_gtin(text):
        return Product(code, text.zfill(14))
    gtin = _gs1_gtin(text, symbology)
    if gtin is not None:
        return Product(code, gtin)
    national_ok = symbology in _TWO_D
    if symbology not in _NEVER_PHONE and _PHONE_RE.fullmatch(text):
        phone = _phone(text, country) if text.startswith("+") or national_ok else None
        if phone:
            return CustomerPhone(code, phone)
    return Unknown(code)
