"""The ingest endpoint in a process whose descriptors are nearly all taken by something else
(what a leak elsewhere, or a busy till, would do): run by test_hostile_accept.py.

argv: config path, descriptors to leave free, ready file, seconds to run."""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path

from agent.config import load_config
from agent.ingest.server import start_ingest

logging.basicConfig(level=logging.INFO, stream=sys.stderr)
server = start_ingest(load_config(Path(sys.argv[1])))
assert server is not None
soft = int(Path("/proc/self/limits").read_text().split("Max open files")[1].split()[0])
taken = soft - int(sys.argv[2]) - len(os.listdir("/proc/self/fd"))
ballast = [os.open("/dev/null", os.O_RDONLY) for _ in range(taken)]
Path(sys.argv[3]).write_text(str(len(ballast)))
time.sleep(float(sys.argv[4]))
for fd in ballast:
    os.close(fd)
server.stop()
