"""atheris harness: host line framer, TAG blocks, NmeaIngest.feed and the firmware line framer.

Run through ``fuzz/run.py`` (seed corpus, time budget, RSS check), or by hand:
``python fuzz/fuzz_ingest.py -max_total_time=60 CORPUS_DIR``.
"""

from __future__ import annotations

from harness import main

if __name__ == "__main__":
    main("ingest")
