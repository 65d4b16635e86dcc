"""Decode throughput of drivers/escpos/decoder.py: the real captures repeated to about 2 MB, a
text-heavy corpus of python-escpos receipts (about 2 MB), and 1 MB against 10 MB of input.

    uv run python benchmarks/escpos.py
"""

from __future__ import annotations

import gc
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)  # this script is named escpos.py: keep python-escpos importable

from drivers.escpos.decoder import EscposDecoder  # noqa: E402
from drivers.escpos.select import AutoDecoder, Decoder  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "escpos"
MB = 1_000_000


def repeat_to(data: bytes, size: int) -> bytes:
    return data * (size // len(data) + 1)


def fixture_corpus() -> bytes:
    return b"".join(p.read_bytes() for p in sorted(FIXTURES.glob("*.bin")))


def text_corpus(target: int) -> bytes:
    """Receipts as a POS prints them with python-escpos: header, items, totals, cut."""
    import logging

    logging.disable(logging.WARNING)
    from escpos.printer import Dummy

    rnd = random.Random(7)
    words = ["Yerba", "Leche", "Pan", "Café", "Azúcar", "Arroz", "Aceite", "Jabón", "Queso",
             "Manzana", "Tomate", "Galletas", "Agua", "Vino", "Fideos", "Harina"]
    jobs: list[bytes] = []
    size = 0
    while size < target:
        p = Dummy()
        p.charcode("CP858")
        p.set(align="center", bold=True, double_height=True)
        p.text("SUPERMERCADO EL ÑANDÚ\n")
        p.set(align="left", bold=False, double_height=False)
        p.text("RUT 21 123456 0019  Tel 2901 2345\nTicket 0001-00001234  20/11/2026 14:03\n")
        p.text("-" * 42 + "\n")
        total = 0
        for _ in range(rnd.randint(5, 25)):
            qty, price = rnd.randint(1, 4), rnd.randint(10, 900)
            total += qty * price
            name = f"{rnd.choice(words)} {rnd.choice(words).lower()}"
            p.text(f"{qty} x {price},00\n{name:<30}{qty * price:>10},00\n")
        p.set(bold=True)
        p.text(f"TOTAL{total:>33},00 €\n")
        p.set(bold=False)
        p.text("EFECTIVO\t\t" + f"{total},00\nGracias por su compra\n")
        p.cut()
        jobs.append(p.output)
        size += len(p.output)
    return b"".join(jobs)


def decode_seconds(data: bytes, chunk: int = 65536, runs: int = 5,
                   make: type[Decoder] = EscposDecoder) -> float:
    """Best of `runs`, in CPU seconds of this process: the figures should not depend on what
    else the (shared) machine is doing."""
    best = float("inf")
    for _ in range(runs):
        decoder = make()
        started = time.process_time()
        for pos in range(0, len(data), chunk):
            decoder.feed(data[pos : pos + chunk])
        decoder.flush()
        best = min(best, time.process_time() - started)
    return best


def main() -> None:
    fixtures = repeat_to(fixture_corpus(), 2 * MB)
    text = text_corpus(2 * MB)
    # python-escpos and Pillow leave a large heap behind; keep the collector from walking
    # it on every full collection so the figures measure the decoder, not this harness
    gc.collect()
    gc.freeze()
    for name, data in (("fixture corpus", fixtures), ("text-heavy corpus", text)):
        seconds = decode_seconds(data)
        print(f"{name:18} {len(data) / MB:6.2f} MB  {seconds * 1000:8.1f} ms  "
              f"{len(data) / MB / seconds:7.1f} MB/s")
    # what the pipeline runs (command_set = "auto"): detection at each job's start
    corpus = b"".join(p.read_bytes() for p in sorted((ROOT / "tests" / "corpus").glob("*/*.bin")))
    for name, data in (("text, auto", text), ("6-encoder corpus", repeat_to(corpus, 2 * MB))):
        seconds = decode_seconds(data, make=AutoDecoder)
        print(f"{name:18} {len(data) / MB:6.2f} MB  {seconds * 1000:8.1f} ms  "
              f"{len(data) / MB / seconds:7.1f} MB/s   (AutoDecoder: ESC/POS or Star per job)")
    seconds = decode_seconds(text, chunk=64)
    print(f"{'text, 64 B chunks':18} {len(text) / MB:6.2f} MB  {seconds * 1000:8.1f} ms  "
          f"{len(text) / MB / seconds:7.1f} MB/s   (serial-port sized reads)")
    unit = fixture_corpus() + text[:200_000]
    small = unit * max(1, round(MB / len(unit)))  # about 1 MB, whole units
    large = small * 10  # exactly ten times the same bytes
    # fair comparison: each round decodes 10 x small (averaged) and 1 x large, so both
    # figures rest on the same amount of work and the same number of samples
    t1 = t10 = float("inf")
    for _ in range(3):
        t1 = min(t1, sum(decode_seconds(small, runs=1) for _ in range(10)) / 10)
        t10 = min(t10, decode_seconds(large, runs=1))
    print(f"{len(small) / MB:.2f} MB: {t1 * 1000:.1f} ms   {len(large) / MB:.2f} MB: "
          f"{t10 * 1000:.1f} ms   ratio {t10 / t1:.2f}x   (CPU time, 64 KiB chunks)")

if __name__ == "__main__":
    main()
