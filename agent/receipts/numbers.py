"""Money and quantities as Latin-American tills print them, and label-friendly text.

A token with both separators decides by itself (the last one is the decimal mark). A token
with one kind of separator decides by itself too unless exactly three digits follow its only
occurrence (`12.990`): then the store's country decides, because `12.990` is twelve thousand
nine hundred ninety in Chile and twelve point nine nine in Mexico.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from agent.receipts.currency import ISO_CURRENCIES, PREFIX, SUFFIX, currency_of

# Countries whose decimal mark is a dot (thousands: comma); everyone else uses a comma.
DOT_DECIMAL = frozenset(
    [
        "MX",
        "PE",
        "US",
        "GT",
        "DO",
        "PA",
        "SV",
        "HN",
        "NI",
        "PR",
        "CA",
        "GB",
        "IE",
        "AU",
        "NZ",
        "PH",
        "IN",
        "CN",
        "JP",
        "KR",
        "TH",
        "MY",
        "SG",
        "HK",
        "TW",
        "IL",
    ]
)
# Countries whose tills print whole amounts: a bare `990` or `12.990` is money.
NO_CENTS = frozenset(["CL", "CO", "PY", "JP", "KR", "TW"])

MAX_DIGITS = 18

_NUM = r"\d+(?:[.,]\d+)*"
_GROUPED = re.compile(r"\d[.,]\d{3}(?:$|[.,])")
_CENTS = re.compile(r"[.,]\d\d$")
AMOUNT_RE = re.compile(
    r"(?<![\w.,/:%#*-])"
    r"(?P<open>\(\s?)?"
    r"(?P<sign>-\s?)?"
    rf"(?:(?P<cur>{PREFIX})\s{{0,3}})?"
    r"(?P<sign2>-\s?)?"
    rf"(?P<num>{_NUM})"
    r"(?P<close>\s?\))?"
    r"(?P<trail>-)?"
    rf"(?:\s?(?P<tcur>{SUFFIX}))?"  # `12,50 €`, `1,100円`, `12.50 USD`
    r"(?![\w/:%*]|[.,]\d|\s%)"
)


@dataclass(frozen=True, slots=True)
class Amount:
    """A money token found in a line of text."""

    value: Decimal  # signed
    start: int
    end: int
    strong: bool  # unmistakably money: a currency sign or the country's cents style
    currency: str | None  # ISO code when a symbol other than a bare `$` was printed


def decimal_comma(country: str) -> bool:
    return country.upper() not in DOT_DECIMAL


def parse_number(token: str, country: str, *, prefer_decimal: bool = False) -> Decimal | None:
    """'1.234,50' -> 1234.50; '12.990' -> 12990 in CL, 12.99 in MX; None if not a number.

    `prefer_decimal` is for quantities: `0,750` / `2,000` are decimals whatever the country.
    """
    token = token.strip()
    if not token or not token[0].isdigit() or not token[-1].isdigit():
        return None
    if sum(ch.isdigit() for ch in token) > MAX_DIGITS:
        return None  # no till prints that much money; Decimal math stays exact below it
    dots, commas = token.count("."), token.count(",")
    if dots and commas:
        decimal_mark = "." if token.rfind(".") > token.rfind(",") else ","
    elif dots or commas:
        mark = "." if dots else ","
        head, _, tail = token.rpartition(mark)
        if dots + commas > 1:
            decimal_mark = ""  # 1.234.567: a repeated mark groups thousands
        elif len(tail) != 3 or head == "0" or prefer_decimal:
            decimal_mark = mark
        else:
            decimal_mark = "," if decimal_comma(country) else "."
            if mark != decimal_mark:
                decimal_mark = ""
    else:
        decimal_mark = ""
    thousands = {".", ","} - {decimal_mark}
    if decimal_mark and token.count(decimal_mark) > 1:
        return None
    parts = token.split(decimal_mark) if decimal_mark else [token]
    whole = parts[0]
    for sep in thousands:
        groups = whole.split(sep)
        if len(groups) > 1 and (
            not 1 <= len(groups[0]) <= 3 or any(len(g) != 3 for g in groups[1:])
        ):
            return None
        whole = "".join(groups)
    text = whole + ("." + parts[1] if len(parts) > 1 else "")
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def find_amounts(text: str, country: str) -> list[Amount]:
    """Every money-looking token of a line (percentages, dates, times and codes excluded)."""
    found: list[Amount] = []
    no_cents = country.upper() in NO_CENTS
    for match in AMOUNT_RE.finditer(text):
        num = match["num"]
        value = parse_number(num, country)
        if value is None:
            continue
        if len(num) > 1 and num[0] == "0" and num[1].isdigit():
            continue  # 0003, 00001234: counters and codes, not money
        if len(num) >= 12 and num.isdigit():
            continue  # GTINs, resolutions, protocols: no amount has 12 ungrouped digits
        start, end = match.start(), match.end()
        opened, minus = bool(match["open"]), bool(match["sign"])
        cur, currency = None, None
        tail = re.search(r"[.,](\d+)$", num)
        cents_style = bool(tail and len(tail.group(1)) == 2)
        for group in ("cur", "tcur"):
            sign = match[group]
            if sign is None:
                continue
            known, code = currency_of(sign)
            glued = group == "cur" and len(sign) == 3 and match.end("cur") == match.start("num")
            if glued and not (known and cents_style):
                break  # `ABC123`, `TOP10`: a code, not money
            if known:
                cur, currency = cur or sign, currency or code
            elif group == "cur":  # `IVA 22,00`: three capitals that are no currency
                start = match.start("sign2") if match["sign2"] else match.start("num")
                opened = minus = False
            else:
                end = max(match.end("num"), match.end("close"), match.end("trail"))
        else:
            negative = minus or bool(match["sign2"] or match["trail"]) or bool(
                opened and match["close"]
            )
            if opened == bool(match["close"]):  # half a parenthesis: part of something else
                found.append(Amount(-value if negative else value, start, end,
                                    bool(cur) or cents_style or (no_cents and grouped(num)),
                                    currency))
    return found


def grouped(num: str) -> bool:
    """`12.990`, `1,250`: digits grouped in thousands, no cents."""
    return bool(_GROUPED.search(num)) and not _CENTS.search(num)


def iso_currency(label: str) -> str | None:
    """'TOTAL ARS' -> 'ARS': an ISO 4217 code printed as a word of the label."""
    for match in re.finditer(r"(?<![A-Za-z])[A-Z]{3}(?![A-Za-z])", label):
        if match.group() in ISO_CURRENCIES:
            return match.group()
    return None


def money(value: Decimal) -> str:
    """Decimal -> '1234.50' (JSON money: a string with two decimals)."""
    return str(value.quantize(Decimal("0.01")))


def quantity_text(value: Decimal) -> str:
    """Decimal -> '2', '0.75' (no exponent, no trailing zeros)."""
    text = format(value.normalize(), "f")
    return text


def fold(text: str) -> str:
    """Accent- and case-insensitive form for label matching: 'CRÉDITO' -> 'credito'."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    if len(stripped) != len(text):  # Hangul syllables come apart in NFKD: put them back
        stripped = unicodedata.normalize("NFC", stripped)
    # Same length as `text` for Latin text, so positions found in it apply to the original.
    return stripped.lower().replace("°", "o")


def label_key(text: str) -> str:
    """Folded text with punctuation turned to single spaces: 'Sub-Total:' -> 'sub total'."""
    folded = fold(text).replace("º", "o").replace("°", "o")
    return " ".join(re.sub(r"[^\w%]+", " ", folded).split())
