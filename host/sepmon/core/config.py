"""The configuration model, validated from a mapping (parsed TOML): minima, groups, pair classes, ingest.

Every problem is a ``ConfigError`` naming the key and the reason, so the command
line can print one line and exit with status 2.

Example::

    [separation]            # defaults for every pair of sources
    preset = "sepmon"       # the alerting policy (sepmon, do365, flarm, distance); keys below override it
    horizontal_m = 3000
    vertical_m = 300
    warning_s = 8
    caution_s = 12
    advisory_s = 18
    hold_s = 5
    stale_s = 5

    [groups]                # which sources belong to which party
    red = ["alpha", "alpha2"]
    blue = ["bravo"]

    [aliases]               # one board seen through two paths is one source
    "alpha-radio" = "alpha"

    [[pairs]]               # minima for a pair of groups (order does not matter)
    groups = ["red", "blue"]
    horizontal_m = 5000     # over [separation]'s policy; with its own preset = "...", over that one

    [[pairs]]
    groups = ["red", "red"]
    check = false           # own vehicles flying together: not traffic to each other

    [max_speed_mps]         # fastest believable ground speed, per group or source
    default = 600           # (the default: above any airliner with a jet-stream tailwind)
    blue = 60

    [daemon]                # the live daemon (sepmon run)
    behind_s = 2            # say so when the monitor runs this far behind real time
    event_buffer = 10000    # events held in memory while the event log cannot be written
    report_s = 1            # the Alerter counts one report per this many seconds (a replay at N x: 1/N)

``[[sources]]`` and ``[outputs.*]`` are checked by ``sepmon.apps.configfile.load_config``
(their models live with the links and outputs); every command loads through it, so
every command checks the same schema.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from sepmon.core.alerter import PRESETS, Alerter, customise, preset
from sepmon.core.errors import ConfigError
from sepmon.core.model import Minima

DEFAULT_GROUP = "default"


DEFAULT_PRESET = "sepmon"


@dataclass(frozen=True)
class SeparationRule(Minima):
    """The policy of one class of pairs: its :class:`~sepmon.core.alerter.Alerter`, and whether to check it.

    The :class:`~sepmon.core.model.Minima` fields restate the alerter (``horizontal_m`` and
    ``vertical_m``: the innermost level's DTHR and ZTHR; ``warning_s``/``caution_s``/
    ``advisory_s``: levels 3/2/1's alerting times), for readers that draw or compare with
    the minima; the alerter decides.
    """

    check: bool = True
    preset: str = DEFAULT_PRESET
    alerter: Alerter = field(default_factory=lambda: preset(DEFAULT_PRESET))


@dataclass(frozen=True)
class IngestOptions:
    """How strictly NMEA input is read."""

    require_checksum: bool = True
    max_line: int = 512


@dataclass(frozen=True)
class DaemonOptions:
    """Settings of the live daemon (``[daemon]``)."""

    behind_s: float = 2.0
    event_buffer: int = 10_000
    # The Alerter's confirmation counts one report per report_s of the daemon's clock: 1 s
    # live; a replay fed at N times real speed (sepmon check --live) sets 1/N.
    report_s: float = 1.0


DEFAULT_MAX_SPEED_MPS = 600.0
"""Fastest believable ground speed of any vehicle: an airliner at Mach 0.85 with a 100 m/s
jet-stream tailwind makes about 350 m/s; 600 m/s leaves room and still flags a jump of
kilometres between two fixes a second apart."""


@dataclass(frozen=True)
class Config:
    """The whole validated configuration."""

    default_rule: SeparationRule = field(default_factory=SeparationRule)
    hold_s: float = 5.0
    stale_s: float = 5.0
    confidence: float = 0.95  # of the uncertainty margins (combined for a pair as independent errors)
    groups: Mapping[str, str] = field(default_factory=dict)  # source → group
    aliases: Mapping[str, str] = field(default_factory=dict)  # alias → source
    pair_rules: Mapping[frozenset[str], SeparationRule] = field(default_factory=dict)
    ingest: IngestOptions = field(default_factory=IngestOptions)
    daemon: DaemonOptions = field(default_factory=DaemonOptions)
    max_speed: Mapping[str, float] = field(default_factory=dict)  # group or source → m/s
    default_max_speed: float = DEFAULT_MAX_SPEED_MPS
    raw: Mapping[str, Any] = field(default_factory=dict)  # the parsed TOML, for later sections

    def group_of(self, source: str) -> str:
        """The group a source belongs to (``default`` when not listed)."""
        return self.groups.get(source, DEFAULT_GROUP)

    def canonical(self, source: str) -> str:
        """The source name after aliases are applied."""
        return self.aliases.get(source, source)

    def max_speed_of(self, source: str) -> float:
        """Fastest believable ground speed of ``source`` (m/s): its own, its group's, or the default."""
        speed = self.max_speed.get(source)
        if speed is None:
            speed = self.max_speed.get(self.group_of(source), self.default_max_speed)
        return speed

    def rule_for(self, a: str, b: str) -> SeparationRule:
        """The rule for the pair of sources ``a`` and ``b`` (symmetric)."""
        key = frozenset((self.group_of(a), self.group_of(b)))
        return self.pair_rules.get(key, self.default_rule)


_MINIMA_KEYS = {f.name for f in fields(Minima)}
_RULE_KEYS = _MINIMA_KEYS | {"check", "preset"}
_SEPARATION_EXTRA = {"hold_s", "stale_s", "confidence"}
_TOP_KEYS = {
    "separation", "groups", "aliases", "pairs", "ingest", "sources", "outputs", "daemon", "web",
    "max_speed_mps",
}  # fmt: skip


def _number(where: str, value: Any, *, positive: bool = True, minimum: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{where}: expected a number, got {type(value).__name__} {value!r}")
    try:
        v = float(value)
    except OverflowError:  # an integer beyond any float
        raise ConfigError(f"{where}: must be finite, got an integer too large for a float") from None
    if not math.isfinite(v):
        raise ConfigError(f"{where}: must be finite, got {value!r}")
    if positive and v <= 0:
        raise ConfigError(f"{where}: must be greater than 0, got {value!r}")
    if minimum is not None and v < minimum:
        raise ConfigError(f"{where}: must be at least {minimum:g}, got {value!r}")
    return v


def _rule(
    where: str,
    table: Mapping[str, Any],
    base: SeparationRule,
    allowed_extra: set[str],
    persistence_s: float | None,
) -> SeparationRule:
    """The rule of ``table``: its own ``preset`` (else ``base``'s policy) with its explicit keys over it."""
    explicit: dict[str, float] = {}
    check = base.check
    name = None
    for key, value in table.items():
        path = f"{where}.{key}"
        if key in allowed_extra:
            continue
        if key not in _RULE_KEYS:
            raise ConfigError(f"{path}: unknown key")
        if key == "check":
            if not isinstance(value, bool):
                raise ConfigError(f"{path}: expected true or false, got {value!r}")
            check = value
        elif key == "preset":
            if value not in PRESETS:
                raise ConfigError(f"{path}: unknown preset {value!r}; known: {', '.join(sorted(PRESETS))}")
            name = value
        elif key.endswith("_factor"):
            explicit[key] = _number(path, value, minimum=1.0)
        else:
            explicit[key] = _number(path, value, positive=not key.endswith("_s"), minimum=0.0)
    start = preset(name) if name is not None else base.alerter
    try:
        alerter = customise(start, **explicit, persistence_s=persistence_s)
        return _restated(alerter, check)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _restated(alerter: Alerter, check: bool) -> SeparationRule:
    """A rule whose Minima fields restate ``alerter`` (see :class:`SeparationRule`)."""
    levels = alerter.levels
    top = levels[-1].volume
    times = [lv.alerting_time_s for lv in levels]
    warning, caution, advisory = times[-1], times[-2] if len(times) > 1 else times[-1], times[0]
    factors: dict[str, float] = {}
    if alerter.name == "distance" and len(levels) == 3 and top.dthr_m > 0:
        factors = {
            "caution_factor": levels[1].volume.dthr_m / top.dthr_m,
            "advisory_factor": levels[0].volume.dthr_m / top.dthr_m,
        }
    return SeparationRule(
        horizontal_m=top.dthr_m,
        vertical_m=top.zthr_m,
        warning_s=warning,
        caution_s=caution,
        advisory_s=advisory,
        check=check,
        preset=alerter.name,
        alerter=alerter,
        **factors,
    )


def _table(where: str, value: Any) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected a table, got {type(value).__name__}")
    return value


def _name_list(where: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{where}: expected a list of source names")
    return list(value)


def parse_config(data: Mapping[str, Any]) -> Config:
    """Validate parsed TOML and build a ``Config``; raises ``ConfigError``."""
    for key in data:
        if key not in _TOP_KEYS:
            raise ConfigError(f"{key}: unknown section")

    sep = _table("separation", data.get("separation", {}))
    hold_s = _number("separation.hold_s", sep.get("hold_s", 5.0), positive=False, minimum=0.0)
    # hold_s, when given, is how long a risen level is kept (the alerter's persistence).
    persistence_s = hold_s if "hold_s" in sep else None
    default_rule = _rule("separation", sep, SeparationRule(), _SEPARATION_EXTRA, persistence_s)
    stale_s = _number("separation.stale_s", sep.get("stale_s", 5.0))
    confidence = _number("separation.confidence", sep.get("confidence", 0.95))
    if not 0.5 <= confidence < 1.0:
        raise ConfigError(
            f"separation.confidence: expected a probability from 0.5 to below 1, got {confidence:g}"
        )

    groups: dict[str, str] = {}
    for gname, members in _table("groups", data.get("groups", {})).items():
        if gname == DEFAULT_GROUP:
            raise ConfigError(f"groups.{gname}: the name is reserved for ungrouped sources")
        for src in _name_list(f"groups.{gname}", members):
            if src in groups:
                raise ConfigError(f"groups.{gname}: source {src!r} is already in group {groups[src]!r}")
            groups[src] = gname

    aliases: dict[str, str] = {}
    for alias, target in _table("aliases", data.get("aliases", {})).items():
        if not isinstance(target, str) or not target:
            raise ConfigError(f"aliases.{alias}: expected a source name")
        aliases[alias] = target

    known_groups = set(groups.values()) | {DEFAULT_GROUP}
    pair_rules: dict[frozenset[str], SeparationRule] = {}
    pairs = data.get("pairs", [])
    if not isinstance(pairs, list):
        raise ConfigError("pairs: expected an array of tables ([[pairs]])")
    for i, entry in enumerate(pairs):
        where = f"pairs[{i}]"
        entry = _table(where, entry)
        gs = entry.get("groups")
        if not isinstance(gs, list) or len(gs) != 2 or not all(isinstance(g, str) for g in gs):
            raise ConfigError(f"{where}.groups: expected two group names")
        for g in gs:
            if g not in known_groups:
                raise ConfigError(f"{where}.groups: unknown group {g!r}")
        pair_key = frozenset(gs)
        if pair_key in pair_rules:
            raise ConfigError(f"{where}.groups: pair {gs[0]}/{gs[1]} is configured twice")
        pair_rules[pair_key] = _rule(where, entry, default_rule, {"groups"}, persistence_s)

    ing = _table("ingest", data.get("ingest", {}))
    for key in ing:
        if key not in ("require_checksum", "max_line"):
            raise ConfigError(f"ingest.{key}: unknown key")
    req = ing.get("require_checksum", True)
    if not isinstance(req, bool):
        raise ConfigError(f"ingest.require_checksum: expected true or false, got {req!r}")
    max_line = ing.get("max_line", 512)
    if isinstance(max_line, bool) or not isinstance(max_line, int) or not 82 <= max_line <= 65536:
        raise ConfigError(f"ingest.max_line: expected a whole number from 82 to 65536, got {max_line!r}")

    dmn = _table("daemon", data.get("daemon", {}))
    for key in dmn:
        if key not in ("behind_s", "event_buffer", "report_s"):
            raise ConfigError(f"daemon.{key}: unknown key")
    behind_s = _number("daemon.behind_s", dmn.get("behind_s", 2.0), minimum=0.1)
    report_s = _number("daemon.report_s", dmn.get("report_s", 1.0), minimum=0.001)
    buf = dmn.get("event_buffer", 10_000)
    if isinstance(buf, bool) or not isinstance(buf, int) or not 1 <= buf <= 10_000_000:
        raise ConfigError(f"daemon.event_buffer: expected a whole number from 1 to 10000000, got {buf!r}")

    max_speed: dict[str, float] = {}
    default_max_speed = DEFAULT_MAX_SPEED_MPS
    for key, value in _table("max_speed_mps", data.get("max_speed_mps", {})).items():
        v = _number(f"max_speed_mps.{key}", value, minimum=1.0)
        if key == DEFAULT_GROUP:
            default_max_speed = v
        else:
            max_speed[key] = v

    return Config(
        default_rule=default_rule,
        hold_s=hold_s,
        stale_s=stale_s,
        confidence=confidence,
        groups=groups,
        aliases=aliases,
        pair_rules=pair_rules,
        ingest=IngestOptions(require_checksum=req, max_line=max_line),
        daemon=DaemonOptions(behind_s=behind_s, event_buffer=buf, report_s=report_s),
        max_speed=max_speed,
        default_max_speed=default_max_speed,
        raw=data,
    )
