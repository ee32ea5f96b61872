"""The wiring tables in hardware/*.md say exactly what the firmware board profiles say."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from boards import NAMES

ROOT = Path(__file__).resolve().parents[2]
HW = ROOT / "hardware"
CHECKED_KEYS = ("gps_uart", "gps_baud", "gps_tx_pin", "gps_rx_pin", "buzzer_pin", "led_pin")


def wiring_table(name: str, folder: Path = HW) -> dict[str, int]:
    text = (folder / f"{name}.md").read_text()
    m = re.search(r"<!-- wiring:begin -->\n(.*?)<!-- wiring:end -->", text, re.S)
    assert m, f"hardware/{name}.md has no wiring table markers"
    rows = [ln for ln in m.group(1).strip().splitlines() if ln.startswith("|")]
    header = [c.strip() for c in rows[0].strip("|").split("|")]
    assert header[:2] == ["profile key", "value"]
    assert set(rows[1].replace("|", "").strip()) <= {"-", " "}
    table: dict[str, int] = {}
    for row in rows[2:]:
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        assert len(cells) == len(header), row
        key, value = cells[0], cells[1]
        assert key not in table, f"{key} twice in hardware/{name}.md"
        table[key] = int(value)
    return table


def profile(name: str) -> dict[str, object]:
    mod = __import__(f"boards.{name}", fromlist=["PROFILE"])
    prof = mod.PROFILE
    assert isinstance(prof, dict)
    return prof


@pytest.mark.parametrize("name", NAMES)
def test_wiring_table_matches_profile(name: str) -> None:
    table = wiring_table(name)
    prof = profile(name)
    assert prof["name"] == name
    assert {k: prof[k] for k in CHECKED_KEYS} == table


@pytest.mark.parametrize("name", NAMES)
def test_pins_distinct_and_plausible(name: str) -> None:
    prof = profile(name)
    pins = [prof[k] for k in ("gps_tx_pin", "gps_rx_pin", "buzzer_pin", "led_pin")]
    assert len(set(pins)) == 4
    assert all(isinstance(p, int) and 0 <= p <= 39 for p in pins)
    if prof["platform"] == "esp32":
        # GPIO34-39 are input-only on the ESP32: fine for RX, never for outputs
        assert all(int(str(prof[k])) < 34 for k in ("gps_tx_pin", "buzzer_pin", "led_pin"))


def test_every_profile_documented() -> None:
    docs = {p.stem for p in HW.glob("*.md")} - {"README"}
    assert docs == set(NAMES)
    fw_profiles = {p.stem for p in (ROOT / "firmware" / "boards").glob("*.py")} - {"__init__", "machinehw"}
    assert fw_profiles == set(NAMES)


def test_checker_catches_a_wrong_pin(tmp_path: Path) -> None:
    bad = (HW / "pico.md").read_text().replace("| led_pin | 15 |", "| led_pin | 14 |")
    (tmp_path / "pico.md").write_text(bad)
    table = wiring_table("pico", tmp_path)
    assert table["led_pin"] == 14
    prof = profile("pico")
    assert {k: prof[k] for k in CHECKED_KEYS} != table


@pytest.mark.parametrize("name", NAMES)
def test_buzzer_driven_through_a_transistor(name: str) -> None:
    """Issue 16 item 5: no buzzer straight on a GPIO; the driver's parts are in every BOM.

    Oracle: the driver drawn in hardware/README.md (NPN, 1 kOhm base, 10 kOhm pull-down,
    1N4148 across the buzzer), its currents worked out there from the GPIO's 3.3 V.
    """
    text = (HW / f"{name}.md").read_text()
    bom = text[text.index("## BOM") : text.index("## Wiring")]
    assert "NPN transistor" in bom and "1 kΩ (driver base)" in bom
    assert "10 kΩ (driver base to GND)" in bom and "1N4148" in bom
    assert "100 Ω (buzzer series)" not in text
    table = text[text.index("<!-- wiring:begin -->") : text.index("<!-- wiring:end -->")]
    assert "driver base via 1 kΩ" in table
    readme = (HW / "README.md").read_text()
    assert "Q1 NPN" in readme and "R1 1k" in readme and "D1 1N4148" in readme
    # the base current the README states follows from its own values
    assert round((3.3 - 0.7) / 1000 * 1000, 1) == 2.6 and "2.6 mA" in readme


def test_tbeam_revisions_documented() -> None:
    text = (HW / "tbeam.md").read_text()
    assert "v1.2" in text and "AXP2101" in text and "AXP192" in text
    for reg in ("0x28", "0x12 bit 3", "0x94", "0x90 bit 2", "0x4A", "0x03"):
        assert reg in text, reg
    assert "v1.2" in (HW / "README.md").read_text()
