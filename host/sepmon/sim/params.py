"""Parameters of a simulation run, their defaults and their validation.

Every check raises :class:`SimulationError` with one line naming the parameter,
so the command line can print it as it is (exit status 2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from datetime import UTC, datetime

from sepmon.core.errors import SepmonError

SCENARIOS: tuple[str, ...] = ("head-on", "crossing", "overtaking", "climbing", "parallel", "many")
TALKERS: tuple[str, ...] = ("GP", "GN", "mixed")
SENTENCES: tuple[str, ...] = ("RMC", "VTG", "GGA", "GNS", "GLL", "GSA", "ZDA", "GSV")
# NMEA 0183 versions the receiver model writes: 2.3 (mode letters), 4.10 (RMC/GNS end
# with a navigational status, V = "not provided"; GSA/GSV carry a system/signal ID),
# 4.11 (as 4.10, GNS/RMC status as u-blox M9/F9 send it).
DIALECTS: tuple[str, ...] = ("2.3", "4.10", "4.11")
# Per-vendor sentence sets and talkers, as the receivers send them by default (their
# interface descriptions; tests/data/real/ holds recordings of each): dialect, talker,
# sentences in the order sent.
RECEIVERS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "generic": ("2.3", "GP", ("RMC", "VTG", "GGA", "GSA")),
    "mtk": ("2.3", "GP", ("GGA", "GSA", "GSV", "RMC", "VTG")),
    "sirf": ("2.3", "GP", ("GGA", "GSA", "GSV", "RMC")),
    "ublox-m8": ("4.10", "GN", ("RMC", "VTG", "GGA", "GSA", "GSV", "GLL")),
    "ublox-m9": ("4.11", "GN", ("RMC", "VTG", "GGA", "GSA", "GSV", "GLL")),
    "quectel": ("4.10", "GN", ("RMC", "VTG", "GGA", "GSA", "GSV")),
    "septentrio": ("4.10", "GN", ("GNS", "GSA", "GSV", "ZDA")),
    "gga-only": ("2.3", "GP", ("GGA", "GSA")),
}

# A fixed date, so that a recording made without --start is the same every day.
DEFAULT_START = datetime(2024, 3, 15, 10, 0, 0, tzinfo=UTC)


class SimulationError(SepmonError):
    """A bad simulation parameter; exit status 2 like any other bad argument."""

    def __init__(self, message: str) -> None:
        super().__init__(message, status=2)


@dataclass(frozen=True)
class FaultModel:
    """How often the receiver (or the line to it) misbehaves.

    Probabilities are per sentence (``corrupt``, ``truncate``) or per epoch of
    one vehicle (``garbage``, ``dropouts_per_min`` converted to a per-epoch start
    probability). A dropout lasts ``dropout_s`` seconds (uniform between the two
    bounds); in a fraction ``nofix_fraction`` of them the receiver keeps talking
    but reports no fix (empty fields, GGA quality 0, RMC status V) instead of
    falling silent.
    """

    corrupt: float = 0.01
    truncate: float = 0.005
    garbage: float = 0.005
    dropouts_per_min: float = 0.5
    dropout_s: tuple[float, float] = (2.0, 6.0)
    nofix_fraction: float = 0.5

    def validate(self) -> None:
        """Raise :class:`SimulationError` for an impossible fault model."""
        for name in ("corrupt", "truncate", "garbage", "nofix_fraction"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise SimulationError(f"fault probability {name} must be between 0 and 1, got {v}")
        if self.corrupt + self.truncate > 1.0:
            raise SimulationError("fault probabilities corrupt + truncate must not exceed 1")
        if not 0.0 <= self.dropouts_per_min <= 60.0:
            raise SimulationError(f"dropouts_per_min must be between 0 and 60, got {self.dropouts_per_min}")
        lo, hi = self.dropout_s
        if not 0.0 < lo <= hi <= 3600.0:
            raise SimulationError(f"dropout_s must be 0 < min <= max <= 3600, got {self.dropout_s}")


@dataclass(frozen=True)
class Params:
    """Everything that determines a simulation; same params → identical bytes.

    ``None`` means "the scenario's default" (see :func:`sepmon.sim.scenarios.resolve`).
    ``alt`` is the ellipsoid height of the first vehicle; ``vertical`` is the
    height of the intruder above it (for ``climbing``: how far below it starts).
    """

    seed: int = 0
    start: datetime = DEFAULT_START
    lat: float = 47.26
    lon: float = 11.35
    alt: float = 1500.0
    heading: float = 70.0
    speed: float = 60.0
    separation: float | None = None
    miss: float = 150.0
    vertical: float | None = None
    duration: float | None = None
    cpa_time: float = 60.0
    bystander: bool = False
    vehicles: int = 6
    rate: float = 1.0
    rates: tuple[float, ...] = ()
    hdop: float = 1.0
    noise_scale: float = 1.0
    talker: str = "GP"
    sentences: tuple[str, ...] = ("RMC", "VTG", "GGA", "GSA")
    dialect: str = "2.3"
    faults: FaultModel | None = None
    geoid_sep: float = 47.0
    latency_s: float = 0.05
    baud: int = 115200

    @classmethod
    def names(cls) -> frozenset[str]:
        """The keyword arguments :func:`sepmon.sim.simulate` accepts."""
        return frozenset(f.name for f in fields(cls))

    def validate(self) -> None:
        """Raise :class:`SimulationError` (one line) for the first bad value."""
        _finite(self, "lat", -89.0, 89.0)
        _finite(self, "lon", -180.0, 180.0)
        _finite(self, "alt", -500.0, 50_000.0)
        _finite(self, "heading", -360.0, 360.0)
        _finite(self, "speed", 0.0, 400.0)
        _finite(self, "miss", 0.0, 1e6)
        _finite(self, "cpa_time", 1.0, 6 * 3600.0)
        _finite(self, "hdop", 0.5, 50.0)
        _finite(self, "noise_scale", 0.0, 100.0)
        _finite(self, "geoid_sep", -120.0, 120.0)
        _finite(self, "latency_s", 0.0, 5.0)
        if self.separation is not None:
            _finite(self, "separation", 1.0, 1e6)
        if self.vertical is not None:
            _finite(self, "vertical", -20_000.0, 20_000.0)
        if self.duration is not None:
            _finite(self, "duration", 1.0, 6 * 3600.0)
        if not 2 <= self.vehicles <= 100:
            raise SimulationError(f"vehicles must be between 2 and 100, got {self.vehicles}")
        for r in (self.rate, *self.rates):
            check_rate(r)
        if self.talker not in TALKERS:
            raise SimulationError(f"talker must be one of {', '.join(TALKERS)}, got {self.talker!r}")
        for s in self.sentences:
            if s not in SENTENCES:
                raise SimulationError(f"unknown sentence {s!r} (known: {', '.join(SENTENCES)})")
        if not {"GGA", "RMC", "GNS", "GLL"} & set(self.sentences):
            raise SimulationError("sentences must include GGA, RMC, GNS or GLL, else there is no position")
        if self.dialect not in DIALECTS:
            raise SimulationError(f"dialect must be one of {', '.join(DIALECTS)}, got {self.dialect!r}")
        if self.baud < 1200:
            raise SimulationError(f"baud must be at least 1200, got {self.baud}")
        if self.start.tzinfo is None:
            raise SimulationError("start must carry a time zone (use UTC, e.g. 2024-03-15T23:59:30Z)")
        if self.faults is not None:
            self.faults.validate()


def check_rate(rate: float) -> None:
    """Rates whose period is a whole number of centiseconds (NMEA times have two decimals)."""
    ok = math.isfinite(rate) and 0.0 < rate <= 20.0
    if ok:
        period_cs = 100.0 / rate
        ok = abs(period_cs - round(period_cs)) < 1e-9
    if not ok:
        raise SimulationError(
            f"rate must be a positive number of Hz up to 20 whose period is a whole number of "
            f"centiseconds (e.g. 0.5, 1, 2, 4, 5, 10, 20), got {rate:g}"
        )


def _finite(p: Params, name: str, lo: float, hi: float) -> None:
    v = getattr(p, name)
    if not (isinstance(v, int | float) and math.isfinite(v) and lo <= v <= hi):
        raise SimulationError(f"{name} must be between {lo:g} and {hi:g}, got {v}")
