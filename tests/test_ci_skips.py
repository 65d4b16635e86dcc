"""CI fails on a test that skips without being allowed to (tests/allowed_skips.txt).

A real pytest run records its skips through tests/conftest.py; scripts/check_skips.py then
passes an allowed skip, fails an unlisted one with its reason, and refuses an entry that
gives no reason.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from scripts.check_skips import load_allowed

ROOT = Path(__file__).resolve().parent.parent
ALLOWED = ROOT / "tests" / "allowed_skips.txt"
# Skips everywhere unless opted in (it installs from the package index): a real skip to record.
SKIPPING = "tests/test_install.py::test_real_venv_install_runs_the_agent"


def check(skips: Path, allowed: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "scripts/check_skips.py", str(skips), "--allowed", str(allowed)],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )


def test_every_allowed_skip_names_a_real_test_and_says_why() -> None:
    entries = load_allowed(ALLOWED)
    assert entries, "the allow-list is empty"
    for pattern, reason in entries:
        path, _, name = pattern.partition("::")
        assert (ROOT / path).is_file(), pattern
        assert name.split("[")[0].rstrip("*") in (ROOT / path).read_text(), pattern
        assert len(reason) >= 20, f"{pattern}: say why it may skip on CI"


def test_a_recorded_skip_passes_only_when_listed(tmp_path: Path) -> None:
    skips = tmp_path / "skips.jsonl"
    env = {k: v for k, v in os.environ.items() if k != "AGENT_TEST_PIP_INSTALL"}
    run = subprocess.run(
        # -m: the test that skips is a slow one, which the default addopts deselect.
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "slow", SKIPPING],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**env, "AGENT_CI_SKIPS": str(skips)},
    )
    assert run.returncode == 0, run.stdout + run.stderr
    (record,) = [json.loads(line) for line in skips.read_text().splitlines()]
    assert record["nodeid"] == SKIPPING and "AGENT_TEST_PIP_INSTALL" in record["reason"]

    listed = check(skips, ALLOWED)
    assert listed.returncode == 0, listed.stdout
    assert f"allowed     {SKIPPING}" in listed.stdout

    empty = tmp_path / "none.txt"
    empty.write_text("# nothing may skip\n")
    unlisted = check(skips, empty)
    assert unlisted.returncode == 1
    assert f"NOT ALLOWED {SKIPPING}: " in unlisted.stdout and "package index" in unlisted.stdout


def test_an_entry_without_a_reason_and_a_run_without_a_record_are_refused(
    tmp_path: Path,
) -> None:
    skips = tmp_path / "skips.jsonl"
    skips.write_text("")
    bare = tmp_path / "bare.txt"
    bare.write_text(f"{SKIPPING}\n")
    refused = check(skips, bare)
    assert refused.returncode == 2 and "<reason>" in refused.stdout
    assert check(skips, ALLOWED).returncode == 0  # nothing skipped: nothing to allow
    missing = check(tmp_path / "never-written.jsonl", ALLOWED)
    assert missing.returncode == 2 and "AGENT_CI_SKIPS" in missing.stdout
