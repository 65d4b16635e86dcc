"""`hellotext-agent doctor`: the checks an installer runs on a till, one line each.

Every check is a function of the config and what it probes (a path, an address, an
`httpx.Client`, an `Identity`, `now`), returning a `Finding`; none raises. Tests run them
against real sockets, ptys, HTTP servers and SQLite files. Devices: agent/cli/doctor_devices.py.
"""

from __future__ import annotations

import argparse
import os
import shutil
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.markup import escape

from agent.cli.common import EXIT_CONFIG, EXIT_FAILURE, EXIT_OK, Context, add_command
from agent.cli.doctor_devices import (
    SERVICE_USER,
    Finding,
    Identity,
    device_checks,
    permission_bits,
)
from agent.config import AgentConfig, ReceiptsSection, config_path, load_config
from agent.daemon.clock import BUILT_AT
from agent.daemon.ocr import tesseract_problem
from agent.delivery.salvage import FIXES, diagnose
from agent.errors import ConfigError

__all__ = ["Finding", "Identity", "iter_checks", "register", "run_checks"]

MIN_FREE_BYTES = 100 * 1024 * 1024
MAX_CLOCK_SKEW = timedelta(minutes=5)
MIN_YEAR = 2024
_STYLE = {"OK": "green", "WARN": "yellow", "FAIL": "bold red"}


def check_token(
    api_url: str, token: str | None, client: httpx.Client, credential: Path
) -> tuple[Finding, datetime | None]:
    """GET /profiles?limit=1 with the token; also returns the server's Date, if it answered."""
    if not token:
        fix = f"put it in {credential} (one line, mode 600) or set HELLOTEXT_API_TOKEN"
        return Finding("FAIL", "token", f"no token: {fix}"), None
    try:
        answer = client.get(
            f"{api_url}/profiles",
            params={"limit": "1"},
            headers={"Authorization": f"Bearer {token}"},
        )
    except httpx.HTTPError as exc:
        why = f"cannot reach {api_url} ({type(exc).__name__}): check the network, DNS, proxy"
        return Finding("FAIL", "token", f"{why}; sales wait in the outbox meanwhile"), None
    code, server_date = answer.status_code, _http_date(answer.headers.get("date"))
    if code == 200 and not _is_json(answer):
        why = "Hellotext's answers look wrong (a captive portal?)"
        fix = "open a browser on the till, accept the network's login page, or fix the proxy"
        return Finding(
            "FAIL", "token", f"{why}: {api_url} answered 200 with {_kind(answer)}: {fix}"
        ), None
    if code == 200:
        return Finding("OK", "token", f"accepted by {api_url}"), server_date
    if code in (401, 403):
        fix = f"copy a valid token into {credential}, then systemctl restart hellotext-agent"
        return Finding("FAIL", "token", f"token refused ({code}): {fix}"), server_date
    return Finding("FAIL", "token", f"unexpected answer {code} from {api_url}"), server_date


def _is_json(answer: httpx.Response) -> bool:
    try:
        return isinstance(answer.json(), dict)
    except ValueError:
        return False


def _kind(answer: httpx.Response) -> str:
    return str(answer.headers.get("content-type", "no content type")).split(";")[0]


def _http_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return parsedate_to_datetime(value).astimezone(UTC)
    except (TypeError, ValueError):
        return None


def check_clock(now: datetime, server_date: datetime | None) -> Finding:
    """Events carry `tracked_at` from this clock: it must be right."""
    fix = "enable time sync: timedatectl set-ntp true"
    if now.year < MIN_YEAR or now.timestamp() < BUILT_AT:
        built = datetime.fromtimestamp(BUILT_AT, UTC)
        why = f"the clock says {now:%Y-%m-%d}, before this release was built ({built:%Y-%m-%d})"
        return Finding("FAIL", "clock", f"{why}: {fix}")
    if server_date is None:
        return Finding("OK", "clock", f"{now:%Y-%m-%d %H:%M} UTC (not compared: no server date)")
    skew = now - server_date
    if abs(skew) > MAX_CLOCK_SKEW:
        minutes = round(skew.total_seconds() / 60)
        side = "ahead of" if minutes > 0 else "behind"
        return Finding("FAIL", "clock", f"{abs(minutes)} min {side} Hellotext's clock: {fix}")
    return Finding("OK", "clock", f"within {abs(skew.total_seconds()):.0f} s of Hellotext's")


def check_disk(where: Path, free_bytes: int) -> Finding:
    free_mb = free_bytes // (1024 * 1024)
    if free_bytes < MIN_FREE_BYTES:
        why = "free some space: the outbox stops taking sales when the disk is full"
        return Finding("WARN", "disk", f"{free_mb} MB free for {where}: {why}")
    return Finding("OK", "disk", f"{free_mb} MB free for {where}")


def free_space(path: Path) -> tuple[Path, int]:
    """Free bytes on the file system that holds (or will hold) `path`."""
    where = path
    while not where.exists() and where != where.parent:
        where = where.parent
    return where, shutil.disk_usage(where).free


def check_outbox(path: Path, who: Identity | None = None) -> Finding:
    """Damaged, read-only, full or unwritable, each with its fix (never created here)."""
    if path.exists() and not path.is_dir() and not os.access(path, os.R_OK):
        return Finding("FAIL", "outbox", f"cannot read {path}: run doctor as root")
    gap = _dir_gap(path.parent, who) if who is not None else None
    if gap is not None:
        return Finding("FAIL", "outbox", f"unwritable: {gap}: {FIXES['unwritable']}")
    found = diagnose(path)
    if found.kind == "ok":
        return Finding("OK", "outbox", f"{path} passes quick_check")
    if found.kind == "new":
        return Finding("OK", "outbox", f"{path} not created yet (the agent creates it)")
    return Finding("FAIL", "outbox", f"{found.kind}: {found}")


def _dir_gap(folder: Path, who: Identity) -> str | None:
    """Whether `who` may create files in the folder (write and search bits), as the kernel
    judges it; None when it may (or the folder is not there yet: systemd creates it)."""
    if who.uid == 0:
        return None
    try:
        info = folder.stat()
    except OSError:
        return None
    ok = permission_bits(info, who) & 3 == 3  # write and search
    return None if ok else f"{who.name} cannot create files in {folder}"


def check_ocr(receipts: ReceiptsSection) -> Finding:
    """Receipts printed as pictures need Tesseract and its languages (receipts.ocr)."""
    if receipts.ocr == "off":
        return Finding("OK", "ocr", 'off (receipts.ocr = "off"): raster receipts stay unread')
    problem = tesseract_problem(receipts.ocr_languages)
    if problem:
        return Finding("WARN", "ocr", f"raster receipts will not be read: {problem}")
    return Finding("OK", "ocr", f"Tesseract reads raster receipts ({receipts.ocr_languages})")


def read_token(config: AgentConfig, credential: Path) -> tuple[str | None, Finding | None]:
    """The configured token, else the file the unit loads as a credential (root only)."""
    if config.hellotext.token is not None:
        return config.hellotext.token.get_secret_value(), None
    try:
        return credential.read_text(encoding="utf-8").strip() or None, None
    except FileNotFoundError:
        return None, None
    except OSError as exc:
        why = f"cannot read {credential} ({exc.strerror})"
        return None, Finding("WARN", "token", f"{why}: run doctor as root to check the token")


def iter_checks(
    config: AgentConfig, *, who: Identity, client: httpx.Client, now: datetime, credential: Path
) -> Iterator[Finding]:
    """Every check in order, each yielded as soon as it is done (network checks take time)."""
    yield from device_checks(config, who)
    token, unreadable = read_token(config, credential)
    server_date = None
    if unreadable:
        yield unreadable
    else:
        found, server_date = check_token(config.hellotext.api_url, token, client, credential)
        yield found
    yield check_clock(now, server_date)
    yield check_disk(*free_space(config.outbox.path))
    yield check_outbox(config.outbox.path, who)
    yield check_ocr(config.receipts)


def run_checks(
    config: AgentConfig, *, who: Identity, client: httpx.Client, now: datetime, credential: Path
) -> list[Finding]:
    return list(iter_checks(config, who=who, client=client, now=now, credential=credential))


def render(finding: Finding, console: Console, width: int = 22) -> None:
    status = f"[{_STYLE[finding.status]}]{finding.status:<4}[/]"
    console.print(f"{status} {escape(finding.name.ljust(width))} {escape(finding.detail)}")


def exit_code(findings: Sequence[Finding]) -> int:
    return EXIT_FAILURE if any(f.status == "FAIL" for f in findings) else EXIT_OK


def register(commands: Any) -> None:
    """Add the `doctor` subcommand."""
    parser = add_command(
        commands,
        "doctor",
        _doctor,
        "check config, devices, printer, token, clock, disk, outbox, OCR",
        "One line per check: OK, or WARN/FAIL with what to do. Exits 1 when a check fails, "
        "78 when the config is invalid. Run as root to check devices for the service user.",
    )
    parser.add_argument(
        "--user",
        metavar="NAME",
        help=f"judge device access for this user (default: {SERVICE_USER} when run as root, "
        "else yourself)",
    )
    parser.set_defaults(reports_config=True)  # an invalid config is one of its check lines


def _identity(user: str | None) -> Identity:
    me = Identity.current()
    if user is None and me.uid == 0:
        user = SERVICE_USER
    if user is None or user == me.name:
        return me
    return Identity.service(user) or me


def _doctor(args: argparse.Namespace, ctx: Context) -> int:
    console = Console(highlight=False, soft_wrap=True)
    path = config_path(ctx.config_arg, os.environ)
    try:
        config = load_config(path)
    except ConfigError as exc:
        render(Finding("FAIL", "config", f"{path}: {exc}"), console)
        return EXIT_CONFIG
    who = _identity(args.user)
    render(Finding("OK", "config", f"{path} is valid; devices checked for {who.name}"), console)
    findings = []
    timeout = httpx.Timeout(min(config.hellotext.timeout_seconds, 10.0))
    with httpx.Client(timeout=timeout) as client:
        now = datetime.now(UTC)
        for finding in iter_checks(
            config, who=who, client=client, now=now, credential=path.parent / "token"
        ):
            render(finding, console)
            findings.append(finding)
    return exit_code(findings)
