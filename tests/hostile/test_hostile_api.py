"""Issue 24, findings 7, 8 and the gzip bomb of 9: what the far side of the Hellotext exchange
and the process environment can do to the client. Real sockets on 127.0.0.1 throughout."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest
from apirig import ScriptedServer, answer, tls_server

from agent.config import load_config
from agent.delivery.hellotext import HellotextClient, Retry, Sent
from agent.errors import ConfigError

TOKEN = "tok-hostile-0123456789"
ROOT = Path(__file__).resolve().parents[2]


def client(url: str, timeout: float = 5.0) -> HellotextClient:
    return HellotextClient(api_url=url, token=TOKEN, timeout=timeout)


@pytest.mark.parametrize("where", ["status line", "headers"])
def test_a_trickled_status_line_or_header_is_cut_at_the_total_deadline(where: str) -> None:
    """One byte a second beats any per-read timeout: only a total deadline ends it."""
    reply = answer(X_Padding="p" * 8)
    at_once = 0 if where == "status line" else len(b"HTTP/1.1 200 OK\r\n")
    with (
        ScriptedServer(reply, piece=1, pause=1.0, at_once=at_once) as server,
        client(server.url, timeout=2.0) as c,
    ):
        started = time.monotonic()
        outcome = c.probe()
        took = time.monotonic() - started
    assert isinstance(outcome, Retry) and outcome.network, outcome
    assert outcome.maybe_delivered  # the request went out: Hellotext may have it
    assert took < 4.0, f"a 2 s deadline held the request {took:.1f} s ({where} trickled)"


def gzip_bomb(mib: int) -> bytes:
    """`mib` MiB of zeros, gzipped: after a full flush every MiB compresses to the same
    bytes, so the member is made in milliseconds, not the half minute deflating takes."""
    packer, zeros = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS), bytes(1 << 20)
    first = packer.compress(zeros) + packer.flush(zlib.Z_FULL_FLUSH)
    same = packer.compress(zeros) + packer.flush(zlib.Z_FULL_FLUSH)
    last = packer.compress(zeros) + packer.flush()
    crc = 0
    for _ in range(mib):
        crc = zlib.crc32(zeros, crc)
    trailer = struct.pack("<II", crc, (mib << 20) & 0xFFFFFFFF)
    return b"\x1f\x8b\x08\0\0\0\0\0\0\xff" + first + same * (mib - 2) + last + trailer


def test_answers_are_asked_unencoded_and_a_gzip_bomb_leaves_memory_flat() -> None:
    """A 1 GiB gzip answer (about 1 MB on the wire): the client asks for `identity`, and one
    that comes compressed anyway is inflated only up to the 1 MB cap."""
    reply = answer(body=gzip_bomb(1024), Content_Encoding="gzip")
    child = (
        "import sys, json\n"
        "from agent.delivery.hellotext import HellotextClient\n"
        "def rss(key):\n"
        "    for line in open('/proc/self/status'):\n"
        "        if line.startswith(key): return int(line.split()[1]) // 1024\n"
        "c = HellotextClient(api_url=sys.argv[1], token='t', timeout=30)\n"
        "before = rss('VmRSS:')\n"
        "out = c.probe()\n"
        "print(json.dumps({'grew_mb': rss('VmHWM:') - before, 'outcome': repr(out)}))\n"
    )
    with ScriptedServer(reply) as server:
        run = subprocess.run([sys.executable, "-c", child, server.url], cwd=ROOT,
                             capture_output=True, text=True, timeout=90)  # fmt: skip
        heads = list(server.heads)
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout)
    assert b"accept-encoding: identity" in heads[0].lower(), heads[0]
    assert "over 1024 KB" in seen["outcome"], seen
    assert seen["grew_mb"] < 32, f"a 1 GiB gzip answer raised RSS by {seen['grew_mb']} MB"


def test_a_small_gzip_answer_is_still_read() -> None:
    packer = zlib.compressobj(6, zlib.DEFLATED, 31)
    body = packer.compress(b'{"id": "p-1"}') + packer.flush()
    with ScriptedServer(answer(body=body, Content_Encoding="gzip")) as server, client(
        server.url
    ) as c:
        outcome = c.create_profile("+59899123456")
    assert outcome == Sent(200, {"id": "p-1"})


def test_proxy_variables_of_the_environment_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    """HTTP(S)_PROXY pointing at a hostile listener: the token must not go there."""
    with ScriptedServer(answer()) as proxy, ScriptedServer(answer()) as hellotext:
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
            monkeypatch.setenv(name, f"http://127.0.0.1:{proxy.port}")
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        with client(hellotext.url) as c:
            outcome = c.probe()
        assert proxy.heads == [], "the environment's proxy got the request (and the token)"
        assert isinstance(outcome, Sent) and len(hellotext.heads) == 1


def test_ssl_cert_file_does_not_replace_the_trust_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A self-signed server named by SSL_CERT_FILE is not trusted: no token reaches it."""
    with tls_server(tmp_path, answer()) as server:
        monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "cert.pem"))
        monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path))
        with client(server.url) as c:
            outcome = c.probe()
        assert isinstance(outcome, Retry) and outcome.network, outcome
        assert not any(TOKEN.encode() in head for head in server.heads)


def _config(tmp_path: Path, hellotext: str) -> Path:
    path = tmp_path / "agent.toml"
    path.write_text(f"[hellotext]\n{hellotext}\n")
    return path


def test_a_proxy_is_used_only_when_the_config_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HELLOTEXT_API_TOKEN", TOKEN)
    with ScriptedServer(answer()) as proxy:
        config = load_config(_config(tmp_path, (
            'api_url = "http://127.0.0.1:9/v1"\n'
            f'proxy = "http://127.0.0.1:{proxy.port}"')))  # fmt: skip
        with HellotextClient.from_config(config) as c:
            outcome = c.probe()
    assert isinstance(outcome, Sent)
    assert proxy.heads and proxy.heads[0].startswith(b"GET http://127.0.0.1:9/v1/profiles")


@pytest.mark.parametrize("value", ["socks5://127.0.0.1:1080", "127.0.0.1:3128", "http://"])
def test_a_bad_proxy_stops_loading_naming_the_key(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(_config(tmp_path, f'proxy = "{value}"'))
    assert "hellotext.proxy" in str(caught.value)


@pytest.mark.parametrize(
    ("name", "value", "key"),
    [
        ("HELLOTEXT_AGENT__HELLOTEXT__TOKEN", "env-token", "hellotext.token"),
        ("HELLOTEXT_AGENT__HELLOTEXT", json.dumps({"token": "env-token"}), "hellotext.token"),
        ("hellotext_agent__ingest__token", "env-ingest", "ingest.token"),
    ],
)
def test_the_token_never_comes_from_a_settings_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str, key: str
) -> None:
    """Only HELLOTEXT_API_TOKEN, the credential and the token file (their checks included)."""
    for var in [v for v in os.environ if v.startswith(("HELLOTEXT_", "CREDENTIALS_"))]:
        monkeypatch.delenv(var)
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_config(_config(tmp_path, ""))
    assert key in str(caught.value)
    assert "env-" not in str(caught.value)  # the value itself is never echoed
