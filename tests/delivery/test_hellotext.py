"""The Hellotext client against real HTTP servers on 127.0.0.1: each row of the answer table."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Iterator
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from agent import __version__
from agent.delivery.hellotext import (
    HellotextClient,
    Park,
    Pause,
    Retry,
    Sent,
    classify,
    error_summary,
    parse_retry_after,
)
from agent.standin.server import FakeHellotext

TOKEN = "secret-token-123"
NOW = 1_800_000_000.0


@pytest.fixture
def fake() -> Iterator[FakeHellotext]:
    with FakeHellotext(token=TOKEN, actions=("tienda_fisica.pago",)) as server:
        yield server


@pytest.fixture
def client(fake: FakeHellotext) -> Iterator[HellotextClient]:
    with HellotextClient(api_url=fake.url, token=TOKEN, timeout=2.0) as c:
        yield c


def _profile(client: HellotextClient, phone: str = "+59899000001") -> str:
    outcome = client.create_profile(phone)
    assert isinstance(outcome, Sent)
    return str(outcome.data["id"])


def _event(profile: str, action: str = "tienda_fisica.pago", n: int = 1) -> dict[str, Any]:
    return {
        "action": action,
        "profile": profile,
        "amount": 89.9,
        "currency": "UYU",
        "tracked_at": "2026-11-26T12:00:00Z",
        "metadata": {"agent_event_id": f"ev-{n}"},
    }


def test_accepted_event_is_sent_and_recorded(fake: FakeHellotext, client: HellotextClient) -> None:
    outcome = client.track(_event(_profile(client)))
    assert outcome == Sent(200)
    assert fake.events[0]["metadata"]["agent_event_id"] == "ev-1"


def test_json_bytes_are_posted_as_they_are(fake: FakeHellotext, client: HellotextClient) -> None:
    body = json.dumps(_event(_profile(client))).replace("89.9", "89.90").encode()
    assert isinstance(client.track(body), Sent)
    assert fake.events[0]["amount"] == 89.9


def test_unknown_custom_action_is_parked_with_the_body(client: HellotextClient) -> None:
    outcome = client.track(_event(_profile(client), action="evento.no_creado"))
    assert isinstance(outcome, Park) and outcome.status == 404
    assert error_summary(outcome.body) == "not_found:action"


def test_validation_failure_is_parked_with_the_body(client: HellotextClient) -> None:
    body = _event(_profile(client))
    del body["amount"]  # currency without amount: 422
    outcome = client.track(body)
    assert isinstance(outcome, Park) and outcome.status == 422
    assert "amount" in outcome.body


@pytest.mark.parametrize("status", [400, 404, 422])
def test_permanent_statuses_park(fake: FakeHellotext, client: HellotextClient, status: int) -> None:
    fake.set_faults(status_override=status)
    outcome = client.track(_event("whoever"))
    assert isinstance(outcome, Park) and outcome.status == status
    assert json.loads(outcome.body)["errors"][0]["message"]


@pytest.mark.parametrize(
    ("status", "reason"), [(401, "token refused (401)"), (403, "operation not allowed (403)")]
)
def test_refused_token_or_account_pauses(
    fake: FakeHellotext, client: HellotextClient, status: int, reason: str
) -> None:
    fake.set_faults(status_override=status)
    assert client.track(_event("whoever")) == Pause(status, reason)


def test_wrong_token_pauses_and_the_probe_tells_when_it_is_fixed(
    fake: FakeHellotext, client: HellotextClient
) -> None:
    fake.token = "rotated"
    assert client.probe() == Pause(401, "token refused (401)")
    client.set_token("rotated")
    assert isinstance(client.probe(), Sent)


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503])
def test_temporary_statuses_retry(
    fake: FakeHellotext, client: HellotextClient, status: int
) -> None:
    fake.set_faults(status_override=status)
    outcome = client.track(_event("whoever"))
    assert isinstance(outcome, Retry) and outcome.status == status
    # The body was sent and a 5xx answered it: it may have been stored (issue 12).
    assert outcome.maybe_delivered == (status >= 500) and not outcome.network


def test_retry_after_seconds_is_passed_on(fake: FakeHellotext, client: HellotextClient) -> None:
    fake.set_faults(rate_limit_every=1, retry_after="7")
    outcome = client.track(_event("whoever"))
    assert isinstance(outcome, Retry) and outcome.status == 429
    assert outcome.retry_after == 7.0


def test_retry_after_http_date_becomes_seconds_from_now(fake: FakeHellotext) -> None:
    fake.set_faults(status_override=503, retry_after=formatdate(NOW + 90, usegmt=True))
    with HellotextClient(api_url=fake.url, token=TOKEN, clock=lambda: NOW) as client:
        outcome = client.track(_event("whoever"))
    assert isinstance(outcome, Retry) and outcome.retry_after == 90.0


def test_timeout_is_retried_and_maybe_delivered(fake: FakeHellotext) -> None:
    fake.set_faults(delay=0.5)
    with HellotextClient(api_url=fake.url, token=TOKEN, timeout=0.1) as client:
        outcome = client.track(_event("whoever"))
    assert isinstance(outcome, Retry) and outcome.status is None
    assert outcome.maybe_delivered and outcome.network
    assert "timeout" in outcome.error


def test_dropped_connection_is_retried_and_maybe_delivered(
    fake: FakeHellotext, client: HellotextClient
) -> None:
    fake.set_faults(drop_rate=1.0)
    outcome = client.track(_event("whoever"))
    assert isinstance(outcome, Retry) and outcome.maybe_delivered and outcome.network


def test_offline_server_is_retried(fake: FakeHellotext, client: HellotextClient) -> None:
    fake.set_faults(offline=True)
    outcome = client.track(_event("whoever"))
    assert isinstance(outcome, Retry) and outcome.network and outcome.status is None


def test_refused_connection_was_not_delivered() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with HellotextClient(api_url=f"http://127.0.0.1:{port}/v1", token=TOKEN) as client:
        outcome = client.track(_event("whoever"))
    assert isinstance(outcome, Retry) and outcome.network and not outcome.maybe_delivered


# -- what goes over the wire ----------------------------------------------------------------


class _Recorder(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list[tuple[str, dict[str, str], int]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.seen.append((self.path, dict(self.headers), self.client_address[1]))
        body = b'{"status": "received"}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_headers_and_connection_reuse() -> None:
    _Recorder.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        with HellotextClient(api_url=url, token=TOKEN) as client:
            for n in range(5):
                assert isinstance(client.track(_event("p", n=n)), Sent)
    finally:
        server.shutdown()
        server.server_close()
    paths = {path for path, _, _ in _Recorder.seen}
    headers = _Recorder.seen[0][1]
    assert paths == {"/v1/attribution/events"}
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert headers["User-Agent"] == f"hellotext-agent/{__version__}"
    assert headers["Content-Type"] == "application/json"
    assert len({port for _, _, port in _Recorder.seen}) == 1  # one kept-alive connection


def test_logs_carry_no_token_and_no_phone(
    fake: FakeHellotext, client: HellotextClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="agent.hellotext")
    profile = _profile(client, "+59899123456")
    client.track(_event(profile), event_id="ev-1", attempt=3)
    fake.set_faults(status_override=422)
    client.create_profile("+59899123456", event_id="ev-2", attempt=1)
    text = caplog.text
    assert "POST /attribution/events 200 event=ev-1 attempt=3" in text
    assert "POST /profiles 422" in text
    assert TOKEN not in text and "99123456" not in text


# -- the pure parts -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "kind"),
    [(200, Sent), (201, Sent), (204, Sent), (400, Park), (404, Park), (409, Park), (422, Park),
     (401, Pause), (403, Pause), (301, Pause), (408, Retry), (429, Retry), (500, Retry),
     (502, Retry), (503, Retry), (504, Retry)],
)  # fmt: skip
def test_classify_table(status: int, kind: type) -> None:
    body = '{"status": "received"}' if status in (200, 201) else ""
    assert isinstance(classify(status, {}, body, now=NOW), kind)


@pytest.mark.parametrize("body", ["<html><body>Login to Wi-Fi</body></html>", "", "[1, 2]"])
def test_a_2xx_that_is_not_hellotexts_json_is_retried_not_sent(body: str) -> None:
    outcome = classify(200, {"content-type": "text/html"}, body, now=NOW)
    assert isinstance(outcome, Retry) and outcome.wrong_answer
    assert "captive portal" in outcome.error


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("120", 120.0), (" 5 ", 5.0), ("0", 0.0), ("-3", 0.0), ("soon", None), ("", None),
     (formatdate(NOW + 30, usegmt=True), 30.0), (formatdate(NOW - 30, usegmt=True), 0.0),
     ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0), ("nan", None)],
)  # fmt: skip
def test_parse_retry_after(value: str, seconds: float | None) -> None:
    assert parse_retry_after(value, NOW) == seconds


def test_error_summary_reads_both_error_shapes() -> None:
    many = '{"errors": [{"type": "parameter_missing", "parameter": "name"}, {"type": "invalid"}]}'
    assert error_summary(many) == "parameter_missing:name,invalid"
    assert error_summary('{"error": {"type": "not_found"}}') == "not_found"
    assert error_summary("<html>") == ""
