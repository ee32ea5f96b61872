"""The ``$PSEP*`` sentences between a board and the host (see docs/design.md, docs/firmware.md).

Board → host: ``$PSEPI`` :class:`Identity`, ``$PSEPS`` :class:`Status`, ``$PSEPK``
:class:`Ack`. Host → board: ``$PSEPA`` :class:`AlertCommand`, ``$PSEPT``
:class:`SelfTest`, ``$PSEPG`` :class:`InjectStart` / :class:`InjectKeep` / :class:`InjectStop` (GPS injection,
a desk test mode: in it the host's plain NMEA lines are the board's GPS input).
:func:`encode` gives the wire bytes (``$...*hh\\r\\n``); :func:`decode` parses one line.
The board firmware has its own encoder and decoder (``firmware/sepmon_fw/nmea.py``);
tests hold the two to each other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sepmon.core.checksum import checksum_ok, frame_line, split_checksum

PROTO_VERSION = 1
SEQ_MAX = 65535
TTL_MAX_MS = 60000
INJECT_MAX_MS = 60000  # the longest silence a board in GPS injection mode waits before leaving it
MAX_SENTENCE = 120
UINT_MAX = 9_999_999_999  # the decoder reads at most 10 digits per integer field
# Status counters run for as long as the board does: uptime_ms passes 10 digits after
# 116 days, so status fields may have up to 20.
STATUS_MAX = 10**20 - 1

# Pattern names the firmware knows for $PSEPT (plus "all": every pattern in turn).
# "inject" is what a board in GPS injection mode shows in place of "clear".
PATTERNS = ("clear", "advisory", "caution", "warning", "offline", "nogps", "degraded", "inject")
SELFTEST_NAMES = (*PATTERNS, "all")

_TOKEN = re.compile(r"[A-Za-z0-9._\-]{1,32}\Z")
_UINT = re.compile(r"[0-9]{1,10}\Z")
_STATUS_UINT = re.compile(r"[0-9]{1,20}\Z")
_NUM = re.compile(r"[0-9]{1,10}(\.[0-9]+)?\Z")
_FLAGS = re.compile(r"[A-Z]{0,8}\Z")
_PATTERN = re.compile(r"[a-z_]{1,16}\Z")  # a pattern name in an ack (a newer board's new one too)

# Letters of the $PSEPA flags field, written in this order. A board ignores letters it does not know.
FLAG_OWN_UNKNOWN = "N"  # the host has no current position for this board's vehicle
FLAG_TRAFFIC_LOST = "L"  # a counterpart that matters (alerting, or last seen in the advisory ring) is lost
FLAGS_MAX = 8


def alert_flags(*, own_unknown: bool, traffic_lost: bool) -> str:
    """The flags field for a threat: ``""``, ``"N"``, ``"L"`` or ``"NL"``."""
    return (FLAG_OWN_UNKNOWN if own_unknown else "") + (FLAG_TRAFFIC_LOST if traffic_lost else "")


class ProtocolError(ValueError):
    """A ``$PSEP`` sentence that is malformed: names what is wrong."""


@dataclass(frozen=True, slots=True)
class Identity:
    """``$PSEPI,<proto>,<board_id>,<fw_version>,<profile>``: at boot and every 10 s."""

    proto: int
    board_id: str
    fw_version: str
    profile: str


@dataclass(frozen=True, slots=True)
class Status:
    """``$PSEPS,<uptime_ms>,<lines_fwd>,<lines_dropped>,<gps_silent_ms>,<mem_free>``: every 1 s."""

    uptime_ms: int
    lines_fwd: int
    lines_dropped: int
    gps_silent_ms: int
    mem_free: int


@dataclass(frozen=True, slots=True)
class Ack:
    """``$PSEPK,<seq>[,<pattern>]``: the board took the alert command ``seq``.

    ``pattern`` (GPS injection mode only, else ""): the pattern the board shows with that
    command taken (:data:`PATTERNS`; "inject" stands where "clear" would be).
    """

    seq: int
    pattern: str = ""


@dataclass(frozen=True, slots=True)
class AlertCommand:
    """``$PSEPA,<seq>,<level>,<bearing_deg>,<range_m>,<ttl_ms>[,<flags>]``: alert state and host heartbeat.

    ``bearing_deg`` (0–359, whole degrees on the wire) and ``range_m`` (whole
    metres) are None when there is no intruder; ``ttl_ms`` (1–60000) is how long
    the board may show this level before it falls back to "monitor offline".
    ``flags`` (``[A-Z]{0,8}``): ``N`` the host has no position for the board's
    own vehicle, ``L`` a counterpart that matters is lost; at level 0 either
    makes the board show "degraded" instead of "clear". Unknown letters are
    carried through and ignored by the board. Written only when not empty: the
    5-field sentence is what boards without flag support take (see :func:`encode`).
    """

    seq: int
    level: int
    bearing_deg: float | None
    range_m: float | None
    ttl_ms: int
    flags: str = ""


@dataclass(frozen=True, slots=True)
class SelfTest:
    """``$PSEPT,<pattern>``: play one pattern (or ``all`` in turn) on buzzer and LED."""

    pattern: str


@dataclass(frozen=True, slots=True)
class InjectStart:
    """``$PSEPG,ON,<timeout_ms>``: enter GPS injection mode, or stay in it (re-arm).

    The board leaves the mode by itself when neither an injected line nor another
    ``InjectStart`` came for ``timeout_ms`` (1–60000); a reset always leaves it.
    """

    timeout_ms: int


@dataclass(frozen=True, slots=True)
class InjectKeep:
    """``$PSEPG,KEEP,<timeout_ms>``: re-arm GPS injection mode, never enter it.

    The host's keep-alive while a recording plays (gaps in the recording included): a
    board that was reset meanwhile stays out of the mode, and its acks then say so.
    """

    timeout_ms: int


@dataclass(frozen=True, slots=True)
class InjectStop:
    """``$PSEPG,OFF``: leave GPS injection mode now (the board's GPS UART is its input again)."""


Message = Identity | Status | Ack | AlertCommand | SelfTest | InjectStart | InjectKeep | InjectStop


def _check_uint(name: str, value: int, hi: int | None = None, lo: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProtocolError(f"{name} must be an integer, got {value!r}")
    if value < lo or (hi is not None and value > hi):
        bound = f"{lo}..{hi}" if hi is not None else f">= {lo}"
        raise ProtocolError(f"{name} must be {bound}, got {value}")
    return value


def _check_token(name: str, value: str) -> str:
    if not isinstance(value, str) or not _TOKEN.match(value):
        raise ProtocolError(f"{name} must be 1-32 characters of [A-Za-z0-9._-], got {value!r}")
    return value


def _body(msg: Message) -> str:
    if isinstance(msg, Identity):
        return ",".join(
            (
                "PSEPI",
                str(_check_uint("proto", msg.proto, 999)),
                _check_token("board_id", msg.board_id),
                _check_token("fw_version", msg.fw_version),
                _check_token("profile", msg.profile),
            )
        )
    if isinstance(msg, Status):
        fields = (msg.uptime_ms, msg.lines_fwd, msg.lines_dropped, msg.gps_silent_ms, msg.mem_free)
        names = ("uptime_ms", "lines_fwd", "lines_dropped", "gps_silent_ms", "mem_free")
        return ",".join(
            ("PSEPS", *(str(_check_uint(n, v, STATUS_MAX)) for n, v in zip(names, fields, strict=True)))
        )
    if isinstance(msg, Ack):
        seq = _check_uint("seq", msg.seq, SEQ_MAX)
        if msg.pattern == "":
            return f"PSEPK,{seq}"
        if not isinstance(msg.pattern, str) or not _PATTERN.match(msg.pattern):
            raise ProtocolError(f"pattern must be 1-16 letters a-z or _, got {msg.pattern!r}")
        return f"PSEPK,{seq},{msg.pattern}"
    if isinstance(msg, InjectStart):
        return f"PSEPG,ON,{_check_uint('timeout_ms', msg.timeout_ms, INJECT_MAX_MS, lo=1)}"
    if isinstance(msg, InjectKeep):
        return f"PSEPG,KEEP,{_check_uint('timeout_ms', msg.timeout_ms, INJECT_MAX_MS, lo=1)}"
    if isinstance(msg, InjectStop):
        return "PSEPG,OFF"
    if isinstance(msg, AlertCommand):
        _check_uint("seq", msg.seq, SEQ_MAX)
        _check_uint("level", msg.level, 3)
        _check_uint("ttl_ms", msg.ttl_ms, TTL_MAX_MS, lo=1)
        bearing = ""
        if msg.bearing_deg is not None:
            b = float(msg.bearing_deg)
            if b != b or b in (float("inf"), float("-inf")):
                raise ProtocolError(f"bearing_deg must be finite, got {msg.bearing_deg!r}")
            bearing = str(round(b) % 360)
        rng = ""
        if msg.range_m is not None:
            r = float(msg.range_m)
            if not 0 <= r < UINT_MAX + 0.5:  # rounds to at most 10 digits
                raise ProtocolError(f"range_m must be 0..{UINT_MAX}, got {msg.range_m!r}")
            rng = str(round(r))
        if not isinstance(msg.flags, str) or not _FLAGS.match(msg.flags):
            raise ProtocolError(f"flags must be 0-{FLAGS_MAX} letters A-Z, got {msg.flags!r}")
        # No flags: the 5-field form, which boards from before the flags field accept too.
        flags = f",{msg.flags}" if msg.flags else ""
        return f"PSEPA,{msg.seq},{msg.level},{bearing},{rng},{msg.ttl_ms}{flags}"
    if isinstance(msg, SelfTest):
        if msg.pattern not in SELFTEST_NAMES:
            raise ProtocolError(f"self-test pattern must be one of {', '.join(SELFTEST_NAMES)}")
        return f"PSEPT,{msg.pattern}"
    raise ProtocolError(f"not a sepmon message: {msg!r}")


def encode(msg: Message) -> bytes:
    """The wire form of ``msg``: ``b"$PSEP...*hh\\r\\n"``. Raises ProtocolError for out-of-range fields."""
    line = frame_line(_body(msg))
    if len(line) - 2 > MAX_SENTENCE:
        raise ProtocolError(f"sentence longer than {MAX_SENTENCE} bytes")
    return line


def _uint(name: str, text: str, pattern: re.Pattern[str] = _UINT) -> int:
    if not pattern.match(text):
        raise ProtocolError(f"{name}: not an unsigned integer: {text!r}")
    return int(text)


def _num_or_none(name: str, text: str) -> float | None:
    if text == "":
        return None
    if not _NUM.match(text):
        raise ProtocolError(f"{name}: not a number: {text!r}")
    return float(text)


def decode(line: str | bytes) -> Message | None:
    """Parse one line. None when it is not a ``$PSEP`` sentence at all (e.g. a GPS line).

    Raises :class:`ProtocolError` for a ``$PSEP`` sentence that is malformed:
    missing or wrong checksum, unknown type, wrong field count, bad or
    out-of-range value. Never raises anything else, whatever the input.
    """
    if isinstance(line, bytes | bytearray):
        text = bytes(line).decode("ascii", "replace")
    elif isinstance(line, str):
        text = line
    else:
        return None
    text = text.strip("\r\n")
    if not text.startswith("$PSEP"):
        return None
    if len(text) > MAX_SENTENCE:
        raise ProtocolError(f"sentence longer than {MAX_SENTENCE} bytes")
    if not text.isascii() or not text.isprintable():
        raise ProtocolError("sentence has bytes outside printable ASCII")
    body, given = split_checksum(text)
    if given is None:
        raise ProtocolError("checksum missing")
    if not checksum_ok(text):
        raise ProtocolError(f"checksum mismatch or malformed: *{given}")
    fields = body.split(",")
    tag, args = fields[0], fields[1:]

    def want(n: int) -> None:
        if len(args) != n:
            raise ProtocolError(f"{tag}: expected {n} fields, got {len(args)}")

    if tag == "PSEPI":
        want(4)
        for name, v in zip(("board_id", "fw_version", "profile"), args[1:], strict=True):
            if not _TOKEN.match(v):
                raise ProtocolError(f"{tag}: bad {name}: {v!r}")
        return Identity(_uint("proto", args[0]), args[1], args[2], args[3])
    if tag == "PSEPS":
        want(5)
        names = ("uptime_ms", "lines_fwd", "lines_dropped", "gps_silent_ms", "mem_free")
        u, f, d, g, m = (_uint(n, a, _STATUS_UINT) for n, a in zip(names, args, strict=True))
        return Status(u, f, d, g, m)
    if tag == "PSEPK":
        if len(args) == 2 and not _PATTERN.match(args[1]):
            raise ProtocolError(f"{tag}: expected 1 fields, or 2 with a pattern: bad pattern {args[1]!r}")
        if len(args) not in (1, 2):
            raise ProtocolError(f"{tag}: expected 1 fields, or 2 with a pattern name, got {len(args)}")
        seq = _uint("seq", args[0])
        if seq > SEQ_MAX:
            raise ProtocolError(f"seq out of range: {seq}")
        return Ack(seq, args[1] if len(args) == 2 else "")
    if tag == "PSEPG":
        if args == ["OFF"]:
            return InjectStop()
        if len(args) != 2 or args[0] not in ("ON", "KEEP"):
            raise ProtocolError(
                f"{tag}: expected ON,<timeout_ms>, KEEP,<timeout_ms> or OFF, got {','.join(args)!r}"
            )
        if not re.fullmatch(r"[0-9]{1,5}", args[1]):
            raise ProtocolError(f"timeout_ms: not an unsigned integer of at most 5 digits: {args[1]!r}")
        timeout = int(args[1])
        if not 1 <= timeout <= INJECT_MAX_MS:
            raise ProtocolError(f"timeout_ms out of range: {timeout}")
        return InjectStart(timeout) if args[0] == "ON" else InjectKeep(timeout)
    if tag == "PSEPA":
        if len(args) not in (5, 6):  # 5: the form without flags
            raise ProtocolError(f"{tag}: expected 5 or 6 fields, got {len(args)}")
        flags = args[5] if len(args) == 6 else ""
        if not _FLAGS.match(flags):
            raise ProtocolError(f"flags: not 0-{FLAGS_MAX} letters A-Z: {flags!r}")
        seq = _uint("seq", args[0])
        level = _uint("level", args[1])
        bearing = _num_or_none("bearing_deg", args[2])
        rng = _num_or_none("range_m", args[3])
        ttl = _uint("ttl_ms", args[4])
        if seq > SEQ_MAX:
            raise ProtocolError(f"seq out of range: {seq}")
        if level > 3:
            raise ProtocolError(f"level out of range: {level}")
        if bearing is not None and bearing >= 360:
            raise ProtocolError(f"bearing_deg out of range: {bearing}")
        if not 1 <= ttl <= TTL_MAX_MS:
            raise ProtocolError(f"ttl_ms out of range: {ttl}")
        return AlertCommand(seq, level, bearing, rng, ttl, flags)
    if tag == "PSEPT":
        want(1)
        if args[0] not in SELFTEST_NAMES:
            raise ProtocolError(f"unknown self-test pattern: {args[0]!r}")
        return SelfTest(args[0])
    raise ProtocolError(f"unknown sentence type: {tag}")


def try_decode(line: str | bytes) -> Message | None:
    """Like :func:`decode` but None for malformed sentences too: for readers that only count them."""
    try:
        return decode(line)
    except ProtocolError:
        return None
