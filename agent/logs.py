"""Logging: one line per thing that happened, journald-friendly, with secrets scrubbed.

Under systemd (JOURNAL_STREAM set) lines carry a `<N>` syslog priority prefix and no
timestamp (journald adds its own); on a terminal they carry a time.
"""

from __future__ import annotations

import logging
import os
import re
import sys

from agent.redact import redact_card_numbers

_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3}
# Last line of defence: the code never logs these on purpose. Only E.164 phones are caught
# here (national formats look like receipt numbers, which operators need to read).
_BEARER = re.compile(r"(Bearer\s+)\S+", re.IGNORECASE)
_PHONE = re.compile(r"\+\d{5,12}(\d{3})\b")


# File names and paths (captures are named after their time: 20261201-101530-465-caja.bin)
# are digits joined by dashes that may pass Luhn; they are left alone, never "redacted" into
# a path that does not exist.
_PATH = re.compile(r"\S*/\S*|[\w.-]+\.(?:bin|db|jsonl|json|toml|log|txt)\b")


def scrub(text: str) -> str:
    text = _BEARER.sub(r"\1****", text)
    text = _PHONE.sub(lambda m: "+***" + m.group(1), text)
    parts: list[str] = []
    last = 0
    for match in _PATH.finditer(text):
        parts.append(redact_card_numbers(text[last : match.start()]))
        parts.append(match.group())
        last = match.end()
    parts.append(redact_card_numbers(text[last:]))
    return "".join(parts)


def mask_phone(phone: str) -> str:
    """'+59899123456' -> '+598******456': enough to tell customers apart in a log."""
    if len(phone) <= 6:
        return "***"
    return phone[:4] + "*" * (len(phone) - 7) + phone[-3:]


class _Formatter(logging.Formatter):
    def __init__(self, journald: bool) -> None:
        fmt = (
            "%(name)s: %(message)s"
            if journald
            else "%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
        super().__init__(fmt)
        self.journald = journald

    def format(self, record: logging.LogRecord) -> str:
        line = scrub(super().format(record)).replace("\n", " | ")
        if self.journald:
            return f"<{_PRIORITY.get(record.levelno, 6)}>{line}"
        return line


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter(journald=bool(os.environ.get("JOURNAL_STREAM"))))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("httpx", "httpcore", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
