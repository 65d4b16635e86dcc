"""The sections of the config file, one frozen model each (`agent.config` assembles them
into AgentConfig and loads the file). Validation errors name the key; see README."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
import pycountry
from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from agent import tokens
from drivers.escpos.blocks import QR_MAX_BYTES
from drivers.escpos.raster import MAX_PICTURE_BYTES

ACTION_RE = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)+$")
HOST_PORT_RE = re.compile(r"^(?P<host>\[[0-9a-fA-F:]+\]|[^:\s]+):(?P<port>\d{1,5})$")



def regex(value: str) -> str:
    """A pattern key's value, refused (naming the key) unless it compiles."""
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"not a valid regular expression: {exc}") from exc
    return value

class Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _check_currency(value: str) -> str:
    code = value.upper()
    if pycountry.currencies.get(alpha_3=code) is None:
        raise ValueError(f"{value!r} is not an ISO 4217 currency code")
    return code


def _check_action(value: str) -> str:
    if not ACTION_RE.match(value):
        raise ValueError(f"{value!r} is not a lowercase action name like 'object.activity'")
    return value


def parse_host_port(value: str) -> tuple[str, int]:
    """'0.0.0.0:9100' -> ('0.0.0.0', 9100); '[::1]:9100' -> ('::1', 9100)."""
    match = HOST_PORT_RE.match(value)
    if not match or not 0 < int(match["port"]) < 65536:
        raise ValueError(f"{value!r} is not host:port")
    return match["host"].strip("[]"), int(match["port"])


class HellotextSection(Section):
    api_url: str = "https://api.hellotext.com/v1"
    token_file: str = ""
    # POST /v1/profiles field names: Hellotext's docs say these; its WordPress plugin "phone".
    profile_phone_field: str = Field("phone[mobile]", min_length=1)
    profile_email_field: str = Field("email[primary]", min_length=1)
    timeout_seconds: float = Field(15, gt=0, le=300)
    probe_interval_seconds: float = Field(180, gt=0)  # re-check a refused token this often
    token: SecretStr | None = Field(None, exclude=True)  # resolved by load_config, never printed
    proxy: str = ""  # http(s)://host:port; the environment's HTTP(S)_PROXY is never used

    @field_validator("proxy")
    @classmethod
    def _proxy(cls, value: str) -> str:
        if value and not re.match(r"^https?://([^/@\s]+@)?[^/@:\s]+(:\d{1,5})?/?$", value):
            raise ValueError("must be an http:// or https:// proxy URL, e.g. http://10.0.0.1:3128")
        return value

    @field_validator("api_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"{value!r} is not an http(s) URL")
        if value.startswith("http://") and not tokens.is_loopback_url(value):
            raise ValueError(f"{value!r}: the token would travel in clear text (https only)")
        return value.rstrip("/")


class StoreSection(Section):
    terminal_id: str = Field("caja-1", min_length=1, max_length=64)
    store_id: str = ""
    country: str = "UY"
    currency: str = "UYU"
    source: str = Field("tienda_fisica", min_length=1)
    payment_action: str = "tienda_fisica.pago"
    unidentified: Literal["session", "local"] = "session"
    timezone: str = ""  # IANA name for printed receipt times; empty = the system's zone

    _currency = field_validator("currency")(_check_currency)
    _action = field_validator("payment_action")(_check_action)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        if value:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"{value!r} is not an IANA zone (America/Montevideo)") from exc
        return value

    @field_validator("country")
    @classmethod
    def _country(cls, value: str) -> str:
        code = value.upper()
        if code not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"{value!r} is not an ISO 3166 two-letter country code")
        return code


class EventsSection(Section):
    """`[events]`: how a sale is told to Hellotext (README, "Events: payment, products,
    orders")."""

    # Which event carries the sale's money: the payment action or each product.purchased
    # (the other goes without an amount, so Hellotext's reports count the sale once).
    revenue: Literal["payment", "products"] = "payment"
    # "actions": payment action + product.purchased; "orders": an order object per sale
    # (POST /v1/attribution/orders) and order.confirmed, the order lifecycle Hellotext prefers.
    model: Literal["actions", "orders"] = "actions"
    # The order's `delivery` (orders-with-api.md: "deliver" or "collect"); at a till the
    # customer takes the goods: collect.
    order_delivery: Literal["collect", "deliver"] = "collect"
    # A scanned code matching this regex is a coupon code (used when the receipt's coupon
    # line has no readable code); empty = none.
    coupon_pattern: str = ""
    coupon_description: str = Field("Cupón {code}", min_length=1, max_length=200)
    coupon_url: str = ""  # the coupon's destination_url ({code} replaced); empty = not sent

    @field_validator("coupon_pattern")
    @classmethod
    def _regex(cls, value: str) -> str:
        return regex(value)

    @field_validator("coupon_description", "coupon_url")
    @classmethod
    def _code_field(cls, value: str) -> str:
        try:
            value.format(code="X")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"only {{code}} may be replaced here ({exc})") from exc
        return value

    @field_validator("coupon_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if value and not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value


class OutboxSection(Section):
    path: Path = Path("/var/lib/hellotext-agent/outbox.db")
    synchronous: Literal["off", "normal", "full", "extra"] = "full"
    # Sent events are kept this long (idempotency keys, `outbox list`), then pruned nightly.
    sent_retention_days: int = Field(
        30, ge=0, validation_alias=AliasChoices("sent_retention_days", "keep_sent_days")
    )
    lease_seconds: float = Field(60, gt=0)  # an inflight row older than this was orphaned
    memory_buffer_events: int = Field(10_000, ge=1)  # sales the outbox cannot take (held)
    runtime_dir: str = ""  # spill and status files; empty: $RUNTIME_DIRECTORY, /run/..., /tmp


class SyncSection(Section):
    interval_seconds: float = Field(5, gt=0)
    concurrency: int = Field(4, ge=1, le=64)
    max_backoff_seconds: float = Field(300, gt=0)
    base_backoff_seconds: float = Field(1, gt=0)


PrinterMode = Literal["tcp", "serial", "usb", "sniff", "spool"]
_PRINTER_NEEDS: dict[str, tuple[str, ...]] = {
    "tcp": ("listen", "target"),
    "serial": ("link", "target"),
    "usb": ("target",),
    "sniff": ("port",),
    "spool": ("path",),
}


ReceiptKind = Literal["sale", "refund"]


def _sales_only() -> list[ReceiptKind]:
    return ["sale"]


class AppendSection(Section):
    """`[printer.append]`: a block printed before each receipt's cut (opt-in)."""

    qr: str = Field(min_length=1)  # the capture's link; {receipt} becomes the receipt number
    lines: list[str] = Field(default_factory=list, max_length=8)
    kinds: list[ReceiptKind] = Field(default_factory=_sales_only, min_length=1)
    qr_mode: Literal["native", "raster"] = "native"

    @field_validator("qr")
    @classmethod
    def _qr_size(cls, value: str) -> str:
        if len(value.encode("utf-8")) > QR_MAX_BYTES:
            raise ValueError(
                f"at most {QR_MAX_BYTES} bytes (UTF-8), got {len(value.encode('utf-8'))}"
            )
        return value

    @field_validator("lines")
    @classmethod
    def _line_width(cls, value: list[str]) -> list[str]:
        for line in value:
            if len(line) > 48:
                raise ValueError(f"a line is at most 48 characters (80 mm paper): {line!r}")
        return value


class PrinterSection(Section):
    name: str = Field(min_length=1)
    mode: PrinterMode
    listen: str = ""
    target: str = ""
    link: str = ""
    link_mode: int = Field(0o666, ge=0, le=0o777)  # who may open the serial tap's pty
    port: str = ""
    baudrate: int = Field(9600, gt=0)
    bytesize: Literal[5, 6, 7, 8] = 8
    parity: Literal["N", "E", "O", "M", "S"] = "N"
    stopbits: Literal[1, 2] = 1
    rtscts: bool = False
    xonxoff: bool = False
    path: str = ""
    template: str = "generic"
    codepage: str = "cp858"
    codepage_map: dict[int, str] = Field(default_factory=dict)  # clones number pages their way
    # ESC/POS or Star Line Mode; "auto" tells them apart per print job
    command_set: Literal["auto", "escpos", "star"] = "auto"
    idle_seconds: float = Field(2.0, gt=0)  # a gap this long ends a receipt with no cut
    append: AppendSection | None = None  # a block before each receipt's cut

    @model_validator(mode="after")
    def _mode_keys(self) -> PrinterSection:
        missing = [key for key in _PRINTER_NEEDS[self.mode] if not getattr(self, key)]
        if missing:
            raise ValueError(f"mode {self.mode!r} needs {', '.join(missing)}")
        if self.append is not None and self.mode in ("sniff", "spool"):
            raise ValueError(f"append: mode {self.mode!r} only reads; the agent cannot print")
        if self.mode == "tcp":
            parse_host_port(self.listen)
            parse_host_port(self.target)
        return self


class ScannerSection(Section):
    name: str = Field(min_length=1)
    mode: Literal["serial", "hid"]
    port: str = ""
    device: str = ""
    layout: Literal["us", "es", "latam"] = "us"
    terminator: Literal["cr", "lf", "crlf", "tab"] = "cr"
    prefix: str = ""
    baudrate: int = Field(9600, gt=0)
    max_length: int = Field(512, ge=8)
    grab: bool = True

    @model_validator(mode="after")
    def _mode_keys(self) -> ScannerSection:
        key = "port" if self.mode == "serial" else "device"
        if not getattr(self, key):
            raise ValueError(f"mode {self.mode!r} needs {key}")
        return self


class VariableMeasureLayout(Section):
    """A store scale's EAN-13 with prefix 20-29: PLU then price or weight."""

    prefixes: list[str] = Field(default_factory=lambda: ["20", "21", "22", "23", "24", "25"])
    plu_digits: int = Field(5, ge=1, le=6)
    value: Literal["price", "weight"] = "price"
    value_digits: int = Field(5, ge=3, le=6)
    decimals: int = Field(2, ge=0, le=3)  # weight in kg usually has 3


class BarcodesSection(Section):
    variable_measure: list[VariableMeasureLayout] = Field(
        default_factory=lambda: [VariableMeasureLayout()]
    )
    loyalty_pattern: str = ""  # a regex for the store's loyalty cards; empty = none

    @field_validator("loyalty_pattern")
    @classmethod
    def _regex(cls, value: str) -> str:
        return regex(value)


class CheckoutSection(Section):
    window_seconds: float = Field(600, gt=0)
    price_checker: bool = False  # scanner-only terminal: each product scan is product.viewed


class ReceiptsSection(Section):
    templates_dir: str = "/etc/hellotext-agent/templates"
    capture: Literal["none", "unread", "all"] = "unread"  # raw jobs kept for parse --explain
    capture_dir: str = ""  # empty: "captures" beside the outbox
    capture_keep: int = Field(50, ge=1)  # the newest this many files are kept
    ocr: Literal["auto", "off"] = "auto"  # raster receipts read by Tesseract when installed
    ocr_languages: str = Field("spa+por+eng", pattern=r"^[a-z][a-z_]{1,15}(\+[a-z][a-z_]{1,15})*$")
    # picture data one print job may hold for OCR; past it the pictures are dropped (the job
    # still prints, its text is read, it is kept as a capture): memory stays bounded
    max_picture_bytes: int = Field(MAX_PICTURE_BYTES, ge=64 * 1024, le=16 * 1024 * 1024)


class IngestSection(Section):
    """The local endpoint for in-store apps: served only with an ingest token; "" = off."""

    listen: str = "127.0.0.1:8787"
    token_file: str = ""
    max_body_bytes: int = Field(65536, ge=1024, le=1048576)
    max_connections: int = Field(200, ge=1, le=10000)
    max_in_flight: int = Field(8, ge=1, le=256)  # requests waiting for a commit at once
    body_timeout_seconds: float = Field(10.0, ge=1, le=300)  # a body slower is 408
    token: SecretStr | None = Field(None, exclude=True)  # resolved by load_config

    _listen = field_validator("listen")(lambda v: v and parse_host_port(v) and v)


class LogSection(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class MetricsSection(Section):
    listen: str = ""  # "127.0.0.1:9464" serves /metrics for Prometheus; "" = off

    @field_validator("listen")
    @classmethod
    def _address(cls, value: str) -> str:
        if value:
            parse_host_port(value)
        return value


class MaintenanceSection(Section):
    """`[maintenance]`: the nightly housekeeping (prune, WAL checkpoint, size), local time."""

    at: str = "03:30"  # HH:MM in store.timezone (the system's zone when that is empty)

    @field_validator("at")
    @classmethod
    def _time(cls, value: str) -> str:
        match = re.fullmatch(r"(\d{1,2}):(\d{2})", value.strip())
        if not match or int(match[1]) > 23 or int(match[2]) > 59:
            raise ValueError(f"{value!r} is not a local time like \"03:30\"")
        return f"{int(match[1]):02d}:{match[2]}"

    @property
    def hour_minute(self) -> tuple[int, int]:
        hour, minute = self.at.split(":")
        return int(hour), int(minute)
