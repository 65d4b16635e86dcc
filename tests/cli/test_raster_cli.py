"""`parse` reads raster receipts like the daemon (OCR), `--image` writes the assembled page,
`--explain` shows OCR confidence; doctor and status say how to install a missing Tesseract."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image
from raster_receipts import FONTS_MISSING, fonts_available, sample

from agent.cli import main
from agent.cli.doctor import check_ocr
from agent.cli.sync import _daemon_lines
from agent.config import ReceiptsSection
from agent.daemon.ocr import tesseract_problem

_problem = tesseract_problem("spa+por+eng") or (
    None if fonts_available() else FONTS_MISSING)
needs_ocr = pytest.mark.skipif(_problem is not None, reason=f"cannot OCR here: {_problem}")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["parse", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.skipif(not fonts_available(), reason=FONTS_MISSING)
def test_image_writes_the_page_the_printer_got(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    s = sample(1107, encoding="star")
    job = tmp_path / "tsp100.bin"
    job.write_bytes(s.job)
    code, _, err = run(capsys, str(job), "--ocr", "off", "--image", str(tmp_path / "page.png"))
    assert code == 1 and "OCR is off" in err  # not read, but the page is there to look at
    page = Image.open(io.BytesIO((tmp_path / "page.png").read_bytes()))
    assert page.mode == "1" and page.width == s.width and page.height > 300
    assert f"wrote {tmp_path / 'page.png'} ({s.width} x {page.height} dots)" in err


@needs_ocr
def test_parse_reads_a_raster_receipt_and_explains_with_confidence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s = sample(1148, encoding="esc_star", mixed=True)
    job = tmp_path / "mixed.bin"
    job.write_bytes(s.job)
    code, out, err = run(capsys, str(job), "--json", "--explain", "--country", s.country,
                         "--currency", s.currency)
    assert code == 0, err
    (receipt,) = json.loads(out)["receipts"]
    assert receipt["kind"] == s.truth.kind and receipt["total"] == f"{s.truth.total:.2f}"
    explained = receipt["explain"]
    assert [e["ocr_confidence"] for e in explained[:3]] == [None] * 3  # printed header
    assert all(0 < e["ocr_confidence"] <= 1 for e in explained[3:])
    assert any(e["rule"] == "total" for e in explained[3:])
    assert s.truth.card and s.truth.card not in out


@pytest.fixture
def no_tesseract(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "bin").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))  # a till where it was never installed


@pytest.mark.skipif(not fonts_available(), reason=FONTS_MISSING)
@pytest.mark.usefixtures("no_tesseract")
def test_without_tesseract_parse_says_how_to_install_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    job = tmp_path / "raster.bin"
    job.write_bytes(sample(1015, encoding="gs_v0").job)
    code, _, err = run(capsys, str(job))
    assert code == 1
    assert "printed as pictures" in err and "apt-get install tesseract-ocr" in err


@pytest.mark.usefixtures("no_tesseract")
def test_doctor_and_status_say_how_to_install_tesseract() -> None:
    found = check_ocr(ReceiptsSection())
    assert found.status == "WARN" and "apt-get install tesseract-ocr" in found.detail
    assert check_ocr(ReceiptsSection(ocr="off")).status == "OK"
    stats = {"receipts": 3, "unread": 1, "voids": 0, "scans": 0, "held_in_memory": 0,
             "ocr_read": 0, "ocr_failed": 0, "ocr_problem": found.detail}
    lines = _daemon_lines({"running": True, "pid": 1, "started_at": 0.0},
                          {"pipeline": stats}, now=10.0)
    assert any(line.startswith("raster receipts") and "apt-get install" in line
               for line in lines)


@pytest.mark.skipif(tesseract_problem("spa+por+eng") is not None,
                    reason=str(tesseract_problem("spa+por+eng")))
def test_doctor_is_ok_with_tesseract_and_its_languages() -> None:
    found = check_ocr(ReceiptsSection())
    assert found.status == "OK" and "spa+por+eng" in found.detail
    missing = check_ocr(ReceiptsSection(ocr_languages="spa+xyz"))
    assert missing.status == "WARN" and "tesseract-ocr-xyz" in missing.detail
