"""Receipt extraction speed: receipts per second on the four store layouts (decoded once,
extracted many times), and the cost per line of pathological 1,000-character lines (so a
hostile print job cannot stall the reader). Prints figures; not a test.

    uv run python benchmarks/receipts.py
"""

from __future__ import annotations

import sys
import time
from decimal import Decimal
from pathlib import Path

# The repository root replaces this directory: benchmarks/escpos.py would shadow python-escpos.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

from agent.receipts import GENERIC, extract  # noqa: E402
from drivers.escpos.decoder import decode_all  # noqa: E402
from drivers.escpos.document import Document, TextLine  # noqa: E402
from tests.receipt_layouts import COUNTRY, CURRENCY, LAYOUTS, Item, ean13  # noqa: E402


def basket(n: int) -> list[Item]:
    return [
        Item(f"Producto número {i}", Decimal(1000 + 37 * i), Decimal(1 + i % 3),
             ean13(f"773{i:09d}"))
        for i in range(n)
    ]  # fmt: skip


def per_second(fn: object, seconds: float = 1.0) -> float:
    assert callable(fn)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn()
        count += 1
    return count / (time.perf_counter() - start)


def main() -> None:
    for layout, printer in LAYOUTS.items():
        for items in (5, 40):
            doc = decode_all(printer(basket(items)))[0]

            def run(doc: Document = doc, layout: str = layout) -> None:
                extract(doc, template=GENERIC, country=COUNTRY[layout], currency=CURRENCY[layout])

            rate = per_second(run)
            print(f"{layout:12} {items:3} items ({len(doc.lines):3} lines): {rate:8.0f} receipts/s")
    for name, line in (
        ("letters", "a " * 500),
        ("digits", "1 " * 500),
        ("amounts", "12,50 " * 166),
    ):
        doc = Document(lines=[TextLine(line)] * 100)
        start = time.perf_counter()
        extract(doc, template=GENERIC, country="UY", currency="UYU")
        ms = (time.perf_counter() - start) * 1000 / 100
        print(f"worst case: 1,000-char lines of {name:8} {ms:6.2f} ms per line")


if __name__ == "__main__":
    main()
