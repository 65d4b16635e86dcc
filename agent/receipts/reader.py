"""The line-by-line reader behind `agent.receipts.extract`: one rule takes each line.

Zones, top to bottom: the header (store, number, date, customer), the items, and the totals
(from the first SUBTOTAL/TOTAL line on). Rules are recorded per line for `explain`.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, time
from decimal import Decimal

from agent.receipts import fields, garbled
from agent.receipts.contacts import ORDER_LINE, ContactRules
from agent.receipts.header import HeaderRules
from agent.receipts.items import (
    ItemLine,
    QtyLine,
    clean_description,
    has_letters,
    parse_amount_line,
    parse_columns,
    parse_desc_qty_line,
    parse_qty_line,
    split_code,
)
from agent.receipts.kinds import KindRules
from agent.receipts.model import Customer, Kind, Payment, Receipt, ReceiptLine
from agent.receipts.numbers import NO_CENTS, Amount, find_amounts, fold, iso_currency
from agent.receipts.reconcile import discounted_line
from agent.receipts.templates import Template
from agent.receipts.totals import Totals

_SEPARATOR = re.compile(r"^\s*[-=_*.~#+ ─━═]{5,}\s*$")
_SPACED = re.compile(r"^[\W_]*(?:[^\W\d_] ){3,}[^\W\d_][\W_]*$")


class Reader(ContactRules, KindRules, HeaderRules):
    def __init__(
        self, template: Template, country: str, currency: str, *, kind: Kind = "sale"
    ) -> None:
        self.t = template
        self.country = country.upper()
        self.totals = Totals(currency=currency.upper())
        self.trace: list[tuple[str, str]] = []
        self.zone = "head"  # head -> items -> totals
        self.items_started = False
        self.columns = False
        self.pending_desc: tuple[int, str | None, str] | None = None  # trace index, code, text
        self.pending_qty: QtyLine | None = None
        self.in_customer = False
        self.in_order = False  # in an order's block (Pedido 4521 ...): see contacts.py
        self.kind: Kind = kind  # "refund" when a first reading found it late (see kinds.py)
        self.kind_late = False
        self.total_negative = False  # TOTAL -788.00: the sale printed negative, a refund
        self.weak_item: tuple[int, str] | None = None  # an item priced by a bare number
        self.number: str | None = None
        self.date_found = False
        self.issued_day: date | None = None
        self.issued_time: time | None = None
        self.customer: dict[str, str] = {}
        self.store_contacts: set[str] = set()  # the store's phones and e-mails (header)
        self.negative_item = False  # the current line was priced negative: a discount
        self.last_item_at = -2  # trace index of the line that gave the latest item
        self.emphasized = False

    # -- the walk -----------------------------------------------------------------------

    def feed(self, text: str, *, emphasized: bool = False) -> None:
        """Read one printed line; `emphasized` (bold or double height) marks the TOTAL."""
        self.negative_item = False
        self.emphasized = emphasized
        rule = self._rule(text.rstrip())
        if self.negative_item:
            rule = "discount (negative line)"
        self.trace.append((text.rstrip(), rule))

    def unreadable(self, texts: list[str]) -> None:
        """A job in a script or code page the reader does not know: no lines, no total."""
        self.trace = [(text.rstrip(), "unreadable (code page?)") for text in texts]
        self.totals.warnings.append(garbled.MESSAGE)

    def _rule(self, text: str) -> str:
        folded = fold(text)
        if not text.strip():
            self.in_customer = self.in_order = False
            return "blank"
        if _SEPARATOR.match(text):
            self.in_customer = self.in_order = False
            if self.zone == "head" and self.trace:
                self.items_started = True
            return "separator"
        if ORDER_LINE.match(folded):
            self.in_order = True
        if any(p.search(text) for p in self.t.patterns["ignore"]) or self.t.has("ignore", folded):
            return "ignore (template)"
        custom = self._custom(text)
        if custom:
            return custom
        amounts = find_amounts(text, self.country)
        label = folded[: amounts[0].start] if amounts else folded
        if _SPACED.match(label):
            label = label.replace(" ", "")  # `T O T A L`: letters spaced out for emphasis
        strong = any(a.strong for a in amounts)
        notes: list[str] = []
        if not strong:
            kind = self._kind_marker(folded)
            if kind:
                notes.append(f"kind {kind}")
        field = self._header_fields(text, folded)
        if field:
            return " + ".join([*notes, field])
        if notes:
            return notes[0]
        customer = self._customer(text, folded, label, strong)
        if customer:
            return customer
        if not amounts and self._column_header(folded):
            self.items_started = True
            self.columns = bool(
                re.search(r"(?<![^\W_])(cant|cantidad|qty|ctd|qtd)(?![^\W_])", folded)
            )
            return "columns header"
        if self.zone != "totals" and parse_qty_line(text, self.country):
            return self._item(text, folded, amounts) or "text"
        if amounts:
            rule = self._labelled(text, label, amounts)
            if rule:
                return rule
        if self.zone != "totals":
            rule = self._item(text, folded, amounts)
            if rule:
                return rule
        if not strong:
            return self._unpriced_label(text, folded)
        return "text"

    def _custom(self, text: str) -> str | None:
        """Template regexes come before the generic rules."""
        for kind in ("item", "total", "subtotal", "discount", "tax", "coupon", "payment"):
            for pattern in self.t.patterns[kind]:
                match = pattern.search(text)
                if match and self._take_custom(kind, match):
                    return f"{kind} (template)"
        return None

    def _take_custom(self, kind: str, match: re.Match[str]) -> bool:
        groups = {k: v for k, v in match.groupdict().items() if v is not None}
        value = self._value(groups.get("amount", ""))
        if kind == "coupon":
            self.totals.coupon(groups["code"].upper(), value)
            return True
        if value is None:
            return False
        if kind == "item":
            quantity = self._value(groups.get("quantity", "")) or Decimal(1)
            item = ItemLine(
                clean_description(groups["description"]),
                value,
                groups.get("code"),
                quantity,
                self._value(groups.get("unit_price", "")),
                groups.get("unit"),
            )
            self._emit(item)
        elif kind == "payment":
            method = self.t.payment_method(fold(groups["method"])) or "otro"
            self.totals.payments.append(Payment(method, abs(value)))
        else:
            self.zone = "totals" if kind in ("total", "subtotal") else self.zone
            self.totals.take(kind, value, fold(match.group()))
        return True

    def _value(self, token: str) -> Decimal | None:
        amounts = find_amounts(token, self.country)
        return amounts[-1].value if amounts else None

    def _labelled(self, text: str, label: str, amounts: list[Amount]) -> str | None:
        """Money lines that carry a label: totals, discounts, taxes, payments..."""
        last = amounts[-1]
        t = self.t
        if t.has("change", label):
            return "change"
        if t.has("savings", label):
            return "savings (not added)"
        if t.has("tendered", label) and self.zone == "totals":
            self.totals.tendered = abs(last.value)
            return "cash tendered"
        if t.has("adjustment", label) and self.zone == "totals":
            if self.totals.total is not None:
                return "adjustment after the total (not added)"
            self.totals.adjustments.append(last.value)
            return "adjustment (rounding, surcharge)"
        if t.has("subtotal", label):
            self.zone = "totals"
            return self.totals.take("subtotal", last.value, label)
        if t.has("total", label) and not t.has("count", label):
            self.zone = "totals"
            self.total_negative = self.total_negative or (
                last.value < 0 and self.totals.total is None)
            printed = last.currency or iso_currency(text[: amounts[0].start])
            if printed:
                self.totals.currency = printed
            return self.totals.take("total", last.value, label, emphasized=self.emphasized)
        if t.has("count", label) and not last.strong:
            return "item count"
        if t.has("coupon", label):
            return self.totals.coupon(fields.coupon_code(text[: amounts[0].start], t), last.value)
        if t.has("discount", label):
            if self._under_item(last.value, label):
                return "discount (of its line)"
            return self.totals.take("discount", last.value, label)
        if t.has("tax_base", label):
            return "tax base"
        if t.has("tax", label):
            return self.totals.take("tax", last.value, label)
        void = t.label_match("void", label)
        if void and self.zone != "totals" and self.totals.void_line(last.value):
            return "item voided"
        if self.zone == "totals":
            method = t.payment_method(label)
            if self._money_back(label):
                self.totals.payments.append(Payment(method or "otro", abs(last.value)))
                return "kind refund + payment (money back)"
            if method:
                self.totals.payments.append(Payment(method, abs(last.value)))
                return f"payment {method}"
            if last.value < 0 and self.kind == "sale":
                return self.totals.take("discount", last.value, label)
            return None
        if t.has("meta", label):
            return "header"
        if last.value < 0 and self.kind == "sale" and (last.strong or self.items_started):
            if self._under_item(last.value, label):
                return "discount (of its line)"
            return self.totals.take("discount", last.value, label)
        return None

    def _under_item(self, value: Decimal, label: str = "") -> bool:
        """A discount on the line right below an item belongs to that item, unless its
        label names another line (`DESC. OFERTA OREO` under the bananas)."""
        if not (self.kind == "sale" and self.zone == "items"
                and self.last_item_at == len(self.trace) - 1):
            return False
        descriptions = [fold(line.description) for line in self.totals.lines]
        index = discounted_line(label, descriptions, lambda w: self.t.has("discount", w))
        return self.totals.line_discount(value, index)

    def _item(self, text: str, folded: str, amounts: list[Amount]) -> str | None:
        qty = parse_qty_line(text, self.country)
        if qty:
            if qty.amount is not None and self.pending_desc is None:
                self._unprice_name()
            if self.pending_desc and qty.amount is not None:
                index, code, description = self.pending_desc
                self.trace[index] = (self.trace[index][0], "item description")
                self._emit(
                    ItemLine(description, qty.amount, code, qty.quantity, qty.unit_price, qty.unit)
                )
                return "item quantity x price"
            self.pending_desc, self.pending_qty = None, qty
            self.items_started = True
            return "item quantity (next line)"
        pending = self.pending_qty
        last = amounts[-1] if amounts else None
        if last and pending is not None and pending.amount is None:
            item = parse_amount_line(text, last, self.country, columns=False)
            if item:  # the Argentine tique: `2,000 x 45,00 (21,00)` above `Item  90,00`
                self._emit(
                    replace(
                        item,
                        quantity=pending.quantity,
                        unit_price=pending.unit_price,
                        unit=pending.unit,
                    )
                )
                return "item (quantity above)"
        one_line = parse_desc_qty_line(text, self.country)
        if one_line:
            self._emit(one_line)
            return "item (quantity x price on the line)"
        columns = parse_columns(text, amounts, self.country)
        if columns:
            self._emit(columns)
            return "item (columns)"
        if last and self._priced(last):
            item = parse_amount_line(text, last, self.country, columns=self.columns)
            if item:
                self._emit(item)
                if not last.strong and self.totals.lines:
                    self.weak_item = (len(self.trace), text)
                return "item" if item.quantity == 1 else "item (quantity first)"
        if not any(a.strong for a in amounts) and has_letters(text) and not self._is_meta(folded):
            code, description = split_code(text)
            if pending is not None and pending.amount is not None:
                self._emit(
                    ItemLine(
                        description,
                        pending.amount,
                        code,
                        pending.quantity,
                        pending.unit_price,
                        pending.unit,
                    )
                )
                self.trace[-1] = (self.trace[-1][0], "item quantity x price")
                return "item description (quantity above)"
            self.pending_desc = (len(self.trace), code, description)
            return "text"
        return None

    def _unprice_name(self) -> None:
        """`Zapatilla urbana 40` above `-1 x 459.00  -459.00`: the number ended the name."""
        weak = self.weak_item
        if weak is None or weak[0] != len(self.trace) - 1 or self.last_item_at != weak[0]:
            return
        self.totals.lines.pop()
        code, description = split_code(weak[1])
        self.pending_desc = (weak[0], code, description)
        self.weak_item = None

    def _priced(self, amount: Amount) -> bool:
        """Is the last number of a line its price? (`Zapatilla urbana 40` above its
        `-1 x 459.00  -459.00` is a name: `_unprice_name` takes it back.)"""
        if amount.strong:
            return True
        if self._store_block():  # `MINIMARKET 24` above the receipt's number and date
            return False
        if self.country in NO_CENTS:
            return self.items_started or amount.value >= 10
        return self.items_started

    def _is_meta(self, folded: str) -> bool:
        customer = self.t.label_match("customer", folded)
        return self.t.has("meta", folded) or bool(customer and customer.start() < 12)

    def _emit(self, item: ItemLine) -> None:
        self.pending_desc = self.pending_qty = None
        self.items_started = True
        self.zone = "items"
        amount = item.amount
        if amount < 0 and self.kind == "sale":
            self.negative_item = True
            if not self._under_item(amount, fold(item.description)):
                self.totals.take("discount", amount, "")
            return
        self.last_item_at = len(self.trace)
        self.totals.lines.append(
            ReceiptLine(
                item.description, item.quantity, item.unit_price, abs(amount), item.code, item.unit
            )
        )

    def receipt(self) -> Receipt:
        customer = Customer(**self.customer)
        return self.totals.receipt(
            kind=self.kind,
            number=self.number,
            issued_at=fields.combine(self.issued_day, self.issued_time),
            customer=customer,
        )
