"""Phones to profile ids: E.164 with the store's country, one POST /v1/profiles per phone."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from agent.delivery.hellotext import HellotextClient, Park, Retry
from agent.delivery.profiles import ProfileResolver, profile_id_of
from agent.phones import to_e164
from agent.standin.server import FakeHellotext

TOKEN = "profiles-token"


@pytest.fixture
def fake() -> Iterator[FakeHellotext]:
    with FakeHellotext(token=TOKEN) as server:
        yield server


@pytest.fixture
def client(fake: FakeHellotext) -> Iterator[HellotextClient]:
    with HellotextClient(api_url=fake.url, token=TOKEN, max_connections=8) as c:
        yield c


@pytest.mark.parametrize(
    ("phone", "country", "e164"),
    [
        ("099 123 456", "UY", "+59899123456"),
        ("+598 99 123 456", "AR", "+59899123456"),
        ("11 2345-6789", "AR", "+541123456789"),
        ("(55) 91234-5678", "BR", "+5555912345678"),
        ("+59899123456", "UY", "+59899123456"),
        ("hola", "UY", None),
        ("12", "UY", None),
    ],
)
def test_to_e164_uses_the_store_country(phone: str, country: str, e164: str | None) -> None:
    assert to_e164(phone, country) == e164


def test_profile_id_of_reads_the_answer() -> None:
    assert profile_id_of({"id": "BvYeyVYz"}) == "BvYeyVYz"
    assert profile_id_of({"profile": {"id": "Qw"}}) == "Qw"
    assert profile_id_of({"status": "ok"}) is None
    assert profile_id_of({"id": ""}) is None


def test_one_request_per_phone_even_from_many_threads(
    fake: FakeHellotext, client: HellotextClient
) -> None:
    resolver = ProfileResolver(client, country="UY")
    fake.set_faults(delay=0.02)  # keep the first request open while the others arrive
    results: list[object] = []

    def resolve() -> None:
        results.append(resolver.resolve("+59899000001"))

    threads = [threading.Thread(target=resolve) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    (profile,) = fake.profiles
    assert results == [profile] * 8
    assert fake.requests == 1 and resolver.requests == 1
    assert fake.profiles[profile]["phone"] == "+59899000001"
    assert resolver.take_new() == [("+59899000001", profile)]
    assert resolver.take_new() == []  # handed over once, to be stored once


def test_a_remembered_phone_makes_no_request(fake: FakeHellotext, client: HellotextClient) -> None:
    resolver = ProfileResolver(client, country="UY")
    resolver.remember("+59899000002", "Cached1")
    assert resolver.resolve("+59899000002") == "Cached1"
    assert fake.requests == 0 and resolver.take_new() == []


def test_a_failure_is_returned_and_not_remembered(
    fake: FakeHellotext, client: HellotextClient
) -> None:
    resolver = ProfileResolver(client, country="UY")
    fake.set_faults(status_override=503)
    retry = resolver.resolve("+59899000003")
    assert isinstance(retry, Retry) and retry.status == 503
    fake.set_faults(status_override=422)
    outcome = resolver.resolve("+59899000003")
    assert isinstance(outcome, Park) and outcome.status == 422
    assert resolver.take_new() == [], "a failure is not remembered"
    fake.set_faults(status_override=None)
    # The third try asks again and gets the one profile the server holds for this phone.
    found = resolver.resolve("+59899000003")
    (created,) = [p for p, f in fake.profiles.items() if f["phone"] == "+59899000003"]
    assert found == created
    assert resolver.requests == 3
    assert resolver.take_new() == [("+59899000003", created)]


def test_an_answer_without_an_id_is_retried_without_the_phone(
    fake: FakeHellotext, client: HellotextClient
) -> None:
    """Not Hellotext's answer (a portal, a proxy): try again later, never park the sale."""
    resolver = ProfileResolver(client, country="UY")
    fake.set_faults(status_override=204)  # a 2xx whose body is not a profile
    outcome = resolver.resolve("+59899000004")
    assert isinstance(outcome, Retry) and "no id" in outcome.error and outcome.wrong_answer
    assert "99000004" not in outcome.error


@pytest.mark.parametrize(
    ("phone_field", "email_field"), [("phone[mobile]", "email[primary]"), ("phone", "email")]
)
def test_phone_and_email_go_in_one_request_under_the_configured_names(
    fake: FakeHellotext, phone_field: str, email_field: str
) -> None:
    from agent.delivery.profiles import Contact

    with HellotextClient(api_url=fake.url, token=TOKEN, phone_field=phone_field,
                         email_field=email_field) as client:  # fmt: skip
        resolver = ProfileResolver(client, country="UY")
        both = resolver.resolve(Contact("+59899123456", "ana@example.com"))
        assert isinstance(both, str)
        # Known afterwards by either: no second request for the same customer.
        assert resolver.resolve(Contact(None, "ana@example.com")) == both
        assert resolver.resolve("+59899123456") == both
        mail_only = resolver.resolve(Contact(None, "luis@example.com"))
    assert resolver.requests == 2 and mail_only != both
    stored = fake.profiles[both]
    assert (stored["phone"], stored["email"]) == ("+59899123456", "ana@example.com")
    assert fake.profiles[str(mail_only)]["email"] == "luis@example.com"
    assert sorted(k for k, _ in resolver.take_new()) == [
        "+59899123456", "mailto:ana@example.com", "mailto:luis@example.com"
    ]  # fmt: skip
