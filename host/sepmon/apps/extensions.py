"""Outputs and feeds of the live daemon from the ``[outputs.*]`` tables of a configuration.

``[outputs.flarm]`` is the FLARM feed (:mod:`sepmon.outputs.flarm`);
``[outputs.mqtt]`` is one broker session (:mod:`sepmon.transport.mqtt`) with two
halves: the MQTT output that publishes (:mod:`sepmon.outputs.mqtt`) and the MQTT
link that takes trusted sites' tracks in (:mod:`sepmon.links.mqtt`). Wiring them
here, in the application, keeps outputs and links from importing each other.
Each builder raises ``ConfigError`` naming the first bad key.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sepmon.core.errors import ConfigError
from sepmon.links.base import Feed
from sepmon.links.mqtt import MqttLink
from sepmon.outputs import flarm
from sepmon.outputs.base import Output
from sepmon.outputs.mqtt import MqttOutput
from sepmon.transport.mqtt import session_from_config


@dataclass
class Extensions:
    """What the ``[outputs.*]`` tables ask the daemon to run besides its sources and boards."""

    outputs: list[Output] = field(default_factory=list)
    feeds: list[Feed] = field(default_factory=list)


def _flarm(where: str, table: dict[str, Any]) -> Extensions:
    return Extensions(outputs=[flarm.from_config(where, table)])


def _mqtt(where: str, table: dict[str, Any]) -> Extensions:
    session = session_from_config(where, table)
    return Extensions(outputs=[MqttOutput(session)], feeds=[MqttLink(session)])


BUILDERS: dict[str, Callable[[str, dict[str, Any]], Extensions]] = {"flarm": _flarm, "mqtt": _mqtt}


def build_extensions(raw: Any) -> Extensions:
    """Outputs and feeds for the ``[outputs.*]`` tables of a configuration."""
    out = Extensions()
    if raw is None:
        return out
    if not isinstance(raw, Mapping):
        raise ConfigError("outputs: expected tables such as [outputs.flarm]")
    for name, table in raw.items():
        where = f"outputs.{name}"
        if not isinstance(table, Mapping):
            raise ConfigError(f"{where}: expected a table")
        builder = BUILDERS.get(name)
        if builder is None:
            raise ConfigError(f"{where}: unknown output")
        if table.get("enabled", True) is False:
            continue
        ext = builder(where, dict(table))
        out.outputs += ext.outputs
        out.feeds += ext.feeds
    return out


def build_outputs(raw: Any) -> list[Output]:
    """The outputs of :func:`build_extensions` (validating every table)."""
    return build_extensions(raw).outputs
