"""Device checks of `hellotext-agent doctor`: each printer and scanner the config names is
there, the service user may open it (naming the group it lacks), the unit's device cgroup
lets it through, a tcp printer answers and a tcp tap's address can be bound.

Run as root, access is judged for the service user from the device's mode, owner and
groups (root opens everything, which says nothing about the service); run as that user,
each device is also really opened.
"""

from __future__ import annotations

import errno
import grp
import os
import pwd
import socket
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from agent.config import AgentConfig, parse_host_port
from agent.daemon.devices import no_devices

SERVICE_USER = "hellotext-agent"
SERVICE_GROUPS = ("dialout", "lp", "input")  # the unit's SupplementaryGroups=
RUNTIME_DIR = Path("/run/hellotext-agent")  # the unit's RuntimeDirectory=
# The unit's DeviceAllow=char-NAME entries, and what DevicePolicy=closed always allows
# (/dev/null, zero, full, random, urandom) plus /dev/ptmx, as (major, minor).
DEVICE_ALLOW = ("ttyS", "ttyUSB", "ttyACM", "usb", "input", "pts")
ALWAYS_ALLOWED = frozenset({(1, 3), (1, 5), (1, 7), (1, 8), (1, 9), (5, 2)})

Status = Literal["OK", "WARN", "FAIL"]
Want = Literal["r", "rw"]


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


def permission_bits(info: os.stat_result, who: Identity) -> int:
    """The rwx bits the kernel applies to `who`: the owner's for the owner, else the
    group's for a member, else the others'."""
    mode = stat.S_IMODE(info.st_mode)
    if who.uid == info.st_uid:
        return mode >> 6 & 7
    if info.st_gid in who.gids:
        return mode >> 3 & 7
    return mode & 7


def permission_gap(path: str, info: os.stat_result, who: Identity, want: Want) -> str | None:
    """None when `who` may open the file for `want`; else what to do. As the kernel does:
    the owner's bits for the owner, else the group's for a member, else the others'."""
    if who.uid == 0:
        return None
    need = {"r": 4, "rw": 6}[want]
    mode = stat.S_IMODE(info.st_mode)
    if permission_bits(info, who) & need == need:
        return None
    group = _group_name(info.st_gid)
    if info.st_gid not in who.gids and who.uid != info.st_uid and (mode >> 3) & need == need:
        where = "" if group in SERVICE_GROUPS else " and to SupplementaryGroups= of the unit"
        return f"{path} belongs to group {group}: add {who.name} to group {group}{where}"
    return f"{path} is mode {mode:o} ({_group_name(info.st_gid)}): {who.name} cannot {want}"


def char_majors(proc_devices: str) -> dict[int, set[str]]:
    """/proc/devices' character section: major -> driver names (major 4: tty, ttyS...)."""
    majors: dict[int, set[str]] = {}
    section = ""
    for line in proc_devices.splitlines():
        if line.endswith(":"):
            section = line
        elif section.startswith("Character") and line.split():
            number, _, driver = line.strip().partition(" ")
            majors.setdefault(int(number), set()).add(driver.strip())
    return majors


def cgroup_gap(path: str, info: os.stat_result, majors: Mapping[int, set[str]]) -> str | None:
    """What to add when the unit's DevicePolicy=closed + DeviceAllow= would refuse it."""
    if not stat.S_ISCHR(info.st_mode):
        return None
    major, minor = os.major(info.st_rdev), os.minor(info.st_rdev)
    names = majors.get(major, set())
    if (major, minor) in ALWAYS_ALLOWED or names & set(DEVICE_ALLOW):
        return None
    plain = sorted(n for n in names if not n.startswith("/"))
    allow = f"char-{plain[0]}" if plain else os.path.realpath(path)
    return (
        f"{path} ({major}:{minor}) is not in the unit's DeviceAllow=: add "
        f"DeviceAllow={allow} rw in a drop-in (systemctl edit hellotext-agent)"
    )


def check_device(
    name: str,
    path: str,
    who: Identity,
    want: Want = "rw",
    majors: Mapping[int, set[str]] | None = None,
) -> Finding:
    """A device (or pyserial URL) is there, `who` may open it and, given /proc/devices'
    `majors`, the unit's device cgroup lets it through."""
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
    blocked = cgroup_gap(path, info, majors) if majors is not None else None
    if blocked:
        return Finding("WARN", name, blocked)
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


def device_checks(
    config: AgentConfig, who: Identity, proc_devices: Path = Path("/proc/devices")
) -> Iterator[Finding]:
    if (why := no_devices(config)) is not None:
        yield Finding("WARN", "devices", why)
    elif not config.printer and not config.scanner:
        where = config.ingest.listen
        yield Finding("OK", "devices", f"none: only in-store apps post events ({where})")
    try:
        majors: dict[int, set[str]] | None = char_majors(proc_devices.read_text())
    except OSError:
        majors = None
    for printer in config.printer:
        label = f"printer {printer.name}"
        if printer.mode == "tcp":
            yield check_listen(f"{label} listen", printer.listen)
            yield check_tcp_target(f"{label} target", printer.target)
        elif printer.mode == "serial":
            yield check_link(f"{label} link", printer.link)
            yield check_device(f"{label} target", printer.target, who, "rw", majors)
        elif printer.mode == "usb":
            yield check_device(f"{label} target", printer.target, who, "rw", majors)
        elif printer.mode == "sniff":
            yield check_device(f"{label} port", printer.port, who, "r", majors)
        else:
            yield check_device(f"{label} path", printer.path, who, "r", majors)
    for scanner in config.scanner:
        label = f"scanner {scanner.name}"
        if scanner.mode == "serial":
            yield check_device(f"{label} port", scanner.port, who, "rw", majors)
        else:
            yield check_device(f"{label} device", scanner.device, who, "r", majors)
