"""AutoDecoder's cuts for the cut hold: stream offsets across jobs of both command sets, the
same however the bytes are split, and the bytes a read ends in that may start a cut."""

from __future__ import annotations

from pathlib import Path

import pytest

from drivers.escpos import decoder as escpos
from drivers.escpos.select import AutoDecoder, cuts_of, make_decoder

CORPUS = Path(__file__).resolve().parents[2] / "corpus" / "train"
JOBS = [(CORPUS / f"{name}.bin").read_bytes() for name in (
    "r018-uy-ntp-star", "r000-uy-python-escpos", "r036-uy-receiptline-star",
    "r009-uy-ntp-epson")]


def test_each_jobs_cut_is_its_own_decoders() -> None:
    star, esc, rl_star, epson = (cuts_of(job) for job in JOBS)
    assert [c.command for c in star] == [b"\x1bd\x02"]
    assert [c.command for c in rl_star] == [b"\x1bd3"]  # its ESC i 0 0 are sizes, not cuts
    assert [(c.start, c.command) for c in esc] == [(c.start, c.command)
                                                   for c in escpos.cuts_of(JOBS[1])]
    assert [(c.start, c.command) for c in epson] == [(c.start, c.command)
                                                     for c in escpos.cuts_of(JOBS[3])]


STREAMS = {
    "star printer": [JOBS[0], JOBS[2], JOBS[0]],
    "escpos printer": [JOBS[1], JOBS[3], JOBS[1]],
    # a Star job, then an ESC/POS one: the ESC/POS job's ESC d n feeds are not Star cuts
    "star then escpos": [JOBS[0], JOBS[1]],
}


@pytest.mark.parametrize("size", [1, 5, 64, 1000])
@pytest.mark.parametrize("stream", list(STREAMS))
def test_a_stream_read_by_read_gives_stream_offsets(size: int, stream: str) -> None:
    # one job per read at most, as a till prints (jobs of both sets in ONE read take the
    # first job's set: drivers/escpos/select.py)
    jobs = STREAMS[stream]
    want, offset = [], 0
    for job in jobs:
        want += [(c.start + offset, c.end + offset, c.command) for c in cuts_of(job)]
        offset += len(job)
    decoder = make_decoder("auto", track_cuts=True)
    got = []
    for job in jobs:
        for i in range(0, len(job), size):
            decoder.feed(job[i : i + size])
            got += [(c.start, c.end, c.command) for c in decoder.take_cuts()]
    decoder.flush()
    got += [(c.start, c.end, c.command) for c in decoder.take_cuts()]
    assert got == want
    data = b"".join(jobs)
    assert all(data[start:end] == command for start, end, command in got)


def test_before_the_command_set_is_known_pending_is_the_last_esc_or_gs() -> None:
    decoder = AutoDecoder(track_cuts=True)
    decoder.feed(b"Cafe 120,00\n\x1d")
    assert decoder.pending == b"\x1d" and decoder.star_cuts
    decoder.feed(b"V")
    assert decoder.pending == b"\x1dV"
    decoder.feed(b"\x00")  # GS V 0: ESC/POS, and the cut is reported
    assert [c.start for c in decoder.take_cuts()] == [12]
    assert decoder.pending == b"" and decoder.star_cuts  # the next job: not known yet
    decoder.feed(b"\x1b!\x00Hola\n\x1bd")  # ESC ! n: ESC/POS, whose ESC d is a feed
    assert decoder.pending == b"\x1bd" and not decoder.star_cuts
    assert AutoDecoder().pending == b""
