"""Configuration: one TOML file, overridable by environment, parsed once into frozen models.

Sources, strongest first: `HELLOTEXT_API_TOKEN` / `HELLOTEXT_API_URL`, then
`HELLOTEXT_AGENT__SECTION__KEY` variables (never a token: refused), then the TOML file, then
the defaults below.
The token never lives in the TOML file (configs are often world-readable): it comes from the
environment, a systemd credential, or `hellotext.token_file` readable by the agent only.

Here: AgentConfig, loading and masking; `sections`: one model per table of the file. May
import agent.tokens, agent.errors and drivers value types (QR limits); imported by all.
"""

from __future__ import annotations

import difflib
import os
import tomllib
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from agent import tokens
from agent.config.sections import (
    AppendSection,
    BarcodesSection,
    CheckoutSection,
    EventsSection,
    HellotextSection,
    IngestSection,
    LogSection,
    MaintenanceSection,
    MetricsSection,
    OutboxSection,
    PrinterMode,
    PrinterSection,
    ReceiptKind,
    ReceiptsSection,
    ScannerSection,
    StoreSection,
    SyncSection,
    VariableMeasureLayout,
    parse_host_port,
)
from agent.errors import ConfigError, ConfigNotFoundError

__all__ = [
    "AgentConfig",
    "AppendSection",
    "BarcodesSection",
    "CheckoutSection",
    "CREDENTIAL_NAME",
    "DEFAULT_PATH",
    "ENV_PATH",
    "EventsSection",
    "HellotextSection",
    "IngestSection",
    "LogSection",
    "MaintenanceSection",
    "MetricsSection",
    "OutboxSection",
    "PrinterMode",
    "PrinterSection",
    "ReceiptKind",
    "ReceiptsSection",
    "ScannerSection",
    "StoreSection",
    "SyncSection",
    "VariableMeasureLayout",
    "config_path",
    "load_config",
    "masked",
    "parse_host_port",
    "resolve_token",
]

DEFAULT_PATH = tokens.DEFAULT_PATH
ENV_PATH = tokens.ENV_PATH
config_path = tokens.config_path
CREDENTIAL_NAME = tokens.API.credential


class AgentConfig(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="HELLOTEXT_AGENT__", env_nested_delimiter="__", frozen=True, extra="forbid"
    )

    hellotext: HellotextSection = HellotextSection()
    store: StoreSection = StoreSection()
    events: EventsSection = EventsSection()
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
    maintenance: MaintenanceSection = MaintenanceSection()

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


def _message(err: Any) -> str:
    """pydantic's message; for an unknown key, the section's closest field name too."""
    text = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] != "extra_forbidden":
        return text
    model: Any = AgentConfig
    for part in err["loc"][:-1]:
        if isinstance(part, int) or model is None:
            continue
        field = model.model_fields.get(part)
        annotation = field.annotation if field is not None else None
        inner = [a for a in typing.get_args(annotation) if isinstance(a, type)]
        model = next((t for t in (annotation, *inner) if _is_model(t)), None)
    names = list(model.model_fields) if model is not None else []
    close = difflib.get_close_matches(str(err["loc"][-1]), names, n=1, cutoff=0.6)
    return f"unknown key; did you mean {close[0]!r}?" if close else f"unknown key ({text})"


def _is_model(candidate: Any) -> bool:
    return isinstance(candidate, type) and issubclass(candidate, BaseModel)


def resolve_token(
    token_file: str, environ: Mapping[str, str], *, config_file: Path | None = None
) -> SecretStr | None:
    """HELLOTEXT_API_TOKEN, else the systemd credential, else hellotext.token_file, else the
    packaged `token` beside the config file (agent.tokens.find: one way for everyone)."""
    found = tokens.resolve(tokens.API, token_file, environ, config_file=config_file)
    return None if found is None else SecretStr(found)


def _with_ingest_token(config: AgentConfig, env: Mapping[str, str]) -> AgentConfig:
    found = tokens.resolve(tokens.INGEST, config.ingest.token_file, env)
    if found is None:
        return config
    api = config.hellotext.token
    if api is not None and api.get_secret_value() == found:
        raise ConfigError([("ingest.token", "must differ from the Hellotext token")])
    ingest = config.ingest.model_copy(update={"token": SecretStr(found)})
    return config.model_copy(update={"ingest": ingest})


def _no_token_from_settings(config: AgentConfig) -> None:
    """A token only from its documented sources: the file cannot hold one, so one found now
    came from a HELLOTEXT_AGENT__ variable, which would skip the token file's checks."""
    for section, source in (("hellotext", tokens.API), ("ingest", tokens.INGEST)):
        if getattr(config, section).token is not None:
            where = f"{source.variable}, the systemd credential {source.credential} or {source.key}"
            raise ConfigError(
                [(f"{section}.token", f"never from HELLOTEXT_AGENT__ variables; use {where}")]
            )


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
                raise ConfigNotFoundError(path, ENV_PATH) from exc
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
        problems = [(_key(err["loc"]), _message(err)) for err in exc.errors()]
        raise ConfigError(problems) from exc
    _no_token_from_settings(config)
    token = resolve_token(config.hellotext.token_file, env, config_file=path)
    if token is not None:
        hellotext = config.hellotext.model_copy(update={"token": token})
        config = config.model_copy(update={"hellotext": hellotext})
    return _with_ingest_token(config, env)


def masked(config: AgentConfig) -> dict[str, Any]:
    """The effective configuration as plain data, the token shown only as set or not."""
    data = config.model_dump(mode="json")
    data["hellotext"]["token"] = "****" if config.hellotext.token else "(not set)"
    data["ingest"]["token"] = "****" if config.ingest.token else "(not set)"
    if "@" in config.hellotext.proxy:  # proxy credentials are secrets too
        scheme, rest = config.hellotext.proxy.split("://", 1)
        data["hellotext"]["proxy"] = f"{scheme}://****@{rest.rsplit('@', 1)[1]}"
    return data
