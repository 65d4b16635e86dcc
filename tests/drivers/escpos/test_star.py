"""Star Line Mode beside ESC/POS: detection per job, Star's own commands, and `ESC Z`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drivers.errors import DriverError
from drivers.escpos.select import AutoDecoder, decode_all, make_decoder
from drivers.escpos.star import StarDecoder, detect_command_set

CORPUS = Path(__file__).resolve().parents[2] / "corpus"
ESC, GS = b"\x1b", b"\x1d"
STAR_CUT = ESC + b"d\x03"


def star_receipt(total: str = "1.234,50") -> bytes:
    """What a POS in Star mode sends: bold with no parameter, ESC i size, Star code page."""
    return (ESC + b"@" + ESC + GS + b"t\x20"  # code page 32: Windows-1252
            + ESC + GS + b"a\x01" + "PANADERÍA ÑANDÚ\n".encode("cp1252") + ESC + GS + b"a\x00"
            + b"Pan flauta          120,00\n"
            + ESC + b"i\x01\x00" + ESC + b"E" + f"TOTAL  {total}\n".encode() + ESC + b"F"
            + ESC + b"i\x00\x00" + b"Gracias\n" + STAR_CUT)


def test_star_bold_size_and_code_page_read_as_printed() -> None:
    docs = decode_all(star_receipt(), command_set="star")
    assert len(docs) == 1  # ESC i is a size, not a cut: one receipt, not three
    lines = docs[0].lines
    assert [line.text for line in lines] == [
        "PANADERÍA ÑANDÚ", "Pan flauta          120,00", "TOTAL  1.234,50", "Gracias"]
    total = lines[2]
    assert total.bold and total.double_height  # ESC E took no character with it
    assert not lines[3].bold and not lines[3].double_height
    assert docs[0].ended_by == "cut" and docs[0].unknown_bytes == 0


def test_the_same_bytes_read_as_escpos_lose_characters() -> None:
    """Why the command set matters: ESC/POS eats the T of TOTAL and cuts at ESC i."""
    docs = decode_all(star_receipt(), command_set="escpos")
    assert "TOTAL  1.234,50" not in [line.text for doc in docs for line in doc.lines]


def test_auto_detects_each_job_on_one_stream() -> None:
    escpos_job = (ESC + b"@" + ESC + b"E\x01" + b"TOTAL 99,00\n" + ESC + b"E\x00"
                  + GS + b"V\x00")
    stream = star_receipt("10,00") + escpos_job + star_receipt("20,00")
    decoder = AutoDecoder(codepage="cp858")
    docs = []
    for i in range(0, len(stream), 7):  # a serial port's small reads
        docs += decoder.feed(stream[i : i + 7])
    docs += decoder.flush()
    assert [[line.text for line in doc.lines if "TOTAL" in line.text] for doc in docs] == [
        ["TOTAL  10,00"], ["TOTAL 99,00"], ["TOTAL  20,00"]]
    assert all(doc.lines[-1].text for doc in docs)


def test_star_barcode_qr_and_pdf417() -> None:
    qr = b"https://example.com/r/1"
    data = (ESC + b"@" + b"Ticket 1\n" + ESC + b"b\x03\x02\x03\x50" + b"7790010316767\x1e"
            + ESC + GS + b"yS0\x02" + ESC + GS + b"yS1\x01" + ESC + GS + b"yS2\x04"
            + ESC + GS + b"yD1\x00" + bytes([len(qr), 0]) + qr + ESC + GS + b"yP"
            + ESC + GS + b"xS0\x00\x01\x02" + ESC + GS + b"xD\x03\x00ABC" + ESC + GS + b"xP"
            + STAR_CUT)
    (doc,) = decode_all(data, command_set="star")
    assert doc.qr_codes == [qr.decode()]
    assert [(b.symbology, b.data) for b in doc.barcodes] == [
        ("EAN13", "7790010316767"), ("PDF417", "ABC")]
    assert doc.text == "Ticket 1" and doc.unknown_bytes == 0


def test_star_commands_split_across_chunks_decode_the_same() -> None:
    data = star_receipt() + star_receipt("5,00")
    whole = [doc.text for doc in decode_all(data, command_set="star")]
    decoder = StarDecoder(codepage="cp858")
    docs = []
    for byte in data:
        docs += decoder.feed(bytes([byte]))
    assert [doc.text for doc in docs + decoder.flush()] == whole


def test_escpos_esc_z_prints_a_2d_code_not_text() -> None:
    """@node-escpos/core's QR codes: GS Z 2 (QR), then ESC Z v r k dL dH d..."""
    payload = b"https://example.com/t/1234 TOTAL 1.234,50"
    data = (b"Item 1    10,00\n" + GS + b"Z\x02" + ESC + b"Z\x03L\x06"
            + bytes([len(payload), 0]) + payload + b"\n" + GS + b"V\x00")
    (doc,) = decode_all(data, command_set="escpos")
    assert doc.qr_codes == [payload.decode()]
    assert doc.text == "Item 1    10,00"
    assert doc.unknown_bytes == 0


@pytest.mark.parametrize("part", ["train", "heldout", "fresh"])
def test_detection_matches_every_encoder_in_the_corpus(part: str) -> None:
    expected = json.loads((CORPUS / part / "expected.json").read_text(encoding="utf-8"))
    wrong = [name for name, want in expected.items()
             if detect_command_set((CORPUS / part / f"{name}.bin").read_bytes())
             != want["command_set"]]
    assert wrong == []


def test_plain_text_is_unknown_and_decodes_as_escpos() -> None:
    assert detect_command_set(b"just text\nTOTAL 10,00\n") == "unknown"
    (doc,) = decode_all(b"just text\nTOTAL 10,00\n")
    assert doc.text == "just text\nTOTAL 10,00"


def test_unknown_command_set_is_a_clear_error() -> None:
    with pytest.raises(DriverError, match="command set 'stars'"):
        make_decoder("stars")


def test_star_cuts_are_reported_for_the_cut_hold() -> None:
    data = star_receipt() + star_receipt("5,00")
    decoder = StarDecoder(codepage="cp858", track_cuts=True)
    decoder.feed(data)
    cuts = decoder.take_cuts()
    assert [data[c.start : c.end] for c in cuts] == [STAR_CUT, STAR_CUT]
    assert cuts[0].end == len(star_receipt()) and cuts[0].document is not None
