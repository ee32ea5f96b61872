"""The real-receiver suite of ``sepmon check`` (tests/data/check/real/), from gpsd's reports.

For every log of the real-receiver corpus (tests/data/real/) one stand-alone expectation
file names the log and says what a single receiver's log can promise:

- ``fixes``: exactly the fixes gpsd 3.22 reported for it (its timed epochs plus the
  positions it reported without a time, tests/data/real/expected/NAME.json), corrected
  by the differences the corpus MANIFEST lists and explains (epochs gpsd has and sepmon
  rightly lacks, and the reverse);
- ``first_fix_by``: gpsd's first timed fix in the log (its 1024-week shift of pre-2017 dates
  undone, as tests/host/gpsd_oracle.py does): sepmon's first fix comes then or earlier
  (earlier where gpsd held a position until a date arrived, or left the first cycle out);
- no traceback, no data loss.

The oracle is gpsd, a program we did not write; the numbers are taken from its stored
reports, never from sepmon.  ``test_suites.py`` holds the files to this; run this module
to write them again::

    .venv/bin/python tests/check/real_suite.py
"""

from __future__ import annotations

import json
import sys
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CORPUS = HERE.parent / "data" / "real"
SUITE = HERE.parent / "data" / "check" / "real"
NO_CHECKSUM = "nochecksum.toml"  # [ingest] require_checksum = false, for logs without checksums

sys.path.insert(0, str(HERE.parent / "host"))
from gpsd_oracle import receiver_time  # noqa: E402  (the corpus oracle's own date rule)

MANIFEST: dict[str, dict[str, Any]] = {
    f["name"]: f for f in tomllib.loads((CORPUS / "MANIFEST.toml").read_text(encoding="utf-8"))["file"]
}


def oracle(name: str) -> dict[str, Any]:
    """What gpsd's stored reports say of corpus log ``name``: fix count and first timed fix."""
    expected = json.loads((CORPUS / "expected" / (Path(name).stem + ".json")).read_text(encoding="utf-8"))
    diff = MANIFEST[name].get("differences", {})
    timed = [receiver_time(e["time"]) for e in expected["epochs"]]
    fixes = len(timed) + len(expected["untimed"]) - diff.get("missing", 0) - diff.get("untimed", 0)
    fixes += diff.get("extra", 0)
    return {
        "fixes": fixes,
        "first": timed[0] if timed else None,  # the first in the log (its time may step back)
        "epochs": len(timed),
        "untimed": len(expected["untimed"]),
        "diff": diff,
        "checksums": MANIFEST[name].get("require_checksum", True),
    }


def expectation_text(name: str) -> str:
    """The expectation file of corpus log ``name``."""
    o = oracle(name)
    stem = Path(name).stem
    diff = o["diff"]
    lines = [
        f"# sepmon check: the real receiver log {name} ({MANIFEST[name]['receiver']}), tests/data/real/.",
        f"# Oracle: gpsd 3.22's reports of the same log (tests/data/real/expected/{stem}.json):",
        f"# {o['epochs']} timed epochs + {o['untimed']} positions without a time"
        + (
            f"; MANIFEST differences: missing {diff.get('missing', 0)}, untimed {diff.get('untimed', 0)}, "
            f"extra {diff.get('extra', 0)}."
            if diff
            else "; no differences in the MANIFEST."
        ),
        "# Written by tests/check/real_suite.py; tests/check/test_suites.py holds it to gpsd's reports.",
        "",
        "[check]",
        f'recording = "../../real/{name}"',
    ]
    if not o["checksums"]:
        lines.append(f'config = "{NO_CHECKSUM}"')
    lines += ["", "[[source]]", f'source = "{stem}"', f"fixes = {o['fixes']}"]
    if o["first"] is not None:
        first = datetime.fromtimestamp(o["first"], UTC).isoformat(timespec="milliseconds")
        lines.append(f"first_fix_by = {first.replace('+00:00', 'Z')}")
    lines += ["", "[run]", "no_traceback = true", "no_data_loss = true", ""]
    return "\n".join(lines)


def main() -> int:
    SUITE.mkdir(parents=True, exist_ok=True)
    (SUITE / NO_CHECKSUM).write_text("[ingest]\nrequire_checksum = false\n", encoding="utf-8")
    for name in sorted(MANIFEST):
        (SUITE / (Path(name).stem + ".check.toml")).write_text(expectation_text(name), encoding="utf-8")
    print(f"wrote {len(MANIFEST)} expectation files in {SUITE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
