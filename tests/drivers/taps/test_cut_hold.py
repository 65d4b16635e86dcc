"""The cut hold on its own (no sockets): what reaches `send`, chunk by chunk."""

from __future__ import annotations

import threading

from drivers.escpos.decoder import cuts_of
from drivers.escpos.document import Cut
from drivers.taps import CutRequest, Decision
from drivers.taps.append import Asker, CutHold

BLOCK = b"<QR block>"
JOB = b"\x1b@Cafe 120,00\nTOTAL 120,00\n\x1bd\x03\x1dVA\x03\x1bp0<x"


class Always:
    def __init__(self) -> None:
        self.outcomes: list[tuple[Cut, bool, str]] = []
        self.asked = threading.Event()

    def decide(self, request: CutRequest) -> Decision:
        self.asked.set()
        return Decision(BLOCK)

    def done(self, request: CutRequest, printed: bool, reason: str) -> None:
        self.outcomes.append((request.cut, printed, reason))


def run(job: bytes, sizes: int, appender: Always) -> list[bytes]:
    asker = Asker(appender, name="hold")
    hold = CutHold(asker, "hold#1")
    sent: list[bytes] = []
    try:
        for i in range(0, len(job), sizes):
            hold.forward(job[i : i + sizes], sent.append)
        hold.finish(sent.append)
    finally:
        asker.stop()
    assert not any(t.name == "tap-hold-append" and t.is_alive() for t in threading.enumerate())
    return sent


def test_byte_by_byte_the_block_still_lands_right_before_the_cut() -> None:
    appender = Always()
    sent = run(JOB, 1, appender)
    cut = cuts_of(JOB)[-1]
    assert b"".join(sent) == JOB[: cut.start] + BLOCK + JOB[cut.start :]
    # only the cut's first bytes ever waited: every byte before the cut went out on its own
    before = b"".join(sent[: sent.index(BLOCK)])
    assert before == JOB[: cut.start]
    assert [(c.command, ok, why) for c, ok, why in appender.outcomes] == [
        (b"\x1dVA\x03", True, "printed")
    ]


def test_every_cut_is_asked_about_and_a_chunk_holds_them_all() -> None:
    job = b"uno\n\x1dV\x00dos\n\x1dV\x01"
    appender = Always()
    assert b"".join(run(job, len(job), appender)) == b"uno\n" + BLOCK + b"\x1dV\x00dos\n" + \
        BLOCK + b"\x1dV\x01"


def test_an_esc_i_cut_is_a_size_command_in_star_mode_so_the_job_stays_unchanged() -> None:
    # Star Line Mode: ESC i n1 n2 sets the size (ESC/POS reads a cut), ESC d n is the cut
    job = b"\x1b@\x1bi\x01\x01CAFE\n\x1bi\x00\x00TOTAL 5\n\x1dV\x00\x1bd\x02"
    appender = Always()
    assert b"".join(run(job, 3, appender)) == job
    assert not appender.asked.is_set()
    assert [o[1:] for o in appender.outcomes] == [
        (False, "ESC i / ESC m cut: command set unsure")  # once per job, and nothing after
    ]


def test_a_job_without_a_cut_is_never_held() -> None:
    job = b"\x1b\x1dyS0\x02Star job\n\x1bd\x02"  # Star Line Mode: ESC d is its cut
    appender = Always()
    sent = run(job, 4, appender)
    assert b"".join(sent) == job and not appender.outcomes
