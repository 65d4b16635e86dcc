"""A running `hellotext-agent run` (a subprocess, as systemd runs it) with its ingest endpoint
on a free loopback port, the Hellotext stand-in beside it, and a real HTTP client."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fake_printer import free_port

from agent.standin.server import FakeHellotext

API_TOKEN = "ingest-rig-api-token"
INGEST_TOKEN = "ingest-rig-app-token"
ACTIONS = ("tienda_fisica.pago", "evento.asistio", "formulario_de_registro.completado")
PATH = "/v1/attribution/events"


@dataclass
class Answer:
    status: int
    data: Any
    headers: dict[str, str]


class Client:
    """One keep-alive connection, as an in-store app would hold."""

    def __init__(self, port: int, token: str = INGEST_TOKEN) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.token = token

    def post(self, body: Any, *, key: str | None = None, raw: bytes | None = None) -> Answer:
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if key is not None:
            headers["Idempotency-Key"] = key
        payload = raw if raw is not None else json.dumps(body).encode()
        self.conn.request("POST", PATH, body=payload, headers=headers)
        response = self.conn.getresponse()
        text = response.read()
        try:
            data = json.loads(text) if text else None
        except ValueError:
            data = text.decode("utf-8", "replace")
        return Answer(response.status, data, {k.lower(): v for k, v in response.getheaders()})

    def close(self) -> None:
        self.conn.close()


class Daemon:
    def __init__(self, tmp: Path, fake: FakeHellotext, *, extra: str = "") -> None:
        self.port = free_port()
        self.clients: list[Client] = []
        self.db = tmp / "state" / "outbox.db"
        self.config = tmp / "agent.toml"
        self.config.write_text(
            f'[hellotext]\napi_url = "{fake.url}"\n'
            f'[outbox]\npath = "{self.db}"\n'
            '[sync]\ninterval_seconds = 0.5\nbase_backoff_seconds = 0.2\n'
            'max_backoff_seconds = 1\n'
            f'[ingest]\nlisten = "127.0.0.1:{self.port}"\n{extra}',
            encoding="utf-8",
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("HELLOTEXT_")}
        env.update(HELLOTEXT_API_TOKEN=API_TOKEN, HELLOTEXT_INGEST_TOKEN=INGEST_TOKEN)
        self.log = (tmp / "daemon.log").open("wb")
        command = [sys.executable, "-m", "agent.cli", "--config", str(self.config), "run"]
        self.proc = subprocess.Popen(command, env=env, stdout=self.log, stderr=self.log)
        self._wait_listening()

    def _wait_listening(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited {self.proc.returncode}: {self.output()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("the ingest endpoint never listened: " + self.output())

    def output(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return Path(self.log.name).read_text(encoding="utf-8", errors="replace")

    def client(self, token: str = INGEST_TOKEN) -> Client:
        """A connection closed with the daemon (never left to the garbage collector)."""
        client = Client(self.port, token)
        self.clients.append(client)
        return client

    def terminate(self, timeout: float = 60.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=timeout)
        self.log.close()
        return code

    def kill(self) -> None:
        for client in self.clients:
            client.close()
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
        if not self.log.closed:
            self.log.close()
