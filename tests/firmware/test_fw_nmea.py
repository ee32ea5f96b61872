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
    assert dec(nmea("PSEPA,7,3,271,850,1500")) == ("A", 7, 3, 271, 850, 1500, 0)
    assert dec(nmea("PSEPA,7,0,,,1500")) == ("A", 7, 0, -1, -1, 1500, 0)
    assert dec(nmea("PSEPA,8,1,12.7,100.25,900")) == ("A", 8, 1, 12, 100, 900, 0)
    assert dec(nmea("PSEPT,warning")) == ("T", "warning")
    assert dec(nmea("PSEPT,degraded")) == ("T", "degraded")
    # lowercase checksum digits are accepted
    line = nmea("PSEPT,all")
    assert dec(line[:-4] + line[-4:-2].lower()) == ("T", "all")


N, L = fw.FLAG_OWN_UNKNOWN, fw.FLAG_TRAFFIC_LOST


@pytest.mark.parametrize(
    ("flags", "bits"),
    [
        ("", 0),
        ("N", N),
        ("L", L),
        ("NL", N | L),
        ("LN", N | L),  # the host writes N first; the board does not insist
        ("NNL", N | L),
        ("X", 0),  # unknown letters are ignored: a newer host's flags
        ("QNZ", N),
        ("ABCDEFGH", 0),  # 8 letters: the most the field may hold
    ],
)
def test_decode_alert_flags(flags: str, bits: int) -> None:
    assert dec(nmea(f"PSEPA,7,0,,,1500,{flags}")) == ("A", 7, 0, -1, -1, 1500, bits)


def test_parse_command_fills_a_list_in_place() -> None:
    out = [9] * 6
    b = bytearray(nmea("PSEPA,3,2,90,800,2500,NL"))
    assert fw.parse_command(b, len(b), out) == fw.CMD_ALERT
    assert out == [3, 2, 90, 800, 2500, N | L]
    b = bytearray(nmea("PSEPA,4,0,,,3000"))
    assert fw.parse_command(b, len(b), out) == fw.CMD_ALERT
    assert out == [4, 0, -1, -1, 3000, 0]  # 5-field form: flags reset, not left over
    b = bytearray(nmea("PSEPT,nogps"))
    assert fw.parse_command(b, len(b), out) == fw.CMD_TEST
    assert bytes(b[out[0] : out[1]]) == b"nogps"
    b = bytearray(nmea("PSEPA,4,0,,,3000,n"))
    assert fw.parse_command(b, len(b), out) == fw.CMD_NONE


def test_match() -> None:
    names = (b"clear", b"caution", b"c")
    b = bytearray(b"xxcautionyy")
    assert fw.match(b, 2, 9, names) == 1
    assert fw.match(b, 2, 3, names) == 2
    assert fw.match(b, 2, 8, names) == -1
    assert fw.match(b, 2, 2, names) == -1


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
        nmea("PSEPA,7,3,271,850,1500,N,"),  # too many fields
        nmea("PSEPA,7,3,271,850,1500,N,L"),
        nmea("PSEPA,7,3,271,850,1500,9"),  # flags: letters only
        nmea("PSEPA,7,3,271,850,1500,n"),  # upper case only
        nmea("PSEPA,7,3,271,850,1500,N L"),
        nmea("PSEPA,7,3,271,850,1500,NLNLNLNLN"),  # 9 letters
        nmea("PSEPA,x,3,271,850,1500"),
        nmea("PSEPA,-1,3,271,850,1500"),
        nmea("PSEPA,1,3,2.,850,1500"),
        nmea("PSEPA,,3,271,850,1500"),
        nmea("PSEPA,1,3,271,850,"),
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
