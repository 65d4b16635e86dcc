"""Keyboard-wedge decoding: hand-written key facts per layout, recorded event sequences,
and the HID scanner on a real uinput keyboard where /dev/uinput exists.

Key codes here come from evdev.ecodes (the kernel's own table), not from drivers.scanners.keymaps,
and the expected characters are written by hand from the layouts' key caps, so a wrong
keymap fails these tests instead of agreeing with itself.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import threading
from itertools import pairwise
from pathlib import Path

import pytest
from evdev import ecodes as e
from fake_printer import wait_until

from drivers.scanners import keymaps
from drivers.scanners.base import Scan
from drivers.scanners.hid import HidDecoder, HidScanner

RECORDINGS = Path(__file__).resolve().parents[2] / "data" / "hid"
SHIFT, RSHIFT, ALTGR = e.KEY_LEFTSHIFT, e.KEY_RIGHTSHIFT, e.KEY_RIGHTALT


def press(dec: HidDecoder, key: int, *mods: int, at: float = 0.0) -> list[Scan]:
    out: list[Scan] = []
    for m in mods:
        out += dec.feed(e.EV_KEY, m, 1, at=at)
    out += dec.feed(e.EV_KEY, key, 1, at=at) + dec.feed(e.EV_KEY, key, 0, at=at)
    for m in mods:
        out += dec.feed(e.EV_KEY, m, 0, at=at)
    return out


def typed(layout: str, *strokes: tuple[int, ...]) -> str:
    """The code decoded from key strokes (key, *modifiers) followed by Enter."""
    dec = HidDecoder(layout=layout)
    for key, *mods in strokes:
        assert press(dec, key, *mods) == []
    (scan,) = press(dec, e.KEY_ENTER, at=9.0)
    assert scan.at == 9.0
    return scan.code


# (layout, key, modifier or None, character): the URL/QR punctuation and the differences.
KEY_FACTS = [
    ("us", e.KEY_SEMICOLON, SHIFT, ":"), ("us", e.KEY_SLASH, None, "/"),
    ("us", e.KEY_SLASH, SHIFT, "?"), ("us", e.KEY_EQUAL, None, "="),
    ("us", e.KEY_7, SHIFT, "&"), ("us", e.KEY_DOT, None, "."), ("us", e.KEY_MINUS, None, "-"),
    ("us", e.KEY_MINUS, SHIFT, "_"), ("us", e.KEY_2, SHIFT, "@"), ("us", e.KEY_5, SHIFT, "%"),
    ("us", e.KEY_APOSTROPHE, SHIFT, '"'), ("us", e.KEY_3, SHIFT, "#"),
    ("es", e.KEY_DOT, SHIFT, ":"), ("es", e.KEY_7, SHIFT, "/"), ("es", e.KEY_MINUS, SHIFT, "?"),
    ("es", e.KEY_0, SHIFT, "="), ("es", e.KEY_6, SHIFT, "&"), ("es", e.KEY_DOT, None, "."),
    ("es", e.KEY_SLASH, None, "-"), ("es", e.KEY_SLASH, SHIFT, "_"), ("es", e.KEY_2, ALTGR, "@"),
    ("es", e.KEY_5, SHIFT, "%"), ("es", e.KEY_2, SHIFT, '"'), ("es", e.KEY_3, SHIFT, "·"),
    ("es", e.KEY_3, ALTGR, "#"), ("es", e.KEY_SEMICOLON, None, "ñ"),
    ("es", e.KEY_RIGHTBRACE, None, "+"), ("es", e.KEY_MINUS, None, "'"),
    ("latam", e.KEY_DOT, SHIFT, ":"), ("latam", e.KEY_7, SHIFT, "/"),
    ("latam", e.KEY_MINUS, SHIFT, "?"), ("latam", e.KEY_0, SHIFT, "="),
    ("latam", e.KEY_6, SHIFT, "&"), ("latam", e.KEY_SLASH, None, "-"),
    ("latam", e.KEY_SLASH, SHIFT, "_"), ("latam", e.KEY_Q, ALTGR, "@"),
    ("latam", e.KEY_2, SHIFT, '"'), ("latam", e.KEY_3, SHIFT, "#"),
    ("latam", e.KEY_5, SHIFT, "%"), ("latam", e.KEY_GRAVE, None, "|"),
    ("latam", e.KEY_APOSTROPHE, None, "{"), ("latam", e.KEY_SEMICOLON, SHIFT, "Ñ"),
]  # fmt: skip


@pytest.mark.parametrize(("layout", "key", "mod", "char"), KEY_FACTS)
def test_layout_characters(layout: str, key: int, mod: int | None, char: str) -> None:
    stroke = (key,) if mod is None else (key, mod)
    assert typed(layout, (e.KEY_A,), stroke, (e.KEY_1,)) == f"a{char}1"


@pytest.mark.parametrize("layout", ["us", "es", "latam"])
def test_letters_digits_and_both_shifts(layout: str) -> None:
    code = typed(layout, (e.KEY_Q,), (e.KEY_W, SHIFT), (e.KEY_Z, RSHIFT), (e.KEY_1,), (e.KEY_0,))
    assert code == "qWZ10"


def test_us_and_es_read_the_same_keys_differently() -> None:
    strokes = [(e.KEY_7, SHIFT), (e.KEY_0, SHIFT), (e.KEY_MINUS,), (e.KEY_SLASH,)]
    assert typed("us", *strokes) == "&)-/"
    assert typed("es", *strokes) == "/='-"


def test_recordings_are_built_without_the_key_map_and_are_up_to_date() -> None:
    """The recordings' keys come from the kernel's codes and the published layouts (see
    tests/data/hid/record.py), so a key-map error cannot be built into what it is tested on."""
    source = (RECORDINGS / "record.py").read_text()
    imported = {
        name
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Import | ast.ImportFrom)
        for name in (
            [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
        )
    }
    assert not any(name.split(".")[0] in ("drivers", "agent") for name in imported), imported
    spec = importlib.util.spec_from_file_location("hid_record", RECORDINGS / "record.py")
    assert spec is not None and spec.loader is not None
    record = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(record)
    files = {p.stem for p in RECORDINGS.glob("*.json")}
    assert files == set(record.RECORDINGS) and len(files) >= 6
    for name, (layout, expect, events) in record.RECORDINGS.items():
        doc = json.loads((RECORDINGS / f"{name}.json").read_text())
        assert (doc["layout"], doc["expect"]) == (layout, expect), name
        assert [ev[1:] for ev in doc["events"]] == events, f"{name}.json: run record.py"


@pytest.mark.parametrize("path", sorted(RECORDINGS.glob("*.json")), ids=lambda p: p.stem)
def test_recorded_sequences_decode_to_the_code(path: Path) -> None:
    doc = json.loads(path.read_text())
    dec = HidDecoder(layout=doc["layout"], source="lector")
    scans: list[Scan] = []
    for at, type_, code, value in doc["events"]:
        scans += dec.feed(type_, code, value, at=at)
    (scan,) = scans
    assert (scan.aim or "") + scan.code == doc["expect"]
    enter_downs = [ev[0] for ev in doc["events"] if ev[1:] in ([1, 28, 1], [1, 96, 1])]
    assert scan.at == enter_downs[-1] and scan.source == "lector"
    assert dec.garbage == dec.overlong == 0


def test_recordings_cover_repeat_rollover_and_altgr() -> None:
    docs = {p.stem: json.loads(p.read_text()) for p in RECORDINGS.glob("*.json")}
    values = {ev[3] for ev in docs["us_ean_repeat"]["events"] if ev[1] == e.EV_KEY}
    assert 2 in values  # auto-repeat is really in the recording
    es = [ev[1:] for ev in docs["es_rollover"]["events"] if ev[1] == e.EV_KEY]
    downs_before_up = any(
        a[2] == 1 and b[2] == 1 and a[1] not in (RSHIFT, ALTGR) for a, b in pairwise(es)
    )
    assert downs_before_up  # the next key goes down before the previous one is released
    assert [e.EV_KEY, ALTGR, 1] in [ev[1:] for ev in docs["latam_qr_url"]["events"]]
    assert docs["us_ean_repeat"]["expect"] == "]E07501000000012"


def test_key_repeat_types_the_character_again() -> None:
    dec = HidDecoder()
    dec.feed(e.EV_KEY, e.KEY_5, 1, at=0)
    dec.feed(e.EV_KEY, e.KEY_5, 2, at=0)
    dec.feed(e.EV_KEY, e.KEY_5, 2, at=0)
    dec.feed(e.EV_KEY, e.KEY_5, 0, at=0)
    assert [s.code for s in press(dec, e.KEY_KPENTER, at=1)] == ["555"]


def test_shift_released_before_the_key_and_capslock() -> None:
    dec = HidDecoder()
    dec.feed(e.EV_KEY, SHIFT, 1, at=0)
    dec.feed(e.EV_KEY, e.KEY_A, 1, at=0)
    dec.feed(e.EV_KEY, SHIFT, 0, at=0)  # Shift up first: 'A' was already typed
    dec.feed(e.EV_KEY, e.KEY_A, 0, at=0)
    press(dec, e.KEY_B)
    press(dec, e.KEY_CAPSLOCK)
    press(dec, e.KEY_C)
    press(dec, e.KEY_D, SHIFT)
    press(dec, e.KEY_2)
    assert [s.code for s in press(dec, e.KEY_ENTER)] == ["AbCd2"]


def test_dead_keys_compose_or_type_their_accent() -> None:
    # es: ´ then e -> é; ` then Space -> `; Shift+` (^) then Space -> ^; ´ then 1 -> ´1.
    code = typed(
        "es",
        (e.KEY_APOSTROPHE,), (e.KEY_E,), (e.KEY_LEFTBRACE,), (e.KEY_SPACE,),
        (e.KEY_LEFTBRACE, SHIFT), (e.KEY_SPACE,), (e.KEY_APOSTROPHE,), (e.KEY_1,),
    )  # fmt: skip
    assert code == "é`^´1"
    assert typed("latam", (e.KEY_LEFTBRACE,), (e.KEY_A,), (e.KEY_APOSTROPHE, ALTGR)) == "á^"


def test_keypad_digits_and_events_other_than_keys_are_ignored() -> None:
    dec = HidDecoder()
    dec.feed(e.EV_MSC, e.MSC_SCAN, 0x70059, at=0)
    press(dec, e.KEY_KP1)
    dec.feed(e.EV_SYN, e.SYN_REPORT, 0, at=0)
    press(dec, e.KEY_KPDOT)
    press(dec, e.KEY_KP0)
    assert [s.code for s in press(dec, e.KEY_KPENTER)] == ["1.0"]


def test_keys_without_a_character_drop_the_scan_as_garbage() -> None:
    dec = HidDecoder()
    press(dec, e.KEY_A)
    press(dec, e.KEY_F5)
    press(dec, e.KEY_B)
    assert press(dec, e.KEY_ENTER) == []
    press(dec, e.KEY_J, e.KEY_LEFTCTRL)  # Ctrl+J: not text either
    assert press(dec, e.KEY_ENTER) == []
    assert dec.garbage == 2
    press(dec, e.KEY_C)
    assert [s.code for s in press(dec, e.KEY_ENTER)] == ["c"]
    assert press(dec, e.KEY_ENTER) == []  # a bare Enter is no scan, and not garbage
    assert dec.garbage == 2


def test_overlong_scans_are_dropped_with_bounded_memory() -> None:
    dec = HidDecoder(max_length=8)
    for _ in range(5000):
        press(dec, e.KEY_9)
    assert len(dec._text) <= 8 + 4
    assert press(dec, e.KEY_ENTER) == []
    assert dec.overlong == 1
    for _ in range(3):
        press(dec, e.KEY_8)
    assert [s.code for s in press(dec, e.KEY_ENTER)] == ["888"]


def test_aim_id_typed_by_the_scanner_is_stripped() -> None:
    # es: ']' is AltGr + the '+' key.
    strokes = [(e.KEY_RIGHTBRACE, ALTGR), (e.KEY_C, SHIFT), (e.KEY_1,), (e.KEY_4,), (e.KEY_2,)]
    dec = HidDecoder(layout="es")
    for key, *mods in strokes:
        press(dec, key, *mods)
    (scan,) = press(dec, e.KEY_ENTER)
    assert (scan.code, scan.aim, scan.symbology) == ("42", "]C1", "GS1-128")


def test_unknown_layout_is_refused_and_keycodes_match_the_kernel() -> None:
    with pytest.raises(ValueError, match="layout"):
        HidDecoder(layout="fr")
    for name in ("KEY_ENTER", "KEY_KPENTER", "KEY_RIGHTALT", "KEY_102ND", "KEY_APOSTROPHE"):
        assert getattr(keymaps, name) == getattr(e, name)


@pytest.mark.skipif(
    not os.path.exists("/dev/uinput"), reason="/dev/uinput does not exist on this machine"
)
def test_hid_scanner_on_a_uinput_keyboard() -> None:
    from evdev import UInput

    try:
        ui = UInput({e.EV_KEY: list(range(1, 120))}, name="hellotext-test-scanner")
    except OSError as exc:
        pytest.skip(f"cannot create a uinput device: {exc}")
    got: list[Scan] = []
    done = threading.Event()

    def on_scan(scan: Scan) -> None:
        got.append(scan)
        done.set()

    with ui:
        # udev creates the event node
        assert wait_until(lambda: ui.device is not None and os.path.exists(ui.device.path))
        assert ui.device is not None
        scanner = HidScanner(name="u", device=str(ui.device.path), layout="latam", on_scan=on_scan)
        scanner.start()
        try:
            assert wait_until(lambda: scanner.status().connected), scanner.status()
            for type_, code, value in keymaps.encode("]Q1a@b.uy/?x=1", "latam"):
                ui.write(type_, code, value)
            ui.syn()
            assert done.wait(10)
        finally:
            scanner.stop()
    assert (got[0].code, got[0].symbology) == ("a@b.uy/?x=1", "QR")
