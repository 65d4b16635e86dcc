"""ClockWatch against receipts' printed times: several receipts that agree, never one.

Both clocks are values the test sets (no patching): `wall` is what the till's clock says,
`mono` its monotonic clock; a receipt is (printed time, monotonic instant of capture).
"""

from __future__ import annotations

from agent.daemon.clock import ClockWatch

NOW = 1_796_000_000.0  # 2026-11-29
HOUR = 3600.0


class Clocks:
    def __init__(self, wall: float = NOW) -> None:
        self.wall, self.mono = wall, 1000.0

    def tick(self, seconds: float) -> None:
        self.wall += seconds
        self.mono += seconds


def watch(clocks: Clocks) -> ClockWatch:
    return ClockWatch(wall=lambda: clocks.wall, mono=lambda: clocks.mono)


def print_receipt(w: ClockWatch, clocks: Clocks, printed: float, number: str) -> None:
    w.observe_receipt(printed, clocks.mono, number)
    clocks.tick(90)


def test_three_receipts_that_agree_name_the_clock_one_does_not() -> None:
    clocks = Clocks(wall=NOW + 214 * HOUR)  # the till's clock is 214 h ahead of the POS's
    w = watch(clocks)
    print_receipt(w, clocks, NOW, "A-1")
    assert w.suspect is None, "one receipt proves nothing"
    print_receipt(w, clocks, NOW + 60, "A-2")
    assert w.suspect is None
    print_receipt(w, clocks, NOW + 180, "A-3")  # printed minutes: skews within a minute
    assert w.suspect is not None and "214 h ahead of" in w.suspect


def test_a_reprinted_old_receipt_or_an_odd_one_among_live_ones_is_no_alarm() -> None:
    clocks = Clocks()
    w = watch(clocks)
    print_receipt(w, clocks, clocks.wall, "A-10")
    print_receipt(w, clocks, NOW - 9 * 24 * HOUR, "A-02")  # last week's, reprinted
    print_receipt(w, clocks, clocks.wall, "A-11")
    print_receipt(w, clocks, clocks.wall + 30 * HOUR, "A-12")  # a POS with a wild clock once
    print_receipt(w, clocks, clocks.wall, "A-13")
    assert w.suspect is None


def test_the_same_old_receipt_reprinted_three_times_counts_once() -> None:
    clocks = Clocks()
    w = watch(clocks)
    for _ in range(3):
        print_receipt(w, clocks, NOW - 9 * 24 * HOUR, "A-02")
    assert w.suspect is None


def test_receipts_that_disagree_with_each_other_are_no_verdict() -> None:
    """Samples printed back to back: far from the clock, but not by the same amount."""
    clocks = Clocks()
    w = watch(clocks)
    old = NOW - 17 * 24 * HOUR
    for i, minutes in enumerate((3, 10, 25, 40, 62, 65, 80, 90, 130)):
        print_receipt(w, clocks, old + minutes * 60, f"S-{i}")
        assert w.suspect is None, minutes


def test_the_alarm_clears_once_the_clock_is_set_right() -> None:
    clocks = Clocks(wall=NOW - 24 * HOUR)
    w = watch(clocks)
    for i in range(3):
        print_receipt(w, clocks, clocks.wall + 24 * HOUR, f"B-{i}")
    assert w.suspect is not None and "24 h behind" in w.suspect
    clocks.wall += 24 * HOUR  # NTP answers
    assert w.suspect is None
