"""The Hellotext client's connection: a total deadline on every socket operation, no trust in
the process environment, answer bodies inflated only up to a cap.

httpx's timeouts are per read: a server sending one byte a second holds a request for as
long as it likes, status line and headers included. So every connect, TLS handshake, read
and write of the pool runs with `min(its own timeout, time left before the deadline)`, and
past the deadline fails at once as a timeout; `deadline(at)` sets it for the requests the
calling thread makes (sync httpx does its IO in the caller's thread).

`trust_env=False`: `SSL_CERT_FILE`/`SSL_CERT_DIR` cannot swap the trust store, `HTTP(S)_PROXY`
cannot route the bearer token elsewhere, `.netrc` adds nothing; a proxy comes only from
`hellotext.proxy`.

May import httpx, httpcore and the stdlib only.
"""

from __future__ import annotations

import contextlib
import ssl
import threading
import time
import typing
import zlib
from collections.abc import Iterable, Iterator

import httpcore
import httpx

__all__ = ["BodyTooLong", "UnreadableBody", "deadline", "inflate", "make_transport"]

_local = threading.local()


@contextlib.contextmanager
def deadline(at: float) -> Iterator[None]:
    """Requests of this thread end by `at` (time.monotonic()) whatever the server does."""
    before = getattr(_local, "at", None)
    _local.at = at
    try:
        yield
    finally:
        _local.at = before


def _bounded(timeout: float | None, error: type[httpcore.TimeoutException]) -> float | None:
    at: float | None = getattr(_local, "at", None)
    if at is None:
        return timeout
    left = at - time.monotonic()
    if left <= 0:
        raise error("the exchange's total deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _bounded(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _bounded(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, bounded))

    def get_extra_info(self, info: str) -> typing.Any:
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self, backend: httpcore.NetworkBackend) -> None:
        self._backend = backend

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(
            self._backend.connect_tcp(host, port, bounded, local_address, socket_options)
        )

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._backend.connect_unix_socket(path, bounded, socket_options))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


def make_transport(*, proxy: str = "", max_connections: int = 4) -> httpx.HTTPTransport:
    """httpx's transport, verified TLS from its own trust store, deadline-bound sockets."""
    transport = httpx.HTTPTransport(
        trust_env=False,
        proxy=proxy or None,
        limits=httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        ),
    )
    # httpx takes no network backend; its pool (plain or proxy) makes every connection
    # with this attribute, so wrapping it here bounds them all. tests/hostile pins it.
    pool = transport._pool
    pool._network_backend = _DeadlineBackend(pool._network_backend)
    return transport


class BodyTooLong(Exception):
    """The answer (after inflating) passed the cap."""


class UnreadableBody(Exception):
    """A content coding we did not ask for and cannot inflate, or a corrupt one."""


def inflate(chunks: Iterable[bytes], coding: str, cap: int) -> bytes:
    """The body from its raw chunks, decoded as `Content-Encoding: coding` says, never
    holding more than `cap` decoded bytes: a gzip bomb stops at the cap, not at 1 GiB."""
    coding = coding.strip().lower()
    if coding in ("", "identity"):
        out = bytearray()
        for chunk in chunks:
            out += chunk
            if len(out) > cap:
                raise BodyTooLong
        return bytes(out)
    if coding not in ("gzip", "x-gzip", "deflate"):
        raise UnreadableBody(f"content coding {coding!r}")
    # 32 + 15: zlib or gzip header, detected (deflate is zlib-wrapped per RFC 9110)
    inflater = zlib.decompressobj(32 + zlib.MAX_WBITS)
    out = bytearray()
    try:
        for chunk in chunks:
            out += inflater.decompress(chunk, cap + 1 - len(out))
            if len(out) > cap:
                raise BodyTooLong
        out += inflater.flush()
    except zlib.error as exc:
        raise UnreadableBody(f"corrupt {coding} body") from exc
    if len(out) > cap:
        raise BodyTooLong
    return bytes(out)
