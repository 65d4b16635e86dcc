"""A sale as a Hellotext order (pure): what `POST /v1/attribution/orders` needs, and the
products it references (`events.model = "orders"`).

Shapes from Hellotext's help (developers/orders-with-api.md, products-and-inventory-with-api.md):
an order has a stable `reference` and `source`, a `delivery`, and `items` of `{product,
quantity, price {amount, currency}}`; each item names a product that already exists in
Hellotext, so each carries the product to create first (`name`, `reference`, `source`,
`sku`, `price`). The delivery side (agent.delivery.orders) creates them, then the order.

Quantities must be positive whole numbers ("Use positive whole quantities"): a weighed line
(1.234 kg) becomes quantity 1 at the price charged for it. A product repeated at one price
is one item with its quantity ("Combine a repeated product into one line").
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from agent.delivery.events import Metadata, stable_event_id
from agent.sales.checkout import Sale, SaleLine, slug

CENTS = Decimal("0.01")


def order_reference(sale: Sale) -> str:
    """The sale's stable id as the order's reference: a replayed receipt names the same order."""
    return stable_event_id(sale.key, "order-reference")


def unit_price(line: SaleLine) -> Decimal:
    """The printed unit price, else the line's amount over its quantity."""
    item = line.line
    if item.unit_price is not None:
        return item.unit_price
    if item.quantity and item.quantity != 1:
        return (item.gross_amount / item.quantity).quantize(CENTS)
    return item.gross_amount


def order_spec(
    sale: Sale, source: str, currency: str, delivery: str, meta: Metadata
) -> dict[str, Any]:
    """The order to create for `sale` (stored with its order.confirmed event)."""
    items: list[dict[str, Any]] = []
    by_key: dict[tuple[str, Decimal], dict[str, Any]] = {}
    for line in sale.lines:
        quantity, price = _charged(line)
        product: dict[str, Any] = {
            "name": line.line.description,
            "reference": line.code or slug(line.line.description),
            "source": source,
            "price": {"amount": unit_price(line), "currency": currency},
        }
        if line.code:
            product["sku"] = line.code
        key = (product["reference"], price)
        if key in by_key:
            by_key[key]["quantity"] += quantity
            continue
        item = {"product": product, "quantity": quantity,
                "price": {"amount": price, "currency": currency}}  # fmt: skip
        by_key[key] = item
        items.append(item)
    spec: dict[str, Any] = {
        "reference": order_reference(sale),
        "source": source,
        "delivery": delivery,
        "items": items,
        "metadata": {k: v for k, v in meta.items() if v is not None},
    }
    if sale.receipt.number:
        spec["name"] = f"Ticket {sale.receipt.number}"
    return spec


def _charged(line: SaleLine) -> tuple[int, Decimal]:
    """(whole quantity, unit price charged, net of the line's discount)."""
    item = line.line
    amount = abs(item.amount)
    quantity = item.quantity
    if quantity > 0 and quantity == quantity.to_integral_value():
        whole = int(quantity)
        return whole, (amount / whole).quantize(CENTS)
    return 1, amount
