"""Shared fixtures: paths to the real ESC/POS captures, a clean environment."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from escpos_helpers import FIXTURES

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def escpos_fixtures() -> Path:
    assert sorted(FIXTURES.glob("*.bin")), f"the ESC/POS captures are missing from {FIXTURES}"
    return FIXTURES


@pytest.fixture(autouse=True)
def _clean_agent_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tests must not see a developer's real token or config (nor fill their config cache)."""
    for name in list(os.environ):
        if name.startswith("HELLOTEXT_") or name in ("CREDENTIALS_DIRECTORY", "JOURNAL_STREAM"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 1 MB tmpfs: the full-disk tests fill it."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root; run as root to test a full disk")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip() or done.returncode}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False, capture_output=True)


# --- skips on CI --------------------------------------------------------------------------
# `.ci/run` sets AGENT_CI_SKIPS to a file; every skipped test is appended to it as one JSON
# line ({"nodeid", "reason"}), and scripts/check_skips.py then fails the run on any skip not
# listed, with its reason, in tests/allowed_skips.txt. Read once here: tests clear the env.
_skip_report: Path | None = None


def pytest_configure(config: pytest.Config) -> None:
    global _skip_report
    path = os.environ.get("AGENT_CI_SKIPS")
    _skip_report = Path(path) if path else None


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if _skip_report is None or not report.skipped or hasattr(report, "wasxfail"):
        return
    longrepr = report.longrepr
    reason = str(longrepr[2]) if isinstance(longrepr, tuple) else str(longrepr)
    with _skip_report.open("a", encoding="utf-8") as out:
        out.write(json.dumps({"nodeid": report.nodeid, "reason": reason}) + "\n")
