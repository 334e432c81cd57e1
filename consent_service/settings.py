"""Every setting of the service in one place, read from ``CONSENT_``-prefixed variables.

Values are cast where they are read; secrets are wrapped in :class:`Secret` so they
never appear in a repr, a log line or a traceback.
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

DEMO_CONFIG = Path(__file__).parent / "demo" / "site.toml"
DEFAULT_DATABASE_URL = "sqlite:///var/kakor.db"
DEMO_KEY_FILE = Path("var/demo-secret-key")


#: The parsers ``CONSENT_HTTP_PARSER`` may name (uvicorn's two HTTP/1.1 protocols).
HTTP_PARSERS = ("httptools", "h11")

_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
#: A ``host[:port]`` as a browser sends it in ``Host``: a DNS name, an IPv4 address or a
#: bracketed IPv6 address, then an optional port (checked to be at most 65535 apart).
HOST = re.compile(
    rf"(?P<host>{_LABEL}(?:\.{_LABEL})*\.?|\[[0-9a-f:.]{{2,45}}\])(?::(?P<port>[0-9]{{1,5}}))?",
    re.IGNORECASE,
)
_DEFAULT_PORTS = {"http": 80, "https": 443}
_PATH = re.compile(r"(?:/[A-Za-z0-9._~!$&'()*+,;=:@%-]*)*")


class SettingsError(ValueError):
    """A setting is missing or cannot be cast; the message names the variable."""


class Secret:
    """A string that hides itself from ``repr`` and ``str``."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """Return the secret value; call only where it is used."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and secrets.compare_digest(self._value, other._value)

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class Settings:
    """The service's settings; build with :meth:`from_env` or directly in tests."""

    database_url: str = DEFAULT_DATABASE_URL
    config_path: Path = DEMO_CONFIG
    secret_keys: tuple[Secret, ...] = ()
    #: Overrides every site's ``rate_limit`` (writes per minute per address); None keeps theirs.
    rate_limit: int | None = None
    #: Keyed-hash secret for IP minimisation when a site uses ``ip_mode = "hash"``.
    ip_hash_key: Secret | None = None
    #: Proxy addresses whose X-Forwarded-For / X-Forwarded-Proto are trusted.
    trusted_proxies: tuple[str, ...] = ("127.0.0.1", "::1")
    demo: bool = False
    max_body_bytes: int = 8 * 1024
    #: Group commit: how many consent events one transaction may carry at most.
    write_batch_max: int = 256
    #: Purge each site that sets ``retention_days`` once a day (C21); off unless set.
    auto_purge: bool = False
    #: Server hardening (``serve``/``demo``): the request line and headers together may not
    #: exceed this many bytes (431 beyond it).
    max_header_bytes: int = 16 * 1024
    #: Seconds a client may take to send a request body (408 beyond it).
    body_timeout: float = 10.0
    #: Seconds an idle keep-alive connection is kept open.
    keep_alive_timeout: int = 5
    #: Connections and requests in flight per process before new ones get 503; 0 = no cap.
    max_connections: int = 1000
    #: The HTTP/1.1 parser ``serve`` runs: ``httptools`` (fast, C) or ``h11`` (pure Python).
    http_parser: str = "httptools"
    #: Seconds a client may take to send a request line and headers (408 beyond it).
    header_timeout: float = 10.0
    #: Where browsers reach the service (``CONSENT_PUBLIC_URL``): the origin, and a path
    #: prefix if a proxy mounts it below one. The widget and ``/config`` name their
    #: endpoints under it, whatever ``Host`` a request carries. None: only the demo and
    #: plain-http localhost take it from ``Host``; other requests get 500 (docs/deploy.md).
    public_url: str | None = None
    #: uvicorn's log level (``CONSENT_LOG_LEVEL``); access logs are always off.
    log_level: str = "info"
    #: The browser ``consent-service scan`` drives.
    chromium: str = "/usr/bin/chromium"
    #: The log's Ed25519 signing key, PKCS #8 PEM (``CONSENT_LOG_KEY_FILE``). None: a key
    #: generated beside the SQLite file, or in ``var/`` (:func:`.audit.signing.load_signer`).
    log_key_file: Path | None = None
    #: Public keys of retired log keys (``CONSENT_LOG_OLD_KEYS``), so older heads verify.
    log_old_keys: tuple[str, ...] = ()
    #: The log's name (``CONSENT_LOG_NAME``): site S's heads are signed as ``<name>/S``.
    #: None: the host and path of :attr:`public_url`, else ``localhost``.
    log_name: str | None = None
    #: Processes a verify checks the rows in (``CONSENT_VERIFY_WORKERS``): None, one per
    #: CPU; 0, none besides the service's own (slower, and leaves the other CPUs alone).
    verify_workers: int | None = None
    #: Processes an export writes its rows in (``CONSENT_EXPORT_WORKERS``), as
    #: ``verify_workers``.
    export_workers: int | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read the settings from ``environ`` (default ``os.environ``); keyword overrides win.

        Every variable is in :data:`ENV_VARS`, read by its entry there; an empty value is
        as if unset, except for ``CONSENT_TRUSTED_PROXIES`` (empty: trust no proxy).
        """
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for name, (attribute, read) in _READERS.items():
            raw = env.get(name)
            if raw is None or (raw.strip() == "" and name != "CONSENT_TRUSTED_PROXIES"):
                continue
            values[attribute] = read(name, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def __post_init__(self) -> None:
        if self.http_parser not in HTTP_PARSERS:
            raise SettingsError(
                f"CONSENT_HTTP_PARSER must be one of {', '.join(HTTP_PARSERS)}, "
                f"got {self.http_parser!r}"
            )
        if self.public_url is not None:  # also when built directly, as tests do
            object.__setattr__(self, "public_url", parse_public_url(self.public_url))

    @property
    def public_origin(self) -> str | None:
        """The origin of :attr:`public_url` (no path): what ``"self"`` means in ``origins``."""
        if self.public_url is None:
            return None
        scheme, rest = self.public_url.split("://", 1)
        return f"{scheme}://{rest.split('/', 1)[0]}"

    def with_demo_key(self, key_file: Path = DEMO_KEY_FILE) -> Settings:
        """Demo mode: without configured keys, use (or create) a local key file, with a warning."""
        if self.secret_keys:
            return replace(self, demo=True)
        if key_file.exists():
            key = key_file.read_text().strip()
        else:
            key_file.parent.mkdir(parents=True, exist_ok=True)
            key = secrets.token_urlsafe(32)
            key_file.write_text(key + "\n")
            key_file.chmod(0o600)
        print(
            f"warning: demo mode signs consent cookies with a generated key kept in {key_file}; "
            "set CONSENT_SECRET_KEYS in production",
            file=sys.stderr,
        )
        return replace(self, secret_keys=(Secret(key),), demo=True)

    def require_keys(self) -> None:
        """Fail clearly when no signing key is configured."""
        if not self.secret_keys:
            raise SettingsError(
                "CONSENT_SECRET_KEYS is not set: give one or more keys, newest first, "
                "separated by commas (or run `consent-service demo`)"
            )


def parse_keys(raw: str) -> tuple[Secret, ...]:
    """Split ``CONSENT_SECRET_KEYS`` (newest first, comma-separated) into secrets."""
    keys = tuple(Secret(k.strip()) for k in raw.split(",") if k.strip())
    for key in keys:
        if len(key.reveal()) < 16:
            raise SettingsError("CONSENT_SECRET_KEYS: every key must be at least 16 characters")
    return keys


def parse_public_url(raw: str) -> str:
    """Check and normalise ``CONSENT_PUBLIC_URL``: ``http(s)://host[:port][/prefix]``.

    The scheme and host are lowercased, a default port and a trailing ``/`` dropped, so
    the result is the prefix of every URL the service names. Userinfo, a query or a
    fragment are refused: none belongs in a base URL.
    """
    text = raw.strip()
    problem = "it must look like https://consent.example.se (optionally with a path prefix)"
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    host = HOST.fullmatch(parts.netloc)
    if scheme not in _DEFAULT_PORTS or host is None or "?" in text or "#" in text:
        raise SettingsError(f"CONSENT_PUBLIC_URL: {text[:100]!r}: {problem}")
    port = host.group("port")
    if port is not None and not 0 < int(port) <= 65535:
        raise SettingsError(f"CONSENT_PUBLIC_URL: port {port} is out of range")
    if not _PATH.fullmatch(parts.path):
        raise SettingsError(f"CONSENT_PUBLIC_URL: {parts.path[:100]!r} is not a plain URL path")
    netloc = host.group("host").lower().rstrip(".")
    if port is not None and int(port) != _DEFAULT_PORTS[scheme]:
        netloc += f":{int(port)}"
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}"


def is_loopback(host: str) -> bool:
    """Whether a listen address (``--host``) accepts connections from this machine only."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _integer(minimum: int) -> Callable[[str, str], int]:
    def read(name: str, raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
        if value < minimum:
            raise SettingsError(f"{name} must be at least {minimum}, got {value}")
        return value

    return read


def _seconds(name: str, raw: str) -> float:
    return float(_integer(1)(name, raw))


def _flag(name: str, raw: str) -> bool:
    return raw.strip().lower() in ("1", "true", "yes")


def _text(name: str, raw: str) -> str:
    return raw.strip()


def _choice(name: str, raw: str) -> str:
    return raw.strip().lower()


def _list(name: str, raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


#: Every environment variable the service reads, the setting it gives and how its text is
#: read (documented in ``.env.example`` and docs/configuration.md).
_READERS: dict[str, tuple[str, Callable[[str, str], Any]]] = {
    "CONSENT_DATABASE_URL": ("database_url", _text),
    "CONSENT_CONFIG": ("config_path", lambda name, raw: Path(raw)),
    "CONSENT_SECRET_KEYS": ("secret_keys", lambda name, raw: parse_keys(raw)),
    "CONSENT_RATE_LIMIT": ("rate_limit", _integer(0)),
    "CONSENT_IP_HASH_KEY": ("ip_hash_key", lambda name, raw: Secret(raw)),
    "CONSENT_TRUSTED_PROXIES": ("trusted_proxies", _list),
    "CONSENT_WRITE_BATCH_MAX": ("write_batch_max", _integer(1)),
    "CONSENT_LOG_LEVEL": ("log_level", _choice),
    "CONSENT_DEMO": ("demo", _flag),
    "CONSENT_CHROMIUM": ("chromium", _text),
    "CONSENT_AUTO_PURGE": ("auto_purge", _flag),
    "CONSENT_MAX_HEADER_BYTES": ("max_header_bytes", _integer(1024)),
    "CONSENT_BODY_TIMEOUT": ("body_timeout", _seconds),
    "CONSENT_KEEP_ALIVE_TIMEOUT": ("keep_alive_timeout", _integer(1)),
    "CONSENT_MAX_CONNECTIONS": ("max_connections", _integer(0)),
    "CONSENT_VERIFY_WORKERS": ("verify_workers", _integer(0)),
    "CONSENT_EXPORT_WORKERS": ("export_workers", _integer(0)),
    "CONSENT_PUBLIC_URL": ("public_url", lambda name, raw: parse_public_url(raw)),
    "CONSENT_HTTP_PARSER": ("http_parser", _choice),
    "CONSENT_HEADER_TIMEOUT": ("header_timeout", _seconds),
    "CONSENT_LOG_KEY_FILE": ("log_key_file", lambda name, raw: Path(raw)),
    "CONSENT_LOG_OLD_KEYS": ("log_old_keys", _list),
    "CONSENT_LOG_NAME": ("log_name", _text),
}
#: Every environment variable the service reads.
ENV_VARS = tuple(_READERS)
