"""Error bodies of every shape are read, and none crashes the sync loop (issue 12)."""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.config import AgentConfig, HellotextSection, OutboxSection, SyncSection
from agent.delivery.errorbody import summary
from agent.delivery.events import Event, new_event_id
from agent.delivery.hellotext import HellotextClient
from agent.delivery.outbox import Outbox
from agent.delivery.sync import Syncer


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('{"errors":[{"type":"parameter_missing","parameter":"name"},{"type":"invalid"}]}',
         "parameter_missing:name,invalid"),
        ('{"error": {"type": "not_found", "parameter": "action"}}', "not_found:action"),
        ('{"error": "Action not found"}', "Action not found"),
        ('{"message": "Plan inactive"}', "Plan inactive"),
        ('{"description": "Too many\\n requests"}', "Too many requests"),
        ('{"data": {"errors": [{"type": "object_invalid", "parameter": "object"}]}}',
         "object_invalid:object"),
        ('{"errors": {"name": ["can\'t be blank"]}}', "invalid:name"),
        ('[{"type": "identity_assigned"}]', "identity_assigned"),
        ("<html><body>502 Bad Gateway</body></html>", ""),
        ("", ""),
        ("null", ""),
        ("[" * 100_000, ""),  # deeper than the JSON parser goes
    ],
)  # fmt: skip
def test_every_shape_is_read(body: str, expected: str) -> None:
    assert summary(body) == expected


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["errors", "error", "type", "message", "description", "parameter",
                         "data", "code", "field"]) | st.text(max_size=5), inner, max_size=4),
    max_leaves=20,
)  # fmt: skip
BODIES = JSON.map(json.dumps) | st.text() | st.binary().map(lambda b: b.decode("latin-1"))


@given(BODIES)
def test_summary_never_raises(body: str) -> None:
    assert isinstance(summary(body), str)


class _Reply(BaseHTTPRequestHandler):
    """A real HTTP server answering whatever the current example says."""

    answer: ClassVar[tuple[int, str, bytes]] = (200, "application/json", b"{}")

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status, kind, body = self.answer
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Reply)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def syncer(server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Syncer]:
    tmp = tmp_path_factory.mktemp("bodies")
    config = AgentConfig(
        hellotext=HellotextSection(api_url=server, timeout_seconds=5),
        outbox=OutboxSection(path=tmp / "outbox.db"),
        sync=SyncSection(concurrency=1),
    )
    outbox = Outbox(tmp / "outbox.db")
    client = HellotextClient(api_url=server, token="t", timeout=5)
    found = Syncer(outbox, client, config=config, rng=random.Random(1))
    yield found
    found.close()
    client.close()
    outbox.close()


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    status=st.sampled_from([200, 201, 400, 404, 422, 429, 500, 502, 503]),
    kind=st.sampled_from(["application/json", "text/html", "text/plain"]),
    body=BODIES.map(lambda t: t.encode("utf-8", "surrogatepass")),
    who=st.sampled_from([{"session": "s"}, {"phone": "+59899123456"}, {"email": "a@b.uy"}]),
)
def test_no_answer_body_crashes_the_sync_loop(
    syncer: Syncer, status: int, kind: str, body: bytes, who: dict[str, str]
) -> None:
    _Reply.answer = (status, kind, body)
    outbox = syncer._outbox
    event = Event(id=new_event_id(), action="evento.asistio", tracked_at=datetime.now(UTC), **who)
    outbox.add([event], now=0.0)
    syncer.run_once()  # must not raise, whatever came back
    row = outbox.get(event.id)
    assert row is not None and row.state in ("sent", "pending", "parked")
    outbox.park(event.id, now=0.0, status=0, error="done")  # nothing due for the next one


def test_a_profile_id_is_found_however_nested() -> None:
    from agent.delivery.profiles import profile_id_of

    assert profile_id_of({"id": "BvYeyVYz"}) == "BvYeyVYz"
    assert profile_id_of({"profile": {"id": "a1"}}) == "a1"
    assert profile_id_of({"data": {"attributes": {"x": 1}, "id": "d2"}}) == "d2"
    assert profile_id_of({"data": [{"profile": {"id": 77}}]}) == "77"
    assert profile_id_of({"data": {"tags": [{"id": "deep"}]}, "id": "top"}) == "top"
    assert profile_id_of({"id": ""}) is None and profile_id_of([]) is None
    assert profile_id_of({"id": True}) is None


