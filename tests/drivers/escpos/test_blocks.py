"""The QR subscription block: what it prints, read back by our decoder and by zxing-cpp."""

from __future__ import annotations

import pytest
import segno
import zxingcpp
from PIL import Image, ImageOps

from drivers.escpos.blocks import (
    QR_MAX_BYTES,
    append_block,
    escpos_qr,
    module_dots,
    raster_qr,
    splice,
    star_block,
    star_qr,
)
from drivers.escpos.decoder import EscposDecoder, cuts_of, decode_all

PAYLOAD = b"SMSTO:+59899000000:QUIERO A 1234567"
LINES = ["¿Querés ofertas por WhatsApp?", "Escaneá y envianos el mensaje"]


def raster_image(data: bytes) -> Image.Image:
    """Render the first GS v 0 image in `data` as a printer would (1 = a black dot)."""
    at = data.index(b"\x1dv0")
    width_bytes = data[at + 4] | data[at + 5] << 8
    height = data[at + 6] | data[at + 7] << 8
    bits = data[at + 8 : at + 8 + width_bytes * height]
    ink = Image.frombytes("1", (width_bytes * 8, height), bits)  # PIL: 1 = white
    return ImageOps.invert(ink.convert("L"))


def scan(image: Image.Image) -> str:
    """What a phone's camera reads: zxing-cpp (the decoder Android's scanner apps build on)."""
    found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    assert len(found) == 1, f"{len(found)} QR codes read from the printed picture"
    return str(found[0].text)


def test_native_block_reads_back_as_the_lines_and_the_qr_payload() -> None:
    block = append_block(LINES, PAYLOAD, mode="native", encoding="cp858")
    [doc] = decode_all(block, codepage="cp858")
    assert [line.text for line in doc.lines] == LINES
    assert doc.qr_codes == [PAYLOAD.decode()]
    assert doc.unknown_bytes == 0
    assert block.startswith(b"\x1ba\x01") and block.endswith(b"\x1ba\x00\x1bd\x04")


@pytest.mark.parametrize("encoding", ["cp1252", "cp437", "utf-8"])
def test_lines_are_encoded_for_the_page_in_force_at_the_cut(encoding: str) -> None:
    # A job that left the printer in another page (or UTF-8) gets its lines in that page.
    select = {"cp1252": b"\x1bt\x10", "cp437": b"\x1bt\x00", "utf-8": b"\x1c(C\x02\x000\x02"}
    job = select[encoding] + b"TOTAL 10\n\x1dV\x00"
    [cut] = cuts_of(job)
    assert cut.encoding == encoding
    printed = splice(job, {cut.start: append_block(LINES, PAYLOAD, encoding=cut.encoding)})
    doc = decode_all(printed)[0]
    assert [line.text for line in doc.lines] == ["TOTAL 10", *LINES]


def test_characters_the_page_lacks_print_as_question_marks() -> None:
    [doc] = decode_all(append_block(["Olá ☺"], PAYLOAD, encoding="cp437"), codepage="cp437")
    assert doc.lines[0].text == "Olá ?"


def test_raster_qr_decodes_with_a_phone_reader_to_the_payload() -> None:
    block = append_block(LINES, PAYLOAD, mode="raster")
    [doc] = decode_all(block)
    assert [line.text for line in doc.lines] == LINES
    assert doc.images_skipped == 1 and doc.qr_codes == []  # a picture, as the printer sees it
    image = raster_image(block)
    assert image.width <= 384  # fits 58 mm paper
    assert scan(image) == PAYLOAD.decode()


def test_longest_payload_still_fits_narrow_paper_and_scans() -> None:
    payload = ("https://hellotext.com/c/" + "x" * 300)[:QR_MAX_BYTES].encode()
    image = raster_image(raster_qr(payload, module=2))
    assert image.width <= 384
    assert scan(image) == payload.decode()
    assert decode_all(escpos_qr(payload))[0].qr_codes == [payload.decode()]


def test_oversized_or_empty_payloads_are_refused() -> None:
    for build in (escpos_qr, raster_qr, star_qr):
        with pytest.raises(ValueError):
            build(b"x" * (QR_MAX_BYTES + 1))
        with pytest.raises(ValueError):
            build(b"")


def test_star_qr_is_stars_line_mode_command_sequence() -> None:
    qr = star_qr(PAYLOAD, cell=5, ecc="M")
    seq = b"\x1b\x1dy"
    assert qr == (
        seq + b"S0\x02" + seq + b"S1\x01" + seq + b"S2\x05"
        + seq + b"D1\x00" + bytes([len(PAYLOAD), 0]) + PAYLOAD + seq + b"P"
    )
    block = star_block(LINES, PAYLOAD)
    assert block.startswith(b"\x1b\x1da\x01") and b"\x1bd" not in block  # ESC d cuts on Star
    assert LINES[0].encode("cp858") in block


def test_splice_inserts_at_command_boundaries_only_where_asked() -> None:
    job = b"A\n\x1dVA\x03B\n\x1dV\x00\x1bp0<x"
    cuts = cuts_of(job)
    assert [(c.start, c.end) for c in cuts] == [(2, 6), (8, 11)]
    assert splice(job, {cuts[-1].start: b"<QR>"}) == b"A\n\x1dVA\x03B\n<QR>\x1dV\x00\x1bp0<x"
    with pytest.raises(ValueError):
        splice(job, {len(job) + 1: b"x"})


def test_cut_offsets_are_the_same_whatever_the_chunking() -> None:
    job = b"\x1b@Hola\n" + b"\x1dv0\x00\x01\x00\x02\x00\x1dV\x00" + b"x\n\x1biy\n\x1dVB\x05"
    whole = [(c.start, c.end) for c in cuts_of(job)]
    assert whole == [(20, 22), (24, 28)]  # the GS V inside the image data is no cut
    decoder = EscposDecoder(track_cuts=True)
    seen = []
    for byte in job:
        decoder.feed(bytes([byte]))
        seen += [(c.start, c.end) for c in decoder.take_cuts()]
    assert seen == whole
    untracked = EscposDecoder()  # the pipeline's decoders keep no cut records
    untracked.feed(job)
    assert untracked.take_cuts() == []


@pytest.mark.parametrize("length", [1, 14, 15, 106, 213, 251, 300])
def test_module_size_fits_the_code_segno_makes_on_58_mm_paper(length: int) -> None:
    payload = b"\xff" * length  # byte mode: the largest code a payload can need
    module = module_dots(payload)
    size = segno.make_qr(payload, error="m", boost_error=False).symbol_size(border=4)[0]
    assert size * module <= 384 and (module == 6 or size * (module + 1) > 384)
