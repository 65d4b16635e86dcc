"""The receipt's own header and the lines no other rule takes: its number, date and time,
the column headings above the items, and unpriced labels (a coupon's code, a payment
method printed above its amount, the currency). Part of the reader
(`agent.receipts.reader.Reader` mixes this in); the state is the reader's. Pure.
"""

from __future__ import annotations

import re
from datetime import date, time

from agent.receipts import fields
from agent.receipts.templates import Template
from agent.receipts.totals import Totals


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_COLUMN_WORDS = _words(
    "cant cantidad qty cod codigo descripcion detalle articulo producto item description p u "
    "pu precio unit unitario importe total monto valor price amount subtotal descricao qtd un "
    "vl und unid ctd"
)


class HeaderRules:
    """Header and leftover rules of the line-by-line reader."""

    t: Template
    country: str
    zone: str
    number: str | None
    date_found: bool
    issued_day: date | None
    issued_time: time | None
    totals: Totals

    def _header_fields(self, text: str, folded: str) -> str | None:
        rules: list[str] = []
        if not self.date_found:
            day = fields.find_date(folded, self.country, self.t)
            if day:
                self.date_found, self.issued_day = True, day
                self.issued_time = fields.find_time(folded) or self.issued_time
                rules.append("date")
        if self.issued_time is None and not rules and re.match(r"^[\W_]*(hora|time)\b", folded):
            self.issued_time = fields.find_time(folded)
            rules.append("time")
        if self.number is None and self.zone == "head":
            number = fields.find_number(text, folded, self.t)
            if number:
                self.number = number
                rules.append("number")
        return " + ".join(rules) or None

    def _column_header(self, folded: str) -> bool:
        words = re.split(r"[\W_]+", folded.strip())
        words = [w for w in words if w]
        return len(words) >= 2 and sum(w in _COLUMN_WORDS for w in words) >= max(2, len(words) - 1)

    def _unpriced_label(self, text: str, folded: str) -> str:
        if self.t.has("coupon", folded):
            code = fields.coupon_code(text, self.t)
            if code:
                self.totals.pending_coupon = code
                return "coupon code"
        method = self.t.payment_method(folded)
        if method and self.zone == "totals":
            self.totals.pending_methods.append(method)
            return f"payment method {method}"
        if re.match(r"^[\W_]*(moneda|currency|divisa)\b", folded):
            iso = re.search(r"\b([A-Z]{3})\b", text.upper().split(":")[-1])
            if iso:
                self.totals.currency = iso.group(1)
                return "currency"
        if self.t.has("meta", folded):
            return "header"
        return "text"
