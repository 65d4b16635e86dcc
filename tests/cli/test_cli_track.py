"""`track` and `outbox list|show|retry` through the real CLI entry point, on a real outbox."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from agent.cli import main
from agent.delivery.events import Event, stable_event_id
from agent.delivery.outbox import Outbox


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "agent.toml"
    path.write_text(
        f'[store]\nterminal_id = "caja-7"\ncountry = "UY"\ncurrency = "UYU"\n'
        f'[outbox]\npath = "{tmp_path / "state" / "outbox.db"}"\n',
        encoding="utf-8",
    )
    return path


def run(config: Path, *argv: str) -> int:
    return main(["--config", str(config), *argv])


def stored(config: Path, event_id: str) -> Event:
    with Outbox(config.parent / "state" / "outbox.db") as box:
        row = box.get(event_id)
    assert row is not None, f"{event_id} is not in the outbox"
    return row.event


def test_track_stores_a_full_event_and_prints_its_id(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(
        config, "track", "evento.asistio", "--phone", "099 123 456", "--amount", "1500",
        "--at", "2026-03-14T18:30:00-03:00", "--meta", "sala=2", "--meta", "nota=a=b",
    )  # fmt: skip
    assert code == 0
    event = stored(config, capsys.readouterr().out.strip())
    assert event.action == "evento.asistio"
    assert event.phone == "+59899123456"  # normalised with store.country
    assert (str(event.amount), event.currency) == ("1500", "UYU")  # store currency by default
    assert event.tracked_at == datetime(2026, 3, 14, 21, 30, tzinfo=UTC)
    assert event.metadata == {"sala": "2", "nota": "a=b"}


@pytest.mark.parametrize(
    ("typed", "amount"), [("12,50", "12.50"), ("1.234,50", "1234.50"), ("89.90", "89.90")]
)
def test_track_takes_the_amount_as_the_store_writes_it(
    config: Path, capsys: pytest.CaptureFixture[str], typed: str, amount: str
) -> None:
    """Uruguay (the config's country) writes cents after a comma."""
    assert run(config, "track", "evento.asistio", "--amount", typed) == 0
    assert str(stored(config, capsys.readouterr().out.strip()).amount) == amount


def test_track_without_identity_gets_a_session_shaped_like_hellotexts(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(config, "track", "evento.asistio") == 0
    event = stored(config, capsys.readouterr().out.strip())
    assert event.session is not None and str(uuid.UUID(event.session)) == event.session
    assert event.session != event.id
    assert abs(event.tracked_at.timestamp() - datetime.now(UTC).timestamp()) < 60


def test_track_keeps_it_local_when_the_store_says_so(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = config.read_text().replace("[store]\n", '[store]\nunidentified = "local"\n')
    config.write_text(text)
    assert run(config, "track", "evento.asistio") == 0
    out, err = capsys.readouterr()
    assert "will not be sent" in err
    with Outbox(config.parent / "state" / "outbox.db") as box:
        assert box.get(out.strip()).state == "local"  # type: ignore[union-attr]
    assert run(config, "track", "evento.asistio", "--profile", "BvYeyVYz") == 0
    out, _ = capsys.readouterr()
    with Outbox(config.parent / "state" / "outbox.db") as box:
        assert box.get(out.strip()).state == "pending"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["Evento.Asistio"], "lowercase action"),
        (["evento.asistio", "--phone", "12"], "not a phone number in UY"),
        (["evento.asistio", "--currency", "USD"], "--currency needs --amount"),
        (["evento.asistio", "--amount", "10", "--currency", "ZZZ"], "ISO 4217"),
        (["evento.asistio", "--amount", "-3"], "greater than or equal to 0"),
        (["evento.asistio", "--amount", "diez"], "not a number"),
        (["evento.asistio", "--amount", "1.500"], "ambiguous (1500 or 1.5?)"),
        (["evento.asistio", "--at", "ayer"], "not an ISO 8601 time"),
        (["evento.asistio", "--meta", "novalue"], "not KEY=VALUE"),
        (["evento.asistio", "--meta", "agent_event_id=x"], "reserved"),
        (["evento.asistio", "--profile", "a", "--session", "b"], "not allowed with"),
    ],
)
def test_track_refuses_bad_input_with_exit_2_and_stores_nothing(
    config: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run(config, "track", *argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    db = config.parent / "state" / "outbox.db"
    if db.exists():
        with Outbox(db) as box:
            assert sum(box.counts().values()) == 0


def test_a_bad_config_exits_78(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[store]\ncountry = "Uruguay"\n', encoding="utf-8")
    assert run(bad, "track", "evento.asistio") == 78
    assert "store.country" in capsys.readouterr().err


def seed(config: Path) -> list[str]:
    """Three events: one parked (422), one sent, one pending, with a phone."""
    at = datetime(2026, 3, 14, 21, 30, tzinfo=UTC)
    events = [
        Event(id=stable_event_id("t", str(i)), action="product.purchased",
              phone="+59899123456", tracked_at=at,
              object_parameters={"name": "Yerba", "price": {"amount": Decimal("189.90")}})
        for i in range(3)
    ]  # fmt: skip
    error = '{"errors":[{"type":"invalid","message":"+59899123456 is not_found"}]}'
    with Outbox(config.parent / "state" / "outbox.db") as box:
        box.add(events, now=1000.0)
        rows = box.claim(limit=2, now=1000.0, lease_seconds=60)
        box.park(rows[0].id, now=1001.0, status=422, error=error)
        box.ack([rows[1].id], now=1001.0)
    return [e.id for e in events]


def test_outbox_list_json_and_table(
    config: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "300")  # no folding: what is printed can be searched
    parked, sent, pending = seed(config)
    assert run(config, "outbox", "list", "--json") == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(d["id"], d["state"]) for d in lines] == [
        (pending, "pending"),
        (sent, "sent"),
        (parked, "parked"),
    ]
    assert all(d["event"]["phone"] == "+598*****456" for d in lines)
    assert run(config, "outbox", "list", "--state", "parked") == 0
    table = capsys.readouterr().out
    assert parked[:8] in table and sent[:8] not in table and "422" in table
    assert "99123456" not in table


def test_outbox_list_does_not_wrap_in_a_pipe(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`outbox list | grep …` (or a narrow terminal's log): one line per event, whole."""
    parked, sent, pending = seed(config)
    assert run(config, "outbox", "list") == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 5, lines  # title, header, three events
    row = next(line for line in lines if line.startswith(parked[:8]))
    assert "parked" in row and "422" in row and "is not_found" in row


def test_outbox_show_masks_the_phone_and_accepts_a_prefix(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parked, _, _ = seed(config)
    assert run(config, "outbox", "show", parked[:8]) == 0
    out = capsys.readouterr().out
    data = json.loads(out)
    assert data["id"] == parked and data["state"] == "parked"
    assert data["last_status"] == 422 and "not_found" in data["last_error"]
    assert data["event"]["object_parameters"]["price"] == {"amount": "189.90"}
    assert "99123456" not in out  # masked in the event and in the echoed error body
    assert run(config, "outbox", "show", "ffffffff-nope") == 1
    assert "no event" in capsys.readouterr().err


def test_outbox_retry_parked_and_by_id(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parked, sent, pending = seed(config)
    assert run(config, "outbox", "retry", "--parked") == 0
    assert "1 event(s)" in capsys.readouterr().out
    with Outbox(config.parent / "state" / "outbox.db") as box:
        assert box.counts()["parked"] == 0
        assert box.get(parked).state == "pending"  # type: ignore[union-attr]
    assert run(config, "outbox", "retry", sent, "nope") == 1  # a sent event stays sent
    _, err = capsys.readouterr()
    assert "sent, left as it is" in err and "no event nope" in err
    with pytest.raises(SystemExit):
        run(config, "outbox", "retry")  # nothing to retry named


def test_track_waits_while_another_connection_holds_the_write_lock(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The daemon is mid-transaction; track waits for the lock instead of failing."""
    db = config.parent / "state" / "outbox.db"
    Outbox(db).close()
    holder = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.5, lambda: holder.execute("COMMIT"))
    started = time.monotonic()
    release.start()
    try:
        assert run(config, "track", "a.b") == 0
        assert time.monotonic() - started >= 0.45
    finally:
        release.join()
        holder.close()
    assert stored(config, capsys.readouterr().out.strip()).session is not None


def test_outbox_list_does_not_wait_for_a_writer(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Reading commands take no write lock: a daemon mid-transaction does not stall them."""
    seed(config)
    holder = sqlite3.connect(config.parent / "state" / "outbox.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        assert run(config, "outbox", "list", "--json") == 0
        assert time.monotonic() - started < 2  # the busy timeout is 5 s
        assert len(capsys.readouterr().out.splitlines()) == 3
    finally:
        holder.execute("ROLLBACK")
        holder.close()
