"""What a receipt says, as plain frozen values: the output of `agent.receipts.extract`.

Money is `Decimal` throughout; `to_json` writes it as strings with two decimals. Amounts of a
refund are stored positive: the `kind` says the money goes back to the customer.
`discount` is every reduction printed (discount lines and coupon lines); `coupons` lists the
coupon lines among them with their codes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from agent.receipts.numbers import money, quantity_text

Kind = Literal["sale", "refund", "void"]

PAYMENT_METHODS = (
    "efectivo",
    "tarjeta",
    "debito",
    "credito",
    "mercado_pago",
    "transferencia",
    "nequi",
    "daviplata",
    "yape",
    "plin",
    "pix",
    "cheque",
    "otro",
)


@dataclass(frozen=True)
class ReceiptLine:
    description: str
    quantity: Decimal
    unit_price: Decimal | None
    amount: Decimal
    code: str | None = None
    unit: str | None = None  # "kg" for weighed goods
    discount: Decimal = Decimal(0)  # printed right under the line; `amount` is net of it

    @property
    def gross_amount(self) -> Decimal:
        """What the line cost before its own discount."""
        return self.amount + self.discount

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "description": self.description,
            "quantity": quantity_text(self.quantity),
            "unit_price": None if self.unit_price is None else money(self.unit_price),
            "amount": money(self.amount),
            "code": self.code,
            "unit": self.unit,
        }
        if self.discount:
            out["discount"] = money(self.discount)
            out["gross_amount"] = money(self.gross_amount)
        return out


@dataclass(frozen=True)
class Payment:
    method: str  # one of PAYMENT_METHODS
    amount: Decimal

    def to_json(self) -> dict[str, Any]:
        return {"method": self.method, "amount": money(self.amount)}


@dataclass(frozen=True)
class Coupon:
    code: str
    amount: Decimal

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "amount": money(self.amount)}


@dataclass(frozen=True)
class Customer:
    phone: str | None = None  # E.164
    email: str | None = None
    document: str | None = None  # "DNI 12345678", "CI 1.234.567-8", "RFC XAXX010101000"

    def to_json(self) -> dict[str, Any]:
        return {"phone": self.phone, "email": self.email, "document": self.document}

    @property
    def empty(self) -> bool:
        return not (self.phone or self.email or self.document)


@dataclass(frozen=True)
class Receipt:
    kind: Kind
    number: str | None
    issued_at: datetime | None  # naive: local time as printed
    currency: str
    lines: tuple[ReceiptLine, ...]
    subtotal: Decimal | None
    discount: Decimal
    tax: Decimal
    total: Decimal | None
    payments: tuple[Payment, ...]
    coupons: tuple[Coupon, ...]
    customer: Customer = field(default_factory=Customer)
    warnings: tuple[str, ...] = ()
    reconciled: bool = False

    @property
    def ok(self) -> bool:
        """Read well enough to act on: a sale or refund with a total, or a void."""
        return self.kind == "void" or self.total is not None

    @property
    def problem(self) -> str | None:
        """Why the receipt is not `ok`, for a person."""
        if self.ok:
            return None
        return "; ".join(self.warnings) or "no total found"

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "number": self.number,
            "issued_at": self.issued_at.isoformat() if self.issued_at else None,
            "currency": self.currency,
            "subtotal": None if self.subtotal is None else money(self.subtotal),
            "discount": money(self.discount),
            "tax": money(self.tax),
            "total": None if self.total is None else money(self.total),
            "lines": [line.to_json() for line in self.lines],
            "payments": [payment.to_json() for payment in self.payments],
            "coupons": [coupon.to_json() for coupon in self.coupons],
            "customer": self.customer.to_json(),
            "reconciled": self.reconciled,
            "warnings": list(self.warnings),
        }
