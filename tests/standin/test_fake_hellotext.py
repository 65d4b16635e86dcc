"""The local Hellotext stand-in, over real HTTP on 127.0.0.1: rules, records, faults, CLI."""

from __future__ import annotations

import http.client
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent.standin.server import FakeHellotext, Faults

TOKEN = "secret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def fake() -> Iterator[FakeHellotext]:
    with FakeHellotext(token=TOKEN, actions=("tienda_fisica.pago",), seed=7) as server:
        yield server


@pytest.fixture
def client(fake: FakeHellotext) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fake.url, headers=AUTH, timeout=5) as c:
        yield c


def profile(client: httpx.Client, phone: str = "+59899000001") -> str:
    answer = client.post("/profiles", json={"phone[mobile]": phone, "first_name": "Ana"})
    assert answer.status_code == 200
    pid: str = answer.json()["id"]
    return pid


def payment(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "action": "tienda_fisica.pago",
        "session": "sess-1",
        "amount": 89.9,
        "currency": "UYU",
        "tracked_at": "2026-11-26T10:00:00-03:00",
        "metadata": {"agent_event_id": "ev-1", "terminal": "caja-1"},
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def assert_error(answer: httpx.Response, status: int, type_: str, parameter: str | None) -> None:
    assert answer.status_code == status, answer.text
    errors = answer.json()["errors"]
    assert len(errors) == 1
    assert set(errors[0]) == {"type", "message", "parameter"}
    assert (errors[0]["type"], errors[0]["parameter"]) == (type_, parameter)
    assert errors[0]["message"]


# -- authentication and the token probe ----------------------------------------------------


def test_probe_answers_200_with_the_token_and_401_without(
    fake: FakeHellotext, client: httpx.Client
) -> None:
    assert client.get("/profiles", params={"limit": 1}).json() == {"data": []}
    no_token = httpx.get(f"{fake.url}/profiles?limit=1")
    assert_error(no_token, 401, "unauthorized", None)
    wrong = httpx.get(f"{fake.url}/profiles?limit=1", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert fake.count(401) == 2 and fake.count(200) == 1 and fake.requests == 3


def test_a_revoked_then_fixed_token(fake: FakeHellotext, client: httpx.Client) -> None:
    fake.token = "rotated"
    assert_error(client.post("/attribution/events", json=payment()), 401, "unauthorized", None)
    assert fake.events == []
    fake.token = TOKEN
    assert client.post("/attribution/events", json=payment()).json() == {"status": "received"}


# -- events: success, records, duplicates --------------------------------------------------


def test_an_accepted_event_is_recorded_as_sent(fake: FakeHellotext, client: httpx.Client) -> None:
    pid = profile(client)
    body = payment(profile=pid, session=None)
    answer = client.post("/attribution/events", json=body)
    assert (answer.status_code, answer.json()) == (200, {"status": "received"})
    assert fake.events == [body]
    assert fake.wait_for_events(1, timeout=0.1)
    assert not fake.wait_for_events(2, timeout=0.05)


def test_duplicates_are_counted_by_agent_event_id(
    fake: FakeHellotext, client: httpx.Client
) -> None:
    for event_id in ("a", "b", "a", "a"):
        client.post("/attribution/events", json=payment(metadata={"agent_event_id": event_id}))
    client.post("/attribution/events", json=payment(metadata=None))  # no id: not comparable
    assert len(fake.events) == 5
    assert fake.duplicates == 2
    assert [e.get("metadata", {}).get("agent_event_id") for e in fake.events] == [
        "a", "b", "a", "a", None,
    ]  # fmt: skip


def test_concurrent_clients_lose_nothing(fake: FakeHellotext) -> None:
    def post(worker: int) -> None:
        with httpx.Client(base_url=fake.url, headers=AUTH) as c:
            for i in range(50):
                meta = {"agent_event_id": f"{worker}-{i}"}
                assert c.post("/attribution/events", json=payment(metadata=meta)).status_code == 200

    threads = [threading.Thread(target=post, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert fake.wait_for_events(200, timeout=1)
    assert fake.duplicates == 0 and fake.count(200) == 200
    ids = [e["metadata"]["agent_event_id"] for e in fake.events]
    assert [i for i in ids if i.startswith("2-")] == [f"2-{i}" for i in range(50)]  # in order


# -- the validation rules of hellotext-api.md ----------------------------------------------

PRODUCT = {"name": "Yerba 1kg", "reference": "7730123456789", "source": "tienda_fisica"}
RULES = [
    (payment(action=None), 400, "parameter_missing", "action"),
    (payment(action=""), 400, "parameter_invalid_empty", "action"),
    (payment(action="Tienda_Fisica.Pago"), 422, "invalid", "action"),
    (payment(action="pago"), 422, "invalid", "action"),
    (payment(action="evento.asistio"), 404, "not_found", "action"),
    (payment(session=None), 422, "parameter_missing", "profile"),
    (payment(session=""), 422, "invalid", "session"),
    (payment(session=None, profile_id="BvYeyVYz"), 400, "not_allowed", "profile_id"),
    (payment(session_id="s"), 400, "not_allowed", "session_id"),
    (payment(session=None, profile="NoSuchId"), 404, "not_found", "profile"),
    (payment(amount=None), 422, "parameter_missing", "amount"),
    (payment(amount="a lot"), 422, "invalid", "amount"),
    (payment(currency="XYZ"), 422, "invalid", "currency"),
    (payment(currency="uyu"), 422, "invalid", "currency"),
    (payment(action="product.purchased"), 422, "parameter_missing", "object"),
    (payment(action="order.placed"), 422, "parameter_missing", "object"),
    (
        payment(action="product.purchased", object_parameters={**PRODUCT, "source": ""}),
        422,
        "object_invalid",
        "source",
    ),
    (
        payment(action="product.purchased", object_parameters={"name": "x", "reference": "1"}),
        422,
        "object_invalid",
        "source",
    ),
    (
        payment(action="product.purchased", object_parameters="yerba"),
        422,
        "object_invalid",
        "object",
    ),
    (payment(tracked_at="yesterday"), 422, "invalid", "tracked_at"),
    (payment(tracked_at=True), 422, "invalid", "tracked_at"),
    (payment(metadata={"a": {"b": 1}}), 422, "invalid", "metadata"),
    (payment(metadata=["a"]), 422, "invalid", "metadata"),
    (["not", "an", "object"], 400, "invalid", None),
]


@pytest.mark.parametrize(("body", "status", "type_", "parameter"), RULES)
def test_a_refused_event_gets_the_documented_error_and_is_not_recorded(
    fake: FakeHellotext,
    client: httpx.Client,
    body: Any,
    status: int,
    type_: str,
    parameter: str | None,
) -> None:
    assert_error(client.post("/attribution/events", json=body), status, type_, parameter)
    assert fake.events == [] and fake.count(status) == 1


ACCEPTED = [
    payment(),
    payment(action="page.viewed", amount=None, currency=None),  # no object needed
    payment(action="product.purchased", object_parameters=PRODUCT),
    payment(action="product.purchased", product_parameters=PRODUCT),  # hellotext.js spelling
    payment(action="product.purchased", object="Pr0duct1"),
    payment(action="coupon.redeemed", object_parameters={"code": "VERANO"}),
    payment(tracked_at=1795730400),
    payment(tracked_at="2026-11-26T13:00:00Z"),
    payment(amount="89.90"),
    payment(currency=None),
    payment(amount=None, currency=None, metadata=None, tracked_at=None),
]


@pytest.mark.parametrize("body", ACCEPTED)
def test_a_valid_event_is_received(
    fake: FakeHellotext, client: httpx.Client, body: dict[str, Any]
) -> None:
    answer = client.post("/attribution/events", json=body)
    assert (answer.status_code, answer.json()) == (200, {"status": "received"})
    assert fake.events == [body]


def test_custom_actions_are_those_the_business_created(fake: FakeHellotext) -> None:
    with (
        FakeHellotext(token=TOKEN, actions=("evento.asistio",)) as other,
        httpx.Client(base_url=other.url, headers=AUTH) as c,
    ):
        assert c.post("/attribution/events", json=payment(action="evento.asistio")).is_success
        assert_error(c.post("/attribution/events", json=payment()), 404, "not_found", "action")


def test_a_body_that_is_not_json_is_a_400(fake: FakeHellotext, client: httpx.Client) -> None:
    answer = client.post("/attribution/events", content=b"{nope", headers={"Content-Type": "x"})
    assert_error(answer, 400, "invalid", None)
    assert_error(client.get("/no/such/endpoint"), 404, "not_found", None)


def test_a_chunked_body_is_read_whole(fake: FakeHellotext, client: httpx.Client) -> None:
    raw = httpx.Request("POST", "/", json=payment()).content
    answer = client.post("/attribution/events", content=iter([raw[:10], raw[10:]]))
    assert answer.status_code == 200 and fake.events == [payment()]


# -- profiles and sessions -----------------------------------------------------------------


def test_profiles_are_created_and_matched_by_phone_or_email(
    fake: FakeHellotext, client: httpx.Client
) -> None:
    first = profile(client, "+59899000001")
    assert re.fullmatch(r"[A-Za-z]{8}", first)
    assert profile(client, "+59899000001") == first
    second = profile(client, "+59899000002")
    assert second != first
    by_mail = client.post("/profiles", json={"email[primary]": "Ana@Example.com"}).json()["id"]
    with_both = client.post(
        "/profiles", json={"email": {"primary": "ana@example.com"}, "phone[mobile]": "+5491100000"}
    ).json()
    assert with_both["id"] == by_mail and with_both["phone"] == "+5491100000"
    assert set(fake.profiles) == {first, second, by_mail}
    assert fake.profiles[first]["phone"] == "+59899000001"
    assert client.get("/profiles", params={"limit": 2}).json()["data"][0]["id"] == first
    assert client.get(f"/profiles/{second}").json()["phone"] == "+59899000002"


def test_form_encoded_bodies_are_read_too(fake: FakeHellotext, client: httpx.Client) -> None:
    pid = client.post("/profiles", data={"phone[mobile]": "+59899000009"}).json()["id"]
    assert fake.profiles[pid]["phone"] == "+59899000009"
    form = {"action": "tienda_fisica.pago", "profile": pid, "amount": "10", "currency": "UYU"}
    assert client.post("/attribution/events", data=form).status_code == 200
    assert fake.events == [form]


def test_a_phone_not_in_e164_is_refused(client: httpx.Client) -> None:
    answer = client.post("/profiles", json={"phone[mobile]": "099 000 001"})
    assert_error(answer, 422, "invalid", "phone")


def test_a_session_attached_to_a_profile(fake: FakeHellotext, client: httpx.Client) -> None:
    ana, bea = profile(client, "+59899000001"), profile(client, "+59899000002")
    assert client.patch("/sessions/sess-1", json={"profile": ana}).status_code == 200
    assert fake.sessions == {"sess-1": ana}
    ok = client.post("/attribution/events", json=payment(profile=ana))
    assert ok.status_code == 200
    clash = client.post("/attribution/events", json=payment(profile=bea))
    assert_error(clash, 422, "identity_assigned", "session")
    again = client.patch("/sessions/sess-1", json={"profile": bea})
    assert_error(again, 422, "identity_assigned", "session")
    unknown = client.patch("/sessions/sess-2", json={"profile": "Nobody00"})
    assert_error(unknown, 404, "not_found", "profile")


# -- faults --------------------------------------------------------------------------------


def post_statuses(client: httpx.Client, n: int) -> list[int]:
    return [client.post("/attribution/events", json=payment()).status_code for _ in range(n)]


def test_fail_rate_one_answers_only_5xx_and_records_nothing(
    fake: FakeHellotext, client: httpx.Client
) -> None:
    fake.set_faults(fail_rate=1.0)
    statuses = post_statuses(client, 30)
    assert set(statuses) <= {500, 502, 503} and len(set(statuses)) > 1
    assert fake.events == [] and sum(fake.count(s) for s in (500, 502, 503)) == 30
    assert client.get("/profiles").status_code >= 500  # the probe too: it is the network
    fake.set_faults(fail_rate=0.0)
    assert post_statuses(client, 1) == [200]


def test_faults_are_reproducible_with_a_seed() -> None:
    runs = []
    for _ in range(2):
        faults = Faults(fail_rate=0.5, drop_rate=0.0)
        with (
            FakeHellotext(token=TOKEN, faults=faults, seed=42) as server,
            httpx.Client(base_url=server.url, headers=AUTH) as c,
        ):
            runs.append(post_statuses(c, 20))
    assert runs[0] == runs[1]
    assert 200 in runs[0] and any(s >= 500 for s in runs[0])


@pytest.mark.parametrize("retry_after", ["2", formatdate(1795730400, usegmt=True)])
def test_rate_limit_every_nth_request_with_retry_after(
    fake: FakeHellotext, client: httpx.Client, retry_after: str
) -> None:
    fake.set_faults(rate_limit_every=3, retry_after=retry_after)
    answers = [client.post("/attribution/events", json=payment()) for _ in range(6)]
    assert [a.status_code for a in answers] == [200, 200, 429, 200, 200, 429]
    assert answers[2].headers["Retry-After"] == retry_after
    assert "Retry-After" not in answers[0].headers
    assert len(fake.events) == 4 and fake.count(429) == 2


def test_a_503_carries_retry_after_too(fake: FakeHellotext, client: httpx.Client) -> None:
    fake.set_faults(status_override=503, retry_after="30")
    answer = client.post("/attribution/events", json=payment())
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "30"


def test_a_slow_answer_and_a_client_timeout(fake: FakeHellotext, client: httpx.Client) -> None:
    fake.set_faults(delay=0.3)
    started = time.monotonic()
    assert post_statuses(client, 1) == [200]
    assert time.monotonic() - started >= 0.3
    with pytest.raises(httpx.ReadTimeout):
        client.post("/attribution/events", json=payment(), timeout=0.1)
    # The server still stored it: a timeout means "maybe delivered".
    assert fake.wait_for_events(2, timeout=2)


def test_a_dropped_connection_gets_no_answer(fake: FakeHellotext, client: httpx.Client) -> None:
    fake.set_faults(drop_rate=1.0)
    with pytest.raises(httpx.RemoteProtocolError):
        client.post("/attribution/events", json=payment())
    assert fake.events == [] and fake.count(0) == 1 and fake.requests == 1
    fake.set_faults(drop_rate=0.0)
    assert post_statuses(client, 1) == [200]


def test_a_lost_answer_after_the_event_was_stored(
    fake: FakeHellotext, client: httpx.Client
) -> None:
    fake.set_faults(lose_answer_rate=1.0)
    with pytest.raises(httpx.RemoteProtocolError):
        client.post("/attribution/events", json=payment())
    assert len(fake.events) == 1 and fake.count(0) == 1 and fake.count(200) == 0
    fake.set_faults(lose_answer_rate=0.0)
    assert post_statuses(client, 1) == [200]  # the sender's retry: a visible duplicate
    assert fake.duplicates == 1


def test_offline_resets_new_and_kept_alive_connections(
    fake: FakeHellotext, client: httpx.Client
) -> None:
    assert post_statuses(client, 1) == [200]  # a kept-alive connection now exists
    fake.set_faults(offline=True)
    with pytest.raises(httpx.TransportError):
        client.post("/attribution/events", json=payment())
    with pytest.raises((httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)):
        httpx.post(f"{fake.url}/attribution/events", json=payment(), headers=AUTH)
    assert len(fake.events) == 1 and fake.requests == 1
    # The control endpoint stays reachable, so a separate process can come back online.
    control = fake.url.removesuffix("/v1") + "/_control"
    assert httpx.get(f"{control}/state").json()["faults"]["offline"] is True
    assert httpx.post(f"{control}/faults", json={"offline": False}).status_code == 200
    assert post_statuses(client, 1) == [200]


@pytest.mark.parametrize(
    ("status", "type_"), [(401, "unauthorized"), (403, "not_allowed"), (500, "server_error")]
)
def test_status_override_answers_everything_with_it(
    fake: FakeHellotext, client: httpx.Client, status: int, type_: str
) -> None:
    fake.set_faults(status_override=status)
    assert_error(client.post("/attribution/events", json=payment()), status, type_, None)
    assert client.get("/profiles", params={"limit": 1}).status_code == status
    assert fake.events == [] and fake.count(status) == 2


def test_a_2xx_override_still_processes(fake: FakeHellotext, client: httpx.Client) -> None:
    fake.set_faults(status_override=201)  # the older docs' answer: clients accept any 2xx
    assert post_statuses(client, 1) == [201]
    assert len(fake.events) == 1
    assert client.post("/attribution/events", json=payment(action=None)).status_code == 400


def test_bad_fault_settings_are_refused(fake: FakeHellotext) -> None:
    with pytest.raises(TypeError):
        fake.set_faults(fail_rte=1.0)
    with pytest.raises(ValueError):
        fake.set_faults(fail_rate=1.5)
    assert fake.faults == Faults()


# -- control endpoint, reset, connections --------------------------------------------------


def test_control_endpoint(fake: FakeHellotext, client: httpx.Client) -> None:
    control = fake.url.removesuffix("/v1") + "/_control"
    post_statuses(client, 2)
    client.post("/attribution/events", json=payment(action=None))
    state = httpx.get(f"{control}/state").json()
    assert state["requests"] == 3 and state["statuses"] == {"200": 2, "400": 1}
    assert (state["events"], state["duplicates"]) == (2, 1)
    changed = httpx.post(f"{control}/faults", json={"status_override": 403, "retry_after": "5"})
    assert changed.json()["status_override"] == 403
    assert fake.faults.status_override == 403 and post_statuses(client, 1) == [403]
    assert httpx.post(f"{control}/faults", json={"nope": 1}).status_code == 400
    assert httpx.post(f"{control}/faults", json={"fail_rate": 2}).status_code == 400
    events = httpx.get(f"{control}/events", params={"since": 1}).json()
    assert events["count"] == 2 and events["events"] == [payment()]
    assert httpx.post(f"{control}/token", json={"token": "other"}).status_code == 200
    assert fake.token == "other"
    created = httpx.post(f"{control}/actions", json={"actions": ["evento.asistio"]})
    assert created.json() == {"actions": ["evento.asistio"]}
    assert fake.actions == {"evento.asistio"}
    assert httpx.post(f"{control}/actions", json={"actions": "x"}).status_code == 400
    assert httpx.post(f"{control}/reset").json() == {"status": "reset"}
    assert (fake.events, fake.requests, fake.duplicates) == ([], 0, 0)
    assert fake.faults == Faults() and fake.token == TOKEN
    assert fake.actions == {"tienda_fisica.pago"}
    assert post_statuses(client, 1) == [200]
    assert httpx.get(f"{control}/nothing").status_code == 404


def non_loopback_address() -> str | None:
    """This host's own non-loopback IPv4 address (a UDP connect sends no packet)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: only picks the outgoing interface
        except OSError:
            return None
        address: str = probe.getsockname()[0]
    return None if address.startswith("127.") else address


def test_control_endpoint_refuses_other_hosts() -> None:
    address = non_loopback_address()
    if address is None:
        pytest.skip("this host has no non-loopback IPv4 address to connect from")
    with FakeHellotext(host="0.0.0.0", token=TOKEN) as server:
        port = server.url.rsplit(":", 1)[1].removesuffix("/v1")
        remote = httpx.post(f"http://{address}:{port}/_control/reset")
        assert_error(remote, 403, "not_allowed", None)
        assert httpx.get(f"http://127.0.0.1:{port}/_control/state").status_code == 200


def test_reset_returns_to_the_constructed_state() -> None:
    with FakeHellotext(token=TOKEN, faults=Faults(rate_limit_every=2)) as server:
        server.set_faults(rate_limit_every=0, delay=0.5)
        server.token = "changed"
        server.reset()
        assert server.faults == Faults(rate_limit_every=2) and server.token == TOKEN


def test_keep_alive_and_connection_close(fake: FakeHellotext) -> None:
    host, port = fake.url.removeprefix("http://").removesuffix("/v1").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    conn.connect()
    first_socket = conn.sock
    for _ in range(3):
        conn.request("GET", "/v1/profiles?limit=1", headers=AUTH)
        answer = conn.getresponse()
        assert answer.status == 200 and answer.read() == b'{"data": []}'
        assert answer.getheader("Content-Length") == "12"
    assert conn.sock is first_socket  # three answers on one connection
    conn.request("GET", "/v1/profiles", headers={**AUTH, "Connection": "close"})
    answer = conn.getresponse()
    assert answer.getheader("Connection") == "close" and answer.read()
    conn.close()


def test_stop_ends_kept_alive_connections() -> None:
    server = FakeHellotext(token=TOKEN).start()
    with httpx.Client(base_url=server.url, headers=AUTH) as c:
        assert post_statuses(c, 1) == [200]
        server.stop()
        with pytest.raises(httpx.TransportError):
            c.post("/attribution/events", json=payment())
    with pytest.raises(RuntimeError):
        _ = server.url


# -- the command line ----------------------------------------------------------------------


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_cli_prints_the_url_serves_with_faults_and_stops_on_a_signal(
    stop_signal: signal.Signals,
) -> None:
    command = [
        sys.executable, "-m", "agent.cli", "fake-hellotext", "--port", "0",
        "--token", TOKEN, "--action", "evento.asistio", "--action", "tienda_fisica.pago",
        "--rate-limit-every", "2", "--retry-after", "9", "--seed", "1",
    ]  # fmt: skip
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode()
        match = re.fullmatch(r"listening on (http://127\.0\.0\.1:\d+/v1)\n", line)
        assert match, line
        with httpx.Client(base_url=match.group(1), headers=AUTH, timeout=5) as c:
            first = c.post("/attribution/events", json=payment(action="evento.asistio"))
            second = c.post("/attribution/events", json=payment())
        assert first.status_code == 200
        assert (second.status_code, second.headers["Retry-After"]) == (429, "9")
        proc.send_signal(stop_signal)
        out, err = proc.communicate(timeout=10)
        assert proc.returncode == 0, err
        assert out == b""  # exactly one line on stdout
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_cli_refuses_a_bad_fault_setting() -> None:
    command = [sys.executable, "-m", "agent.cli", "fake-hellotext", "--fail-rate", "3"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, timeout=30)
    assert done.returncode != 0 and b"fail_rate" in done.stderr and done.stdout == b""


def test_cli_reports_a_port_already_taken(fake: FakeHellotext) -> None:
    port = fake.url.rsplit(":", 1)[1].removesuffix("/v1")
    command = [sys.executable, "-m", "agent.cli", "fake-hellotext", "--port", port]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, timeout=30)
    assert done.returncode == 1 and done.stdout == b""
    assert f"cannot listen on 127.0.0.1:{port}".encode() in done.stderr
