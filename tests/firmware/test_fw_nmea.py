from __future__ import annotations

import pytest
from fwtest import nmea

from sepmon_fw import nmea as fw


def enc(fn, *args) -> bytes:  # type: ignore[no-untyped-def]
    w = fw.Writer()
    n = fn(w, *args)
    assert n == w.n
    return w.value()


def test_encoders_produce_checksummed_sentences() -> None:
    assert enc(fw.encode_ack, 42) == nmea("PSEPK,42")
    assert enc(fw.encode_identity, 1, "e661", "0.1.0", "pico") == nmea("PSEPI,1,e661,0.1.0,pico")
    assert enc(fw.encode_status, 1073741823, 0, 7, 3000, 190000) == nmea("PSEPS,1073741823,0,7,3000,190000")
    assert enc(fw.encode_ack, 0) == nmea("PSEPK,0")
    assert enc(fw.encode_ack, 10) == nmea("PSEPK,10")


def dec(line: bytes):  # type: ignore[no-untyped-def]
    b = bytearray(line)
    return fw.decode_command(b, len(b))


def test_decode_alert_and_selftest() -> None:
    assert dec(nmea("PSEPA,7,3,271,850,1500")) == ("A", 7, 3, 271, 850, 1500)
    assert dec(nmea("PSEPA,7,0,,,1500")) == ("A", 7, 0, -1, -1, 1500)
    assert dec(nmea("PSEPA,8,1,12.7,100.25,900")) == ("A", 8, 1, 12, 100, 900)
    assert dec(nmea("PSEPT,warning")) == ("T", "warning")
    # lowercase checksum digits are accepted
    line = nmea("PSEPT,all")
    assert dec(line[:-4] + line[-4:-2].lower()) == ("T", "all")


@pytest.mark.parametrize(
    "line",
    [
        nmea("PSEPA,7,3,271,850,1500")[:-4] + b"00\r\n",  # wrong checksum
        b"$PSEPA,7,3,271,850,1500\r\n",  # no checksum
        nmea("PSEPA,7,4,271,850,1500"),  # level out of range
        nmea("PSEPA,7,3,360,850,1500"),  # bearing out of range
        nmea("PSEPA,7,3,271,850,0"),  # ttl 0
        nmea("PSEPA,7,3,271,850,60001"),  # ttl too long
        nmea("PSEPA,65536,3,271,850,1500"),  # seq too big
        nmea("PSEPA,7,3,271,850"),  # too few fields
        nmea("PSEPA,7,3,271,850,1500,9"),  # too many fields
        nmea("PSEPA,x,3,271,850,1500"),
        nmea("PSEPA,-1,3,271,850,1500"),
        nmea("PSEPA,1,3,2.,850,1500"),
        nmea("PSEPT,"),
        nmea("PSEPT,Warning"),
        nmea("PSEPT,a,b"),
        nmea("PSEPX,1"),
        nmea("GPGGA,1,2,3"),
        b"",
        b"$",
        b"\x00\xff$PSEPA*",
    ],
)
def test_decode_rejects(line: bytes) -> None:
    assert dec(line) is None


def test_check_states() -> None:
    good = bytearray(nmea("GPGLL,1")[:-2])
    assert fw.check(good, len(good)) == fw.CK_OK
    bad = bytearray(good[:-1] + b"G")
    assert fw.check(bad, len(bad)) == fw.CK_BAD
    none = bytearray(b"$GPGLL,1")
    assert fw.check(none, len(none)) == fw.CK_NONE
