"""`hellotext-agent doctor`: each check against the real thing (a TCP listener on loopback, a
pty, a missing device, the local Hellotext stand-in, healthy and damaged SQLite files), and
the command's lines and exit codes as an installer sees them."""

from __future__ import annotations

import grp
import os
import pwd
import socket
import sqlite3
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from agent.cli import main
from agent.cli.common import EXIT_CONFIG
from agent.cli.doctor import (
    check_clock,
    check_disk,
    check_outbox,
    check_token,
    exit_code,
    free_space,
    run_checks,
)
from agent.cli.doctor_devices import (
    Finding,
    Identity,
    char_majors,
    check_device,
    check_listen,
    check_tcp_target,
    device_checks,
)
from agent.config import AgentConfig
from agent.standin.server import FakeHellotext

STRANGER = Identity("hellotext-agent", uid=54321, gids=frozenset({54321}), is_self=False)


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server


@pytest.fixture
def pty_path() -> Iterator[str]:
    controller, device = os.openpty()
    try:
        yield os.ttyname(device)
    finally:
        os.close(controller)
        os.close(device)


@pytest.fixture
def fake() -> Iterator[FakeHellotext]:
    with FakeHellotext(token="t") as server:
        yield server


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as http:
        yield http


def closed_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as server:
        return int(server.getsockname()[1])


def test_printer_target_reachable_or_not(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    assert check_tcp_target("printer", f"127.0.0.1:{port}").status == "OK"
    refused = check_tcp_target("printer", f"127.0.0.1:{closed_port()}")
    assert refused.status == "FAIL" and "cannot connect" in refused.detail


def test_listen_address_free_held_or_foreign(listener: socket.socket) -> None:
    assert check_listen("listen", f"127.0.0.1:{closed_port()}").status == "OK"
    held = check_listen("listen", f"127.0.0.1:{listener.getsockname()[1]}")
    assert held.status == "WARN" and "in use" in held.detail
    # 192.0.2.0/24 is documentation space: no interface of this machine has it.
    foreign = check_listen("listen", "192.0.2.7:9100")
    assert foreign.status == "FAIL" and "cannot listen" in foreign.detail


def test_device_present_and_openable(pty_path: str) -> None:
    found = check_device("scanner lector port", pty_path, Identity.current())
    assert found == Finding(
        "OK", "scanner lector port", f"{pty_path} read-write for {Identity.current().name}"
    )


def test_missing_device_fails_with_what_to_do(tmp_path: Path) -> None:
    found = check_device("printer caja target", str(tmp_path / "ttyUSB9"), Identity.current())
    assert found.status == "FAIL" and "not found: plug the device in" in found.detail


def test_device_of_a_group_the_user_lacks_names_the_group(tmp_path: Path) -> None:
    device = tmp_path / "ttyS9"
    device.touch()
    device.chmod(0o660)
    group = grp.getgrgid(device.stat().st_gid).gr_name
    found = check_device("printer caja target", str(device), STRANGER)
    assert found.status == "FAIL"
    assert f"add hellotext-agent to group {group}" in found.detail
    # The owner's bits apply to the owner even when the group could (as the kernel does).
    if os.geteuid() == 0:
        os.chown(device, 54320, -1)  # root is never refused: give the file a plain owner
    owner = Identity("owner", device.stat().st_uid, frozenset({device.stat().st_gid}), False)
    device.chmod(0o060)
    assert check_device("x", str(device), owner).status == "FAIL"
    device.chmod(0o640)
    member = Identity("member", 54321, frozenset({device.stat().st_gid}), False)
    assert check_device("x", str(device), member, "r").status == "OK"
    assert check_device("x", str(device), member, "rw").status == "FAIL"


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to dialout needs root")
def test_serial_device_owned_by_dialout(tmp_path: Path) -> None:
    try:
        dialout = grp.getgrnam("dialout").gr_gid
    except KeyError:
        pytest.skip("no dialout group on this machine")
    device = tmp_path / "ttyUSB0"
    device.touch()
    os.chown(device, 0, dialout)
    device.chmod(0o660)
    found = check_device("scanner lector port", str(device), STRANGER)
    # dialout is already in the unit's SupplementaryGroups=: only the membership is missing.
    assert (
        found.detail == f"{device} belongs to group dialout: add hellotext-agent to group dialout"
    )


def test_device_outside_the_units_device_cgroup(pty_path: str) -> None:
    """DevicePolicy=closed: a device whose driver the unit does not list is refused, however
    its permissions look, so doctor says which DeviceAllow= to add."""
    majors = char_majors(Path("/proc/devices").read_text())
    assert check_device("scanner", pty_path, Identity.current(), "rw", majors).status == "OK"
    everyone = Identity("hellotext-agent", 54321, frozenset(), is_self=False)
    tty = check_device("printer", "/dev/tty", everyone, "rw", majors)  # 5:0, mode 666
    assert tty.status == "WARN" and "add DeviceAllow=/dev/tty rw" in tty.detail


@pytest.mark.skipif(os.geteuid() != 0, reason="mknod needs root")
def test_usb_serial_adapter_needs_its_driver_listed(tmp_path: Path) -> None:
    node = tmp_path / "ttyUSB0"
    os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(188, 0))
    node.chmod(0o666)  # past the umask
    everyone = Identity("hellotext-agent", 54321, frozenset(), is_self=False)
    loaded = char_majors("Character devices:\n  4 ttyS\n188 ttyUSB\n\nBlock devices:\n")
    assert check_device("p", str(node), everyone, "rw", loaded).status == "OK"
    # usbserial not loaded when the service started: systemd resolved char-ttyUSB to nothing.
    missing = check_device("p", str(node), everyone, "rw", char_majors("Character devices:\n"))
    assert missing.status == "WARN" and "(188:0)" in missing.detail


def test_token_accepted_refused_or_unreachable(
    fake: FakeHellotext, client: httpx.Client, tmp_path: Path
) -> None:
    credential = tmp_path / "token"
    ok, server_date = check_token(fake.url, "t", client, credential)
    assert ok.status == "OK" and server_date is not None
    assert abs(datetime.now(UTC) - server_date) < timedelta(minutes=1)
    refused, _ = check_token(fake.url, "wrong", client, credential)
    assert refused.status == "FAIL" and "token refused (401)" in refused.detail
    assert "wrong" not in refused.detail
    gone, no_date = check_token(f"http://127.0.0.1:{closed_port()}/v1", "t", client, credential)
    assert gone.status == "FAIL" and "cannot reach" in gone.detail and no_date is None
    missing, _ = check_token(fake.url, None, client, credential)
    assert missing.status == "FAIL" and str(credential) in missing.detail


def test_clock() -> None:
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert check_clock(now, None).status == "OK"
    assert check_clock(now, now - timedelta(minutes=4)).status == "OK"
    ahead = check_clock(now, now - timedelta(minutes=10))
    assert ahead.status == "FAIL" and "10 min ahead of" in ahead.detail
    behind = check_clock(now, now + timedelta(hours=1))
    assert behind.status == "FAIL" and "60 min behind" in behind.detail
    assert check_clock(datetime(1970, 1, 1, tzinfo=UTC), None).status == "FAIL"


def test_disk(tmp_path: Path) -> None:
    assert check_disk(tmp_path, 99 * 1024 * 1024).status == "WARN"
    assert check_disk(tmp_path, 500 * 1024 * 1024).status == "OK"
    where, free = free_space(tmp_path / "not" / "yet" / "outbox.db")
    assert where == tmp_path and free > 0
    assert not (tmp_path / "not").exists()


def test_outbox_missing_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    assert check_outbox(path).status == "OK"
    assert list(tmp_path.iterdir()) == []


def _outbox(path: Path, rows: int = 3000) -> sqlite3.Connection:
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=wal")
    db.execute("CREATE TABLE events (id TEXT PRIMARY KEY, body TEXT)")
    db.executemany("INSERT INTO events VALUES (?, ?)", ((f"e{i}", "x" * 80) for i in range(rows)))
    db.commit()
    return db


def test_healthy_outbox_while_the_agent_holds_it(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    agent = _outbox(path)  # still open, as under the running agent
    try:
        found = check_outbox(path)
        assert found.status == "OK" and "passes quick_check" in found.detail
        agent.execute("INSERT INTO events VALUES ('after', 'doctor')")
        agent.commit()  # doctor left no lock behind
    finally:
        agent.close()


def test_damaged_outbox_fails(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    _outbox(path).close()
    data = bytearray(path.read_bytes())
    page = 4096
    assert len(data) > 20 * page
    data[5 * page : 15 * page] = b"\xa5" * (10 * page)  # the header stays, pages are trashed
    path.write_bytes(bytes(data))
    found = check_outbox(path)
    assert found.status == "FAIL" and "is damaged" in found.detail

    path.write_bytes(b"not a database at all" * 100)
    assert check_outbox(path).status == "FAIL"


def test_run_checks_and_exit_code(
    fake: FakeHellotext,
    client: httpx.Client,
    listener: socket.socket,
    pty_path: str,
    tmp_path: Path,
) -> None:
    config = AgentConfig(
        hellotext={"api_url": fake.url, "token": "t"},
        outbox={"path": tmp_path / "outbox.db"},
        printer=[
            {
                "name": "caja",
                "mode": "tcp",
                "listen": f"127.0.0.1:{closed_port()}",
                "target": f"127.0.0.1:{listener.getsockname()[1]}",
            }
        ],
        scanner=[{"name": "lector", "mode": "serial", "port": pty_path}],
        # Tesseract is a Debian program a fresh clone may lack: its check has its own tests
        # (tests/cli/test_raster_cli.py); here every other check must say OK.
        receipts={"ocr": "off"},
    )
    findings = run_checks(
        config,
        who=Identity.current(),
        client=client,
        now=datetime.now(UTC),
        credential=tmp_path / "token",
    )
    names = [f.name for f in findings]
    assert names == [
        "printer caja listen",
        "printer caja target",
        "scanner lector port",
        "token",
        "clock",
        "disk",
        "outbox",
        "ocr",
    ]
    assert {f.status for f in findings} == {"OK"}, findings
    assert exit_code(findings) == 0
    assert exit_code([*findings, Finding("WARN", "disk", "low")]) == 0
    assert exit_code([*findings, Finding("FAIL", "token", "refused")]) == 1


def _write_config(path: Path, api_url: str, outbox: Path, scanner_port: str) -> None:
    path.write_text(
        f'[hellotext]\napi_url = "{api_url}"\n'
        f'[outbox]\npath = "{outbox}"\n'
        f'[[scanner]]\nname = "lector"\nmode = "serial"\nport = "{scanner_port}"\n'
        '[receipts]\nocr = "off"\n'  # as above: OCR's check is tested where Tesseract is known
    )


def test_doctor_command_lines_and_exit_codes(
    fake: FakeHellotext, pty_path: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    me = pwd.getpwuid(os.geteuid()).pw_name
    config = tmp_path / "agent.toml"
    token = tmp_path / "token"  # beside the config, as /etc/hellotext-agent/token
    token.write_text("t\n")
    token.chmod(0o600)
    _write_config(config, fake.url, tmp_path / "outbox.db", pty_path)
    assert main(["--config", str(config), "doctor", "--user", me]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 7 and all(line.startswith("OK ") for line in lines), lines
    assert any("accepted by" in line for line in lines)

    _write_config(config, fake.url, tmp_path / "outbox.db", str(tmp_path / "ttyACM7"))
    token.write_text("revoked\n")
    assert main(["--config", str(config), "doctor", "--user", me]) == 1
    out = capsys.readouterr().out
    assert "FAIL scanner lector port" in out and "ttyACM7 not found" in out
    assert "token refused (401)" in out and "revoked" not in out

    config.write_text('[store]\ncurrency = "XXZ"\n')
    assert main(["--config", str(config), "doctor"]) == EXIT_CONFIG
    assert "FAIL config" in capsys.readouterr().out


def test_a_config_with_no_printer_and_no_scanner_is_warned(tmp_path: Path) -> None:
    """Nothing to read sales from is not OK; a kiosk-only till (ingest on) is."""
    empty = AgentConfig(outbox={"path": tmp_path / "outbox.db"})
    findings = list(device_checks(empty, Identity.current()))
    assert [(f.status, f.name) for f in findings] == [("WARN", "devices")]
    assert "nothing to read sales from" in findings[0].detail
    assert "[[printer]]" in findings[0].detail
    ingest = empty.ingest.model_copy(update={"token": SecretStr("app-token")})
    kiosk = empty.model_copy(update={"ingest": ingest})
    findings = list(device_checks(kiosk, Identity.current()))
    assert [(f.status, f.name) for f in findings] == [("OK", "devices")]
    assert "in-store apps" in findings[0].detail
