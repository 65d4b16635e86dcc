"""The ASGI application behind the ingest endpoint: `POST /v1/attribution/events`.

The body is Hellotext's (action, profile or session, object, object_parameters, amount,
currency, tracked_at, metadata) plus `phone` or `email` as the identity, as `track --phone`
takes them. Answers, in Hellotext's shapes:
    200 {"status": "received", "id": "<agent event id>"}   committed to the outbox
    401 wrong or missing Bearer token      413 body over the cap
    400 not JSON, or two Authorization headers
    422 {"errors": [{"type", "message", "parameter"}]}      the event model said no
    503 the outbox could not store it (full disk) or the agent is stopping: retry
An `Idempotency-Key` header makes the event id a function of the key, so the outbox's unique
id stores one event per key and a replay is answered with the same id; the body's SHA-256 is
kept with it, and the same key with another body is 422 (the second body is not stored).

It runs on the server's event loop (its own thread): checks and the event model are quick,
and the wait for the commit is an await, so one loop serves every connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from agent.delivery.events import BUILTIN_ACTIONS, Event, new_event_id, stable_event_id
from agent.errors import AgentError, KeyReusedError
from agent.ingest.commit import Committer, Pending
from agent.phones import to_e164

log = logging.getLogger("agent.ingest")
PATH = "/v1/attribution/events"
COMMIT_TIMEOUT = 30.0
MAX_KEY = 255
Problem = dict[str, str]
Answer = tuple[int, Any, list[tuple[str, str]]]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class BodyError(ValueError):
    def __init__(self, problem: Problem) -> None:
        super().__init__(problem["message"])
        self.problem = problem


class ClientGone(Exception):
    """The connection closed before the whole body came."""


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
    if "order" in data:  # the agent's own field ([events] model = "orders"), not Hellotext's
        raise BodyError(problem("not_allowed", "unknown parameter", "order"))
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
    """The ASGI callable. `closing` turns new requests away (503) while the daemon stops."""

    def __init__(
        self,
        *,
        token: str,
        committer: Committer,
        country: str,
        max_body: int,
        max_in_flight: int = 8,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._token = ("Bearer " + token).encode()
        self._committer = committer
        self._country = country
        self._max_body = max_body
        self._max_in_flight = max_in_flight
        self._slots: asyncio.Semaphore | None = None  # made on the loop's thread
        self._loop: asyncio.AbstractEventLoop | None = None
        self._clock = clock
        self.in_flight = 0
        self.closing = False
        self.answered: dict[int, int] = {}  # status -> count, for the log at stop

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        self.in_flight += 1
        try:
            status, body, extra = await self._handle(scope, receive)
        except ClientGone:
            return  # nothing to answer, nothing stored
        finally:
            self.in_flight -= 1
        self.answered[status] = self.answered.get(status, 0) + 1
        payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        headers = [("content-type", "application/json"), ("content-length", str(len(payload)))]
        raw = [(k.encode(), v.encode("latin-1")) for k, v in headers + extra]
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": payload})

    async def _handle(self, scope: Message, receive: Receive) -> Answer:
        if scope.get("path") != PATH:
            return 404, _errors(problem("not_found", "only POST " + PATH + " is served")), []
        if scope.get("method") != "POST":
            return 405, _errors(problem("not_allowed", "use POST")), [("Allow", "POST")]
        pairs = scope.get("headers", [])
        headers = {k.lower(): v for k, v in pairs}
        if sum(k.lower() == b"authorization" for k, _ in pairs) > 1:  # which one would win?
            message = "more than one Authorization header"
            return 400, _errors(problem("invalid", message, "Authorization")), []
        if not hmac.compare_digest(headers.get(b"authorization", b""), self._token):
            message = "missing or wrong Bearer token (the agent's ingest token)"
            return 401, _errors(problem("unauthorized", message)), [("WWW-Authenticate", "Bearer")]
        if self.closing:
            return 503, _errors(problem("unavailable", "the agent is stopping")), _RETRY
        raw = await self._body(headers, receive)
        if raw is None:
            message = f"the body is over {self._max_body} bytes"
            return 413, _errors(problem("too_large", message)), []
        raw_key = headers.get(b"idempotency-key")
        key = None if raw_key is None else raw_key.decode("latin-1")
        answer = self._event(raw, key)
        if not isinstance(answer, Event):
            return answer
        digest = None if key is None else hashlib.sha256(raw).hexdigest()
        if self._slots is None:
            self._slots = asyncio.Semaphore(self._max_in_flight)
            self._loop = asyncio.get_running_loop()
        async with self._slots:
            try:
                stored = await self._commit(answer, digest)
            except KeyReusedError:
                message = f"Idempotency-Key {key!r} was used before with another body"
                return 422, _errors(problem("key_reused", message, "Idempotency-Key")), []
            except AgentError as exc:
                return 503, _errors(problem("unavailable", f"not stored, retry: {exc}")), _RETRY
            except TimeoutError:  # it may still commit: a retry with the same key is safe
                message = "not confirmed in time; retry (with the same Idempotency-Key)"
                return 503, _errors(problem("unavailable", message)), _RETRY
        return 200, {"status": "received", "id": stored}, []

    async def _commit(self, event: Event, digest: str | None) -> str:
        """Wait for the event's group commit (or COMMIT_TIMEOUT). A plain loop future and one
        timer: wait_for, shield and wrap_future cost a task and a cross-thread wake per event."""
        assert self._loop is not None
        waiter: asyncio.Future[str] = self._loop.create_future()
        self._committer.submit(event, waiter, digest)
        timer = self._loop.call_later(COMMIT_TIMEOUT, _expire, waiter)
        try:
            return await waiter
        finally:
            timer.cancel()

    def settled(self, batch: list[Pending]) -> None:
        """The committer's listener (its thread): one wake of the loop for the whole batch."""
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed at stop: nobody waits
                self._loop.call_soon_threadsafe(_wake, batch)

    async def _body(self, headers: dict[bytes, bytes], receive: Receive) -> bytes | None:
        """The whole body, or None past the cap (said by Content-Length, or found reading)."""
        length = headers.get(b"content-length", b"0")
        if length.isdigit() and int(length) > self._max_body:
            return None
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":  # gone, or cut at the body deadline
                raise ClientGone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self._max_body:
                return None
            chunks.append(chunk)
            if not message.get("more_body"):
                return b"".join(chunks)

    def _event(self, raw: bytes, key: str | None) -> Event | Answer:
        try:
            data = json.loads(raw, parse_float=Decimal)
        except (ValueError, RecursionError):
            return 400, _errors(problem("invalid", "the body is not JSON")), []
        if key is not None and not (0 < len(key) <= MAX_KEY and key.isprintable()):
            bad = problem("invalid", f"1 to {MAX_KEY} printable characters", "Idempotency-Key")
            return 422, _errors(bad), []
        try:
            return build_event(data, key=key, now=self._clock(), country=self._country)
        except BodyError as exc:
            return 422, _errors(exc.problem), []
        except ValidationError as exc:
            return 422, {"errors": _pydantic_problems(exc)}, []


def _expire(waiter: asyncio.Future[str]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


def _wake(batch: list[Pending]) -> None:
    for pending in batch:
        waiter = pending.waiter
        if not isinstance(waiter, asyncio.Future) or waiter.done():
            continue  # timed out or cancelled (the client went away): it may still be stored
        if pending.error is None:
            waiter.set_result(pending.event.id)  # a replay (same id) is answered with it too
        else:
            waiter.set_exception(pending.error)


def _errors(*problems: Problem) -> dict[str, list[Problem]]:
    return {"errors": list(problems)}


_RETRY = [("Retry-After", "5")]
