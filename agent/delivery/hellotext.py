"""The Hellotext HTTP client: one shared httpx.Client, every answer turned into an Outcome.

The answer table of hellotext-api.md lives in `classify` (pure: status, headers, body, now).
httpx errors are translated here and never leak: a transport failure becomes a `Retry`,
flagged `maybe_delivered` when the request may have reached the server (a read timeout, a
connection dropped after sending) so the caller can count possible duplicates.

Every exchange has a total deadline (`hellotext.timeout_seconds`, not per read), from the
connect to the last byte of the answer (status line and headers included, see transport.py):
an answer that trickles is cut there and counts as maybe delivered. Answers are asked
unencoded and read up to MAX_ANSWER_BYTES (inflated at most that far when a server gzips
anyway); a longer one is a failed answer (memory stays flat). The process environment is not
trusted: no proxy, trust store or credentials from it, a proxy only from `hellotext.proxy`.
A 2xx that is not the JSON Hellotext sends (a captive portal's HTML page) is not "sent": it
is retried.

Logged per request (a failed attempt at DEBUG: `agent.delivery.reach` tells outages once):
method, path, status, error type/parameter, event id, attempt, duration.
Never the token (it lives only in the Authorization header) and never a body (phones).
"""

from __future__ import annotations

import email.utils
import json
import logging
import math
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx

from agent import __version__
from agent.config import AgentConfig
from agent.delivery import errorbody
from agent.delivery.transport import BodyTooLong, UnreadableBody, deadline, inflate, make_transport
from agent.errors import ConfigError, DeliveryError

log = logging.getLogger("agent.hellotext")

USER_AGENT = f"hellotext-agent/{__version__}"
EVENTS_PATH = "attribution/events"
PROFILES_PATH = "profiles"
PRODUCTS_PATH = "attribution/products"
ORDERS_PATH = "attribution/orders"
MAX_BODY_KEPT = 4000  # an error body is kept for review, but not without bound
MAX_ANSWER_BYTES = 1024 * 1024  # Hellotext's answers are a few hundred bytes
WRONG_ANSWER = "Hellotext's answers look wrong (a captive portal?)"


@dataclass(frozen=True)
class Sent:
    """2xx: delivered. `data` is the parsed JSON answer ({} when there is none)."""

    status: int
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Park:
    """Permanent for this request (400/404/422...): keep it for review, go on with the rest."""

    status: int
    body: str


@dataclass(frozen=True)
class Pause:
    """The token or account is refused (401/403): stop all sending, keep everything."""

    status: int
    reason: str


@dataclass(frozen=True)
class Retry:
    """Temporary: try again later, not before `retry_after` seconds when the server said so."""

    status: int | None  # None: no answer at all (network error, timeout)
    error: str
    retry_after: float | None = None
    maybe_delivered: bool = False  # the server may have stored it: a possible duplicate
    network: bool = False  # no HTTP answer: the internet or the server is unreachable
    wrong_answer: bool = False  # an answer that is not Hellotext's (HTML 200, too long)


Outcome = Sent | Park | Pause | Retry


def parse_retry_after(value: str | None, now: float) -> float | None:
    """`Retry-After` as seconds ("120") or an HTTP date, turned into seconds from `now`."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = when.timestamp() - now
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def error_summary(text: str) -> str:
    """'parameter_missing:name' from an error body, for logs; '' when it is not one."""
    return errorbody.summary(text)


def classify(status: int, headers: Mapping[str, str], text: str, *, now: float) -> Outcome:
    """The answer table: what an HTTP answer means for the request that got it."""
    if 200 <= status < 300:
        if status == 204 and not text.strip():
            return Sent(status)
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            kind = headers.get("content-type", "no content type").split(";")[0]
            return Retry(status, f"{WRONG_ANSWER}: {status} {kind}", wrong_answer=True)
        return Sent(status, data)
    if status in (401, 403):
        reason = "token refused" if status == 401 else "operation not allowed"
        return Pause(status, f"{reason} ({status})")
    if status in (408, 429) or status >= 500:
        after = parse_retry_after(headers.get("retry-after"), now)
        # A 5xx answered a request whose body was sent: it may have been stored anyway.
        return Retry(status, f"http {status}", retry_after=after, maybe_delivered=status >= 500)
    if 300 <= status < 400 or status < 200:
        # A redirect means api_url is wrong: parking every event would empty the queue.
        return Pause(status, f"unexpected answer ({status}); check hellotext.api_url")
    return Park(status, text[:MAX_BODY_KEPT])


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return float(value)  # money: exact to 15 significant digits, written as a number
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def encode(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, default=_json_default, separators=(",", ":")).encode()


class HellotextClient:
    """Thread-safe (httpx.Client is): workers of the sync engine share one connection pool."""

    def __init__(
        self,
        *,
        api_url: str,
        token: str,
        timeout: float = 15.0,
        max_connections: int = 4,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.time,
        phone_field: str = "phone[mobile]",
        email_field: str = "email[primary]",
        proxy: str = "",
    ) -> None:
        self._clock = clock
        self._fields = (phone_field, email_field)
        self._timeout = timeout
        self._http = httpx.Client(
            base_url=api_url.rstrip("/") + "/",
            headers={
                "User-Agent": USER_AGENT,
                "Accept": "application/json",
                "Content-Type": "application/json",  # a default: no per-request merge
                "Accept-Encoding": "identity",  # nothing to inflate (see _read_capped)
            },
            timeout=httpx.Timeout(timeout),
            transport=transport or make_transport(proxy=proxy, max_connections=max_connections),
            trust_env=False,
        )
        self.set_token(token)
        # Absolute URLs built once: merging a relative path costs more than the rest of
        # building a request.
        self._urls = {p: self._http.base_url.join(p) for p in (EVENTS_PATH, PROFILES_PATH)}

    @classmethod
    def from_config(cls, config: AgentConfig) -> HellotextClient:
        token = config.hellotext.token
        if token is None:
            reason = "not set: use HELLOTEXT_API_TOKEN, a systemd credential or token_file"
            raise ConfigError([("hellotext.token", reason)])
        return cls(
            api_url=config.hellotext.api_url,
            token=token.get_secret_value(),
            timeout=config.hellotext.timeout_seconds,
            max_connections=config.sync.concurrency,
            phone_field=config.hellotext.profile_phone_field,
            email_field=config.hellotext.profile_email_field,
            proxy=config.hellotext.proxy,
        )

    def set_token(self, token: str) -> None:
        self._http.headers["Authorization"] = f"Bearer {token}"

    def track(
        self, body: Mapping[str, Any] | bytes, *, event_id: str = "", attempt: int = 0
    ) -> Outcome:
        """POST /v1/attribution/events; `body` as a dict or as JSON bytes (`Event.body_json`)."""
        return self._request(
            "POST", EVENTS_PATH, body=body, event_id=event_id, attempt=attempt, want_data=False
        )

    def create_profile(
        self, e164: str | None = None, *, email: str | None = None, event_id: str = "",
        attempt: int = 0,
    ) -> Outcome:  # fmt: skip
        """POST /v1/profiles: create or match by phone and/or e-mail (one request for both);
        Sent.data carries the profile `id`. The field names are configurable."""
        body = {f: v for f, v in zip(self._fields, (e164, email), strict=True) if v is not None}
        return self._request("POST", PROFILES_PATH, body=body, event_id=event_id, attempt=attempt)

    def create_product(self, body: Mapping[str, Any], *, event_id: str = "",
                       attempt: int = 0) -> Outcome:  # fmt: skip
        """POST /v1/attribution/products; Sent.data carries the product `id`."""
        return self._request("POST", PRODUCTS_PATH, body=body, event_id=event_id, attempt=attempt)

    def create_order(self, body: Mapping[str, Any], *, event_id: str = "",
                     attempt: int = 0) -> Outcome:  # fmt: skip
        """POST /v1/attribution/orders; Sent.data carries the order `id`."""
        return self._request("POST", ORDERS_PATH, body=body, event_id=event_id, attempt=attempt)

    def list_orders(self, page: int, *, event_id: str = "") -> Outcome:
        """GET /v1/attribution/orders?page=N (to find an order whose creation answer was lost)."""
        params = {"page": str(page)}
        return self._request("GET", ORDERS_PATH, params=params, event_id=event_id)

    def probe(self) -> Outcome:
        """GET /v1/profiles?limit=1: 200 when the token is accepted."""
        return self._request("GET", PROFILES_PATH, params={"limit": "1"})

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> HellotextClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _request(
        self,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | bytes | None = None,
        params: Mapping[str, str] | None = None,
        event_id: str = "",
        attempt: int = 0,
        want_data: bool = True,
    ) -> Outcome:
        started = time.monotonic()
        content = body if body is None or isinstance(body, bytes) else encode(body)
        try:
            url = self._urls.get(path) or path
            with deadline(started + self._timeout), self._http.stream(
                method, url, content=content, params=params
            ) as response:
                raw = _read_capped(response, started + self._timeout)
                outcome: Outcome = (
                    raw
                    if isinstance(raw, Retry)
                    else classify(
                        response.status_code,
                        response.headers,
                        raw.decode(response.encoding or "utf-8", "replace"),
                        now=self._clock(),
                    )
                )
        except httpx.TransportError as exc:
            outcome = _transport_failure(exc)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:  # a bad URL: nothing to retry
            raise DeliveryError(f"{method} /{path}: {type(exc).__name__}") from exc
        if isinstance(outcome, Sent) and not want_data:
            outcome = Sent(outcome.status)  # an accepted event: its answer says nothing more
        _log(method, path, outcome, event_id, attempt, time.monotonic() - started)
        return outcome


def _read_capped(response: httpx.Response, deadline: float) -> bytes | Retry:
    """The body, read until the exchange's deadline and up to MAX_ANSWER_BYTES."""
    status = response.status_code
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_ANSWER_BYTES:
        return _too_long(status)
    trickled = False

    # undecoded: httpx would inflate a gzip bomb in one go (a transport that read the answer
    # itself, a test's, hands it decoded)
    read = response.is_stream_consumed
    coding = "" if read else response.headers.get("content-encoding", "")

    def raw() -> Iterator[bytes]:
        nonlocal trickled
        for chunk in response.iter_bytes() if read else response.iter_raw():
            yield chunk
            if time.monotonic() > deadline:
                trickled = True
                return

    try:
        body = inflate(raw(), coding, MAX_ANSWER_BYTES)
    except BodyTooLong:
        return _too_long(status)
    except UnreadableBody as exc:
        return Retry(status, f"{WRONG_ANSWER}: {exc}", maybe_delivered=200 <= status < 300,
                     wrong_answer=True)  # fmt: skip
    if trickled:
        # The request arrived (an answer started): Hellotext may have stored it.
        return Retry(status, "timeout (the answer trickled past the deadline)",
                     maybe_delivered=True, network=True)  # fmt: skip
    return body


def _too_long(status: int) -> Retry:
    error = f"{WRONG_ANSWER}: an answer over {MAX_ANSWER_BYTES // 1024} KB"
    return Retry(status, error, maybe_delivered=200 <= status < 300, wrong_answer=True)


def _transport_failure(exc: httpx.TransportError) -> Retry:
    # Connect errors and pool waits never sent a byte; anything later may have been stored.
    if isinstance(exc, httpx.ConnectTimeout | httpx.ConnectError | httpx.PoolTimeout):
        return Retry(None, f"unreachable ({_connect_cause(exc)})", network=True)
    if isinstance(exc, httpx.TimeoutException):
        return Retry(None, f"timeout ({type(exc).__name__})", maybe_delivered=True, network=True)
    if isinstance(exc, httpx.NetworkError | httpx.RemoteProtocolError):
        return Retry(
            None, f"connection dropped ({type(exc).__name__})", maybe_delivered=True, network=True
        )
    return Retry(None, type(exc).__name__, network=True)


def _connect_cause(exc: httpx.TransportError) -> str:
    """What an installer checks first: the name, the route, the port, or the time taken."""
    if isinstance(exc, httpx.ConnectTimeout):
        return "connect timeout"
    if isinstance(exc, httpx.PoolTimeout):
        return "no free connection (PoolTimeout)"
    text = str(exc).lower()
    if "name or service" in text or "name resolution" in text or "nodename" in text:
        return "DNS: the name does not resolve"
    if "refused" in text:
        return "connection refused"
    if "unreachable" in text:
        return "no route: network unreachable"
    return f"cannot connect ({type(exc).__name__})"


def _log(
    method: str, path: str, outcome: Outcome, event_id: str, attempt: int, seconds: float
) -> None:
    where = f"{method} /{path}"
    ms = seconds * 1000
    ref = f"event={event_id} attempt={attempt}" if event_id else "probe"
    match outcome:
        case Sent(status=status):
            log.debug("%s %d %s %.0fms", where, status, ref, ms)
        case Park(status=status, body=body):
            log.warning("%s %d %s %s %.0fms: parked", where, status, error_summary(body), ref, ms)
        case Pause(status=status, reason=reason):
            log.error("%s %d %s %.0fms: %s", where, status, ref, ms, reason)
        case Retry(status=status, error=error, retry_after=after):
            # Per attempt: DEBUG. The sync engine says once that Hellotext is unreachable.
            hint = f" retry-after={after:.0f}s" if after is not None else ""
            log.debug("%s %s %s %.0fms: %s%s", where, status or "-", ref, ms, error, hint)
