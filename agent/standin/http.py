"""HTTP plumbing of the fake Hellotext server: a threaded HTTP/1.1 server with keep-alive.

Kept apart from `agent.standin.server` (state, faults) and `agent.standin.rules` (validation).
Speed matters: this is the peer of the sync benchmark. So every answer is one `sendall`
(status line, headers and body together, Nagle off), nothing is logged per request, and
bodies are read exactly by Content-Length (or chunked).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import socket
import socketserver
import struct
import threading
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple, Protocol
from urllib.parse import parse_qs, parse_qsl

from agent.standin.rules import error_body

log = logging.getLogger("agent.fake_hellotext")

MAX_BODY = 1 << 20  # 1 MiB: far above any event, small enough to refuse junk
MAX_HEADERS = 100
_PHRASES = {status.value: status.phrase for status in HTTPStatus}
_date_cache: tuple[int, str] = (0, "")


def _http_date() -> str:
    """The Date header, formatted once a second rather than once a request."""
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, formatdate(now, usegmt=True))
    return _date_cache[1]


@dataclass
class Reply:
    status: int
    body: dict[str, Any] | bytes
    headers: dict[str, str] = field(default_factory=dict)


class Draw(NamedTuple):
    """The faults drawn for one request."""

    delay: float
    forced: Reply | None  # answer this instead of processing
    drop: bool  # close without processing or answering
    lose_answer: bool  # process, then close without answering
    trickle: float = 0.0  # seconds between the bytes of the answer
    padding: int = 0  # whitespace bytes after the answer's body, sent without Content-Length


class StandIn(Protocol):
    """What the handler asks of the stand-in (agent.standin.server.FakeHellotext)."""

    token: str
    actions: frozenset[str]

    @property
    def events(self) -> list[dict[str, Any]]: ...
    @property
    def event_count(self) -> int: ...
    def admit(self) -> Draw: ...
    def is_offline(self) -> bool: ...
    def answered(self, status: int) -> None: ...
    def authorized(self, header: str | None) -> bool: ...
    def track(self, raw: bytes, body: Any) -> Reply: ...
    def upsert_profile(self, body: Any) -> Reply: ...
    def route_object(self, method: str, path: str, query: str, body: Any) -> Reply: ...
    def list_profiles(self, limit: int) -> Reply: ...
    def get_profile(self, pid: str) -> Reply: ...
    def attach_session(self, session: str, body: Any) -> Reply: ...
    def state(self) -> dict[str, Any]: ...
    def reset(self) -> None: ...
    def set_faults(self, **changes: Any) -> None: ...


def reset_socket(sock: socket.socket) -> None:
    """Close with an RST instead of a FIN: what a client sees when the network is gone."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


class Server(ThreadingHTTPServer):
    daemon_threads = True  # a client holding a keep-alive connection never blocks stop()
    block_on_close = False
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], fake: StandIn) -> None:
        self.fake = fake
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host name (getfqdn): slow, and no DNS offline.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hanging up (a timeout, a killed agent) are routine here, not errors.
        log.debug("fake hellotext: error while serving %s", client_address, exc_info=True)

    def track(self, sock: socket.socket, open_: bool) -> None:
        with self._conns_lock:
            if open_:
                self._conns.add(sock)
            else:
                self._conns.discard(sock)

    def close_connections(self) -> None:
        """After stop(): end kept-alive connections, so nothing is served any more."""
        with self._conns_lock:
            conns = list(self._conns)
        for sock in conns:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = 300  # an idle kept-alive connection is let go after 5 minutes
    server: Server
    fields: dict[str, str]  # request headers, lower-case names
    raw_requestline: bytes  # set by handle_one_request (not in the stubs)

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, True)

    def finish(self) -> None:
        self.server.track(self.connection, False)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        """No per-request logging: it would cost more than the request itself."""

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_OPTIONS(self) -> None:
        self._dispatch()

    def parse_request(self) -> bool:
        """Request line and headers, parsed plainly: the stdlib's email-based header parser
        was half of the server's time per request."""
        self.close_connection = True
        self.fields = {}
        parts = self.raw_requestline.decode("latin-1").split()
        self.requestline = " ".join(parts)
        if len(parts) != 3 or parts[2] not in ("HTTP/1.1", "HTTP/1.0"):
            self._send(Reply(400, error_body("invalid", "bad request line")), counted=False)
            return False
        self.command, self.path, self.request_version = parts
        if self.server.fake.is_offline() and not self.path.startswith("/_control/"):
            # "No network": reset as soon as the request line shows this is not a control
            # request (the control endpoint must stay reachable to go back online).
            reset_socket(self.connection)
            return False
        for _ in range(MAX_HEADERS):
            line = self.rfile.readline(65537)
            if line in (b"\r\n", b"\n", b""):
                break
            name, sep, value = line.decode("latin-1").partition(":")
            if not sep or len(line) > 65536:
                self._send(Reply(400, error_body("invalid", "bad header")), counted=False)
                return False
            self.fields[name.strip().lower()] = value.strip()
        else:
            self._send(Reply(431, error_body("invalid", "too many headers")), counted=False)
            return False
        connection = self.fields.get("connection", "").lower()
        self.close_connection = connection == "close" or (
            self.request_version == "HTTP/1.0" and connection != "keep-alive"
        )
        if self.fields.get("expect", "").lower() == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        return True

    # -- one request -----------------------------------------------------------------------

    def _dispatch(self) -> None:
        fake = self.server.fake
        path, _, query = self.path.partition("?")
        path = path.rstrip("/") or "/"
        raw = self._read_body()
        if raw is None:
            return
        if path.startswith("/_control/"):
            self._send(self._control(path, query, raw), counted=False)
            return
        draw = fake.admit()
        if draw.delay:
            time.sleep(draw.delay)
        if draw.drop:
            self.close_connection = True
            return
        forced = draw.forced
        if forced is None and not fake.authorized(self.fields.get("authorization")):
            forced = Reply(
                401,
                error_body("unauthorized", "the token is missing, invalid or revoked"),
                {"WWW-Authenticate": "Bearer"},
            )
        reply = forced or self._route(path, query, raw)
        if draw.lose_answer:
            self.close_connection = True
            return
        self._send(reply, counted=True, trickle=draw.trickle, padding=draw.padding)

    def _route(self, path: str, query: str, raw: bytes) -> Reply:
        fake, method = self.server.fake, self.command
        if method == "GET" and path == "/v1/profiles":
            limit = parse_qs(query).get("limit", ["20"])[-1]
            if not limit.isdigit():
                return Reply(400, error_body("invalid", "limit must be a number", "limit"))
            return fake.list_profiles(int(limit))
        if method == "GET" and path.startswith("/v1/profiles/"):
            return fake.get_profile(path.rsplit("/", 1)[1])
        if path.startswith(("/v1/attribution/products", "/v1/attribution/orders")):
            ok, body = self._json(raw) if raw else (True, None)
            if not ok:
                return Reply(400, error_body("invalid", "the body must be JSON", None))
            return fake.route_object(method, path, query, body)
        known = {"/v1/attribution/events": "POST", "/v1/profiles": "POST"}
        if known.get(path) != method and not (
            method == "PATCH" and path.startswith("/v1/sessions/") and path.count("/") == 3
        ):
            return Reply(404, error_body("not_found", f"no endpoint {method} {path}"))
        ok, body = self._json(raw)
        if not ok:
            return Reply(400, error_body("invalid", "the body must be JSON", None))
        if path == "/v1/attribution/events":
            if self.fields.get("content-type", "").startswith("application/x-www-form"):
                raw = json.dumps(body).encode()  # recorded bodies are always JSON
            return fake.track(raw, body)
        if path == "/v1/profiles":
            return fake.upsert_profile(body)
        return fake.attach_session(path.rsplit("/", 1)[1], body)

    def _json(self, raw: bytes) -> tuple[bool, Any]:
        ctype = self.fields.get("content-type", "")
        try:
            if ctype.startswith("application/x-www-form-urlencoded"):
                return True, dict(parse_qsl(raw.decode(), keep_blank_values=True))
            return True, json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return False, None

    def _control(self, path: str, query: str, raw: bytes) -> Reply:
        fake = self.server.fake
        if not ipaddress.ip_address(self.client_address[0]).is_loopback:
            return Reply(403, error_body("not_allowed", "the control endpoint is loopback only"))
        ok, body = self._json(raw) if raw else (True, {})
        route = (self.command, path)
        if route == ("GET", "/_control/state"):
            return Reply(200, fake.state())
        if route == ("GET", "/_control/events"):
            since = parse_qs(query).get("since", ["0"])[-1]
            events = fake.events[int(since) if since.isdigit() else 0 :]
            return Reply(200, {"count": fake.event_count, "events": events})
        if route == ("POST", "/_control/reset"):
            fake.reset()
            return Reply(200, {"status": "reset"})
        if route == ("POST", "/_control/faults"):
            if not ok or not isinstance(body, dict):
                return Reply(400, error_body("invalid", "send a JSON object of Faults fields"))
            try:
                fake.set_faults(**body)
            except (TypeError, ValueError) as exc:
                return Reply(400, error_body("invalid", str(exc)))
            return Reply(200, fake.state()["faults"])
        if route == ("POST", "/_control/actions"):
            actions = body.get("actions") if ok and isinstance(body, dict) else None
            if not isinstance(actions, list) or not all(isinstance(a, str) for a in actions):
                msg = 'send {"actions": [names]}'
                return Reply(400, error_body("parameter_missing", msg, "actions"))
            fake.actions = frozenset(actions)
            return Reply(200, {"actions": sorted(fake.actions)})
        if route == ("POST", "/_control/token"):
            token = body.get("token") if ok and isinstance(body, dict) else None
            if not isinstance(token, str):
                return Reply(400, error_body("parameter_missing", "token is required", "token"))
            fake.token = token
            return Reply(200, {"status": "ok"})
        return Reply(404, error_body("not_found", f"no control endpoint {self.command} {path}"))

    # -- bytes in, bytes out ---------------------------------------------------------------

    def _read_body(self) -> bytes | None:
        """The request body, or None after answering/closing a malformed request."""
        if "chunked" in self.fields.get("transfer-encoding", "").lower():
            return self._read_chunked()
        length = self.fields.get("content-length")
        if not length:
            return b""
        if not length.isdigit():
            self.close_connection = True
            self._send(Reply(400, error_body("invalid", "bad Content-Length")), counted=False)
            return None
        size = int(length)
        if size > MAX_BODY:
            self.close_connection = True
            self._send(Reply(413, error_body("invalid", "body too large")), counted=False)
            return None
        data = self.rfile.read(size)
        if len(data) < size:  # the client went away mid-body
            self.close_connection = True
            return None
        return data

    def _read_chunked(self) -> bytes | None:
        chunks: list[bytes] = []
        total = 0
        try:
            while True:
                size = int(self.rfile.readline(1024).split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                total += size
                if total > MAX_BODY:
                    raise ValueError("body too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline(1024)
        except ValueError:
            self.close_connection = True
            self._send(Reply(400, error_body("invalid", "bad chunked body")), counted=False)
            return None

    def _send(self, reply: Reply, *, counted: bool, trickle: float = 0.0, padding: int = 0) -> None:
        body = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
        phrase = _PHRASES.get(reply.status, "Status")
        headers = dict(reply.headers)
        lines = [
            f"HTTP/1.1 {reply.status} {phrase}",
            f"Content-Type: {headers.pop('Content-Type', 'application/json; charset=utf-8')}",
            f"Date: {_http_date()}",
        ]
        if padding:
            self.close_connection = True  # the body ends when the connection does
        else:
            lines.append(f"Content-Length: {len(body)}")
        lines.extend(f"{name}: {value}" for name, value in headers.items())
        if self.close_connection:
            lines.append("Connection: close")
        if counted:
            self.server.fake.answered(reply.status)
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        try:
            if trickle:
                self.wfile.write(head)  # the status line and headers at once, then the body
                self._trickle(body, trickle)
            else:
                self.wfile.write(head + body)
            for _ in range(padding // 65536):  # never held in memory whole
                self.wfile.write(b" " * 65536)
        except OSError:  # the client gave up (timeout, killed): nothing to answer to
            self.close_connection = True

    def _trickle(self, data: bytes, seconds: float) -> None:
        self.close_connection = True
        for i in range(len(data)):
            self.wfile.write(data[i : i + 1])
            self.wfile.flush()
            time.sleep(seconds)
