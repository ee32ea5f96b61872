"""atheris harness: load_config on raw TOML text, parse_config + parse_sources on built tables.

Run through ``fuzz/run.py`` (seed corpus, time budget, RSS check), or by hand:
``python fuzz/fuzz_config.py -max_total_time=60 CORPUS_DIR``.
"""

from __future__ import annotations

from harness import main

if __name__ == "__main__":
    main("config")
