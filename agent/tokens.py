"""Where the configuration and the secrets come from. The config file: `--config`, else
$HELLOTEXT_AGENT_CONFIG, else /etc/hellotext-agent/agent.toml. A secret: an environment
variable, a systemd credential, or a file only the agent may read. Stdlib only (fast commands
read them too); a token is never logged and never in the TOML.

Two tokens, never the same one: the Hellotext API token (`HELLOTEXT_API_TOKEN`, credential
`hellotext-token`, `hellotext.token_file`) and the ingest token that in-store apps present to
the local endpoint (`HELLOTEXT_INGEST_TOKEN`, credential `ingest-token`, `ingest.token_file`).
"""

from __future__ import annotations

import ipaddress
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from agent.errors import ConfigError

DEFAULT_PATH = Path("/etc/hellotext-agent/agent.toml")
ENV_PATH = "HELLOTEXT_AGENT_CONFIG"


def config_path(explicit: str | None, environ: Mapping[str, str]) -> Path:
    return Path(explicit or environ.get(ENV_PATH) or DEFAULT_PATH)


@dataclass(frozen=True)
class TokenSource:
    variable: str
    credential: str
    key: str  # the config key naming the file
    packaged: str = ""  # the file beside the config the package installs (root-only, 0600)


API = TokenSource("HELLOTEXT_API_TOKEN", "hellotext-token", "hellotext.token_file", "token")
INGEST = TokenSource("HELLOTEXT_INGEST_TOKEN", "ingest-token", "ingest.token_file")


@dataclass(frozen=True)
class Found:
    """A token and where it came from (for `config check`: never the token itself); `note`
    says why a file that is there was not read (root's, and this is not root)."""

    value: str | None
    origin: str
    note: str = ""


def packaged_file(source: TokenSource, config_file: Path | None) -> Path | None:
    """/etc/hellotext-agent/token for the packaged config: the file systemd hands the
    service as its credential, found the same way by every command run as root."""
    if not source.packaged or config_file is None:
        return None
    return config_file.parent / source.packaged


def read_token_file(path: Path, key: str, *, group_may_read: bool = False) -> str:
    """A secret only its owner may read. A systemd credential may be group-readable: systemd
    257 (Debian 13) makes it root:root 0440 with an ACL for the unit's user, in a directory
    only the unit can enter; systemd 252 (Debian 12) made it 0400 owned by that user."""
    forbidden = stat.S_IRWXO if group_may_read else stat.S_IRWXG | stat.S_IRWXO
    who = "others" if group_may_read else "group or others"
    try:
        info = path.stat()
        if info.st_mode & forbidden:
            raise ConfigError([(key, f"{path} is readable by {who}; run: chmod 600 {path}")])
        token = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError([(key, f"cannot read {path}: {exc.strerror}")]) from exc
    if not token:
        raise ConfigError([(key, f"{path} is empty")])
    return token


def find(
    source: TokenSource,
    token_file: str,
    environ: Mapping[str, str],
    *,
    config_file: Path | None = None,
) -> Found:
    """The one way every command and the daemon find a token: the variable, else the
    systemd credential, else the token file the config names, else the packaged file beside
    the config (an empty or missing one is no token; one we may not read is noted)."""
    if environ.get(source.variable):
        return Found(environ[source.variable].strip(), source.variable)
    creds = environ.get("CREDENTIALS_DIRECTORY")
    if creds and (Path(creds) / source.credential).exists():
        path = Path(creds) / source.credential
        token = read_token_file(path, "$CREDENTIALS_DIRECTORY", group_may_read=True)
        return Found(token, f"systemd credential {path}")
    if token_file:
        return Found(read_token_file(Path(token_file), source.key), f"{source.key} {token_file}")
    packaged = packaged_file(source, config_file)
    if packaged is None:
        return Found(None, "not set")
    try:
        if not packaged.is_file() or packaged.stat().st_size == 0:
            return Found(None, "not set")  # the package's empty placeholder
        return Found(read_token_file(packaged, source.key), str(packaged))
    except PermissionError:
        return Found(None, "not set", f"{packaged} is root's: run this command as root")
    except ConfigError as exc:
        if isinstance(exc.__cause__, PermissionError):
            return Found(None, "not set", f"{packaged} is root's: run this command as root")
        raise


def resolve(
    source: TokenSource,
    token_file: str,
    environ: Mapping[str, str],
    *,
    config_file: Path | None = None,
) -> str | None:
    """The token `find` finds; None when none is set."""
    return find(source, token_file, environ, config_file=config_file).value


def is_loopback_url(url: str) -> bool:
    """The token travels only over TLS: plain http is for 127.0.0.0/8, ::1, localhost."""
    host = urlsplit(url).hostname or ""
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
