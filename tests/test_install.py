"""systemd/install.sh into a temporary root: the files, their modes and owners, the user, the
enabled unit, idempotence, and never overwriting an installer's config or token.

The root starts like a Debian till's /etc (root, dialout=20, lp=7; no input group), so the
test also shows that existing groups are reused and a missing one is created. Owners are
read back as numbers from the root's own passwd/group, as systemd would resolve them there.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
INSTALL = ROOT / "systemd" / "install.sh"
NAME = "hellotext-agent"

# Only the tests that install need root; --help and a bad option are answered before
# install.sh checks for root, so those two run everywhere.
needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("systemd-sysusers") is None,
    reason="install.sh needs root (it sets owners) and systemd-sysusers (apt-get install systemd)",
)


def run_install(root: Path, *args: str, env: dict[str, str] | None = None) -> str:
    environ = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root")}
    environ.update(env or {})
    result = subprocess.run(
        ["sh", str(INSTALL), "--root", str(root), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=environ,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def debian_root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (root / "etc/group").write_text("root:x:0:\ndialout:x:20:\nlp:x:7:\n")
    return root


def entries(path: Path) -> dict[str, list[str]]:
    return {line.split(":")[0]: line.split(":") for line in path.read_text().splitlines()}


def owner_mode(path: Path) -> tuple[int, int, str]:
    info = path.lstat()
    return info.st_uid, info.st_gid, oct(stat.S_IMODE(info.st_mode))


def snapshot(root: Path) -> dict[str, tuple[object, ...]]:
    """Everything an installer would notice changing; directory mtimes aside (lock files)."""
    state: dict[str, tuple[object, ...]] = {}
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        key = str(path.relative_to(root))
        if path.is_symlink():
            state[key] = ("link", os.readlink(path))
        elif path.is_dir():
            state[key] = ("dir", info.st_mode, info.st_uid, info.st_gid)
        else:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            state[key] = ("file", info.st_mode, info.st_uid, info.st_gid, info.st_mtime_ns, digest)
    return state


HOST_FILES = ("/etc/passwd", "/etc/group", "/etc/shadow", "/etc/gshadow")


def host_state() -> dict[str, str]:
    return {
        path: hashlib.sha256(Path(path).read_bytes()).hexdigest()
        for path in HOST_FILES
        if Path(path).exists()
    } | {"unit": str(Path("/etc/systemd/system/hellotext-agent.service").exists())}


@pytest.fixture
def installed(tmp_path: Path) -> Iterator[Path]:
    host = host_state()
    root = debian_root(tmp_path)
    run_install(root, "--no-venv")
    yield root
    assert host_state() == host, "install.sh --root touched the host"


@needs_root
def test_install_creates_user_files_and_permissions(installed: Path) -> None:
    root = installed
    users, groups = entries(root / "etc/passwd"), entries(root / "etc/group")
    user = users[NAME]
    uid, gid = int(user[2]), int(user[3])
    assert uid != 0 and int(groups[NAME][2]) == gid
    assert user[5:] == ["/var/lib/hellotext-agent", "/usr/sbin/nologin"]
    # Existing device groups keep their ids; the missing one is created; all list the agent.
    assert groups["dialout"][2] == "20" and groups["lp"][2] == "7"
    for group in ("dialout", "lp", "input"):
        assert NAME in groups[group][3].split(","), group

    expected = {
        "etc/hellotext-agent": (0, gid, "0o750"),
        "etc/hellotext-agent/templates": (0, gid, "0o750"),
        "etc/hellotext-agent/agent.toml": (0, gid, "0o640"),
        "etc/hellotext-agent/token": (0, 0, "0o600"),
        "var/lib/hellotext-agent": (uid, gid, "0o700"),
        "opt/hellotext-agent": (0, 0, "0o755"),
        "etc/systemd/system/hellotext-agent.service": (0, 0, "0o644"),
        "etc/sysusers.d/hellotext-agent.conf": (0, 0, "0o644"),
        "etc/modules-load.d/hellotext-agent.conf": (0, 0, "0o644"),
    }
    for path, want in expected.items():
        assert owner_mode(root / path) == want, path

    assert (root / "etc/hellotext-agent/agent.toml").read_text() == (
        ROOT / "systemd/agent.toml.example"
    ).read_text()
    assert (root / "etc/hellotext-agent/token").read_bytes() == b""
    assert (root / "etc/systemd/system/hellotext-agent.service").read_text() == (
        ROOT / "systemd/hellotext-agent.service"
    ).read_text()
    wants = root / "etc/systemd/system/multi-user.target.wants/hellotext-agent.service"
    assert os.readlink(wants) == "/etc/systemd/system/hellotext-agent.service"
    modules = (root / "etc/modules-load.d/hellotext-agent.conf").read_text().split()
    assert {"usbserial", "cdc_acm"} <= set(modules)
    assert not (root / "opt/hellotext-agent/venv").exists()  # --no-venv


@needs_root
def test_install_twice_changes_nothing(installed: Path) -> None:
    before = snapshot(installed)
    out = run_install(installed, "--no-venv")
    assert snapshot(installed) == before
    assert "kept existing /etc/hellotext-agent/agent.toml" in out


@needs_root
def test_existing_config_and_token_are_never_overwritten(tmp_path: Path) -> None:
    root = debian_root(tmp_path)
    config = root / "etc/hellotext-agent/agent.toml"
    token = root / "etc/hellotext-agent/token"
    config.parent.mkdir(parents=True)
    config.write_text('[store]\nterminal_id = "caja-7"\n')
    token.write_text("the-installers-token\n")
    token.chmod(0o600)
    run_install(root, "--no-venv", env={"HELLOTEXT_API_TOKEN": "another-token"})
    assert config.read_text() == '[store]\nterminal_id = "caja-7"\n'
    assert token.read_text() == "the-installers-token\n"


@needs_root
def test_token_from_the_environment_is_written_root_only_and_never_printed(
    tmp_path: Path,
) -> None:
    root = debian_root(tmp_path)
    out = run_install(root, "--no-venv", env={"HELLOTEXT_API_TOKEN": "s3cr3t-t0ken"})
    token = root / "etc/hellotext-agent/token"
    assert token.read_text() == "s3cr3t-t0ken\n"
    assert owner_mode(token) == (0, 0, "0o600")
    assert "s3cr3t-t0ken" not in out


@needs_root
def test_no_enable_leaves_the_unit_disabled(tmp_path: Path) -> None:
    root = debian_root(tmp_path)
    run_install(root, "--no-venv", "--no-enable")
    assert (root / "etc/systemd/system/hellotext-agent.service").is_file()
    assert not (root / "etc/systemd/system/multi-user.target.wants").exists()


def test_help_shows_the_options() -> None:
    result = subprocess.run(
        ["sh", str(INSTALL), "--help"], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0
    for option in ("--root DIR", "--source DIR", "--no-venv", "--no-enable"):
        assert option in result.stdout


def test_unknown_option_is_refused(tmp_path: Path) -> None:
    result = subprocess.run(
        ["sh", str(INSTALL), "--root", str(tmp_path), "--frobnicate"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode != 0 and "unknown option --frobnicate" in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
@needs_root
@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None or not Path("/usr/lib/systemd/system").is_dir(),
    reason="the unit is verified with systemd-analyze against the host's system units"
    " (apt-get install systemd)",
)
@pytest.mark.skipif(
    os.environ.get("AGENT_TEST_PIP_INSTALL") != "1",
    reason="installs the dependencies from the package index, and tests stay on loopback: "
    "run with AGENT_TEST_PIP_INSTALL=1 (about 15-30 s)",
)
def test_real_venv_install_runs_the_agent(tmp_path: Path) -> None:
    """The default path: a real venv with the agent pip-installed from this source tree."""
    root = debian_root(tmp_path)
    run_install(root, "--source", str(ROOT))
    agent = root / "opt/hellotext-agent/venv/bin/hellotext-agent"
    result = subprocess.run(
        [str(agent), "--config", str(root / "etc/hellotext-agent/agent.toml"), "config", "check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "config OK" in result.stdout
    # The unit's ExecStart now exists for real inside the root: systemd verifies it there.
    shutil.copytree("/usr/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True)
    verify = subprocess.run(
        ["systemd-analyze", "verify", f"--root={root}", "hellotext-agent.service"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert (verify.returncode, verify.stderr) == (0, "")
    # Running it again keeps the venv and reinstalls the agent (the upgrade path).
    run_install(root, "--source", str(ROOT))
    assert agent.exists()


def test_tesseract_is_named_for_images_and_never_installed_into_a_root(tmp_path: Path) -> None:
    out = run_install(debian_root(tmp_path), "--no-venv", "--no-enable")
    assert "install tesseract-ocr tesseract-ocr-spa tesseract-ocr-por in the image" in out
    out = run_install(debian_root(tmp_path / "b"), "--no-venv", "--no-enable", "--no-ocr")
    assert "skipped Tesseract (--no-ocr)" in out
