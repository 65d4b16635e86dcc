"""The ingest endpoint's HTTP server: uvicorn (with httptools), in a thread of its own.

uvicorn runs an asyncio event loop on its own thread, never on a tap's or scanner's: a flood of
app requests can slow their answers, never a receipt. Its options bound the connections
(`limit_concurrency`: beyond it, 503) and idle keep-alive; the app bounds the body size and
the requests waiting for a commit. `stop` drains: new requests get 503, uvicorn stops
accepting and lets the requests in flight get their answer, then the committer and the
outbox close.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable

import uvicorn

from agent.config import AgentConfig, parse_host_port
from agent.delivery.outbox import Outbox
from agent.errors import AgentError
from agent.ingest.app import IngestApp
from agent.ingest.commit import Committer

log = logging.getLogger("agent.ingest")
START_SECONDS = 30.0


class IngestServer:
    def __init__(self, config: AgentConfig, *, on_commit: Callable[[], None] | None = None):
        ingest = config.ingest
        if ingest.token is None:
            raise AgentError("the ingest endpoint needs an ingest token")
        host, port = parse_host_port(ingest.listen)
        self._sock = _bound_socket(host, port, ingest.listen)  # a taken port leaves nothing open
        try:
            # Its own connection: a commit here never waits behind the syncer's Python lock.
            self.outbox = Outbox(config.outbox.path, synchronous=config.outbox.synchronous)
        except BaseException:
            self._sock.close()
            raise
        self.committer = Committer(self.outbox, on_commit=on_commit)
        self.app = IngestApp(
            token=ingest.token.get_secret_value(),
            committer=self.committer,
            country=config.store.country,
            max_body=ingest.max_body_bytes,
            max_in_flight=ingest.max_in_flight,
        )
        self._server = uvicorn.Server(
            uvicorn.Config(
                self.app,
                http="httptools",
                lifespan="off",
                log_config=None,
                access_log=False,
                limit_concurrency=ingest.max_connections,
                timeout_keep_alive=60,  # an idle keep-alive connection is closed after this
                timeout_graceful_shutdown=5,
                server_header=False,
            )
        )
        logging.getLogger("uvicorn.error").setLevel(logging.WARNING)  # its start/stop chatter
        self.port = int(self._sock.getsockname()[1])
        self.address = f"{host}:{self.port}"
        self._thread = threading.Thread(target=self._run, name="ingest-http", daemon=True)

    def _run(self) -> None:
        try:
            self._server.run(sockets=[self._sock])
        except Exception:  # the endpoint may die; the till goes on printing
            log.exception("ingest endpoint stopped")

    def start(self) -> None:
        self.committer.start(self.app.settled)
        self._thread.start()
        deadline = time.monotonic() + START_SECONDS
        while not self._server.started and self._thread.is_alive():
            if time.monotonic() > deadline:
                break
            time.sleep(0.01)
        log.info("ingest endpoint on http://%s/v1/attribution/events", self.address)

    def stop(self, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        self.app.closing = True  # a request that arrives now gets 503: retry later
        self._server.should_exit = True  # stop accepting; in-flight requests finish
        self._thread.join(timeout=max(0.1, deadline - time.monotonic()))
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(timeout=1.0)
        self.committer.stop(timeout=max(0.1, deadline - time.monotonic()))
        self._sock.close()
        self.outbox.close()
        log.info("ingest stopped: answers %s", dict(sorted(self.app.answered.items())))


def _bound_socket(host: str, port: int, listen: str) -> socket.socket:
    """Bound here, not by the server, so that a taken port is one clean error."""
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
        # Not configured at all (the default address, no token file): nothing to say at
        # every start. An address or a token file given without a usable token is a mistake.
        asked = "listen" in config.ingest.model_fields_set or config.ingest.token_file
        (log.warning if asked else log.debug)(
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
