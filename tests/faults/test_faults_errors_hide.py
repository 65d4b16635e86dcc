"""Issue 15, "errors that hide": a reader bug keeps the job as a capture and is counted in
status; sync passes that raise every time are counted (last error, since when) and, when
the outbox is fine, count against health so the watchdog stops."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from faultrig import Till, job, once_each, until

import agent.daemon.pipeline as pipeline_module
from agent.cli import main
from agent.daemon.health import FAILED_PASSES_UNHEALTHY
from agent.standin.server import FakeHellotext

ZONE = ZoneInfo("America/Montevideo")


def test_a_reader_bug_keeps_the_job_counts_it_and_status_shows_it(
    tmp_path: Path,
    fake: FakeHellotext,
    tills: list[Till],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    real = pipeline_module.extract

    def buggy(doc: Any, **kwargs: Any) -> Any:  # a reader bug hit by receipt 1 only
        if "0001-00000001" in doc.text:
            raise IndexError("list index out of range")
        return real(doc, **kwargs)

    monkeypatch.setattr(pipeline_module, "extract", buggy)
    till = Till(tmp_path, outbox=tmp_path / "outbox.db", fake=fake)
    tills.append(till)
    till.start()
    first = job(1, when=datetime.now(ZONE))
    till.print(first)
    till.print(job(2, when=datetime.now(ZONE)))
    assert till.printed_unchanged()
    assert until(lambda: once_each(fake, range(2, 3)))  # the next receipt is still read
    # The two jobs came on two connections: the second may be delivered before the
    # first's capture is on disk, so wait for it (it must come, and be the whole job).
    assert until(lambda: len(list((tmp_path / "captures").glob("*.bin"))) == 1)
    (kept,) = (tmp_path / "captures").glob("*.bin")
    assert kept.read_bytes() == first  # the sale's bytes are not lost with a log line
    assert till.service is not None and till.service.pipeline is not None
    assert till.service.pipeline.stats.reader_failures == 1
    assert main(["parse", str(kept)]) == 0  # and the job can be read again once fixed
    capsys.readouterr()
    assert until(lambda: main(["--config", str(till.write_config()), "status"]) == 0
                 and "1 reader failures" in capsys.readouterr().out)  # fmt: skip


def test_sync_passes_that_keep_failing_show_in_status_and_stop_the_watchdog(
    tmp_path: Path, fake: FakeHellotext, tills: list[Till]
) -> None:
    till = Till(tmp_path, outbox=tmp_path / "outbox.db", fake=fake)
    tills.append(till)
    till.start()
    service = till.service
    assert service is not None and service.syncer is not None
    assert service.healthy()
    service.syncer._outbox.close()  # a bug: every pass now raises
    till.print(job(1, when=datetime.now(ZONE)))
    assert until(lambda: service.sync_health.failed_passes >= FAILED_PASSES_UNHEALTHY)
    assert service.sync_health.since is not None
    assert "is closed" in (service.sync_health.last_error or "")
    assert not service.healthy()
    assert until(lambda: "sync passes failed" in till.status())
    mark = len(till.notices.got)
    assert until(lambda: len(till.notices.got) >= mark + 2)
    assert till.notices.pings_after(mark + 1) == 0, "no WATCHDOG=1: systemd restarts us"
