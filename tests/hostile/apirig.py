"""Hostile stand-ins for Hellotext's side, as tiny real socket servers on 127.0.0.1: one that
answers with bytes a script says (trickled, or a gzip bomb), optionally over TLS with a
self-signed certificate made by the openssl CLI. Each keeps the request heads it received,
so a test can tell whether the bearer token reached it."""

from __future__ import annotations

import contextlib
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path


class ScriptedServer:
    """Accepts connections; for each, reads the request head (and body by Content-Length),
    then sends `answer`: its first `at_once` bytes whole, the rest in pieces of `piece`
    bytes, `pause` seconds apart."""

    def __init__(
        self,
        answer: bytes,
        *,
        piece: int = 1 << 16,
        pause: float = 0.0,
        at_once: int = 0,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.answer, self.piece, self.pause, self.tls = answer, piece, pause, tls
        self.at_once = at_once
        self.heads: list[bytes] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._listener.close()

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}/v1"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, raw: socket.socket) -> None:
        conn: socket.socket = raw
        with contextlib.suppress(OSError), contextlib.closing(raw):
            raw.settimeout(10)
            if self.tls is not None:
                conn = self.tls.wrap_socket(raw, server_side=True)
            data = b""
            while b"\r\n\r\n" not in data:
                more = conn.recv(65536)
                if not more:
                    return
                data += more
            head, _, body = data.partition(b"\r\n\r\n")
            self.heads.append(head)
            length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), 0)
            while len(body) < length:
                more = conn.recv(65536)
                if not more:
                    return
                body += more
            conn.sendall(self.answer[: self.at_once])
            for start in range(self.at_once, len(self.answer), self.piece):
                if self._stop.is_set():
                    return
                conn.sendall(self.answer[start : start + self.piece])
                if self.pause:
                    time.sleep(self.pause)
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_WR)
            while conn.recv(65536):  # until the client hangs up
                pass


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate and key for 127.0.0.1 (made by the openssl CLI; no library needed)."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


@contextlib.contextmanager
def tls_server(folder: Path, answer: bytes) -> Iterator[ScriptedServer]:
    cert, key = self_signed(folder)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with ScriptedServer(answer, tls=context) as server:
        yield server


def answer(status: str = "200 OK", body: bytes = b"{}", **headers: str) -> bytes:
    """An HTTP/1.1 answer: status line, headers (underscores become dashes), body."""
    fields = {"Content-Type": "application/json", "Content-Length": str(len(body)),
              **{k.replace("_", "-"): v for k, v in headers.items()}}  # fmt: skip
    head = "".join(f"{k}: {v}\r\n" for k, v in fields.items())
    return f"HTTP/1.1 {status}\r\n{head}\r\n".encode() + body
