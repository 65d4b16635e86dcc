"""Configuration: defaults, environment overrides, errors that name the key, the token."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.config import load_config
from agent.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "agent.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_match_the_documented_contract(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, ""))
    assert config.hellotext.api_url == "https://api.hellotext.com/v1"
    assert config.hellotext.timeout_seconds == 15
    assert (config.store.terminal_id, config.store.country, config.store.currency) == (
        "caja-1",
        "UY",
        "UYU",
    )
    assert config.store.payment_action == "tienda_fisica.pago"
    assert config.store.unidentified == "session"
    assert str(config.outbox.path) == "/var/lib/hellotext-agent/outbox.db"
    assert config.outbox.synchronous == "full"
    assert (config.sync.interval_seconds, config.sync.concurrency) == (5, 4)
    assert config.sync.max_backoff_seconds == 300


def test_environment_overrides_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "[sync]\nconcurrency = 2\ninterval_seconds = 9\n")
    monkeypatch.setenv("HELLOTEXT_AGENT__SYNC__CONCURRENCY", "8")
    monkeypatch.setenv("HELLOTEXT_API_URL", "http://127.0.0.1:9/v1")
    config = load_config(path)
    assert config.sync.concurrency == 8
    assert config.sync.interval_seconds == 9
    assert config.hellotext.api_url == "http://127.0.0.1:9/v1"


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[sync]\nconcurrency = 0\n", "sync.concurrency"),
        ('[store]\ncurrency = "XYZ"\n', "store.currency"),
        ('[store]\npayment_action = "Pago"\n', "store.payment_action"),
        ('[store]\ncountry = "ZZ"\n', "store.country"),
        ('[outbox]\nsynchronous = "fast"\n', "outbox.synchronous"),
        ('[[printer]]\nname = "caja"\nmode = "tcp"\nlisten = "0.0.0.0:9100"\n', "printer[0]"),
        ("[sync]\nbogus = 1\n", "sync.bogus"),
        ('[[printer]]\nname = "caja"\nmode = "spool"\npath = "/tmp"\ncommand_set = "epson"\n',
         "printer[0].command_set"),
        ('[hellotext]\ntoken = "abc"\n', "hellotext.token"),
        ("[ingest]\nbody_timeout_seconds = 0\n", "ingest.body_timeout_seconds"),
        ("[sync\n", "config"),
    ],
)
def test_invalid_config_names_the_key(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    assert key in [k for k, _ in info.value.problems]


def test_token_file_must_be_private(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("secret-token-123\n")
    os.chmod(token, 0o644)
    path = write(tmp_path, f'[hellotext]\ntoken_file = "{token}"\n')
    with pytest.raises(ConfigError, match="readable by group or others"):
        load_config(path)
    os.chmod(token, 0o600)
    config = load_config(path)
    assert config.hellotext.token is not None
    assert config.hellotext.token.get_secret_value() == "secret-token-123"


def test_systemd_credential_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "hellotext-token").write_text("from-credential")
    os.chmod(creds / "hellotext-token", 0o400)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    config = load_config(write(tmp_path, ""))
    assert config.hellotext.token is not None
    assert config.hellotext.token.get_secret_value() == "from-credential"


def test_a_credential_as_systemd_257_makes_it_is_used_one_others_can_read_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Debian 13's systemd: root:root 0440 plus an ACL for the unit's user (Debian 12's: 0400).
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "hellotext-token").write_text("from-credential")
    os.chmod(creds / "hellotext-token", 0o440)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    config = load_config(write(tmp_path, ""))
    assert config.hellotext.token is not None
    assert config.hellotext.token.get_secret_value() == "from-credential"
    os.chmod(creds / "hellotext-token", 0o444)
    with pytest.raises(ConfigError, match="readable by others"):
        load_config(write(tmp_path, ""))


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agent.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=60,
    )


def test_config_check_masks_token_and_exits_78_on_error(tmp_path: Path) -> None:
    good = write(tmp_path, '[store]\ncountry = "AR"\ncurrency = "ARS"\n')
    done = run_cli(
        "--config",
        str(good),
        "config",
        "check",
        env={"HELLOTEXT_API_TOKEN": "tok_very_secret_value"},
    )
    assert done.returncode == 0, done.stderr
    assert "tok_very_secret_value" not in done.stdout + done.stderr
    assert 'currency = "ARS"' in done.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text("[sync]\nconcurrency = -1\n")
    done = run_cli("--config", str(bad), "config", "check")
    assert done.returncode == 78
    assert "sync.concurrency" in done.stderr
    for command in (["demo"], ["fake-hellotext"], ["status"]):  # every command, not only some
        done = run_cli("--config", str(bad), *command)
        assert done.returncode == 78, command
        assert "sync.concurrency" in done.stderr
    missing = run_cli("--config", str(tmp_path / "nope.toml"), "config", "check")
    assert missing.returncode == 78
    assert "not found" in missing.stderr


def test_the_ingest_token_is_its_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from agent.config import load_config
    from agent.errors import ConfigError

    path = write(tmp_path, "[ingest]\nlisten = \"0.0.0.0:8787\"\n")
    monkeypatch.setenv("HELLOTEXT_INGEST_TOKEN", "app-token")
    assert load_config(path).ingest.token is not None
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "ingest-token").write_text("from-systemd\n")
    (creds / "ingest-token").chmod(0o600)
    monkeypatch.delenv("HELLOTEXT_INGEST_TOKEN")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    token = load_config(path).ingest.token
    assert token is not None and token.get_secret_value() == "from-systemd"
    monkeypatch.setenv("HELLOTEXT_API_TOKEN", "from-systemd")
    with pytest.raises(ConfigError, match="ingest.token"):
        load_config(path)  # the Hellotext token is never the apps' token
    bad = write(tmp_path, '[ingest]\nlisten = "nowhere"\n')
    with pytest.raises(ConfigError, match="ingest.listen"):
        load_config(bad)


def test_a_typo_gets_the_closest_key_and_a_missing_file_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from agent.cli import main

    path = write(
        tmp_path,
        '[store]\ncountri = "UY"\n[[printer]]\nname = "caja"\nmode = "tcp"\n'
        'listen = "0.0.0.0:9100"\ntarget = "10.0.0.5:9100"\ncodepge = "cp858"\n',
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "store.countri: unknown key; did you mean 'country'?" in str(caught.value)
    assert "printer[0].codepge: unknown key; did you mean 'codepage'?" in str(caught.value)

    missing = tmp_path / "nowhere.toml"
    assert main(["--config", str(missing), "status"]) == 78
    err = capsys.readouterr().err
    assert f"config file not found: {missing}" in err and "invalid configuration" not in err
