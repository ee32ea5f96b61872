"""Readers for the DAIDALUS oracle data in ``tests/data/daidalus/`` (no DAIDALUS needed).

- :func:`scenarios` reads ``scenarios.csv`` (the index written by ``make_scenarios.py``);
- :func:`read_daa` reads a ``.daa`` file into per-aircraft, per-time states;
- :func:`read_daidalus` reads a scenario's ``daidalus.csv`` (DAIDALUS's alert levels);
- :func:`onsets` gives the first time a level series reaches each level.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from geographiclib.geodesic import Geodesic

DATA_DIR = Path(__file__).resolve().parents[1] / "data" / "daidalus"
LEVELS = (1, 2, 3)

# Columns of daidalus.csv: DAIDALUS's values, renamed to one token each, in DAIDALUS's units.
DAIDALUS_COLUMNS = (
    "time_s",
    "ownship",
    "traffic",
    "alerter",
    "level",  # with the configuration's hysteresis, persistence and M-of-N
    "level_nohyst",  # the same run with --nohysteresis
    "time_to_volume_1_s",
    "time_to_volume_2_s",
    "time_to_volume_3_s",
    "horizontal_separation_nmi",
    "vertical_separation_ft",
    "horizontal_closure_rate_knot",
    "vertical_closure_rate_fpm",
    "projected_hmd_nmi",
    "projected_vmd_ft",
    "projected_tcpa_s",
    "projected_dcpa_nmi",
    "projected_tcoa_s",
    "projected_taumod_s",
)


@dataclass(frozen=True)
class ScenarioInfo:
    """One row of ``scenarios.csv``."""

    name: str
    kind: str
    aircraft: tuple[str, ...]
    t_cpa_s: float
    duration_s: int
    closure_mps: float
    design_hmd_m: float
    design_vmd_m: float
    dropouts: tuple[tuple[str, int, int], ...]  # (aircraft, first, last second without fixes)
    description: str

    def received(self, aircraft: str, t: float) -> bool:
        """Whether the aircraft's NMEA has its fix of second ``t`` (False inside a dropout)."""
        return not any(name == aircraft and lo <= t <= hi for name, lo, hi in self.dropouts)

    @property
    def dir(self) -> Path:
        """The scenario's folder."""
        return DATA_DIR / self.name


def _dropouts(text: str) -> tuple[tuple[str, int, int], ...]:
    out = []
    for item in filter(None, text.split(";")):
        name, span = item.split(":")
        lo, hi = span.split("-")
        out.append((name, int(lo), int(hi)))
    return tuple(out)


def scenarios(data_dir: Path = DATA_DIR) -> list[ScenarioInfo]:
    """Every scenario of the index, in its order."""
    with (data_dir / "scenarios.csv").open(encoding="ascii", newline="") as f:
        return [
            ScenarioInfo(
                name=r["name"],
                kind=r["kind"],
                aircraft=tuple(r["aircraft"].split()),
                t_cpa_s=float(r["t_cpa_s"]),
                duration_s=int(r["duration_s"]),
                closure_mps=float(r["closure_mps"]),
                design_hmd_m=float(r["design_hmd_m"]),
                design_vmd_m=float(r["design_vmd_m"]),
                dropouts=_dropouts(r["nmea_dropout"]),
                description=r["description"],
            )
            for r in csv.DictReader(f)
        ]


@dataclass(frozen=True)
class DaaState:
    """One ``.daa`` row in the units its header gives (deg, deg, m, deg, knot, m/s, s)."""

    name: str
    lat: float
    lon: float
    alt_m: float
    trk_deg: float
    gs_knot: float
    vs_mps: float
    t: float


DAA_UNITS = {
    "lat": "[deg]",
    "lon": "[deg]",
    "alt": "[m]",
    "trk": "[deg]",
    "gs": "[knot]",
    "vs": "[m/s]",
    "time": "[s]",
}


def read_daa(path: Path) -> list[DaaState]:
    """The rows of a ``.daa`` file written by ``make_scenarios.py`` (checks its header and units)."""
    lines = [
        ln for ln in path.read_text(encoding="ascii").splitlines() if ln.strip() and not ln.startswith("#")
    ]
    names = lines[0].replace(",", " ").split()
    units = lines[1].replace(",", " ").split()
    if names[0] != "NAME" or len(names) != len(units):
        raise ValueError(f"{path}: not a .daa header: {lines[0]!r}")
    for col, unit in zip(names[1:], units[1:], strict=True):
        if DAA_UNITS.get(col) != unit:
            raise ValueError(f"{path}: column {col} in {unit}, expected {DAA_UNITS.get(col)}")
    idx = {c: i for i, c in enumerate(names)}
    out = []
    for ln in lines[2:]:
        f = [x.strip() for x in ln.split(",")]
        out.append(
            DaaState(f[0], *(float(f[idx[c]]) for c in ("lat", "lon", "alt", "trk", "gs", "vs", "time")))
        )
    return out


def read_daidalus(path: Path) -> list[dict[str, str]]:
    """Rows of a scenario's ``daidalus.csv`` as dicts (values as written; empty = not given)."""
    with path.open(encoding="ascii", newline="") as f:
        rows = list(csv.DictReader(f))
    if rows and tuple(rows[0]) != DAIDALUS_COLUMNS:
        raise ValueError(f"{path}: unexpected columns {tuple(rows[0])}")
    return rows


def level_series(
    rows: Iterable[Mapping[str, str]], traffic: str, column: str = "level"
) -> list[tuple[float, int]]:
    """(time, level) of one intruder, in time order."""
    return sorted((float(r["time_s"]), int(r[column])) for r in rows if r["traffic"] == traffic)


def onsets(series: Iterable[tuple[float, int]]) -> dict[int, float | None]:
    """First time the level is at or above 1, 2, 3 (None when never)."""
    out: dict[int, float | None] = dict.fromkeys(LEVELS)
    for t, level in series:
        for lv in LEVELS:
            if level >= lv and out[lv] is None:
                out[lv] = t
    return out


KNOT = 1852.0 / 3600.0
"""Knot in m/s."""


def relative_state(o: DaaState, i: DaaState) -> tuple[float, float, float, float, float, float]:
    """The intruder relative to the ownship in the ownship's east/north/up frame (m, m/s):
    pe, pn, ve, vn, dz, dvz, by geographiclib's WGS-84 geodesic between them."""
    inv = Geodesic.WGS84.Inverse(o.lat, o.lon, i.lat, i.lon)
    az1 = math.radians(inv["azi1"])
    # The intruder's track carried into the ownship's frame along the geodesic between them.
    trk_i = math.radians(i.trk_deg - inv["azi2"] + inv["azi1"])
    trk_o = math.radians(o.trk_deg)
    return (
        inv["s12"] * math.sin(az1),
        inv["s12"] * math.cos(az1),
        i.gs_knot * KNOT * math.sin(trk_i) - o.gs_knot * KNOT * math.sin(trk_o),
        i.gs_knot * KNOT * math.cos(trk_i) - o.gs_knot * KNOT * math.cos(trk_o),
        i.alt_m - o.alt_m,
        i.vs_mps - o.vs_mps,
    )
