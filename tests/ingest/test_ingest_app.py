"""The ingest endpoint in-process: uvicorn on a loopback port, a real SQLite outbox, a real
HTTP client. Group commit, the body rules and draining at stop."""

from __future__ import annotations

import http.client
import json
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from fake_printer import wait_until
from ingest_rig import INGEST_TOKEN, Client, free_port
from pydantic import ValidationError

from agent.config import AgentConfig, load_config
from agent.delivery.outbox import Outbox
from agent.ingest.app import BodyError, build_event
from agent.ingest.server import IngestServer, start_ingest

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC).timestamp()


def config_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **ingest: object) -> AgentConfig:
    ingest.setdefault("listen", f"127.0.0.1:{free_port()}")
    lines = "".join(f"{k} = {json.dumps(v)}\n" for k, v in ingest.items())
    path = tmp_path / "agent.toml"
    path.write_text(
        f'[outbox]\npath = "{tmp_path / "outbox.db"}"\n'
        f"[ingest]\n{lines}",
        encoding="utf-8",
    )
    monkeypatch.setenv("HELLOTEXT_INGEST_TOKEN", INGEST_TOKEN)
    return load_config(path)


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[IngestServer]:
    found = start_ingest(config_for(tmp_path, monkeypatch))
    assert found is not None
    yield found
    found.stop()


def test_a_body_becomes_the_event_hellotext_would_get() -> None:
    body = json.loads(
        '{"action": "evento.asistio", "phone": "099 123 456", "amount": 89.90,'
        ' "currency": "uyu", "tracked_at": 1764590400, "metadata": {"mesa": 4, "peso": 1.25}}',
        parse_float=Decimal,
    )
    event = build_event(body, key=None, now=NOW, country="UY")
    assert event.phone == "+59899123456"
    assert event.amount == Decimal("89.90") and event.currency == "UYU"
    assert event.tracked_at == datetime(2025, 12, 1, 12, 0, tzinfo=UTC)  # Unix seconds
    assert event.metadata == {"mesa": 4, "peso": 1.25}
    wire = json.loads(event.body_json(profile="BvYeyVYz"))
    assert wire["amount"] == 89.9 and wire["tracked_at"] == "2025-12-01T12:00:00Z"
    assert "phone" not in wire and wire["profile"] == "BvYeyVYz"
    # Without tracked_at: the time it was received (Hellotext's own default).
    plain = build_event({"action": "evento.asistio", "session": "s1"}, key=None, now=NOW,
                        country="UY")  # fmt: skip
    assert plain.tracked_at.timestamp() == NOW


def test_the_idempotency_key_fixes_the_event_id() -> None:
    body = {"action": "evento.asistio", "email": "Ana@Example.COM"}
    one = build_event(body, key="tablet:1", now=NOW, country="UY")
    assert one.id == build_event(body, key="tablet:1", now=NOW + 5, country="UY").id
    assert one.id != build_event(body, key="tablet:2", now=NOW, country="UY").id
    assert one.email == "Ana@example.com"


@pytest.mark.parametrize(
    ("body", "parameter"),
    [
        ({"action": "evento.asistio", "session": "s", "id": "x"}, "id"),
        ({"action": "evento.asistio", "phone": "abc"}, "phone"),
        ([1, 2], ""),
        ({"action": "evento.asistio", "session": "s", "object_parameters": {"name": "x"}},
         "object_type"),
    ],
)
def test_bodies_refused_before_the_model(body: object, parameter: str) -> None:
    with pytest.raises(BodyError) as caught:
        build_event(body, key=None, now=NOW, country="UY")
    assert caught.value.problem.get("parameter", "") == parameter


def test_a_builtin_action_may_carry_its_object() -> None:
    body = {"action": "product.purchased", "session": "s",
            "object_parameters": {"name": "Yerba", "reference": "779", "source": "app"}}
    assert build_event(body, key=None, now=NOW, country="UY").object_parameters


def test_the_model_refuses_the_rest() -> None:
    with pytest.raises(ValidationError):
        build_event({"action": "evento.asistio", "profile": "p", "session": "s"}, key=None,
                    now=NOW, country="UY")  # fmt: skip


def test_concurrent_requests_share_commits_and_every_200_is_stored(
    server: IngestServer,
) -> None:
    answers: list[str] = []
    lock = threading.Lock()

    def app(n: int) -> None:
        client = Client(server.port)
        try:
            for i in range(25):
                answer = client.post({"action": "evento.asistio", "profile": f"p{n}-{i}"})
                assert answer.status == 200
                with lock:
                    answers.append(answer.data["id"])
        finally:
            client.close()

    threads = [threading.Thread(target=app, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(set(answers)) == 200
    assert server.committer.committed == 200
    assert server.committer.batches < 200  # group commit: transactions were shared
    with Outbox(server.outbox.path) as box:
        assert box.counts()["pending"] == 200


def test_other_paths_and_methods(server: IngestServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request("GET", "/v1/attribution/events")
        answer = conn.getresponse()
        assert answer.status == 405 and answer.getheader("Allow") == "POST"
        answer.read()
        conn.request("POST", "/v1/profiles", body=b"{}")
        answer = conn.getresponse()
        assert answer.status == 404
        assert json.loads(answer.read())["errors"][0]["type"] == "not_found"
    finally:
        conn.close()


def test_stopping_answers_503_and_closes(server: IngestServer) -> None:
    client = Client(server.port)
    try:
        assert client.post({"action": "evento.asistio", "session": "s"}).status == 200
        server.app.closing = True  # as stop() does first
        answer = client.post({"action": "evento.asistio", "session": "s"})
        assert answer.status == 503 and answer.headers["retry-after"] == "5"
    finally:
        client.close()


def test_off_without_a_token_or_an_address(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert start_ingest(config_for(tmp_path, monkeypatch, listen="")) is None
    config = config_for(tmp_path, monkeypatch)
    monkeypatch.delenv("HELLOTEXT_INGEST_TOKEN")
    assert start_ingest(load_config(tmp_path / "agent.toml")) is None
    assert config.ingest.token is not None


def test_a_taken_port_is_logged_not_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    first = start_ingest(config_for(tmp_path, monkeypatch))
    assert first is not None
    try:
        config = load_config(tmp_path / "agent.toml")
        assert start_ingest(config) is None
        assert "cannot listen" in caplog.text
    finally:
        first.stop()


def test_a_commit_slower_than_the_timeout_answers_503_and_the_retry_gets_its_id(
    server: IngestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process holds the write lock (a backup, `sqlite3` by hand): the app is told
    to retry instead of hanging, and the event, committed once the lock is gone, is the one
    the retry with the same Idempotency-Key is answered with."""
    monkeypatch.setattr("agent.ingest.app.COMMIT_TIMEOUT", 0.3)
    blocker = sqlite3.connect(server.outbox.path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    client = Client(server.port)
    try:
        body = {"action": "evento.asistio", "session": "s"}
        slow = client.post(body, key="kiosk:7")
        assert slow.status == 503 and "not confirmed in time" in str(slow.data)
        blocker.execute("ROLLBACK")
        # The commit goes on after the 503, once the lock is gone.
        assert wait_until(lambda: server.committer.committed == 1, 30)
        again = client.post(body, key="kiosk:7")
        assert again.status == 200
        with Outbox(server.outbox.path) as box:
            assert [row.event.id for row in box.list()] == [again.data["id"]]
    finally:
        blocker.close()
        client.close()


def test_an_ingest_endpoint_not_configured_is_not_warned_at_every_start(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from agent.config import AgentConfig
    from agent.ingest.server import start_ingest

    with caplog.at_level("INFO", logger="agent"):
        assert start_ingest(AgentConfig()) is None
    assert not [r for r in caplog.records if "ingest" in r.getMessage()]
    with caplog.at_level("INFO", logger="agent"):
        assert start_ingest(AgentConfig(ingest={"listen": "0.0.0.0:8787"})) is None
    warned = [r for r in caplog.records if r.levelname == "WARNING"]
    assert warned and "HELLOTEXT_INGEST_TOKEN" in warned[0].getMessage()
