"""``sepmon analyze`` over recordings of real receivers, against a real gpsd.

Oracle: gpsd 3.22 fed each file of tests/data/real/ by gpsfake (gpsd_oracle.py); its
reports are stored in tests/data/real/expected/ so this also runs where gpsd is
missing, and regenerated and compared with the stored ones where it is installed.
The recordings themselves come from the gpsd project's regression logs (Debian's gpsd
source package; tests/data/real/MANIFEST.toml names each receiver).  Where sepmon and
gpsd legitimately differ the MANIFEST says how many epochs and why, and exactly that
much difference is allowed.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from gpsd_oracle import (
    CORPUS,
    EXPECTED,
    Comparison,
    compare,
    corpus_files,
    dump,
    find_tools,
    receiver_time,
    run_oracle,
)

from sepmon.cli import main
from sepmon.sim import simulate, write_recording
from sepmon.sim.params import RECEIVERS

MANIFEST: dict[str, dict[str, Any]] = {
    f["name"]: f for f in tomllib.loads((CORPUS / "MANIFEST.toml").read_text(encoding="utf-8"))["file"]
}
FILES = [p.name for p in corpus_files()]


def analyze(name: str, tmp_path: Path) -> tuple[list[dict[str, str]], str]:
    """``sepmon analyze FILE --tracks OUT`` through the CLI entry point: (track rows, output)."""
    out = tmp_path / f"{name}.csv"
    argv = ["analyze", "-q", str(CORPUS / name), "--tracks", str(out)]
    if MANIFEST[name].get("require_checksum") is False:
        cfg = tmp_path / "nochecksum.toml"
        cfg.write_text("[ingest]\nrequire_checksum = false\n", encoding="utf-8")
        argv += ["--config", str(cfg)]
    text = io.StringIO()
    with contextlib.redirect_stdout(text):
        status = main(argv)
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert status == (0 if rows else 1), text.getvalue()
    return rows, text.getvalue()


@pytest.fixture(scope="module")
def results(
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, tuple[Comparison, list[dict[str, str]], str]]:
    tmp = tmp_path_factory.mktemp("real")
    got = {}
    for name in FILES:
        rows, text = analyze(name, tmp)
        expected = json.loads((EXPECTED / (Path(name).stem + ".json")).read_text(encoding="utf-8"))
        got[name] = (compare(expected, rows), rows, text)
    return got


def test_corpus_is_described_and_licensed() -> None:
    # At least 40 recordings of at least 10 vendors, each in the MANIFEST with its origin,
    # licence and gpsd's reports; the licence files beside them.
    assert len(FILES) >= 40
    assert set(FILES) == set(MANIFEST)
    assert len({f["vendor"] for f in MANIFEST.values()}) >= 10
    for name, entry in MANIFEST.items():
        assert entry["origin"] and entry["licence"] and entry["receiver"], name
        assert (EXPECTED / (Path(name).stem + ".json")).is_file(), name
    assert (CORPUS / "LICENSE.gpsd").is_file() and (CORPUS / "LICENSE.debian-copyright").is_file()
    assert sum(p.stat().st_size for p in CORPUS.rglob("*")) < 5_000_000


@pytest.mark.parametrize("name", FILES)
def test_file_agrees_with_gpsd(name: str, results: dict[str, tuple[Comparison, Any, str]]) -> None:
    c, rows, _ = results[name]
    allowed = MANIFEST[name].get("differences", {})
    assert len(c.missing) == allowed.get("missing", 0), (c.missing, allowed.get("reason"))
    assert len(c.extra) == allowed.get("extra", 0), (c.extra, allowed.get("reason"))
    assert c.untimed_left == allowed.get("untimed", 0), allowed.get("reason")
    assert c.bad_position == [] and c.bad_height == []
    assert len(rows) == c.matched + len(c.extra)  # every fix accounted for


def test_every_source_with_valid_epochs_yields_fixes(results: dict[str, tuple[Comparison, Any, str]]) -> None:
    assert [n for n, (c, rows, _) in results.items() if c.gpsd and not rows] == []


def test_corpus_fix_count_is_at_least_99_percent_of_gpsd(
    results: dict[str, tuple[Comparison, Any, str]],
) -> None:
    gpsd = sum(c.gpsd for c, _, _ in results.values())
    matched = sum(c.matched for c, _, _ in results.values())
    assert gpsd > 1000 and matched >= 0.99 * gpsd, (matched, gpsd)


def test_dates_say_where_they_came_from(results: dict[str, tuple[Comparison, Any, str]]) -> None:
    # GGA + ZDA receivers are dated by ZDA, a GLL-only one gets the relative time base,
    # and the summary says so (MANIFEST: hemi, mr-350p = ZDA only; sounder = no date).
    for name in ("hemi.log", "mr-350p.log"):
        assert "fixes: dates from ZDA" in results[name][2]
    assert "relative time base" in results["sounder.log"][2]
    first = float(results["sounder.log"][1][0]["t"])
    assert 0 <= first < 86400  # 16:43:26 on the arbitrary day shown as 1970-01-01
    assert first == 16 * 3600 + 43 * 60 + 26


@pytest.mark.timeout(600)
def test_stored_reports_are_what_gpsd_says_now() -> None:
    tools = find_tools()
    if tools is None:
        pytest.skip("gpsd/gpsfake not installed: the stored reports stand in for them")
    live = run_oracle(corpus_files(), *tools)
    differ = [
        n for n, r in live.items() if dump(r) != (EXPECTED / (Path(n).stem + ".json")).read_text("utf-8")
    ]
    assert differ == []
    assert Counter(r["gpsd"] for r in live.values()).most_common(1)[0][0]


@pytest.mark.timeout(300)
@pytest.mark.parametrize("receiver", ["ublox-m9", "quectel", "mtk", "gga-only"])
def test_simulated_receivers_agree_with_gpsd(receiver: str, tmp_path: Path) -> None:
    # The simulator's NMEA 4.10/4.11 dialects and per-vendor sentence sets, read by gpsd
    # and by sepmon: the same epochs, positions and heights.  (Not "septentrio": gpsd
    # 3.22 drops every GNS whose NMEA 4.10 navigational status is V, "not provided" --
    # drivers/driver_nmea0183.c, processGNS -- the bug sepmon had with RMC.)
    tools = find_tools()
    if tools is None:
        pytest.skip("gpsd/gpsfake not installed")
    dialect, talker, sentences = RECEIVERS[receiver]
    sim = simulate("crossing", duration=20, dialect=dialect, talker=talker, sentences=",".join(sentences))
    files = write_recording(sim, tmp_path / "rec", per_source=True)
    reports = run_oracle(files, *tools)
    for path in files:
        out = tmp_path / f"{path.stem}.csv"
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(["analyze", "-q", str(path), "--tracks", str(out)]) == 0
        c = compare(reports[path.name], list(csv.DictReader(out.open(encoding="utf-8"))), corpus=False)
        assert c.gpsd >= 20 and c.matched == c.gpsd, (receiver, path.name, c.missing)
        assert c.bad_position == [] and c.bad_height == []
        assert len(c.extra) <= 1  # gpsd's first reporting cycle, before it knows the cycle's end


def _gst_epochs(name: str) -> list[dict[str, Any]]:
    stored = json.loads((EXPECTED / (Path(name).stem + ".json")).read_text(encoding="utf-8"))
    return [e for e in stored["epochs"] if "gst" in e]


GST_FILES = [n for n in FILES if _gst_epochs(n)]


@pytest.mark.parametrize("name", GST_FILES)
def test_receivers_gst_gives_each_fix_its_error_estimate(name: str) -> None:
    # Oracles: gpsd 3.22's GST reports for the same log (its standard deviations of
    # latitude, longitude and altitude error, stored in expected/NAME.json as "gst"), and
    # scipy's distributions for the 95 % bounds: the horizontal radius of a circular normal
    # error holding 95 % is sqrt(chi2(2).ppf(0.95)) times the per-axis sigma (here the RMS
    # of the two), the vertical bound norm.ppf(0.975) times sigma.  gpsd's own TPV eph/epv
    # are not the oracle: gpsd 3.22 computes them from DOPs times its UERE constants and
    # never from GST (gpsd/libgpsd_core.c, gpsd_error_model; driver_nmea0183.c, processGST).
    from scipy.stats import chi2, norm

    from sepmon.core.ingest import NmeaIngest

    ing = NmeaIngest(Path(name).stem, require_checksum=MANIFEST[name].get("require_checksum", True))
    fixes = ing.feed((CORPUS / name).read_bytes()) + ing.flush()
    by_t = {round(f.t, 3): f for f in fixes}
    r95, z95 = math.sqrt(chi2.ppf(0.95, 2)), norm.ppf(0.975)
    checked = with_eph = 0
    for e in _gst_epochs(name):
        fix = by_t.get(round(receiver_time(e["time"]), 3))
        if fix is None:
            continue  # an epoch sepmon does not have (the MANIFEST's differences)
        lat, lon, alt = e["gst"]
        want_eph = r95 * math.sqrt((lat**2 + lon**2) / 2) if lat and lon else None
        want_epv = z95 * alt if alt else None
        assert fix.eph_m == (pytest.approx(want_eph, rel=1e-9) if want_eph else None), e["time"]
        assert fix.epv_m == (pytest.approx(want_epv, rel=1e-9) if want_epv else None), e["time"]
        checked += 1
        with_eph += fix.eph_m is not None
    assert checked >= 0.9 * len(_gst_epochs(name)) and with_eph >= 1
