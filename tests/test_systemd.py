"""The systemd unit: systemd itself verifies it and rates its hardening, the agent runs under
its memory protection, and the unit agrees with the code (paths, credential, exit codes).

`systemd-analyze verify` refuses a unit whose ExecStart binary is missing, and the agent's
venv (/opt/hellotext-agent/venv) does not exist on a build machine. So the unit is verified
with `--root=` pointing at a fake root: the host's own unit library copied in (so that
sysinit.target, multi-user.target... resolve as on a real till), the unit file unchanged in
etc/systemd/system, and an executable stand-in at the ExecStart path. systemd then checks
every directive, the dependencies and the ExecStart path inside that root; a test shows it
does fail on a bad unit, so passing means something.
"""

from __future__ import annotations

import ctypes
import errno
import os
import re
import shutil
import subprocess
import sys
import tomllib
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

from agent.cli import doctor_devices
from agent.cli.common import EXIT_CONFIG
from agent.config import (
    CREDENTIAL_NAME,
    DEFAULT_PATH,
    AgentConfig,
    OutboxSection,
    PrinterMode,
    VariableMeasureLayout,
    load_config,
)

ROOT = Path(__file__).resolve().parent.parent
UNIT = ROOT / "systemd" / "hellotext-agent.service"
EXAMPLE = ROOT / "systemd" / "agent.toml.example"
ANALYZE = shutil.which("systemd-analyze")
HOST_UNITS = next(
    (p for p in (Path("/usr/lib/systemd/system"), Path("/lib/systemd/system")) if p.is_dir()),
    None,
)
needs_analyze = pytest.mark.skipif(
    ANALYZE is None or HOST_UNITS is None,
    reason="systemd-analyze or the host's unit library is missing (apt-get install systemd)",
)
MAX_EXPOSURE = 2.0


def unit_settings(text: str) -> dict[str, list[str]]:
    """`Key=value` lines of the unit, each key with all its values in order."""
    settings: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def fake_root(tmp_path: Path, unit_text: str, *, with_binary: bool = True) -> Path:
    assert HOST_UNITS is not None
    root = tmp_path / "root"
    shutil.copytree(HOST_UNITS, root / "usr/lib/systemd/system", symlinks=True)
    (root / "etc/systemd/system").mkdir(parents=True)
    (root / "etc/systemd/system/hellotext-agent.service").write_text(unit_text)
    exec_start = unit_settings(unit_text)["ExecStart"][0].split()[0]
    if with_binary:
        binary = root / exec_start.lstrip("/")
        binary.parent.mkdir(parents=True)
        binary.write_text("#!/bin/sh\nexit 0\n")
        binary.chmod(0o755)
    return root


def verify(root: Path) -> subprocess.CompletedProcess[str]:
    assert ANALYZE is not None
    return subprocess.run(
        [ANALYZE, "verify", f"--root={root}", "hellotext-agent.service"],
        capture_output=True,
        text=True,
        timeout=30,
    )


@needs_analyze
def test_systemd_verify_accepts_the_unit(tmp_path: Path) -> None:
    result = verify(fake_root(tmp_path, UNIT.read_text()))
    # Unknown keys and bad values are only warnings (exit 0): any output is a failure too.
    assert (result.returncode, result.stderr, result.stdout) == (0, "", "")


@needs_analyze
@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (("Type=notify", "Type=notifyy"), "Failed to parse service type"),
        (("WatchdogSec=", "WatchdogSecs="), "Unknown key"),
        (None, "not executable"),
    ],
    ids=["bad-value", "misspelt-key", "missing-exec-start"],
)
def test_systemd_verify_catches_a_broken_unit(
    tmp_path: Path, change: tuple[str, str] | None, complaint: str
) -> None:
    text = UNIT.read_text()
    if change is not None:
        assert change[0] in text
        text = text.replace(change[0], change[1], 1)
    result = verify(fake_root(tmp_path, text, with_binary=change is not None))
    assert complaint in result.stderr


@needs_analyze
def test_hardening_exposure_is_at_most_2(tmp_path: Path) -> None:
    assert ANALYZE is not None
    result = subprocess.run(
        [ANALYZE, "security", "--offline=true", "--no-pager", str(UNIT)],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=tmp_path,
    )
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert match, result.stdout + result.stderr
    exposure = float(match[1])
    print(f"systemd-analyze security: overall exposure {exposure} (limit {MAX_EXPOSURE})")
    assert exposure <= MAX_EXPOSURE
    # systemd understood the directives that matter most (a typo would show as ✗).
    passed = {line.split()[1] for line in result.stdout.splitlines() if line.startswith("✓")}
    for directive in (
        "NoNewPrivileges=",
        "MemoryDenyWriteExecute=",
        "ProtectSystem=",
        "CapabilityBoundingSet=~CAP_SYS_ADMIN",
        "SystemCallFilter=~@privileged",
        "SystemCallFilter=~@resources",
        "RestrictAddressFamilies=~AF_PACKET",
        "User=/DynamicUser=",
        "UMask=",
    ):
        assert directive in passed, f"{directive} not enforced"


def test_unit_agrees_with_the_agent() -> None:
    unit = unit_settings(UNIT.read_text())
    assert unit["Type"] == ["notify"] and unit["NotifyAccess"] == ["main"]
    assert unit["WatchdogSec"] and unit["Restart"] == ["always"]
    # Signals must reach Python: the binary itself, no shell in between.
    assert unit["ExecStart"] == [
        f"/opt/hellotext-agent/venv/bin/hellotext-agent --config {DEFAULT_PATH} run"
    ]
    # The agent exits 78 on a bad config: no restart loop on it.
    assert unit["RestartPreventExitStatus"] == [str(EXIT_CONFIG)]
    # `run` finishes in-flight work within 10 s of SIGTERM: give it more before SIGKILL.
    assert int(unit["TimeoutStopSec"][0].rstrip("s")) > 10
    # The agent reads $CREDENTIALS_DIRECTORY/<CREDENTIAL_NAME>.
    assert unit["LoadCredential"] == [f"{CREDENTIAL_NAME}:{DEFAULT_PATH.parent}/token"]
    # The default outbox lives in the one writable state directory.
    outbox_dir = OutboxSection().path.parent
    assert outbox_dir == Path("/var/lib") / unit["StateDirectory"][0]
    assert unit["ConfigurationDirectory"] == [DEFAULT_PATH.parent.name]
    assert unit["User"] == ["hellotext-agent"]
    assert set(unit["SupplementaryGroups"][0].split()) == {"dialout", "lp", "input"}
    # The serial tap's pty symlinks (example config) go to the runtime directory.
    links = re.findall(r'^#?link = "(.+)"$', EXAMPLE.read_text(), re.MULTILINE)
    assert links and {str(Path(link).parent) for link in links} == {
        f"/run/{unit['RuntimeDirectory'][0]}"
    }
    # DevicePolicy=closed: serial, USB printer, input and the ptys the serial tap creates.
    allowed = {entry.split()[0] for entry in unit["DeviceAllow"]}
    assert unit["DevicePolicy"] == ["closed"]
    assert {"char-ttyS", "char-ttyUSB", "char-ttyACM", "char-usb", "char-input"} <= allowed
    assert {"/dev/ptmx", "char-pts"} <= allowed
    # doctor judges devices by the same groups, runtime directory and device list.
    assert set(doctor_devices.SERVICE_GROUPS) == set(unit["SupplementaryGroups"][0].split())
    assert Path("/run") / unit["RuntimeDirectory"][0] == doctor_devices.RUNTIME_DIR
    assert {f"char-{name}" for name in doctor_devices.DEVICE_ALLOW} == {
        entry for entry in allowed if entry.startswith("char-")
    }
    assert "PrivateDevices" not in unit
    # Printing must not wait for the internet at boot: the agent works offline.
    ordering = " ".join(unit.get("After", []) + unit.get("Wants", []) + unit.get("Requires", []))
    assert "network-online.target" not in ordering


# The child turns on the kernel's W^X lock (PR_SET_MDWE, Linux 6.3+, what systemd's
# MemoryDenyWriteExecute= gives), then execs Python, which loads the agent, its libraries
# and runs `config check`. A W+X mapping must then be refused, or the lock was not on.
_MDWE_CHILD = r"""
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(65, 1, 0, 0, 0) != 0:  # PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN
    sys.exit(200 + ctypes.get_errno() % 50)
os.execv(sys.executable, [sys.executable, "-c", sys.argv[1], *sys.argv[2:]])
"""
_UNDER_MDWE = r"""
import importlib, mmap, os, pkgutil, sqlite3, sys, tempfile
import agent, drivers, evdev, httpx, phonenumbers, serial
from agent.cli import main
try:
    mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    sys.exit("W+X mapping allowed: MDWE is not on")
except PermissionError:
    pass
for package in (agent, drivers):  # every module of the agent, with its C extensions
    for module in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
        importlib.import_module(module.name)
with httpx.Client() as client, tempfile.TemporaryDirectory() as tmp:
    db = sqlite3.connect(tmp + "/o.db")
    db.execute("pragma journal_mode=wal")
    db.execute("create table t (x)")
    db.commit()
    phonenumbers.parse("099 123 456", "UY")
    controller, device = os.openpty()
    port = serial.Serial(os.ttyname(device), 9600, timeout=0)
    os.write(controller, b"ok")
    port.close()
sys.exit(main(["--config", sys.argv[1], "config", "check"]))
"""


def test_agent_runs_under_memory_deny_write_execute() -> None:
    if not hasattr(ctypes, "CDLL") or sys.platform != "linux":
        pytest.skip("Linux only")
    result = subprocess.run(
        [sys.executable, "-c", _MDWE_CHILD, _UNDER_MDWE, str(EXAMPLE)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    if result.returncode == 200 + errno.EINVAL:
        pytest.skip("the kernel has no PR_SET_MDWE (Linux < 6.3)")
    assert result.returncode == 0, result.stderr
    assert "config OK" in result.stdout


def test_example_config_is_valid_as_installed() -> None:
    config = load_config(EXAMPLE)
    assert config.printer == [] and config.scanner == []
    assert config.outbox.path == OutboxSection().path


def _fields(model: type[BaseModel]) -> set[str]:
    return {name for name, field in model.model_fields.items() if not field.exclude}


def test_example_config_documents_every_key(tmp_path: Path) -> None:
    """Uncommented, the examples are a valid config that uses every key the agent knows."""
    # "#key = ..." and "#[[table]]" are examples to uncomment; "# text" is prose.
    uncommented = re.sub(r"^#(?=\[|[a-z_]+ = )", "", EXAMPLE.read_text(), flags=re.MULTILINE)
    path = tmp_path / "agent.toml"
    path.write_text(uncommented)
    config = load_config(path)  # every example is valid
    data = tomllib.loads(uncommented)
    assert set(data) == set(AgentConfig.model_fields)
    for section, field in AgentConfig.model_fields.items():
        annotation = field.annotation
        if isinstance(data[section], list):  # [[printer]], [[scanner]]
            (model,) = typing.get_args(annotation)
            used = set().union(*(item.keys() for item in data[section]))
        else:
            model, used = annotation, set(data[section])
        assert used == _fields(model), section
    layouts = data["barcodes"]["variable_measure"]
    assert set().union(*(layout.keys() for layout in layouts)) == _fields(VariableMeasureLayout)
    # Every printer mode and scanner mode has an example.
    assert {p.mode for p in config.printer} == set(typing.get_args(PrinterMode))
    assert {s.mode for s in config.scanner} == {"serial", "hid"}


def _syscall_groups() -> dict[str, list[str]]:
    assert ANALYZE is not None
    out = subprocess.run(
        [ANALYZE, "syscall-filter", "--no-pager"], capture_output=True, text=True, timeout=30
    ).stdout
    groups: dict[str, list[str]] = {}
    current = ""
    for line in out.splitlines():
        if line.startswith("@"):
            current = line.split()[0]
            groups[current] = []
        elif current and line.strip() and not line.strip().startswith("#"):
            groups[current].append(line.split()[0])
    return groups


def _expand(groups: dict[str, list[str]], name: str) -> set[str]:
    calls: set[str] = set()
    for member in groups.get(name, []):
        calls |= _expand(groups, member) if member.startswith("@") else {member}
    return calls


@needs_analyze
@pytest.mark.slow  # the agent under strace: ~17 s, run by .ci/run after the fast suite
@pytest.mark.skipif(
    shutil.which("strace") is None, reason="strace is missing: apt-get install strace"
)
def test_agent_stays_inside_the_units_syscall_and_socket_filters(tmp_path: Path) -> None:
    """The demo (taps, scanner, outbox, sync, HTTP) traced with strace: every system call is
    in what SystemCallFilter= allows and every socket in RestrictAddressFamilies=."""
    unit = unit_settings(UNIT.read_text())
    allow_spec, deny_spec = unit["SystemCallFilter"]
    groups = _syscall_groups()
    allowed = set().union(*(_expand(groups, g) for g in allow_spec.split()))
    denied = set().union(*(_expand(groups, g) for g in deny_spec.lstrip("~").split()))
    assert allowed and denied
    trace = tmp_path / "trace"
    result = subprocess.run(
        ["strace", "-f", "-qq", "-o", str(trace), sys.executable, "-m", "agent.cli", "demo"]
        + ["--pause", "0.1"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "120"},
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    text = trace.read_text()
    used = set(re.findall(r"^\d+\s+(\w+)\(", text, re.MULTILINE))
    assert {"socket", "connect", "openat"} <= used  # the trace is real
    assert used - allowed == set()
    # SQLite fchown()s its journal to the database's owner only when running as root (as
    # this test may); under the service user it does not, and EPERM would be ignored.
    assert used & denied <= ({"fchown"} if os.geteuid() == 0 else set())
    families = set(re.findall(r"socket\((AF_\w+)", text))
    assert families <= set(unit["RestrictAddressFamilies"][0].split())
