"""The demo's sale in the other model: `[events] model = "orders"`.

The main demo runs the default model (`tienda_fisica.pago` + `product.purchased`). Here one
bundled receipt goes the orders way, through the same code `run` uses (receipt reader, sale
events, outbox, sync engine, order flow) against a stand-in of its own: its products and the
order are created in Hellotext, then `order.confirmed` names the order; the receipt seen again
(a reprint, a restart) and the same sale from an outbox that forgot it still make one order.
"""

from __future__ import annotations

import time
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo

from agent.config import AgentConfig
from agent.delivery.hellotext import HellotextClient
from agent.delivery.outbox import Outbox
from agent.delivery.sync import Syncer
from agent.receipts import extract, load_template
from agent.sales.checkout import Checkout
from agent.sales.events import SalePolicy, events_for_sale
from agent.standin.server import FakeHellotext
from drivers.escpos.select import decode_all

SAMPLE = "supermercado.bin"
TOKEN = "demo-orders-token"


def _send(fake: FakeHellotext, path: Path, data: bytes) -> int:
    """The receipt's events into the outbox at `path`, then one sync pass; events sent."""
    doc = next(d for d in decode_all(data) if d.has_content)
    receipt = extract(doc, template=load_template("generic"), country="UY", currency="UYU")
    sale = Checkout("caja-demo").complete(
        receipt, now=time.time(), text="", local_zone=ZoneInfo("America/Montevideo")
    )
    policy = SalePolicy(store_id="demo", currency="UYU", source="tienda_fisica",
                        payment_action="tienda_fisica.pago", unidentified="session",
                        model="orders")  # fmt: skip
    config = AgentConfig(
        hellotext={"api_url": fake.url, "timeout_seconds": 3}, outbox={"path": path}
    )
    with Outbox(path, synchronous="normal") as outbox, HellotextClient(
        api_url=fake.url, token=TOKEN
    ) as client:
        outbox.add(list(events_for_sale(sale, policy).events), now=time.time())
        syncer = Syncer(outbox, client, config=config)
        try:
            return syncer.run_once().sent
        finally:
            syncer.close()


def orders_sale(tmp: Path) -> tuple[bool, str]:
    """(it worked, the line the demo prints)."""
    data = (resources.files("agent") / "samples" / SAMPLE).read_bytes()
    with FakeHellotext(token=TOKEN) as fake:
        sent = _send(fake, tmp / "orders.db", data)
        again = _send(fake, tmp / "orders.db", data)  # printed again: already in the outbox
        other = _send(fake, tmp / "forgot.db", data)  # an outbox that never saw it
        orders = list(fake.objects.orders.values())
        confirmed = [e for e in fake.events if e["action"] == "order.confirmed"]
        ok = (sent, again, other) == (1, 0, 1) and len(orders) == 1 and len(confirmed) == 2
        ok = ok and {e["object"] for e in confirmed} == {orders[0]["id"]}
        if not orders:
            return False, f'[events] model = "orders": no order was made ({fake.state()})'
        order = orders[0]
        line = (
            f'[events] model = "orders": receipt {SAMPLE} became order {order["id"]} '
            f"({len(order['items'])} items, {len(fake.objects.products)} products created, total "
            f"{order['total']['amount']:.2f} {order['total']['currency']}) and order.confirmed"
            f" ({confirmed[0]['amount']:.2f}); printed again and sent from a fresh outbox: "
            f"{len(orders)} order, {fake.objects.order_posts} create requests."
        )
        return ok, line
