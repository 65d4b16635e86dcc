"""`hellotext-agent parse FILE --append [--out FILE]`: what [printer.append] would print."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import pytest

from agent.cli import main
from drivers.escpos.decoder import cuts_of, decode_all
from drivers.escpos.select import decode_all as select_decode_all
from tests.receipt_layouts import Item, supermarket

CONFIG = """
[[printer]]
name = "caja"
mode = "tcp"
listen = "127.0.0.1:9100"
target = "127.0.0.1:9101"

[printer.append]
qr = "SMSTO:+59899000000:QUIERO {receipt}"
lines = ["¿Querés ofertas por WhatsApp?"]
kinds = ["sale"]
"""


def setup(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, Path, bytes]:
    config = tmp_path / "agent.toml"
    config.write_text(CONFIG, encoding="utf-8")
    data = supermarket([Item("Pan", D("40"))])
    capsys.readouterr()  # python-escpos chatters on stdout
    job = tmp_path / "sale.bin"
    job.write_bytes(data)
    return config, job, data


def test_shows_the_block_and_writes_the_printed_bytes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config, job, data = setup(tmp_path, capsys)
    out_file = tmp_path / "printed.bin"
    code = main(["--config", str(config), "parse", str(job), "--append", "--out", str(out_file)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "| ¿Querés ofertas por WhatsApp?" in out
    assert "| [QR] SMSTO:+59899000000:QUIERO A-1234567" in out
    printed = out_file.read_bytes()
    cut = cuts_of(data)[-1]
    assert printed[: cut.start] == data[: cut.start]
    assert printed.endswith(data[cut.start :]) and len(printed) > len(data)
    doc = decode_all(printed)[0]
    assert doc.lines[-1].text == "¿Querés ofertas por WhatsApp?"
    assert doc.qr_codes[-1] == "SMSTO:+59899000000:QUIERO A-1234567"


def test_a_refund_is_shown_as_skipped_and_written_unchanged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config, job, _ = setup(tmp_path, capsys)
    refund = supermarket([Item("Pan", D("40"))], kind="refund")
    capsys.readouterr()
    job.write_bytes(refund)
    out_file = tmp_path / "printed.bin"
    code = main(["--config", str(config), "parse", str(job), "--append", "--out", str(out_file)])
    out, _ = capsys.readouterr()
    assert code == 0
    assert "no block: refund not in kinds" in out
    assert out_file.read_bytes() == refund


def test_append_needs_a_config_with_the_section(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, job, _ = setup(tmp_path, capsys)
    bare = tmp_path / "bare.toml"
    bare.write_text("", encoding="utf-8")
    assert main(["--config", str(bare), "parse", str(job), "--append"]) != 0
    assert "printer.append" in capsys.readouterr().err
    assert main(["parse", str(job), "--out", str(tmp_path / "x.bin")]) != 0


def test_a_star_job_shows_and_writes_stars_block(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the daemon's cut finding (command_set "auto"): the Star job's last ESC d n gets the
    # block with Star's QR command (the QR names no receipt: this one needs no number)
    config = tmp_path / "agent.toml"
    config.write_text(CONFIG.replace(" {receipt}", ""), encoding="utf-8")
    job = Path(__file__).resolve().parents[1] / "corpus" / "train" / "r018-uy-ntp-star.bin"
    data = job.read_bytes()
    out_file = tmp_path / "printed.bin"
    code = main(["--config", str(config), "parse", str(job), "--append", "--out", str(out_file)])
    out, err = capsys.readouterr()
    assert code == 0, err
    cut = data.rindex(b"\x1bd")
    assert f"byte {cut}): block of" in out
    printed = out_file.read_bytes()
    assert printed[: cut] == data[: cut] and printed.endswith(data[cut:])
    assert b"\x1b\x1dyD1" in printed[cut:] and b"\x1d(k" not in printed
    doc = select_decode_all(printed, command_set="star")[-1]
    assert doc.lines[-1].text == "¿Querés ofertas por WhatsApp?"
    assert doc.qr_codes[-1] == "SMSTO:+59899000000:QUIERO"
