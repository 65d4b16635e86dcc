"""Out of descriptors on accept (issue 24, finding 1): asyncio reports it once per pending
connection and try; before, 83,020 tracebacks in 15 s. Now one line a minute says it."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import socket
import sys
import time
from pathlib import Path

import pytest
from fake_printer import free_port, wait_until
from hostile_rig import open_files, spawn_at_fd_limit
from ingest.ingest_rig import INGEST_TOKEN

from agent.ingest.bounded import RESERVED_FDS, AcceptErrors, connection_budget

CHILD = Path(__file__).with_name("emfile_child.py")


def test_accept_errors_are_logged_once_a_minute(tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "agent.toml"
    config.write_text(
        f'[outbox]\npath = "{tmp_path / "outbox.db"}"\n[ingest]\nlisten = "127.0.0.1:{port}"\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELLOTEXT_")}
    env.update(HELLOTEXT_INGEST_TOKEN=INGEST_TOKEN, PYTHONPATH=os.getcwd())
    ready, log = tmp_path / "ready", tmp_path / "child.log"
    command = [sys.executable, str(CHILD), str(config), "10", str(ready), "4"]
    child = spawn_at_fd_limit(command, 1024, env, log)
    socks = []
    try:
        assert wait_until(ready.exists, 60), log.read_text()
        with open_files(4096):
            began = time.monotonic()
            while time.monotonic() - began < 2.5:  # connections the child cannot accept
                for _ in range(20):
                    sock = socket.socket()
                    sock.setblocking(False)  # a full backlog drops SYNs: never wait on one
                    sock.connect_ex(("127.0.0.1", port))
                    socks.append(sock)
                time.sleep(0.1)
            assert child.wait(30) == 0, log.read_text()[-2000:]
    finally:
        for sock in socks:
            sock.close()
        if child.poll() is None:
            child.kill()
            child.wait()
    text = log.read_text(errors="replace")
    assert text.count("out of system resource") == 0, text.count("out of system resource")
    assert text.count("Traceback") == 0
    assert text.count("cannot accept connections: Too many open files") == 1, text[-2000:]


def test_the_report_comes_back_after_a_minute_with_the_count() -> None:
    now = [100.0]
    errors = AcceptErrors("ingest-http", clock=lambda: now[0])
    loop = asyncio.new_event_loop()
    lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())  # type: ignore[method-assign]
    logging.getLogger("agent.ingest").addHandler(handler)
    try:
        context = {"message": "socket.accept() out of system resource",
                   "exception": OSError(errno.EMFILE, "Too many open files")}  # fmt: skip
        for _ in range(500):
            errors.handle(loop, context)
        now[0] += 61
        errors.handle(loop, context)
    finally:
        logging.getLogger("agent.ingest").removeHandler(handler)
        loop.close()
    assert len(lines) == 2 and errors.count == 501
    assert "(1 time(s)" in lines[0] and "(500 time(s)" in lines[1]


@pytest.mark.parametrize(
    ("soft", "ingest", "metrics"), [(1024, 200, 16), (8192, 200, 16), (300, 33, 5), (200, 1, 1)]
)
def test_budgets_leave_the_reserve_to_the_taps(soft: int, ingest: int, metrics: int) -> None:
    assert connection_budget(200, 0.75, soft) == ingest
    assert connection_budget(16, 0.125, soft) == metrics
    if soft > RESERVED_FDS:
        assert ingest + metrics + RESERVED_FDS <= soft
