"""Reading the TOML configuration file (the model and its checks are :mod:`sepmon.core.config`)."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sepmon.apps.safeio import MAX_CONFIG_BYTES, read_regular
from sepmon.core.config import Config, parse_config
from sepmon.core.errors import ConfigError, SepmonError
from sepmon.links.sources import parse_sources


def check_schema(data: Mapping[str, Any]) -> Config:
    """The whole schema, the same for every command: the model, ``[[sources]]``, ``[outputs.*]``, ``[web]``.

    ``[[sources]]``, ``[outputs.*]`` and ``[web]`` are validated exactly as ``sepmon run``
    will use them (each output's own checks included), so a file ``analyze`` accepts no
    other command refuses.
    """
    config = parse_config(data)
    parse_sources(data.get("sources"))
    if data.get("outputs") is not None:
        # Lazy: the outputs bring paho and more (a second and more of start-up for every command).
        from sepmon.apps.extensions import build_extensions

        build_extensions(data.get("outputs"))
    if data.get("web") is not None:
        from sepmon.outputs.web import from_config  # lazy: aiohttp only for configurations with [web]

        from_config("web", data.get("web"), None, config.default_rule)
    return config


def load_config(path: str | Path | None) -> Config:
    """Read and validate a TOML file; None gives the defaults.

    The file must be a regular file (a named pipe would block the read) of at most 1 MiB.
    """
    if path is None:
        return parse_config({})
    p = Path(path)
    try:
        text = read_regular(p, "configuration", limit=MAX_CONFIG_BYTES, status=2).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{p}: cannot read: {exc}") from None
    except SepmonError as exc:
        raise ConfigError(str(exc)) from None
    try:
        data = tomllib.loads(text)
    except (ValueError, RecursionError) as exc:  # TOMLDecodeError, int over 4300 digits, deep nesting
        raise ConfigError(f"{p}: not valid TOML: {exc}") from None
    try:
        return check_schema(data)
    except ConfigError as exc:
        raise ConfigError(f"{p}: {exc}") from None
