"""The ingest endpoint under hostile clients (issue 24, findings 1-3 and 9), in-process on a
loopback port with a real outbox: a connection budget, deadlines for headers and body,
header caps answered 431 before the token is even looked at, two Authorization headers
refused, and an Idempotency-Key reused with another body refused."""

from __future__ import annotations

import http.client
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_printer import free_port, wait_until
from hostile_rig import HEAD, closed_by_peer
from ingest.ingest_rig import INGEST_TOKEN, PATH, Client

from agent.config import load_config
from agent.delivery.outbox import Outbox
from agent.ingest.server import IngestServer, start_ingest

GOOD = {"action": "evento.asistio", "session": "s-1"}


@pytest.fixture
def server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[IngestServer]:
    extra = getattr(request, "param", "")
    path = tmp_path / "agent.toml"
    path.write_text(
        f'[outbox]\npath = "{tmp_path / "outbox.db"}"\n'
        f'[ingest]\nlisten = "127.0.0.1:{free_port()}"\n{extra}',
        encoding="utf-8",
    )
    monkeypatch.setenv("HELLOTEXT_INGEST_TOKEN", INGEST_TOKEN)
    found = start_ingest(load_config(path))
    assert found is not None
    yield found
    found.stop()


def answer_of(sock: socket.socket, timeout: float = 3.0) -> bytes:
    """The status line the server sent before closing (b"" if it closed without one)."""
    sock.settimeout(timeout)
    try:
        return sock.recv(65536).split(b"\r\n", 1)[0]
    except OSError:
        return b""


@pytest.mark.parametrize("server", ["max_connections = 20\n"], indirect=True)
def test_connections_beyond_the_budget_are_closed_at_once(server: IngestServer) -> None:
    held = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(20)]
    try:
        assert wait_until(lambda: len(server.http._server.server_state.connections) == 20, 5)
        extra = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(5)]
        assert all(closed_by_peer(s, 2.0) for s in extra)  # before: left open, unanswered
        for s in extra:
            s.close()
    finally:
        for s in held:
            s.close()
    app = Client(server.port)  # once they are gone, an app is served
    assert wait_until(lambda: app.post(GOOD).status == 200, 5)
    app.close()
    assert server.http.refused.get(0, 0) >= 5


def test_idle_and_slow_header_connections_are_closed_within_seconds(
    server: IngestServer,
) -> None:
    idle = socket.create_connection(("127.0.0.1", server.port))
    slow = socket.create_connection(("127.0.0.1", server.port))
    began = time.monotonic()
    slow.sendall(HEAD[:10])
    for byte in HEAD[10:30]:  # one byte every 0.3 s: the headers would take minutes
        slow.sendall(bytes([byte]))
        time.sleep(0.3)
        if time.monotonic() - began > 7:
            break
    assert answer_of(slow).startswith(b"HTTP/1.1 408")
    assert closed_by_peer(idle, 8.0 - (time.monotonic() - began))  # before: open for good
    assert time.monotonic() - began < 8.0
    idle.close()
    slow.close()


@pytest.mark.parametrize("server", ["body_timeout_seconds = 1\n"], indirect=True)
def test_a_body_slower_than_body_timeout_seconds_is_408(server: IngestServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(
            f"POST {PATH} HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {INGEST_TOKEN}\r\n"
            "Transfer-Encoding: chunked\r\n\r\n".encode()
        )
        began = time.monotonic()
        answer = b""
        while time.monotonic() - began < 5 and not answer:
            try:
                sock.sendall(b"1\r\n{\r\n")  # an endless chunked body, one byte at a time
            except OSError:
                break
            sock.settimeout(0.3)
            try:
                answer = sock.recv(4096)
            except TimeoutError:
                continue
        assert answer.startswith(b"HTTP/1.1 408"), answer
        assert time.monotonic() - began < 3


@pytest.mark.parametrize(
    "head",
    [
        b"X-Pad: " + b"a" * 40_000 + b"\r\n",  # one huge field, the request unfinished
        b"".join(b"X-F%d: v\r\n" % n for n in range(150)),  # too many fields
    ],
    ids=["size", "count"],
)
def test_too_big_headers_are_431_before_the_token(server: IngestServer, head: bytes) -> None:
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(HEAD + head)  # no token, and the head not even finished
        assert answer_of(sock) == b"HTTP/1.1 431 Request Header Fields Too Large"
        assert closed_by_peer(sock, 3.0)


def test_headers_under_the_caps_are_served(server: IngestServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    headers = {f"X-F{n}": "v" * 100 for n in range(60)}
    headers["Authorization"] = f"Bearer {INGEST_TOKEN}"
    conn.request("POST", PATH, json.dumps(GOOD), headers)
    assert conn.getresponse().status == 200
    conn.close()


def test_two_authorization_headers_are_400(server: IngestServer) -> None:
    for pair in ((INGEST_TOKEN, "wrong"), ("wrong", INGEST_TOKEN), (INGEST_TOKEN, INGEST_TOKEN)):
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        body = json.dumps(GOOD).encode()
        conn.putrequest("POST", PATH)
        for token in pair:  # before: the last one won
            conn.putheader("Authorization", f"Bearer {token}")
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        answer = conn.getresponse()
        data = json.loads(answer.read())
        assert answer.status == 400, pair
        assert data["errors"][0]["parameter"] == "Authorization"
        conn.close()


def test_an_idempotency_key_with_another_body_is_422_naming_the_key(
    server: IngestServer, tmp_path: Path
) -> None:
    app = Client(server.port)
    first = app.post({**GOOD, "metadata": {"mesa": 1}}, key="tablet-3:checkin-1842")
    replay = app.post({**GOOD, "metadata": {"mesa": 1}}, key="tablet-3:checkin-1842")
    other = app.post({**GOOD, "metadata": {"mesa": 2}}, key="tablet-3:checkin-1842")
    app.close()
    assert first.status == replay.status == 200 and first.data["id"] == replay.data["id"]
    assert other.status == 422  # before: 200 with the first id, the second body dropped
    error = other.data["errors"][0]
    assert "tablet-3:checkin-1842" in error["message"] and error["parameter"] == "Idempotency-Key"
    server.stop()
    with Outbox(tmp_path / "outbox.db") as box:
        row = box.get(first.data["id"])
        assert row is not None and row.event.metadata == {"mesa": 1}
        assert box.counts()["pending"] == 1
    server.app.closing = True  # stopped here already; the fixture's stop is a no-op
