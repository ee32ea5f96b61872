"""Raspberry Pi Pico / Pico W (RP2040) with a u-blox NEO-6M or NEO-M8N module on UART0."""

PROFILE = {
    "name": "pico",
    "title": "Raspberry Pi Pico / Pico W + u-blox NEO-6M/M8N",
    "platform": "rp2",
    "gps_uart": 0,
    "gps_baud": 9600,
    "gps_tx_pin": 0,  # GP0 (pin 1) = UART0 TX  -> GPS RX
    "gps_rx_pin": 1,  # GP1 (pin 2) = UART0 RX  <- GPS TX
    "buzzer_pin": 16,  # GP16 (pin 21), PWM 0A -> driver transistor base resistor
    "led_pin": 15,  # GP15 (pin 20) -> 330 ohm -> LED -> GND
    "led_active_low": False,
    "wdt_ms": 8000,  # RP2040 maximum is 8388 ms
    "park_timer": -1,  # rp2: virtual timer
}


def make_hardware():
    from boards.machinehw import make

    return make(PROFILE)
