"""Shared fixtures: paths to the real ESC/POS captures, a clean environment."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# The shared captures sit beside the checkout (../shared); a git worktree is one level deeper.
FIXTURES = next(
    (p / "shared" / "fixtures" / "escpos" for p in ROOT.parents
     if (p / "shared" / "fixtures" / "escpos").is_dir()),
    ROOT.parent / "shared" / "fixtures" / "escpos",
)


@pytest.fixture
def escpos_fixtures() -> Path:
    if not FIXTURES.is_dir():
        pytest.skip(f"shared ESC/POS captures not found at {FIXTURES}")
    return FIXTURES


@pytest.fixture(autouse=True)
def _clean_agent_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests must not see a developer's real token or config."""
    for name in list(os.environ):
        if name.startswith("HELLOTEXT_") or name in ("CREDENTIALS_DIRECTORY", "JOURNAL_STREAM"):
            monkeypatch.delenv(name)


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
