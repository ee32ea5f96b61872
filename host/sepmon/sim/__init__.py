r"""Encounter simulator: NMEA recordings of generated encounters, with their ground truth.

Python API::

    from sepmon.sim import simulate, write_recording, write_truth_csv

    sim = simulate("head-on", seed=1, rate=5, miss=100.0, faults=True)
    sim.cpa                      # Cpa(a, b, t, t_rel, horizontal_m, vertical_m); .slant_m
    sim.truth.sample("alpha", t) # TruthSamples: t, lat, lon, h (ellipsoid), ve, vn, vu, .speed, .course
    sim.truth.at_epochs("bravo") # the same at that receiver's fix times
    sim.truth.pairs()            # Cpa of every pair, closest first
    sim.truth.first_violation("alpha", "bravo", 3000.0, 300.0)  # unix s or None
    for rx_t, source, data in sim.lines: ...   # data: bytes as received, CRLF-terminated
    sim.records                  # Line(rx_t, source, data, fix_t, fault) in receive order
    write_recording(sim, "out.nmea")                   # one TAG-blocked multi-source file
    write_recording(sim, "outdir", per_source=True)    # outdir/<source>.nmea, no TAG blocks
    write_truth_csv(sim, "truth.csv")

``simulate(scenario, **params)`` takes the fields of :class:`Params` as
keywords (``seed``, ``start`` (datetime or ISO string), ``lat``, ``lon``,
``alt``, ``heading``, ``speed``, ``separation``, ``miss``, ``vertical``,
``duration``, ``cpa_time``, ``bystander``, ``vehicles``, ``rate``, ``rates``,
``hdop``, ``noise_scale``, ``talker``, ``sentences``, ``dialect``, ``faults`` (bool or
:class:`FaultModel`), ``geoid_sep``, ``latency_s``, ``baud``) and raises
:class:`SimulationError` (a ``SepmonError``, status 2) for a bad value.

Scenarios (vehicle ``alpha`` at ``speed`` on ``heading``, intruder ``bravo``):
``head-on``, ``crossing`` (bravo from alpha's left at 90°), ``overtaking``
(alpha ahead at 0.6 × speed, bravo overtakes at ``speed``), ``climbing``
(crossing, bravo starts ``vertical`` below and reaches alpha's level at the
CPA), ``parallel`` (same velocity, ``separation`` abeam, never closes; at
``speed=0`` two parked vehicles),
``many`` (``vehicles`` named v01.. converging on the origin area at random,
about 15 % standing still, heights spread ± ``vertical``, default 300 m).
``bystander=True`` adds a parked vehicle 15 km away. The encounter
scenarios pass at ``miss`` metres horizontally after ``cpa_time`` seconds, or
after the time the closing speed needs from ``separation``; the run lasts
twice that unless ``duration`` is given. Same parameters (seed included) →
identical bytes; the seed drives the noise and faults (and the layout of
``many``), the geometry of the other scenarios comes from the parameters alone.

Recording format (multi-source): one line per received line,
``\c:<unix ms>,s:<source>*hh\$GPGGA,...*hh\r\n`` (TAG checksum over
``s:...,c:...``), merged in receive-time order. Faulty lines (``--faults``)
keep the TAG block; what follows it is the damaged line or the binary garbage.
"""

from sepmon.sim.params import DEFAULT_START, SCENARIOS, FaultModel, Params, SimulationError
from sepmon.sim.receiver import Line
from sepmon.sim.scenarios import Cpa, Trajectory, Truth, TruthSamples
from sepmon.sim.simulation import Simulation, parse_start, simulate
from sepmon.sim.writer import recording_bytes, write_recording, write_truth_csv

__all__ = [
    "DEFAULT_START",
    "SCENARIOS",
    "Cpa",
    "FaultModel",
    "Line",
    "Params",
    "Simulation",
    "SimulationError",
    "Trajectory",
    "Truth",
    "TruthSamples",
    "parse_start",
    "recording_bytes",
    "simulate",
    "write_recording",
    "write_truth_csv",
]
