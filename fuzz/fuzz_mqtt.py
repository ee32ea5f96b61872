"""atheris harness: mqttcodec.decode_track / decode_status.

Run through ``fuzz/run.py`` (seed corpus, time budget, RSS check), or by hand:
``python fuzz/fuzz_mqtt.py -max_total_time=60 CORPUS_DIR``.
"""

from __future__ import annotations

from harness import main

if __name__ == "__main__":
    main("mqtt")
