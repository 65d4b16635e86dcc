"""Fixtures of the fault suite: the stand-in, a till, a tmpfs (root only)."""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from faultrig import TOKEN, Till

from agent.standin.server import FakeHellotext


@pytest.fixture
def fake() -> Iterator[FakeHellotext]:
    server = FakeHellotext(token=TOKEN).start()
    yield server
    server.stop()


@pytest.fixture
def tills(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Till]]:
    """Tills closed after the test; WatchdogSec=1 s, so a health period is 0.5 s."""
    monkeypatch.setenv("WATCHDOG_USEC", "1000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    made: list[Till] = []
    yield made
    for till in made:  # all stopped first: a close waits for every till's threads to end
        till.stop()
    for till in made:
        till.close()


def mount_tmpfs(where: Path, *options: str) -> None:
    """A real tmpfs (1 MB unless told): a disk that fills, a mount that goes read-only."""
    where.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs as root)")
    opts = ",".join(("size=1m", "mode=0700", *options))
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip() or done.returncode}")


def remount(where: Path, option: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{option}", str(where)], check=True)


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    """The state directory on its own 1 MB tmpfs."""
    where = tmp_path / "state"
    mount_tmpfs(where)
    yield where
    subprocess.run(["umount", "-l", str(where)], check=False, capture_output=True)


@pytest.fixture(autouse=True)
def _logging_restored() -> Iterator[None]:
    """`main()` points the root logger at this test's stderr; later tests' threads must not
    log into a closed capture."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
