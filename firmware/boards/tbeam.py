"""LilyGO TTGO T-Beam v1.0/v1.1 (AXP192) and v1.2 (AXP2101): ESP32 + on-board u-blox NEO-6M/M8N.

The on-board GPS is wired to GPIO34 (ESP32 RX <- GPS TX) and GPIO12 (ESP32 TX
-> GPS RX) at 9600 baud on all three revisions. (T-Beam v0.7 used GPIO12/15 and
is not supported by this profile.) GPIO34 is input-only, which is fine for RX.
The GPS is powered by the power chip on I2C (SDA 21, SCL 22, address 0x34):
``pmu_i2c`` makes the firmware find it by its chip ID and switch the GPS rail on
at boot (``sepmon_fw.pmu``). The buzzer and LED are external, on header pins not
used by the LoRa radio, the power chip (I2C 21/22) or the user button (38).
``gps_setup``: the module is known to be u-blox, so the board sets it to NMEA at
9600 baud with GGA/RMC/GSA only, which also recovers a module that other firmware
(e.g. Meshtastic) left in UBX-only output.
"""

PROFILE = {
    "name": "tbeam",
    "title": "LilyGO T-Beam v1.0/v1.1 (AXP192) / v1.2 (AXP2101), on-board GPS",
    "platform": "esp32",
    "gps_uart": 1,
    "gps_baud": 9600,
    "gps_tx_pin": 12,  # GPIO12 -> on-board GPS RX
    "gps_rx_pin": 34,  # GPIO34 <- on-board GPS TX
    "buzzer_pin": 25,  # GPIO25 (header), LEDC PWM -> driver transistor base resistor
    "led_pin": 14,  # GPIO14 (header) -> 330 ohm -> LED -> GND
    "led_active_low": False,
    "wdt_ms": 8000,
    "park_timer": 0,
    "pmu_i2c": (0, 21, 22),  # I2C id, SDA, SCL of the power chip
    "gps_setup": "ublox",
}


def make_hardware():
    from boards.machinehw import make

    return make(PROFILE)
