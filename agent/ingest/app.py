"""The WSGI application behind the ingest endpoint: `POST /v1/attribution/events`.

The body is Hellotext's (action, profile or session, object, object_parameters, amount,
currency, tracked_at, metadata) plus `phone` or `email` as the identity, as `track --phone`
takes them. Answers, in Hellotext's shapes:
    200 {"status": "received", "id": "<agent event id>"}   committed to the outbox
    401 wrong or missing Bearer token      413 body over the cap      400 not JSON
    422 {"errors": [{"type", "message", "parameter"}]}      the event model said no
    503 the outbox could not store it (full disk) or the agent is stopping: retry
An `Idempotency-Key` header makes the event id a function of the key, so the outbox's unique
id stores one event per key and a replay is answered with the same id.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from agent.delivery.events import BUILTIN_ACTIONS, Event, new_event_id, stable_event_id
from agent.errors import AgentError
from agent.ingest.commit import Committer
from agent.phones import to_e164

log = logging.getLogger("agent.ingest")
PATH = "/v1/attribution/events"
COMMIT_TIMEOUT = 30.0
MAX_KEY = 255
StartResponse = Callable[..., Any]
Problem = dict[str, str]


class BodyError(ValueError):
    def __init__(self, problem: Problem) -> None:
        super().__init__(problem["message"])
        self.problem = problem


def problem(kind: str, message: str, parameter: str = "") -> Problem:
    out = {"type": kind, "message": message}
    if parameter:
        out["parameter"] = parameter
    return out


def _pydantic_problems(exc: ValidationError) -> list[Problem]:
    kinds = {"missing": "parameter_missing", "extra_forbidden": "not_allowed"}
    found = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"])
        message = err["msg"].removeprefix("Value error, ")
        found.append(problem(kinds.get(err["type"], "invalid"), message, where))
    return found


def _plain_numbers(value: Any) -> Any:
    """Floats were parsed as Decimal (exact amounts); metadata and times want JSON numbers."""
    return float(value) if isinstance(value, Decimal) else value


def build_event(data: Any, *, key: str | None, now: float, country: str) -> Event:
    """The body as an Event (raises BodyError or pydantic's ValidationError)."""
    if not isinstance(data, dict):
        raise BodyError(problem("invalid", "the body must be a JSON object"))
    if "id" in data:
        raise BodyError(problem("not_allowed", "the agent gives the event its id", "id"))
    custom = data.get("action") not in BUILTIN_ACTIONS
    if custom and data.get("object_parameters") is not None and not data.get("object_type"):
        message = "a custom action goes without object_parameters (or give object_type)"
        raise BodyError(problem("parameter_missing", message, "object_type"))
    fields = dict(data)
    phone = fields.get("phone")
    if isinstance(phone, str):
        e164 = to_e164(phone, country)
        if e164 is None:
            raise BodyError(problem("invalid", f"not a phone number in {country}", "phone"))
        fields["phone"] = e164
    if isinstance(fields.get("metadata"), dict):
        fields["metadata"] = {k: _plain_numbers(v) for k, v in fields["metadata"].items()}
    if "tracked_at" in fields:
        fields["tracked_at"] = _plain_numbers(fields["tracked_at"])
    else:
        fields["tracked_at"] = now  # Hellotext's default: the time it was received
    event_id = stable_event_id("ingest", key) if key is not None else new_event_id()
    return Event(id=event_id, **fields)


class IngestApp:
    """The WSGI callable. `closing` turns new requests away (503) while the daemon stops."""

    def __init__(
        self,
        *,
        token: str,
        committer: Committer,
        country: str,
        max_body: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._token = ("Bearer " + token).encode()
        self._committer = committer
        self._country = country
        self._max_body = max_body
        self._clock = clock
        self._lock = threading.Lock()
        self.in_flight = 0
        self.closing = False
        self.answered: dict[int, int] = {}  # status -> count, for the log at stop

    def __call__(self, environ: dict[str, Any], start: StartResponse) -> Iterable[bytes]:
        with self._lock:
            self.in_flight += 1
        try:
            status, body, extra = self._handle(environ)
        finally:
            with self._lock:
                self.in_flight -= 1
        with self._lock:
            self.answered[status] = self.answered.get(status, 0) + 1
        payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))]
        start(f"{status} {_REASONS[status]}", headers + extra)
        return [payload]

    def _handle(self, environ: dict[str, Any]) -> tuple[int, Any, list[tuple[str, str]]]:
        if environ.get("PATH_INFO") != PATH:
            return 404, _errors(problem("not_found", "only POST " + PATH + " is served")), []
        if environ.get("REQUEST_METHOD") != "POST":
            return 405, _errors(problem("not_allowed", "use POST")), [("Allow", "POST")]
        given = environ.get("HTTP_AUTHORIZATION", "").encode("latin-1", "replace")
        if not hmac.compare_digest(given, self._token):
            message = "missing or wrong Bearer token (the agent's ingest token)"
            return 401, _errors(problem("unauthorized", message)), [("WWW-Authenticate", "Bearer")]
        if self.closing:
            return 503, _errors(problem("unavailable", "the agent is stopping")), _RETRY
        raw = environ["wsgi.input"].read(self._max_body + 1)
        if len(raw) > self._max_body:
            message = f"the body is over {self._max_body} bytes"
            return 413, _errors(problem("too_large", message)), []
        try:
            data = json.loads(raw, parse_float=Decimal)
        except (ValueError, RecursionError):
            return 400, _errors(problem("invalid", "the body is not JSON")), []
        key = environ.get("HTTP_IDEMPOTENCY_KEY")
        if key is not None and not (0 < len(key) <= MAX_KEY and key.isprintable()):
            bad = problem("invalid", f"1 to {MAX_KEY} printable characters", "Idempotency-Key")
            return 422, _errors(bad), []
        try:
            event = build_event(data, key=key, now=self._clock(), country=self._country)
        except BodyError as exc:
            return 422, _errors(exc.problem), []
        except ValidationError as exc:
            return 422, {"errors": _pydantic_problems(exc)}, []
        try:
            stored = self._committer.submit(event).wait(COMMIT_TIMEOUT)
        except (AgentError, TimeoutError) as exc:
            return 503, _errors(problem("unavailable", f"not stored, retry: {exc}")), _RETRY
        return 200, {"status": "received", "id": stored}, []


def _errors(*problems: Problem) -> dict[str, list[Problem]]:
    return {"errors": list(problems)}


_RETRY = [("Retry-After", "5")]
_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Content Too Large",
    422: "Unprocessable Content",
    503: "Service Unavailable",
}
