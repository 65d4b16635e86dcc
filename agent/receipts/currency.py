"""Currency signs as tills print them beside an amount, and the ISO 4217 code each means.

Any ISO 4217 code (pycountry's list) may stand before or after an amount (`USD 12.50`,
`1.234,50 EUR`, `MYR28.09`); so may the local signs below (`RM28.09`, `S/ 12.50`, `R$ 9,90`,
`Q25.00`, `Bs 25,00`, `₲ 25.000`, `12,50 €`, `$U 120`, `1,100円`). A bare `$`, `¥` or `kr`
names no one currency: the store's own is meant, and so does a `?`, what a printer's code
page prints for a sign it lacks (`₲` on most pages). Pure.
"""

from __future__ import annotations

import re

import pycountry

ISO_CURRENCIES: frozenset[str] = frozenset(str(c.alpha_3) for c in pycountry.currencies)

# Printed sign -> ISO code; None where the sign is shared (the store's currency is meant).
SIGNS: dict[str, str | None] = {
    "US$": "USD", "U$S": "USD", "U$D": "USD", "$U": "UYU", "$UY": "UYU", "R$": "BRL",
    "RD$": "DOP", "C$": "NIO", "MX$": "MXN", "AR$": "ARS", "COL$": "COP", "CL$": "CLP",
    "S/": "PEN", "S/.": "PEN", "B/.": "PAB", "BS": "BOB", "BS.": "BOB", "BS.S": "VES",
    "BS.D": "VES", "GS": "PYG", "GS.": "PYG", "₲": "PYG", "₡": "CRC", "Q": "GTQ",
    "RM": "MYR", "RP": "IDR", "RP.": "IDR", "€": "EUR", "£": "GBP", "₩": "KRW", "원": "KRW",
    "円": "JPY", "元": "CNY", "₱": "PHP", "₹": "INR", "฿": "THB", "₫": "VND", "₪": "ILS",
    "₺": "TRY", "ZŁ": "PLN", "KČ": "CZK", "FT": "HUF", "$": None, "¥": None, "￥": None,
    "KR": None, "?": None,
}

# Before the number (longest first, so `US$` is not read as `$`); any three capitals are
# tried as an ISO code, and dropped as a sign when they are not one (`IVA 22,00`).
PREFIX = (
    r"COL\$|US\$|U\$S|U\$D|\$UY|RD\$|MX\$|AR\$|CL\$|R\$|C\$|\$U|S/\.?|B/\.|Bs\.?[SD]?\b\.?|"
    r"Gs\.?|RM|Rp\.?|Q(?=\s?\d)|[₲₡€£¥￥₩₱₹฿₫₪₺]|\$|[A-Z]{3}|\?(?=\s?\d)"
)
# After the number: `12,50 €`, `25,00 Bs`, `12.50 USD`, `1,100円`, `12.000원`.
SUFFIX = r"[€₲₩円원元₫]|Bs\b\.?|zł|kr\b|Kč|Ft\b|[A-Z]{3}\b|\?(?!\S)"

_TRAILING_SIGNS = re.compile(rf"(?:\s(?:{PREFIX}|{SUFFIX}))+\s*$")


def currency_of(sign: str | None) -> tuple[bool, str | None]:
    """(is it a currency sign at all?, its ISO code or None when the store's is meant)."""
    if not sign:
        return False, None
    if len(sign) == 3 and sign.isalpha() and sign.isupper():
        return (True, sign) if sign in ISO_CURRENCIES else (False, None)
    key = sign.upper()
    if key in SIGNS:
        return True, SIGNS[key]
    return True, None


def strip_trailing_signs(text: str) -> str:
    """'Camisa US$' -> 'Camisa': a sign printed between the name and the amount column (an
    ISO-looking word that is no currency, `Leche UHT`, stays)."""
    match = _TRAILING_SIGNS.search(text)
    if not match:
        return text
    words = match.group().split()
    if all(currency_of(word)[0] for word in words):
        return text[: match.start()]
    return text
