"""scripts/build-deb.sh's options, answered before it needs root, a build root or a mirror (the
build itself is tested by tests/test_deb_systemd.py, which boots what it makes)."""

from __future__ import annotations

import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "build-deb.sh"


def build_deb(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, timeout=30)


def test_help_names_both_releases_and_trixie_is_the_default() -> None:
    done = build_deb("--help")
    assert done.returncode == 0
    assert "--release R     trixie (Debian 13, python3.13; the default)" in done.stdout
    assert "bookworm (Debian 12, python3.11)" in done.stdout


def test_an_unknown_release_is_refused_naming_the_ones_it_builds() -> None:
    done = build_deb("--release", "buster", "--out", "/nonexistent")
    assert done.returncode == 1
    assert "--release buster: want trixie (Debian 13) or bookworm (Debian 12)" in done.stderr
    assert not Path("/nonexistent").exists()
