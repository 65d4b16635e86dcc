"""Configuration: one TOML file, overridable by environment, parsed once into frozen models.

Sources, strongest first: `HELLOTEXT_API_TOKEN` / `HELLOTEXT_API_URL`, then
`HELLOTEXT_AGENT__SECTION__KEY` variables, then the TOML file, then the defaults below.
The token never lives in the TOML file (configs are often world-readable): it comes from the
environment, a systemd credential, or `hellotext.token_file` readable by the agent only.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
import pycountry
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from agent import tokens
from agent.errors import ConfigError
from drivers.escpos.blocks import QR_MAX_BYTES

DEFAULT_PATH = tokens.DEFAULT_PATH
ENV_PATH = tokens.ENV_PATH
config_path = tokens.config_path
CREDENTIAL_NAME = tokens.API.credential
ACTION_RE = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)+$")
HOST_PORT_RE = re.compile(r"^(?P<host>\[[0-9a-fA-F:]+\]|[^:\s]+):(?P<port>\d{1,5})$")


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


class OutboxSection(Section):
    path: Path = Path("/var/lib/hellotext-agent/outbox.db")
    synchronous: Literal["off", "normal", "full", "extra"] = "full"
    sent_retention_days: int = Field(30, ge=0)
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
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from exc
        return value


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


class IngestSection(Section):
    """The local endpoint for in-store apps: served only with an ingest token; "" = off."""

    listen: str = "127.0.0.1:8787"
    token_file: str = ""
    max_body_bytes: int = Field(65536, ge=1024, le=1048576)
    max_connections: int = Field(200, ge=1, le=10000)
    max_in_flight: int = Field(8, ge=1, le=256)  # requests waiting for a commit at once
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


class AgentConfig(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="HELLOTEXT_AGENT__", env_nested_delimiter="__", frozen=True, extra="forbid"
    )

    hellotext: HellotextSection = HellotextSection()
    store: StoreSection = StoreSection()
    outbox: OutboxSection = OutboxSection()
    sync: SyncSection = SyncSection()
    printer: list[PrinterSection] = Field(default_factory=list)
    scanner: list[ScannerSection] = Field(default_factory=list)
    barcodes: BarcodesSection = BarcodesSection()
    checkout: CheckoutSection = CheckoutSection()
    receipts: ReceiptsSection = ReceiptsSection()
    ingest: IngestSection = IngestSection()
    log: LogSection = LogSection()
    metrics: MetricsSection = MetricsSection()

    @model_validator(mode="after")
    def _unique_names(self) -> AgentConfig:
        for kind, items in (("printer", self.printer), ("scanner", self.scanner)):
            names = [item.name for item in items]
            if len(names) != len(set(names)):
                raise ValueError(f"{kind} names must be unique, got {names}")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment overrides the file (passed as init values).
        return (env_settings, init_settings)


def _key(loc: tuple[int | str, ...]) -> str:
    key = ""
    for part in loc:
        key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else str(part))
    return key


def resolve_token(token_file: str, environ: Mapping[str, str]) -> SecretStr | None:
    """HELLOTEXT_API_TOKEN, else the systemd credential, else hellotext.token_file."""
    return None if (t := tokens.resolve(tokens.API, token_file, environ)) is None else SecretStr(t)


def _with_ingest_token(config: AgentConfig, env: Mapping[str, str]) -> AgentConfig:
    found = tokens.resolve(tokens.INGEST, config.ingest.token_file, env)
    if found is None:
        return config
    api = config.hellotext.token
    if api is not None and api.get_secret_value() == found:
        raise ConfigError([("ingest.token", "must differ from the Hellotext token")])
    ingest = config.ingest.model_copy(update={"token": SecretStr(found)})
    return config.model_copy(update={"ingest": ingest})


def load_config(path: Path | None, *, require_file: bool = True) -> AgentConfig:
    """Read, merge with the environment and validate. Raises ConfigError naming every bad key.

    `path=None` means the embedded defaults (demo); a missing file is an error unless
    `require_file` is false.
    """
    env = os.environ
    data: dict[str, Any] = {}
    if path is not None:
        try:
            with path.open("rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError as exc:
            if require_file:
                raise ConfigError(
                    [("config", f"{path} not found (use --config PATH or ${ENV_PATH})")]
                ) from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError([("config", f"{path} is not valid TOML: {exc}")]) from exc
        except OSError as exc:
            raise ConfigError([("config", f"cannot read {path}: {exc.strerror}")]) from exc
    for section, source in (("hellotext", tokens.API), ("ingest", tokens.INGEST)):
        if isinstance(data.get(section), dict) and "token" in data[section]:
            where = f"token_file, the systemd credential {source.credential} or {source.variable}"
            raise ConfigError([(f"{section}.token", f"never in the config file; use {where}")])
    if env.get("HELLOTEXT_API_URL"):
        data.setdefault("hellotext", {})["api_url"] = env["HELLOTEXT_API_URL"]
    try:
        config = AgentConfig(**data)
    except ValidationError as exc:
        problems = [
            (_key(err["loc"]), err["msg"].removeprefix("Value error, ")) for err in exc.errors()
        ]
        raise ConfigError(problems) from exc
    token = resolve_token(config.hellotext.token_file, env)
    if token is not None:
        hellotext = config.hellotext.model_copy(update={"token": token})
        config = config.model_copy(update={"hellotext": hellotext})
    return _with_ingest_token(config, env)


def masked(config: AgentConfig) -> dict[str, Any]:
    """The effective configuration as plain data, the token shown only as set or not."""
    data = config.model_dump(mode="json")
    data["hellotext"]["token"] = "****" if config.hellotext.token else "(not set)"
    data["ingest"]["token"] = "****" if config.ingest.token else "(not set)"
    return data
