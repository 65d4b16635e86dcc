"""Issue 24, finding 6: a card number is masked however the POS splits its groups — bold
on/off (`ESC E`, Star's `ESC E`/`ESC F`) between them, tabs, double spaces, dots — in the
capture files (written whole or spooled to disk), in `parse --explain`, the logs and the
outbox,
while a valid GTIN on a line naming no card stays readable."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest
from fake_printer import wait_until

from agent.cli import main
from agent.config import AgentConfig
from agent.daemon.captures import MAX_CAPTURE, Captures
from agent.daemon.pipeline import Pipeline
from agent.delivery.outbox import Outbox
from agent.logs import scrub

CARD = "4111111111111111"  # Luhn-valid: the test number every acquirer knows
ESC, GS = b"\x1b", b"\x1d"
SPLITS = {
    "ESC E inside": b"VISA 4111\x1bE\x011111\x1bE\x00 1111 1111",
    "ESC E per group": b"VISA \x1bE\x014111\x1bE\x00 \x1bE\x011111\x1bE\x00 1111 \x1bE\x011111",
    "Star ESC E/F": b"VISA 4111\x1bE1111\x1bF 1111 1111",
    "tabs": b"VISA 4111\t1111\t1111\t1111",
    "double spaces": b"TARJETA 4111  1111  1111  1111",
    "dots": b"VISA 4111.1111.1111.1111",
    "dashes and spaces": b"VISA 4111 - 1111 - 1111 - 1111",
}
# ESC/POS formatting commands (ESC E n, ESC ! n, GS ! n), and Star's (ESC E, ESC F: no n)
_FORMATTING = (re.compile(rb"\x1b[E\-G][\x00-\x02\x30-\x32]|\x1b![\s\S]|\x1d![\s\S]"),
               re.compile(rb"\x1b[EF45]|\x1b-[\x00\x01\x30\x31]"))


def receipt(card_line: bytes) -> bytes:
    return (
        ESC + b"@" + b"e-Ticket 0001-00000042\n"
        + b"7790001234567  LECHE ENTERA 1L".ljust(30) + b"45,00".rjust(12) + b"\n"
        + b"TOTAL".ljust(30) + b"45,00".rjust(12) + b"\n"
        + b"TARJETA".ljust(30) + b"45,00".rjust(12) + b"\n"
        + card_line + b"\n" + GS + b"V\x01"
    )  # fmt: skip


def whole_card_in(data: bytes) -> bool:
    """Whether any line, formatting commands and separators taken out, still shows it."""
    return any(CARD in re.sub(rb"\D", b"", commands.sub(b"", line)).decode()
               for line in data.split(b"\n") for commands in _FORMATTING)  # fmt: skip


@pytest.mark.parametrize("split", SPLITS)
def test_a_capture_file_never_holds_a_whole_card_number(tmp_path: Path, split: str) -> None:
    job = receipt(SPLITS[split])
    assert whole_card_in(job)
    path = Captures(tmp_path, keep=5).save("caja", job, now=0.0, reason="test")
    assert path is not None
    kept = path.read_bytes()
    assert not whole_card_in(kept), kept
    assert len(kept) == len(job) and b"1111\n" in kept  # same length: it parses the same
    assert b"7790001234567" in kept  # the GTIN of an item line is not a card


@pytest.mark.parametrize("split", ["ESC E inside", "tabs", "double spaces"])
def test_a_large_job_spooled_to_disk_is_masked_across_chunks(tmp_path: Path, split: str) -> None:
    """Past MAX_CAPTURE a job is streamed to the file: a card cut by a chunk boundary too."""
    logo = GS + b"v0\x00" + bytes([72, 0, 0, 32]) + bytes(72 * 8192)  # 576 x 8192 dots
    job = logo + receipt(SPLITS[split])
    assert len(job) > MAX_CAPTURE
    captures = Captures(tmp_path, keep=5)
    spool = captures.spool()
    middle = job.index(b"VISA" if b"VISA" in job else b"TARJETA 4") + 12
    for piece in (job[:65536], job[65536:middle], job[middle:]):
        spool.add(piece)
    assert spool.path is not None and spool.path.exists()  # on disk, not in memory
    path = captures.save("caja", spool, now=0.0, reason="test")
    assert path is not None and not list(tmp_path.glob(".spool-*"))
    kept = path.read_bytes()
    assert len(kept) == len(job)
    assert not whole_card_in(kept)


@pytest.mark.parametrize("split", SPLITS)
def test_parse_explain_never_shows_a_whole_card_number(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], split: str
) -> None:
    path = tmp_path / "job.bin"  # as a USB capture of the printer port would be: unmasked
    path.write_bytes(receipt(SPLITS[split]))
    for args in (["--explain"], ["--explain", "--json"]):
        assert main(["parse", str(path), *args]) == 0
        out = capsys.readouterr().out
        digits = [re.sub(r"\D", "", line) for line in out.splitlines()]
        assert not any(CARD in d for d in digits), out
    data = json.loads(out)
    assert "7790001234567" in json.dumps(data)


@pytest.mark.parametrize("text", ["pago VISA 4111\t1111\t1111\t1111", "4111.1111.1111.1111 ok",
                                  "card 4111  1111  1111  1111"])  # fmt: skip
def test_a_log_line_never_shows_a_whole_card_number(text: str) -> None:
    assert CARD not in re.sub(r"\D", "", scrub(text))
    assert scrub(text).endswith(("1111", "ok"))


@pytest.mark.parametrize("gap", [b"\t", b"  ", b"."], ids=["tab", "double space", "dot"])
def test_the_outbox_never_holds_a_whole_card_number(tmp_path: Path, gap: bytes) -> None:
    """A card printed in an item's description (a phone top-up) reaches the outbox masked."""
    config = AgentConfig(
        store={"terminal_id": "caja-1", "timezone": "UTC"}, outbox={"path": tmp_path / "o.db"},
        printer=[{"name": "caja", "mode": "spool", "path": "/tmp", "idle_seconds": 0.3}],
    )  # fmt: skip
    card = gap.join([b"4111", b"1111", b"1111", b"1111"])
    job = (
        ESC + b"@" + b"e-Ticket 0001-00000042\nFecha: 21/11/2026 10:15\n"
        + b"Recarga " + card + b"  " + b"100,00".rjust(12) + b"\n"
        + b"TOTAL".ljust(30) + b"100,00".rjust(12) + b"\n"
        + b"EFECTIVO".ljust(30) + b"100,00".rjust(12) + b"\n" + GS + b"V\x01"
    )  # fmt: skip
    with Outbox(config.outbox.path, synchronous="normal") as outbox:
        pipeline = Pipeline(config, outbox, local_zone=None)
        pipeline.start()
        try:
            pipeline.sink(config.printer[0]).data("caja#1", job)
            assert wait_until(lambda: outbox.counts()["pending"] == 2), pipeline.stats
        finally:
            pipeline.stop()
    with sqlite3.connect(config.outbox.path) as db:
        bodies = [row[0] for row in db.execute("SELECT body FROM events")]
    strings = [s for body in bodies for s in re.findall(r'"((?:[^"\\]|\\.)*)"', body)]
    assert any("Recarga" in s for s in strings), bodies
    assert not any(CARD in re.sub(r"\D", "", s) for s in strings), bodies
