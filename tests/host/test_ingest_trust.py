"""TAG blocks on live links: a peer cannot speak for another vehicle or fake receive times."""

from __future__ import annotations

from sepmon.core.checksum import frame_sentence
from sepmon.core.config import ConfigError
from sepmon.core.ingest import NmeaIngest
from sepmon.core.tagblock import format_tag_block
from sepmon.links.sources import parse_source

GGA = frame_sentence("GPGGA,120000.00,4716.0000,N,01121.0000,E,1,08,0.9,545.4,M,47.0,M,,")
RMC = frame_sentence("GPRMC,120000.00,A,4716.0000,N,01121.0000,E,0.0,0.0,150324,,,A")
GGA2 = frame_sentence("GPGGA,120001.00,4716.0000,N,01121.0000,E,1,08,0.9,545.4,M,47.0,M,,")


def _stream(source: str, rx_ms: float) -> bytes:
    tag = format_tag_block(source, rx_ms)
    return "".join(f"{tag}{line}\r\n" for line in (GGA, RMC, GGA2)).encode()


def test_recordings_trust_tags() -> None:
    ing = NmeaIngest("link")
    fixes = ing.feed(_stream("bravo", 1_710_504_000.5)) + ing.flush()
    assert {f.source for f in fixes} == {"bravo"}
    assert fixes[0].rx_t == 1_710_504_000.5


def test_live_links_ignore_tags() -> None:
    ing = NmeaIngest("alpha", trust_tags=False)
    fixes = ing.feed(_stream("bravo", 1_710_504_000.5), rx_t=2_000_000_000.0) + ing.flush()
    assert fixes and {f.source for f in fixes} == {"alpha"}
    assert fixes[0].rx_t == 2_000_000_000.0
    assert set(ing.stats) == {"alpha"}  # no source created from a peer's claim


def test_trust_tags_is_a_per_source_option() -> None:
    assert parse_source("s", {"name": "a", "url": "udp://127.0.0.1:1"}).trust_tags is False
    assert parse_source("s", {"name": "a", "url": "file:///x", "trust_tags": True}).trust_tags is True
    try:
        parse_source("s", {"name": "a", "url": "file:///x", "trust_tags": "yes"})
    except ConfigError as exc:
        assert "trust_tags" in str(exc)
    else:
        raise AssertionError("accepted a non-boolean")
