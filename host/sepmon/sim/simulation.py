"""One simulation run: parameters → truth → receiver lines of every vehicle, merged."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sepmon.sim.params import FaultModel, Params, SimulationError
from sepmon.sim.receiver import Line, receive
from sepmon.sim.scenarios import Cpa, Truth, build_tracks, epoch_grid


@dataclass(frozen=True)
class Simulation:
    """The result of :func:`simulate`: ground truth plus every line every receiver sent.

    ``records`` are merged in receive-time order (ties broken by vehicle
    order); ``cpa`` is the closest approach of the primary pair (alpha/bravo),
    or for ``many`` the closest of all pairs.
    """

    scenario: str
    params: Params
    truth: Truth
    cpa: Cpa
    records: tuple[Line, ...]
    rates: dict[str, float]

    @property
    def sources(self) -> tuple[str, ...]:
        """Vehicle (source) names in scenario order."""
        return self.truth.sources

    @property
    def lines(self) -> Iterator[tuple[float, str, bytes]]:
        """(rx_t, source, line bytes with CRLF) in receive-time order."""
        return ((r.rx_t, r.source, r.data) for r in self.records)

    @property
    def start(self) -> float:
        """Start of the simulated window, unix s."""
        return self.truth.t0

    @property
    def duration(self) -> float:
        """Length of the simulated window, s."""
        return self.truth.duration

    def summary(self) -> str:
        """One line: vehicles, lines, duration and the true closest approach."""
        c = self.cpa
        when = datetime.fromtimestamp(c.t, UTC).strftime("%H:%M:%S.%f")[:-4]
        return (
            f"{self.scenario}: {len(self.sources)} vehicles, {len(self.records)} lines, "
            f"{self.duration:g} s; true CPA {c.a}/{c.b} at +{c.t_rel:.2f} s ({when}Z): "
            f"{c.horizontal_m:.1f} m horizontal, {c.vertical_m:.1f} m vertical"
        )


def _coerce(params: dict[str, Any]) -> Params:
    unknown = sorted(set(params) - Params.names())
    if unknown:
        raise SimulationError(f"unknown simulation parameter {unknown[0]!r}")
    kw = dict(params)
    faults = kw.get("faults")
    if faults is True:
        kw["faults"] = FaultModel()
    elif faults is False:
        kw["faults"] = None
    elif faults is not None and not isinstance(faults, FaultModel):
        raise SimulationError("faults must be True, False, None or a FaultModel")
    start = kw.get("start")
    if isinstance(start, str):
        kw["start"] = parse_start(start)
    for name in ("rates", "sentences"):
        value = kw.get(name)
        if isinstance(value, str):
            kw[name] = tuple(x.strip() for x in value.split(",") if x.strip())
        elif isinstance(value, Sequence):
            kw[name] = tuple(value)
    p = Params(**kw)
    p.validate()
    return p


def parse_start(text: str) -> datetime:
    """ISO 8601 start time; a time without zone is UTC, ``Z`` is accepted."""
    try:
        dt = datetime.fromisoformat(text.strip().replace("z", "Z"))
    except ValueError:
        raise SimulationError(
            f"start must be an ISO 8601 time like 2024-03-15T23:59:30Z, got {text!r}"
        ) from None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def simulate(scenario: str, **params: Any) -> Simulation:
    """Generate ``scenario`` with :class:`~sepmon.sim.params.Params` keyword arguments."""
    p = _coerce(params)
    tracks, duration, primary = build_tracks(scenario, p)
    t0 = p.start.timestamp()
    if p.rates and len(p.rates) != len(tracks):
        raise SimulationError(f"rates gives {len(p.rates)} values for {len(tracks)} vehicles")
    rates = {tr.source: (p.rates[i] if p.rates else p.rate) for i, tr in enumerate(tracks)}
    epochs = {tr.source: epoch_grid(t0, duration, rates[tr.source]) for tr in tracks}
    truth = Truth(p.lat, p.lon, t0, duration, tuple(tracks), epochs)
    talkers = {
        tr.source: (("GP", "GN")[i % 2] if p.talker == "mixed" else p.talker) for i, tr in enumerate(tracks)
    }
    order = {tr.source: i for i, tr in enumerate(tracks)}
    records: list[Line] = []
    for i, tr in enumerate(tracks):
        records += receive(truth, tr.source, i, p, rates[tr.source], talkers[tr.source])
    records.sort(key=lambda r: (r.rx_t, order[r.source]))  # stable: per-source order is kept
    cpa = truth.cpa(*primary) if primary else truth.pairs()[0]
    return Simulation(scenario, p, truth, cpa, tuple(records), rates)
