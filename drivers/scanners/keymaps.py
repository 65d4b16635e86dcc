"""Keyboard layouts for keyboard-wedge scanners: Linux key code -> character per level.

A wedge scanner "types" each character as the key that produces it on the layout the
scanner is set to, so the agent must read keys with the same layout: on a Spanish layout
the scanner sends Shift+7 for '/', which a US reading would turn into '&'. Key codes are the
kernel's (linux/input-event-codes.h, a stable ABI), written out here so this module stays
pure and importable without evdev. Levels: plain, Shift, AltGr. A combining accent in a table
is a dead key (it changes the next key). `encode()` is the inverse, used to generate the
recorded event sequences in tests and to type through uinput.
"""

from __future__ import annotations

import unicodedata

EV_SYN, EV_KEY, EV_MSC = 0, 1, 4
SYN_REPORT, MSC_SCAN = 0, 4
KEY_ESC, KEY_BACKSPACE, KEY_TAB, KEY_ENTER, KEY_SPACE = 1, 14, 15, 28, 57
KEY_LEFTCTRL, KEY_LEFTSHIFT, KEY_RIGHTSHIFT, KEY_LEFTALT = 29, 42, 54, 56
KEY_CAPSLOCK, KEY_KPENTER, KEY_RIGHTCTRL, KEY_RIGHTALT = 58, 96, 97, 100
KEY_GRAVE, KEY_MINUS, KEY_EQUAL, KEY_LEFTBRACE, KEY_RIGHTBRACE = 41, 12, 13, 26, 27
KEY_SEMICOLON, KEY_APOSTROPHE, KEY_BACKSLASH, KEY_102ND = 39, 40, 43, 86
KEY_COMMA, KEY_DOT, KEY_SLASH = 51, 52, 53
KEY_Q, KEY_E = 16, 18

SHIFTS = frozenset({KEY_LEFTSHIFT, KEY_RIGHTSHIFT})
ENTERS = frozenset({KEY_ENTER, KEY_KPENTER})

# Dead keys: the combining accent, and the character a dead key + Space gives.
ACUTE, GRAVE, CIRCUMFLEX, DIAERESIS = "\u0301", "\u0300", "\u0302", "\u0308"
SPACING = {ACUTE: "´", GRAVE: "`", CIRCUMFLEX: "^", DIAERESIS: "¨", "\u0303": "~"}

Level = tuple[str, str, str]  # plain, Shift, AltGr ("" = nothing)
Keymap = dict[int, Level]

_LETTER_ROWS = ((16, "qwertyuiop"), (30, "asdfghjkl"), (44, "zxcvbnm"))
_KEYPAD = {71: "7", 72: "8", 73: "9", 74: "-", 75: "4", 76: "5", 77: "6", 78: "+",
           79: "1", 80: "2", 81: "3", 82: "0", 83: ".", 98: "/", 55: "*"}  # fmt: skip


def _base() -> Keymap:
    """Letters, digits (unshifted), Space and the keypad: the same on every layout here."""
    keys: Keymap = {}
    for first, letters in _LETTER_ROWS:
        for i, ch in enumerate(letters):
            keys[first + i] = (ch, ch.upper(), "")
    for i, ch in enumerate("1234567890"):
        keys[2 + i] = (ch, "", "")
    keys[KEY_SPACE] = (" ", " ", "")
    for code, ch in _KEYPAD.items():
        keys[code] = (ch, ch, "")
    return keys


def _layout(shifted_digits: str, altgr_digits: str, extra: Keymap) -> Keymap:
    keys = _base()
    for i in range(10):
        keys[2 + i] = (keys[2 + i][0], shifted_digits[i], altgr_digits[i].strip())
    keys.update(extra)
    return keys


US = _layout(
    "!@#$%^&*()",
    " " * 10,
    {
        KEY_GRAVE: ("`", "~", ""),
        KEY_MINUS: ("-", "_", ""),
        KEY_EQUAL: ("=", "+", ""),
        KEY_LEFTBRACE: ("[", "{", ""),
        KEY_RIGHTBRACE: ("]", "}", ""),
        KEY_BACKSLASH: ("\\", "|", ""),
        KEY_SEMICOLON: (";", ":", ""),
        KEY_APOSTROPHE: ("'", '"', ""),
        KEY_COMMA: (",", "<", ""),
        KEY_DOT: (".", ">", ""),
        KEY_SLASH: ("/", "?", ""),
    },
)

# Spain (xkb "es", Windows "Spanish"): @ # ~ € on AltGr+2..5, / = on Shift+7/0.
ES = _layout(
    '!"·$%&/()=',
    "|@#~€¬    ",
    {
        KEY_GRAVE: ("º", "ª", "\\"),
        KEY_MINUS: ("'", "?", ""),
        KEY_EQUAL: ("¡", "¿", ""),
        KEY_E: ("e", "E", "€"),
        KEY_LEFTBRACE: (GRAVE, CIRCUMFLEX, "["),
        KEY_RIGHTBRACE: ("+", "*", "]"),
        KEY_SEMICOLON: ("ñ", "Ñ", ""),
        KEY_APOSTROPHE: (ACUTE, DIAERESIS, "{"),
        KEY_BACKSLASH: ("ç", "Ç", "}"),
        KEY_102ND: ("<", ">", ""),
        KEY_COMMA: (",", ";", ""),
        KEY_DOT: (".", ":", ""),
        KEY_SLASH: ("-", "_", ""),
    },
)

# Latin America (xkb "latam", Windows "Latin American"): @ on AltGr+Q (xkb also has
# AltGr+2), # on Shift+3, " on Shift+2, braces where Spain has the accents.
LATAM = _layout(
    '!"#$%&/()=',
    " @        ",
    {
        KEY_Q: ("q", "Q", "@"),
        KEY_GRAVE: ("|", "°", "¬"),
        KEY_MINUS: ("'", "?", "\\"),
        KEY_EQUAL: ("¿", "¡", ""),
        KEY_LEFTBRACE: (ACUTE, DIAERESIS, ""),
        KEY_RIGHTBRACE: ("+", "*", "~"),
        KEY_SEMICOLON: ("ñ", "Ñ", ""),
        KEY_APOSTROPHE: ("{", "[", CIRCUMFLEX),
        KEY_BACKSLASH: ("}", "]", GRAVE),
        KEY_102ND: ("<", ">", ""),
        KEY_COMMA: (",", ";", ""),
        KEY_DOT: (".", ":", ""),
        KEY_SLASH: ("-", "_", ""),
    },
)

LAYOUTS: dict[str, Keymap] = {"us": US, "es": ES, "latam": LATAM}


def is_dead(ch: str) -> bool:
    return len(ch) == 1 and unicodedata.combining(ch) > 0


def compose(accent: str, ch: str) -> str:
    """What a dead key followed by `ch` types: the composed letter, else both characters."""
    if ch == " ":
        return SPACING[accent]
    composed = unicodedata.normalize("NFC", ch + accent)
    return composed if len(composed) == 1 else SPACING[accent] + ch


Stroke = tuple[int, int]  # key code, level (0 plain, 1 Shift, 2 AltGr)
Event = tuple[int, int, int]  # type, code, value


# Where a layout has a character twice, the key its scanners send (Windows' LatAm layout
# has '@' only on AltGr+Q).
_PREFERRED: dict[str, dict[str, Stroke]] = {"latam": {"@": (KEY_Q, 2)}}


def _strokes_for(layout: str) -> dict[str, Stroke]:
    found: dict[str, Stroke] = {}
    for code, levels in LAYOUTS[layout].items():
        for level, ch in enumerate(levels):
            if ch and ch not in found and code not in _KEYPAD:
                found[ch] = (code, level)
    return found | _PREFERRED.get(layout, {})


def strokes(text: str, layout: str) -> list[Stroke]:
    """The key strokes a wedge scanner set to `layout` sends for `text` (Enter not added)."""
    table = _strokes_for(layout)
    out: list[Stroke] = []
    for ch in text:
        if ch in table:
            out.append(table[ch])
            continue
        # Through a dead key: "^" is dead circumflex + Space, "á" is dead acute + a.
        accent = next((a for a, s in SPACING.items() if s == ch), None)
        base = ch
        if accent is None:
            decomposed = unicodedata.normalize("NFD", ch)
            base, accent = decomposed[0], decomposed[1:] or None
            if accent is not None and len(accent) > 1:
                accent = None
        else:
            base = " "
        if accent is None or accent not in table or base not in table:
            raise ValueError(f"{ch!r} cannot be typed on layout {layout!r}")
        out += [table[accent], table[base]]
    return out


def encode(text: str, layout: str, *, enter: bool = True) -> list[Event]:
    """evdev events for typing `text`: MSC_SCAN, key down, SYN, key up, SYN, with the
    modifier pressed around each shifted key, as a USB keyboard reports them."""
    events: list[Event] = []

    def key(code: int, value: int) -> None:
        events.extend([(EV_MSC, MSC_SCAN, 0x70000 + code), (EV_KEY, code, value),
                       (EV_SYN, SYN_REPORT, 0)])  # fmt: skip

    for code, level in strokes(text, layout) + ([(KEY_ENTER, 0)] if enter else []):
        modifier = (None, KEY_LEFTSHIFT, KEY_RIGHTALT)[level]
        if modifier is not None:
            key(modifier, 1)
        key(code, 1)
        key(code, 0)
        if modifier is not None:
            key(modifier, 0)
    return events
