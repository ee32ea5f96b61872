"""Receiver set-up (issue 16 item 4): the UBX bytes against pyubx2, the PMTK sentences against
MediaTek's PMTK command documentation, and when the board sends them.

Oracles: pyubx2 (a maintained UBX library: it builds each message from the documented
field values and parses ours, checksum included); MediaTek's "PMTK command packet"
document (MT3339): ``$PMTK251,<baud>`` sets the baud rate, ``$PMTK220,<ms>`` the fix
interval, ``$PMTK314`` the sentence rates in the order GLL, RMC, VTG, GGA, GSA, GSV,
..., ``$PMTK886,<mode>`` the navigation mode (2 = aviation); its published examples
``$PMTK220,200*2C`` (5 Hz) and ``$PMTK251,38400*27``; the NMEA checksum (XOR of the
body) computed here independently.
"""

from __future__ import annotations

from functools import reduce
from typing import Any

import pytest
import scenarios

from sepmon_fw import gnss

pyubx2 = pytest.importorskip("pyubx2")
from pyubx2 import SET, UBXMessage, UBXReader  # noqa: E402


def parse(msg: bytes) -> Any:
    """pyubx2's reading of one frame (raises on a bad checksum or length)."""
    return UBXReader.parse(msg, validate=pyubx2.VALCKSUM)


def expected_ublox(baud: int, meas_ms: int, dyn: int | None) -> list[tuple[int, bytes]]:
    """The set-up as pyubx2 builds it from the u-blox protocol specification's field values."""
    prt = UBXMessage(
        "CFG", "CFG-PRT", SET, portID=1, reserved2=0x10, charLen=3, parity=4, nStopBits=0,
        baudRate=baud, inUBX=1, inNMEA=1, outNMEA=1,
    ).serialize()  # fmt: skip
    steps = [(b, prt) for b in (9600, 38400, 115200)]
    # GGA, RMC, GSA on; GSV, GLL, VTG off
    for msg_id, rate in ((0x00, 1), (0x04, 1), (0x02, 1), (0x03, 0), (0x01, 0), (0x05, 0)):
        m = UBXMessage("CFG", "CFG-MSG", SET, msgClass=0xF0, msgID=msg_id, rateUART1=rate)
        steps.append((baud, m.serialize()))
    steps.append(
        (baud, UBXMessage("CFG", "CFG-RATE", SET, measRate=meas_ms, navRate=1, timeRef=1).serialize())
    )
    if dyn is not None:
        steps.append((baud, UBXMessage("CFG", "CFG-NAV5", SET, dyn=1, dynModel=dyn).serialize()))
    return steps


@pytest.mark.parametrize(
    ("name", "baud", "meas_ms", "dyn"),
    [("ublox", 9600, 1000, None), ("ublox-airborne", 9600, 1000, 7), ("ublox-airborne-5hz", 38400, 200, 7)],
)
def test_ublox_presets_match_pyubx2(name: str, baud: int, meas_ms: int, dyn: int | None) -> None:
    target, steps = gnss.preset(name)
    assert target == baud
    assert list(steps) == expected_ublox(baud, meas_ms, dyn)
    for _, msg in steps:
        parsed = parse(msg)  # checksum and length valid for pyubx2
        assert parsed.serialize() == msg


def test_ublox_recovery_fields() -> None:
    """Read back with pyubx2: NMEA out only, UBX and NMEA in, 8N1, airborne <2g model."""
    _, steps = gnss.preset("ublox-airborne-5hz")
    prt = parse(steps[0][1])
    assert prt.identity == "CFG-PRT" and prt.portID == 1 and prt.baudRate == 38400
    assert (prt.outNMEA, prt.outUBX, prt.inUBX, prt.inNMEA) == (1, 0, 1, 1)
    assert (prt.charLen, prt.parity, prt.nStopBits) == (3, 4, 0)  # 8 bits, no parity, 1 stop
    nav5 = parse(steps[-1][1])
    assert nav5.identity == "CFG-NAV5" and nav5.dyn == 1 and nav5.dynModel == 7
    assert nav5.minEl == 0 and nav5.posFixMode == 0  # only the dynamic model is applied (mask bit 0)
    rate = parse(steps[-2][1])
    assert (rate.measRate, rate.navRate) == (200, 1)


def xor_checksum(body: bytes) -> str:
    return f"{reduce(lambda a, c: a ^ c, body, 0):02X}"


def test_pmtk_sentences() -> None:
    target, steps = gnss.preset("mtk-airborne-5hz")
    assert target == 38400
    lines = [m for _, m in steps]
    assert [b for b, _ in steps] == [9600, 38400, 115200, 38400, 38400, 38400]
    for ln in lines:
        assert ln.startswith(b"$") and ln.endswith(b"\r\n")
        body, ck = ln[1:-2].split(b"*")
        assert ck.decode() == xor_checksum(body)
    # MediaTek's own examples, byte for byte
    assert lines[0] == b"$PMTK251,38400*27\r\n"
    assert lines[4] == b"$PMTK220,200*2C\r\n"
    fields = lines[3][1:].split(b"*")[0].split(b",")
    assert fields[0] == b"PMTK314" and len(fields) == 20
    rates = dict(zip(("GLL", "RMC", "VTG", "GGA", "GSA", "GSV"), (int(f) for f in fields[1:7]), strict=True))
    assert rates == {"GLL": 0, "RMC": 1, "VTG": 0, "GGA": 1, "GSA": 1, "GSV": 0}
    assert all(f == b"0" for f in fields[7:])
    assert lines[5] == b"$PMTK886,2*" + xor_checksum(b"PMTK886,2").encode() + b"\r\n"
    # the checksum routine above agrees with a published PMTK886 sentence (balloon mode)
    assert xor_checksum(b"PMTK886,3") == "2B"
    assert gnss.pmtk(b"PMTK886,3") == b"$PMTK886,3*2B\r\n"
    _, slow = gnss.preset("mtk")
    assert slow[-1][1] == b"$PMTK220,1000*1F\r\n" and slow[0][1] == b"$PMTK251,9600*17\r\n"


def test_bandwidth_of_the_trimmed_set() -> None:
    """Why trim: GGA+RMC+GSA of a real fix fit 5 Hz at 38400 baud and 1 Hz at 9600 with room."""
    gga = scenarios.GGA
    rmc = scenarios.RMC
    gsa = b"$GPGSA,A,3,04,05,,09,12,,,24,,,,,2.5,1.3,2.1*39\r\n"  # NMEA 0183 example layout
    per_epoch = len(gga) + len(rmc) + len(gsa)
    assert per_epoch * 5 * 10 / 38400 < 0.35  # 10 bits per byte (8N1)
    assert per_epoch * 1 * 10 / 9600 < 0.25


def test_sent_from_the_loop_and_repeated_when_silent() -> None:
    """Sent once at boot; not again while the receiver talks; again after 10 s of silence,
    then every 30 s while it stays silent. Forwarding goes on meanwhile."""
    r = scenarios.scn_gnss()
    first = [(b, m) for b, m in r["ublox"]]
    assert first == expected_ublox(38400, 200, 7)
    assert r["counts"] == [11, 11, 33] and r["runs"] == 3
    assert r["uart"] == 38400  # the board's UART follows the module to the target baud
    assert r["fwd"] > 100 and r["errors"] == 0
    assert [b for b, _ in r["mtk"]] == [9600, 38400, 115200, 38400, 38400, 38400]


def test_preset_names_known_to_the_profiles() -> None:
    from boards import tbeam

    assert tbeam.PROFILE["gps_setup"] in gnss.NAMES
    assert set(gnss.NAMES) == {
        "ublox",
        "ublox-airborne",
        "ublox-airborne-5hz",
        "mtk",
        "mtk-airborne",
        "mtk-airborne-5hz",
    }
