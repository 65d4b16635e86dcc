"""The sync engine: claim due events oldest first, deliver them, record what each answer meant.

One pass (`run_once`) is a small pipeline. The calling thread owns the outbox (SQLite) and
does all of its writes: it claims a batch, hands rows to `sync.concurrency` workers that
share one httpx.Client (connection reuse), and acks whatever has come back each time it
wakes up, so acks are grouped when the server is fast and immediate when it is slow. A row
is acked before its worker's slot is refilled: a crash can repeat at most the requests in
flight (one per worker).

Answers (see `agent.hellotext.classify`): sent -> ack; park -> parked with the error body,
the rows behind it go on; pause (401/403) -> every claimed row is released unchanged and
nothing is sent until the token probe answers 200; retry -> back to pending after full-jitter
backoff, never before Retry-After. A run of temporary failures (the internet is down, the
server is failing) ends the pass early rather than hammering; the next tick tries again.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from agent.backoff import retry_delay
from agent.config import AgentConfig
from agent.hellotext import HellotextClient, Outcome, Park, Pause, Retry, Sent
from agent.outbox import Outbox, OutboxRow
from agent.profiles import LOCAL_STATUS, ProfileResolver

log = logging.getLogger("agent.sync")

# Meta keys (the outbox's key/value table), read by `status` from another process.
META_PAUSED = "sync.paused"  # why sending is paused; absent when it is not
META_PAUSED_AT = "sync.paused_at"
META_LAST_SUCCESS = "sync.last_success_at"
META_LAST_ERROR = "sync.last_error"
META_LAST_ERROR_AT = "sync.last_error_at"
META_DUPLICATES = "sync.possible_duplicates"  # timeouts and drops: the server may have it

NOTES_EVERY_SECONDS = 1.0

Progress = Callable[[int, int], None]


@dataclass
class SyncReport:
    sent: int = 0
    retried: int = 0
    parked: int = 0
    released: int = 0  # claimed, then handed back untried (pause, early stop, deadline)
    maybe_delivered: int = 0
    paused: str | None = None
    stopped_early: str | None = None  # why the pass ended before the queue was empty
    busy: bool = False  # another pass was running; this call did nothing

    @property
    def handled(self) -> int:
        return self.sent + self.retried + self.parked


class Syncer:
    def __init__(
        self,
        outbox: Outbox,
        client: HellotextClient,
        *,
        config: AgentConfig,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.time,
        batch_size: int | None = None,
    ) -> None:
        self._outbox = outbox
        self._client = client
        self._rng = rng or random.Random()
        self._clock = clock
        self._concurrency = config.sync.concurrency
        self._base = config.sync.base_backoff_seconds
        self._cap = config.sync.max_backoff_seconds
        self._probe_interval = config.hellotext.probe_interval_seconds
        self._batch = batch_size or max(16, 4 * self._concurrency)
        # A claimed row must stay ours until it was tried: at worst every round of the
        # batch waits out a full timeout.
        rounds = math.ceil(self._batch / self._concurrency) + 1
        self._lease = max(config.outbox.lease_seconds, rounds * config.hellotext.timeout_seconds)
        # This many temporary failures in a row with no success: stop the pass.
        self._give_up_after = max(4, 2 * self._concurrency)
        self.profiles = ProfileResolver(client, country=config.store.country)
        self._pool = ThreadPoolExecutor(self._concurrency, thread_name_prefix="sync")
        self._running = threading.Lock()
        self._paused: str | None = outbox.get_meta(META_PAUSED) or None
        self._last_probe: float | None = None  # paused by an earlier run: probe at once
        self._notes: dict[str, str] = {}  # status for `status`, written in groups
        self._new_duplicates = 0
        self._notes_flushed = 0.0

    @property
    def paused(self) -> str | None:
        return self._paused

    def close(self) -> None:
        """Stop the workers (the client belongs to the caller)."""
        self._pool.shutdown(wait=True)

    def maybe_probe(self, now: float) -> bool:
        """True when sending may go on; while paused, re-check the token every probe interval."""
        if self._paused is None:
            return True
        if self._last_probe is not None and now - self._last_probe < self._probe_interval:
            return False
        self._last_probe = now
        outcome = self._client.probe()
        if isinstance(outcome, Sent):
            log.info("token accepted again: resuming delivery (was: %s)", self._paused)
            self._paused = None
            self._outbox.set_meta(META_PAUSED, None)
            self._outbox.set_meta(META_PAUSED_AT, None)
            return True
        if isinstance(outcome, Pause) and outcome.reason != self._paused:
            self._pause(outcome.reason, now)
        return False

    def run_once(
        self, *, deadline: float | None = None, progress: Progress | None = None
    ) -> SyncReport:
        """Deliver everything due now (until `deadline`, a `clock()` time, if given)."""
        if not self._running.acquire(blocking=False):
            return SyncReport(busy=True, paused=self._paused)
        try:
            report = SyncReport()
            if not self.maybe_probe(self._clock()):
                report.paused = self._paused
                return report
            self._pass(report, deadline, progress)
            report.paused = self._paused
            if report.handled or report.paused or report.stopped_early:
                log.info(
                    "sync: %d sent, %d to retry, %d parked%s%s",
                    report.sent,
                    report.retried,
                    report.parked,
                    f"; paused: {report.paused}" if report.paused else "",
                    f"; stopped early: {report.stopped_early}" if report.stopped_early else "",
                )
            return report
        finally:
            self._running.release()

    # -- one pass ------------------------------------------------------------------------

    def _pass(self, report: SyncReport, deadline: float | None, progress: Progress | None) -> None:
        total = self._outbox.counts().get("pending", 0)
        queue: deque[OutboxRow] = deque()
        running: dict[Future[Outcome], OutboxRow] = {}
        exhausted = False
        failures = 0  # temporary failures since the last success
        try:
            while True:
                stopping = self._paused is not None or report.stopped_early is not None
                if not stopping and not exhausted and len(queue) < self._concurrency:
                    if deadline is not None and self._clock() >= deadline:
                        report.stopped_early = "deadline"
                        stopping = True
                    else:
                        rows = self._outbox.claim(
                            limit=self._batch, now=self._clock(), lease_seconds=self._lease
                        )
                        exhausted = not rows
                        queue.extend(rows)
                while not stopping and queue and len(running) < self._concurrency:
                    row = queue.popleft()
                    self._seed_profile(row)
                    running[self._pool.submit(self._deliver, row)] = row
                if not running:
                    break
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                results = [(running.pop(future), future.result()) for future in done]
                failures = self._apply(results, report, failures)
                self._store_profiles()
                self._flush_notes(self._clock())
                if failures >= self._give_up_after and report.stopped_early is None:
                    report.stopped_early = f"{failures} temporary failures in a row"
                    log.warning("sync: %s; waiting for the next tick", report.stopped_early)
                if progress is not None:
                    progress(report.handled, max(total, report.handled))
        finally:
            # Whatever was claimed and never tried goes back as it was.
            for future, row in list(running.items()):
                if future.cancel():
                    queue.append(row)
                    del running[future]
            if running:  # an exception escaped: let the in-flight requests finish unrecorded
                wait(running)
            if queue:
                self._outbox.release([row.id for row in queue], now=self._clock())
                report.released += len(queue)
            self._store_profiles()
            self._flush_notes(self._clock(), force=True)

    def _deliver(self, row: OutboxRow) -> Outcome:
        """In a worker: resolve the phone if there is one, then post the event."""
        event = row.event
        attempt = row.attempts + 1
        profile: str | None = None
        if event.phone is not None:
            e164 = self.profiles.normalise(event.phone)
            if e164 is None:
                return Park(LOCAL_STATUS, "the phone is not a possible number")
            got = self.profiles.resolve(e164, event_id=event.id, attempt=attempt)
            if not isinstance(got, str):
                return got
            profile = got
        body = event.body_json(profile=profile)
        return self._client.track(body, event_id=event.id, attempt=attempt)

    def _apply(
        self, results: list[tuple[OutboxRow, Outcome]], report: SyncReport, failures: int
    ) -> int:
        """Record a group of answers (acks in one transaction); returns the failure streak."""
        now = self._clock()
        sent: list[str] = []
        released: list[str] = []
        for row, outcome in results:
            match outcome:
                case Sent():
                    sent.append(row.id)
                    failures = 0
                case Park(status=status, body=body):
                    self._outbox.park(row.id, now=now, status=status, error=body)
                    report.parked += 1
                    self._last_error(f"{status} parked event {row.id}", now)
                case Pause(reason=reason):
                    released.append(row.id)
                    if self._paused is None:
                        self._pause(reason, now)
                case Retry() as retry:
                    delay = retry_delay(
                        row.attempts,
                        base=self._base,
                        cap=self._cap,
                        rng=self._rng,
                        retry_after=retry.retry_after,
                    )
                    self._outbox.retry(
                        row.id, now=now, delay=delay, status=retry.status, error=retry.error
                    )
                    report.retried += 1
                    report.maybe_delivered += retry.maybe_delivered
                    failures += 1
                    self._last_error(retry.error, now, maybe_delivered=retry.maybe_delivered)
        if sent:
            self._outbox.ack(sent, now=now)
            report.sent += len(sent)
            self._notes[META_LAST_SUCCESS] = repr(now)
        if released:
            self._outbox.release(released, now=now)
            report.released += len(released)
        return failures

    def _pause(self, reason: str, now: float) -> None:
        log.error(
            "delivery paused: %s; nothing is lost, re-checking every %.0fs",
            reason,
            self._probe_interval,
        )
        self._paused = reason
        self._last_probe = now
        self._last_error(reason, now)
        self._notes[META_PAUSED] = reason
        self._notes[META_PAUSED_AT] = repr(now)
        self._flush_notes(now, force=True)

    def _last_error(self, error: str, now: float, *, maybe_delivered: bool = False) -> None:
        self._notes[META_LAST_ERROR] = error
        self._notes[META_LAST_ERROR_AT] = repr(now)
        self._new_duplicates += maybe_delivered

    def _flush_notes(self, now: float, *, force: bool = False) -> None:
        """Write status notes at most once a second: each write is a transaction of its own."""
        if not force and now - self._notes_flushed < NOTES_EVERY_SECONDS:
            return
        self._notes_flushed = now
        if self._new_duplicates:
            count = int(self._outbox.get_meta(META_DUPLICATES) or 0) + self._new_duplicates
            self._notes[META_DUPLICATES] = str(count)
            self._new_duplicates = 0
        notes, self._notes = self._notes, {}
        for key, value in notes.items():
            self._outbox.set_meta(key, value)

    def _seed_profile(self, row: OutboxRow) -> None:
        """Give the workers' memory the cached profile id, read here (the outbox's thread)."""
        if row.event.phone is None:
            return
        e164 = self.profiles.normalise(row.event.phone)
        if e164 is not None and self.profiles.known(e164) is None:
            cached = self._outbox.get_profile(e164)
            if cached:
                self.profiles.remember(e164, cached)

    def _store_profiles(self) -> None:
        now = self._clock()
        for phone, profile_id in self.profiles.take_new():
            self._outbox.put_profile(phone, profile_id, now=now)


def delivery_status(outbox: Outbox, *, now: float) -> dict[str, Any]:
    """What `status` shows: counts per state, the oldest waiting event, pause, last results.

    Times are Unix seconds (None when unknown); `*_age_seconds` are relative to `now`.
    """

    def moment(key: str) -> float | None:
        value = outbox.get_meta(key)
        try:
            return float(value) if value else None
        except ValueError:
            return None

    oldest = outbox.oldest_pending_at()
    next_due = outbox.next_due_at()
    return {
        "counts": outbox.counts(),
        "oldest_pending_at": oldest,
        "oldest_pending_age_seconds": None if oldest is None else max(0.0, now - oldest),
        "next_attempt_at": next_due,
        "paused": outbox.get_meta(META_PAUSED) or None,
        "paused_at": moment(META_PAUSED_AT),
        "last_success_at": moment(META_LAST_SUCCESS),
        "last_error": outbox.get_meta(META_LAST_ERROR),
        "last_error_at": moment(META_LAST_ERROR_AT),
        "possible_duplicates": int(outbox.get_meta(META_DUPLICATES) or 0),
    }
