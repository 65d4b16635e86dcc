"""A minimal Debian 12 or 13 booted by its own systemd in systemd-nspawn, for the package's tests.

Each release's root is built once with mmdebstrap (the only step that needs a Debian mirror:
$HELLOTEXT_DEBIAN_MIRROR, $HELLOTEXT_DEBIAN_SECURITY, as for scripts/build-deb.sh) and cached
outside the repository, in /var/cache/hellotext-agent-test/<release>-root (the folder is
$HELLOTEXT_AGENT_TEST_ROOT); later runs reuse it. Each boot mounts it read-only under a tmpfs
overlay (`--volatile=overlay`), so what a test installs vanishes at power-off and the cache
stays pristine. The container has its own network namespace with only loopback
(`--private-network`). Commands run inside through nsenter into the container's PID 1.

Never boot systemd against the machine's own root: its tmpfiles service empties /tmp.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

CACHE = Path(os.environ.get("HELLOTEXT_AGENT_TEST_ROOT", "/var/cache/hellotext-agent-test"))
BASE_PACKAGES = ("systemd", "systemd-sysv", "dbus", "python3")
# The releases a package is built for (scripts/build-deb.sh --release): codename, Debian number.
RELEASES = {"bookworm": 12, "trixie": 13}
PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


def why_nspawn_cannot_run() -> str | None:
    """A reason to skip, or None when a container can be booted here."""
    if os.geteuid() != 0:
        return "systemd-nspawn needs root (run the slow tests as root, as .ci/run does)"
    for tool in ("systemd-nspawn", "mmdebstrap", "nsenter"):
        if shutil.which(tool) is None:
            return f"{tool} is missing (apt-get install systemd-container mmdebstrap)"
    if not Path("/sys/fs/cgroup").is_dir():
        return "no cgroup file system: systemd cannot boot in a container here"
    return None


def mirrors(release: str) -> list[str]:
    """The release's sources, one `deb` line each: main, updates and security."""
    main = os.environ.get("HELLOTEXT_DEBIAN_MIRROR", "http://deb.debian.org/debian")
    security = os.environ.get("HELLOTEXT_DEBIAN_SECURITY", "http://deb.debian.org/debian-security")
    return [f"deb {main} {release} main", f"deb {main} {release}-updates main",
            f"deb {security} {release}-security main"]  # fmt: skip


def debian_root(release: str, packages: list[str]) -> Path:
    """The cached root of `release` holding BASE_PACKAGES and `packages`; built (30-60 s) when
    missing or when the package asks for others."""
    if release not in RELEASES:
        raise ValueError(f"unknown release {release!r}: want one of {', '.join(RELEASES)}")
    wanted = sorted({*BASE_PACKAGES, *packages})
    root = CACHE / f"{release}-root"
    stamp = CACHE / f"{release}-root.packages"
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one builder at a time; the others wait and reuse
        if root.is_dir() and stamp.exists() and stamp.read_text().split() == wanted:
            return root
        partial = CACHE / f"{release}-root.partial-{os.getpid()}"
        shutil.rmtree(partial, ignore_errors=True)
        command = ["mmdebstrap", "--variant=minbase", f"--include={','.join(wanted)}"]
        command += [release, str(partial), *mirrors(release)]
        built = subprocess.run(command, capture_output=True, text=True, timeout=900)
        if built.returncode != 0:
            shutil.rmtree(partial, ignore_errors=True)
            raise RuntimeError(f"mmdebstrap failed:\n{built.stderr[-3000:]}")
        shutil.rmtree(root, ignore_errors=True)
        partial.rename(root)
        stamp.write_text("\n".join(wanted) + "\n")
        return root


class Machine:
    """A booted container: `run()` executes a shell command inside, as root."""

    def __init__(self, process: subprocess.Popen[bytes], leader: int, log: Path) -> None:
        self.process = process
        self.leader = leader
        self.log = log

    def run(self, script: str, *, timeout: float = 120, check: bool = True) -> str:
        done = subprocess.run(
            [
                "nsenter",
                "-t",
                str(self.leader),
                "-a",
                "env",
                "-i",
                f"PATH={PATH}",
                "LANG=C.UTF-8",
                "DEBIAN_FRONTEND=noninteractive",
                "/bin/sh",
                "-c",
                script,
            ],  # fmt: skip
            capture_output=True,
            text=True,
            timeout=timeout,
            start_new_session=True,  # a signal to a process group never reaches pytest
        )
        if check and done.returncode != 0:
            raise AssertionError(
                f"{script!r} exited {done.returncode}:\n{done.stdout}{done.stderr}"
            )
        return done.stdout

    def wait_for(self, script: str, *, timeout: float, what: str) -> str:
        """Run `script` until it exits 0 (polled each second); its output."""
        deadline = time.monotonic() + timeout
        while True:
            done = subprocess.run(
                [
                    "nsenter",
                    "-t",
                    str(self.leader),
                    "-a",
                    "env",
                    "-i",
                    f"PATH={PATH}",
                    "/bin/sh",
                    "-c",
                    script,
                ],  # fmt: skip
                capture_output=True,
                text=True,
                timeout=60,
                start_new_session=True,
            )
            if done.returncode == 0:
                return done.stdout
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{what}: not within {timeout:.0f} s ({done.stdout}{done.stderr})"
                )
            time.sleep(1)


@contextlib.contextmanager
def booted(root: Path, *, share: Path, log: Path) -> Iterator[Machine]:
    """Boot `root` (volatile overlay, loopback-only network) with `share` at /mnt/share."""
    command = ["systemd-nspawn", "-q", "-D", str(root), "--volatile=overlay", "--boot",
               "--register=no", "--keep-unit", "--private-network", "--console=read-only",
               f"--bind-ro={share}:/mnt/share",
               f"--machine=hellotext-test-{os.getpid()}"]  # fmt: skip
    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    try:
        leader = _leader(process, log)
        machine = Machine(process, leader, log)
        # Until PID 1 has its private socket, systemctl fails at once: poll, then wait.
        state = machine.wait_for(
            "systemctl is-system-running --wait | grep -qxE 'running|degraded'"
            " && systemctl is-system-running",
            timeout=120,
            what=f"boot (console: {log})",
        )
        assert state.strip() in ("running", "degraded"), state
        yield machine
    finally:
        _power_off(process)


def _leader(process: subprocess.Popen[bytes], log: Path) -> int:
    """The container's PID 1: nspawn's child."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"systemd-nspawn exited {process.returncode}:\n{log.read_text()}")
        with contextlib.suppress(OSError):
            for children in Path(f"/proc/{process.pid}/task").glob("*/children"):
                pids = children.read_text().split()
                if pids and Path(f"/proc/{pids[0]}/comm").read_text().strip() == "systemd":
                    return int(pids[0])
        time.sleep(0.2)
    raise AssertionError("the container's systemd did not start within 60 s")


def _power_off(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()  # nspawn asks the container's systemd to power off
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)
