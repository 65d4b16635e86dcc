"""Keyboard-wedge barcode scanners (USB HID keyboards) read through evdev.

    (type, code, value) ──HidDecoder.feed(..., at=)──▶ [Scan]      pure
    evdev.InputDevice ──HidScanner (grab, select loop, reopen)──▶ on_scan(Scan)

The scanner types each code as key strokes on the layout it is set to, then Enter. The
device is grabbed so those strokes do not also reach the POS as typing. Key repeat
(value 2) types the character again, as it would have on screen; a key with no character
on the layout (F-keys, Ctrl combinations, Tab) marks the scan as garbage: it is dropped
and counted rather than delivered with a character missing.
"""

from __future__ import annotations

import contextlib
import select
from collections.abc import Callable, Iterable
from typing import Protocol

from drivers.scanners import keymaps
from drivers.scanners.base import Scan, ScannerThread, is_clean, make_scan
from drivers.scanners.keymaps import EV_KEY

_CTRL_ALT = frozenset({keymaps.KEY_LEFTCTRL, keymaps.KEY_RIGHTCTRL, keymaps.KEY_LEFTALT})
_IGNORED = frozenset({keymaps.KEY_CAPSLOCK}) | _CTRL_ALT  # state keys, no character


class HidDecoder:
    """Incremental, pure: evdev key events in, Scans out (at the Enter key's time)."""

    def __init__(self, *, layout: str = "us", max_length: int = 512, source: str = "") -> None:
        if layout not in keymaps.LAYOUTS:
            raise ValueError(f"layout must be one of {sorted(keymaps.LAYOUTS)}")
        self.layout = layout
        self._keys = keymaps.LAYOUTS[layout]
        self.max_length = max_length
        self.source = source
        self.overlong = 0
        self.garbage = 0
        self.reset()

    def reset(self) -> None:
        """Forget a partial scan and the modifier state (the device was reopened)."""
        self._text: list[str] = []
        self._shift: set[int] = set()
        self._altgr = False
        self._ctrl_alt: set[int] = set()
        self._caps = False
        self._dead: str | None = None
        self._bad = False  # a key with no character was typed in this scan
        self._long = False

    def feed(self, type_: int, code: int, value: int, *, at: float) -> list[Scan]:
        if type_ != EV_KEY:
            return []  # EV_SYN, EV_MSC scan codes, LEDs
        if code in keymaps.SHIFTS:
            (self._shift.add if value else self._shift.discard)(code)
            return []
        if code == keymaps.KEY_RIGHTALT:
            self._altgr = value != 0
            return []
        if code in _CTRL_ALT:
            (self._ctrl_alt.add if value else self._ctrl_alt.discard)(code)
            return []
        if value == 0:
            return []  # characters are typed on key down (1) and repeat (2)
        if code == keymaps.KEY_CAPSLOCK:
            self._caps = self._caps != (value == 1)
            return []
        if code in keymaps.ENTERS:
            return self._end(at)
        self._type(self._char(code))
        return []

    def _char(self, code: int) -> str:
        levels = self._keys.get(code)
        if levels is None or self._ctrl_alt:
            return ""
        if self._altgr:
            return levels[2]
        ch = levels[1] if self._shift else levels[0]
        if self._caps and ch.isalpha() and len(levels[0]) == 1 and levels[0].isalpha():
            ch = ch.swapcase()
        return ch

    def _type(self, ch: str) -> None:
        if not ch:
            self._bad = True
            return
        if keymaps.is_dead(ch):
            if self._dead is None:
                self._dead = ch
                return
            ch, self._dead = keymaps.SPACING[self._dead] + keymaps.SPACING[ch], None
        elif self._dead is not None:
            ch, self._dead = keymaps.compose(self._dead, ch), None
        if self._long:
            return
        self._text.append(ch)
        if len(self._text) > self.max_length + 3:  # + room for an AIM id
            self._long = True
            self._text.clear()  # bounded memory: the rest of this scan is dropped

    def _end(self, at: float) -> list[Scan]:
        if self._dead is not None:
            self._type(" ")  # a dead key left pending types its accent
        text, bad, long = "".join(self._text), self._bad, self._long
        self._text.clear()
        self._bad = self._long = False
        if long:
            self.overlong += 1
            return []
        if not text:
            if bad:
                self.garbage += 1
            return []
        scan = make_scan(text, at=at, source=self.source)
        if bad or not scan.code or not is_clean(scan.code):
            self.garbage += 1
            return []
        if len(scan.code) > self.max_length:
            self.overlong += 1
            return []
        return [scan]


class InputEventLike(Protocol):
    type: int
    code: int
    value: int

    def timestamp(self) -> float: ...


class InputDeviceLike(Protocol):
    """The part of evdev.InputDevice that HidScanner uses."""

    def fileno(self) -> int: ...
    def read(self) -> Iterable[InputEventLike]: ...
    def grab(self) -> None: ...
    def ungrab(self) -> None: ...
    def close(self) -> None: ...


def open_evdev(device: str) -> InputDeviceLike:
    import evdev  # Linux only; imported here so the pure decoder works anywhere

    dev: InputDeviceLike = evdev.InputDevice(device)
    return dev


class HidScanner(ScannerThread):
    """A keyboard-wedge scanner at `device` (/dev/input/by-id/...-event-kbd).

    `opener` is the seam to the hardware (default: evdev.InputDevice); the device is
    reopened every `retry` seconds after it disappears. The read loop wakes every
    `poll_interval` seconds to notice stop().
    """

    mode = "hid"
    retry = 0.25
    poll_interval = 0.1

    def __init__(
        self,
        *,
        name: str,
        device: str,
        layout: str = "us",
        grab: bool = True,
        max_length: int = 512,
        on_scan: Callable[[Scan], None],
        opener: Callable[[str], InputDeviceLike] = open_evdev,
    ) -> None:
        super().__init__(name=name, on_scan=on_scan)
        self.device = device
        self.grab = grab
        self.decoder = HidDecoder(layout=layout, max_length=max_length, source=name)
        self._opener = opener
        self._dev: InputDeviceLike | None = None

    def _drop_counts(self) -> tuple[int, int]:
        return self.decoder.overlong, self.decoder.garbage

    def _run(self) -> None:
        while not self._stopping.is_set():
            dev = self._open()
            if dev is None:
                self._stopping.wait(self.retry)
                continue
            try:
                self._read(dev)
            except OSError as exc:  # ENODEV: unplugged
                if not self._stopping.is_set():
                    self._lost(exc.strerror or str(exc))
            finally:
                self._close()

    def _open(self) -> InputDeviceLike | None:
        try:
            dev = self._opener(self.device)
        except OSError as exc:
            self._lost(exc.strerror or str(exc))
            return None
        try:
            if self.grab:
                dev.grab()  # EBUSY if someone else holds it: retried like a missing device
        except OSError as exc:
            dev.close()
            self._lost(f"cannot grab: {exc.strerror or exc}")
            return None
        self._dev = dev
        self.decoder.reset()
        self._opened()
        return dev

    def _read(self, dev: InputDeviceLike) -> None:
        while not self._stopping.is_set():
            ready, _, _ = select.select([dev], [], [], self.poll_interval)
            if not ready:
                continue
            scans: list[Scan] = []
            try:
                for event in dev.read():
                    at = event.timestamp()
                    scans += self.decoder.feed(event.type, event.code, event.value, at=at)
            except BlockingIOError:
                pass  # woken with nothing to read
            self._deliver(scans)

    def _close(self) -> None:
        dev, self._dev = self._dev, None
        if dev is None:
            return
        with contextlib.suppress(OSError):
            if self.grab:
                dev.ungrab()
        with contextlib.suppress(OSError):
            dev.close()
