"""Hellotext store agent: receipts and scans to Hellotext events, through a SQLite outbox.

Stages, each a subpackage (higher imports lower): `cli` (the only entry) > `daemon` (IO
wiring) > `standin` > `sales` > `receipts` | `delivery`; beside them the shared modules
`config`, `errors`, `logs`, `phones`, `redact`. Device IO and decoders live in `drivers/`.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("hellotext-agent")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0"
