"""Board profiles and the machine-backed hardware, under CPython with a fake ``machine`` module."""

from __future__ import annotations

import importlib
import io
import os
import sys
import types
from collections.abc import Iterator
from typing import Any

import pytest

from boards import NAMES


class FakeMachine(types.ModuleType):
    def __init__(self) -> None:
        super().__init__("machine")
        log: list[tuple[Any, ...]] = []
        self.log = log
        self.rx = bytearray()
        rx = self.rx

        class Pin:
            OUT = 1

            def __init__(self, pin_id: int, mode: int = -1, value: int | None = None) -> None:
                self.pin_id = pin_id
                log.append(("pin", pin_id, mode))

            def value(self, v: int) -> None:
                log.append(("pin.value", self.pin_id, v))

        class UART:
            def __init__(self, uart_id: int, **kw: Any) -> None:
                log.append(("uart", uart_id, kw["baudrate"], kw["tx"].pin_id, kw["rx"].pin_id))

            def any(self) -> int:
                return len(rx)

            def readinto(self, buf: bytearray, n: int) -> int:
                buf[:n] = rx[:n]
                del rx[:n]
                return n

        class PWM:
            def __init__(self, pin: Pin, freq: int, duty_u16: int) -> None:
                log.append(("pwm", pin.pin_id))

            def freq(self, f: int) -> None:
                log.append(("pwm.freq", f))

            def duty_u16(self, d: int) -> None:
                log.append(("pwm.duty", d))

        class WDT:
            def __init__(self, timeout: int) -> None:
                log.append(("wdt", timeout))

            def feed(self) -> None:
                log.append(("wdt.feed",))

        class Timer:
            PERIODIC = 1

            def __init__(self, timer_id: int, **kw: Any) -> None:
                log.append(("timer", timer_id, kw["period"]))

        self.Pin, self.UART, self.PWM, self.WDT, self.Timer = Pin, UART, PWM, WDT, Timer
        self.unique_id = lambda: b"\xe6\x61\x41\x03"
        self.idle = lambda: None


class Stdio:
    """sys.stdin/sys.stdout stand-ins with .buffer and a real fd (select.poll needs one)."""

    def __init__(self) -> None:
        self.r, self.w = os.pipe()
        self.buffer = io.FileIO(self.r, "rb", closefd=False)

    def fileno(self) -> int:
        return self.r


class Out:
    def __init__(self) -> None:
        self.data = bytearray()
        self.buffer = self

    def write(self, buf: bytes, n: int | None = None) -> int:
        chunk = bytes(buf[:n] if n is not None else buf)
        self.data += chunk
        return len(chunk)


@pytest.fixture
def machine(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeMachine]:
    fake = FakeMachine()
    monkeypatch.setitem(sys.modules, "machine", fake)
    monkeypatch.delitem(sys.modules, "boards.machinehw", raising=False)
    stdin = Stdio()
    monkeypatch.setattr(sys, "stdin", stdin)
    import gc
    import select
    import time

    real_poll = select.poll

    class Poll:  # CPython's poll has no ipoll (MicroPython's allocation-free variant)
        def __init__(self) -> None:
            self.p = real_poll()

        def register(self, f: Any, mask: int) -> None:
            self.p.register(f, mask)

        def ipoll(self, timeout: int) -> list[tuple[int, int]]:
            return self.p.poll(timeout)

    monkeypatch.setattr(select, "poll", Poll)
    monkeypatch.setattr(time, "ticks_ms", lambda: 0, raising=False)
    monkeypatch.setattr(gc, "mem_free", lambda: 4242, raising=False)
    yield fake
    os.close(stdin.r)
    os.close(stdin.w)


@pytest.mark.parametrize("name", NAMES)
def test_profile_builds_hardware_on_its_pins(name: str, machine: FakeMachine) -> None:
    prof = importlib.import_module(f"boards.{name}")
    p = prof.PROFILE
    hw = prof.make_hardware()
    assert ("uart", p["gps_uart"], p["gps_baud"], p["gps_tx_pin"], p["gps_rx_pin"]) in machine.log
    assert ("pwm", p["buzzer_pin"]) in machine.log
    assert ("pin", p["led_pin"], 1) in machine.log
    machine.log.clear()
    hw.buzzer(2000, 32768)
    hw.buzzer(0, 0)
    hw.led(True)
    assert machine.log == [
        ("pwm.freq", 2000),
        ("pwm.duty", 32768),
        ("pwm.duty", 0),
        ("pin.value", p["led_pin"], 1),
    ]
    assert hw.board_id() == "e6614103"
    assert hw.mem_free() == 4242


def test_io_paths(machine: FakeMachine, monkeypatch: pytest.MonkeyPatch) -> None:
    from boards import pico

    out = Out()
    monkeypatch.setattr(sys, "stdout", out)  # here: pytest's capture re-sets sys.stdout per phase
    hw = pico.make_hardware()
    buf = bytearray(8)
    assert hw.uart_read(buf) == 0
    machine.rx += b"$GPGGA,1,2,3\r\n"
    assert hw.uart_read(buf) == 8 and bytes(buf) == b"$GPGGA,1"
    assert hw.uart_read(buf) == 6
    assert hw.usb_read(buf) == 0
    os.write(sys.stdin.w, b"$PSEPT,all*00\r\n")  # type: ignore[attr-defined]
    got = bytearray()
    for _ in range(4):
        n = hw.usb_read(buf)
        got += buf[:n]
    assert bytes(got) == b"$PSEPT,all*00\r\n"
    assert hw.usb_write(bytearray(b"hello world"), 5) == 5
    assert out.data == b"hello"


def test_watchdog_started_on_first_feed_and_parked(machine: FakeMachine) -> None:
    from boards import esp32_devkit

    hw = esp32_devkit.make_hardware()
    hw.park()
    assert not any(e[0] in ("wdt", "timer") for e in machine.log)  # never started: nothing to park
    hw.wdt_feed()
    hw.wdt_feed()
    assert [e for e in machine.log if e[0].startswith("wdt")] == [("wdt", 8000), ("wdt.feed",), ("wdt.feed",)]
    hw.park()
    assert ("timer", 0, 1000) in machine.log
