"""Phones to Hellotext profile ids: normalised to E.164, resolved once per phone.

Hellotext has no look-up by phone, only create-or-match (`POST /v1/profiles`), so every
resolution is a write on their side: each phone must be resolved once, then remembered. The
resolver is a thread-safe memory shared by the sync workers (one lock per phone, so two
events of the same new customer in flight at once still make one request). The lasting
copy is the outbox's profile table; the sync engine reads and writes it from its own
thread (`remember` before, `take_new` after), because the SQLite connection belongs to it.
"""

from __future__ import annotations

import threading

from agent.delivery.hellotext import HellotextClient, Outcome, Park, Sent
from agent.logs import mask_phone
from agent.phones import to_e164

LOCAL_STATUS = 0  # a parked row refused here, before any request


def profile_id_of(data: dict[str, object]) -> str | None:
    """The id in a `POST /v1/profiles` answer: `{"id": ...}` (or `{"profile": {"id": ...}}`)."""
    candidate = data.get("id")
    nested = data.get("profile")
    if candidate is None and isinstance(nested, dict):
        candidate = nested.get("id")
    return candidate if isinstance(candidate, str) and candidate else None


class ProfileResolver:
    def __init__(self, client: HellotextClient, *, country: str) -> None:
        self._client = client
        self._country = country
        self._known: dict[str, str] = {}
        self._new: list[tuple[str, str]] = []
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self.requests = 0  # POST /profiles made by this resolver

    def normalise(self, phone: str) -> str | None:
        return to_e164(phone, self._country)

    def known(self, e164: str) -> str | None:
        with self._guard:
            return self._known.get(e164)

    def remember(self, e164: str, profile_id: str) -> None:
        """Seed from the lasting cache (not handed back by `take_new`)."""
        with self._guard:
            self._known[e164] = profile_id

    def take_new(self) -> list[tuple[str, str]]:
        """(phone, profile id) pairs resolved since the last call, to store for good."""
        with self._guard:
            new, self._new = self._new, []
        return new

    def resolve(self, e164: str, *, event_id: str = "", attempt: int = 0) -> str | Outcome:
        """The profile id, or the failed Outcome (Retry/Park/Pause) that the event inherits."""
        with self._lock_for(e164):
            found = self.known(e164)
            if found is not None:
                return found
            with self._guard:
                self.requests += 1
            outcome = self._client.create_profile(e164, event_id=event_id, attempt=attempt)
            if not isinstance(outcome, Sent):
                return outcome
            profile_id = profile_id_of(outcome.data)
            if profile_id is None:
                return Park(outcome.status, f"profile answer for {mask_phone(e164)} had no id")
            with self._guard:
                self._known[e164] = profile_id
                self._new.append((e164, profile_id))
            return profile_id

    def _lock_for(self, e164: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(e164, threading.Lock())
