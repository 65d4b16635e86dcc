"""The events of a sale (pure), shaped as Hellotext's own integrations send them.

`events.model = "actions"`: one payment event and one `product.purchased` per line;
`"orders"`: one `order.confirmed` carrying the order to create first (agent.sales.orders).
Either way one `coupon.redeemed` per coupon with a code; a refund gives `refund.received`;
a void gives nothing. `events.revenue` puts the sale's money on the payment event or on the
products, never on both (Hellotext's reports add up every event's amount).

Ids are UUIDv5 over the terminal's receipt key and the event's place in the receipt, so a
receipt seen twice (replay, restart, reprint) yields the same ids and the outbox stores it once.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from agent.delivery.events import Event, Metadata, stable_event_id
from agent.sales.checkout import Sale, SaleLine, slug
from agent.sales.orders import order_spec, unit_price
from drivers.scanners.barcodes import Unknown

UNREAD_CODE = "?"  # what the receipt reader keeps for a coupon line whose code it could not read


@dataclass(frozen=True, slots=True)
class SalePolicy:
    store_id: str
    currency: str
    source: str
    payment_action: str
    unidentified: str  # "session" | "local"
    revenue: Literal["payment", "products"] = "payment"
    model: Literal["actions", "orders"] = "actions"
    order_delivery: str = "collect"
    coupon_pattern: str = ""  # a scanned code matching it is a coupon code
    coupon_description: str = "Cupón {code}"
    coupon_url: str = ""


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

    qr = True if receipt_qr else None
    if receipt.kind == "refund":
        # As Hellotext's WooCommerce plugin sends it: the money inside the refund object, no
        # event amount (a refund is not revenue). A till's refund receipt does not name the
        # sale it refunds, so it cannot point at that sale's order.
        refund = {
            "reference": receipt.number or _short(sale.key),
            "source": policy.source,
            "amount": abs(total),
            "currency": currency,
            "total": {"amount": abs(total), "currency": currency},
        }
        meta = {**base_meta, "item_count": len(sale.lines), "receipt_qr": qr}
        event = make("refund", "refund.received", object_parameters=refund, metadata=meta)
        return SaleEvents((event,), hold=hold)

    codes, unread = coupon_codes(sale, policy.coupon_pattern)
    methods = sorted({p.method for p in receipt.payments})
    meta = {
        **base_meta,
        "payment_methods": ",".join(methods) or None,
        "item_count": len(sale.lines),
        "reconciled": receipt.reconciled,
        "receipt_qr": qr,
        "coupons_unread": unread or None,  # coupon lines without a code: no coupon event
    }
    events: list[Event] = []
    if policy.model == "orders":
        # The money on the order event; the order's items carry the line prices (the order
        # object, not an event); no product.purchased (tracking-events.md: prefer orders).
        order = order_spec(sale, policy.source, currency, policy.order_delivery, base_meta)
        events.append(
            make("order", "order.confirmed", order=order, amount=total, currency=currency,
                 metadata=meta)
        )  # fmt: skip
    else:
        money = {"amount": total, "currency": currency} if policy.revenue == "payment" else {}
        events.append(make("payment", policy.payment_action, **money, metadata=meta))
        for index, line in enumerate(sale.lines):
            fields = _line_fields(line, currency, policy)
            fields["metadata"] = {**base_meta, **fields["metadata"]}
            events.append(make(f"line:{index}", "product.purchased", **fields))
    for index, (code, discount) in enumerate(codes):
        coupon: dict[str, Any] = {
            "type": "coupon",
            "reference": code,
            "code": code,
            "description": policy.coupon_description.format(code=code),
        }
        if policy.coupon_url:
            coupon["destination_url"] = policy.coupon_url.format(code=code)
        # No event amount: the discount is not revenue (it stays in metadata).
        meta = {**base_meta, "discount": str(discount)}
        events.append(make(f"coupon:{index}", "coupon.redeemed", object_parameters=coupon,
                           metadata=meta))  # fmt: skip
    return SaleEvents(tuple(events), hold=hold)


def coupon_codes(sale: Sale, pattern: str) -> tuple[list[tuple[str, Decimal]], int]:
    """(code, discount) for each coupon line with a code, and how many have none. A line whose
    code the receipt did not show takes a coupon code scanned in its checkout (matching
    `pattern`) when the unread lines and the unused scanned codes pair one-to-one. A scanned
    coupon with no coupon line is not a redemption: the receipt shows none was applied."""
    coupons = sale.receipt.coupons
    printed = {c.code for c in coupons if c.code != UNREAD_CODE}
    scanned: list[str] = []
    if pattern:
        for s in sale.scans:
            code = s.meaning.code.strip() if isinstance(s.meaning, Unknown) else ""
            if code and re.fullmatch(pattern, code) and code not in printed | set(scanned):
                scanned.append(code)
    unread = [i for i, c in enumerate(coupons) if c.code == UNREAD_CODE]
    fill = dict(zip(unread, scanned, strict=True)) if len(unread) == len(scanned) else {}
    found: list[tuple[str, Decimal]] = []
    for index, coupon in enumerate(coupons):
        code = fill.get(index, coupon.code)
        if code != UNREAD_CODE:
            found.append((code, abs(coupon.amount)))
    return found, len(coupons) - len(found)


def _line_fields(line: SaleLine, currency: str, policy: SalePolicy) -> dict[str, Any]:
    item = line.line
    params: dict[str, Any] = {
        "name": item.description,
        "reference": line.code or slug(item.description),
        "source": policy.source,
        "price": {"amount": unit_price(line), "currency": currency},
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
    fields: dict[str, Any] = {"object_parameters": params, "metadata": meta}
    if policy.revenue == "products":
        fields.update(amount=abs(item.amount), currency=currency)
    return fields


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
