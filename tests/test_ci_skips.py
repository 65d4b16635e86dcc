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


def test_without_tesseract_ocr_tests_skip_naming_apt_and_ci_refuses_them(tmp_path: Path) -> None:
    """A fresh clone lacks Tesseract (a Debian program): its tests skip and say how to get it;
    on CI, where .ci/run installs it, the same skip fails the run."""
    nothing = tmp_path / "bin"  # a PATH where no program is found, like a machine without it
    nothing.mkdir()
    skips = tmp_path / "skips.jsonl"
    wanted = "apt-get install tesseract-ocr tesseract-ocr-spa tesseract-ocr-por"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "tests/cli/test_raster_cli.py::test_doctor_is_ok_with_tesseract_and_its_languages",
         "tests/daemon/test_ocr.py"],  # fmt: skip
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PATH": str(nothing), "AGENT_CI_SKIPS": str(skips)},
    )  # fmt: skip
    assert run.returncode == 0 and " failed" not in run.stdout, run.stdout + run.stderr
    records = [json.loads(line) for line in skips.read_text().splitlines()]
    assert len(records) >= 2 and {r["nodeid"].split("::")[0] for r in records} == {
        "tests/cli/test_raster_cli.py",
        "tests/daemon/test_ocr.py",
    }
    assert all(wanted in r["reason"] for r in records), records
    refused = check(skips, ALLOWED)
    assert refused.returncode == 1, refused.stdout
    assert refused.stdout.count("NOT ALLOWED") == len(records), refused.stdout
