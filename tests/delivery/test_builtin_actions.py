"""Hellotext's built-in actions as its help lists them (tracking-events.md): in-store apps'
`track` and the ingest endpoint take cart.viewed, checkout.started and the two undotted
subscription actions, and deliver them to the stand-in."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from agent.cli import main
from agent.delivery.events import BUILTIN_ACTIONS
from agent.delivery.outbox import Outbox
from agent.ingest.app import build_event
from agent.standin.server import FakeHellotext


def test_the_built_in_list_has_hellotexts_newer_actions() -> None:
    assert {"cart.viewed", "checkout.started", "subscribed", "unsubscribed"} <= BUILTIN_ACTIONS


@pytest.mark.parametrize("action", ["subscribed", "unsubscribed"])
def test_subscription_actions_pass_track_and_the_ingest_check(
    tmp_path: Path, action: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "agent.toml"
    config.write_text(f'[outbox]\npath = "{tmp_path / "outbox.db"}"\n')
    assert main(["--config", str(config), "track", action, "--phone", "099 123 456"]) == 0
    event_id = capsys.readouterr().out.strip()
    with Outbox(tmp_path / "outbox.db") as box:
        row = box.get(event_id)
    assert row is not None and row.event.action == action
    # The local endpoint's model: a built-in, so object_parameters need no object_type.
    event = build_event({"action": "cart.viewed", "session": "s-1",
                         "object_parameters": {"reference": "c-1", "source": "app"}},
                        key=None, now=1_800_000_000, country="UY")  # fmt: skip
    assert event.action == "cart.viewed"
    with FakeHellotext(token="t") as fake:
        body = build_event({"action": action, "session": "s-1"}, key="k", now=1_800_000_000,
                           country="UY").body()  # fmt: skip
        answer = httpx.post(f"{fake.url}/attribution/events", json=body,
                            headers={"Authorization": "Bearer t"})  # fmt: skip
        assert answer.status_code == 200, answer.text


def test_an_app_cannot_smuggle_an_order_to_create() -> None:
    from agent.ingest.app import BodyError

    with pytest.raises(BodyError):
        build_event({"action": "order.confirmed", "session": "s-1", "order": {"items": []}},
                    key=None, now=1_800_000_000, country="UY")  # fmt: skip
