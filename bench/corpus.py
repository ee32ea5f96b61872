"""The ingest corpus: ≥ 1 M lines of a realistic receiver mix, generated once and cached.

40 receivers, GP and GN talkers alternating, each sending RMC, VTG, GGA, GSA and
GSV (several GSV per epoch) at 1, 1, 2, 5 or 10 Hz (a cycle over the receivers:
mostly slow handhelds and trackers, some fast ones), for 800 s of the ``many``
scenario, in one TAG-blocked multi-source recording (``sepmon.sim`` format).
"""

from __future__ import annotations

import itertools
from pathlib import Path

from common import OUT, log

VEHICLES = 40
RATES = (1.0, 1.0, 2.0, 5.0, 10.0)
DURATION_S = 800.0
SEED = 7
SENTENCES = ("RMC", "VTG", "GGA", "GSA", "GSV")
VERSION = 1  # bump when the recipe changes: the cache is keyed on it


def corpus_path() -> Path:
    """Path of the cached recording, generating it first if needed (~30 s)."""
    path = OUT / f"corpus-v{VERSION}-{VEHICLES}x{int(DURATION_S)}s-seed{SEED}.nmea"
    if path.exists():
        return path
    from sepmon.sim import simulate, write_recording

    OUT.mkdir(parents=True, exist_ok=True)
    log(f"generating {path.name} (cached for later runs) ...")
    rates = tuple(itertools.islice(itertools.cycle(RATES), VEHICLES))
    sim = simulate(
        "many",
        vehicles=VEHICLES,
        rates=rates,
        sentences=SENTENCES,
        talker="mixed",
        duration=DURATION_S,
        seed=SEED,
    )
    tmp = path.with_suffix(".tmp")
    write_recording(sim, tmp)
    tmp.rename(path)
    return path
