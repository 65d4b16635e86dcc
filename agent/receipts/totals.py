"""The money below the items, and whether it adds up.

Taxes are either included in the prices (IVA INCLUIDO: lines - discounts = total) or added
(subtotal + tax = total); the arithmetic decides, the label only breaks a tie, so a tax is
never counted twice. A receipt that does not add up keeps its printed total and says why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal

from agent.receipts.model import Coupon, Customer, Kind, Payment, Receipt, ReceiptLine
from agent.receipts.numbers import money
from agent.receipts.reconcile import breaking_lines, total_line

ZERO = Decimal(0)


@dataclass
class Totals:
    currency: str
    lines: list[ReceiptLine] = field(default_factory=list)
    subtotal: Decimal | None = None
    total: Decimal | None = None
    discounts: list[Decimal] = field(default_factory=list)
    coupons: list[Coupon] = field(default_factory=list)
    pending_coupon: str | None = None
    taxes: list[Decimal] = field(default_factory=list)
    tax_total: Decimal | None = None  # a TOTAL IVA line replaces the per-rate lines
    tax_included: bool = False
    payments: list[Payment] = field(default_factory=list)
    pending_methods: list[str] = field(default_factory=list)
    tendered: Decimal | None = None
    adjustments: list[Decimal] = field(default_factory=list)  # rounding, surcharges (signed)
    item_discounts: Decimal = ZERO  # printed among the items
    line_discounts: Decimal = ZERO  # printed right under a line: taken off that line
    late_discounts: list[Decimal] = field(default_factory=list)  # printed after the TOTAL
    later_totals: list[Decimal] = field(default_factory=list)
    total_emphasized: bool = False
    warnings: list[str] = field(default_factory=list)

    def take(self, kind: str, value: Decimal, label: str, *, emphasized: bool = False) -> str:
        """Record a labelled amount; returns the rule name for `explain`."""
        amount = abs(value)
        if kind == "subtotal":
            if self.subtotal is None:
                self.subtotal = amount
                return "subtotal"
            return "subtotal (repeated)"
        if kind == "total":
            included = re.search(r"\b(inclu\w*|incl|contenido)\b", label)
            self.tax_included = self.tax_included or bool(included)
            if self.total is None or (emphasized and not self.total_emphasized):
                # The first TOTAL, unless a later one is printed bold or double height.
                if self.total is not None:
                    self.later_totals.append(self.total)
                self.total, self.total_emphasized = amount, emphasized
                return "total"
            self.later_totals.append(amount)
            return "total (repeated)"
        if kind == "discount":
            if self.pending_coupon is not None:
                return self.coupon(self.pending_coupon, value)
            if self.total is not None:
                self.late_discounts.append(amount)
                return "discount (after the total)"
            if self.subtotal is None:
                self.item_discounts += amount
            elif self.item_discounts and amount == self.item_discounts:
                self.item_discounts = ZERO  # `DESCUENTOS -26,00` repeating the item discounts
                return "discounts summary (already counted)"
            self.discounts.append(amount)
            return "discount"
        if kind == "tax":
            if re.search(r"\b(inclu\w*|incl|contenido)\b", label):
                self.tax_included = True
            if label.lstrip(" *").startswith("total"):
                self.tax_total = amount
                return "tax (total of taxes)"
            self.taxes.append(amount)
            return "tax (included)" if self.tax_included else "tax"
        raise ValueError(kind)

    def line_discount(self, value: Decimal, index: int = -1) -> bool:
        """A discount printed among the items that belongs to one line (the one above, or
        the one it names): that line's amount becomes what was paid for it. It still counts
        in the receipt's `discount`."""
        amount = abs(value)
        if not self.lines or not amount or amount > self.lines[index].amount:
            return False
        line = self.lines[index]
        self.lines[index] = replace(line, amount=line.amount - amount,
                                    discount=line.discount + amount)
        self.line_discounts += amount
        if self.subtotal is None:
            self.item_discounts += amount  # so a DESCUENTOS summary is not counted again
        self.discounts.append(amount)
        return True

    def coupon(self, code: str, value: Decimal | None) -> str:
        self.pending_coupon = None
        if value is None:
            self.pending_coupon = code
            return "coupon code"
        self.coupons.append(Coupon(code or "?", abs(value)))
        return "coupon"

    def void_line(self, value: Decimal) -> bool:
        """An item cancelled on the same ticket: drop the last item with that amount."""
        for index in range(len(self.lines) - 1, -1, -1):
            if self.lines[index].amount == abs(value):
                del self.lines[index]
                return True
        return False

    def receipt(
        self, *, kind: Kind, number: str | None, issued_at: datetime | None, customer: Customer
    ) -> Receipt:
        late = sum(self.late_discounts, ZERO)
        if late and self.total is not None and self.total - late in self.later_totals:
            self.total -= late  # TOTAL, a discount, then the amount to pay: the last one counts
            self.discounts.extend(self.late_discounts)
            self.late_discounts = []
        discount = sum(self.discounts, ZERO) + sum((c.amount for c in self.coupons), ZERO)
        discount += sum(self.late_discounts, ZERO)
        tax = self.tax_total if self.tax_total is not None else sum(self.taxes, ZERO)
        warnings = list(self.warnings)
        if self.total is None and kind != "void":
            self._total_by_arithmetic(discount - self.line_discounts, warnings)
        reconciled = self._reconcile(discount, tax, [], kind) or self._drop_breaking(
            discount, tax, warnings)
        if not reconciled:
            self._reconcile(discount, tax, warnings, kind)
        payments = list(self.payments)
        if not payments and self.total is not None:
            if self.pending_methods:
                payments.append(Payment(self.pending_methods[0], self.total))
            elif self.tendered is not None:
                payments.append(Payment("efectivo", self.tendered))
        return Receipt(
            kind=kind,
            number=number,
            issued_at=issued_at,
            currency=self.currency,
            lines=tuple(self.lines),
            subtotal=self.subtotal,
            discount=discount,
            tax=tax,
            total=self.total,
            payments=tuple(payments),
            coupons=tuple(self.coupons),
            customer=customer,
            warnings=tuple(warnings),
            reconciled=reconciled,
        )

    def _total_by_arithmetic(self, reduction: Decimal, warnings: list[str]) -> None:
        """No labelled total: the first line that the lines above it add up to is one."""
        index = total_line([line.amount for line in self.lines], reduction)
        if index is not None:
            self.total = self.lines[index].amount
            del self.lines[index:]  # below the total: payments and change, not items
            warnings.append("total found by the arithmetic (its label is not known)")

    def _drop_breaking(self, discount: Decimal, tax: Decimal, warnings: list[str]) -> bool:
        """Lines that break the sum are not items: drop the fewest that make it add up."""
        if self.total is None or not self.lines:
            return False
        base = (self.total + discount - self.line_discounts - sum(self.late_discounts, ZERO)
                - sum(self.adjustments, ZERO))
        amounts = [line.amount for line in self.lines]
        for target in (base, base - tax) if tax else (base,):
            drop = breaking_lines(amounts, target)
            if drop is not None and len(drop) < len(amounts):
                kept = list(self.lines)
                for i in reversed(drop):
                    del self.lines[i]
                if self._reconcile(discount, tax, [], "sale"):
                    dropped = ", ".join(money(amounts[i]) for i in drop)
                    warnings.append(f"not items, they break the sum: {dropped}")
                    return True
                self.lines = kept
        return False

    def _reconcile(self, discount: Decimal, tax: Decimal, warnings: list[str], kind: Kind) -> bool:
        if self.total is None:
            if kind != "void":
                warnings.append("no total found")
            return False
        if not self.lines:
            warnings.append("no item lines found")
            return False
        items = sum((line.amount for line in self.lines), ZERO)  # net of line discounts
        # A discount printed after the total (and no new total) is already inside it.
        net = (items - discount + self.line_discounts + sum(self.late_discounts, ZERO)
               + sum(self.adjustments, ZERO))
        gross = items + self.line_discounts
        if self.subtotal is not None and self.subtotal not in (items, net, gross):
            warnings.append(
                f"subtotal {money(self.subtotal)} differs from the lines ({money(items)})"
            )
        # Included first: a tax printed as information must not be added again.
        candidates = [net, net + tax] if self.tax_included or not tax else [net + tax, net]
        if self.total in candidates:
            return True
        warnings.append(
            f"lines add up to {money(items)} (discount {money(discount)}, tax {money(tax)}) "
            f"but the total is {money(self.total)}"
        )
        return False
