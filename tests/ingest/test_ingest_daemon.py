"""Acceptance (issue 12): in-store apps post to a running `hellotext-agent run` with a real
HTTP client; what got a 200 is in the outbox and reaches Hellotext once."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fake_printer import wait_until
from ingest_rig import ACTIONS, API_TOKEN, Client, Daemon

from agent.delivery.outbox import Outbox
from agent.standin.server import FakeHellotext


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Daemon, FakeHellotext]]:
    fake = FakeHellotext(token=API_TOKEN, actions=ACTIONS).start()
    daemon = Daemon(tmp_path_factory.mktemp("ingest"), fake)
    try:
        yield daemon, fake
    finally:
        daemon.kill()
        fake.stop()


def hellotext_profile(fake: FakeHellotext) -> str:
    """A customer the app already knows by profile id (created in Hellotext beforehand)."""
    answer = httpx.post(
        fake.url + "/profiles",
        json={"first_name": "Eva", "phone[mobile]": "+59899000123"},
        headers={"Authorization": f"Bearer {API_TOKEN}"},
    )
    return str(answer.json()["id"])


def delivered_ids(fake: FakeHellotext) -> Counter[str]:
    return Counter(str(e["metadata"].get("agent_event_id")) for e in fake.events)


def test_events_posted_while_hellotext_is_offline_are_delivered_once_when_it_returns(
    world: tuple[Daemon, FakeHellotext],
) -> None:
    daemon, fake = world
    known = hellotext_profile(fake)
    fake.set_faults(offline=True)
    app = daemon.client()
    bodies = [
        {"action": "evento.asistio", "profile": known, "metadata": {"evento": "taller"}},
        {"action": "evento.asistio", "phone": "099 123 456"},  # a local number, like track
        {"action": "formulario_de_registro.completado", "email": "ana@example.com"},
        {"action": "evento.asistio", "phone": "+59899000777", "email": "luis@example.com"},
        {"action": "evento.asistio", "session": "3f1c2d9e-5a4b-4c3d-8e7f-0a1b2c3d4e5f",
         "amount": 120.5, "currency": "UYU", "tracked_at": "2026-11-30T18:30:00-03:00"},
    ]  # fmt: skip
    ids = []
    for n in range(20):
        answer = app.post(bodies[n % len(bodies)])
        assert answer.status == 200, answer.data
        assert answer.data["status"] == "received"
        ids.append(answer.data["id"])
    replay = app.post(bodies[0], key="tablet-7:checkin-42")
    again = app.post(bodies[0], key="tablet-7:checkin-42")  # the app retried: one event
    assert replay.status == again.status == 200 and replay.data["id"] == again.data["id"]
    ids.append(replay.data["id"])
    assert len(set(ids)) == len(ids) == 21
    with Outbox(daemon.db) as box:  # committed before the 200: all waiting, none sent
        assert all(box.get(i) is not None for i in ids)
    assert not any(i in delivered_ids(fake) for i in ids)

    fake.set_faults(offline=False)
    assert wait_until(lambda: set(ids) <= set(delivered_ids(fake)), timeout=90), daemon.output()
    counts = delivered_ids(fake)
    assert all(counts[i] == 1 for i in ids), {i: counts[i] for i in ids if counts[i] != 1}
    sent = [e for e in fake.events if e["metadata"].get("agent_event_id") in ids]
    assert all("profile" in e or "session" in e for e in sent)
    assert all("phone" not in e and "email" not in e for e in sent)
    timed = [e for e in sent if e.get("amount")]
    assert timed and all(e["tracked_at"] == "2026-11-30T21:30:00Z" for e in timed)
    # The e-mail-only customer became a profile; phone + e-mail went in one request.
    profiles = list(fake.profiles.values())
    assert any(p["email"] == "ana@example.com" and not p["phone"] for p in profiles), profiles
    both = [p for p in profiles if p["email"] == "luis@example.com"]
    assert both and both[0]["phone"] == "+59899000777"


def test_wrong_token_bad_body_size_cap_and_idempotency(
    world: tuple[Daemon, FakeHellotext],
) -> None:
    daemon, _ = world
    good = {"action": "evento.asistio", "profile": "BvYeyVYz"}
    for token in ("", "nope", API_TOKEN):  # the Hellotext token is not the ingest token
        answer = daemon.client(token).post(good)
        assert answer.status == 401, token
        assert answer.data["errors"][0]["type"] == "unauthorized"
    app = daemon.client()
    bad = app.post({"action": "Evento Asistio", "currency": "XYZ", "amount": 5, "profile": "p"})
    assert bad.status == 422
    problems = {e["parameter"]: e for e in bad.data["errors"]}
    assert set(problems) == {"action", "currency"}
    assert all(e["type"] and e["message"] for e in bad.data["errors"])
    nobody = app.post({"action": "evento.asistio"})
    assert nobody.status == 422 and "profile" in nobody.data["errors"][0]["message"]
    assert app.post({"action": "evento.asistio", "phone": "12"}).data["errors"][0] == {
        "type": "invalid", "message": "not a phone number in UY", "parameter": "phone"
    }  # fmt: skip
    assert app.post(None, raw=b"{not json").status == 400
    huge = {**good, "metadata": {"note": "x" * 70_000}}
    assert app.post(huge).status == 413
    assert daemon.client().post(good).status == 200  # a fresh connection after the close

    app = daemon.client()
    first = app.post(good, key="kiosk-1:form-9")
    replay = app.post(good, key="kiosk-1:form-9")
    second = app.post({**good, "metadata": {"n": 2}}, key="kiosk-1:form-9")
    other = app.post(good, key="kiosk-1:form-10")
    assert first.status == replay.status == other.status == 200
    assert first.data["id"] == replay.data["id"] != other.data["id"]
    assert second.status == 422 and "kiosk-1:form-9" in second.data["errors"][0]["message"]
    with Outbox(daemon.db) as box:
        row = box.get(first.data["id"])
        assert row is not None and row.event.metadata == {}  # the first one is kept


def test_100_concurrent_connections_are_served(world: tuple[Daemon, FakeHellotext]) -> None:
    daemon, _ = world
    clients = [daemon.client() for _ in range(100)]
    for client in clients:
        client.conn.connect()  # all 100 open at once
    answers: list[int] = []
    lock = threading.Lock()

    def post(client: Client, n: int) -> None:
        answer = client.post({"action": "evento.asistio", "profile": f"p{n}"})
        with lock:
            answers.append(answer.status)

    threads = [threading.Thread(target=post, args=(c, n)) for n, c in enumerate(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert answers == [200] * 100
    for client in clients:
        client.close()


def test_sigterm_with_requests_in_flight_loses_none_that_got_a_200(tmp_path: Path) -> None:
    with FakeHellotext(token=API_TOKEN, actions=ACTIONS) as fake:
        fake.set_faults(offline=True)  # nothing leaves: the outbox must hold every 200
        daemon = Daemon(tmp_path, fake)
        acknowledged: list[str] = []
        lock = threading.Lock()
        stop = threading.Event()

        def app(n: int) -> None:
            client = daemon.client()
            while not stop.is_set():
                try:
                    answer = client.post({"action": "evento.asistio", "profile": f"p{n}"})
                except OSError:  # the daemon went away mid-request: no 200, the app retries
                    return
                if answer.status != 200:
                    assert answer.status == 503, answer  # stopping: come back later
                    return
                with lock:
                    acknowledged.append(answer.data["id"])

        threads = [threading.Thread(target=app, args=(n,)) for n in range(8)]
        try:
            for thread in threads:
                thread.start()
            assert wait_until(lambda: len(acknowledged) >= 40, timeout=60), daemon.output()
            assert daemon.terminate() == 0, daemon.output()
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=60)
            daemon.kill()
    with Outbox(daemon.db) as box:
        missing = [i for i in acknowledged if box.get(i) is None]
    assert not missing, f"{len(missing)} of {len(acknowledged)} acknowledged events were lost"
