"""Hellotext store agent: receipts and scans to Hellotext events, through a SQLite outbox.

Stages, each a subpackage (higher imports lower): `cli` (the only entry) > `daemon` (IO
wiring) > `standin` | `ingest` > `sales` > `receipts` | `delivery`; beside them the shared
modules `config`, `errors`, `logs`, `phones`, `redact`, `tokens`. Device IO and decoders live
in `drivers/`.
"""

from __future__ import annotations

__all__ = ["__version__"]


def __getattr__(name: str) -> str:
    # Read when asked: importlib.metadata costs more than `track` itself.
    if name != "__version__":
        raise AttributeError(f"module 'agent' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("hellotext-agent")
    except PackageNotFoundError:  # running from a source tree without install
        found = "0.0.0"
    globals()["__version__"] = found
    return found
