"""Issue 9, cases 7 and 8: the token travels only over TLS; captures hold no card number and
the log scrubber leaves their file names alone."""

from __future__ import annotations

import logging
import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from faultrig import Till, job, until

from agent.cli import main
from agent.logs import scrub
from agent.standin.server import FakeHellotext

CARD = "4111 1111 1111 1111"


@pytest.mark.parametrize("url", ["http://api.hellotext.com/v1", "http://10.0.0.5:8080/v1"])
def test_run_refuses_a_plain_http_api_url_that_is_not_loopback(
    tmp_path: Path, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "agent.toml"
    config.write_text(f'[hellotext]\napi_url = "{url}"\n[outbox]\npath = "{tmp_path}/o.db"\n')
    assert main(["--config", str(config), "run"]) == 78
    err = capsys.readouterr().err
    assert "hellotext.api_url" in err and "clear text" in err
    assert not (tmp_path / "o.db").exists(), "nothing started"


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:9/v1", "http://127.8.0.1/v1", "http://[::1]:9/v1", "http://localhost/v1"],
)
def test_loopback_http_is_accepted_for_the_demo_and_tests(tmp_path: Path, url: str) -> None:
    config = tmp_path / "agent.toml"
    config.write_text(f'[hellotext]\napi_url = "{url}"\n')
    assert main(["--config", str(config), "config", "check"]) == 0


def test_kept_print_jobs_mask_card_numbers_and_the_log_names_the_real_file(
    tmp_path: Path, fake: FakeHellotext, tills: list[Till], caplog: pytest.LogCaptureFixture
) -> None:
    till = Till(tmp_path, outbox=tmp_path / "outbox.db", fake=fake, receipts={"capture": "all"})
    tills.append(till)
    till.start()
    caplog.set_level(logging.DEBUG, logger="agent.captures")
    data = job(1, when=datetime.now(ZoneInfo("America/Montevideo")), card=CARD)
    till.print(data)
    assert till.printed_unchanged(), "the printer gets the job as the POS sent it"
    assert CARD.encode() in till.printer.received()
    folder = tmp_path / "captures"
    assert until(lambda: [p for p in folder.glob("*.bin") if p.stat().st_size == len(data)])
    (kept,) = folder.glob("*.bin")
    saved = kept.read_bytes()
    assert CARD.encode() not in saved and b"**** **** **** 1111" in saved
    assert len(saved) == len(data), "only the digits were masked: the job parses the same"

    assert until(lambda: any("parse --explain" in r.getMessage() for r in caplog.records))
    line = next(
        scrub(r.getMessage()) for r in caplog.records if "parse --explain" in r.getMessage()
    )
    named = re.search(r"--explain (\S+)", line)
    assert named is not None and Path(named.group(1)) == kept  # a path that exists
