"""Shared pieces of the fuzz harnesses and the bounded fuzz tests: seeds and invariants.

Every ``check_*`` function takes one fuzz input, runs the code under test on it
and raises ``AssertionError`` when an invariant does not hold; any other
exception that escapes is a crash of the code under test.  The atheris
harnesses in ``fuzz/`` and the hypothesis tests in ``tests/fuzz/`` call the same
functions, so a crasher found by one is a regression case for the other.
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import re
import sys
import tempfile
import tomllib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FIRMWARE = ROOT / "firmware"
REAL_NMEA = ROOT / "tests" / "data" / "nmea"
CRASHERS = ROOT / "tests" / "data" / "fuzz"

if str(FIRMWARE) not in sys.path:
    sys.path.insert(0, str(FIRMWARE))

from sepmon.boardlink import protocol  # noqa: E402
from sepmon.core import mqttcodec  # noqa: E402
from sepmon.core.config import parse_config  # noqa: E402
from sepmon.core.errors import ConfigError  # noqa: E402
from sepmon.core.framing import LineFramer  # noqa: E402
from sepmon.core.ingest import NmeaIngest  # noqa: E402
from sepmon.core.model import Fix, SourceStats  # noqa: E402
from sepmon.core.nmea import Reject  # noqa: E402
from sepmon.core.tagblock import TagBlock, parse_tag_block  # noqa: E402
from sepmon.links.sources import parse_sources  # noqa: E402
from sepmon_fw import framer as fw_framer  # noqa: E402
from sepmon_fw import nmea as fw_nmea  # noqa: E402

# ---- seeds ------------------------------------------------------------------------------------


def real_recordings() -> list[bytes]:
    """The receiver quirk recordings of the ingest tests, one bytes object per file."""
    return [p.read_bytes() for p in sorted(REAL_NMEA.glob("*.nmea"))]


def sim_recordings() -> list[bytes]:
    """Short multi-source recordings from ``sepmon.sim`` with heavy faults (TAG-blocked)."""
    from sepmon.sim import FaultModel, recording_bytes, simulate

    faults = FaultModel(corrupt=0.1, truncate=0.05, garbage=0.05, dropouts_per_min=4.0)
    out = []
    for i, scenario in enumerate(("head-on", "crossing", "climbing", "overtaking")):
        sim = simulate(scenario, seed=i + 1, faults=faults, duration=12.0, rate=5, talker="mixed")
        out.append(b"".join(recording_bytes(sim.lines)))
    sim = simulate("many", seed=7, faults=faults, duration=6.0, vehicles=4)
    out.append(b"".join(recording_bytes(sim.lines)))
    return out


def split_seed(data: bytes, size: int = 768) -> list[bytes]:
    """Cut a recording at line ends into pieces of about ``size`` bytes (fuzzers like small inputs)."""
    out, start = [], 0
    while start < len(data):
        end = data.find(b"\n", start + size)
        end = len(data) if end < 0 else end + 1
        out.append(data[start:end])
        start = end
    return out


def real_lines() -> list[bytes]:
    """Every distinct line of the real recordings, terminators stripped."""
    seen: dict[bytes, None] = {}
    for rec in real_recordings():
        for line in rec.splitlines():
            if line:
                seen[line] = None
    return list(seen)


def crashers(target: str) -> list[bytes]:
    """Saved minimized crashers of one target (``tests/data/fuzz/<target>/*``)."""
    d = CRASHERS / target
    return [p.read_bytes() for p in sorted(d.iterdir()) if p.is_file()] if d.is_dir() else []


def chunks(data: bytes, sizes: Sequence[int]) -> list[bytes]:
    """``data`` cut into pieces of the given sizes, cycled (0 means 1)."""
    out, pos, i = [], 0, 0
    while pos < len(data):
        n = max(1, sizes[i % len(sizes)]) if sizes else len(data)
        out.append(data[pos : pos + n])
        pos += n
        i += 1
    return out


def random_chunking(data: bytes) -> list[bytes]:
    """A chunking chosen from the data itself (deterministic for a given input)."""
    rng = random.Random(len(data) * 1_000_003 + (data[-1] if data else 0))
    small = (1, 2, 3) if len(data) <= 256 else (5, 13)  # byte-sized reads only on short inputs
    return chunks(data, [rng.choice((*small, 64, 511, 4096)) for _ in range(16)])


# ---- ingest -----------------------------------------------------------------------------------

_ZERO_POSITION = re.compile(rb"0{4,}(\.0*)?,[NS],0{5,}(\.0*)?,[EW]")
VALID_QUALITY = range(1, 7)


def check_fix(fix: Fix, data: bytes) -> None:
    """A fix the ingest emitted is in the valid ranges and not the pynmea2 0°N 0°E artefact."""
    assert isinstance(fix, Fix)
    assert math.isfinite(fix.t), fix
    assert math.isfinite(fix.lat) and -90.0 <= fix.lat <= 90.0, fix
    assert math.isfinite(fix.lon) and -180.0 <= fix.lon <= 180.0, fix
    if fix.lat == 0.0 and fix.lon == 0.0:
        # Only a sentence that spells out zero coordinates may put a fix there.
        assert _ZERO_POSITION.search(data), f"fix at 0N 0E from empty fields: {fix}"
    assert fix.alt_m is None or math.isfinite(fix.alt_m), fix
    assert fix.sog_mps is None or (math.isfinite(fix.sog_mps) and fix.sog_mps >= 0.0), fix
    assert fix.cog_deg is None or 0.0 <= fix.cog_deg < 360.0, fix
    assert fix.quality in VALID_QUALITY, fix
    assert fix.hdop is None or (math.isfinite(fix.hdop) and fix.hdop >= 0.0), fix
    assert fix.sats is None or fix.sats >= 0, fix
    assert fix.rx_t is None or math.isfinite(fix.rx_t), fix


def check_stats(st: SourceStats) -> None:
    """Every line is counted exactly once (the ``SourceStats`` docstring)."""
    parts = sum(st.rejected.values()) + st.ignored + st.proprietary + st.used + st.unused
    assert st.lines == parts, f"lines {st.lines} != {parts}: {st}"
    assert all(v >= 0 for v in st.rejected.values()), st
    assert set(st.rejected) <= {str(r) for r in Reject} - {"ignored"}, st.rejected


def stats_key(ing: NmeaIngest) -> dict[str, tuple[Any, ...]]:
    """Comparable snapshot of all counters of an ingest."""
    return {
        name: (
            st.lines,
            dict(+st.rejected),
            st.ignored,
            st.proprietary,
            st.used,
            st.unused,
            st.fixes,
            dict(+st.epochs_dropped),
            st.callback_errors,
        )
        for name, st in ing.stats.items()
    }


def run_ingest(
    pieces: Iterable[bytes], require_checksum: bool = True, max_line: int = 512
) -> tuple[list[Fix], NmeaIngest, list[str]]:
    """Feed ``pieces`` then flush; returns the fixes, the ingest and the proprietary lines seen."""
    psep: list[str] = []
    ing = NmeaIngest("fuzz", require_checksum, max_line, on_proprietary=lambda _s, line: psep.append(line))
    fixes: list[Fix] = []
    for p in pieces:
        fixes += ing.feed(p)
        assert len(ing._framer._buf) <= ing._framer.max_physical, "framer buffer over its bound"
    fixes += ing.flush()
    return fixes, ing, psep


def check_ingest(data: bytes, sizes: Sequence[int] | None = None, require_checksum: bool = True) -> None:
    """Ingest invariants on one byte stream: no crash, valid fixes, counters add up, chunking-free."""
    whole, ing, psep = run_ingest([data], require_checksum)
    for fix in whole:
        check_fix(fix, data)
    for st in ing.stats.values():
        check_stats(st)
    assert sum(st.fixes for st in ing.stats.values()) == len(whole)
    assert all(st.callback_errors == 0 for st in ing.stats.values())
    for line in psep:  # what the ingest hands on as $PSEP must be safe for the protocol decoder
        protocol.try_decode(line)
    pieces = chunks(data, sizes) if sizes is not None else random_chunking(data)
    again, ing2, psep2 = run_ingest(pieces, require_checksum)
    assert again == whole, "same bytes chunked differently gave different fixes"
    assert stats_key(ing2) == stats_key(ing), "same bytes chunked differently gave different counts"
    assert psep2 == psep


def check_tag_block(line: bytes) -> None:
    """``parse_tag_block`` never raises and returns a well-formed result."""
    for req in (True, False):
        r = parse_tag_block(line, req)
        if isinstance(r, Reject):
            assert r in (Reject.FRAMING, Reject.CHECKSUM, Reject.UNPARSABLE)
            continue
        tags, rest = r
        assert isinstance(tags, TagBlock) and isinstance(rest, bytes)
        assert tags.rx_t is None or (math.isfinite(tags.rx_t) and tags.rx_t >= 0)
        assert tags.source is None or (tags.source and tags.source.isprintable())
        assert line.endswith(rest)


# ---- line framers -----------------------------------------------------------------------------


def framer_lines(pieces: Iterable[bytes], max_len: int) -> tuple[list[bytes], dict[str, int]]:
    """Host framer output for ``pieces``, checking the bound on every line and on the buffer."""
    fr = LineFramer(max_len)
    out: list[bytes] = []
    for p in pieces:
        out += fr.feed(p)
        assert len(fr._buf) <= fr.max_physical
    out += fr.flush()
    for line in out:
        assert 0 < len(line) <= max_len, (len(line), max_len)
        assert b"\r" not in line and b"\n" not in line
    return out, dict(+fr.counts)


def check_host_framer(data: bytes, max_len: int = 512, sizes: Sequence[int] | None = None) -> None:
    """Host framer: bounded lines, bounded buffer, independent of read sizes."""
    a = framer_lines([data], max_len)
    pieces = chunks(data, sizes) if sizes is not None else random_chunking(data)
    b = framer_lines(pieces, max_len)
    assert a == b, "framer result depends on read sizes"


def fw_framer_run(pieces: Iterable[bytes], maxlen: int = fw_framer.MAX_LINE) -> tuple[list[bytes], int, int]:
    """Firmware framer over ``pieces``: (lines handed to the sink, lines, dropped), checked."""
    got: list[bytes] = []

    def sink(buf: bytearray, n: int) -> None:
        assert 1 < n <= maxlen
        assert buf[n : n + 2] == b"\r\n"
        assert buf[0] in (0x24, 0x21)
        assert all(0x20 <= c <= 0x7E for c in buf[1:n])
        assert fw_nmea.check(buf, n) != fw_nmea.CK_BAD
        got.append(bytes(buf[:n]))

    fr = fw_framer.LineFramer(sink, maxlen)
    attrs = set(vars(fr))
    size = len(fr.buf)
    for p in pieces:
        fr.feed(p, len(p))
        assert len(fr.buf) == size and set(vars(fr)) == attrs, "firmware framer grew"
        assert 0 <= fr.n <= maxlen
    return got, fr.lines, fr.dropped


def check_fw_framer(data: bytes, sizes: Sequence[int] | None = None) -> None:
    """Firmware framer: never raises, never grows, same result whatever the read sizes."""
    a = fw_framer_run([data])
    pieces = chunks(data, sizes) if sizes is not None else random_chunking(data)
    assert fw_framer_run(pieces) == a, "firmware framer result depends on read sizes"
    assert a[1] == len(a[0])


# ---- $PSEP protocol ---------------------------------------------------------------------------


def check_fw_decode(line: bytes, pad: bytes = b"") -> tuple[Any, ...] | None:
    """Firmware ``decode_command``: never raises, values in range, bytes past ``n`` ignored."""
    buf = bytearray(line)
    r = fw_nmea.decode_command(buf, len(buf))
    assert buf == line, "decode_command wrote into its input"
    if pad:
        padded = bytearray(line + pad)
        assert fw_nmea.decode_command(padded, len(line)) == r
    if r is None:
        return None
    assert isinstance(r, tuple)
    if r[0] == "A":
        _, seq, level, bearing, rng, ttl, *flags = r  # protocol 2 adds a flags bitmask
        assert 0 <= seq <= protocol.SEQ_MAX and 0 <= level <= 3
        assert -1 <= bearing <= 359 and rng >= -1 and 1 <= ttl <= protocol.TTL_MAX_MS
        assert len(flags) <= 1 and all(f >= 0 for f in flags)
    else:
        assert r[0] == "T" and r[1] and all(c == "_" or "a" <= c <= "z" for c in r[1])
    return r


def check_host_decode(line: bytes) -> protocol.Message | None:
    """Host ``decode``: None, a message, or ProtocolError; ``try_decode`` never raises; fw agrees."""
    try:
        msg = protocol.decode(line)
    except protocol.ProtocolError:
        msg = None
    assert protocol.try_decode(line) == msg
    text = line.decode("latin-1")
    try:
        assert protocol.decode(text) == msg or not text.isascii()
    except protocol.ProtocolError:
        assert msg is None
    fw = check_fw_decode(line.rstrip(b"\r\n"))
    # Whatever command the host accepts, the board accepts with the same values.
    if isinstance(msg, protocol.AlertCommand):
        b = -1 if msg.bearing_deg is None else int(msg.bearing_deg)
        r = -1 if msg.range_m is None else int(msg.range_m)
        assert fw is not None and fw[:6] == ("A", msg.seq, msg.level, b, r, msg.ttl_ms), (msg, fw)
    elif isinstance(msg, protocol.SelfTest):
        assert fw == ("T", msg.pattern), (msg, fw)
    return msg


def canonical(msg: protocol.Message) -> protocol.Message:
    """``msg`` as it reads back from the wire: bearing and range in whole units."""
    if isinstance(msg, protocol.AlertCommand):
        b = None if msg.bearing_deg is None else float(round(msg.bearing_deg) % 360)
        r = None if msg.range_m is None else float(round(msg.range_m))
        return protocol.AlertCommand(msg.seq, msg.level, b, r, msg.ttl_ms)
    return msg


def check_host_roundtrip(msg: protocol.Message) -> None:
    """Host encoder output decodes back to the same message on the host and (commands) the board."""
    try:
        wire = protocol.encode(msg)
    except protocol.ProtocolError:
        return
    want = canonical(msg)
    assert protocol.decode(wire) == want, (msg, wire)
    fw = fw_nmea.decode_command(bytearray(wire), len(wire))
    if isinstance(want, protocol.AlertCommand):
        b = -1 if want.bearing_deg is None else int(want.bearing_deg)
        r = -1 if want.range_m is None else int(want.range_m)
        assert fw is not None and fw[:6] == ("A", want.seq, want.level, b, r, want.ttl_ms), (msg, wire, fw)
    elif isinstance(want, protocol.SelfTest):
        assert fw == ("T", want.pattern), (msg, wire, fw)
    else:
        assert fw is None


# ---- config, sources, MQTT --------------------------------------------------------------------


def check_config_data(data: Any) -> None:
    """``parse_config`` and ``parse_sources`` on parsed TOML: only ConfigError may escape."""
    try:
        cfg = parse_config(data)
    except ConfigError:
        pass
    else:
        assert cfg.ingest.max_line >= 82
    with contextlib.suppress(ConfigError):
        parse_sources(data.get("sources") if isinstance(data, dict) else data)


_TMP = Path(tempfile.gettempdir()) / f"sepmon-fuzz-{os.getpid()}.toml"


def check_config_text(text: bytes) -> None:
    """The config file loader on arbitrary bytes: only ConfigError may escape."""
    from sepmon.apps.configfile import load_config

    _TMP.write_bytes(text)
    with contextlib.suppress(ConfigError):
        load_config(_TMP)
    try:
        data = tomllib.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return
    check_config_data(data)


def check_mqtt(payload: bytes) -> None:
    """MQTT decoders: only BadMessage may escape; an accepted track is in range."""
    try:
        fix = mqttcodec.decode_track(payload)
    except mqttcodec.BadMessage as exc:
        assert exc.reason in ("too_big", "json", "schema", "range", "version"), exc.reason
    else:
        assert -90 <= fix.lat <= 90 and -180 <= fix.lon <= 180 and fix.quality >= 1
        # What we accept, we can publish again, and that reads back the same (after rounding once).
        once = mqttcodec.decode_track(mqttcodec.encode_track(fix))
        assert mqttcodec.decode_track(mqttcodec.encode_track(once)) == once
    try:
        state = mqttcodec.decode_status(payload)
    except mqttcodec.BadMessage:
        pass
    else:
        assert state in ("online", "offline")


def cleanup() -> None:
    """Remove the temporary config file."""
    _TMP.unlink(missing_ok=True)


# ---- one fuzz input per target ----------------------------------------------------------------
#
# The atheris harnesses hand raw bytes to these; the first byte (where used) picks a mode so one
# corpus can reach every entry point of a target.


def one_ingest(data: bytes) -> None:
    """Ingest target: host framer, TAG blocks, ``NmeaIngest.feed`` (the firmware framer is in protocol)."""
    check_ingest(data, require_checksum=len(data) % 3 != 0)
    check_host_framer(data, max_len=82)
    for line in data.splitlines()[:4]:
        check_tag_block(line)


def _xor(body: bytes) -> int:
    c = 0
    for b in body:
        c ^= b
    return c


class _Reader:
    """Consumes fuzz bytes as small integers and strings (a tiny FuzzedDataProvider)."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def byte(self) -> int:
        if self.pos >= len(self.data):
            return 0
        self.pos += 1
        return self.data[self.pos - 1]

    def uint(self, nbytes: int) -> int:
        v = 0
        for _ in range(nbytes):
            v = v << 8 | self.byte()
        return v

    def text(self, alphabet: str | None = None, max_len: int = 40) -> str:
        n = self.byte() % (max_len + 1)
        raw = self.data[self.pos : self.pos + n]
        self.pos += n
        if alphabet is None:
            return raw.decode("utf-8", "replace")
        return "".join(alphabet[b % len(alphabet)] for b in raw)


_TOKEN_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"


def message_from(r: _Reader) -> protocol.Message:
    """A protocol message (valid or out of range) built from fuzz bytes."""
    kind = r.byte() % 5
    if kind == 0:
        return protocol.Identity(
            r.uint(2), r.text(_TOKEN_CHARS, 34), r.text(_TOKEN_CHARS, 34), r.text(_TOKEN_CHARS, 34)
        )
    if kind == 1:
        return protocol.Status(*(r.uint(r.byte() % 8) for _ in range(5)))
    if kind == 2:
        return protocol.Ack(r.uint(3))
    if kind == 3:
        flags = r.byte()
        bearing = None if flags & 1 else float(r.uint(2) % 360)
        if flags & 2:
            rng: float | None = None
        elif flags & 4:
            rng = float(r.uint(5)) + (r.byte() / 256.0 if flags & 8 else 0.0)
        else:
            rng = float(r.uint(8)) / 2**16 * 1e10 / 2**48  # whole float range below 1e10
        if rng is not None and not flags & 8:
            rng = float(round(rng))
        return protocol.AlertCommand(r.uint(3), r.byte() % 5, bearing, rng, r.uint(3))
    names = protocol.SELFTEST_NAMES
    b = r.byte()
    return protocol.SelfTest(names[b % len(names)] if b < 200 else r.text(max_len=8))


def check_fw_encoders(r: _Reader) -> None:
    """Board encoders → host decoder: same values back (within the host's 10-digit fields)."""
    w = fw_nmea.Writer()
    kind = r.byte() % 3
    if kind == 0:
        vals = [r.uint(5) % 10**10 for _ in range(5)]
        n = fw_nmea.encode_status(w, *vals)
        assert protocol.decode(bytes(w.buf[:n])) == protocol.Status(*vals)
    elif kind == 1:
        seq = r.uint(2)
        n = fw_nmea.encode_ack(w, seq)
        assert protocol.decode(bytes(w.buf[:n])) == protocol.Ack(seq)
    else:
        toks = [r.text(_TOKEN_CHARS, 24) or "x" for _ in range(3)]
        proto = r.uint(1)
        n = fw_nmea.encode_identity(w, proto, *toks)
        assert protocol.decode(bytes(w.buf[:n])) == protocol.Identity(proto, *toks)


def one_protocol(data: bytes) -> None:
    """Protocol target: host decode/try_decode, firmware decode_command and framer, round trips."""
    if not data:
        return
    mode, rest = data[0] % 5, data[1:]
    if mode == 0:
        check_host_decode(rest)
    elif mode == 1:  # a checksum-valid $PSEP sentence: the field parsers behind the checksum
        body = b"PSEP" + rest.split(b"\n", 1)[0]
        line = b"$" + body + b"*%02X" % _xor(body)
        check_host_decode(line)
        check_fw_decode(line, pad=rest[-3:])
    elif mode == 2:
        check_fw_framer(rest)
    elif mode == 3:
        check_host_roundtrip(message_from(_Reader(rest)))
    else:
        check_fw_encoders(_Reader(rest))
        check_fw_decode(rest, pad=b"*00")


_CONFIG_KEYS = (
    "separation", "groups", "aliases", "pairs", "ingest", "sources", "outputs", "daemon",
    "horizontal_m", "vertical_m", "warning_s", "caution_s", "advisory_s", "caution_factor",
    "advisory_factor", "check", "hold_s", "stale_s", "require_checksum", "max_line",
    "name", "url", "baud", "board", "default", "red", "blue",
)  # fmt: skip
_URLS = ("/dev/ttyUSB0", "tcp://h:1", "tcp-listen://:x", "udp://[::1]:5", "file:///x", "gpsd://", "loop://")


def value_from(r: _Reader, depth: int = 0) -> Any:
    """A TOML-like value (what tomllib can return) built from fuzz bytes."""
    k = r.byte() % (10 if depth < 4 else 7)
    if k == 0:
        return r.byte() & 1 == 1
    if k == 1:
        return r.uint(2) - 1000
    if k == 2:
        return (-1) ** r.byte() * 10 ** (r.byte() % 12 * 40)  # up to 10**440
    if k == 3:
        return (float("nan"), float("inf"), -float("inf"), 1e308, -0.0, 0.5, 1.5, 2.0)[r.byte() % 8]
    if k == 4:
        return r.uint(3) / 97.0
    if k == 5:
        return r.text() if r.byte() & 1 else _URLS[r.byte() % len(_URLS)]
    if k == 6:
        return _CONFIG_KEYS[r.byte() % len(_CONFIG_KEYS)]
    if k in (7, 8):
        return [value_from(r, depth + 1) for _ in range(r.byte() % 4)]
    return table_from(r, depth + 1)


def table_from(r: _Reader, depth: int = 0) -> dict[str, Any]:
    """A TOML-like table built from fuzz bytes; keys mostly the ones the config knows."""
    d: dict[str, Any] = {}
    for _ in range(r.byte() % 6):
        b = r.byte()
        key = _CONFIG_KEYS[b % len(_CONFIG_KEYS)] if b < 230 else r.text(max_len=8)
        d[key] = value_from(r, depth + 1)
    return d


def one_config(data: bytes) -> None:
    """Config target: load_config on raw text; parse_config/parse_sources on built tables."""
    if not data:
        return
    if data[0] & 1:
        check_config_text(data[1:])
    else:
        check_config_data(table_from(_Reader(data[1:])))


def one_mqtt(data: bytes) -> None:
    """MQTT target: decode_track / decode_status on a raw payload."""
    check_mqtt(data)


ONE = {"ingest": one_ingest, "protocol": one_protocol, "config": one_config, "mqtt": one_mqtt}


# ---- seed corpora -----------------------------------------------------------------------------


def toml_examples() -> list[bytes]:
    """Every fenced TOML example of the docs and the config module docstring."""
    out = []
    for md in sorted((ROOT / "docs").glob("*.md")):
        for block in re.findall(r"```(?:toml)?\n(.*?)```", md.read_text(), re.S):
            if re.search(r"^\[", block, re.M) and "=" in block:
                out.append(block.encode())
    import sepmon.core.config

    doc = sepmon.core.config.__doc__ or ""
    out.append(doc.split("Example::", 1)[-1].encode())
    return out


def seeds(target: str) -> list[bytes]:
    """Seed corpus of one target (without the saved crashers)."""
    if target == "ingest":
        out = []
        for rec in real_recordings() + sim_recordings():
            out += split_seed(rec)
        return out
    if target == "protocol":
        lines = [line for line in real_lines() if line.startswith(b"$PSEP")]
        msgs: list[protocol.Message] = [
            protocol.Identity(1, "e661", "0.1.0", "pico"),
            protocol.Status(1000, 5, 1, 0, 190000),
            protocol.Ack(7),
            protocol.AlertCommand(7, 3, 271.0, 850.0, 1500),
            protocol.AlertCommand(8, 0, None, None, 60000),
            *(protocol.SelfTest(n) for n in protocol.SELFTEST_NAMES),
        ]
        wires = [protocol.encode(m) for m in msgs] + lines
        out = [b"\x00" + w for w in wires] + [b"\x02" + w for w in wires]
        out += [b"\x01" + w[5:].split(b"*")[0] for w in wires]
        out += [b"\x02" + piece for rec in real_recordings()[:12] for piece in split_seed(rec, 200)[:2]]
        out += [b"\x03" + bytes(range(i, i + 40)) for i in range(5)]
        out += [b"\x04" + bytes(range(i, i + 40)) for i in range(3)]
        return out
    if target == "config":
        return [b"\x01" + t for t in toml_examples()] + [b"\x00" + bytes(range(i, 64 + i)) for i in range(8)]
    if target == "mqtt":
        from sepmon.core.model import Fix

        fix = Fix("alpha", 1710496800.2, 48.5, 11.25, 547.0, 5.1, 90.0, 1, 0.9, 8, 1710496800.3)
        return [
            mqttcodec.encode_track(fix),
            mqttcodec.encode_track(Fix("b/c+#%", 1e9, -90.0, 180.0, None, None, None, 6, None, None)),
            mqttcodec.encode_status("site", "online", 1710496800.0),
            mqttcodec.encode_status("site", "offline"),
        ]
    raise KeyError(target)
