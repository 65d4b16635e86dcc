"""`hellotext-agent doctor`: the checks an installer runs on a till, one line each.

Every check is a function of the config and what it probes (a path, an address, an
`httpx.Client`, an `Identity`, `now`), returning a `Finding`; none raises. Tests run them
against real sockets, ptys, HTTP servers and SQLite files. Device permissions are judged
for the service user when doctor runs as root (root opens everything, which says nothing
about the service); run as the service user, each device is also really opened.
"""

from __future__ import annotations

import argparse
import errno
import grp
import os
import pwd
import shutil
import socket
import sqlite3
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Literal

import httpx
from rich.console import Console
from rich.markup import escape

from agent.cli_common import EXIT_CONFIG, EXIT_FAILURE, EXIT_OK, Context, add_command
from agent.config import AgentConfig, config_path, load_config, parse_host_port
from agent.errors import ConfigError

SERVICE_USER = "hellotext-agent"
SERVICE_GROUPS = ("dialout", "lp", "input")  # the unit's SupplementaryGroups=
RUNTIME_DIR = Path("/run/hellotext-agent")  # the unit's RuntimeDirectory=
MIN_FREE_BYTES = 100 * 1024 * 1024
MAX_CLOCK_SKEW = timedelta(minutes=5)
MIN_YEAR = 2024

Status = Literal["OK", "WARN", "FAIL"]
Want = Literal["r", "rw"]
_STYLE = {"OK": "green", "WARN": "yellow", "FAIL": "bold red"}


@dataclass(frozen=True)
class Finding:
    status: Status
    name: str
    detail: str


@dataclass(frozen=True)
class Identity:
    """Whose access the device checks judge; `is_self` = this process, so opening is real."""

    name: str
    uid: int
    gids: frozenset[int]
    is_self: bool

    @classmethod
    def current(cls) -> Identity:
        uid = os.geteuid()
        try:
            name = pwd.getpwuid(uid).pw_name
        except KeyError:
            name = str(uid)
        return cls(name, uid, frozenset({os.getegid(), *os.getgroups()}), True)

    @classmethod
    def service(cls, name: str = SERVICE_USER) -> Identity | None:
        """The service user with the groups systemd gives it; None if it does not exist."""
        try:
            user = pwd.getpwnam(name)
        except KeyError:
            return None
        gids = {user.pw_gid}
        for group in grp.getgrall():
            if group.gr_name in SERVICE_GROUPS or name in group.gr_mem:
                gids.add(group.gr_gid)
        return cls(name, user.pw_uid, frozenset(gids), False)


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def permission_gap(path: str, info: os.stat_result, who: Identity, want: Want) -> str | None:
    """None when `who` may open the file for `want`; else what to do. As the kernel does:
    the owner's bits for the owner, else the group's for a member, else the others'."""
    if who.uid == 0:
        return None
    need = {"r": 4, "rw": 6}[want]
    mode = stat.S_IMODE(info.st_mode)
    if who.uid == info.st_uid:
        bits = mode >> 6 & 7
    elif info.st_gid in who.gids:
        bits = mode >> 3 & 7
    else:
        bits = mode & 7
    if bits & need == need:
        return None
    group = _group_name(info.st_gid)
    if info.st_gid not in who.gids and who.uid != info.st_uid and (mode >> 3) & need == need:
        where = "" if group in SERVICE_GROUPS else " and to SupplementaryGroups= of the unit"
        return f"{path} belongs to group {group}: add {who.name} to group {group}{where}"
    return f"{path} is mode {mode:o} ({_group_name(info.st_gid)}): {who.name} cannot {want}"


def check_device(name: str, path: str, who: Identity, want: Want = "rw") -> Finding:
    """A device (or pyserial URL) is there and `who` may open it."""
    if "://" in path:
        scheme, _, rest = path.partition("://")
        if scheme in ("socket", "rfc2217"):
            return check_tcp_target(name, rest.split("?", 1)[0].rstrip("/"))
        return Finding("OK", name, f"{path} is a pyserial URL (not a local device)")
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return Finding("FAIL", name, f"{path} not found: plug the device in or fix the path")
    except OSError as exc:
        return Finding("FAIL", name, f"{path}: {exc.strerror}")
    gap = permission_gap(path, info, who, want)
    if gap:
        return Finding("FAIL", name, gap)
    if who.is_self:
        flags = (os.O_RDWR if want == "rw" else os.O_RDONLY) | os.O_NOCTTY | os.O_NONBLOCK
        try:
            os.close(os.open(path, flags))
        except OSError as exc:
            if exc.errno == errno.EBUSY:
                return Finding("WARN", name, f"{path} is busy: fine if the agent is running")
            return Finding("FAIL", name, f"cannot open {path}: {exc.strerror}")
    kind = "" if stat.S_ISCHR(info.st_mode) or stat.S_ISFIFO(info.st_mode) else " (not a device)"
    access = "read-write" if want == "rw" else "readable"
    return Finding("OK", name, f"{path}{kind} {access} for {who.name}")


def check_tcp_target(name: str, target: str, timeout: float = 2.0) -> Finding:
    """The real printer answers a TCP connect (nothing is sent to it)."""
    try:
        host, port = parse_host_port(target)
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except ValueError as exc:
        return Finding("FAIL", name, str(exc))
    except OSError as exc:
        reason = "no answer" if isinstance(exc, TimeoutError) else exc.strerror or str(exc)
        why = f"cannot connect to {target} ({reason})"
        return Finding("FAIL", name, f"{why}: is the printer on, at this address?")
    return Finding("OK", name, f"{target} accepts connections")


def check_listen(name: str, listen: str) -> Finding:
    """The address the POS prints to can be bound (or is held, e.g. by the running agent)."""
    try:
        host, port = parse_host_port(listen)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
    except ValueError as exc:
        return Finding("FAIL", name, str(exc))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            why = "fine if the agent is running, else another program holds the port"
            return Finding("WARN", name, f"{listen} is in use: {why}")
        if exc.errno == errno.EACCES:
            return Finding("FAIL", name, f"{listen}: ports below 1024 need privileges; use 9100")
        return Finding("FAIL", name, f"cannot listen on {listen}: {exc.strerror}")
    return Finding("OK", name, f"{listen} is free to listen on")


def check_link(name: str, link: str) -> Finding:
    path = Path(link)
    if path.parent != RUNTIME_DIR:
        why = "the service may not create it there (add ReadWritePaths= in a drop-in)"
        return Finding("WARN", name, f"{link} is outside {RUNTIME_DIR}: {why}")
    return Finding("OK", name, f"the POS prints to {link}")


def device_checks(config: AgentConfig, who: Identity) -> Iterator[Finding]:
    for printer in config.printer:
        label = f"printer {printer.name}"
        if printer.mode == "tcp":
            yield check_listen(f"{label} listen", printer.listen)
            yield check_tcp_target(f"{label} target", printer.target)
        elif printer.mode == "serial":
            yield check_link(f"{label} link", printer.link)
            yield check_device(f"{label} target", printer.target, who)
        elif printer.mode == "usb":
            yield check_device(f"{label} target", printer.target, who)
        elif printer.mode == "sniff":
            yield check_device(f"{label} port", printer.port, who, "r")
        else:
            yield check_device(f"{label} path", printer.path, who, "r")
    for scanner in config.scanner:
        label = f"scanner {scanner.name}"
        if scanner.mode == "serial":
            yield check_device(f"{label} port", scanner.port, who)
        else:
            yield check_device(f"{label} device", scanner.device, who, "r")


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
    if code == 200:
        return Finding("OK", "token", f"accepted by {api_url}"), server_date
    if code in (401, 403):
        fix = f"copy a valid token into {credential}, then systemctl restart hellotext-agent"
        return Finding("FAIL", "token", f"token refused ({code}): {fix}"), server_date
    return Finding("FAIL", "token", f"unexpected answer {code} from {api_url}"), server_date


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
    if now.year < MIN_YEAR:
        return Finding("FAIL", "clock", f"the clock says {now:%Y-%m-%d}: {fix}")
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


def check_outbox(path: Path) -> Finding:
    """`PRAGMA quick_check` on the outbox, opened read-only (never created here)."""
    if not path.exists():
        return Finding("OK", "outbox", f"{path} not created yet (the agent creates it)")
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
        try:
            rows = [row[0] for row in db.execute("PRAGMA quick_check")]
        finally:
            db.close()
    except sqlite3.Error as exc:
        rows = [str(exc)]
    if rows == ["ok"]:
        return Finding("OK", "outbox", f"{path} passes quick_check")
    if any("unable to open" in row for row in rows) and not os.access(path, os.R_OK):
        return Finding("FAIL", "outbox", f"cannot read {path}: run doctor as root")
    fix = "stop the agent and keep a copy of the file for support before replacing it"
    return Finding("FAIL", "outbox", f"{path} is damaged ({'; '.join(rows[:3])}): {fix}")


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
    yield check_outbox(config.outbox.path)


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
        "check config, devices, printer, token, clock, disk, outbox",
        "One line per check: OK, or WARN/FAIL with what to do. Exits 1 when a check fails, "
        "78 when the config is invalid. Run as root to check devices for the service user.",
    )
    parser.add_argument(
        "--user",
        metavar="NAME",
        help=f"judge device access for this user (default: {SERVICE_USER} when run as root, "
        "else yourself)",
    )


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
