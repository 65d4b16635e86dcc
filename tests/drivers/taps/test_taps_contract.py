"""The contract every printer tap keeps, written once and run against each mode.

tcp, serial (pty), usb (a pty standing in for /dev/usb/lp0), spool directory, spool FIFO and
sniff. The rigs in tap_rigs.py give each mode its real fake POS and printer.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_printer import wait_until
from tap_rigs import MODES, RecordingSink, Rig, build, teardown

JOB_A = bytes(range(256)) * 8 + b"\x1dV\x00"  # every byte value, then a cut
JOB_B = b"\x1b@Second receipt\nTOTAL 12,50\n\x1dV\x41\x03"


def _rig(mode: str, tmp_path: Path, sink: RecordingSink) -> Iterator[Rig]:
    rig = build(mode, tmp_path, sink)
    try:
        yield rig
    finally:
        teardown(rig)


@pytest.fixture(params=MODES)
def rig(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Rig]:
    yield from _rig(request.param, tmp_path, RecordingSink())


@pytest.fixture(params=MODES)
def failing_rig(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Rig]:
    yield from _rig(request.param, tmp_path, RecordingSink(fail=True))


def _two_jobs(rig: Rig) -> None:
    rig.send_job(JOB_A)
    if rig.ends_per_job:
        assert wait_until(lambda: rig.sink.ends() == 1), "first job never ended"
    else:
        assert wait_until(lambda: rig.tap.status().bytes_to_printer == len(JOB_A))
    rig.send_job(JOB_B)


def test_bytes_reach_sink_per_stream_with_job_ends(rig: Rig) -> None:
    _two_jobs(rig)
    if rig.ends_per_job:
        assert wait_until(lambda: rig.sink.ends() == 2)
        jobs = rig.sink.jobs()
        assert [data for _, data in jobs] == [JOB_A, JOB_B]
        assert all(stream.startswith("caja") for stream, _ in jobs)
        if rig.mode in ("tcp", "spool-dir", "spool-fifo"):
            assert jobs[0][0] != jobs[1][0], "each connection/file is its own stream"
    else:  # sniff: one continuous stream, ended when the tap stops
        assert wait_until(lambda: rig.sink.received() == JOB_A + JOB_B)
        assert rig.sink.ends() == 0
        rig.tap.stop(2)
        assert rig.sink.jobs() == [("caja", JOB_A + JOB_B)]
    if rig.printer is not None:
        printer = rig.printer
        assert wait_until(lambda: printer() == JOB_A + JOB_B)


def test_sink_exceptions_are_counted_and_never_stop_the_tap(failing_rig: Rig) -> None:
    rig = failing_rig
    _two_jobs(rig)
    assert wait_until(lambda: rig.tap.status().bytes_to_printer == len(JOB_A + JOB_B))
    assert wait_until(lambda: rig.tap.status().sink_errors >= 2)
    if rig.printer is not None:
        printer = rig.printer
        assert wait_until(lambda: printer() == JOB_A + JOB_B)
    status = rig.tap.status()
    assert status.jobs == (2 if rig.ends_per_job else 1)
    assert rig.tap.alive()


def test_stop_is_prompt_even_mid_job(rig: Rig) -> None:
    assert rig.tap.alive()
    threads = [t for t in threading.enumerate() if t.name.startswith("tap-caja-")]
    assert threads and all(t.daemon for t in threads)
    if rig.hold_pos is not None:
        with rig.hold_pos():  # the POS is connected and silent
            assert wait_until(lambda: rig.tap.status().jobs == 1)
            started = time.monotonic()
            rig.tap.stop(5)
            elapsed = time.monotonic() - started
    else:
        started = time.monotonic()
        rig.tap.stop(5)
        elapsed = time.monotonic() - started
    assert elapsed < 1.0
    assert not rig.tap.alive()
    assert not rig.tap.status().listening
    assert wait_until(lambda: not any(t.is_alive() for t in threads))


def test_status_fields_after_a_job(rig: Rig) -> None:
    status = rig.tap.status()
    assert (status.name, status.listening, status.jobs) == ("caja", True, 0)
    assert status.mode == {"spool-dir": "spool", "spool-fifo": "spool"}.get(rig.mode, rig.mode)
    rig.send_job(JOB_B + b"\x10\x04\x01")  # ends with a status request
    assert wait_until(lambda: rig.tap.status().bytes_to_printer == len(JOB_B) + 3)
    if rig.printer is not None:  # forwarding modes pass the printer's answer back
        assert wait_until(lambda: rig.tap.status().bytes_from_printer == 1)
    status = rig.tap.status()
    assert status.printer_connected
    assert status.jobs == 1
    assert (status.sink_errors, status.sink_dropped, status.reopens) == (0, 0, 0)
    assert status.last_error is None


def test_an_idle_tap_does_not_spin(rig: Rig) -> None:
    """No POS, no job: the tap waits in poll/timeouts; the till's CPU stays free."""
    rig.send_job(JOB_B)  # afterwards the POS is gone (pty closed, FIFO writer closed, ...)
    assert wait_until(lambda: rig.tap.status().bytes_to_printer == len(JOB_B))
    threading.Event().wait(0.05)  # let the tap notice the POS has gone
    # Only the tap's own threads are timed: the process also runs what other tests left
    # behind, and the machine's load decides how much CPU a busy thread gets, not a waiting one.
    threads = [t for t in threading.enumerate() if t.name.startswith(f"tap-{rig.tap.name}-")]
    assert threads, "the tap's threads were not found"
    cpu, wall = tap_cpu(threads), time.monotonic()
    threading.Event().wait(1.0)
    used, wall = tap_cpu(threads) - cpu, time.monotonic() - wall
    # A spinning thread takes a good part of a core even on a loaded till; waiting, ~nothing.
    assert used < 0.05 * wall, f"{used:.3f}s of CPU in {wall:.3f}s while idle"


def tap_cpu(threads: list[threading.Thread]) -> float:
    """CPU seconds (user + system) the given threads have used, from /proc."""
    total = 0
    for thread in threads:
        try:
            text = Path(f"/proc/self/task/{thread.native_id}/stat").read_text()
        except FileNotFoundError:  # a thread that has ended uses no more
            continue
        fields = text.rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")
