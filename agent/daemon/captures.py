"""Raw print jobs kept on disk so an installer can tune a template with `parse --explain`.

The pipeline keeps each stream's bytes since its last receipt in a `Spool`: in memory up to
MAX_CAPTURE, then streamed (masked as it goes) to a private file here, so a 200 MB raster job
is kept whole without being held. When a job is not read as a receipt (or always, if so
configured) it is kept under its final name, newest N kept; otherwise it is deleted. The
files hold what the printer printed, so they are private to the agent (0600 in a 0700
directory), like the outbox, and card numbers are masked in them like everywhere else.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import time
from pathlib import Path
from typing import BinaryIO

from agent.redact import JobMasker, redact_job

log = logging.getLogger("agent.captures")
MAX_CAPTURE = 512 * 1024  # a receipt with a logo is a few tens of KB: more goes to disk
SPOOL_GLOB = ".spool-*.part"


class Spool:
    """One stream's bytes since its last document (see the module docstring). Without a
    folder, or when the disk refuses, only the first MAX_CAPTURE bytes are kept (`cut`)."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder
        self.size = 0
        self.cut = False
        self.path: Path | None = None
        self._memory = bytearray()
        self._file: BinaryIO | None = None
        self._masker = JobMasker()

    def __bool__(self) -> bool:
        return self.size > 0

    def add(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self._file is not None:
            self._write(chunk)
        elif len(self._memory) + len(chunk) <= MAX_CAPTURE:
            self._memory += chunk
        elif not self.cut and self._spill():
            data, self._memory = bytes(self._memory), bytearray()
            self._write(data + chunk)
        else:
            self.cut = True

    def _spill(self) -> bool:
        if self.folder is None:
            return False
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            path = self.folder / f".spool-{os.getpid()}-{id(self):x}-{time.monotonic_ns()}.part"
            self._file = os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")
        except OSError as exc:
            log.warning("cannot spool a large print job in %s: %s", self.folder, exc.strerror)
            return False
        self.path = path
        return True

    def _write(self, data: bytes) -> None:
        assert self._file is not None
        try:
            self._file.write(self._masker.feed(data))
        except OSError as exc:
            log.warning("cannot spool a large print job: %s (it is not kept)", exc.strerror)
            self.discard()
            self.cut = True

    def data(self) -> bytes:
        """The bytes held in memory (the whole job unless it went to disk)."""
        return bytes(self._memory)

    def finish(self) -> Path | None:
        """The spooled file, complete and masked (None: the job stayed in memory)."""
        if self._file is None:
            return None
        try:
            self._file.write(self._masker.flush())
            self._file.close()
        except OSError:
            self.discard()
            return None
        self._file = None
        return self.path

    def discard(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None
        if self.path is not None:
            self.path.unlink(missing_ok=True)
            self.path = None


class Captures:
    def __init__(self, folder: Path, *, keep: int) -> None:
        self.folder = folder
        self.keep = keep
        self.saved = 0
        self._failed = False

    def spool(self) -> Spool:
        return Spool(self.folder)

    def save(
        self, printer: str, data: bytes | Spool, *, now: float, reason: str,
        level: int = logging.WARNING,
    ) -> Path | None:  # fmt: skip
        """Keep one job; never raises (a full disk must not stop reading receipts)."""
        spooled = data.finish() if isinstance(data, Spool) else None
        if isinstance(data, Spool) and spooled is None:
            data = data.data()
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in printer)
        base = f"{stamp}-{int(now * 1000) % 1000:03d}-{safe}"
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            for n in range(100):  # two jobs in one millisecond (a shutdown drain) both kept
                path = self.folder / (f"{base}.bin" if not n else f"{base}-{n}.bin")
                try:
                    if spooled is not None:  # already masked; link: never over another
                        os.link(spooled, path)
                        spooled.unlink()
                        break
                    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                    break
                except FileExistsError:
                    continue
            else:
                raise FileExistsError(errno.EEXIST, "100 captures in one millisecond")
            if spooled is None:
                assert isinstance(data, bytes)
                with os.fdopen(fd, "wb") as fh:
                    fh.write(redact_job(data))  # printable bytes kept, never a full card number
            self._prune()
        except OSError as exc:
            if spooled is not None:
                spooled.unlink(missing_ok=True)
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

    def clean(self) -> None:
        """Spool files a stopped daemon left behind (only the daemon writes here)."""
        for stale in self.folder.glob(SPOOL_GLOB):
            stale.unlink(missing_ok=True)

    def _prune(self) -> None:
        files = sorted(self.folder.glob("*.bin"))
        for old in files[: max(0, len(files) - self.keep)]:
            old.unlink(missing_ok=True)
