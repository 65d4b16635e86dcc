"""A local stand-in for the Hellotext API: a real HTTP/1.1 server for tests, benchmarks, demo.

It implements the endpoints and rules of `shared/hellotext-api.md` (validation lives in
`agent.standin.rules`), records what it accepted, counts duplicates by
`metadata.agent_event_id`, and injects faults (5xx, 429 + Retry-After, slow answers, dropped
connections, offline, a forced status) settable in Python, from the CLI, or through a small
loopback-only control endpoint:
  GET /_control/state   counts by status, events, duplicates, profiles, actions, faults
  GET /_control/events  {"count", "events"} (`?since=N` skips the first N)
  POST /_control/faults {Faults fields to change}   POST /_control/reset
  POST /_control/token {"token": ...}               POST /_control/actions {"actions": [...]}
Products and orders (`POST /v1/attribution/products`, `.../orders`) live in
`agent.standin.objects`, deduplicated by reference and source as Hellotext does.
Offline resets every connection except those to /_control/, so it can be switched back.

Usage: `with FakeHellotext(token="t") as fake: client.post(fake.url + "/attribution/events")`.
"""

from __future__ import annotations

import dataclasses
import hmac
import json
import math
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from agent.standin.http import Draw, Reply, Server
from agent.standin.objects import Objects, route
from agent.standin.rules import (
    Rejection,
    error_body,
    iso_currencies,
    profile_fields,
    profile_id,
    validate_event,
)

__all__ = ["Faults", "FakeHellotext"]

_RECEIVED = json.dumps({"status": "received"}).encode()
_OVERRIDE_TYPES = {401: "unauthorized", 403: "not_allowed", 404: "not_found", 422: "invalid"}


@dataclass
class Faults:
    fail_rate: float = 0.0  # share of requests answered 500/502/503
    rate_limit_every: int = 0  # every Nth request answers 429
    retry_after: str | None = None  # Retry-After on 429/503: seconds or an HTTP date
    delay: float = 0.0  # seconds before processing and answering (a client that timed out
    #                     may still have been recorded: "maybe delivered")
    drop_rate: float = 0.0  # share of requests read, then the connection closed unanswered
    offline: bool = False  # connections reset at once (SO_LINGER 0), as near "no network" as can be
    status_override: int | None = None  # answer every request with this status (401, 403...)
    lose_answer_rate: float = 0.0  # share of requests processed (events recorded) whose
    #                                answer is lost: the connection closes instead
    portal: bool = False  # a captive portal: every /v1 request gets 200 and an HTML page,
    #                       nothing is recorded
    trickle_seconds: float = 0.0  # the answer (after processing) is sent one byte this often
    answer_padding: int = 0  # bytes of whitespace after the answer's JSON, no Content-Length
    rate_limit_per_second: float = 0.0  # answered requests in any 1 s window; beyond it 429
    #                                      with Retry-After (whole seconds until a slot frees)

    def check(self) -> None:
        for name in ("fail_rate", "drop_rate", "lose_answer_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        numbers = (self.rate_limit_every, self.delay, self.trickle_seconds, self.answer_padding,
                   self.rate_limit_per_second)
        if min(numbers) < 0:
            raise ValueError(
                "rate_limit_every, rate_limit_per_second, delay, trickle and padding cannot be"
                " negative"
            )
        if self.status_override is not None and not 100 <= self.status_override <= 599:
            raise ValueError("status_override must be an HTTP status")


class FakeHellotext:
    """The stand-in server; serves from a background thread between start() and stop()."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str = "test-token",
        actions: Iterable[str] = ("tienda_fisica.pago",),
        faults: Faults | None = None,
        seed: int | None = None,
    ) -> None:
        self.token = token
        self.actions = frozenset(actions)
        self._host, self._port, self._seed = host, port, seed
        self._initial = (token, dataclasses.replace(faults or Faults()), self.actions)
        self._initial[1].check()
        self._lock = threading.Condition()
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._clear(self._initial[1])

    def _clear(self, faults: Faults) -> None:
        self._faults = dataclasses.replace(faults)
        self._rng = random.Random(self._seed)
        self._bodies: list[bytes] = []  # raw bodies: a 100,000-event run stays small
        self._seen: set[str] = set()
        self._duplicates = 0
        self._profiles: dict[str, dict[str, Any]] = {}
        self._by_contact: dict[str, str] = {}  # phone or e-mail -> profile id
        self._sessions: dict[str, str] = {}  # session id -> profile id
        self.objects = Objects(self._seed)  # products and orders
        self._requests = 0
        self._statuses: Counter[int] = Counter()
        self._started = time.monotonic()
        self._admitted: deque[float] = deque()  # times of requests let through, last second
        self._per_second: Counter[int] = Counter()  # /v1 requests by second since start/reset

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> FakeHellotext:
        if self._server is None:
            iso_currencies()  # load pycountry now, not during the first request
            self._server = Server((self._host, self._port), self)
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.02},
                name="fake-hellotext",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
            server.close_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeHellotext:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the fake Hellotext server is not started")
        host, port = self._server.server_name, self._server.server_port
        return f"http://[{host}]:{port}/v1" if ":" in host else f"http://{host}:{port}/v1"

    # -- what tests read and change --------------------------------------------------------

    @property
    def faults(self) -> Faults:
        with self._lock:
            return dataclasses.replace(self._faults)

    def set_faults(self, **changes: Any) -> None:
        """Change some fault fields (unknown names raise TypeError, bad values ValueError)."""
        with self._lock:
            faults = dataclasses.replace(self._faults, **changes)
            faults.check()
            self._faults = faults

    @property
    def events(self) -> list[dict[str, Any]]:
        with self._lock:
            bodies = list(self._bodies)
        return [json.loads(body) for body in bodies]

    @property
    def event_count(self) -> int:
        with self._lock:
            return len(self._bodies)

    @property
    def profiles(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {pid: dict(profile) for pid, profile in self._profiles.items()}

    @property
    def sessions(self) -> dict[str, str]:
        with self._lock:
            return dict(self._sessions)

    @property
    def duplicates(self) -> int:
        with self._lock:
            return self._duplicates

    @property
    def requests(self) -> int:
        with self._lock:
            return self._requests

    def count(self, status: int) -> int:
        """Answers sent with `status`; 0 counts requests left without an answer (drop_rate,
        lose_answer_rate)."""
        with self._lock:
            return self._statuses[status]

    def requests_per_second(self) -> list[int]:
        """/v1 requests the stand-in saw (answered or not) in each second since start/reset."""
        with self._lock:
            return self._rates()

    def _rates(self) -> list[int]:
        return [self._per_second[s] for s in range(max(self._per_second, default=-1) + 1)]

    def state(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": self._requests,
                "requests_per_second": self._rates(),
                "statuses": {str(k): v for k, v in sorted(self._statuses.items())},
                "events": len(self._bodies),
                "duplicates": self._duplicates,
                "profiles": len(self._profiles),
                "products": len(self.objects.products),
                "orders": len(self.objects.orders),
                "actions": sorted(self.actions),
                "faults": dataclasses.asdict(self._faults),
            }

    def reset(self) -> None:
        """Back to the state right after start: initial token, actions and faults, nothing
        recorded (events, profiles, sessions, counters), fault dice re-seeded."""
        with self._lock:
            self.token, _, self.actions = self._initial
            self._clear(self._initial[1])

    def wait_for_events(self, n: int, timeout: float) -> bool:
        """Block until at least `n` events were accepted; False on timeout."""
        with self._lock:
            return self._lock.wait_for(lambda: len(self._bodies) >= n, timeout=timeout)

    # -- called by the request handler (agent.standin.http) -----------------------------------

    def admit(self) -> Draw:
        """Count a /v1 request and draw its faults."""
        with self._lock:
            self._requests += 1
            now = time.monotonic()
            self._per_second[int(now - self._started)] += 1
            f = self._faults
            if f.drop_rate and self._rng.random() < f.drop_rate:
                self._statuses[0] += 1
                return Draw(f.delay, None, drop=True, lose_answer=False)
            retry = {"Retry-After": f.retry_after} if f.retry_after else {}
            forced: Reply | None = None
            if f.portal:
                self._statuses[200] += 1
                page = b"<!doctype html><html><body><h1>Wi-Fi login</h1></body></html>"
                forced = Reply(200, page, {"Content-Type": "text/html; charset=utf-8"})
                return Draw(f.delay, forced, drop=False, lose_answer=False)
            if f.status_override is not None and not 200 <= f.status_override < 300:
                status = f.status_override
                kind = _OVERRIDE_TYPES.get(status, "server_error" if status >= 500 else "invalid")
                headers = retry if status in (429, 503) else {}
                forced = Reply(status, error_body(kind, "forced by the fake server"), headers)
            elif f.rate_limit_every and self._requests % f.rate_limit_every == 0:
                forced = Reply(429, error_body("rate_limited", "too many requests"), retry)
            elif f.rate_limit_per_second and self._over_rate(now, f.rate_limit_per_second):
                wait = math.ceil(self._admitted[0] + 1.0 - now) or 1
                headers = retry or {"Retry-After": str(wait)}
                forced = Reply(429, error_body("rate_limited", "rate limit exceeded"), headers)
            elif f.fail_rate and self._rng.random() < f.fail_rate:
                status = self._rng.choice((500, 502, 503))
                headers = retry if status == 503 else {}
                forced = Reply(status, error_body("server_error", "temporary failure"), headers)
            lose = bool(f.lose_answer_rate) and self._rng.random() < f.lose_answer_rate
            if lose:
                self._statuses[0] += 1
            return Draw(f.delay, forced, False, lose, f.trickle_seconds, f.answer_padding)

    def _over_rate(self, now: float, limit: float) -> bool:
        """A sliding one-second window of the requests let through (caller holds the lock)."""
        while self._admitted and self._admitted[0] <= now - 1.0:
            self._admitted.popleft()
        if len(self._admitted) >= limit:
            return True
        self._admitted.append(now)
        return False

    def is_offline(self) -> bool:
        return self._faults.offline  # one attribute read: atomic, no lock needed

    def answered(self, status: int) -> None:
        with self._lock:
            self._statuses[status] += 1

    def authorized(self, header: str | None) -> bool:
        expected = f"Bearer {self.token}".encode()
        return header is not None and hmac.compare_digest(header.encode(), expected)

    def success_status(self) -> int:
        override = self._faults.status_override
        return override if override is not None and 200 <= override < 300 else 200

    def track(self, raw: bytes, body: Any) -> Reply:
        with self._lock:
            try:
                validate_event(body, actions=self.actions, profiles=self._profiles,
                               sessions=self._sessions, has_order=self.objects.has_order)
            except Rejection as exc:
                return Reply(exc.status, exc.body)
            self._bodies.append(raw)
            metadata = body.get("metadata")
            event_id = metadata.get("agent_event_id") if isinstance(metadata, dict) else None
            if event_id is not None:
                if str(event_id) in self._seen:
                    self._duplicates += 1
                else:
                    self._seen.add(str(event_id))
            self._lock.notify_all()
            return Reply(self.success_status(), _RECEIVED)

    def route_object(self, method: str, path: str, query: str, body: Any) -> Reply:
        return route(self.objects, method, path, query, body)

    def upsert_profile(self, body: Any) -> Reply:
        try:
            fields = profile_fields(body)
        except Rejection as exc:
            return Reply(exc.status, exc.body)
        contacts = [c for c in (fields["phone"], fields["email"]) if c]
        with self._lock:
            found = next((self._by_contact[c] for c in contacts if c in self._by_contact), None)
            if found is None:
                found = profile_id(self._rng.choice)
                while found in self._profiles:
                    found = profile_id(self._rng.choice)
                self._profiles[found] = {"id": found, **fields}
            else:  # matched: fill in what the stored profile lacks
                stored = self._profiles[found]
                for key, value in fields.items():
                    if stored.get(key) is None:
                        stored[key] = value
            for contact in contacts:
                self._by_contact.setdefault(contact, found)
            return Reply(self.success_status(), dict(self._profiles[found]))

    def list_profiles(self, limit: int) -> Reply:
        with self._lock:
            data = [dict(p) for p in list(self._profiles.values())[: max(limit, 0)]]
        return Reply(200, {"data": data})

    def get_profile(self, pid: str) -> Reply:
        with self._lock:
            profile = self._profiles.get(pid)
            if profile is None:
                return Reply(404, error_body("not_found", "profile does not exist", "id"))
            return Reply(200, dict(profile))

    def attach_session(self, session: str, body: Any) -> Reply:
        pid = body.get("profile") if isinstance(body, dict) else None
        if not isinstance(pid, str) or not pid:
            return Reply(400, error_body("parameter_missing", "profile is required", "profile"))
        with self._lock:
            if pid not in self._profiles:
                return Reply(404, error_body("not_found", "profile does not exist", "profile"))
            owner = self._sessions.setdefault(session, pid)
            if owner != pid:
                msg = "session belongs to another profile"
                return Reply(422, error_body("identity_assigned", msg, "session"))
            return Reply(self.success_status(), {"id": session, "profile": pid})
