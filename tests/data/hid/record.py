"""Writes the recorded evdev sequences in this folder: `uv run python tests/data/hid/record.py`.

Each file is what a wedge scanner set to a layout sends for a real code, as evdev reports
it: MSC_SCAN (the key's USB HID usage), EV_KEY down/up, SYN_REPORT, a few ms apart. Beyond
plain strokes, the recordings reproduce what real scanners do: Shift held across a run of
shifted characters, the right Shift key, the next key going down before the previous one is
released (rollover), and kernel auto-repeat (value 2) of a held key.

Built independently of the key map under test (drivers/scanners/keymaps.py, never imported
here): key codes are the kernel's (evdev.ecodes, from linux/input-event-codes.h), HID usages
are the USB HID Usage Tables' keyboard page (0x07), and each character's key is where the
published layout puts it (xkeyboard-config symbols/us, symbols/es and symbols/latam, "basic"
variants). The decoder tests compare each file's decoding with its "expect" string, written
by hand below. A key-map error therefore shows up as a mismatch, even one the map would make
the same way when encoding and decoding.
"""

from __future__ import annotations

import json
import string
from pathlib import Path

from evdev import ecodes as e

HERE = Path(__file__).resolve().parent
Ev = list[int]
PLAIN, SHIFT, ALTGR = 0, 1, 2  # xkb levels 1, 2 and 3 (AltGr: the right Alt key)
Stroke = tuple[int, int]  # (evdev key code, level)

# USB HID Usage Tables 1.3, section 10 (keyboard/keypad page): usage of each key used here.
USAGE = {
    **{getattr(e, f"KEY_{c.upper()}"): 0x04 + i for i, c in enumerate(string.ascii_lowercase)},
    **{getattr(e, f"KEY_{d}"): 0x1E + i for i, d in enumerate("123456789")},
    e.KEY_0: 0x27, e.KEY_ENTER: 0x28, e.KEY_SPACE: 0x2C, e.KEY_MINUS: 0x2D, e.KEY_EQUAL: 0x2E,
    e.KEY_LEFTBRACE: 0x2F, e.KEY_RIGHTBRACE: 0x30, e.KEY_BACKSLASH: 0x31,
    e.KEY_SEMICOLON: 0x33, e.KEY_APOSTROPHE: 0x34, e.KEY_GRAVE: 0x35, e.KEY_COMMA: 0x36,
    e.KEY_DOT: 0x37, e.KEY_SLASH: 0x38, e.KEY_LEFTSHIFT: 0xE1, e.KEY_RIGHTSHIFT: 0xE5,
    e.KEY_RIGHTALT: 0xE6,
}  # fmt: skip

# Letters, digits and the space bar sit in the same places on all three layouts.
COMMON: dict[str, list[Stroke]] = {
    **{c: [(getattr(e, f"KEY_{c.upper()}"), PLAIN)] for c in string.ascii_lowercase},
    **{c.upper(): [(getattr(e, f"KEY_{c.upper()}"), SHIFT)] for c in string.ascii_lowercase},
    **{d: [(getattr(e, f"KEY_{d}"), PLAIN)] for d in string.digits},
    " ": [(e.KEY_SPACE, PLAIN)],
}
# Only the characters the recordings type; each from the layout's symbols file.
LAYOUTS: dict[str, dict[str, list[Stroke]]] = {
    "us": {  # symbols/us
        "]": [(e.KEY_RIGHTBRACE, PLAIN)], ":": [(e.KEY_SEMICOLON, SHIFT)],
        "/": [(e.KEY_SLASH, PLAIN)], "?": [(e.KEY_SLASH, SHIFT)], ".": [(e.KEY_DOT, PLAIN)],
        "-": [(e.KEY_MINUS, PLAIN)], "_": [(e.KEY_MINUS, SHIFT)], "=": [(e.KEY_EQUAL, PLAIN)],
        "&": [(e.KEY_7, SHIFT)], "%": [(e.KEY_5, SHIFT)], "@": [(e.KEY_2, SHIFT)],
    },
    "es": {  # symbols/es: <AD12> plus asterisk bracketright; <AB09> period colon; ...
        "]": [(e.KEY_RIGHTBRACE, ALTGR)], ":": [(e.KEY_DOT, SHIFT)],
        "/": [(e.KEY_7, SHIFT)], "?": [(e.KEY_MINUS, SHIFT)], ".": [(e.KEY_DOT, PLAIN)],
        "-": [(e.KEY_SLASH, PLAIN)], "_": [(e.KEY_SLASH, SHIFT)], "=": [(e.KEY_0, SHIFT)],
        "&": [(e.KEY_6, SHIFT)], "%": [(e.KEY_5, SHIFT)], "@": [(e.KEY_2, ALTGR)],
        "Ñ": [(e.KEY_SEMICOLON, SHIFT)],
    },
    "latam": {  # symbols/latam: <BKSL> braceright bracketright; <AD11> dead_acute; <AD02> q Q @
        "]": [(e.KEY_BACKSLASH, SHIFT)], ":": [(e.KEY_DOT, SHIFT)],
        "/": [(e.KEY_7, SHIFT)], "?": [(e.KEY_MINUS, SHIFT)], ".": [(e.KEY_DOT, PLAIN)],
        "-": [(e.KEY_SLASH, PLAIN)], "_": [(e.KEY_SLASH, SHIFT)], "=": [(e.KEY_0, SHIFT)],
        "&": [(e.KEY_6, SHIFT)], "%": [(e.KEY_5, SHIFT)], "@": [(e.KEY_Q, ALTGR)],
        '"': [(e.KEY_2, SHIFT)], "Ñ": [(e.KEY_SEMICOLON, SHIFT)],
        "É": [(e.KEY_LEFTBRACE, PLAIN), (e.KEY_E, SHIFT)],  # dead acute, then Shift+E
    },
}  # fmt: skip


def strokes(text: str, layout: str) -> list[Stroke]:
    table = COMMON | LAYOUTS[layout]
    return [stroke for ch in text for stroke in table[ch]]


def _key(code: int, value: int) -> list[Ev]:
    return [[e.EV_MSC, e.MSC_SCAN, 0x70000 | USAGE[code]], [e.EV_KEY, code, value], [0, 0, 0]]


def plain(text: str, layout: str, *, hold: int | None = None, repeats: int = 0) -> list[Ev]:
    """Each stroke on its own (its modifier pressed around it), then Enter. The stroke at
    index `hold` is held long enough for `repeats` kernel auto-repeats (value 2, no MSC)."""
    out: list[Ev] = []
    for i, (code, level) in enumerate([*strokes(text, layout), (e.KEY_ENTER, PLAIN)]):
        modifier = {SHIFT: e.KEY_LEFTSHIFT, ALTGR: e.KEY_RIGHTALT}.get(level)
        if modifier is not None:
            out += _key(modifier, 1)
        out += _key(code, 1)
        if i == hold:
            out += [ev for _ in range(repeats) for ev in _key(code, 2)[1:]]
        out += _key(code, 0)
        if modifier is not None:
            out += _key(modifier, 0)
    return out


def held_shift(text: str, layout: str) -> list[Ev]:
    """Right Shift held across runs of shifted characters; rollover between keys."""
    out: list[Ev] = []
    shift_down = False
    prev: int | None = None
    for code, level in [*strokes(text, layout), (e.KEY_ENTER, PLAIN)]:
        want = level == SHIFT
        if want != shift_down:
            if prev is not None:
                out += _key(prev, 0)
                prev = None
            out += _key(e.KEY_RIGHTSHIFT, int(want))
            shift_down = want
        if level == ALTGR:
            out += _key(e.KEY_RIGHTALT, 1) + _key(code, 1) + _key(e.KEY_RIGHTALT, 0)
        else:
            out += _key(code, 1)  # down before the previous key's up: rollover
        if prev is not None:
            out += _key(prev, 0)
        prev = code
    if prev is not None:
        out += _key(prev, 0)
    return out


URL = "https://hellotext.com/s?hello_session=AbC_12-x.9&ref=qr%20tienda@uy:1"
RECORDINGS = {
    "us_qr_url": ("us", "]Q1" + URL, plain("]Q1" + URL, "us")),
    "es_qr_url": ("es", "]Q1" + URL, plain("]Q1" + URL, "es")),
    "latam_qr_url": ("latam", "]Q1" + URL, plain("]Q1" + URL, "latam")),
    "es_rollover": ("es", "AB/12=ÑC@Z_:?", held_shift("AB/12=ÑC@Z_:?", "es")),
    "latam_rollover": ("latam", 'JOSÉ "2"@PEÑA', held_shift('JOSÉ "2"@PEÑA', "latam")),
    # The '0' at index 7 held for 6 auto-repeats: seven zeros typed, as a POS would show.
    "us_ean_repeat": ("us", "]E07501000000012", plain("]E07501012", "us", hold=7, repeats=6)),
}


def main() -> None:
    for name, (layout, expect, events) in RECORDINGS.items():
        timed = [[round(i * 0.0004, 4), *ev] for i, ev in enumerate(events)]
        doc = {"layout": layout, "expect": expect, "events": timed}
        (HERE / f"{name}.json").write_text(json.dumps(doc, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
