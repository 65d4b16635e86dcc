"""The stand-in's per-second rate limit (benchmarks/fleet.py): 429 + Retry-After beyond it."""

from __future__ import annotations

import httpx

from agent.standin.server import FakeHellotext, Faults

TOKEN = "rate-token"
BODY = {"action": "tienda_fisica.pago", "session": "s", "amount": 1, "currency": "UYU"}


def test_beyond_n_requests_a_second_the_answer_is_429_with_retry_after() -> None:
    with (
        FakeHellotext(token=TOKEN, faults=Faults(rate_limit_per_second=3)) as fake,
        httpx.Client(base_url=fake.url, headers={"Authorization": f"Bearer {TOKEN}"}) as client,
    ):
        answers = [client.post("/attribution/events", json=BODY) for _ in range(5)]
        codes = [a.status_code for a in answers]
        # Five requests in well under a second: three let through, then 429.
        assert codes[:4] == [200, 200, 200, 429], codes
        assert answers[3].headers["Retry-After"] == "1"
        assert fake.event_count == codes.count(200)
        assert sum(fake.requests_per_second()) == 5
        assert fake.state()["requests_per_second"] == fake.requests_per_second()


def test_the_limit_can_be_set_and_lifted_while_serving() -> None:
    with (
        FakeHellotext(token=TOKEN) as fake,
        httpx.Client(base_url=fake.url, headers={"Authorization": f"Bearer {TOKEN}"}) as client,
    ):
        fake.set_faults(rate_limit_per_second=1)
        assert [client.post("/attribution/events", json=BODY).status_code for _ in range(2)] == [
            200,
            429,
        ]
        fake.set_faults(rate_limit_per_second=0)
        assert client.post("/attribution/events", json=BODY).status_code == 200
