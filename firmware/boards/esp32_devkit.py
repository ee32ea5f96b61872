"""Generic ESP32 DevKit (ESP32-WROOM-32, 30/38 pin) with a u-blox NEO-6M or NEO-M8N module on UART2."""

PROFILE = {
    "name": "esp32_devkit",
    "title": "ESP32 DevKit + u-blox NEO-6M/M8N",
    "platform": "esp32",
    "gps_uart": 2,
    "gps_baud": 9600,
    "gps_tx_pin": 17,  # GPIO17 = U2TXD -> GPS RX
    "gps_rx_pin": 16,  # GPIO16 = U2RXD <- GPS TX
    "buzzer_pin": 25,  # GPIO25, LEDC PWM -> driver transistor base resistor
    "led_pin": 27,  # GPIO27 -> 330 ohm -> LED -> GND
    "led_active_low": False,
    "wdt_ms": 8000,
    "park_timer": 0,  # esp32: hardware timer 0
}


def make_hardware():
    from boards.machinehw import make

    return make(PROFILE)
