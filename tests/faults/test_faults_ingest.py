"""The ingest endpoint when its outbox cannot store: an app is told to retry (503 with
Retry-After), never a 200 for an event that is not on disk, and its retry with the same
Idempotency-Key stores the event once the disk has room again."""

from __future__ import annotations

import http.client
import json
from pathlib import Path

import pytest
from faultrig import fill, free_port

from agent.config import load_config
from agent.delivery.outbox import Outbox
from agent.ingest.server import start_ingest

TOKEN = "faults-ingest-app-token"


def post(port: int, body: dict[str, object], key: str) -> tuple[int, dict[str, object], str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        headers = {"Authorization": f"Bearer {TOKEN}", "Idempotency-Key": key}
        conn.request("POST", "/v1/attribution/events", json.dumps(body), headers)
        answer = conn.getresponse()
        return answer.status, json.loads(answer.read()), answer.getheader("Retry-After") or ""
    finally:
        conn.close()


def test_a_full_disk_answers_503_and_the_retry_stores_the_event_once(
    tmp_path: Path, disk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    config = tmp_path / "agent.toml"
    config.write_text(
        f'[outbox]\npath = "{disk / "outbox.db"}"\n[ingest]\nlisten = "127.0.0.1:{port}"\n'
    )
    monkeypatch.setenv("HELLOTEXT_INGEST_TOKEN", TOKEN)
    server = start_ingest(load_config(config))
    assert server is not None
    body: dict[str, object] = {"action": "evento.asistio", "session": "s", "metadata": {}}
    try:
        assert post(port, body, "before")[0] == 200
        ballast = fill(disk)
        # Each refused event is bigger than the last, so no leftover page can hold it.
        refused = []
        for n in range(1, 6):
            body["metadata"] = {"nota": "x" * (4000 * n)}
            refused.append(post(port, body, f"tablet:{n}"))
        assert all(status == 503 and retry == "5" for status, _, retry in refused), refused
        assert all("not stored, retry" in str(data["errors"]) for _, data, _ in refused)

        ballast.unlink()
        status, data, _ = post(port, body, "tablet:5")
        again = post(port, body, "tablet:5")
        assert status == 200 and again[:2] == (200, data)  # the same id, stored once
    finally:
        server.stop()
    with Outbox(disk / "outbox.db") as box:
        assert box.counts()["pending"] == 2  # "before" and tablet:5; nothing refused is kept
