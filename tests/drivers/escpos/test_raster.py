"""Raster print jobs decode into exact 1-bit pictures, in every encoding, beside their text."""

from __future__ import annotations

import io
import random

import pytest
from escpos_helpers import chunked
from PIL import Image, ImageChops, ImageDraw
from raster_receipts import (
    ENCODINGS,
    FONTS_MISSING,
    encode,
    esc_star,
    fonts_available,
    gs_v0,
    render,
    sample,
)
from raster_receipts import Line as RLine

from drivers.escpos.decoder import EscposDecoder, decode_all
from drivers.escpos.raster import RasterImage

ESC, GS = b"\x1b", b"\x1d"
needs_fonts = pytest.mark.skipif(not fonts_available(), reason=FONTS_MISSING)


def picture(image: RasterImage) -> Image.Image:
    return Image.frombytes("1", (image.width, image.height), bytes(255 - b for b in image.data))


def same(a: Image.Image, b: Image.Image) -> bool:
    diff = ImageChops.difference(a.convert("L"), b.convert("L"))
    return a.size == b.size and diff.getbbox() is None


def test_pattern(width: int = 96, height: int = 72) -> Image.Image:
    image = Image.new("1", (width, height), 1)
    draw = ImageDraw.Draw(image)
    draw.rectangle((3, 2, 40, 30), outline=0, width=2)
    draw.line((0, height - 1, width - 1, 0), fill=0, width=3)
    draw.ellipse((50, 20, 90, 70), fill=0)
    return image


test_pattern.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


@pytest.mark.parametrize("encoding", [e for e in ENCODINGS if e != "esc_star8"])
def test_every_encoding_gives_the_exact_picture(encoding: str) -> None:
    page = test_pattern()
    (doc,) = decode_all(encode(page, encoding, random.Random(1)))
    assert doc.ended_by == "cut" and doc.has_raster and not doc.lines
    (image,) = doc.images
    assert same(picture(image), page)


def test_the_8_dot_column_mode_prints_each_dot_three_rows_tall() -> None:
    page = Image.new("1", (16, 24), 1)
    ImageDraw.Draw(page).rectangle((0, 0, 7, 2), fill=0)  # rows 0-2 in the sampled row 0
    (doc,) = decode_all(esc_star(page, dots=8) + GS + b"V\x01")
    image = picture(doc.images[0])
    assert image.size == (16, 3)  # trailing blank rows are not picture
    assert all(image.getpixel((x, y)) == 0 for x in range(8) for y in range(3))
    assert all(image.getpixel((x, 0)) == 255 for x in range(8, 16))


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_a_picture_split_anywhere_across_chunks_decodes_the_same(encoding: str) -> None:
    job = encode(test_pattern(64, 40), encoding, random.Random(2))
    whole = decode_all(job)
    rng = random.Random(3)
    sizes = [rng.randint(1, 97) for _ in range(len(job))]
    parts = chunked(job, sizes)
    assert [d.images for d in parts] == [d.images for d in whole] and whole[0].images


def test_text_header_then_raster_body_keeps_the_order() -> None:
    body = gs_v0(test_pattern(), band=24).removeprefix(ESC + b"@")
    job = ESC + b"@TIENDA LA ESQUINA\nRUT 123\n" + body + b"Gracias\n" + GS + b"V\x01"
    (doc,) = decode_all(job)
    assert doc.text == "TIENDA LA ESQUINA\nRUT 123\nGracias"
    (image,) = doc.images
    assert image.after_line == 2 and same(picture(image), test_pattern())


def test_column_bands_side_by_side_and_stepped_by_the_line_spacing() -> None:
    band = bytes([0xFF, 0x00, 0x00]) * 8  # 8 columns, the top 8 dots black
    job = ESC + b"3\x18" + ESC + b"*!\x08\x00" + band + ESC + b"*!\x08\x00" + band + b"\n"
    job += b"\n" + ESC + b"*!\x08\x00" + band + ESC + b"J\x18" + GS + b"V\x01"
    (doc,) = decode_all(job)
    image = picture(doc.images[0])
    # two bands on the first line (16 dots), an empty line (24 rows), then one band
    assert image.size == (16, 56) and not doc.lines
    assert image.getpixel((15, 7)) == 0 and image.getpixel((0, 8)) == 255
    assert image.getpixel((0, 48)) == 0 and image.getpixel((8, 48)) == 255


def test_gs_v0_double_width_and_height() -> None:
    job = GS + b"v0\x03\x01\x00\x02\x00" + bytes([0b10000001, 0]) + GS + b"V\x01"
    (doc,) = decode_all(job)
    image = picture(doc.images[0])
    assert image.size == (16, 2)  # 1 byte x 2 rows, doubled; the blank last rows trimmed
    assert [image.getpixel((x, 0)) for x in (0, 1, 2, 13, 14, 15)] == [0, 0, 255, 255, 0, 0]


def test_star_rows_skips_and_the_end_of_the_job() -> None:
    job = ESC + b"*rA" + ESC + b"*rP0\x00" + b"b\x01\x00\xf0" + ESC + b"*rY10\x00"
    job += b"b\x01\x00\x0f" + b"k\x01\x00\x80" + b"b\x01\x00\x01" + ESC + b"\x0c\x04"
    job += ESC + b"*rB" + b"Despues\n"
    docs = decode_all(job)
    assert [d.ended_by for d in docs] == ["cut", "flush"] and docs[1].text == "Despues"
    image = picture(docs[0].images[0])
    assert image.size == (8, 13)
    assert image.getpixel((0, 0)) == 0 and image.getpixel((0, 1)) == 255
    assert image.getpixel((7, 11)) == 0 and image.getpixel((0, 11)) == 255
    assert image.getpixel((0, 12)) == 0 and image.getpixel((7, 12)) == 0  # k then b, OR-ed


def test_a_logo_over_a_text_receipt_is_not_a_raster_job() -> None:
    logo = gs_v0(test_pattern(128, 48)).removeprefix(ESC + b"@")
    (doc,) = decode_all(logo + b"SUPER\nTOTAL  100,00\n" + GS + b"V\x01")
    assert doc.images and not doc.has_raster and doc.text == "SUPER\nTOTAL  100,00"
    (alone,) = decode_all(logo + GS + b"V\x01")  # a picture alone is what OCR reads
    assert alone.has_raster and not alone.lines


def test_an_unfinished_picture_is_dropped_at_idle_and_the_next_job_reads() -> None:
    decoder = EscposDecoder()
    assert decoder.feed(GS + b"v0\x00\x48\x00\x00\x10" + bytes(500)) == []
    assert decoder.idle() == []
    (doc,) = decoder.feed(b"Hola\n" + GS + b"V\x01")
    assert doc.text == "Hola" and doc.images == []


def test_pictures_are_not_kept_when_images_are_off() -> None:
    decoder = EscposDecoder(keep_images=False)
    assert decoder.feed(encode(test_pattern(), "gs_v0")) == []
    assert decoder.textless_documents == 1 and decoder.images_skipped == 1


def test_the_png_is_the_picture() -> None:
    (doc,) = decode_all(encode(test_pattern(), "star"))
    png = Image.open(io.BytesIO(doc.images[0].to_png()))
    assert png.mode == "1" and same(png, test_pattern())


@needs_fonts
def test_a_rendered_receipt_in_each_encoding_is_the_page_that_was_drawn() -> None:
    lines = [RLine("SUPERMERCADO", bold=True, double=True, center=True),
             RLine("Yerba 1kg" + " " * 20 + "245,00"), RLine("TOTAL  245,00", bold=True)]
    page = render(lines, font="dejavu-sans", size=24, width=576)
    for encoding in ("gs_v0", "gs_l", "star"):
        (doc,) = decode_all(encode(page, encoding))
        image = picture(doc.images[0])
        assert same(image, page.crop((0, 0, image.width, image.height)))


@needs_fonts
def test_mixed_samples_decode_with_their_text_header() -> None:
    s = sample(7, encoding="gs_v0", mixed=True)
    (doc,) = decode_all(s.job)
    assert [line.text for line in doc.lines] == [line.text for line in s.lines[:3]]
    assert doc.has_raster and doc.images[0].after_line == 3


@pytest.mark.parametrize("command_set", ["auto", "star", "escpos"])
def test_a_tsp100_job_gives_the_same_picture_whatever_the_command_set(command_set: str) -> None:
    from drivers.escpos.select import decode_all as decode_as

    job = encode(test_pattern(), "star") + b"Gracias\n" + ESC + b"d\x02"  # then line mode
    docs = decode_as(job, command_set=command_set)
    assert docs[0].ended_by == "cut" and same(picture(docs[0].images[0]), test_pattern())
    assert docs[-1].text == "Gracias"


def _band(width_bytes: int, rows: list[bytes]) -> bytes:
    head = bytes([0x30, 0, width_bytes & 0xFF, width_bytes >> 8, len(rows) & 0xFF, len(rows) >> 8])
    return GS + b"v" + head + b"".join(r.ljust(width_bytes, b"\x00") for r in rows)


@pytest.mark.parametrize(("job", "raster"), [
    # ink in the top 10 of 200 rows, under two text lines: a logo, not a raster job
    (b"SUPER\nTOTAL 1,00\n" + _band(8, [b"\xff"] * 10 + [b""] * 190), False),
    (_band(8, [b""] * 150 + [b"\x01"]) + b"A\nB\n", True),  # ink on row 151: 151 > 48
    (_band(8, [b""] * 300), None),  # a blank picture alone prints nothing worth a document
    (_band(300, [bytes(299) + b"\x01"]), None),  # its only dot is past the paper's edge
    (ESC + b"*\x21\x02\x00" + b"\x00\x00\x01\x00\x00\x00", True),  # one ESC * dot alone
])
def test_a_job_is_a_raster_job_exactly_when_its_built_pictures_say_so(
    job: bytes, raster: bool | None
) -> None:
    docs = decode_all(job + GS + b"V\x01")
    if raster is None:
        assert docs == []
        return
    (doc,) = docs
    assert doc.has_raster is raster  # decided before any picture is built...
    assert (sum(i.height for i in doc.images) > 24 * len(doc.lines)) is raster  # ...built
