"""What the daemon says about itself: STATUS= for systemd, and a status file for `status`.

`status` runs in another process and normally reads the outbox; when the outbox is what is
broken it cannot, so the daemon also writes its snapshot (outbox state, held sales, clock,
failed sync passes, devices) as JSON beside the spill file on the runtime tmpfs, every health
period. `SyncHealth` counts sync passes that raised in a row (last error, since when).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.delivery.reach import headline

if TYPE_CHECKING:
    from datetime import tzinfo

    from agent.delivery.sync import Syncer

log = logging.getLogger("agent.health")

FAILED_PASSES_UNHEALTHY = 5  # passes that raised in a row before the watchdog stops


@dataclass
class SyncHealth:
    failed_passes: int = 0
    last_error: str | None = None
    since: float | None = None  # wall time of the first failure of this run of failures

    def failed(self, exc: BaseException, now: float) -> None:
        if self.failed_passes == 0:
            self.since = now
        self.failed_passes += 1
        self.last_error = f"{type(exc).__name__}: {exc}"

    def passed(self) -> None:
        if self.failed_passes:
            log.warning("sync passes work again after %s failures", self.failed_passes)
        self.failed_passes, self.last_error, self.since = 0, None, None

    def as_dict(self) -> dict[str, Any]:
        return {
            "failed_passes": self.failed_passes,
            "last_error": self.last_error,
            "since": self.since,
        }


def runtime_dir(configured: str) -> Path:
    """outbox.runtime_dir, else systemd's $RUNTIME_DIRECTORY, else /run/hellotext-agent when
    it is there and writable, else a private temp directory (development, tests)."""
    if configured:
        return Path(configured)
    env = os.environ.get("RUNTIME_DIRECTORY", "").split(":")[0]
    if env:
        return Path(env)
    run = Path("/run/hellotext-agent")
    if run.is_dir() and os.access(run, os.W_OK):
        return run
    return Path(tempfile.gettempdir()) / f"hellotext-agent-{os.getuid()}"


def runtime_file(folder: Path, outbox: Path, suffix: str) -> Path:
    digest = hashlib.sha256(str(outbox.resolve()).encode()).hexdigest()[:10]
    return folder / f"{outbox.stem}-{digest}{suffix}"


def status_file(config_runtime_dir: str, outbox: Path) -> Path:
    return runtime_file(runtime_dir(config_runtime_dir), outbox, ".status.json")


def write_status(path: Path, snapshot: dict[str, Any]) -> None:
    """Atomically (a reader never sees half a file); never raises."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(snapshot, fh, default=str)
        os.replace(tmp, path)
    except OSError as exc:
        log.debug("cannot write %s: %s", path, exc)


def read_status(path: Path) -> dict[str, Any] | None:
    """The daemon's last snapshot, when the daemon that wrote it still runs."""
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    pid = data.get("pid")
    try:
        if isinstance(pid, int):
            os.kill(pid, 0)
    except PermissionError:
        pass
    except OSError:
        data["running"] = False
        return data
    data["running"] = True
    return data


def status_line(
    *,
    counts: dict[str, int] | None,
    paused: str | None,
    rate_limited: str | None,
    degraded: str | None,
    clock: str | None,
    sync: SyncHealth,
    answers_wrong: bool,
    unreachable: str | None = None,
) -> str:
    """STATUS= for systemd: the pending count (or, in an outage, the headline 'Hellotext
    unreachable since 14:02 (...) — 13 events wait in the outbox'), then every problem
    with what to do."""
    if counts is None:
        text = "outbox not open"
    else:
        text = unreachable or f"{counts.get('pending', 0) + counts.get('inflight', 0)} pending"
        if counts.get("parked"):
            text += f", {counts['parked']} parked"
    if paused:
        text += f", paused: {paused}"
    elif rate_limited:
        text += f", rate limited (429): {rate_limited}"
    problems = []
    if degraded:
        problems.append(degraded)
    if clock:
        problems.append(f"clock: {clock}")
    if answers_wrong:
        problems.append("Hellotext's answers look wrong (a captive portal?): check the network")
    if sync.failed_passes:
        problems.append(f"{sync.failed_passes} sync passes failed: {sync.last_error}")
    return "; ".join([text, *problems]) if problems else text


def outage_headline(
    syncer: Syncer | None, counts: dict[str, int] | None, zone: tzinfo | None, *, now: float
) -> str | None:
    """The headline of an outage for STATUS= and the status file (None: Hellotext answers)."""
    outage = syncer.unreachable if syncer is not None else None
    if outage is None or counts is None:
        return None
    return headline(outage, counts.get("pending", 0) + counts.get("inflight", 0), zone, now=now)


def now_snapshot(pid: int) -> dict[str, Any]:
    return {"pid": pid, "updated_at": time.time()}
