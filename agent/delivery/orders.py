"""The order flow (`events.model = "orders"`): before an `order.confirmed` goes, its order
exists in Hellotext, and its id is kept in the outbox.

Hellotext's help (orders-with-api.md) asks for: the products of the items already in
Hellotext, the order created once (`POST /v1/attribution/orders`, stable `reference` and
`source`), its returned id kept, then the lifecycle event with `object: ORDER_ID`. There is no
idempotency key; "a duplicate unique reference, code, or SKU" is a 422
(troubleshoot-custom-integration.md). So, per event:

1. The order id already in the outbox's `objects` table (a retry, a restart, a crash after
   the order and before its event): use it, create nothing.
2. Each item's product: its id (or reference) from `objects`, else `POST .../products`; a 422
   on `reference`/`sku` means it exists already, and the item names it by that reference or
   SKU (the API accepts "its Hellotext ID, reference, or SKU").
3. `POST .../orders`; the id is written to `objects` before the event is sent. A 422 on
   `reference` means an earlier attempt created it and its answer was lost: the order list is
   read page by page for that reference and source ("reconcile the paginated order list with
   source and reference"; no list filter is documented).

Any other answer is the event's outcome (park, pause, retry), exactly as for the event itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from agent.delivery import errorbody
from agent.delivery.events import Event
from agent.delivery.hellotext import HellotextClient, Outcome, Park, Retry, Sent
from agent.delivery.outbox import Outbox
from agent.delivery.profiles import LOCAL_STATUS

log = logging.getLogger("agent.orders")

MAX_PAGES = 50  # order list pages read to find a lost answer's order (20 a page: 1,000)
GET_ID = "SELECT object_id FROM objects WHERE kind = ? AND key = ?"
PUT_ID = (
    "INSERT INTO objects (kind, key, object_id, updated_at) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (kind, key) DO UPDATE SET object_id = excluded.object_id,"
    " updated_at = excluded.updated_at"
)


def taken(body: str, *names: str) -> str | None:
    """The parameter a 422 says is already taken (`invalid:reference`), among `names`."""
    for item in errorbody.summary(body).split(","):
        parameter = item.partition(":")[2]
        if parameter in names:
            return parameter
    return None


class OrderFlow:
    """Creates (once) the order an event points at. Shares the sync engine's outbox."""

    def __init__(self, outbox: Outbox, client: HellotextClient, clock: Callable[[], float]):
        self._outbox = outbox
        self._client = client
        self._clock = clock

    def known(self, kind: str, key: str) -> str | None:
        def read(conn: Any) -> Any:
            return conn.execute(GET_ID, (kind, key)).fetchone()

        found = self._outbox.transaction("reading an order id", read)
        return None if found is None else str(found[0])

    def _keep(self, kind: str, key: str, object_id: str) -> None:
        row = (kind, key, object_id, self._clock())
        self._outbox.transaction("saving an order id", lambda c: c.execute(PUT_ID, row))

    def order_id(self, event: Event, *, attempt: int) -> str | Outcome:
        """The Hellotext id of `event.order`, created if need be; else why not (an Outcome)."""
        spec = event.order
        if spec is None:
            raise ValueError("the event has no order")
        key = f"{spec['source']}|{spec['reference']}"
        if (found := self.known("order", key)) is not None:
            return found
        items = []
        for item in spec["items"]:
            product = self._product(item["product"], event.id, attempt)
            if not isinstance(product, str):
                return product
            items.append({"product": product, "quantity": item["quantity"],
                          "price": item["price"]})  # fmt: skip
        body = {**{k: v for k, v in spec.items() if k != "items"}, "items": items}
        outcome = self._client.create_order(body, event_id=event.id, attempt=attempt)
        if isinstance(outcome, Park) and outcome.status == 422 and taken(outcome.body, "reference"):
            outcome = self._reconcile(spec, event.id, outcome)
        if not isinstance(outcome, Sent):
            return outcome
        order_id = outcome.data.get("id")
        if not isinstance(order_id, str) or not order_id:
            return Retry(outcome.status, "the order's answer has no id", wrong_answer=True,
                         maybe_delivered=True)  # fmt: skip
        self._keep("order", key, order_id)
        return order_id

    def body(self, event: Event, *, profile: str | None, attempt: int) -> bytes | Outcome:
        """The event's wire body, its order created first when it has one."""
        if event.order is None:
            return event.body_json(profile=profile)
        try:
            order_id = self.order_id(event, attempt=attempt)
        except (KeyError, TypeError, AttributeError) as exc:  # a stored order hand-edited
            return Park(LOCAL_STATUS, f"the event's order is malformed ({exc!r})")
        return event.body_json(profile=profile, order_id=order_id) if isinstance(order_id, str) \
            else order_id

    def _product(self, product: dict[str, Any], event_id: str, attempt: int) -> str | Outcome:
        """What the order item names the product by: its id, else its reference or SKU."""
        key = f"{product['source']}|{product['reference']}"
        if (found := self.known("product", key)) is not None:
            return found
        outcome = self._client.create_product(product, event_id=event_id, attempt=attempt)
        if isinstance(outcome, Sent):
            named = outcome.data.get("id")
            if not isinstance(named, str) or not named:
                named = product["reference"]
        elif isinstance(outcome, Park) and outcome.status == 422:
            which = taken(outcome.body, "reference", "sku")
            if which is None:
                return outcome
            named = str(product[which])  # already in Hellotext: named as it was found
        else:
            return outcome
        self._keep("product", key, named)
        return named

    def _reconcile(self, spec: dict[str, Any], event_id: str, refused: Park) -> Outcome:
        """The order the list holds for this reference and source, as if just created."""
        for page in range(1, MAX_PAGES + 1):
            outcome = self._client.list_orders(page, event_id=event_id)
            if not isinstance(outcome, Sent):
                return outcome
            data = outcome.data.get("data")
            if not isinstance(data, list) or not data:
                break
            for order in data:
                if not isinstance(order, dict):
                    continue
                if (order.get("reference"), order.get("source")) == (
                    spec["reference"], spec["source"]
                ):
                    log.info("order %s existed already (an answer was lost): reusing it",
                             spec["reference"])  # fmt: skip
                    return Sent(outcome.status, {"id": order.get("id")})
        return refused
