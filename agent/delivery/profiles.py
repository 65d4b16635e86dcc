"""Phones and e-mails to Hellotext profile ids, resolved once per customer.

Hellotext has no look-up by phone or e-mail, only create-or-match (`POST /v1/profiles`), so
every resolution is a write on their side: each customer must be resolved once, then
remembered. A customer known by both goes in one request with both fields. The resolver is a
thread-safe memory shared by the sync workers (one lock per customer, so two events of the same
new customer in flight at once still make one request). The lasting copy is the outbox's
profile table, keyed by the E.164 phone or by `mailto:` + the e-mail; the sync engine reads and
writes it from its own thread (`remember` before, `take_new` after), because the SQLite
connection belongs to it.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import NamedTuple

from agent.delivery.hellotext import WRONG_ANSWER, HellotextClient, Outcome, Retry, Sent
from agent.logs import mask_phone
from agent.phones import to_e164

LOCAL_STATUS = 0  # a parked row refused here, before any request
MAX_DEPTH = 4


class Contact(NamedTuple):
    """How a customer is known: an E.164 phone, an e-mail, or both."""

    phone: str | None
    email: str | None

    def cache_keys(self) -> list[str]:
        """The cache keys, the phone first (a customer may later come with either)."""
        found = [self.phone] if self.phone else []
        return found + (["mailto:" + self.email] if self.email else [])

    def masked(self) -> str:
        return mask_phone(self.phone) if self.phone else "an e-mail"


def profile_id_of(data: object) -> str | None:
    """The profile id in a `POST /v1/profiles` answer, however it is nested: `{"id": ...}`,
    `{"profile": {"id": ...}}`, `{"data": {"attributes": ..., "id": ...}}`, ... The shallowest
    `id` wins (breadth first), so an id inside a nested attribute never shadows the profile's."""
    queue: deque[tuple[object, int]] = deque([(data, 0)])
    while queue:
        item, depth = queue.popleft()
        if isinstance(item, dict):
            found = item.get("id")
            if isinstance(found, str | int) and not isinstance(found, bool) and str(found):
                return str(found)
            children = list(item.values())
        elif isinstance(item, list):
            children = list(item)
        else:
            continue
        if depth < MAX_DEPTH:
            queue.extend((child, depth + 1) for child in children)
    return None


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

    def known(self, key: str) -> str | None:
        with self._guard:
            return self._known.get(key)

    def known_contact(self, contact: Contact) -> str | None:
        with self._guard:
            return next((self._known[k] for k in contact.cache_keys() if k in self._known), None)

    def remember(self, key: str, profile_id: str) -> None:
        """Seed from the lasting cache (not handed back by `take_new`)."""
        with self._guard:
            self._known[key] = profile_id

    def take_new(self) -> list[tuple[str, str]]:
        """(cache key, profile id) pairs resolved since the last call, to store for good."""
        with self._guard:
            new, self._new = self._new, []
        return new

    def resolve(
        self, contact: Contact | str, *, event_id: str = "", attempt: int = 0
    ) -> str | Outcome:
        """The profile id, or the failed Outcome (Retry/Park/Pause) that the event inherits.
        A bare string is a phone (E.164)."""
        if isinstance(contact, str):
            contact = Contact(contact, None)
        with self._lock_for(contact.cache_keys()[0]):
            found = self.known_contact(contact)
            if found is not None:
                return found
            with self._guard:
                self.requests += 1
            outcome = self._client.create_profile(
                contact.phone, email=contact.email, event_id=event_id, attempt=attempt
            )
            if not isinstance(outcome, Sent):
                return outcome
            profile_id = profile_id_of(outcome.data)
            if profile_id is None:  # not Hellotext's answer (a portal?): try again later
                error = f"{WRONG_ANSWER}: a profile answer for {contact.masked()} had no id"
                return Retry(outcome.status, error, wrong_answer=True)
            with self._guard:
                for key in contact.cache_keys():
                    self._known[key] = profile_id
                    self._new.append((key, profile_id))
            return profile_id

    def _lock_for(self, key: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())
