"""Reading the TOML configuration file (the model and its checks are :mod:`sepmon.core.config`)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from sepmon.core.config import Config, parse_config
from sepmon.core.errors import ConfigError


def load_config(path: str | Path | None) -> Config:
    """Read and validate a TOML file; None gives the defaults."""
    if path is None:
        return parse_config({})
    p = Path(path)
    try:
        text = p.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: cannot read: {exc}") from None
    try:
        data = tomllib.loads(text)
    except (ValueError, RecursionError) as exc:  # TOMLDecodeError, int over 4300 digits, deep nesting
        raise ConfigError(f"{p}: not valid TOML: {exc}") from None
    try:
        return parse_config(data)
    except ConfigError as exc:
        raise ConfigError(f"{p}: {exc}") from None
