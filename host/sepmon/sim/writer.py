"""Recording files: NMEA 4.10 TAG-blocked multi-source text, or one plain file per source.

Multi-source line: ``\\c:<rx ms>,s:<source>*hh\\<line as received>`` where the
line as received ends in CRLF (``c:`` is unix time in integer milliseconds).
Per-source files hold the received lines only; the source is the file stem.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sepmon.core.tagblock import format_tag_block
from sepmon.sim.params import SimulationError

if TYPE_CHECKING:
    from sepmon.sim.simulation import Simulation


def recording_bytes(lines: Iterable[tuple[float, str, bytes]]) -> Iterator[bytes]:
    """Each (rx_t, source, data) as one TAG-blocked recording line."""
    for rx_t, source, data in lines:
        yield format_tag_block(source, rx_t).encode("ascii") + data


def write_recording(sim: Simulation, path: str | Path, per_source: bool = False) -> list[Path]:
    """Write ``sim`` to ``path``; return the files written.

    ``per_source=False``: one file, every vehicle's lines merged in receive-time
    order, each with a TAG block. ``per_source=True``: ``path`` is a directory
    (created if needed) holding ``<source>.nmea`` per vehicle, lines as received
    without TAG blocks.
    """
    out = Path(path)
    try:
        if not per_source:
            with out.open("wb") as f:
                f.writelines(recording_bytes(sim.lines))
            return [out]
        out.mkdir(parents=True, exist_ok=True)
        written = []
        for source in sim.sources:
            target = out / f"{source}.nmea"
            with target.open("wb") as f:
                f.writelines(line.data for line in sim.records if line.source == source)
            written.append(target)
        return written
    except OSError as exc:
        raise SimulationError(f"cannot write {out}: {exc.strerror or exc}") from None


TRUTH_COLUMNS = (
    "t",
    "utc",
    "source",
    "lat",
    "lon",
    "h_ellipsoid_m",
    "alt_msl_m",
    "ve_mps",
    "vn_mps",
    "vu_mps",
)


def write_truth_csv(sim: Simulation, path: str | Path) -> Path:
    """True state of every vehicle at each of its fix epochs, one CSV row each, in time order.

    Columns: ``t`` unix s, ``utc`` ISO 8601, ``source``, ``lat``/``lon`` degrees,
    ``h_ellipsoid_m``, ``alt_msl_m`` (= h − geoid separation, what GGA reports),
    ``ve_mps``/``vn_mps``/``vu_mps`` local east/north/up velocity.
    """
    rows: list[tuple[float, int, list[str]]] = []
    for i, source in enumerate(sim.sources):
        s = sim.truth.at_epochs(source)
        for k in range(len(s.t)):
            t = float(s.t[k])
            utc = datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
            h = float(s.h[k])
            row = [
                f"{t:.2f}",
                utc,
                source,
                f"{float(s.lat[k]):.9f}",
                f"{float(s.lon[k]):.9f}",
                f"{h:.3f}",
                f"{h - sim.params.geoid_sep:.3f}",
                f"{float(s.ve[k]):.3f}",
                f"{float(s.vn[k]):.3f}",
                f"{float(s.vu[k]):.3f}",
            ]
            rows.append((t, i, row))
    rows.sort(key=lambda r: (r[0], r[1]))
    out = Path(path)
    try:
        with out.open("w", newline="", encoding="ascii") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(TRUTH_COLUMNS)
            w.writerows(r[2] for r in rows)
    except OSError as exc:
        raise SimulationError(f"cannot write {out}: {exc.strerror or exc}") from None
    return out
