"""A raster picture made ready for Tesseract. Pure (Pillow, no IO).

A picture is kept in printer dots, as printed. The low-density modes print each of the
driver's dots as a block: 2 dots wide in single density (`ESC *` 0/32, 90/101 dpi across),
3 rows tall in 8-dot `ESC *` (60/68 dpi down the paper). Tesseract reads those blocks'
staircase edges as noise (8-dot pictures lost most of their lines). So the block size is
found from the picture itself (the rows come in identical threes, the columns in pairs: the
picture does not say which mode printed it, and one job may mix modes), the picture goes back
to the driver's own grid and is scaled up again with a bicubic filter: the same proportions,
smooth gray edges. A picture printed at full density is given as it is (scaling it did not
read better, and costs Tesseract time).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from drivers.escpos.raster import RasterImage

if TYPE_CHECKING:
    from PIL import Image as PILImage

__all__ = ["block_size", "for_ocr", "to_pil"]

_INVERT = bytes(255 - v for v in range(256))  # our 1 = black; Pillow's mode "1" has 1 = white
SAME = 0.998  # share of dots a block size must explain (a few stray dots: a mixed band)


def to_pil(image: RasterImage) -> PILImage.Image:
    from PIL import Image

    return Image.frombytes("1", (image.width, image.height), image.data.translate(_INVERT))


def _explained(gray: PILImage.Image, sx: int, sy: int) -> float:
    """The share of dots left as they are when the picture is taken as sx x sy blocks, at
    the block grid's best offset."""
    from PIL import Image, ImageChops

    best = 0.0
    for ox in range(sx):
        for oy in range(sy):
            w, h = (gray.width - ox) // sx * sx, (gray.height - oy) // sy * sy
            if w <= 0 or h <= 0:
                continue
            part = gray.crop((ox, oy, ox + w, oy + h))
            small = part.resize((w // sx, h // sy), Image.Resampling.BOX)
            back = small.resize(part.size, Image.Resampling.NEAREST)
            same = ImageChops.difference(part, back).histogram()[0]
            best = max(best, same / (w * h))
    return best


def block_size(gray: PILImage.Image) -> tuple[int, int]:
    """(dots across, rows down) each of the driver's dots was printed as: (1, 1) at full
    density, (2, 1) single density, (1, 3) 8-dot double, (2, 3) 8-dot single."""
    if gray.getextrema()[0] == 255:  # no ink
        return 1, 1
    sy = 3 if _explained(gray, 1, 3) >= SAME else 1
    sx = 2 if _explained(gray, 2, 1) >= SAME else 1
    return sx, sy


def for_ocr(image: RasterImage) -> PILImage.Image:
    """The picture Tesseract reads (module docstring): 1-bit as printed, or gray and smooth
    where the printer drew blocks."""
    from PIL import Image

    pil = to_pil(image)
    gray = pil.convert("L")
    sx, sy = block_size(gray)
    if sx == sy == 1:
        return pil
    small = gray.resize((gray.width // sx, gray.height // sy), Image.Resampling.BOX)
    return small.resize((small.width * sx, small.height * sy), Image.Resampling.BICUBIC)
