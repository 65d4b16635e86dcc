"""Raw print jobs kept on disk so an installer can tune a template with `parse --explain`.

The pipeline keeps each stream's bytes since its last receipt (bounded); when a job is not
read as a receipt (or always, if so configured) they are written here, newest N kept. The
files hold what the printer printed, so they are private to the agent (0600 in a 0700
directory), like the outbox, and card numbers are masked in them like everywhere else.
"""

from __future__ import annotations

import errno
import logging
import os
import time
from pathlib import Path

from agent.redact import redact_job

log = logging.getLogger("agent.captures")
MAX_CAPTURE = 512 * 1024  # a receipt with a logo is a few tens of KB


class Captures:
    def __init__(self, folder: Path, *, keep: int) -> None:
        self.folder = folder
        self.keep = keep
        self.saved = 0
        self._failed = False

    def save(
        self, printer: str, data: bytes, *, now: float, reason: str, level: int = logging.WARNING
    ) -> Path | None:
        """Write one job; never raises (a full disk must not stop reading receipts)."""
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in printer)
        base = f"{stamp}-{int(now * 1000) % 1000:03d}-{safe}"
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            for n in range(100):  # two jobs in one millisecond (a shutdown drain) both kept
                path = self.folder / (f"{base}.bin" if not n else f"{base}-{n}.bin")
                try:
                    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                    break
                except FileExistsError:
                    continue
            else:
                raise FileExistsError(errno.EEXIST, "100 captures in one millisecond")
            with os.fdopen(fd, "wb") as fh:
                fh.write(redact_job(data))  # printable bytes kept, never a full card number
            self._prune()
        except OSError as exc:
            if not self._failed:
                log.warning("cannot keep print jobs in %s: %s", self.folder, exc.strerror)
            self._failed = True
            return None
        self._failed = False
        self.saved += 1
        log.log(
            level,
            "%s: %s; the job is kept: hellotext-agent parse --explain %s",
            printer,
            reason,
            path,
        )
        return path

    def _prune(self) -> None:
        files = sorted(self.folder.glob("*.bin"))
        for old in files[: max(0, len(files) - self.keep)]:
            old.unlink(missing_ok=True)
