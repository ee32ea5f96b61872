"""Per-board state on the host: identity, status, alert sequence numbers and acknowledgements.

Pure: it turns the board's ``$PSEP`` lines into events and threats into
``$PSEPA`` bytes; the daemon does the writing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from sepmon.boardlink.protocol import (
    SEQ_MAX,
    Ack,
    AlertCommand,
    Identity,
    Status,
    alert_flags,
    encode,
    try_decode,
)
from sepmon.core.model import Event, Level, Threat
from sepmon.core.picture import BoardEntry

ALERT_TTL_MS = 3000  # three missed heartbeats and the board shows "monitor offline"
ACK_TIMEOUT_S = 3.0


@dataclass
class BoardLink:
    """What the host knows about the board on one port."""

    source: str
    identity: Identity | None = None
    status: Status | None = None
    status_t: float = -math.inf
    seq: int = 0
    sent: dict[int, float] = field(default_factory=dict)  # seq → time sent, bounded
    last_sent_t: float = -math.inf
    last_ack_t: float = -math.inf
    acks: int = 0
    bad_lines: int = 0
    silent: bool = False
    last_level: Level = Level.NONE
    last_flags: str = ""

    def on_line(self, line: str, now: float) -> list[Event]:
        """Take one checksum-valid ``$PSEP`` line from the board."""
        msg = try_decode(line)
        if isinstance(msg, Identity):
            changed = msg != self.identity
            self.identity = msg
            if changed:
                detail = (
                    f"id {msg.board_id} firmware {msg.fw_version} profile {msg.profile} proto {msg.proto}"
                )
                return [Event(t=now, type="board", a=self.source, detail=detail)]
        elif isinstance(msg, Status):
            self.status, self.status_t = msg, now
        elif isinstance(msg, Ack):
            sent_t = self.sent.pop(msg.seq, None)
            if sent_t is not None:
                # Acks come in order: whatever was sent before this one is superseded, not pending.
                for seq in [s for s, t in self.sent.items() if t <= sent_t]:
                    del self.sent[seq]
                self.acks += 1
                self.last_ack_t = now
                if self.silent:
                    self.silent = False
                    return [Event(t=now, type="board_acking", a=self.source, detail="acknowledging again")]
        else:
            self.bad_lines += 1
        return []

    def alert(self, threat: Threat, now: float) -> bytes:
        """The next ``$PSEPA`` for this board's vehicle (also the heartbeat).

        Its flags say when the host is not really watching: ``N`` no current
        position for this vehicle, ``L`` a counterpart that matters is lost; at
        level 0 the board then shows "degraded", never "clear".
        """
        self.seq = self.seq % SEQ_MAX + 1
        has_intruder = threat.level > Level.NONE and math.isfinite(threat.range_m)
        cmd = AlertCommand(
            seq=self.seq,
            level=int(threat.level),
            bearing_deg=round(threat.bearing_deg) % 360 if has_intruder else None,
            range_m=round(threat.range_m) if has_intruder else None,
            ttl_ms=ALERT_TTL_MS,
            flags=alert_flags(own_unknown=threat.own_unknown, traffic_lost=threat.traffic_lost),
        )
        self.sent[self.seq] = now
        while len(self.sent) > 32:
            del self.sent[next(iter(self.sent))]
        self.last_sent_t = now
        self.last_level = threat.level
        self.last_flags = cmd.flags
        return encode(cmd)

    def check(self, now: float) -> list[Event]:
        """Report (once) a sepmon board (one that has identified) that stopped acknowledging."""
        oldest = min(self.sent.values(), default=math.inf)
        if self.identity is not None and not self.silent and now - oldest > ACK_TIMEOUT_S:
            self.silent = True
            return [Event(t=now, type="board_silent", a=self.source, detail="alerts not acknowledged")]
        return []

    def entry(self) -> BoardEntry:
        """What the host knows of this board and last told it, for the picture."""
        ident, status = self.identity, self.status
        return BoardEntry(
            source=self.source,
            board_id=ident.board_id if ident else None,
            fw_version=ident.fw_version if ident else None,
            profile=ident.profile if ident else None,
            proto=ident.proto if ident else None,
            status_t=self.status_t,
            uptime_ms=status.uptime_ms if status else None,
            lines_dropped=status.lines_dropped if status else None,
            gps_silent_ms=status.gps_silent_ms if status else None,
            acks=self.acks,
            acking=not self.silent,
            bad_lines=self.bad_lines,
            told_level=self.last_level,
            told_flags=self.last_flags,
            told_t=self.last_sent_t,
        )
