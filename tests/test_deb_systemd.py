"""Each release's .deb installed on a fresh root of that release (Debian 12 bookworm, Debian 13
trixie) booted by a real systemd (systemd-nspawn).

The package carries its release in its version (~deb12u1, ~deb13u1) and its venv runs on that
release's python3. `apt install ./hellotext-agent_*.deb`, a token and a config give a running
service: the unit reaches active only after READY=1 (Type=notify), `systemctl status` shows
its STATUS= line, a sale printed through the tcp tap reaches the printer unchanged and Hellotext (a
stand-in inside the container, which accepts only the token the credential carries), a
SIGSTOPped agent is restarted by the watchdog, systemd-analyze rates the unit <= 2.0, the
journal holds neither the token nor the customer's phone, `remove` keeps the outbox and
`purge` deletes it.

The packages come from $HELLOTEXT_AGENT_DEB_DIR (the newest ~deb<N>u* in it; .ci/run builds
both there with scripts/build-deb.sh), else each is built here (a few minutes, wheels from the
package index). The roots are cached (tests/nspawn_rig.py); the boot itself needs no mirror.
`-k bookworm` or `-k trixie` picks one release.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from nspawn_rig import RELEASES, Machine, booted, debian_root, why_nspawn_cannot_run

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "agent" / "samples" / "supermercado.bin"  # prints "Cliente Tel: 094 555 010"
PHONE_FORMS = ("094 555 010", "094555010", "94555010", "59894555010")
TOKEN = "tok-nspawn-7f3a9c2e51"
MAX_EXPOSURE = 2.0

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(900),
    pytest.mark.skipif(why_nspawn_cannot_run() is not None, reason=str(why_nspawn_cannot_run())),
]

CONFIG = """\
[hellotext]
api_url = "http://127.0.0.1:8080/v1"

[store]
terminal_id = "caja-nspawn"
country = "UY"
currency = "UYU"
timezone = "America/Montevideo"

[[printer]]
name = "caja"
mode = "tcp"
listen = "127.0.0.1:9100"
target = "127.0.0.1:9101"

[log]
level = "DEBUG"
"""

# The real printer: keeps every byte it receives.
PRINTER = """\
import socket
server = socket.create_server(("127.0.0.1", 9101))
while True:
    conn, _ = server.accept()
    with conn, open("/var/tmp/printed.bin", "ab") as out:
        while chunk := conn.recv(65536):
            out.write(chunk)
            out.flush()
"""

POS = """\
import socket
with socket.create_connection(("127.0.0.1", 9100)) as s:
    s.sendall(open("/mnt/share/sale.bin", "rb").read())
"""


@dataclass(frozen=True)
class Package:
    release: str
    path: Path


@pytest.fixture(scope="module", params=sorted(RELEASES))
def package(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Package:
    release: str = request.param
    pattern = f"hellotext-agent_*~deb{RELEASES[release]}u*_*.deb"
    given = os.environ.get("HELLOTEXT_AGENT_DEB_DIR")
    if given:
        found = sorted(Path(given).glob(pattern), key=lambda p: p.stat().st_mtime)
        if not found:  # asked for, and missing: a failure, not a quiet skip
            pytest.fail(f"no {pattern} in {given}: scripts/build-deb.sh --release {release}"
                        f" --out {given}")  # fmt: skip
        return Package(release, found[-1].resolve())
    out = tmp_path_factory.mktemp(f"deb-{release}")
    build = [str(ROOT / "scripts" / "build-deb.sh"), "--release", release, "--no-lintian"]
    subprocess.run([*build, "--out", str(out)], check=True, timeout=1200)
    return Package(release, next(out.glob(pattern)))


def field(deb: Path, name: str) -> str:
    return subprocess.run(
        ["dpkg-deb", "-f", str(deb), name], capture_output=True, text=True, check=True
    ).stdout.strip()


def depends(deb: Path) -> list[str]:
    """The package's dependencies, first alternative, names only: they go into the root."""
    alternatives = field(deb, "Depends").split(",")
    return [re.split(r"[\s(|:]", alt.strip())[0] for alt in alternatives if alt.strip()]


@pytest.fixture(scope="module")
def machine(package: Package, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Machine]:
    deb = package.path
    root = debian_root(package.release, depends(deb))
    share = tmp_path_factory.mktemp("share")
    shutil.copy(deb, share / deb.name)
    shutil.copy(SAMPLE, share / "sale.bin")
    (share / "agent.toml").write_text(CONFIG)
    (share / "printer.py").write_text(PRINTER)
    (share / "pos.py").write_text(POS)
    with booted(root, share=share, log=share.parent / "console.log") as m:
        out = m.run(f"apt-get install -y /mnt/share/{deb.name} 2>&1", timeout=400)
        assert "Setting up hellotext-agent" in out
        # Not started without a token: it would only exit 78 and leave a failed unit.
        assert "put the Hellotext API token into /etc/hellotext-agent/token" in out
        assert m.run("systemctl is-enabled hellotext-agent").strip() == "enabled"
        assert m.run("systemctl is-active hellotext-agent", check=False).strip() == "inactive"
        m.run(
            "cp /mnt/share/agent.toml /etc/hellotext-agent/agent.toml"
            f" && printf '%s\\n' '{TOKEN}' > /etc/hellotext-agent/token"
            " && systemd-run --quiet --unit=printer --description=printer"
            " /usr/bin/python3 /mnt/share/printer.py"
            # The stand-in's output goes to a file, not the journal: it may print what it got.
            " && systemd-run --quiet --unit=standin --description=stand-in"
            " -p StandardOutput=file:/var/log/standin.log"
            " -p StandardError=file:/var/log/standin.log"
            " /opt/hellotext-agent/venv/bin/hellotext-agent fake-hellotext"
            f" --port 8080 --token {TOKEN}"
        )
        m.wait_for("grep -q listening /var/log/standin.log", timeout=60, what="stand-in up")
        yield m


def show(m: Machine, *props: str) -> dict[str, str]:
    text = m.run(f"systemctl show -p {','.join(props)} hellotext-agent")
    return dict(line.split("=", 1) for line in text.splitlines())


def test_the_package_sets_up_user_files_and_permissions(machine: Machine) -> None:
    listing = machine.run(
        "stat -c '%n %a %U:%G' /etc/hellotext-agent /etc/hellotext-agent/agent.toml"
        " /etc/hellotext-agent/token /var/lib/hellotext-agent"
    )
    assert listing.split("\n")[:4] == [
        "/etc/hellotext-agent 750 root:hellotext-agent",
        "/etc/hellotext-agent/agent.toml 640 root:hellotext-agent",
        "/etc/hellotext-agent/token 600 root:root",
        "/var/lib/hellotext-agent 700 hellotext-agent:hellotext-agent",
    ]
    conffiles = machine.run("cat /var/lib/dpkg/info/hellotext-agent.conffiles")
    assert "/etc/hellotext-agent/agent.toml" in conffiles.split()
    groups = machine.run("id -nG hellotext-agent").split()
    assert {"hellotext-agent", "dialout", "lp", "input"} <= set(groups)


def test_started_it_is_active_after_ready_and_shows_its_status(machine: Machine) -> None:
    machine.run("systemctl start hellotext-agent", timeout=120)  # returns after READY=1
    props = show(machine, "Type", "ActiveState", "SubState", "StatusText")
    assert props["Type"] == "notify"
    assert (props["ActiveState"], props["SubState"]) == ("active", "running")
    assert re.fullmatch(r"\d+ pending.*", props["StatusText"])
    status = machine.run("systemctl status --no-pager hellotext-agent")
    assert f'Status: "{props["StatusText"]}"' in status


def test_a_sale_prints_unchanged_and_reaches_hellotext_with_the_credential(
    machine: Machine,
) -> None:
    # Only the agent's user reads the credential (systemd 252: 0400 owned by that user;
    # systemd 257: root:root 0440 plus an ACL for it).
    credential = "/run/credentials/hellotext-agent.service/hellotext-token"
    agent = "setpriv --reuid=hellotext-agent --regid=hellotext-agent --init-groups"
    assert machine.run(f"{agent} cat {credential}").strip() == TOKEN
    nobody = machine.run(f"setpriv --reuid=nobody --regid=nogroup --clear-groups cat {credential}"
                         " 2>&1", check=False)  # fmt: skip
    assert TOKEN not in nobody and "Permission denied" in nobody
    machine.run("python3 /mnt/share/pos.py")
    machine.wait_for("cmp -s /var/tmp/printed.bin /mnt/share/sale.bin", timeout=30, what="printed")
    # The stand-in answers 401 to any other token: events arriving prove the credential was read.
    events = machine.wait_for(
        "python3 -c 'import json, sys, urllib.request as u;"
        ' e = json.load(u.urlopen("http://127.0.0.1:8080/_control/events"));'
        ' print(json.dumps(e)); sys.exit(0 if e["count"] >= 4 else 1)\'',
        timeout=90,
        what="4 events delivered",
    )
    delivered = json.loads(events)["events"]
    assert {e["metadata"]["terminal"] for e in delivered} == {"caja-nspawn"}
    assert show(machine, "StatusText")["StatusText"].startswith("0 pending")


def test_a_stopped_agent_is_restarted_by_the_watchdog(machine: Machine) -> None:
    before = show(machine, "MainPID", "NRestarts")
    assert int(before["MainPID"]) > 1, before  # `kill -STOP 0` would stop the caller instead
    machine.run(f"kill -STOP {before['MainPID']}")
    # WatchdogSec=30s, then RestartSec=5s: a new process, active again.
    machine.wait_for(
        f'test "$(systemctl show -p NRestarts --value hellotext-agent)" -gt {before["NRestarts"]}'
        " && systemctl is-active -q hellotext-agent",
        timeout=120,
        what="restart after the watchdog",
    )
    after = show(machine, "MainPID", "ActiveState")
    assert after["MainPID"] not in (before["MainPID"], "0")
    journal = machine.run("journalctl -u hellotext-agent -o cat --no-pager")
    assert "Failed with result 'watchdog'" in journal


def test_systemd_rates_the_unit_exposure_at_most_2(machine: Machine) -> None:
    out = machine.run("systemd-analyze security --no-pager hellotext-agent.service")
    match = re.search(r"Overall exposure level for hellotext-agent\.service: ([\d.]+)", out)
    assert match, out[-2000:]
    assert float(match.group(1)) <= MAX_EXPOSURE


def test_the_journal_holds_no_token_and_no_phone(machine: Machine) -> None:
    journal = machine.run("journalctl -o cat --no-pager")
    assert "receipt A-0001-00004521" in journal  # the sale was logged, at DEBUG even
    assert TOKEN not in journal
    for form in PHONE_FORMS:
        assert form not in journal


def test_the_package_belongs_to_its_release(package: Package, machine: Machine) -> None:
    number = RELEASES[package.release]
    version = field(package.path, "Version")
    assert version.endswith(f"~deb{number}u1"), version
    assert machine.run(". /etc/os-release && echo $VERSION_ID").strip() == str(number)
    # The venv runs on the root's own python3, the one the package depends on.
    python = "import sys; print(f'python{sys.version_info[0]}.{sys.version_info[1]}')"
    system = machine.run(f'python3 -c "{python}"').strip()
    assert machine.run(f'/opt/hellotext-agent/venv/bin/python -c "{python}"').strip() == system
    assert system in depends(package.path)


def test_remove_keeps_the_outbox_and_purge_deletes_it(machine: Machine) -> None:
    machine.run("apt-get remove -y hellotext-agent", timeout=180)
    assert machine.run("systemctl is-active hellotext-agent", check=False).strip() != "active"
    machine.run("test -s /var/lib/hellotext-agent/outbox.db && test -s /etc/hellotext-agent/token")
    machine.run("test ! -e /opt/hellotext-agent/venv")
    machine.run("apt-get purge -y hellotext-agent", timeout=180)
    machine.run("test ! -e /var/lib/hellotext-agent && test ! -e /etc/hellotext-agent")
