"""Outputs of the live daemon besides the boards, one module each.

A module ``sepmon.outputs.<name>`` serves the config table ``[outputs.<name>]``
by defining ``from_config(where: str, table: dict) -> Output`` (see
``sepmon.daemon.Output``); it raises ``ConfigError`` for a bad key or value.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from sepmon.daemon import Output
from sepmon.errors import ConfigError


def build_outputs(raw: Any) -> list[Output]:
    """Outputs for the ``[outputs.*]`` tables of a configuration."""
    if raw is None:
        return []
    if not isinstance(raw, Mapping):
        raise ConfigError("outputs: expected tables such as [outputs.flarm]")
    outputs = []
    for name, table in raw.items():
        where = f"outputs.{name}"
        if not isinstance(table, Mapping):
            raise ConfigError(f"{where}: expected a table")
        if not name.isidentifier() or name.startswith("_"):
            raise ConfigError(f"{where}: unknown output")
        try:
            mod = importlib.import_module(f"sepmon.outputs.{name}")
        except ModuleNotFoundError:
            raise ConfigError(f"{where}: unknown output") from None
        if table.get("enabled", True) is False:
            continue
        outputs.append(mod.from_config(where, dict(table)))
    return outputs
