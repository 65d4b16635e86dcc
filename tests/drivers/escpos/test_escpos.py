"""ESC/POS decoder: the real captures, python-escpos jobs, and the printer rules one by one."""

from __future__ import annotations

import random
import time
import tracemalloc
from pathlib import Path

import pytest
from escpos.printer import Dummy
from escpos_helpers import FIXTURES, chunked, texts
from PIL import Image

from drivers.escpos.decoder import EscposDecoder, decode_all
from drivers.escpos.document import Barcode

ESC, GS, FS, DLE = b"\x1b", b"\x1d", b"\x1c", b"\x10"
FIXTURE_NAMES = sorted(p.name for p in FIXTURES.glob("*.bin"))


# -- the real captures -------------------------------------------------------------------


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_fixture_decodes_the_same_whole_byte_by_byte_and_in_random_chunks(
    escpos_fixtures: Path, name: str
) -> None:
    data = (escpos_fixtures / name).read_bytes()
    whole = decode_all(data)
    assert whole, "every capture prints something"
    assert sum(doc.size for doc in whole) <= len(data)
    assert chunked(data, [1] * len(data)) == whole
    rnd = random.Random(name)
    assert chunked(data, [rnd.randint(1, 64) for _ in range(len(data) // 8)]) == whole
    for doc in whole:  # control characters never become text
        assert not any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in doc.text if c != "\n")


def test_receipt_with_logo_reads_items_totals_and_emphasis(escpos_fixtures: Path) -> None:
    (doc,) = decode_all((escpos_fixtures / "escpos-php-receipt-with-logo.bin").read_bytes())
    lines = [" ".join(line.text.split()) for line in doc.lines]
    for item in (
        "Example item #1 4.00",
        "Another thing 3.50",
        "Something else 1.00",
        "A final item 4.45",
        "Subtotal 12.95",
        "A local tax 1.30",
        "Total $ 14.25",
    ):
        assert item in lines
    assert doc.lines[0].text == "ExampleMart Ltd." and doc.lines[0].double_width
    total = next(line for line in doc.lines if line.text.startswith("Total"))
    assert total.text == "Total            $ 14.25" and total.double_width and not total.bold
    assert next(line for line in doc.lines if line.text.startswith("Subtotal")).bold
    assert doc.images_skipped == 1 and doc.ended_by == "cut" and doc.unknown_bytes == 0
    assert doc.lines[-1].text == "Monday 6th of April 2015 02:56:25 PM"


def test_qr_fixture_yields_its_payloads(escpos_fixtures: Path) -> None:
    (doc,) = decode_all((escpos_fixtures / "escpos-php-qr-code.bin").read_bytes())
    assert doc.qr_codes == (
        ["Testing 123"] * 2
        + [
            "0123456789012345678901234567890123456789",
            "abcdefghijklmnopqrstuvwxyzabcdefghijklmn",
            "\0" * 40,
        ]
        + ["Testing 123"] * 14
    )
    assert "Most simple example" in doc.text and "P0" not in doc.text


def test_barcode_fixture_yields_every_symbology_and_payload(escpos_fixtures: Path) -> None:
    (doc,) = decode_all((escpos_fixtures / "escpos-php-barcode.bin").read_bytes())
    assert doc.barcodes == (
        [Barcode("CODE39", "ABC")] * 15
        + [Barcode("EAN13", "012345678901")] * 4
        + [Barcode("UPCA", "012345678901"), Barcode("UPCA", "01234567890")]
        + [
            Barcode("UPCE", d)
            for d in ("123456", "0123456", "01234567", "01234567890", "012345678901")
        ]
        + [
            Barcode("EAN13", "012345678901"),
            Barcode("EAN13", "0123456789012"),
            Barcode("EAN8", "0123456"),
            Barcode("EAN8", "01234567"),
            Barcode("CODE39", "ABC 012"),
            Barcode("CODE39", "$%+-./"),
            Barcode("CODE39", "*TEXT*"),
            Barcode("ITF", "0123456789"),
            Barcode("CODABAR", "A012345A"),
            Barcode("CODABAR", "A012$+-./:A"),
            Barcode("CODE93", "012abcd"),
            Barcode("CODE128", "012ABCD"),
            Barcode("CODE128", "012ABCDabcd"),
            Barcode("CODE128", "213243"),
        ]
    )
    assert "Content: {B012ABCDabcd" in doc.text.splitlines()


def test_pdf417_fixture_yields_pdf417_barcodes(escpos_fixtures: Path) -> None:
    (doc,) = decode_all((escpos_fixtures / "escpos-php-pdf417-code.bin").read_bytes())
    assert doc.barcodes and set(doc.barcodes) == {Barcode("PDF417", "Testing 123")}
    assert doc.qr_codes == []


def test_character_encodings_follow_esc_t(escpos_fixtures: Path) -> None:
    (doc,) = decode_all((escpos_fixtures / "escpos-php-character-encodings.bin").read_bytes())
    lines = set(doc.text.splitlines())
    for expected in (
        "Quizdeltagerne spiste jordbær med fløde, mens cirkusklovnen Wolther spillede på xylofon.",
        "Falsches Üben von Xylophonmusik quält jeden größeren Zwerg.",
        "Ξεσκεπάζω την ψυχοφθόρα βδελυγμία",
        "El pingüino Wenceslao hizo kilómetros bajo exhaustiva lluvia y frío, añoraba a su "
        "querido cachorro.",
        "Árvíztűrő tükörfúrógép.",
        "Pchnąć w tę łódź jeża lub ośm skrzyń fig.",
        "В чащах юга жил бы цитрус? Да, но фальшивый экземпляр!",
        "Pijamalı hasta, yağız şoföre çabucak güvendi.",
        "ｲﾛﾊﾆﾎﾍﾄ ﾁﾘﾇﾙｦ ﾜｶﾖﾀﾚｿ ﾂﾈﾅﾗﾑ",
        "Glāžšķūņa rūķīši dzērumā čiepj Baha koncertflīģeļu vākus.",
    ):
        assert expected in lines


def test_demo_is_split_at_each_cut_with_images_and_qr(escpos_fixtures: Path) -> None:
    data = (escpos_fixtures / "escpos-php-demo.bin").read_bytes()
    decoder = EscposDecoder()
    docs = decoder.feed(data) + decoder.flush()
    assert len(docs) == 14 and all(doc.ended_by == "cut" for doc in docs)
    assert docs[0].text == "Hello world"
    assert docs[4].text == "Partial cut\n(not available on all printers)"
    assert docs[10].barcodes == [Barcode("CODE39", "9876")]
    # the two image-only sections (4 GS v 0 rasters, 4 GS ( L graphics) are raster jobs:
    # one 608 x 1372-dot picture each, the same picture both ways
    for doc in docs[11:13]:
        assert not doc.lines and doc.has_raster and doc.images_skipped == 4
        assert [(i.width, i.height) for i in doc.images] == [(608, 1372)]
    assert docs[11].images[0].data == docs[12].images[0].data
    assert decoder.textless_documents == 0 and decoder.images_skipped == 8
    assert docs[13].qr_codes == ["Testing 123"] * 3 and docs[13].size == 241
    assert decoder.unknown_bytes == 0


def test_margins_and_unifont_captures_that_crash_esc2text_decode(escpos_fixtures: Path) -> None:
    margins = texts((escpos_fixtures / "escpos-php-margins-and-spacing.bin").read_bytes())
    assert "left margin 512" in margins[0].splitlines()
    assert "page width 64" in margins[0].splitlines()
    (doc,) = decode_all((escpos_fixtures / "escpos-php-unifont-print-buffer.bin").read_bytes())
    assert doc.unknown_bytes == 0 and len(doc.lines) == 2  # glyph bitmaps are not text


# -- python-escpos, a real POS library ---------------------------------------------------

SPANISH = "Café ñandú crème brûlée ¿Qué? ¡Sí! ÁÉÍÓÚ Ññ ü 1.234,50 €"


@pytest.mark.parametrize("charcode", ["CP858", "CP1252", None])
def test_python_escpos_accents_and_euro_in_each_code_page(charcode: str | None) -> None:
    p = Dummy()
    if charcode:
        p.charcode(charcode)  # None: python-escpos switches pages itself, mid-line
    p.text(SPANISH + "\n")
    p.set(bold=True, double_height=True)
    p.text("TOTAL A PAGAR    $ 1.234,50\n")
    p.cut()
    (doc,) = decode_all(p.output, codepage="cp437")
    assert [line.text for line in doc.lines] == [SPANISH, "TOTAL A PAGAR    $ 1.234,50"]
    assert doc.lines[1].bold and doc.lines[1].double_height and not doc.lines[0].bold
    assert doc.ended_by == "cut" and doc.unknown_bytes == 0


def test_python_escpos_qr_barcodes_and_images() -> None:
    p = Dummy()
    p.image(Image.new("1", (64, 48)))
    p.text("Farmacia Central\n")
    p.image(Image.new("1", (64, 48)), impl="bitImageColumn")
    p.image(Image.new("1", (64, 48)), impl="graphics")
    p.qr("https://hellotext.com/r?t=0001-00001234&m=1234.50", native=True)
    p.barcode("7730241003257", "EAN13")
    p.barcode("{BVERANO10", "CODE128", function_type="B")
    p.text("Gracias\n")
    p.cut(mode="PART")
    (doc,) = decode_all(p.output)
    assert doc.text == "Farmacia Central\nGracias"
    assert doc.qr_codes == ["https://hellotext.com/r?t=0001-00001234&m=1234.50"]
    assert doc.barcodes == [Barcode("EAN13", "7730241003257"), Barcode("CODE128", "VERANO10")]
    assert doc.images_skipped == 3 and doc.unknown_bytes == 0


@pytest.mark.parametrize("keep_images", [False, True])
def test_a_megabyte_raster_streams_through_and_is_kept_only_as_a_picture(
    keep_images: bool,
) -> None:
    width, height = 512, 2048  # 1 MiB of image data, 4096 dots wide: clipped at 2048
    job = (
        ESC
        + b"@Logo\n"
        + GS
        + b"v0\x00"
        + bytes([width % 256, width // 256, height % 256, height // 256])
    )
    image = bytes([0x0A, 0x1B, 0x40, 0x41]) * (width * height // 4)  # LF, ESC @, "A"...
    tail = b"After the logo\n" + GS + b"VA\x03"
    decoder = EscposDecoder(keep_images=keep_images)
    tracemalloc.start()
    docs = decoder.feed(job)
    for pos in range(0, len(image), 4096):
        docs += decoder.feed(image[pos : pos + 4096])
    docs += decoder.feed(tail)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # without pictures nothing is buffered; with them, the payload once and the picture
    assert peak < (64 * 1024 if not keep_images else 3 * len(image))
    assert [doc.text for doc in docs] == ["Logo\nAfter the logo"]
    assert docs[0].images_skipped == 1 and docs[0].size == len(job) + len(image) + len(tail)
    if keep_images:
        (picture,) = docs[0].images
        assert (picture.width, picture.height, picture.after_line) == (2048, 2048, 1)
        assert picture.data[:4] == bytes([0x0A, 0x1B, 0x40, 0x41])


# -- printer rules -------------------------------------------------------------------------


def test_documents_end_at_cuts_at_init_after_content_at_idle_and_at_flush() -> None:
    cuts = [
        GS + b"V\x00",
        GS + b"V1",
        GS + b"VA\x10",
        GS + b"VB\x00",
        GS + b"Va\x05",
        GS + b"Vh\x01",
        ESC + b"i",
        ESC + b"m",
    ]
    job = b"".join(f"receipt {i}\n".encode() + cut for i, cut in enumerate(cuts))
    docs = decode_all(job)
    assert [doc.text for doc in docs] == [f"receipt {i}" for i in range(len(cuts))]
    assert {doc.ended_by for doc in docs} == {"cut"}
    assert sum(doc.size for doc in docs) == len(job)

    decoder = EscposDecoder()
    (init,) = decoder.feed(ESC + b"@" + ESC + b"@first\n" + ESC + b"@second\n")
    assert (init.text, init.ended_by, init.size) == ("first", "init", 10)
    (idle,) = decoder.idle()
    assert (idle.text, idle.ended_by) == ("second", "idle")
    assert decoder.idle() == []  # nothing new: an idle gap ends nothing
    decoder.feed(b"third, no line feed")
    (last,) = decoder.flush()
    assert (last.text, last.ended_by) == ("third, no line feed", "flush")
    assert decoder.flush() == []


def test_cut_and_blank_paper_without_text_make_no_document() -> None:
    assert decode_all(b"\n\n\n" + GS + b"V\x00" + b"\n" + ESC + b"d\x05" + GS + b"V\x00") == []


def test_line_and_document_caps_bound_memory_and_count_what_was_dropped() -> None:
    decoder = EscposDecoder(max_line_chars=10, max_document_lines=3)
    (doc,) = decoder.feed(b"0123456789abcdef\n" * 5 + GS + b"V\x00")
    assert [line.text for line in doc.lines] == ["0123456789"] * 3
    assert decoder.dropped_chars == 30 and decoder.dropped_lines == 2


def test_pathological_inputs_decode_in_bounded_time_and_memory() -> None:
    # unterminated NUL barcodes, long tab lists, big 2D stores, glyph definitions, lone ESCs,
    # fed a byte at a time: each waits for a bounded number of bytes, never re-scans much
    for unit in (
        GS + b"k\x04" + b"7" * 300,
        ESC + b"D" + bytes(range(1, 40)),
        GS + b"(k\xff\x1f1P0",
        ESC + b"&\x03\x20\x7e",
        b"\x1b" * 7,
    ):
        data = unit * (30_000 // len(unit))
        sizes = [1] * len(data)
        started = time.perf_counter()
        tracemalloc.start()
        docs = chunked(data, sizes)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert time.perf_counter() - started < 5, unit
        assert peak < 256 * 1024, unit
        assert docs == decode_all(data)
        assert all(c == "\n" or c >= " " for doc in docs for c in doc.text)


def test_thai_and_other_pages_from_the_character_encodings_capture(
    escpos_fixtures: Path,
) -> None:
    text = texts((escpos_fixtures / "escpos-php-character-encodings.bin").read_bytes())[0]
    assert "นายสังฆภัณฑ์ เฮงพิทักษ์ฝั่ง" in text
    assert "דג סקרן שט בים" in text


def test_flush_resets_printer_state_and_idle_drops_a_split_command() -> None:
    decoder = EscposDecoder()
    assert decoder.feed(ESC + b"t\x10" + ESC + b"E\x01" + b"\xe9\n") == []
    (first,) = decoder.flush()
    assert first.lines[0].text == "é" and first.lines[0].bold
    decoder.feed(b"\x82\n" + GS + b"V")  # cp858 again, bold off; the cut is cut short
    (second,) = decoder.idle()
    assert second.lines[0].text == "é" and not second.lines[0].bold
    # the GS V cut short by the idle gap is dropped (counted), not completed by later bytes
    assert (second.ended_by, second.size, second.unknown_bytes) == ("idle", 4, 2)
    (third,) = decoder.feed(b"A\n" + GS + b"VA\x03")
    assert (third.text, third.ended_by, third.size) == ("A", "cut", 6)
    assert decoder.flush() == [] and decoder.unknown_bytes == 2


def test_a_corrupt_image_length_cannot_hide_the_receipts_after_it() -> None:
    # a GS 8 L claiming 4 GB and a GS v 0 claiming 4 GB are noise, not images
    job = (
        GS + b"8L\xff\xff\xff\xff" + b"Ticket 1\n" + GS + b"v0\x00\xff\xff\xff\xff" + b"Ticket 2\n"
    )
    assert texts(job) == ["Ticket 1\nTicket 2"]
    # a plausible length that never completes is dropped at the next idle gap
    decoder = EscposDecoder()
    decoder.feed(b"Ticket 3\n" + GS + b"v0\x00\x48\x00\x00\x10" + b"\x00" * 100)
    (doc,) = decoder.idle()
    assert doc.text == "Ticket 3"
    (after,) = decoder.feed(b"Ticket 4\n" + GS + b"VA\x00")
    assert (after.text, after.ended_by) == ("Ticket 4", "cut")


def test_python_escpos_print_modes_and_device_commands_are_all_understood() -> None:
    p = Dummy()
    p.hw("INIT")
    p.set(align="center", font="b", bold=True, underline=1, width=2, height=2, custom_size=True)
    p.textln("FARMACIA")
    p.set(
        align="left",
        font="a",
        bold=False,
        underline=0,
        normal_textsize=True,
        invert=True,
        smooth=True,
        density=5,
    )
    p.textln("inverted")
    p.set(invert=False, double_width=True)
    p.textln("wide")
    p.set(normal_textsize=True)
    p.line_spacing(60)
    p.block_text("Block of text that wraps at some column width here", columns=20)
    p.ln()
    p.barcode("123456789012", "EAN13", function_type="A")
    p.barcode("CODE39TEST", "CODE39", function_type="B")
    p.qr("hola", native=True, size=4, ec=2)
    p.cashdraw(2)
    p.buzzer(2, 1)
    p.panel_buttons(False)
    p.print_and_feed(2)
    p.image(Image.new("1", (50, 30)))
    p.textln("end")
    p.cut(feed=False)
    decoder = EscposDecoder()
    (doc,) = decoder.feed(p.output)
    assert [
        (line.text, line.bold, line.double_height, line.double_width) for line in doc.lines
    ] == [
        ("FARMACIA", True, True, True),
        ("inverted", False, False, False),
        ("wide", False, False, True),
        ("Block of text that", False, False, False),
        ("wraps at some column", False, False, False),
        ("width here", False, False, False),
        ("end", False, False, False),
    ]
    assert doc.barcodes == [Barcode("EAN13", "123456789012"), Barcode("CODE39", "CODE39TEST")]
    assert doc.qr_codes == ["hola"] and doc.images_skipped == 1
    assert doc.unknown_bytes == 0 and doc.ended_by == "cut" and doc.size == len(p.output)
