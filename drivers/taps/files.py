"""The `spool` tap: jobs that CUPS or the POS software "print to a file".

`path` is a directory or a FIFO (a missing path is created as a directory). Nothing is
forwarded to a printer: whoever writes the spool owns printing; the tap only reads.

Directory: a file is a finished job once it has stopped changing (same inode, size and
mtime on two scans, and untouched for `settle` seconds). It is read once, fed to the sink as
stream `<name>:<file>`, then renamed to `<file>.done` so a restart does not read it again
(if renaming is refused, it is remembered for this run and the refusal logged once). Files
whose name starts with "." or ends with ".done" are ignored. The directory is listed every
`scan_interval` seconds: a timed wait, not a spin.

FIFO: each writer's open -> close is one job, stream `<name>:fifo#<n>`. After a writer
closes, the read end is reopened, so poll blocks until the next writer (Linux reports a
hang-up forever on a read end whose writers have gone). Two writers at once share a job.
"""

from __future__ import annotations

import os
import select
import stat
import time

from drivers.errors import DeviceError
from drivers.taps.base import TapBase, TapOptions, TapSink, log

_CHUNK = 65536

Signature = tuple[int, int, int]  # inode, size, mtime_ns


class SpoolTap(TapBase):
    mode = "spool"

    def __init__(
        self, options: TapOptions, sink: TapSink, *, settle: float = 1.0,
        scan_interval: float = 0.5,
    ) -> None:
        super().__init__(options, sink)
        if not options.path:
            raise DeviceError(options.name, "mode spool needs path")
        self.path = options.path
        self.settle = settle
        self.scan_interval = scan_interval
        self._seen: dict[str, Signature] = {}
        self._processed: set[Signature] = set()
        self._logged: set[str] = set()
        self._fifo_jobs = 0

    def printer_connected(self) -> bool:
        return os.path.exists(self.path)

    def open(self) -> None:
        try:
            if not os.path.exists(self.path):
                os.makedirs(self.path)
            mode = os.stat(self.path).st_mode
        except OSError as exc:
            raise DeviceError(self.path, f"cannot use the spool: {exc}") from exc
        if stat.S_ISFIFO(mode):
            self.spawn(self._fifo_loop, "fifo")
        elif stat.S_ISDIR(mode):
            self.spawn(self._dir_loop, "spool")
        else:
            raise DeviceError(self.path, "spool path is neither a directory nor a FIFO")
        self.listening = True

    def _error_once(self, kind: str, message: str) -> None:
        self.last_error = message
        if kind not in self._logged:
            self._logged.add(kind)
            log.error("%s: %s", self.name, message)

    # -- directory --
    def _dir_loop(self) -> None:
        while not self.stopping.is_set():
            self.scan(now=time.time())
            if self.waker.wait(self.scan_interval):
                return

    def scan(self, *, now: float) -> None:
        """One pass: read the files that have settled since the previous pass."""
        try:
            entries = list(os.scandir(self.path))
        except OSError as exc:
            self._error_once("list", f"cannot list {self.path}: {exc.strerror or exc}")
            return
        seen: dict[str, Signature] = {}
        for entry in entries:
            if entry.name.startswith(".") or entry.name.endswith(".done"):
                continue
            try:
                if not entry.is_file(follow_symlinks=False):
                    continue
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue  # vanished between listing and stat
            sig = (st.st_ino, st.st_size, st.st_mtime_ns)
            if sig in self._processed:
                continue
            if self._seen.get(entry.name) == sig and now - st.st_mtime >= self.settle:
                self._take(entry.name, sig)
                if self.stopping.is_set():
                    return
            else:
                seen[entry.name] = sig
        self._seen = seen

    def _take(self, filename: str, sig: Signature) -> None:
        full = os.path.join(self.path, filename)
        stream = f"{self.name}:{filename}"
        total = 0
        try:
            with open(full, "rb") as job:
                while chunk := job.read(_CHUNK):
                    total += len(chunk)
                    self.feeder.data(stream, chunk)
        except OSError as exc:
            self._error_once("read", f"cannot read {full}: {exc.strerror or exc}")
            self._processed.add(sig)
            return
        if total:
            self.feeder.end(stream)
        with self.lock:
            self.jobs += 1
            self.bytes_to_printer += total
        try:
            os.rename(full, full + ".done")
        except OSError as exc:
            self._processed.add(sig)
            self._error_once("rename", f"cannot mark {full} done: {exc.strerror or exc}")

    # -- FIFO --
    def _fifo_loop(self) -> None:
        while not self.stopping.is_set():
            try:
                fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
            except OSError as exc:
                self._error_once("open", f"cannot open {self.path}: {exc.strerror or exc}")
                if self.waker.wait(self.scan_interval):
                    return
                continue
            try:
                self._fifo_job(fd)
            finally:
                os.close(fd)

    def _fifo_job(self, fd: int) -> None:
        """Read one writer's job; return at its end (or on stop)."""
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        poller.register(self.waker.fd, select.POLLIN)
        stream = ""
        while True:
            events = dict(poller.poll())
            if self.waker.fd in events:
                break
            try:
                chunk = os.read(fd, _CHUNK)
            except BlockingIOError:
                continue
            if not chunk:
                break
            if not stream:
                with self.lock:
                    self._fifo_jobs += 1
                    self.jobs += 1
                stream = f"{self.name}:fifo#{self._fifo_jobs}"
            with self.lock:
                self.bytes_to_printer += len(chunk)
            self.feeder.data(stream, chunk)
        if stream:
            self.feeder.end(stream)
