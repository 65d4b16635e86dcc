"""A bounded HTTP/1.1 listener for the agent's two local servers (ingest and /metrics).

uvicorn's httptools protocol, with the limits it lacks, so that nobody on the store's network
can take from the taps the file descriptors, the memory or the CPU a receipt needs:
- a connection budget: a connection beyond it is closed as soon as it is accepted (it costs
  one descriptor for a moment, never a tap's). The budget is sized from the process's soft
  RLIMIT_NOFILE at start, leaving RESERVED_FDS for the taps, the outbox and the rest;
- the request line and headers within `header_seconds` of the connection (or of a request's
  first byte on a keep-alive connection), the body within `body_seconds`: past it 408 and
  the connection is closed (an idle one, silently);
- at most `max_header_bytes` of request line and headers and `max_headers` fields: past it
  431 at once, before reading more;
- "out of file descriptors" on accept logged once a minute (asyncio logs it per try).

It subclasses uvicorn's HttpToolsProtocol and calls into its parser callbacks, so a uvicorn
upgrade must pass tests/hostile (which exercise every limit over real sockets).
"""

from __future__ import annotations

import asyncio
import json
import logging
import resource
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, ClassVar

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from agent.errors import AgentError

log = logging.getLogger("agent.ingest")
RESERVED_FDS = 256  # taps (two per print job), the outbox's files, OCR's pipes, sync, logs
ACCEPT_LOG_SECONDS = 60.0
START_SECONDS = 30.0
BACKLOG = 128  # connections the kernel queues; beyond the budget each is closed once accepted
LINGER_SECONDS = 1.0  # a refused request's answer gets this long to be read


@dataclass(frozen=True)
class Limits:
    max_connections: int
    header_seconds: float = 5.0
    body_seconds: float = 10.0
    keep_alive_seconds: float = 60.0
    max_header_bytes: int = 16384
    max_headers: int = 100


def soft_fd_limit() -> int:
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


def connection_budget(wanted: int, share: float, soft_limit: int) -> int:
    """At most `wanted`, and at most `share` of the descriptors left after RESERVED_FDS
    (at least 1: a till at a tiny limit still answers one app at a time)."""
    return max(1, min(wanted, int((soft_limit - RESERVED_FDS) * share)))


class BoundedProtocol(HttpToolsProtocol):
    """One connection. `limits` and `refused` are set per server by `protocol_for`."""

    limits: ClassVar[Limits]
    refused: ClassVar[dict[int, int]]  # status (0: over the budget) -> count

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._timer: asyncio.TimerHandle | None = None
        self._done = False  # refused or timed out: ignore whatever else arrives
        self._in_head = True
        self._head_bytes = 0  # received while the head was incomplete (streaming bound)
        self._head_size = 0  # request line and fields as parsed (exact bound)
        self._head_fields = 0
        self._began = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.connections) >= self.limits.max_connections:
            self.transport = transport  # connection_lost closes it again, harmlessly
            self._done = True
            self._count(0)
            transport.close()
            return
        super().connection_made(transport)
        self._arm(self.limits.header_seconds)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._done:
            return
        super().data_received(data)
        if self._in_head and not self._done:
            self._head_bytes += len(data)
            if self._head_bytes > self.limits.max_header_bytes:
                self._refuse(431, self._too_big())

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head, self._began = True, True
        self._head_bytes = self._head_size = self._head_fields = 0
        if self._timer is None:  # a keep-alive connection's next request
            self._arm(self.limits.header_seconds)

    def on_url(self, url: bytes) -> None:
        self._head_size += len(url)
        if self._checked():
            super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_fields += 1
        self._head_size += len(name) + len(value) + 4
        if self._checked():
            super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._disarm()
        if not self._checked():
            return
        super().on_headers_complete()
        self._arm(self.limits.body_seconds)

    def on_body(self, body: bytes) -> None:
        if not self._done:
            super().on_body(body)

    def on_message_complete(self) -> None:
        self._disarm()
        self._began = False
        if not self._done:
            super().on_message_complete()

    # -- limits --
    def _checked(self) -> bool:
        """False once refused; refuses (431) a head over either cap, at once."""
        if self._done:
            return False
        if self._head_fields > self.limits.max_headers or (
            self._head_size > self.limits.max_header_bytes
        ):
            self._refuse(431, self._too_big())
            return False
        return True

    def _too_big(self) -> str:
        most = self.limits
        return f"request headers over {most.max_header_bytes} bytes or {most.max_headers} fields"

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._timer = self.loop.call_later(seconds, self._expired)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expired(self) -> None:
        self._timer = None
        if self._done or self.transport.is_closing():
            return
        if not self._began:  # connected and never sent a byte: just close
            self._done = True
            self._count(408)
            self.transport.close()
            return
        what = "request headers" if self._in_head else "request body"
        self._refuse(408, f"{what} not received in time")

    def _refuse(self, status: int, message: str) -> None:
        """Answer `status` (unless a response already began) and close the connection."""
        self._done = True
        self._disarm()
        self._count(status)
        if self.cycle is None or not self.cycle.response_started:
            payload = json.dumps({"errors": [{"type": "refused", "message": message}]}).encode()
            reason = {408: "Request Timeout", 431: "Request Header Fields Too Large"}[status]
            head = (
                f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
                f"content-length: {len(payload)}\r\nconnection: close\r\n\r\n"
            )
            self.transport.write(head.encode() + payload)
        # Not closed at once: unread bytes would make the kernel send a reset, which can
        # destroy the answer before the client reads it. Half-close, stop reading, close soon.
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.transport.pause_reading()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)

    def _count(self, status: int) -> None:
        self.refused[status] = self.refused.get(status, 0) + 1


def protocol_for(limits: Limits) -> type[BoundedProtocol]:
    """A protocol class of its own per server: its limits and its refusal counts."""
    attrs = {"limits": limits, "refused": {}}
    return type("BoundedConnection", (BoundedProtocol,), attrs)


class _Server(uvicorn.Server):
    """uvicorn's server with the accept errors rate-limited (see `AcceptErrors`)."""

    def __init__(self, config: uvicorn.Config, what: str) -> None:
        super().__init__(config)
        self.accept_errors = AcceptErrors(what)

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        asyncio.get_running_loop().set_exception_handler(self.accept_errors.handle)
        await super().serve(sockets)


class AcceptErrors:
    """asyncio reports "out of system resource" on accept once per pending connection and
    try (83,020 tracebacks in 15 s once): one line a minute says it instead, with a count."""

    def __init__(self, what: str, clock: Any = time.monotonic) -> None:
        self.what = what
        self._clock = clock
        self._last: float | None = None
        self.count = 0
        self._unlogged = 0

    def handle(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if context.get("message") != "socket.accept() out of system resource":
            if isinstance(context.get("exception"), ValueError) and "_start_serving" in str(
                context.get("handle")
            ):
                return  # that retry fired after stop() closed the socket: nothing to serve
            loop.default_exception_handler(context)
            return
        self.count += 1
        self._unlogged += 1
        now = self._clock()
        if self._last is not None and now - self._last < ACCEPT_LOG_SECONDS:
            return
        self._last = now
        exc = context.get("exception")
        reason = getattr(exc, "strerror", None) or str(exc)
        log.error(
            "%s: cannot accept connections: %s (%d time(s) since the last report; the taps"
            " keep their own descriptors)", self.what, reason, self._unlogged,
        )
        self._unlogged = 0


def bind(host: str, port: int, what: str) -> socket.socket:
    """Bound here, not by the server, so that a taken port is one clean error."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise AgentError(f"{what}: cannot listen on {host}:{port}: {exc.strerror}") from exc
    return sock


class BoundedServer:
    """An ASGI app served on `sock` under `limits`, from a daemon thread of its own."""

    def __init__(self, app: Any, sock: socket.socket, limits: Limits, *, name: str) -> None:
        self.limits = limits
        self.protocol = protocol_for(limits)
        self._sock = sock
        self._server = _Server(
            uvicorn.Config(
                app,
                http=self.protocol,
                lifespan="off",
                log_config=None,
                access_log=False,
                timeout_keep_alive=int(limits.keep_alive_seconds),
                timeout_graceful_shutdown=5,
                server_header=False,
                # asyncio tries `backlog` accepts per wake, and on EMFILE it keeps trying and
                # schedules a retry per try: one. The kernel's queue is set apart in start().
                backlog=1,
            ),
            name,
        )
        logging.getLogger("uvicorn.error").setLevel(logging.WARNING)  # its start/stop chatter
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    @property
    def refused(self) -> dict[int, int]:
        return dict(self.protocol.refused)

    @property
    def accept_errors(self) -> int:
        return self._server.accept_errors.count

    def _run(self) -> None:
        try:
            self._server.run(sockets=[self._sock])
        except Exception:  # the endpoint may die; the till goes on printing
            log.exception("%s stopped", self._thread.name)

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + START_SECONDS
        while not self._server.started and self._thread.is_alive():
            if time.monotonic() > deadline:
                break
            time.sleep(0.01)
        if self._server.started:
            self._sock.listen(BACKLOG)  # listen() again only resizes the kernel's queue

    def stop(self, timeout: float) -> None:
        """Stop accepting; requests in flight finish within `timeout`, then it is forced."""
        deadline = time.monotonic() + timeout
        self._server.should_exit = True
        self._thread.join(timeout=max(0.1, deadline - time.monotonic()))
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(timeout=1.0)
        self._sock.close()
