"""The picture Tesseract gets: a low-density print (python-escpos's own ESC * bytes) is taken
back to the driver's grid and smoothed, at the paper's proportions; a full-density one is
given as printed."""

from __future__ import annotations

import pytest
from PIL import Image, ImageDraw
from raster_receipts import fonts_available
from raster_set import MODES, print_image, raster_sample

from agent.daemon.ocr_emails import reread_emails
from agent.daemon.ocr_picture import block_size, for_ocr, to_pil
from agent.receipts.ocr_lines import Word
from drivers.escpos.decoder import decode_all
from drivers.escpos.raster import RasterImage

BLOCKS = {"raster": (1, 1), "graphics": (1, 1), "column24": (1, 1), "column24s": (2, 1),
          "column8d": (1, 3), "column8s": (2, 3)}


def printed(page: Image.Image, mode: str) -> RasterImage:
    (doc,) = [d for d in decode_all(print_image(page, mode, 203)) if d.has_content]
    (image,) = doc.images
    return image


@pytest.mark.skipif(not fonts_available(), reason="fonts-liberation/dejavu absent")
@pytest.mark.parametrize("mode", sorted(MODES))
def test_each_density_is_told_from_the_picture_alone(mode: str) -> None:
    s = raster_sample(7, mode=mode, dpi=203)
    (doc,) = [d for d in decode_all(s.job) if d.has_content]
    (image,) = doc.images
    assert block_size(to_pil(image).convert("L")) == BLOCKS[mode]
    ready = for_ocr(image)
    assert ready.size == (image.width, image.height)  # the paper's proportions
    if BLOCKS[mode] == (1, 1):
        assert ready.mode == "1" and ready.tobytes() == to_pil(image).tobytes()
    else:  # smoothed: gray edges between the blocks, no staircase of whole blocks
        assert ready.mode == "L" and sum(1 for n in ready.histogram() if n) > 2


def test_an_8_dot_block_edge_is_smoothed_into_a_ramp() -> None:
    page = Image.new("1", (64, 16), 1)
    ImageDraw.Draw(page).polygon([(0, 15), (63, 0), (63, 15)], fill=0)  # a slope
    picture = printed(page, "column8d")  # each of the 16 rows printed 3 rows tall
    assert (picture.width, picture.height) == (64, 48)
    ready = for_ocr(picture)
    column = [ready.getpixel((32, y)) for y in range(48)]
    assert column[0] == 255 and column[-1] == 0
    assert any(0 < v < 255 for v in column)  # gray in between, not a 3-row step


def test_a_blank_or_solid_picture_is_not_taken_for_blocks() -> None:
    assert block_size(Image.new("L", (48, 48), 255)) == (1, 1)
    solid = Image.new("L", (48, 48), 255)
    ImageDraw.Draw(solid).rectangle((5, 7, 29, 20), fill=0)  # 25 x 14: no 2 x 1 or 1 x 3 blocks
    assert block_size(solid) == (1, 1)


def test_spaces_ocr_put_inside_an_address_are_closed() -> None:
    def word(text: str, left: int) -> Word:
        return Word(text, left, 100, 10 * len(text), 20, 90.0)

    line = [word("Email:", 0), word("sofia.", 70), word("martinez@gmail.com", 140)]
    other = [Word("TOTAL", 0, 50, 50, 20, 95.0)]
    picture = Image.new("L", (576, 200), 255)  # not read again: the joined words are valid
    texts = [w.text for w in reread_emails(picture, other + line, timeout=5)]
    assert texts == ["TOTAL", "Email:", "sofia.martinez@gmail.com"]
    done = [word("E-mail", 0), word("ana@correo.com.uy", 70)]
    assert reread_emails(picture, done, timeout=5) == done  # read right: left alone
