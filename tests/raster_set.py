"""Raster receipts printed by a real encoder at the resolutions tills print: python-escpos's
`Escpos.image` in each of its implementations and densities, at 180 dpi (Epson TM-T88:
512 dots on 80 mm) and 203 dpi (most others: 576 / 384 dots).

    raster     bitImageRaster   GS v 0                    180/203 dpi both ways
    graphics   graphics         GS ( L 112 + 50           180/203 dpi both ways
    column24   bitImageColumn   ESC * 33 (24-dot double)  180/203 dpi both ways
    column24s  bitImageColumn   ESC * 32 (24-dot single)  across at half: 90/101 dpi
    column8d   bitImageColumn   ESC * 1  (8-dot double)   down at a third: 60/68 dpi
    column8s   bitImageColumn   ESC * 0  (8-dot single)   60/68 down, 90/101 across

A low-density mode prints each dot 2 dots wide / 3 rows tall, so a driver that uses one
renders its page at that coarser grid (the page is drawn at the printer's resolution and
box-filtered down, as rasterising at the device's resolution gives): the picture on paper
has the receipt's proportions, with fewer dots. Every receipt has a customer with a phone
and an e-mail, which OCR must read exactly.

`raster_set(seeds)` draws the receipts; `python tests/raster_set.py OUT_DIR [N]` writes jobs.
"""

from __future__ import annotations

import contextlib
import io
import random
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

from PIL import Image
from raster_receipts import FONTS, STORES, Sample, dithered_logo, receipt_lines, render

MODES = {  # name: (impl, high_density_vertical, high_density_horizontal)
    "raster": ("bitImageRaster", True, True),
    "graphics": ("graphics", True, True),
    "column24": ("bitImageColumn", True, True),
    "column24s": ("bitImageColumn", True, False),
    "column8d": ("bitImageColumn", False, True),
    "column8s": ("bitImageColumn", False, False),
}
PROFILES = {180: ("TM-T88V", (512, 360)), 203: ("TM-T20II", (576, 384))}  # dpi: profile, widths
CUT = b"\x1dVA\x00"


def device_page(page: Image.Image, sx: int, sy: int) -> Image.Image:
    """The page at a low-density mode's grid (`sx` x `sy` printer dots a dot), 1-bit."""
    if sx == sy == 1:
        return page
    size = ((page.width + sx - 1) // sx, (page.height + sy - 1) // sy)
    gray = page.convert("L").resize(size, Image.Resampling.BOX)
    # a quarter inked is a black dot: a rasteriser's dropout control keeps thin strokes
    return gray.point(lambda v: 0 if v < 192 else 255, "1")


def print_image(page: Image.Image, mode: str, dpi: int) -> bytes:
    """The print job python-escpos sends for `page` in `mode`, then a cut."""
    from escpos.printer import Dummy

    impl, high_v, high_h = MODES[mode]
    printer = Dummy(profile=PROFILES[dpi][0])
    printer.hw("INIT")
    with contextlib.redirect_stdout(io.StringIO()):  # python-escpos prints profile notes
        printer.image(page, impl=impl, high_density_vertical=high_v,
                      high_density_horizontal=high_h)
    return bytes(printer.output) + CUT


def raster_sample(seed: int, *, mode: str | None = None, dpi: int | None = None) -> Sample:
    """One receipt drawn from `seed`, printed as a picture in `mode` at `dpi`."""
    rng = random.Random(seed)
    mode = mode or rng.choice(sorted(MODES))
    dpi = dpi or rng.choice(sorted(PROFILES))
    store = rng.choice(sorted(STORES))
    _, country, currency, _ = STORES[store]
    width = rng.choice(PROFILES[dpi][1] + PROFILES[dpi][1][:1])
    narrow = width < 450
    cols = 32 if narrow else 42
    font = rng.choice(sorted(FONTS))
    size = rng.randint(18, 22) if narrow else rng.randint(20, 28)
    size = round(size * dpi / 203)  # the same printed size in fewer dots at 180 dpi
    lines, truth = receipt_lines(rng, store, cols, contacts=True)
    logo = dithered_logo(width, rng) if rng.random() < 0.5 else None
    page = render(lines, font=font, size=size, width=width, columns=cols, logo=logo)
    _, high_v, high_h = MODES[mode]
    low = device_page(page, 1 if high_h else 2, 1 if high_v else 3)
    job = print_image(low, mode, dpi)
    return Sample(job, truth, country, currency, font, size, width, f"{mode}@{dpi}",
                  tuple(lines))


def raster_set(seeds: Iterable[int]) -> Iterator[Sample]:
    """Every mode at both resolutions in turn, the rest of each receipt drawn from its seed."""
    combos = [(mode, dpi) for dpi in sorted(PROFILES) for mode in sorted(MODES)]
    for k, seed in enumerate(seeds):
        mode, dpi = combos[k % len(combos)]
        yield raster_sample(seed, mode=mode, dpi=dpi)


if __name__ == "__main__":  # write jobs to look at: OUT_DIR [N]
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    for s in raster_set(range(int(sys.argv[2]) if len(sys.argv) > 2 else 12)):
        name = f"{len(list(out.iterdir())):03d}-{s.encoding.replace('@', '-')}.bin"
        (out / name).write_bytes(s.job)
        print(name, s.font, s.size, s.width, s.truth.total, s.truth.email)
