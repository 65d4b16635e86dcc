"""Issue 21, item 1: an installer runs `status`, `track` or `parse` as root before the
service's first start. The service user must then find state files it can use: nothing
quarantined, nothing moved aside, the events root tracked delivered. A permission error is
reported as one, never as damage.

Real users: the tests run as root; the service's side runs in a forked child that drops to
`nobody` with setgid/setuid (a fork, not an exec: this interpreter lives under root's 0700
home, so a fresh process as `nobody` could not even start it; for the same reason whatever
the child imports lazily from the standard library is imported here first).
"""

from __future__ import annotations

import encodings.idna  # noqa: F401  (socket's lookups import it lazily: the child could not)
import io
import json
import os
import pwd
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from faultrig import TOKEN, until

from agent.cli import main
from agent.config import load_config
from agent.daemon.keeper import OutboxKeeper
from agent.daemon.service import Service
from agent.delivery.outbox import Outbox
from agent.standin.server import FakeHellotext

SAMPLES = Path(__file__).resolve().parents[2] / "agent" / "samples"


@pytest.fixture
def nobody() -> pwd.struct_passwd:
    if os.geteuid() != 0:
        pytest.skip("needs root: root's commands, then a real unprivileged user")
    return pwd.getpwnam("nobody")


@pytest.fixture
def top(nobody: pwd.struct_passwd) -> Iterator[Path]:
    """/tmp/…/state and run owned by `nobody`, 0700, as systemd's StateDirectory= makes
    them (not under tmp_path: pytest's base directory is root's, 0700)."""
    top = Path(tempfile.mkdtemp(prefix="i21-root-"))
    top.chmod(0o755)
    for name in ("state", "run"):
        (top / name).mkdir(mode=0o700)
        os.chown(top / name, nobody.pw_uid, nobody.pw_gid)
    yield top
    shutil.rmtree(top, ignore_errors=True)


def write_config(top: Path, url: str) -> Path:
    path = top / "agent.toml"
    path.write_text(
        f'[hellotext]\napi_url = "{url}"\ntimeout_seconds = 3\n'
        f'[outbox]\npath = "{top / "state" / "outbox.db"}"\nruntime_dir = "{top / "run"}"\n'
        '[sync]\ninterval_seconds = 0.3\nbase_backoff_seconds = 0.2\nmax_backoff_seconds = 1\n'
        '[ingest]\nlisten = ""\n',
        encoding="utf-8",
    )
    path.chmod(0o644)
    return path


def as_user(user: pwd.struct_passwd, fn: Callable[[], Any], timeout: float = 60) -> Any:
    """fn() in a forked child running as `user` (groups dropped); its JSON result back."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 1
        try:
            os.close(read)
            os.setgroups([])
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)
            sys.stderr = io.StringIO()
            result = fn()
            payload = json.dumps({"result": result, "stderr": sys.stderr.getvalue()})
            code = 0
        except BaseException as exc:  # report it to the parent, whatever it is
            payload = json.dumps({"error": repr(exc), "stderr": str(sys.stderr.getvalue())})
        finally:
            with os.fdopen(write, "w") as out:
                out.write(payload)
            os._exit(code)
    os.close(write)
    with os.fdopen(read) as got:
        text = got.read()
    deadline = time.monotonic() + timeout
    while os.waitpid(pid, os.WNOHANG) == (0, 0):
        assert time.monotonic() < deadline, "the child did not finish"
        time.sleep(0.05)
    answer: dict[str, Any] = json.loads(text)
    assert "error" not in answer, answer
    return answer


def owners(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_uid for p in sorted(folder.iterdir())}


def moved_aside(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if ".damaged-" in p.name or ".replaced-" in p.name]


def test_root_commands_before_the_first_start_leave_files_the_service_can_use(
    top: Path,
    nobody: pwd.struct_passwd,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    state = top / "state"
    monkeypatch.setenv("HELLOTEXT_API_TOKEN", TOKEN)
    with FakeHellotext(token=TOKEN) as fake:
        config = write_config(top, fake.url)
        # status only reads: before the first start there is nothing to read, and it says so.
        assert main(["--config", str(config), "status"]) == 0
        assert "no outbox yet" in capsys.readouterr().out
        assert list(state.iterdir()) == [], "status created state files"
        ids = []
        for session in ("s-1", "s-2"):
            track = ["track", "tienda_fisica.pago", "--session", session, "--amount", "10"]
            assert main(["--config", str(config), *track]) == 0
            ids.append(capsys.readouterr().out.strip())
        assert main(["--config", str(config), "parse", str(SAMPLES / "cafe-1.bin")]) == 0
        assert main(["--config", str(config), "status"]) == 0
        assert main(["--config", str(config), "outbox", "list"]) == 0
        capsys.readouterr()
        # Every state file root left is the service user's, private to it.
        assert set(owners(state).values()) == {nobody.pw_uid}, owners(state)
        assert all(p.stat().st_mode & 0o077 == 0 for p in state.iterdir())

        agent_config = load_config(config)

        def service() -> dict[str, Any]:
            run = Service(agent_config)
            run.start()
            try:
                with Outbox(state / "outbox.db") as outbox:
                    until(lambda: outbox.counts()["sent"] == 2, 20)
                    counts = outbox.counts()
                snapshot: dict[str, Any] = run.snapshot()["outbox"]
            finally:
                run.stop()
            return {"counts": counts, "outbox": snapshot}

        got = as_user(nobody, service)
        answer = got["result"]
        assert answer["outbox"]["quarantined"] == [] and answer["outbox"]["state"] == "ok"
        assert answer["counts"]["sent"] == 2, got
        assert moved_aside(state) == []
        delivered = sorted(e["metadata"]["agent_event_id"] for e in fake.events)
        assert delivered == sorted(ids)


def _root_owned_outbox(state: Path) -> Path:
    """What the old `status` left: an outbox created by root, 0600, in the service's folder."""
    path = state / "outbox.db"
    with Outbox(path):
        pass
    os.chown(path, 0, 0)
    path.chmod(0o600)
    return path


def test_a_root_owned_outbox_is_a_permission_problem_not_damage(
    top: Path, nobody: pwd.struct_passwd
) -> None:
    state = top / "state"
    path = _root_owned_outbox(state)
    config = write_config(top, "https://api.hellotext.com/v1")
    cfg = load_config(config)

    def daemon() -> dict[str, Any]:
        keeper = OutboxKeeper(cfg)
        opened = keeper.start()
        snapshot: dict[str, Any] = keeper.snapshot()
        keeper.close()
        return {"opened": opened, "snapshot": snapshot}

    answer = as_user(nobody, daemon)["result"]
    assert not answer["opened"]
    snapshot = answer["snapshot"]
    assert snapshot["quarantined"] == [] and snapshot["problem"] == "denied"
    assert f"permission denied on {path}" in snapshot["detail"]
    assert "chown nobody:" in snapshot["fix"], snapshot["fix"]
    assert moved_aside(state) == [] and path.stat().st_uid == 0

    def track() -> int:
        argv = ["--config", str(config), "track", "tienda_fisica.pago", "--session", "s-1"]
        return main(argv)

    answer = as_user(nobody, track)
    assert answer["result"] == 1
    assert f"permission denied on {path}" in answer["stderr"], answer["stderr"]
    assert moved_aside(state) == []


def test_another_user_is_told_whom_to_run_as(top: Path, nobody: pwd.struct_passwd) -> None:
    """An installer's own account (not root, not the service user) runs `status`."""
    state = top / "state"
    path = state / "outbox.db"
    with Outbox(path):
        pass
    os.chown(path, nobody.pw_uid, nobody.pw_gid)
    config = write_config(top, "https://api.hellotext.com/v1")
    stranger = pwd.struct_passwd(("stranger", "x", 64123, 64123, "", "/", "/bin/sh"))

    answer = as_user(stranger, lambda: main(["--config", str(config), "status"]))
    assert answer["result"] == 1
    expected = f"permission denied on {path}: run as nobody, or with sudo -u nobody"
    assert expected in answer["stderr"], answer["stderr"]
    assert moved_aside(state) == []


# --- item 2: the packaged token file ---------------------------------------------------


def packaged_token(top: Path, url: str) -> tuple[Path, Path]:
    """The package's layout: agent.toml and `token` (root's, 0600) side by side."""
    config = write_config(top, url)
    token = top / "token"
    token.write_text(f"{TOKEN}\n", encoding="utf-8")
    token.chmod(0o600)
    return config, token


def test_sync_and_config_check_find_the_packaged_token(
    top: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeHellotext(token=TOKEN) as fake:
        config, token = packaged_token(top, fake.url)
        track = ["track", "tienda_fisica.pago", "--session", "s-1", "--amount", "10"]
        assert main(["--config", str(config), *track]) == 0
        event_id = capsys.readouterr().out.strip()
        assert main(["--config", str(config), "sync"]) == 0
        assert "sent 1" in capsys.readouterr().out
        assert [e["metadata"]["agent_event_id"] for e in fake.events] == [event_id]

        assert main(["--config", str(config), "config", "check"]) == 0
        out = capsys.readouterr().out
        assert 'token = "****"' in out and f'token_from = "{token}"' in out
        assert TOKEN not in out
        assert main(["--config", str(config), "config", "check", "--json"]) == 0
        data = json.loads(capsys.readouterr().out)
        assert data["hellotext"]["token_from"] == str(token)


def test_the_service_user_is_told_the_packaged_token_is_roots(
    top: Path, nobody: pwd.struct_passwd
) -> None:
    config, token = packaged_token(top, "https://api.hellotext.com/v1")

    answer = as_user(nobody, lambda: main(["--config", str(config), "sync"]))
    assert answer["result"] == 78
    assert f"{token} is root's: run this command as root" in answer["stderr"]
    assert TOKEN not in answer["stderr"]
