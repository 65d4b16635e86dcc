"""The events of a sale (pure): one payment event, one `product.purchased` per line, one
`coupon.redeemed` per coupon; a refund gives `refund.received`; a void gives nothing.

Ids are UUIDv5 over the terminal's receipt key and the event's place in the receipt, so a
receipt seen twice (replay, restart, reprint) yields the same ids and the outbox stores it once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from agent.delivery.events import Event, Metadata, stable_event_id
from agent.sales.checkout import Sale, SaleLine, slug


@dataclass(frozen=True, slots=True)
class SalePolicy:
    store_id: str
    currency: str
    source: str
    payment_action: str
    unidentified: str  # "session" | "local"


@dataclass(frozen=True, slots=True)
class SaleEvents:
    events: tuple[Event, ...]
    hold: bool  # store.unidentified = "local" and nobody identified: keep, never send
    reason: str = ""  # why there are no events (void)


def events_for_sale(sale: Sale, policy: SalePolicy, *, receipt_qr: bool = False) -> SaleEvents:
    """`receipt_qr`: the printer printed the `[printer.append]` QR block on this receipt
    (the payment or refund event says so)."""
    receipt = sale.receipt
    if receipt.kind == "void":
        return SaleEvents((), hold=False, reason="void receipt: nothing to track")
    identity, hold = _identity(sale, policy)
    currency = receipt.currency or policy.currency
    total = receipt.total if receipt.total is not None else Decimal(0)
    base_meta: Metadata = {
        "receipt_number": receipt.number,
        "terminal": sale.terminal_id,
        "store": policy.store_id or None,
    }
    if sale.identity.loyalty:
        base_meta["loyalty_card"] = sale.identity.loyalty

    def make(part: str, action: str, **fields: Any) -> Event:
        meta = fields.pop("metadata", {})
        fields["metadata"] = {k: v for k, v in meta.items() if v is not None}
        return Event(
            id=stable_event_id(sale.key, part),
            action=action,
            tracked_at=sale.occurred_at,
            **identity,
            **fields,
        )

    events: list[Event] = []
    if receipt.kind == "refund":
        events.append(
            make(
                "refund",
                "refund.received",
                object_parameters={
                    "reference": receipt.number or _short(sale.key),
                    "source": policy.source,
                    "name": f"Devolución {receipt.number or ''}".strip(),
                },
                amount=abs(total),
                currency=currency,
                metadata={
                    **base_meta,
                    "item_count": len(sale.lines),
                    "receipt_qr": True if receipt_qr else None,
                },
            )
        )
        return SaleEvents(tuple(events), hold=hold)

    methods = sorted({p.method for p in receipt.payments})
    events.append(
        make(
            "payment",
            policy.payment_action,
            amount=total,
            currency=currency,
            metadata={
                **base_meta,
                "payment_methods": ",".join(methods) or None,
                "item_count": len(sale.lines),
                "reconciled": receipt.reconciled,
                "receipt_qr": True if receipt_qr else None,
            },
        )
    )
    for index, line in enumerate(sale.lines):
        fields = _line_fields(line, currency, policy)
        fields["metadata"] = {**base_meta, **fields["metadata"]}
        events.append(make(f"line:{index}", "product.purchased", **fields))
    for index, coupon in enumerate(receipt.coupons):
        events.append(
            make(
                f"coupon:{index}",
                "coupon.redeemed",
                object_parameters={
                    "reference": coupon.code,
                    "source": policy.source,
                    "name": coupon.code,
                },
                amount=abs(coupon.amount),
                currency=currency,
                metadata=dict(base_meta),
            )
        )
    return SaleEvents(tuple(events), hold=hold)


def _line_fields(line: SaleLine, currency: str, policy: SalePolicy) -> dict[str, Any]:
    item = line.line
    unit_price = item.unit_price if item.unit_price is not None else _unit(item.gross_amount, item)
    params: dict[str, Any] = {
        "name": item.description,
        "reference": line.code or slug(item.description),
        "source": policy.source,
        "price": {"amount": str(unit_price), "currency": currency},
    }
    if line.code:
        params["sku"] = line.code
    meta: Metadata = {"quantity": str(item.quantity)}
    if item.unit:
        meta["unit"] = item.unit
    if line.weight is not None:
        meta["weight_kg"] = str(line.weight)
    if line.scale_price is not None:
        meta["scale_price"] = str(line.scale_price)
    if item.discount:  # `amount` is what was paid: net of the discount printed under it
        meta["discount"] = str(item.discount)
        meta["gross_amount"] = str(item.gross_amount)
    return {
        "object_parameters": params,
        "amount": abs(item.amount),
        "currency": currency,
        "metadata": meta,
    }


def _unit(amount: Decimal, item: Any) -> Decimal:
    quantity: Decimal = item.quantity
    if quantity and quantity != 1:
        return (amount / quantity).quantize(Decimal("0.01"))
    return amount


def _identity(sale: Sale, policy: SalePolicy) -> tuple[dict[str, str], bool]:
    who = sale.identity
    if who.session:
        return {"session": who.session}, False
    if who.phone or who.email:  # resolved to one profile when sent (one request for both)
        contact = {"phone": who.phone, "email": who.email}
        return {k: v for k, v in contact.items() if v}, False
    if who.loyalty:
        # No Hellotext look-up by loyalty number exists: a session derived from the card keeps
        # one card's visits together.
        return {"session": anonymous_session("loyalty", policy.store_id, who.loyalty)}, False
    # Nobody identified: a session of its own, held locally when the store asked for that.
    return {"session": anonymous_session("sale", sale.key)}, policy.unidentified == "local"


def anonymous_session(*parts: str) -> str:
    """A session id shaped like Hellotext's own (hellotext.js uses crypto.randomUUID()): a
    UUID, derived from the sale (or card) so a receipt seen twice keeps its session."""
    return stable_event_id("session", *parts)


def _short(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]
