"""The ``[web]`` table and ``--web [HOST:]PORT``: where the web view listens and who may look.

Loopback unless ``bind`` says otherwise; any other address needs a token, read from
``token_file`` (which others may not read) or ``token_env``, never from the
configuration itself.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sepmon.core.errors import ConfigError
from sepmon.core.net import exposed

DEFAULT_PORT = 8642
MIN_TOKEN = 16
_KEYS = frozenset(
    {
        "enabled",
        "port",
        "bind",
        "token_file",
        "token_env",
        "interval_s",
        "max_clients",
        "max_queue",
        "backlog",
        "tiles",
        "tile_attribution",
        "tile_max_zoom",
    }
)


@dataclass(frozen=True)
class WebSettings:
    """The validated ``[web]`` table (the token is kept out of ``repr``)."""

    port: int = DEFAULT_PORT
    bind: str = "127.0.0.1"
    token: str | None = field(default=None, repr=False)
    interval_s: float = 0.4
    max_clients: int = 16
    max_queue: int = 16
    backlog: int = 500
    tiles: str | None = None
    tile_attribution: str | None = None
    tile_max_zoom: int = 19

    @property
    def url(self) -> str:
        """Where a browser on this machine finds the page (the configured port)."""
        host = self.bind if self.bind not in ("0.0.0.0", "::", "") else "127.0.0.1"
        return f"http://{host_for_url(host)}:{self.port}/"


def host_for_url(host: str) -> str:
    """An address as it goes in a URL (IPv6 in brackets)."""
    return f"[{host}]" if ":" in host else host


# ---- configuration ----------------------------------------------------------------------------


def _int(where: str, value: Any, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ConfigError(f"{where}: expected a whole number from {lo} to {hi}, got {value!r}")
    return value


def _str(where: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}: expected a non-empty string, got {value!r}")
    return value


def _token(where: str, t: Mapping[str, Any]) -> str | None:
    if "token" in t or "password" in t:
        key = "token" if "token" in t else "password"
        raise ConfigError(
            f"{where}.{key}: never put a token in the configuration; use token_file or token_env"
        )
    if "token_file" in t and "token_env" in t:
        raise ConfigError(f"{where}: give token_file or token_env, not both")
    token: str | None = None
    if "token_file" in t:
        path = _str(f"{where}.token_file", t["token_file"])
        try:
            mode = os.stat(path).st_mode
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
            raise ConfigError(f"{where}.token_file: cannot read {path!r}: {reason}") from None
        if mode & (stat.S_IROTH | stat.S_IWOTH):
            raise ConfigError(
                f"{where}.token_file: refusing {path!r}: anyone may read or write it (chmod o-rw {path})"
            )
        token = text.rstrip("\r\n")
        if "\n" in token:
            raise ConfigError(f"{where}.token_file: {path!r} must hold the token on one line")
    elif "token_env" in t:
        name = _str(f"{where}.token_env", t["token_env"])
        token = os.environ.get(name)
        if not token:
            raise ConfigError(f"{where}.token_env: environment variable {name} is not set")
    if token is not None and (len(token) < MIN_TOKEN or not token.isprintable() or " " in token):
        raise ConfigError(
            f"{where}: the token must be at least {MIN_TOKEN} printable characters without spaces "
            f"(e.g. from: python3 -c 'import secrets; print(secrets.token_urlsafe(24))')"
        )
    return token


def parse_address(text: str) -> tuple[str | None, int]:
    """``[HOST:]PORT`` of ``--web`` → (host or None, port); raises ``ConfigError``."""
    host: str | None = None
    port_text = text
    if text.startswith("["):  # [::1]:8642
        end = text.find("]")
        if end < 0 or text[end + 1 : end + 2] != ":":
            raise ConfigError(f"--web: expected [HOST:]PORT, got {text!r}")
        host, port_text = text[1:end], text[end + 2 :]
    elif ":" in text:
        host, port_text = text.rsplit(":", 1)
        if ":" in host:
            raise ConfigError(f"--web: an IPv6 address goes in brackets, e.g. [::1]:8642, got {text!r}")
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ConfigError(f"--web: expected a port from 0 to 65535, got {port_text!r}")
    if host is not None and not host:
        raise ConfigError(f"--web: empty host in {text!r}")
    return host, int(port_text)


def parse_settings(where: str, table: Mapping[str, Any]) -> WebSettings:
    """Validate a ``[web]`` table; every problem is one ``ConfigError`` line naming the key."""
    for key in table:
        if key not in _KEYS and key not in ("token", "password"):
            raise ConfigError(f"{where}.{key}: unknown key")
    enabled = table.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ConfigError(f"{where}.enabled: expected true or false")
    port = _int(f"{where}.port", table.get("port", DEFAULT_PORT), 0, 65535)
    bind = _str(f"{where}.bind", table.get("bind", "127.0.0.1"))
    token = _token(where, table)
    if exposed(bind) and token is None:
        raise ConfigError(
            f"{where}.bind: {bind} is reachable from other machines; the web view needs a token there "
            "(token_file or token_env), or bind 127.0.0.1"
        )
    interval = table.get("interval_s", 0.4)
    if isinstance(interval, bool) or not isinstance(interval, int | float) or not 0.05 <= interval <= 0.5:
        raise ConfigError(f"{where}.interval_s: expected seconds from 0.05 to 0.5, got {interval!r}")
    tiles = table.get("tiles")
    if tiles is not None:
        tiles = _str(f"{where}.tiles", tiles)
        parts = urlsplit(tiles)
        if parts.scheme not in ("http", "https") or not parts.netloc or "{z}" not in tiles:
            raise ConfigError(
                f"{where}.tiles: expected a tile URL template such as "
                f"https://tile.example.org/{{z}}/{{x}}/{{y}}.png, got {tiles!r}"
            )
        if any(c in parts.netloc for c in "{}'\"; "):
            raise ConfigError(f"{where}.tiles: the host part must be a plain host name, got {parts.netloc!r}")
    attribution = table.get("tile_attribution")
    if attribution is not None:
        attribution = _str(f"{where}.tile_attribution", attribution)
    return WebSettings(
        port=port,
        bind=bind,
        token=token,
        interval_s=float(interval),
        max_clients=_int(f"{where}.max_clients", table.get("max_clients", 16), 1, 256),
        max_queue=_int(f"{where}.max_queue", table.get("max_queue", 16), 2, 1024),
        backlog=_int(f"{where}.backlog", table.get("backlog", 500), 0, 10_000),
        tiles=tiles,
        tile_attribution=attribution,
        tile_max_zoom=_int(f"{where}.tile_max_zoom", table.get("tile_max_zoom", 19), 0, 22),
    )
