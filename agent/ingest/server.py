"""The ingest endpoint's HTTP server: waitress, in threads of its own, off the printing path.

waitress runs one small select loop (its own thread) and a fixed pool of worker threads (the
requests in flight); its options bound the connections and the body size. Nothing here runs
on a tap's or scanner's thread: a flood of app requests can slow their answers, never a
receipt. `stop` drains: stop accepting, let the requests in flight get their answer, close.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from waitress import wasyncore
from waitress.server import create_server

from agent.config import AgentConfig, parse_host_port
from agent.delivery.outbox import Outbox
from agent.errors import AgentError
from agent.ingest.app import IngestApp
from agent.ingest.commit import Committer

log = logging.getLogger("agent.ingest")


class IngestServer:
    def __init__(self, config: AgentConfig, *, on_commit: Callable[[], None] | None = None):
        ingest = config.ingest
        if ingest.token is None:
            raise AgentError("the ingest endpoint needs an ingest token")
        host, port = parse_host_port(ingest.listen)
        sock = _bound_socket(host, port, ingest.listen)  # first: a taken port leaves nothing open
        try:
            # Its own connection: a commit here never waits behind the syncer's Python lock.
            self.outbox = Outbox(config.outbox.path, synchronous=config.outbox.synchronous)
        except BaseException:
            sock.close()
            raise
        self.committer = Committer(self.outbox, on_commit=on_commit)
        self.app = IngestApp(
            token=ingest.token.get_secret_value(),
            committer=self.committer,
            country=config.store.country,
            max_body=ingest.max_body_bytes,
        )
        try:
            self._server: Any = create_server(
                self.app,
                sockets=[sock],
                threads=ingest.max_in_flight,
                connection_limit=ingest.max_connections,
                max_request_body_size=ingest.max_body_bytes,  # 413 before reading the body
                channel_timeout=60,  # an idle keep-alive connection is closed after this
                ident="hellotext-agent",
                clear_untrusted_proxy_headers=True,
            )
        except BaseException:
            sock.close()
            self.outbox.close()
            raise
        # "Task queue depth" warnings: the queue is bounded by the connections, by design.
        logging.getLogger("waitress.queue").setLevel(logging.ERROR)
        self.port = int(self._server.effective_port)
        self.address = f"{self._server.effective_host}:{self.port}"
        self._thread = threading.Thread(target=self._server.run, name="ingest-http", daemon=True)

    def start(self) -> None:
        self.committer.start()
        self._thread.start()
        log.info("ingest endpoint on http://%s/v1/attribution/events", self.address)

    def _in_loop(self, thunk: Callable[[], None]) -> None:
        """Run thunk on waitress's loop thread (the one that owns its sockets)."""
        self._server.trigger.pull_trigger(thunk)

    def stop(self, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        self.app.closing = True  # a request that arrives now gets 503: retry later
        self._in_loop(lambda: wasyncore.dispatcher.close(self._server))  # stop accepting
        while self.app.in_flight and time.monotonic() < deadline:
            time.sleep(0.01)
        self.committer.stop(timeout=max(0.1, deadline - time.monotonic()))
        # Answers written by the workers are flushed by the loop: give them a moment.
        while self._unsent() and time.monotonic() < deadline:
            time.sleep(0.01)
        self._server.task_dispatcher.shutdown(timeout=max(0.1, deadline - time.monotonic()))
        self._in_loop(lambda: wasyncore.close_all(self._server._map))
        self._thread.join(timeout=max(0.1, deadline - time.monotonic()))
        self.outbox.close()
        log.info("ingest stopped: answers %s", dict(sorted(self.app.answered.items())))

    def _unsent(self) -> bool:
        channels = list(self._server._map.values())
        return any(getattr(c, "total_outbufs_len", 0) for c in channels)


def _bound_socket(host: str, port: int, listen: str) -> socket.socket:
    """Bound here, not by waitress, so that a taken port is one clean error."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise AgentError(f"ingest: cannot listen on {listen}: {exc.strerror}") from exc
    return sock


def start_ingest(
    config: AgentConfig, *, on_commit: Callable[[], None] | None = None
) -> IngestServer | None:
    """The endpoint, started; None when it is off (no listen address, or no ingest token).
    A port already taken is logged, not raised: the printer matters more than the apps."""
    if not config.ingest.listen:
        return None
    if config.ingest.token is None:
        log.info(
            "ingest endpoint off: set HELLOTEXT_INGEST_TOKEN, the credential ingest-token or"
            ' ingest.token_file (or ingest.listen = "" to silence this)'
        )
        return None
    try:
        server = IngestServer(config, on_commit=on_commit)
    except AgentError as exc:
        log.error("%s; in-store apps cannot post events", exc)
        return None
    server.start()
    return server
