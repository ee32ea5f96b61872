"""LilyGO TTGO T-Beam v1.0/v1.1 (ESP32 + on-board u-blox NEO-6M/M8N, AXP192 power chip).

The on-board GPS is wired to GPIO34 (ESP32 RX <- GPS TX) and GPIO12 (ESP32 TX
-> GPS RX) at 9600 baud. (T-Beam v0.7 used GPIO12/15 and is not supported by
this profile.) GPIO34 is input-only, which is fine for RX. The buzzer and LED
are external, on header pins not used by the LoRa radio, the AXP192 (I2C 21/22)
or the user button (38).
"""

PROFILE = {
    "name": "tbeam",
    "title": "LilyGO T-Beam v1.0/v1.1 (on-board GPS)",
    "platform": "esp32",
    "gps_uart": 1,
    "gps_baud": 9600,
    "gps_tx_pin": 12,  # GPIO12 -> on-board GPS RX
    "gps_rx_pin": 34,  # GPIO34 <- on-board GPS TX
    "buzzer_pin": 25,  # GPIO25 (header), LEDC PWM
    "led_pin": 14,  # GPIO14 (header) -> 330 ohm -> LED -> GND
    "led_active_low": False,
    "wdt_ms": 8000,
    "park_timer": 0,
}


def make_hardware():
    from boards.machinehw import make

    return make(PROFILE)
