"""Writes the recorded evdev sequences in this folder: `uv run python tests/data/hid/record.py`.

Each file is what a wedge scanner set to a layout sends for a real code, as evdev reports
it: MSC_SCAN, EV_KEY down/up, SYN_REPORT, with times a few ms apart. Beyond the plain
strokes from drivers.scanners.keymaps.encode, the recordings reproduce what real scanners do: Shift
held across a run of shifted characters, the right Shift key, the next key going down
before the previous one is released (rollover), and kernel auto-repeat (value 2) of a held
key. The decoder tests compare each file's decoding with its "expect" string, which is
written by hand here, not derived from the keymaps.
"""

from __future__ import annotations

import json
from pathlib import Path

from drivers.scanners import keymaps as k

HERE = Path(__file__).resolve().parent
Ev = list[int]


def _key(code: int, value: int) -> list[Ev]:
    return [[k.EV_MSC, k.MSC_SCAN, 0x70000 + code], [k.EV_KEY, code, value], [0, 0, 0]]


def plain(text: str, layout: str) -> list[Ev]:
    return [list(e) for e in k.encode(text, layout)]


def held_shift(text: str, layout: str) -> list[Ev]:
    """Right Shift held across runs of shifted characters; rollover between keys."""
    out: list[Ev] = []
    shift_down = False
    prev: int | None = None
    for code, level in k.strokes(text, layout) + [(k.KEY_ENTER, 0)]:
        want = level == 1
        if want != shift_down:
            if prev is not None:
                out += _key(prev, 0)
                prev = None
            out += _key(k.KEY_RIGHTSHIFT, int(want))
            shift_down = want
        if level == 2:
            out += _key(k.KEY_RIGHTALT, 1) + _key(code, 1) + _key(k.KEY_RIGHTALT, 0)
        else:
            out += _key(code, 1)  # down before the previous key's up: rollover
        if prev is not None:
            out += _key(prev, 0)
        prev = code
    if prev is not None:
        out += _key(prev, 0)
    return out


def with_repeat(text: str, layout: str, *, at: int, repeats: int) -> list[Ev]:
    """Plain strokes, but the character at index `at` is held: `repeats` value-2 events."""
    events = plain(text, layout)
    strokes = k.strokes(text, layout)
    code, _ = strokes[at]
    nth = sum(1 for c, _ in strokes[:at] if c == code)  # earlier presses of the same key
    downs = [i for i, e in enumerate(events) if e[:2] == [k.EV_KEY, code] and e[2] == 1]
    i = downs[nth] + 2  # after the key down and its SYN_REPORT
    return events[:i] + [e for _ in range(repeats) for e in _key(code, 2)[1:]] + events[i:]


URL = "https://hellotext.com/s?hello_session=AbC_12-x.9&ref=qr%20tienda@uy:1"
RECORDINGS = {
    "us_qr_url": ("us", "]Q1" + URL, plain("]Q1" + URL, "us")),
    "es_qr_url": ("es", "]Q1" + URL, plain("]Q1" + URL, "es")),
    "latam_qr_url": ("latam", "]Q1" + URL, plain("]Q1" + URL, "latam")),
    "es_rollover": ("es", "AB/12=ÑC@Z_:?", held_shift("AB/12=ÑC@Z_:?", "es")),
    "latam_rollover": ("latam", 'JOSÉ "2"@PEÑA', held_shift('JOSÉ "2"@PEÑA', "latam")),
    # The '0' at index 7 held for 6 auto-repeats: seven zeros typed, as a POS would show.
    "us_ean_repeat": ("us", "]E07501000000012", with_repeat("]E07501012", "us", at=7, repeats=6)),
}


def main() -> None:
    for name, (layout, expect, events) in RECORDINGS.items():
        timed = [[round(i * 0.0004, 4), *e] for i, e in enumerate(events)]
        doc = {"layout": layout, "expect": expect, "events": timed}
        (HERE / f"{name}.json").write_text(json.dumps(doc, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
