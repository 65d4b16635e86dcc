"""`sync` and `status`: deliver now, and what the agent is doing (read from the outbox, so it
works from another process than the daemon's)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.cli.common import EXIT_FAILURE, EXIT_OK, EXIT_PENDING, Context, add_command
from agent.delivery.outbox import STATES, Outbox
from agent.delivery.reach import Outage, duration, headline

if TYPE_CHECKING:  # imported when used: `status` needs neither httpx nor rich nor pydantic
    from agent.delivery.sync import Syncer, SyncReport


def register(commands: Any) -> None:
    sync = add_command(
        commands,
        "sync",
        _sync,
        "deliver what is due now (exit 0 when nothing is left pending, 3 otherwise)",
        "Send every event that is due to Hellotext, then exit. Safe while the daemon runs. "
        "Exit 0 when nothing is left pending, 3 when events still wait (retry later, "
        "paused, offline).",
    )
    sync.add_argument("--progress", action="store_true", help="show a progress bar")
    status = add_command(
        commands,
        "status",
        _status,
        "outbox counts, oldest pending, paused and why, last success and error",
    )
    status.add_argument("--json", action="store_true", help="print JSON")


def _sync(args: argparse.Namespace, ctx: Context) -> int:
    from agent.cli.delivery import open_outbox
    from agent.delivery.hellotext import HellotextClient
    from agent.delivery.status import add_possible_duplicates
    from agent.delivery.sync import Syncer

    config = ctx.config()
    if config.hellotext.token is None:
        _no_token(config.hellotext.token_file, ctx)
    with HellotextClient.from_config(config) as client, open_outbox(config) as outbox:
        # Expired leases only (a crash mid-send): a running daemon's stay its own.
        add_possible_duplicates(outbox, outbox.recover_leases(now=time.time()))
        syncer = Syncer(outbox, client, config=config)
        try:
            report = _sync_with_bar(syncer) if args.progress else syncer.run_once()
        finally:
            syncer.close()
        counts = outbox.counts()
    waiting = counts["pending"] + counts["inflight"]
    print(
        f"sent {report.sent}, to retry {report.retried}, parked {report.parked}; "
        f"{waiting} waiting, {counts['parked']} parked in all"
    )
    if report.paused:
        print(f"paused: {report.paused}", file=sys.stderr)
    elif report.stopped_early:
        print(f"stopped early: {report.stopped_early}", file=sys.stderr)
    return EXIT_OK if waiting == 0 else EXIT_PENDING


def _no_token(token_file: str, ctx: Context) -> None:
    from agent import tokens
    from agent.errors import ConfigError

    found = tokens.find(tokens.API, token_file, os.environ, config_file=ctx.config_file())
    where = tokens.packaged_file(tokens.API, ctx.config_file())
    fix = found.note or (
        f"put it in {where} (one line, mode 600), or set HELLOTEXT_API_TOKEN or token_file"
    )
    raise ConfigError([("hellotext.token", f"not set: {fix}")])


def _sync_with_bar(syncer: Syncer) -> SyncReport:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    columns = (
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=False) as bar:
        task = bar.add_task("delivering", total=None)
        return syncer.run_once(
            progress=lambda done, total: bar.update(task, completed=done, total=total)
        )


def _status(args: argparse.Namespace, ctx: Context) -> int:
    from agent.daemon.health import read_status, status_file
    from agent.delivery.salvage import diagnose
    from agent.delivery.status import delivery_status
    from agent.errors import OutboxError

    now = time.time()
    settings = ctx.data()["outbox"]  # the validated config, cached: no pydantic here
    path = Path(settings["path"])
    # The running daemon's own account (on the runtime tmpfs): it works when the outbox is
    # exactly what is broken.
    live = read_status(status_file(settings.get("runtime_dir", ""), path))
    data: dict[str, Any]
    found = diagnose(path, probe_write=False) if _missing(path) else None
    if found is not None and found.kind == "new":  # never created here (root's if it were)
        data = {"outbox_missing": str(path)}
    elif found is not None:  # it cannot be created: a read-only or full disk
        data = {"outbox_error": found.detail, "outbox_problem": found.kind, "fix": found.fix}
    else:
        try:
            with Outbox(path, synchronous=settings["synchronous"], readonly=True) as outbox:
                data = delivery_status(outbox, now=now)
        except OutboxError as exc:
            found = diagnose(path, probe_write=False)
            data = {"outbox_error": str(exc), "outbox_problem": found.kind, "fix": found.fix}
    data["live"] = live
    if args.json:
        print(json.dumps(data, indent=2, default=str))
        return EXIT_OK
    if data.get("outbox_problem") == "denied":
        print(f"hellotext-agent: {found or data['outbox_error']}", file=sys.stderr)
    elif "outbox_missing" in data:
        print(f"{'outbox':<20}no outbox yet ({path}: the agent creates it with the first sale)")
        print(_daemon_lines({}, {}, now=now)[0])
    elif "outbox_error" in data:
        print(f"{'outbox':<20}{data['outbox_problem'].upper()}: {data['outbox_error']}")
        print(f"{'what to do':<20}{data['fix'] or 'see hellotext-agent doctor'}")
    else:
        for line in status_lines(data, now=now):
            print(line)
    for line in live_lines(live, now=now):
        print(line)
    return EXIT_OK if "outbox_error" not in data else EXIT_FAILURE


def _missing(path: Path) -> bool:
    try:
        path.stat()
    except FileNotFoundError:
        return True
    except OSError:
        return False  # not ours to look at: opening it says so
    return False


def live_lines(live: dict[str, Any] | None, *, now: float) -> list[str]:
    """What the running daemon says is wrong (from its status file), each with its fix."""
    if not live or not live.get("running") or live.get("stopped_at"):
        return []
    lines = []
    box = live.get("outbox") or {}
    if box.get("state") == "degraded":
        since = f" since {_at(box['since'], now)}" if box.get("since") else ""
        lines.append(f"{'outbox':<20}DEGRADED ({box['problem']}){since}: {box['detail']}")
        lines.append(f"{'what to do':<20}{box['fix']}")
    if box.get("held_sales"):
        lines.append(
            f"{'held sales':<20}{box['held_sales']} sales ({box['held_events']} events) wait in"
            f" memory and {box['spill_file']}: committed when the outbox works again"
        )
    if box.get("dropped_events"):
        lines.append(f"{'lost events':<20}{box['dropped_events']} (the memory buffer was full)")
    for q in box.get("quarantined") or []:
        lines.append(
            f"{'quarantined':<20}{q['moved_to']}: {q['recovered']} rows recovered, {q['lost']} lost"
        )
    if box.get("rebuilt"):
        lines.append(f"{'rebuilt':<20}{box['rebuilt']} times: the file was deleted or replaced")
    clock = live.get("clock") or {}
    if clock.get("suspect"):
        lines.append(f"{'clock':<20}WRONG: {clock['suspect']}")
    sync = live.get("sync") or {}
    if sync.get("answers_wrong"):
        lines.append(f"{'answers':<20}Hellotext's answers look wrong (a captive portal?):"
                     " check the till's network")  # fmt: skip
    if sync.get("rate_limited"):
        lines.append(f"{'rate limit':<20}Hellotext answered 429: {sync['rate_limited']}")
    if sync.get("failed_passes"):
        since = f" since {_at(sync['since'], now)}" if sync.get("since") else ""
        lines.append(
            f"{'sync':<20}{sync['failed_passes']} passes failed{since}: {sync['last_error']}"
        )
    return lines


def _at(moment: float | None, now: float) -> str:
    if moment is None:
        return "never"
    local = datetime.fromtimestamp(moment).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    delta = now - moment
    return f"{local} ({duration(delta)} ago)" if delta >= 0 else f"{local} (in {duration(-delta)})"


def status_lines(data: dict[str, Any], *, now: float) -> list[str]:
    counts: dict[str, int] = data["counts"]
    lines = []
    for state in STATES:
        note = ""
        if state == "pending" and data["oldest_pending_at"] is not None:
            note = f"oldest waiting {duration(data['oldest_pending_age_seconds'])}"
            if data["next_attempt_at"] is not None and data["next_attempt_at"] > now:
                note += f", next try in {duration(data['next_attempt_at'] - now)}"
        elif state == "parked" and counts[state]:
            note = "review: hellotext-agent outbox list --state parked"
        lines.append(f"{state:<20}{counts[state]:>8}" + (f"   {note}" if note else ""))
    if data["paused"]:
        since = f" since {_at(data['paused_at'], now)}" if data["paused_at"] else ""
        lines.append(f"{'delivery':<20}paused: {data['paused']}{since}")
    elif data.get("unreachable_since") is not None:
        outage = Outage(data["unreachable_since"], data.get("unreachable_cause") or "?")
        waiting = counts["pending"] + counts["inflight"]
        lines.append(f"{'delivery':<20}{headline(outage, waiting, None, now=now)}")
    else:
        lines.append(f"{'delivery':<20}active")
    lines.append(f"{'last success':<20}{_at(data['last_success_at'], now)}")
    if data["last_error"]:
        lines.append(f"{'last error':<20}{_at(data['last_error_at'], now)}: {data['last_error']}")
    else:
        lines.append(f"{'last error':<20}none")
    lines.append(f"{'possible duplicates':<20}{data['possible_duplicates']}")
    return lines + _daemon_lines(data["daemon"], data["devices"], now=now)


def _daemon_lines(daemon: dict[str, Any], devices: dict[str, Any], *, now: float) -> list[str]:
    if not daemon.get("pid") and not daemon.get("stopped_at"):
        return [f"{'daemon':<20}not running (never started with this outbox)"]
    if not daemon["running"]:
        stopped = daemon.get("stopped_at")
        when = f"stopped {_at(stopped, now)}" if stopped else "not running (killed?)"
        return [f"{'daemon':<20}{when}"]
    lines = [
        f"{'daemon':<20}running since {_at(daemon.get('started_at'), now)}, pid {daemon['pid']}"
    ]
    for tap in devices.get("printers", []):
        state = "printer connected" if tap["printer_connected"] else "printer NOT connected"
        line = f"{state}, {tap['jobs']} jobs, {tap['bytes_to_printer']} bytes printed" + (
            f", {tap['sink_errors']} parser errors" if tap["sink_errors"] else ""
        )
        if tap["last_error"]:
            line += f"; last error: {tap['last_error']}"
        lines.append(f"{'printer ' + tap['name']:<20}{tap['mode']}: {line}")
    for scanner in devices.get("scanners", []):
        state = "connected" if scanner["connected"] else "NOT connected"
        line = f"{state}, {scanner['scans']} scans"
        if scanner["garbage"] or scanner["overlong"]:
            line += f", {scanner['garbage'] + scanner['overlong']} unreadable"
        if scanner["last_error"]:
            line += f"; last error: {scanner['last_error']}"
        lines.append(f"{'scanner ' + scanner['name']:<20}{scanner['mode']}: {line}")
    for name, counts in (devices.get("append") or {}).items():
        skipped = counts["skipped"]
        ranked = sorted(skipped.items(), key=lambda item: -item[1])
        why = ", ".join(f"{n} {reason}" for reason, n in ranked)
        line = f"{counts['printed']} receipts given the block, {sum(skipped.values())} skipped"
        lines.append(f"{'append ' + name:<20}{line}" + (f" ({why})" if why else ""))
    stats = devices.get("pipeline") or {}
    if stats:
        lines.append(
            f"{'receipts':<20}{stats['receipts']} read, {stats['unread']} not read as receipts"
            f", {stats['voids']} voided, {stats['scans']} scans"
            + (
                f", {stats['held_in_memory']} events waiting for the outbox"
                if stats["held_in_memory"]
                else ""
            )
            + (
                f", {stats['reader_failures']} reader failures (jobs kept as captures:"
                " send them to support)"
                if stats.get("reader_failures")
                else ""
            )
        )
        if stats.get("dropped_chunks"):
            lines.append(f"{'parser':<20}{stats['dropped_chunks']} chunks not parsed (the POS sent"
                         " faster than the agent reads; printing unaffected)")
        if stats.get("pictures_dropped"):
            lines.append(f"{'raster receipts':<20}{stats['pictures_dropped']} jobs' pictures over"
                         " receipts.max_picture_bytes: dropped (jobs printed, kept as captures)")
        if stats.get("ocr_problem"):
            lines.append(f"{'raster receipts':<20}not read: {stats['ocr_problem']}")
        elif stats.get("ocr_read") or stats.get("ocr_failed"):
            lines.append(
                f"{'raster receipts':<20}{stats['ocr_read']} read by OCR"
                f", {stats['ocr_failed']} failed (kept as captures)"
            )
    return lines
