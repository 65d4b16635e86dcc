"""The daemon's timed jobs on APScheduler: printer probes, the clock check, the nightly
maintenance.

Why APScheduler (3.x, `BackgroundScheduler`) rather than another loop: the maintenance runs
at a local time of the store ("03:30" in `store.timezone`, daylight saving included), which
a sleep loop gets wrong twice a year; the scheduler also keeps one instance of each job
(a slow probe never piles up) and coalesces runs missed while the till was suspended.

APScheduler computes run times from the wall clock, so a wall-clock jump (which the health
loop, on the monotonic clock, detects) would stall an interval job: `rebase()` reschedules
every job from the new "now". A jump forward (a till booted in 1970 until NTP answers) would
make APScheduler list every run missed since the old time, one at a time (a billion for a
10 s job): the triggers here never replay the past, the next run is from "now". What must
never stall (the watchdog, the outbox's health, re-basing due times) stays in the health
loop. Each job logs its own failure and carries
on: a broken probe must not take the scheduler down.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from agent.delivery.maintenance import META_MAINTAINED_AT, maintain

log = logging.getLogger("agent.housekeeping")

PROBE_EVERY_SECONDS = 60.0
_REPLAY_LIMIT = timedelta(days=1)  # a cron's previous run further back than this: from now


class _Every(IntervalTrigger):  # type: ignore[misc]  # (apscheduler is untyped)
    """An interval whose next run is never in the past."""

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        next_time: datetime | None = super().get_next_fire_time(previous_fire_time, now)
        return now if next_time is not None and next_time < now else next_time


class _Daily(CronTrigger):  # type: ignore[misc]
    """A cron whose previous run, long past, is forgotten rather than stepped from."""

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        if previous_fire_time is not None and now - previous_fire_time > _REPLAY_LIMIT:
            previous_fire_time = None
        next_time: datetime | None = super().get_next_fire_time(previous_fire_time, now)
        return next_time
CATCH_UP_AFTER_SECONDS = 60.0  # a missed nightly maintenance runs this long after start


def _guarded(name: str, job: Callable[[], None]) -> Callable[[], None]:
    def run() -> None:
        try:
            job()
        except Exception:
            log.exception("%s failed (tried again at its next time)", name)

    return run


class Housekeeping:
    """The jobs, added by `add_*`, run once `start()` is called; `stop()` waits for none."""

    def __init__(self, zone: tzinfo | None, *, wall: Callable[[], float] = time.time) -> None:
        # zone None: the system's zone (APScheduler asks tzlocal). `wall` must be the clock
        # APScheduler itself reads (the machine's): it has no other.
        options = {"coalesce": True, "max_instances": 1, "misfire_grace_time": None}
        self.scheduler = BackgroundScheduler(
            job_defaults=options, **({"timezone": zone} if zone else {})
        )
        self.zone = self.scheduler.timezone
        self._wall = wall

    def _now(self, after: float = 0.0) -> datetime:
        return datetime.fromtimestamp(self._wall() + after, self.zone)

    def add_every(
        self, name: str, seconds: float, job: Callable[[], None], *, at_start: bool = True
    ) -> None:
        """`job` every `seconds` (and at once when the scheduler starts, if `at_start`)."""
        first = self._now() if at_start else self._now(seconds)
        self.scheduler.add_job(_guarded(name, job), _Every(seconds=seconds),
                               id=name, name=name, next_run_time=first)  # fmt: skip

    def add_daily(
        self, name: str, hour: int, minute: int, job: Callable[[], None], *, catch_up: bool
    ) -> None:
        """`job` every day at hour:minute local time; `catch_up`: also soon after start (the
        till was off at that hour last night)."""
        trigger = _Daily(hour=hour, minute=minute, timezone=self.zone)
        kwargs = {}
        if catch_up:
            kwargs["next_run_time"] = self._now(CATCH_UP_AFTER_SECONDS)
        self.scheduler.add_job(_guarded(name, job), trigger, id=name, name=name, **kwargs)
        log.info("%s daily at %02d:%02d (%s)", name, hour, minute, self.zone)

    def next_run(self, name: str) -> datetime | None:
        job = self.scheduler.get_job(name)
        return None if job is None else job.next_run_time

    def start(self) -> None:
        self.scheduler.start()

    def rebase(self) -> None:
        """The wall clock jumped: every job's next run from the new time."""
        for job in self.scheduler.get_jobs():
            trigger = job.trigger
            if isinstance(trigger, IntervalTrigger):
                job.modify(next_run_time=self._now(trigger.interval.total_seconds()))
            else:
                job.modify(next_run_time=trigger.get_next_fire_time(None, self._now()))
        self.scheduler.wakeup()

    def stop(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)


def daily_due(last: float | None, now: float) -> bool:
    """A daily job last done at `last` (None: never) is overdue at `now`."""
    return last is None or now - last > timedelta(days=1).total_seconds()


def schedule(service: Any) -> Housekeeping:  # the Service (typed Any: no import cycle)
    """The daemon's jobs, started: probes now and every minute, the clock check every health
    period, the maintenance nightly (and a minute after start when last night's was missed)."""
    config = service.config
    zone = ZoneInfo(config.store.timezone) if config.store.timezone else None
    house = Housekeeping(zone)

    def probes() -> None:
        for tap in service.taps:
            tap.probe()  # skipped by the tap itself while a job is in flight

    def maintenance() -> None:
        with service.outbox_jobs:
            if service.outbox is not None:
                service.last_maintenance = maintain(
                    service.outbox,
                    now=service.clock.wall(),
                    keep_sent_days=config.outbox.sent_retention_days,
                )

    house.add_every("printer probes", PROBE_EVERY_SECONDS, probes)
    period = min(service.notifier.watchdog_interval() or 10.0, 10.0)
    house.add_every("clock check", period, service.clock_job, at_start=False)
    last = service.outbox.get_meta(META_MAINTAINED_AT) if service.outbox else None
    overdue = daily_due(float(last) if last else None, service.clock.wall())
    hour, minute = config.maintenance.hour_minute
    house.add_daily("outbox maintenance", hour, minute, maintenance, catch_up=overdue)
    house.start()
    return house
