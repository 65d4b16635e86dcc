"""`hellotext-agent sync` and `status`, as an operator runs them, against the stand-in."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.cli import main
from agent.cli.common import EXIT_CONFIG, EXIT_OK, EXIT_PENDING
from agent.delivery.outbox import Outbox
from agent.standin.server import FakeHellotext

TOKEN = "cli-token"


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHellotext]:
    config = tmp_path / "agent.toml"
    config.write_text(
        f'[outbox]\npath = "{tmp_path / "outbox.db"}"\nsynchronous = "normal"\n'
        "[sync]\nconcurrency = 2\n",
        encoding="utf-8",
    )
    with FakeHellotext(token=TOKEN) as server:
        monkeypatch.setenv("HELLOTEXT_AGENT_CONFIG", str(config))
        monkeypatch.setenv("HELLOTEXT_API_TOKEN", TOKEN)
        monkeypatch.setenv("HELLOTEXT_API_URL", server.url)
        yield server


def track(capsys: pytest.CaptureFixture[str], n: int = 1) -> list[str]:
    ids = []
    for _ in range(n):
        assert main(["track", "tienda_fisica.pago", "--session", "s-1", "--amount", "10"]) == 0
        ids.append(capsys.readouterr().out.strip())
    return ids


def status_json(capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    assert main(["status", "--json"]) == EXIT_OK
    data: dict[str, object] = json.loads(capsys.readouterr().out)
    return data


def test_sync_delivers_and_exits_0(fake: FakeHellotext, capsys: pytest.CaptureFixture[str]) -> None:
    ids = track(capsys, 3)
    assert main(["sync"]) == EXIT_OK
    assert "sent 3, to retry 0, parked 0; 0 waiting" in capsys.readouterr().out
    assert sorted(e["metadata"]["agent_event_id"] for e in fake.events) == sorted(ids)
    data = status_json(capsys)
    assert data["counts"] == {"pending": 0, "inflight": 0, "sent": 3, "parked": 0, "local": 0}
    assert data["last_success_at"] is not None and data["paused"] is None


def test_sync_with_progress_bar(fake: FakeHellotext, capsys: pytest.CaptureFixture[str]) -> None:
    track(capsys, 2)
    assert main(["sync", "--progress"]) == EXIT_OK
    captured = capsys.readouterr()
    assert "delivering" in captured.err and "2/2" in captured.err
    assert fake.event_count == 2


def test_events_left_to_retry_exit_3_and_show_in_status(
    fake: FakeHellotext, capsys: pytest.CaptureFixture[str]
) -> None:
    track(capsys)
    # Retry-After is a floor under the jitter: the next try is surely still ahead when
    # status runs, however slow the machine (a bare jittered delay may already be past).
    fake.set_faults(status_override=503, retry_after="120")
    assert main(["sync"]) == EXIT_PENDING
    assert "to retry 1" in capsys.readouterr().out
    assert main(["status"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "next try in" in out and "oldest waiting" in out
    assert "last error" in out and "http 503" in out
    # A failing server is an outage, told with its cause and what waits.
    assert "delivery            Hellotext unreachable since " in out
    assert "(http 503) — 1 event waits in the outbox" in out


def test_refused_token_pauses_and_status_says_why(
    fake: FakeHellotext, capsys: pytest.CaptureFixture[str]
) -> None:
    track(capsys, 2)
    fake.token = "a-new-token"
    assert main(["sync"]) == EXIT_PENDING
    assert "paused: token refused (401)" in capsys.readouterr().err
    assert main(["status"]) == EXIT_OK
    assert "paused: token refused (401)" in capsys.readouterr().out
    data = status_json(capsys)
    assert data["paused"] == "token refused (401)"
    assert data["counts"] == {"pending": 2, "inflight": 0, "sent": 0, "parked": 0, "local": 0}

    fake.token = TOKEN  # the operator fixed it: the next sync probes, then delivers
    assert main(["sync"]) == EXIT_OK
    assert "sent 2" in capsys.readouterr().out
    assert status_json(capsys)["paused"] is None
    assert fake.event_count == 2


def test_possible_duplicates_are_counted(
    fake: FakeHellotext, capsys: pytest.CaptureFixture[str]
) -> None:
    track(capsys)
    fake.set_faults(drop_rate=1.0)
    assert main(["sync"]) == EXIT_PENDING
    capsys.readouterr()
    assert status_json(capsys)["possible_duplicates"] == 1


def test_sync_recovers_a_send_cut_off_by_a_crash(
    fake: FakeHellotext, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (id,) = track(capsys)
    with Outbox(tmp_path / "outbox.db") as outbox:  # a crashed sender's claim, long expired
        claimed = outbox.claim(limit=5, now=time.time(), lease_seconds=0)
        assert [r.id for r in claimed] == [id]
    assert main(["sync"]) == EXIT_OK
    capsys.readouterr()
    assert [e["metadata"]["agent_event_id"] for e in fake.events] == [id]
    assert status_json(capsys)["possible_duplicates"] == 1


def test_sync_without_a_token_is_a_config_error(
    fake: FakeHellotext, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HELLOTEXT_API_TOKEN")
    assert main(["sync"]) == EXIT_CONFIG
    assert "hellotext.token" in capsys.readouterr().err


def test_status_of_a_daemon_never_started_does_not_say_killed(
    fake: FakeHellotext, capsys: pytest.CaptureFixture[str]
) -> None:
    track(capsys)
    assert main(["status"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "not running (never started with this outbox)" in out and "killed" not in out
