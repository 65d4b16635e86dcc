"""Hellotext's products and orders, as the stand-in keeps them (`events.model = "orders"`).

  POST /v1/attribution/products   name required; a reference (per source) or SKU already
                                  taken is a 422 (troubleshoot-custom-integration.md: "A
                                  duplicate unique reference, code, or SKU")
  POST /v1/attribution/orders     delivery ("deliver" | "collect") and items required; each
                                  item names an existing product by id, reference or SKU,
                                  with a positive whole quantity; a reference already taken
                                  in that source is a 422: the server's only deduplication
  GET  /v1/attribution/orders     {"data": [...]}, `?page=N` (1-based), 20 a page *inferred*
  GET  /v1/attribution/orders/ID  the order, with its items and computed `total`

Shapes from orders-with-api.md and products-and-inventory-with-api.md; errors in Hellotext's
shape (`agent.standin.rules.error_body`).
"""

from __future__ import annotations

import random
import threading
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

from agent.standin.http import Reply
from agent.standin.rules import Rejection, check_money, error_body, profile_id

__all__ = ["OBJECT_PATHS", "Objects", "route"]

OBJECT_PATHS = ("/v1/attribution/products", "/v1/attribution/orders")
PAGE_SIZE = 20
DELIVERIES = ("deliver", "collect")  # orders-with-api.md: deliver, or collect for collection


class Objects:
    """Products and orders of the stand-in's one business. Thread-safe."""

    def __init__(self, seed: int | None = None) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self.products: dict[str, dict[str, Any]] = {}
        self.orders: dict[str, dict[str, Any]] = {}
        self.order_posts = 0  # POST /orders requests, refused ones included

    def _new_id(self, taken: dict[str, Any]) -> str:
        while (found := profile_id(self._rng.choice)) in taken:
            pass
        return found

    def has_order(self, order_id: str) -> bool:
        with self._lock:
            return order_id in self.orders

    def create_product(self, body: Any) -> Reply:
        try:
            fields = _product_fields(body)
            with self._lock:
                for key in ("reference", "sku"):
                    value = fields.get(key)
                    if value is not None and self._product(value, fields.get("source")):
                        raise Rejection(422, "invalid", f"{key} has already been taken", key)
                pid = self._new_id(self.products)
                self.products[pid] = {"id": pid, **fields}
                return Reply(200, dict(self.products[pid]))
        except Rejection as exc:
            return Reply(exc.status, exc.body)

    def _product(self, ident: str, source: Any = None) -> dict[str, Any] | None:
        """By Hellotext id, reference (in `source`, when given) or SKU."""
        if ident in self.products:
            return self.products[ident]
        for product in self.products.values():
            same_source = source is None or product.get("source") == source
            if (product.get("reference") == ident and same_source) or product.get("sku") == ident:
                return product
        return None

    def create_order(self, body: Any) -> Reply:
        with self._lock:
            self.order_posts += 1
            try:
                order = self._order_fields(body)
            except Rejection as exc:
                return Reply(exc.status, exc.body)
            for other in self.orders.values():
                if (other["reference"], other["source"]) == (order["reference"], order["source"]):
                    msg = "reference has already been taken"
                    return Reply(422, error_body("invalid", msg, "reference"))
            oid = self._new_id(self.orders)
            self.orders[oid] = {"id": oid, **order}
            return Reply(200, dict(self.orders[oid]))

    def _order_fields(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise Rejection(400, "invalid", "the body must be a JSON object", None)
        for key in ("reference", "source", "delivery"):
            _required(body, key)
        if body["delivery"] not in DELIVERIES:
            raise Rejection(422, "invalid", "delivery must be deliver or collect", "delivery")
        items = body.get("items")
        if not isinstance(items, list) or not items:
            raise Rejection(422, "parameter_missing", "items are required", "items")
        total = Decimal(0)
        currency = None
        stored = []
        for index, item in enumerate(items):
            where = f"items[{index}]"
            if not isinstance(item, dict):
                raise Rejection(422, "invalid", f"{where} must be an object", where)
            ident = item.get("product")
            if not isinstance(ident, str) or not ident:
                msg = "each item requires a product or variant identifier"
                raise Rejection(422, "parameter_missing", msg, f"{where}.product")
            product = self._product(ident)
            if product is None:
                raise Rejection(422, "not_found", "product does not exist", f"{where}.product")
            quantity = item.get("quantity")
            if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
                msg = "quantity must be a positive whole number"
                raise Rejection(422, "invalid", msg, f"{where}.quantity")
            price = item.get("price") or product.get("price")
            _price(price, f"{where}.price")
            if price is not None:
                total += Decimal(str(price["amount"])) * quantity
                currency = currency or price["currency"]
            stored.append({"id": profile_id(self._rng.choice), "product": product["id"],
                           "quantity": quantity, "price": price})  # fmt: skip
        fields = {k: body[k] for k in ("reference", "source", "delivery")}
        fields.update({k: body[k] for k in ("name", "metadata") if k in body})
        fields["items"] = stored
        fields["total"] = {"amount": float(total), "currency": currency}
        return fields

    def list_orders(self, page: int) -> Reply:
        with self._lock:
            orders = list(self.orders.values())
        start = (max(page, 1) - 1) * PAGE_SIZE
        return Reply(200, {"data": [dict(o) for o in orders[start : start + PAGE_SIZE]]})

    def get_order(self, order_id: str) -> Reply:
        with self._lock:
            order = self.orders.get(order_id)
        if order is None:
            return Reply(404, error_body("not_found", "order does not exist", "id"))
        return Reply(200, dict(order))


def route(objects: Objects, method: str, path: str, query: str, body: Any) -> Reply:
    """The products and orders endpoints (`path` under OBJECT_PATHS)."""
    if method == "POST" and path == OBJECT_PATHS[0]:
        return objects.create_product(body)
    if method == "POST" and path == OBJECT_PATHS[1]:
        return objects.create_order(body)
    if method == "GET" and path == OBJECT_PATHS[1]:
        page = parse_qs(query).get("page", ["1"])[-1]
        return objects.list_orders(int(page) if page.isdigit() else 1)
    if method == "GET" and path.startswith(OBJECT_PATHS[1] + "/") and path.count("/") == 4:
        return objects.get_order(path.rsplit("/", 1)[1])
    return Reply(404, error_body("not_found", f"no endpoint {method} {path}"))


def _required(body: dict[str, Any], key: str) -> None:
    value = body.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise Rejection(422, "parameter_missing", f"{key} is required", key)


def _product_fields(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise Rejection(400, "invalid", "the body must be a JSON object", None)
    _required(body, "name")  # products-and-inventory-with-api.md: "The product name is required"
    _price(body.get("price"), "price")
    return dict(body)


def _price(price: Any, where: str) -> None:
    if price is None:
        return
    if not isinstance(price, dict) or price.get("amount") is None:
        raise Rejection(422, "invalid", f"{where} must be {{amount, currency}}", where)
    try:
        check_money(price)
    except Rejection as exc:
        exc.body["errors"][0]["parameter"] = f"{where}.{exc.body['errors'][0]['parameter']}"
        raise
    if price.get("currency") is None:
        raise Rejection(422, "parameter_missing", "currency is required", f"{where}.currency")
