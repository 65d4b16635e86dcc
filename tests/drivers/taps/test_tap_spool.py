"""The spool tap's directory mode: settled files only, read once, never again after a restart."""

from __future__ import annotations

import os
import time
from pathlib import Path

from fake_printer import wait_until
from tap_rigs import RecordingSink

from drivers.taps import TapOptions
from drivers.taps.files import SpoolTap


def spool_tap(path: Path, sink: RecordingSink) -> SpoolTap:
    return SpoolTap(TapOptions("caja", "spool", path=str(path)), sink, settle=1.0)


def test_a_file_is_taken_only_once_it_has_settled(tmp_path: Path) -> None:
    tap = spool_tap(tmp_path, RecordingSink())
    job = tmp_path / "0001.prn"
    job.write_bytes(b"half a rec")
    now = time.time()
    tap.scan(now=now + 5)  # first sighting: not yet
    with job.open("ab") as f:  # the POS is still writing
        f.write(b"eipt\n")
    tap.scan(now=now + 5)  # it changed: wait again
    assert tap.status().jobs == 0 and job.exists()
    touched = job.stat().st_mtime
    tap.scan(now=touched + 0.5)  # unchanged, but touched less than `settle` ago
    assert tap.status().jobs == 0
    tap.scan(now=touched + 5)
    assert tap.status().jobs == 1 and tap.status().bytes_to_printer == len(b"half a receipt\n")
    assert not job.exists() and (tmp_path / "0001.prn.done").exists()


def test_a_restart_does_not_read_finished_jobs_again(tmp_path: Path) -> None:
    (tmp_path / "a.prn").write_bytes(b"receipt A\n")
    (tmp_path / ".partial").write_bytes(b"ignored: hidden")
    old = time.time() - 60
    os.utime(tmp_path / "a.prn", (old, old))
    first_sink = RecordingSink()
    first = SpoolTap(TapOptions("caja", "spool", path=str(tmp_path)), first_sink,
                     settle=0.1, scan_interval=0.05)
    first.start()
    assert wait_until(lambda: first_sink.ends() == 1)
    first.stop(1)
    assert first_sink.jobs() == [("caja:a.prn", b"receipt A\n")]

    again = RecordingSink()
    second = SpoolTap(TapOptions("caja", "spool", path=str(tmp_path)), again,
                      settle=0.1, scan_interval=0.05)
    second.start()
    (tmp_path / "b.prn").write_bytes(b"receipt B\n")
    assert wait_until(lambda: again.ends() == 1)
    second.stop(1)
    assert again.jobs() == [("caja:b.prn", b"receipt B\n")]
    assert (tmp_path / ".partial").exists()


def test_a_missing_spool_directory_is_created(tmp_path: Path) -> None:
    spool = tmp_path / "var" / "spool" / "pos"
    tap = spool_tap(spool, RecordingSink())
    tap.start()
    try:
        assert spool.is_dir() and tap.status().printer_connected
    finally:
        tap.stop(1)
