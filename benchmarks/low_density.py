"""How much of a character survives a low-density `ESC *` picture: for the fonts and sizes
of the raster set (tests/raster_set.py), the pairs of characters a receipt's numbers and
e-mails hang on (6/8, 3/8, 0/8, i/l, e/c, ...) that print as the very same dots, or as dots
that differ in at most one, in each print mode. No OCR can tell apart two characters that
print alike; it reads them from context at best. Prints figures; not a test.

    uv run python benchmarks/low_density.py

Each character is drawn alone as the raster set draws a receipt (1-bit at the printer's
resolution, then taken to the mode's grid), at each of the mode's grid offsets (a line's text
falls anywhere on the 3-row grid of an 8-dot picture); a pair counts as alike at an offset
where both print alike.
"""

from __future__ import annotations

import sys
from pathlib import Path

# The repository root replaces this directory: benchmarks/escpos.py would shadow python-escpos.
sys.path[0] = str(Path(__file__).resolve().parent.parent)
sys.path.insert(1, str(Path(__file__).resolve().parent.parent / "tests"))

from PIL import Image, ImageChops, ImageDraw, ImageFont  # noqa: E402

from tests.raster_receipts import FONTS, font_path  # noqa: E402
from tests.raster_set import device_page  # noqa: E402

PAIRS = ["68", "38", "08", "06", "09", "35", "56", "il", "l1", "ec", "ea", "ao", "rn", ".,"]
MODES = {"full density": (1, 1), "24-dot single": (2, 1), "8-dot double": (1, 3),
         "8-dot single": (2, 3)}  # (dots across, rows down) per driver dot
SIZES = {180: range(16, 26), 203: range(18, 29)}  # the raster set's sizes in printer dots


def glyph(char: str, font: ImageFont.FreeTypeFont, size: int, oy: int, grid: tuple[int, int]
          ) -> Image.Image:
    page = Image.new("L", (size * 2, size * 2 + 3), 255)
    ImageDraw.Draw(page).text((size // 2, oy + size // 3), char, font=font, fill=0)
    return device_page(page.point(lambda v: 0 if v < 128 else 255, "1"), *grid)


def differing(a: Image.Image, b: Image.Image) -> int:
    return ImageChops.difference(a.convert("L"), b.convert("L")).histogram()[255]


def main() -> None:
    cases = [(font, size) for font in sorted(FONTS) for dpi in SIZES for size in SIZES[dpi]]
    print(f"{len(cases)} font and size pairs (7 fonts, 16-28 dots); share of them where a pair")
    print("of characters prints as the same dots (=) or within one dot (~1), in each mode")
    print(f"  {'pair':6}" + "".join(f"{mode:>22}" for mode in MODES))
    for pair in PAIRS:
        cells = []
        for grid in MODES.values():
            same = near = 0
            for name, size in cases:
                font = ImageFont.truetype(str(font_path(FONTS[name][0])), size)
                diffs = [differing(glyph(pair[0], font, size, oy, grid),
                                   glyph(pair[1], font, size, oy, grid))
                         for oy in range(grid[1])]
                same += min(diffs) == 0
                near += min(diffs) <= 1
            cells.append(f"{100 * same / len(cases):5.0f} % = {100 * near / len(cases):4.0f} % ~1")
        print(f"  {pair[0]}/{pair[1]:4}" + "".join(f"{c:>22}" for c in cells))


if __name__ == "__main__":
    main()
