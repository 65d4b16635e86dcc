"""Out of descriptors on accept (issue 24, finding 1): asyncio reports it once per pending
connection and try; before, 83,020 tracebacks in 15 s. Now one line a minute says it."""

from __future__ import annotations

import os
import socket
import sys
import time
from pathlib import Path

from fake_printer import free_port, wait_until
from hostile_rig import open_files, spawn_at_fd_limit
from ingest.ingest_rig import INGEST_TOKEN

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
