"""The main loop under CPython with fake UART/USB/pins/PWM/clock."""

from __future__ import annotations

import pytest
from fwtest import GGA, RMC, Rig, nmea

from sepmon_fw import app
from sepmon_fw.patterns import ORDER, PATTERNS


def sentences(out: bytes, tag: bytes) -> list[bytes]:
    return [ln for ln in out.split(b"\r\n") if ln.startswith(b"$" + tag)]


def test_identity_at_boot_then_every_10_s(rig: Rig) -> None:
    first = rig.step(0)
    assert first.startswith(nmea("PSEPI,1,e6614103e7,0.1.0,pico"))
    out = rig.run(35_000, every_ms=50)
    assert len(sentences(out, b"PSEPI")) == 3  # at 10, 20, 30 s


def test_status_every_second_with_counters(rig: Rig) -> None:
    rig.step(0)
    rig.hw.gps_in(GGA + b"$GPGGA,broken*00\r\n" + RMC)
    out = rig.run(5_000, every_ms=20)
    st = sentences(out, b"PSEPS")
    assert len(st) == 5
    fields = st[0].split(b"*")[0].split(b",")
    assert fields[0] == b"$PSEPS"
    uptime, fwd, dropped, silent, mem = (int(f) for f in fields[1:])
    assert uptime == 1000
    assert (fwd, dropped) == (2, 1)
    assert 900 <= silent <= 1000
    assert mem == 123456
    assert all(ln == nmea(ln[1:].split(b"*")[0].decode())[:-2] for ln in st)  # checksums right


def test_gps_lines_forwarded_unchanged(rig: Rig) -> None:
    rig.step(0)
    rig.hw.gps_in(GGA + RMC + b"\x00\x00" + b"$GPGSV,1,1,00*79\r\n")
    out = rig.run(200)
    assert GGA in out and RMC in out
    assert out.index(GGA) < out.index(RMC)
    assert rig.board.lines_fwd == 3


def test_long_burst_forwarded_through_small_uart_chunks(rig: Rig) -> None:
    rig.step(0)
    rig.hw.gps_in((GGA + RMC) * 50)
    out = rig.run(5_000, every_ms=5)
    assert out.count(GGA) == 50 and out.count(RMC) == 50
    assert rig.board.lines_dropped == 0


def test_offline_at_boot_never_clear_by_default(rig: Rig) -> None:
    rig.run(2_000, gps=GGA, gps_every_ms=500)
    assert rig.board.pattern == "offline"
    assert rig.hw.buzzer_changes > 0  # the offline tone actually played


def test_alert_acknowledged_and_shown(rig: Rig) -> None:
    rig.step(0)
    out = rig.alert(seq=41, level=2)
    assert nmea("PSEPK,41") in out
    assert rig.board.pattern == "caution"
    assert (rig.board.level, rig.board.bearing, rig.board.range_m) == (2, 90, 1500)


def test_offline_after_ttl(rig: Rig) -> None:
    rig.step(0)
    rig.alert(1, 0, ttl=1500)
    rig.run(1_000, gps=GGA, gps_every_ms=500)
    assert rig.board.pattern == "clear"
    rig.run(600, gps=GGA, gps_every_ms=500)
    assert rig.board.pattern == "offline"
    out = rig.alert(2, 1, ttl=1500)  # the host is back
    assert nmea("PSEPK,2") in out
    assert rig.board.pattern == "advisory"


def test_heartbeats_keep_it_online(rig: Rig) -> None:
    rig.step(0)
    for seq in range(10):
        rig.alert(seq, 0, ttl=1500)
        rig.run(1_000, gps=GGA, gps_every_ms=500)
        assert rig.board.pattern == "clear"


def test_no_gps_after_3_s(rig: Rig) -> None:
    rig.step(0)
    rig.hw.gps_in(GGA)
    rig.alert(1, 1, ttl=60_000)
    rig.run(2_900)
    assert rig.board.pattern == "advisory"
    rig.run(200)
    assert rig.board.pattern == "nogps"
    rig.hw.gps_in(RMC)
    rig.run(20)  # RMC is longer than one 64-byte UART read
    assert rig.board.pattern == "advisory"


def test_warning_wins_over_nogps_offline_wins_over_all(rig: Rig) -> None:
    rig.step(0)
    rig.alert(1, 3, ttl=5_000)
    rig.run(4_000)  # no GPS at all
    assert rig.board.pattern == "warning"
    rig.run(1_100)
    assert rig.board.pattern == "offline"


def test_degraded_at_level_0_with_flags(rig: Rig) -> None:
    rig.step(0)
    out = rig.alert(1, 0, flags="N")
    assert nmea("PSEPK,1") in out
    assert rig.board.pattern == "degraded" and rig.board.flags == 1
    rig.run(500, gps=GGA, gps_every_ms=250)
    rig.alert(2, 0, flags="")  # 6-field form, empty flags: clear again
    assert rig.board.pattern == "clear" and rig.board.flags == 0
    rig.alert(3, 0, flags="L")
    assert rig.board.pattern == "degraded" and rig.board.flags == 2
    rig.alert(4, 0)  # 5-field form: no flags
    assert rig.board.pattern == "clear"
    rig.alert(5, 0, flags="X")  # only letters this firmware does not know: nothing to show
    assert rig.board.pattern == "clear"


def test_degraded_precedence(rig: Rig) -> None:
    """offline > warning > nogps > caution/advisory > degraded > clear."""
    rig.step(0)
    rig.hw.gps_in(GGA)
    for level, shown in ((1, "advisory"), (2, "caution"), (3, "warning"), (0, "degraded")):
        rig.alert(level, level, ttl=60_000, flags="NL")
        assert rig.board.pattern == shown, level
    rig.run(3_100)  # the board's own GPS falls silent: nogps hides degraded
    assert rig.board.pattern == "nogps"
    rig.hw.gps_in(GGA)
    rig.run(20)
    assert rig.board.pattern == "degraded"
    rig.alert(9, 0, ttl=1_000, flags="N")
    rig.hw.gps_in(GGA)
    rig.run(1_100)  # ttl ran out
    assert rig.board.pattern == "offline"


def test_bad_commands_ignored_and_counted(rig: Rig) -> None:
    rig.step(0)
    good = nmea("PSEPA,5,3,10,100,2000")
    rig.hw.host_in(good[:-4] + b"FF\r\n")  # wrong checksum
    rig.hw.host_in(b"$PSEPA,5,3,10,100,2000\r\n")  # no checksum
    rig.hw.host_in(nmea("PSEPA,5,9,10,100,2000"))  # bad level
    rig.hw.host_in(nmea("PSEPZ,1"))
    rig.hw.host_in(nmea("PSEPT,disco"))
    rig.hw.host_in(b"print('hello')\r\n")
    out = rig.run(200)
    assert b"PSEPK" not in out
    assert rig.board.pattern == "offline"
    # 4 rejected by the decoder, 2 by the framer (bad checksum, a line that is no sentence)
    assert rig.board.cmds_ignored == 6
    assert rig.board.cmds_ok == 0


def test_self_test_plays_pattern_then_returns(rig: Rig) -> None:
    rig.step(0)
    rig.hw.host_in(nmea("PSEPT,warning"))
    rig.step(1)
    assert rig.board.pattern == "warning"
    rig.run(3_100)
    assert rig.board.pattern == "offline"
    rig.hw.host_in(nmea("PSEPT,all"))
    seen = []
    for _ in range(len(ORDER) * 30 + 10):
        rig.step(100)
        if not seen or seen[-1] != rig.board.pattern:
            seen.append(rig.board.pattern)
    assert seen[: len(ORDER)] == list(ORDER)
    assert seen[-1] == "offline"


def trace(pattern: str, ms: int = 6_000, every: int = 10) -> tuple[tuple[int, int, bool], ...]:
    """What buzzer and LED do over ``ms`` while the board shows ``pattern``."""
    r = Rig()
    r.step(0)
    r.hw.host_in(nmea(f"PSEPT,{pattern}"))
    r.step(1)
    out = []
    for _ in range(ms // every):
        if r.board.pattern != pattern:
            break
        out.append((r.hw.buzzer_freq, r.hw.buzzer_duty, r.hw.led_state))
        r.step(every)
    return tuple(out[: 2900 // every])


def test_every_state_has_a_distinct_pattern() -> None:
    traces = {name: trace(name) for name in PATTERNS}
    assert len(set(traces.values())) == len(PATTERNS)
    tones = {PATTERNS[n][0] for n in PATTERNS if n != "clear"}
    assert len(tones) == len(PATTERNS) - 1  # every sounding state has its own pitch
    assert all(f == 0 for f, _, _ in traces["clear"])  # level 0 is silent
    assert all(led for _, _, led in traces["warning"])  # warning: LED steady
    assert "degraded" in PATTERNS and "degraded" in ORDER
    for name in ("offline", "nogps", "advisory", "caution", "warning", "degraded"):
        assert any(d > 0 for _, d, _ in traces[name]), name


def test_watchdog_fed_only_while_healthy(rig: Rig) -> None:
    rig.run(1_000)
    fed = rig.hw.wdt_feeds
    assert fed == 100 and rig.board.healthy
    rig.hw.uart_error = OSError(5)  # UART read fails
    rig.run(1_000)
    assert rig.hw.wdt_feeds == fed
    assert rig.board.errors == 100 and not rig.board.healthy
    rig.hw.uart_error = None
    rig.run(100)
    assert rig.hw.wdt_feeds == fed + 10
    # USB writes stop making progress: fed until the stall limit, then not.
    rig.hw.usb_accept = False
    rig.run(app.USB_STALL_MS - 1_100)
    stalled = rig.hw.wdt_feeds
    assert rig.board.healthy
    rig.run(2_000)
    assert not rig.board.healthy
    assert rig.hw.wdt_feeds - stalled < 200
    rig.hw.usb_accept = True
    rig.run(1_100)  # next status write goes through
    assert rig.board.healthy


def test_clock_jump_resynchronises_cadence(rig: Rig) -> None:
    rig.step(0)
    out = rig.step(60_000)  # e.g. the loop was stuck for a minute
    assert len(sentences(out, b"PSEPS")) == 1
    assert len(sentences(out, b"PSEPI")) == 1
    out = rig.run(1_000, every_ms=10)
    assert len(sentences(out, b"PSEPS")) == 1


@pytest.mark.parametrize("profile", ["pico", "esp32_devkit", "tbeam"])
def test_profile_in_identity(profile: str) -> None:
    r = Rig(profile)
    assert r.step(0).startswith(nmea(f"PSEPI,1,e6614103e7,0.1.0,{profile}"))


def test_tones_in_the_buzzers_band_and_states_apart_without_pitch() -> None:
    """Issue 16 item 5: every tone lies where the bill of materials' buzzers resonate, and since
    pitches 100-200 Hz apart are hard to tell by ear, cadence and LED alone tell every state apart.

    Oracle: the buzzers' datasheet band, 2.3-4 kHz (12 mm magnetic transducers resonate
    at 2.3-2.7 kHz, small piezo ones up to 4 kHz; hardware/README.md), and what a person
    perceives: the buzzer's on/off rhythm and the LED's, traced from the hardware calls.
    """
    for name, (tone, _, _) in PATTERNS.items():
        assert tone == 0 or 2300 <= tone <= 4000, name
    traces = {name: trace(name) for name in PATTERNS}
    rhythm = {name: tuple((d > 0, led) for _, d, led in tr) for name, tr in traces.items()}
    assert len(set(rhythm.values())) == len(PATTERNS)


def test_gps_silent_for_a_week_stays_nogps(rig: Rig) -> None:
    """ticks_diff is only right within 2**29 ms (6.2 days): a GPS silent longer must not look fresh.

    Oracle: MicroPython's ticks arithmetic (period 2**30, ticks_diff valid within half of it)
    and the failsafe rule (GPS silent > 3 s while the host is online → "no GPS").
    """
    rig.step(0)
    rig.hw.gps_in(GGA)
    rig.step(10)
    hour = 3_600_000
    for h in range(24 * 8):
        rig.alert(h % 65536, 1, ttl=60_000)  # the host keeps the board online, level 1
        assert rig.board.pattern == ("advisory" if h == 0 else "nogps"), f"hour {h}"
        rig.step(hour)
    st = [ln for ln in rig.step(1000).split(b"\r\n") if ln.startswith(b"$PSEPS")]
    assert int(st[-1].split(b",")[4]) == 86_400_000  # gps_silent_ms held at one day
