"""What is wrong with an outbox file, and how a damaged one is moved aside and salvaged.

`diagnose` tells the faults a store can fix apart, each with its own fix: *damaged*
(not a database, cut short, a directory in its place), *read-only* (a read-only mount or a
file without write permission), *full* (no space left), *unwritable* (the directory does
not let the agent create its files), *denied* (a file of another user: root's, or the
service's when someone else runs a command) and *unreadable* (an I/O error reading it). Only
*damaged* is ever moved aside: a file this process may not read is not a damaged file.
`quarantine` never deletes: it renames the file (and its -wal/-shm) to
`outbox.db.damaged-YYYYmmdd-HHMMSS`; `salvage` copies every row that can still be read from
that copy into a fresh outbox, and counts what was recovered and lost.
"""

from __future__ import annotations

import errno
import logging
import os
import pwd
import shutil
import sqlite3
import stat
import struct
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

log = logging.getLogger("agent.salvage")

Kind = Literal["ok", "new", "damaged", "read-only", "full", "unwritable", "denied", "unreadable"]
MAGIC = b"SQLite format 3\x00"
MIN_FREE_BYTES = 64 * 1024  # less than this and SQLite cannot grow the WAL by a sale
SIDE_FILES = ("-wal", "-shm", "-journal")
_COPY_COLUMNS = (
    "id, body, state, attempts, created_at, next_attempt_at, lease_until, last_status,"
    " last_error, sent_at"
)
_LATER_COLUMNS = ("digest",)  # added by a migration: copied when the damaged file has them
_OBJECTS = "kind, key, object_id, updated_at"
FIXES: dict[str, str] = {
    "damaged": "the agent moves it aside and starts a fresh one (rows that can be read are "
    "copied over); keep the moved file for support",
    "read-only": "the file system or the file is read-only: remount it read-write "
    "(mount -o remount,rw) or give the file back its write permission",
    "full": "the disk is full: free some space (journalctl --vacuum-size=100M, old files)",
    "unwritable": "the agent cannot create files in the directory: "
    "chown -R hellotext-agent: the state directory (systemd's StateDirectory= does this)",
    "unreadable": "reading the file failed (the disk may be failing: see dmesg); it is left"
    " as it is",
}


@dataclass(frozen=True)
class Diagnosis:
    kind: Kind
    detail: str
    hint: str = ""  # the fix when it depends on the case (who owns the file); else FIXES

    @property
    def fix(self) -> str:
        return self.hint or FIXES.get(self.kind, "")

    def __str__(self) -> str:
        return f"{self.detail}: {self.fix}" if self.fix else self.detail


@dataclass(frozen=True)
class Salvage:
    moved_to: Path
    recovered: int
    lost: int  # rows the damaged file held that could not be read (an estimate)


def has_magic(path: Path) -> bool:
    """The first bytes of an SQLite file: cheap, and catches a file overwritten in place.
    Raises OSError: a file that cannot be read says nothing about its content."""
    with open(path, "rb") as fh:
        head = fh.read(len(MAGIC))
    return head == MAGIC or head == b""  # an empty file is a database not yet written


def _user(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def denied(path: Path) -> Diagnosis:
    """This process may not use `path`. Who should: the state directory's owner (the
    service user). When that is us, the file is a stray of another user (root's)."""
    try:
        owner = os.stat(path.parent).st_uid
    except OSError:
        return Diagnosis("denied", f"permission denied on {path}",
                         "run as the owner of its directory (sudo -u hellotext-agent)")  # fmt: skip
    name = _user(owner)
    if owner != os.geteuid():
        return Diagnosis("denied", f"permission denied on {path}",
                         f"run as {name}, or with sudo -u {name}")  # fmt: skip
    try:
        stray = _user(os.stat(path).st_uid)
    except OSError:
        stray = "another user"
    return Diagnosis(
        "denied",
        f"permission denied on {path} (it belongs to {stray})",
        f"give it back to the agent: sudo chown {name}: {path}*",
    )


def _access(path: Path) -> Diagnosis | None:
    """The file and its side files readable and writable by us; else why not."""
    for file in (path, *(path.with_name(path.name + s) for s in SIDE_FILES)):
        try:
            info = os.stat(file)
        except FileNotFoundError:
            continue
        except OSError:
            return denied(file)
        if os.access(file, os.R_OK | os.W_OK):
            continue
        if info.st_uid != os.geteuid():
            return denied(file)
        return Diagnosis("read-only", f"{file} is read-only")
    return None


def diagnose(path: Path, *, probe_write: bool = True, read_file: bool = True) -> Diagnosis:
    """What state the outbox at `path` is in. `probe_write` creates (and removes) a file in
    the directory to prove it is writable. `read_file` false: the file itself is not opened,
    for a process that has it open in SQLite (closing another descriptor of it would drop
    SQLite's POSIX locks)."""
    folder = path.parent
    try:
        exists: bool | None = stat.S_ISREG(os.stat(path).st_mode) or None
    except FileNotFoundError:
        exists = False
    except NotADirectoryError:
        return Diagnosis("unwritable", f"{folder} is not a directory")
    except OSError:
        return denied(path)  # the folder is not ours to look into
    if exists is None:
        what = "a directory" if path.is_dir() else "not a regular file"
        return Diagnosis("damaged", f"{path} is {what}, not a database file")
    if read_file and exists:
        try:
            magic = has_magic(path)
        except PermissionError:
            return denied(path)
        except OSError as exc:
            return Diagnosis("unreadable", f"cannot read {path}: {exc.strerror}")
        if not magic:
            return Diagnosis("damaged", f"{path} is not an SQLite database")
    # Space and mounts before the integrity check: reading a WAL database needs its -shm
    # file, and on a full disk that fails as an "I/O error" that is no damage at all.
    where = folder
    while not where.exists() and where != where.parent:
        where = where.parent
    try:
        info = os.statvfs(where)
    except OSError as exc:
        return Diagnosis("unwritable", f"cannot look at {where}: {exc.strerror}")
    if info.f_flag & os.ST_RDONLY:
        return Diagnosis("read-only", f"{where} is on a read-only file system")
    refused = _access(path) if exists else None
    if refused is not None:
        return refused
    if info.f_bavail * info.f_frsize < MIN_FREE_BYTES:
        return Diagnosis("full", f"no space left on the disk holding {path}")
    if probe_write and where == folder:
        refused = _probe(folder)
        if refused is not None:
            return refused
    problem = _quick_check(path) if read_file and exists else None
    if problem:
        return Diagnosis("damaged", f"{path} is damaged ({problem})")
    return Diagnosis("ok" if exists else "new", f"{path} is usable")


def classify_error(exc: BaseException, path: Path) -> Diagnosis:
    """The Diagnosis an error of the running outbox points to (no quick_check: it is open)."""
    code = getattr(exc, "sqlite_errorcode", None)
    text = str(exc)
    errcode = getattr(exc, "errno", None)
    if errcode in (errno.ENOSPC, errno.EDQUOT) or "disk is full" in text:
        return Diagnosis("full", f"no space left on the disk holding {path}")
    if errcode == errno.EROFS or "readonly" in text or "read-only" in text:
        found = diagnose(path, read_file=False)  # another user's file opens read-only
        return found if found.kind == "denied" else Diagnosis(
            "read-only", f"{path} cannot be written ({text})"
        )
    if errcode in (errno.EACCES, errno.EPERM) or "unable to open" in text:
        found = diagnose(path, read_file=False)
        return found if found.kind not in ("ok", "new") else Diagnosis("unwritable", text)
    damaged = code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)
    if damaged or "malformed" in text or "not a database" in text:
        return Diagnosis("damaged", f"{path} is damaged ({text})")
    return diagnose(path, read_file=False)


def _quick_check(path: Path) -> str | None:
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
        try:
            rows = [str(row[0]) for row in db.execute("PRAGMA quick_check")]
        finally:
            db.close()
    except sqlite3.Error as exc:
        if "unable to open" in str(exc) or "disk I/O error" in str(exc):
            return None  # unreadable, not damaged: the open that follows says so
        return str(exc)
    return None if rows == ["ok"] else "; ".join(rows[:3])


def _probe(folder: Path) -> Diagnosis | None:
    probe = folder / f".write-probe-{os.getpid()}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, b"x" * 4096)
        finally:
            os.close(fd)
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return Diagnosis("full", f"no space left in {folder}")
        if exc.errno == errno.EROFS:
            return Diagnosis("read-only", f"{folder} is on a read-only file system")
        return Diagnosis("unwritable", f"cannot create files in {folder} ({exc.strerror})")
    finally:
        probe.unlink(missing_ok=True)
    return None


def quarantine(path: Path, *, now: float, label: str = "damaged") -> Path:
    """Rename the file (and its side files) aside with a timestamp; never delete."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    target = path.with_name(f"{path.name}.{label}-{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.{label}-{stamp}-{n}")
    os.rename(path, target)
    for suffix in SIDE_FILES:
        side = path.with_name(path.name + suffix)
        if side.exists():
            os.rename(side, target.with_name(target.name + suffix))
    return target


def salvage(damaged: Path, target: sqlite3.Connection) -> tuple[int, int]:
    """Copy every readable event row of `damaged` into `target` (an outbox's connection,
    schema in place, inside the caller's transaction): (recovered, lost). Rows are read one
    rowid range at a time so a bad page loses its own rows, not the whole table."""
    try:
        if damaged.is_dir() or not has_magic(damaged):
            return 0, 0
    except OSError:
        return 0, 0
    try:
        readable, missing = _readable_copy(damaged)
        # The patched copy is read as immutable: no -wal/-shm are made beside it.
        flags = "?mode=ro" if readable == damaged else "?mode=ro&immutable=1"
        src = sqlite3.connect(f"{readable.resolve().as_uri()}{flags}", uri=True, timeout=1)
    except (OSError, sqlite3.Error):
        return 0, 0
    recovered = lost = 0
    columns = _COPY_COLUMNS + "".join(f", {c}" for c in _LATER_COLUMNS if _has_column(src, c))
    marks = ", ".join("?" * len(columns.split(",")))
    insert = f"INSERT INTO events ({columns}) VALUES ({marks}) ON CONFLICT (id) DO NOTHING"
    try:
        try:
            top: int | None = int(src.execute("SELECT max(seq) FROM events").fetchone()[0] or 0)
        except sqlite3.Error:
            top = None  # the last page is gone: walk on until nothing more can be found
        step, start, misses = 16, 0, 0
        while (start <= top) if top is not None else misses < 256:
            try:
                rows = src.execute(
                    f"SELECT {columns} FROM events WHERE seq >= ? AND seq < ?",
                    (start, start + step),
                ).fetchall()
            except sqlite3.Error:
                lost += _count(src, start, start + step)
                rows = []
            start += step
            misses = 0 if rows else misses + 1
            for row in rows:
                try:
                    target.execute(insert, row)
                    recovered += 1
                except sqlite3.Error:
                    lost += 1
        # Rows of pages that are gone leave no trace but their numbers: estimate from the
        # highest row number still known, else from the share of pages missing.
        lost = max(lost, _highest_seq(src) - recovered - lost)
        if missing:
            present = max(1, damaged.stat().st_size // 4096)
            lost = max(lost, round(recovered * missing / present))
        _copy_objects(src, target)
    finally:
        src.close()
        if readable != damaged:
            readable.unlink(missing_ok=True)
    return recovered, lost


def _has_column(src: sqlite3.Connection, name: str) -> bool:
    try:
        return any(row[1] == name for row in src.execute("PRAGMA table_info(events)"))
    except sqlite3.Error:
        return False


def _copy_objects(src: sqlite3.Connection, target: sqlite3.Connection) -> None:
    """The Hellotext ids of the orders this till created: without them a retried order event
    would look its order up again (agent/delivery/orders.py). Best effort: a table on a bad
    page is skipped, the events are what matters."""
    try:
        rows = src.execute(f"SELECT {_OBJECTS} FROM objects").fetchall()
    except sqlite3.Error:
        return
    for row in rows:
        try:
            target.execute(
                f"INSERT INTO objects ({_OBJECTS}) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (kind, key) DO NOTHING",
                row,
            )
        except sqlite3.Error:
            continue


def _readable_copy(damaged: Path) -> tuple[Path, int]:
    """A file cut short still claims its full size in its header, and SQLite then refuses
    every page: a copy whose header counts the pages really there reads what is left."""
    with open(damaged, "rb") as fh:
        head = fh.read(100)
    size = damaged.stat().st_size
    page = struct.unpack(">H", head[16:18])[0] if len(head) == 100 else 0
    page = 65536 if page == 1 else page
    claimed = struct.unpack(">I", head[28:32])[0] if len(head) == 100 else 0
    if not page or claimed * page <= size:
        return damaged, 0
    copy = damaged.with_name(damaged.name + ".salvage")
    shutil.copyfile(damaged, copy)
    with open(copy, "r+b") as fh:
        fh.truncate(size // page * page)
        fh.seek(28)
        fh.write(struct.pack(">I", size // page))
    return copy, claimed - size // page


def _highest_seq(src: sqlite3.Connection) -> int:
    best = 0
    for sql in (
        "SELECT max(seq) FROM events",
        "SELECT max(seq) FROM events INDEXED BY events_state",
        "SELECT seq FROM events INDEXED BY events_state ORDER BY seq DESC LIMIT 1",
    ):
        try:
            best = max(best, int(src.execute(sql).fetchone()[0] or 0))
        except (sqlite3.Error, TypeError):
            continue
    return best


def _count(src: sqlite3.Connection, start: int, end: int) -> int:
    """Rows in an unreadable range, from the index if it still reads; else the range size."""
    try:
        sql = "SELECT count(*) FROM events INDEXED BY events_state WHERE seq >= ? AND seq < ?"
        return int(src.execute(sql, (start, end)).fetchone()[0])
    except sqlite3.Error:
        return 0
