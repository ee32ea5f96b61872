"""Board profiles and the machine-backed hardware, under CPython with a fake ``machine`` module."""

from __future__ import annotations

import importlib
import io
import os
import sys
import types
from collections.abc import Iterator
from pathlib import Path
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
        self.timers: list[Any] = []
        timers = self.timers
        self.i2c_bus: Any = None
        machine = self

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

            def write(self, buf: bytes) -> int:
                log.append(("uart.write", bytes(buf)))
                return len(buf)

            def init(self, baudrate: int) -> None:
                log.append(("uart.init", baudrate))

        class PWM:
            def __init__(self, pin: Pin, freq: int, duty_u16: int) -> None:
                log.append(("pwm", pin.pin_id))
                self.f = freq
                self.d = duty_u16

            def freq(self, f: int) -> None:
                log.append(("pwm.freq", f))
                self.f = f

            def duty_u16(self, d: int) -> None:
                log.append(("pwm.duty", d))
                self.d = d

        class WDT:
            def __init__(self, timeout: int) -> None:
                log.append(("wdt", timeout))

            def feed(self) -> None:
                log.append(("wdt.feed",))

        class Timer:
            PERIODIC = 1

            def __init__(self, timer_id: int, **kw: Any) -> None:
                log.append(("timer", timer_id, kw["period"]))
                self.period = kw["period"]
                self.callback = kw["callback"]
                self.alive = True
                timers.append(self)

            def deinit(self) -> None:
                log.append(("timer.deinit",))
                self.alive = False

        class I2C:
            def __init__(self, i2c_id: int, scl: Pin, sda: Pin, freq: int) -> None:
                log.append(("i2c", i2c_id, sda.pin_id, scl.pin_id))
                if machine.i2c_bus is None:
                    raise OSError(19)
                self.bus = machine.i2c_bus

            def readfrom_mem(self, addr: int, reg: int, n: int) -> bytes:
                return bytes(self.bus.readfrom_mem(addr, reg, n))

            def writeto_mem(self, addr: int, reg: int, buf: bytes) -> None:
                self.bus.writeto_mem(addr, reg, buf)

        self.Pin, self.UART, self.PWM, self.WDT, self.Timer, self.I2C = Pin, UART, PWM, WDT, Timer, I2C
        self.unique_id = lambda: b"\xe6\x61\x41\x03"
        self.idle = lambda: None
        self.clock = 0  # time.ticks_ms()

    def run_timers(self, ms: int, every: int = 10) -> list[tuple[int, int, int]]:
        """Advance the clock by ``ms``, firing live timers on their period: (t, buzzer Hz or 0, LED)."""
        out = []
        pwm_led = [0, 0]
        due = {id(t): self.clock + t.period for t in self.timers}
        end = self.clock + ms
        while self.clock < end:
            self.clock += every
            for t in list(self.timers):
                if t.alive and self.clock >= due[id(t)]:
                    due[id(t)] += t.period
                    t.callback(t)
            for e in reversed(self.log):
                if e[0] == "pwm.duty":
                    pwm_led[0] = e[1]
                    break
            for e in reversed(self.log):
                if e[0] == "pin.value":
                    pwm_led[1] = e[2]
                    break
            freq = next((e[1] for e in reversed(self.log) if e[0] == "pwm.freq"), 0)
            out.append((self.clock, freq if pwm_led[0] else 0, pwm_led[1]))
        return out


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
    import boards

    monkeypatch.delattr(boards, "machinehw", raising=False)  # fresh module state (one boot) per test
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
    monkeypatch.setattr(time, "ticks_ms", lambda: fake.clock, raising=False)
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


def feeds(machine: FakeMachine) -> int:
    return sum(1 for e in machine.log if e[0] == "wdt.feed")


def test_park_shows_offline_until_the_loop_runs(machine: FakeMachine) -> None:
    """Issue 16 item 2: a stopped board is never silent and dark.

    Oracle: the offline pattern as docs/firmware.md specifies it (tone 0.5 s on,
    2.5 s off; LED double flash, 100 ms on / 100 ms off / 100 ms on, every 3 s), and the
    hardware watchdog's rule: fed at least once per timeout (8 s) or the board resets.
    """
    from boards import esp32_devkit, machinehw

    hw = esp32_devkit.make_hardware()
    hw.wdt_feed()  # the loop ran
    hw.park()  # ... and stopped (Ctrl-C)
    assert ("timer", 0, machinehw.PARK_PERIOD_MS) in machine.log
    f0 = feeds(machine)
    trace = machine.run_timers(6000)
    tone_ms = [t for t, f, _ in trace if f]
    assert {f for _, f, _ in trace if f} == {2400}
    # two 0.5 s tones in 6 s (at 0 and 3 s), to within the 50 ms timer period
    assert 900 <= len(tone_ms) * 10 <= 1100
    assert any(t < 600 for t in tone_ms) and any(3000 <= t < 3600 for t in tone_ms)
    led_on = [t for t, _, led in trace if led]
    assert 300 <= len(led_on) * 10 <= 500  # 2 x 100 ms of LED per 3 s, over 6 s
    rises = [trace[i][0] for i in range(1, len(trace)) if trace[i][2] and not trace[i - 1][2]]
    assert len([t for t in rises if t < 3000]) == 2 - (1 if trace[0][2] else 0)  # a double flash
    assert feeds(machine) - f0 >= 6000 // 1000  # far more often than the 8 s timeout
    # the loop runs again: its first watchdog feed stops the park timer
    hw.wdt_feed()
    assert machine.timers[-1].alive is False
    before = len(machine.log)
    machine.run_timers(1000)
    assert not any(e[0] in ("pwm.freq", "pwm.duty", "pin.value") for e in machine.log[before:])


def test_park_starts_the_watchdog_it_feeds(machine: FakeMachine) -> None:
    """After a soft reset the firmware cannot know whether the watchdog runs: boot.py's park starts it."""
    from boards import machinehw, pico

    machinehw.park(pico.PROFILE)
    assert ("wdt", 8000) in machine.log and ("timer", -1, machinehw.PARK_PERIOD_MS) in machine.log
    hw = pico.make_hardware()  # main.py: same pins, same watchdog
    assert sum(1 for e in machine.log if e[0] == "pwm") == 1
    hw.wdt_feed()
    assert sum(1 for e in machine.log if e[0] == "wdt") == 1
    assert not machine.timers[-1].alive


def run_script(name: str, machine: FakeMachine, monkeypatch: pytest.MonkeyPatch, profile: str) -> str:
    """Run firmware/<name> as the board would, with board_profile.PROFILE = profile; its stdout."""
    import runpy

    bp = types.ModuleType("board_profile")
    bp.PROFILE = profile  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "board_profile", bp)
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    out.buffer = Out()  # type: ignore[attr-defined]
    runpy.run_path(str(FIRMWARE / name), run_name="__main__")
    return out.getvalue()


FIRMWARE = Path(__file__).resolve().parents[2] / "firmware"


@pytest.mark.parametrize("stop", [KeyboardInterrupt, SystemExit, MemoryError])
def test_main_parks_whatever_stops_the_loop(
    stop: type[BaseException], machine: FakeMachine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C (KeyboardInterrupt), sys.exit, or an error escaping the loop: the board parks."""
    from sepmon_fw import app

    calls = [0]
    real_step = app.Board.step

    def step(self: Any, now: int) -> None:
        calls[0] += 1
        if calls[0] == 50:
            raise stop()
        real_step(self, now)

    monkeypatch.setattr(app.Board, "step", step)
    if stop is MemoryError:  # Board.step catches Exception; make it escape from the loop itself
        monkeypatch.setattr(app.Board, "step", lambda self, now: (_ for _ in ()).throw(MemoryError()))
    text = run_script("main.py", machine, monkeypatch, "esp32_devkit")
    assert "sepmon: stopped" in text
    assert machine.timers and machine.timers[-1].alive  # parked: offline pattern from the timer
    trace = machine.run_timers(3000)
    assert any(f == 2400 for _, f, _ in trace) and any(led for _, _, led in trace)


def test_boot_parks_and_main_takes_over(machine: FakeMachine, monkeypatch: pytest.MonkeyPatch) -> None:
    """boot.py runs on every (soft) reset: parked from the start, until main.py's loop feeds the watchdog."""
    run_script("boot.py", machine, monkeypatch, "pico")
    assert machine.timers[-1].alive and ("wdt", 8000) in machine.log
    trace = machine.run_timers(1000)
    assert any(f == 2400 for _, f, _ in trace)
    from boards import pico

    hw = pico.make_hardware()
    hw.wdt_feed()
    assert not machine.timers[-1].alive


def test_tbeam_switches_the_gps_on(machine: FakeMachine, capsys: pytest.CaptureFixture[str]) -> None:
    """Through the real machine.I2C path: the writes of a T-Beam v1.1 (AXP192) at boot.

    Oracle: XPowersLib's AXP192 register map (chip ID 0x03 at register 0x03, LDO3
    voltage 0x28 bits 3:0 = (3300 - 1800) / 100 = 0xF, enable 0x12 bit 3).
    """
    import scenarios

    from boards import tbeam

    machine.i2c_bus = scenarios.AxpBus(0x03, {0x12: 0x03, 0x28: 0x00})
    tbeam.make_hardware()
    assert ("i2c", 0, 21, 22) in machine.log
    assert machine.i2c_bus.writes == [[0x28, 0x0F], [0x12, 0x0B]]
    assert "power chip axp192, GPS rail on at 3.3 V" in capsys.readouterr().out


def test_tbeam_without_power_chip_still_runs(
    machine: FakeMachine, capsys: pytest.CaptureFixture[str]
) -> None:
    from boards import tbeam

    hw = tbeam.make_hardware()  # nothing answers on I2C
    assert "no power chip answered" in capsys.readouterr().out
    assert hw.uart_read(bytearray(4)) == 0


def test_receiver_setup_goes_out_on_the_gps_uart(machine: FakeMachine) -> None:
    from boards import tbeam
    from sepmon_fw.app import Board

    machine.i2c_bus = None
    hw = tbeam.make_hardware()
    b = Board(hw, "tbeam", gnss="ublox-airborne-5hz")
    for t in range(0, 3000, 10):
        b.step(t)
    writes = [e for e in machine.log if e[0] in ("uart.write", "uart.init")]
    assert [e[1] for e in writes if e[0] == "uart.init"] == [38400, 115200, 38400]
    assert sum(1 for e in writes if e[0] == "uart.write") == 11
    assert writes[0] == ("uart.write", writes[0][1]) and writes[0][1][:4] == b"\xb5\x62\x06\x00"
