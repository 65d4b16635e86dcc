"""Shared fixtures: paths to the real ESC/POS captures, a clean environment."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT.parent / "shared" / "fixtures" / "escpos"


@pytest.fixture
def escpos_fixtures() -> Path:
    if not FIXTURES.is_dir():
        pytest.skip(f"shared ESC/POS captures not found at {FIXTURES}")
    return FIXTURES


@pytest.fixture(autouse=True)
def _clean_agent_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests must not see a developer's real token or config."""
    import os

    for name in list(os.environ):
        if name.startswith("HELLOTEXT_") or name in ("CREDENTIALS_DIRECTORY", "JOURNAL_STREAM"):
            monkeypatch.delenv(name)
