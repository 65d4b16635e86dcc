"""`track` and `status` start fast (issue 12): they import neither pydantic nor httpx, rich or
sqlite-utils once the config was validated, and still refuse what the model refuses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.cli import main
from agent.cli import track as cli_track
from agent.delivery import events
from agent.delivery.outbox import Outbox

HEAVY = ("pydantic", "pydantic_settings", "httpx", "rich", "sqlite_utils", "phonenumbers")
PROBE = """
import sys
from agent.cli import main
code = main(sys.argv[1:])
heavy = sorted(m for m in {heavy!r} if m in sys.modules)
print("HEAVY=" + ",".join(heavy), file=sys.stderr)
sys.exit(code)
"""


def config_file(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "agent.toml"
    path.write_text(
        f'[store]\ncountry = "UY"\n[outbox]\npath = "{tmp_path / "outbox.db"}"\n{extra}',
        encoding="utf-8",
    )
    return path


def run_cli(tmp_path: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    return subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY), *argv],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip


def heavy(done: subprocess.CompletedProcess[str]) -> list[str]:
    line = [x for x in done.stderr.splitlines() if x.startswith("HEAVY=")][-1]
    return [m for m in line.removeprefix("HEAVY=").split(",") if m]


def test_track_and_status_import_only_what_they_need(tmp_path: Path) -> None:
    config = str(config_file(tmp_path))
    first = run_cli(tmp_path, "--config", config, "track", "evento.asistio", "--profile", "p1")
    assert first.returncode == 0, first.stderr  # validates the config once (pydantic)
    done = run_cli(tmp_path, "--config", config, "track", "evento.asistio", "--profile", "p2")
    assert done.returncode == 0, done.stderr
    assert heavy(done) == []
    status = run_cli(tmp_path, "--config", config, "status")
    assert status.returncode == 0 and heavy(status) == [], status.stderr
    assert "2 pending" in status.stdout or "pending" in status.stdout
    with Outbox(tmp_path / "outbox.db") as box:  # the model reads what the fast path wrote
        rows = box.list()
    assert [r.event.profile for r in rows] == ["p2", "p1"]


def test_a_config_changed_to_invalid_is_still_refused(tmp_path: Path) -> None:
    config = config_file(tmp_path)
    assert run_cli(tmp_path, "--config", str(config), "status").returncode == 0
    config.write_text(config.read_text() + "[sync]\nconcurrency = -1\n", encoding="utf-8")
    done = run_cli(tmp_path, "--config", str(config), "track", "evento.asistio")
    assert done.returncode == 78 and "sync.concurrency" in done.stderr
    env_bad = {"HELLOTEXT_AGENT__STORE__COUNTRY": "Uruguay"}
    config = config_file(tmp_path)
    assert run_cli(tmp_path, "--config", str(config), "status").returncode == 0
    os.environ.update(env_bad)
    try:
        done = run_cli(tmp_path, "--config", str(config), "status")
    finally:
        os.environ.pop("HELLOTEXT_AGENT__STORE__COUNTRY")
    assert done.returncode == 78 and "store.country" in done.stderr


def test_the_fast_path_writes_what_the_model_would(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = config_file(tmp_path)
    argv = ["--config", str(config), "track", "evento.asistio", "--phone", "099 123 456",
            "--amount", "89.9", "--currency", "usd", "--at", "2026-03-14T18:30:00.250-03:00",
            "--meta", "sala=2"]  # fmt: skip
    assert main(argv) == 0
    event_id = capsys.readouterr().out.strip()
    with Outbox(tmp_path / "outbox.db") as box:
        row = box.get(event_id)
    assert row is not None
    expected = events.Event(
        id=event_id, action="evento.asistio", phone="+59899123456", amount="89.9",
        currency="USD", tracked_at="2026-03-14T21:30:00.250Z", metadata={"sala": "2"},
    )  # fmt: skip
    assert row.event == expected
    assert json.loads(row.event.body_json(profile="x"))["tracked_at"] == "2026-03-14T21:30:00.250Z"
    assert cli_track.NAMESPACE == events.NAMESPACE  # the anonymous sessions agree
