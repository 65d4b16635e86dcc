"""The ingest endpoint's HTTP server: uvicorn (with httptools) under `bounded`'s limits, in a
thread of its own.

uvicorn runs an asyncio event loop on its own thread, never on a tap's or scanner's: a flood of
app requests can slow their answers, never a receipt. `bounded` caps the connections (a budget
sized from the descriptor limit: beyond it a connection is closed at once), the time for
headers and body, and the headers' size; the app bounds the body size and the requests waiting
for a commit. `stop` drains: new requests get 503, uvicorn stops accepting and lets the
requests in flight get their answer, then the committer and the outbox close.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from agent.config import AgentConfig, parse_host_port
from agent.delivery.outbox import Outbox
from agent.errors import AgentError
from agent.ingest.app import IngestApp
from agent.ingest.bounded import BoundedServer, Limits, bind, connection_budget, soft_fd_limit
from agent.ingest.commit import Committer

log = logging.getLogger("agent.ingest")
FD_SHARE = 0.75  # of the descriptors left after the reserve; /metrics takes a small part


class IngestServer:
    def __init__(self, config: AgentConfig, *, on_commit: Callable[[], None] | None = None):
        ingest = config.ingest
        if ingest.token is None:
            raise AgentError("the ingest endpoint needs an ingest token")
        host, port = parse_host_port(ingest.listen)
        self._sock = bind(host, port, "ingest")  # a taken port leaves nothing open
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
        soft = soft_fd_limit()
        budget = connection_budget(ingest.max_connections, FD_SHARE, soft)
        if budget < ingest.max_connections:
            log.warning(
                "ingest: %d connections at once, not ingest.max_connections = %d: the process"
                " may open %d files (raise LimitNOFILE)", budget, ingest.max_connections, soft,
            )
        self.limits = Limits(max_connections=budget, body_seconds=ingest.body_timeout_seconds)
        self.http = BoundedServer(self.app, self._sock, self.limits, name="ingest-http")
        self.port = int(self._sock.getsockname()[1])
        self.address = f"{host}:{self.port}"

    def start(self) -> None:
        self.committer.start(self.app.settled)
        self.http.start()
        log.info("ingest endpoint on http://%s/v1/attribution/events", self.address)

    def stop(self, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        self.app.closing = True  # a request that arrives now gets 503: retry later
        self.http.stop(timeout)  # stop accepting; in-flight requests finish
        self.committer.stop(timeout=max(0.1, deadline - time.monotonic()))
        self.outbox.close()
        refused = {str(k or "over budget"): v for k, v in sorted(self.http.refused.items())}
        log.info("ingest stopped: answers %s, refused %s",
                 dict(sorted(self.app.answered.items())), refused)


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
