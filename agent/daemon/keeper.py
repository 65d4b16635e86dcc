"""The daemon's hold on its outbox: whatever state the file is in, no sale is lost.

The taps never wait on this class. The pipeline hands it each sale; when the outbox cannot
take it (disk full, read-only, damaged, gone) the sale waits in a bounded buffer mirrored in
a spill file on the runtime tmpfs, and is committed once the outbox works again. The health
job calls `check` every period: a file deleted or replaced under the running daemon is rebuilt
from the still-open connection (SQLite's backup API), a damaged one is moved aside with a
timestamp and its readable rows copied into a fresh one, and an outbox that could not be
opened is tried again. `snapshot()` says what is wrong and what to do, for status and
sd_notify; `degraded` is the one-line reason (None when all is well).

Other connections to the same file (the sync engine's) must be closed before a rebuilt file
takes the path: closing a WAL connection unlinks `<path>-wal` by name, which would remove the
new file's log. `detach` and `attach` (given by the service) do that around every rebuild.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from typing import Any

from agent.config import AgentConfig
from agent.daemon.health import runtime_dir, runtime_file
from agent.daemon.spill import HeldSale, SpillFile
from agent.delivery.events import Event
from agent.delivery.outbox import AddResult, Outbox
from agent.delivery.salvage import (
    MAGIC,
    Diagnosis,
    classify_error,
    diagnose,
    quarantine,
    salvage,
)
from agent.delivery.schema import file_identity
from agent.errors import OutboxError

log = logging.getLogger("agent.keeper")


class OutboxKeeper:
    def __init__(
        self,
        config: AgentConfig,
        *,
        clock: Callable[[], float] = time.time,
        detach: Callable[[], None] = lambda: None,
        attach: Callable[[Outbox], None] = lambda outbox: None,
        on_stored: Callable[[HeldSale, AddResult], None] = lambda sale, result: None,
        outbox: Outbox | None = None,
    ) -> None:
        self.path = config.outbox.path
        self._synchronous = config.outbox.synchronous
        self._capacity = config.outbox.memory_buffer_events
        self._clock = clock
        self._detach, self._attach, self._on_stored = detach, attach, on_stored
        self._lock = threading.RLock()
        self.outbox: Outbox | None = outbox  # given: already open (tests, tools)
        self.problem: Diagnosis | None = None
        self.problem_since: float | None = None
        self.held: list[HeldSale] = []
        self.dropped_events = 0  # the buffer was full: these events are gone (logged)
        self.quarantined: list[dict[str, Any]] = []
        self.rebuilt = 0
        # The file's header is read through one descriptor kept open with the connection:
        # closing any descriptor of the file would drop SQLite's POSIX locks in this process,
        # and another process closing its connection would then delete our -wal and -shm.
        self._header_fd: int | None = None
        folder = runtime_dir(config.outbox.runtime_dir)
        self.spill = SpillFile(runtime_file(folder, self.path, ".held.jsonl"))
        # Sales a previous run could not store, first in line (tmpfs: survives a restart).
        self.held = self.spill.load()
        if self.held:
            log.warning(
                "%s sales (%s events) a previous run could not store are back from %s",
                len(self.held),
                self.held_events,
                self.spill.path,
            )

    # --- life cycle -----------------------------------------------------------------------

    def start(self) -> bool:
        """Open the outbox (quarantining a damaged one) and take back what a previous run
        left in the spill file. Never raises: False means degraded, try again later."""
        with self._lock:
            found = diagnose(self.path)
            if found.kind == "damaged":
                self._replace_damaged(found)
            else:
                self._open()
            self._retry_held()
            return self.outbox is not None

    def close(self) -> None:
        with self._lock:
            self._close_quietly()

    @property
    def held_events(self) -> int:
        return sum(len(s.events) for s in self.held)

    @property
    def degraded(self) -> str | None:
        """One line for STATUS= and the journal: what is wrong and what to do."""
        if self.problem is None:
            return None
        waiting = f"; {self.held_events} events held in memory" if self.held else ""
        return f"outbox {self.problem.kind}: {self.problem}{waiting}"

    # --- sales ----------------------------------------------------------------------------

    def add(self, sale: HeldSale) -> AddResult | None:
        """Store one sale, or hold it (None) when the outbox cannot take it now."""
        with self._lock:
            if self.outbox is not None and self.held:
                self._retry_held()  # the outbox may work again: keep the order of sales
            if self.outbox is not None and not self.held:
                self._check_file()
            if self.outbox is not None and not self.held:
                result = self._store(sale)
                if result is not None:
                    return result
            self._hold(sale)
            return None

    def retry(self) -> None:
        """Commit held sales if the outbox takes them now (the pipeline's idle tick)."""
        with self._lock:
            if self.held and self.outbox is not None:
                self._retry_held()

    def check(self) -> None:
        """The health period: notice a file deleted, replaced or damaged; reopen; retry."""
        with self._lock:
            if self.outbox is None:
                found = diagnose(self.path)
                if found.kind == "damaged":
                    self._replace_damaged(found)
                else:
                    self._open()
            else:
                self._check_file()
            self._retry_held()

    def _store(self, sale: HeldSale) -> AddResult | None:
        assert self.outbox is not None
        try:
            result = self.outbox.add(sale.events, now=self._clock(), hold=sale.hold)
        except OutboxError as exc:
            found = classify_error(exc.__cause__ or exc, self.path)
            if found.kind == "damaged":
                self._replace_damaged(found)
                return self._store(sale) if self.outbox is not None and not self.held else None
            self._set_problem(found)
            return None
        if self.problem is not None:
            log.warning("outbox writable again (was: %s)", self.problem)
            self.problem, self.problem_since = None, None
        self._on_stored(sale, result)
        return result

    def _hold(self, sale: HeldSale) -> None:
        if self.held_events + len(sale.events) > self._capacity:
            self.dropped_events += len(sale.events)
            numbers = {str(e.metadata["receipt_number"]) for e in sale.events
                       if e.metadata.get("receipt_number")}  # fmt: skip
            log.error(
                "the in-memory buffer is full (%s events, outbox.memory_buffer_events): a sale"
                " (receipt %s) of %s events is lost (%s lost in all) until the outbox works"
                " again: %s",
                self._capacity,
                ", ".join(sorted(numbers)) or "unnumbered",
                len(sale.events),
                self.dropped_events,
                self.problem,
            )
            return
        self.held.append(sale)
        self.spill.append(sale)
        if len(self.held) == 1:
            log.warning(
                "outbox cannot take sales (%s): holding them in memory and in %s",
                self.problem or "not open",
                self.spill.path,
            )

    def _retry_held(self) -> None:
        stored = 0
        while self.held and self.outbox is not None:
            if self._store(self.held[0]) is None:
                break
            self.held.pop(0)
            stored += 1
        if stored:
            self.spill.rewrite(self.held)
            log.warning(
                "%s held sales committed to the outbox, %s still held", stored, len(self.held)
            )

    # --- the file -------------------------------------------------------------------------

    def _open(self) -> bool:
        try:
            outbox = Outbox(self.path, synchronous=self._synchronous)
        except OutboxError as exc:
            found = classify_error(exc.__cause__ or exc, self.path)
            if found.kind == "damaged":
                return self._replace_damaged(found)
            self._set_problem(found)
            return False
        self._adopt(outbox)
        if self.problem is not None:
            log.warning("outbox %s open again (was: %s)", self.path, self.problem)
        self.problem, self.problem_since = None, None
        self._attach(outbox)
        return True

    def _check_file(self) -> None:
        assert self.outbox is not None
        found = file_identity(self.path)
        if found is None:
            self._rebuild("deleted")
        elif found != self.outbox.identity:
            self._rebuild("replaced")
        elif not self._magic_ok():
            self._replace_damaged(Diagnosis("damaged", f"{self.path} was overwritten"))

    def _rebuild(self, why: str) -> None:
        """The file at the path is no longer ours: copy ours (still open) back there."""
        assert self.outbox is not None
        log.error("outbox %s was %s under the running agent: rebuilding it", self.path, why)
        self._detach()
        tmp = self.path.with_name(self.path.name + ".rebuild")
        try:
            tmp.unlink(missing_ok=True)
            self.outbox.backup_into(tmp)
            if why == "replaced" and self.path.exists():
                moved = quarantine(self.path, now=self._clock(), label="replaced")
                log.error("the file found in its place is kept as %s", moved)
            self._close_quietly()  # before the new file exists (see the module docstring)
            os.replace(tmp, self.path)
        except (OutboxError, OSError) as exc:
            self._close_quietly()
            self._set_problem(Diagnosis("damaged", f"rebuilding {self.path} failed: {exc}"))
            return
        self.rebuilt += 1
        if self._open():
            log.warning("outbox %s rebuilt from the open database: nothing lost", self.path)

    def _replace_damaged(self, found: Diagnosis) -> bool:
        """Move the damaged file aside, start a fresh outbox, copy what can be read."""
        log.error("%s", found)
        if self.outbox is not None:
            self._detach()
            self._close_quietly()
        now = self._clock()
        try:
            moved = quarantine(self.path, now=now)
            fresh = Outbox(self.path, synchronous=self._synchronous)
            recovered, lost = fresh.transaction("salvaging rows", lambda c: salvage(moved, c))
        except (OSError, OutboxError) as exc:
            self._set_problem(
                Diagnosis("damaged", f"{found.detail}; moving it aside failed: {exc}")
            )
            return False
        note = {"at": now, "moved_to": str(moved), "recovered": recovered, "lost": lost}
        self.quarantined.append(note)
        log.error(
            "damaged outbox moved to %s; a fresh one was started with %s rows recovered"
            " (%s could not be read)",
            moved,
            recovered,
            lost,
        )
        self._adopt(fresh)
        self.problem, self.problem_since = None, None
        self._attach(fresh)
        return True

    def _adopt(self, outbox: Outbox) -> None:
        self.outbox = outbox
        with suppress(OSError):
            self._header_fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)

    def _magic_ok(self) -> bool:
        if self._header_fd is None:
            return True
        try:
            head = os.pread(self._header_fd, len(MAGIC), 0)
        except OSError:
            return False
        return head in (MAGIC, b"")

    def _close_quietly(self) -> None:
        outbox, self.outbox = self.outbox, None
        if outbox is not None:
            with suppress(Exception):
                outbox.close()
        fd, self._header_fd = self._header_fd, None
        if fd is not None:  # only after SQLite let go of the file
            with suppress(OSError):
                os.close(fd)

    def _set_problem(self, found: Diagnosis) -> None:
        if self.problem is None or self.problem.kind != found.kind:
            log.error("outbox %s: %s", found.kind, found)
            self.problem_since = self._clock()
        self.problem = found

    # --- status ---------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "state": "degraded" if self.problem else "ok",
                "problem": self.problem.kind if self.problem else None,
                "detail": self.problem.detail if self.problem else None,
                "fix": self.problem.fix if self.problem else None,
                "since": self.problem_since,
                "held_sales": len(self.held),
                "held_events": self.held_events,
                "dropped_events": self.dropped_events,
                "spill_file": str(self.spill.path),
                "spill_error": self.spill.failed,
                "quarantined": list(self.quarantined),
                "rebuilt": self.rebuilt,
            }


def sale_of(
    events: list[Event], *, hold: bool, arrived: float, redate_at: float | None
) -> HeldSale:
    return HeldSale(list(events), hold, arrived, redate_at)
