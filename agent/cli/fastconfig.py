"""The validated configuration as plain data, for the commands that must start fast.

Validating the config imports pydantic, which costs more than all of `track`. So the first
command to validate a given file (with the same environment and the same agent) stores the
result, as JSON without any token, in a private cache file; the next ones read it back. The
key is a hash of everything validation depends on: the file's bytes, the HELLOTEXT_AGENT__*
and HELLOTEXT_API_URL variables, and agent/config/ itself. A file that did not validate is never
cached, so an invalid config still stops every command with exit 78. Tokens are resolved
again every time (stdlib, cheap): a token file made readable by others is still refused.
Any trouble with the cache (no home, read-only disk) just means the slow path.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agent import tokens
from agent.errors import ConfigError

VERSION = "1"
_CONFIG_SOURCES = sorted((Path(__file__).resolve().parent.parent / "config").glob("*.py"))


def cache_dir(environ: Mapping[str, str]) -> Path | None:
    base = environ.get("XDG_CACHE_HOME") or (
        str(Path(environ["HOME"]) / ".cache") if environ.get("HOME") else ""
    )
    return Path(base) / "hellotext-agent" if base else None


def _key(path: Path, data: bytes, environ: Mapping[str, str]) -> str:
    sources = [(s.st_mtime_ns, s.st_size) for s in (p.stat() for p in _CONFIG_SOURCES)]
    env = sorted(
        (k, v)
        for k, v in environ.items()
        if k.startswith("HELLOTEXT_AGENT__") or k == "HELLOTEXT_API_URL"
    )
    digest = hashlib.sha256()
    for part in (VERSION, str(path.resolve()), repr(sources),
                 json.dumps(env)):  # fmt: skip
        digest.update(part.encode() + b"\0")
    digest.update(data)
    return digest.hexdigest()


def load(path: Path, environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """The validated config as `model_dump(mode="json")` data; raises ConfigError as
    load_config does."""
    try:
        data = path.read_bytes()
    except OSError:
        return _validate(path, None, environ)  # load_config says why (not found, unreadable)
    key = _key(path, data, environ)
    folder = cache_dir(environ)
    if folder is None:
        return _validate(path, None, environ)
    cached = folder / f"config-{hashlib.sha256(str(path).encode()).hexdigest()[:16]}.json"
    try:
        entry = json.loads(cached.read_text(encoding="utf-8"))
        found = entry["config"] if entry.get("key") == key else None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        found = None
    if isinstance(found, dict):
        _check_tokens(found, environ, path)
        return found
    return _validate(path, cached, environ, key)


def _check_tokens(config: dict[str, Any], environ: Mapping[str, str], path: Path) -> None:
    api = tokens.resolve(tokens.API, config["hellotext"]["token_file"], environ, config_file=path)
    ingest = tokens.resolve(tokens.INGEST, config["ingest"]["token_file"], environ)
    if api is not None and api == ingest:
        raise ConfigError([("ingest.token", "must differ from the Hellotext token")])


def _validate(
    path: Path, cached: Path | None, environ: Mapping[str, str], key: str = ""
) -> dict[str, Any]:
    from agent.config import load_config

    data: dict[str, Any] = load_config(path).model_dump(mode="json")  # tokens are excluded
    if cached is not None and key:
        try:
            cached.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            tmp = cached.with_suffix(f".{os.getpid()}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump({"key": key, "config": data}, fh)
            os.replace(tmp, cached)
        except OSError:
            pass
    return data
