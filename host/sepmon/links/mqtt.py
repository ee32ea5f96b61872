"""MQTT in: the tracks of trusted sites, taken as fixes (the receiving half of ``[outputs.mqtt]``).

It shares the broker session (:class:`sepmon.transport.mqtt.MqttSession`) with the
MQTT output, which publishes. Each trusted site's ``track`` messages are decoded
strictly (:mod:`sepmon.core.mqttcodec`) and dropped with a counted reason when bad,
late, duplicate, from the future, or in conflict with a local source; the others
go to the daemon with ``host.inject_fix``. ``status`` messages update
:attr:`MqttLink.peers`.
"""

from __future__ import annotations

from collections import Counter

from sepmon.core import mqttcodec as codec
from sepmon.core.model import Fix
from sepmon.links.base import FeedHost
from sepmon.transport.mqtt import MqttSession

MAX_REMOTE_SOURCES = 256


class MqttLink:
    """Remote tracks in, as a feed of the daemon (see :class:`sepmon.links.base.Feed`)."""

    name = "mqtt"

    def __init__(self, session: MqttSession) -> None:
        self.session = session
        self.opts = session.opts
        self.peers: dict[str, str] = {}  # trusted site → online/offline
        self.remote_last_t: dict[str, float] = {}  # injected source name → last fix time
        self._owner: dict[str, str] = {}  # injected source name → site
        self._reported: set[str] = set()
        self._host: FeedHost | None = None

    @property
    def stats(self) -> Counter[str]:
        """The session's counters (shared with the output)."""
        return self.session.stats

    async def start(self, host: FeedHost) -> None:
        """Take messages from the session (and start it, if the output has not)."""
        self._host = host
        self.session.local.update(host.local_sources)
        self.session.on_message = self._handle
        await self.session.start(host.clock, host.report)

    async def stop(self) -> None:
        """Stop taking messages and close the session (the output may have already)."""
        self.session.on_message = None
        await self.session.stop()

    def _handle(self, topic: str, payload: bytes) -> None:
        parts = topic.split("/")
        root_n = self.opts.root.count("/") + 1
        rest = parts[root_n:]
        if "/".join(parts[:root_n]) != self.opts.root or len(rest) < 2 or rest[0] not in self.opts.trust:
            raise codec.BadMessage("untrusted", topic)
        site = rest[0]
        if rest[1:] == ["status"]:
            state = codec.decode_status(payload)
            if self.peers.get(site) != state:
                self.peers[site] = state
                self.session.report("mqtt_peer", f"site {site} {state}")
            return
        if len(rest) != 3 or rest[1] != "track":
            raise codec.BadMessage("topic", topic)
        fix = codec.decode_track(payload)
        try:
            topic_name = codec.name_from_level(rest[2])
        except UnicodeDecodeError:
            raise codec.BadMessage("topic", topic) from None
        if topic_name != fix.source:
            raise codec.BadMessage("topic", "source differs from the topic")
        self._inject(site, fix)

    def _inject(self, site: str, fix: Fix) -> None:
        host = self._host
        if host is None:
            return
        stats = self.session.stats
        name = f"{site}:{fix.source}" if self.opts.prefix else fix.source
        if name in self.session.local or self._owner.setdefault(name, site) != site:
            stats["conflict"] += 1
            if name not in self._reported:
                self._reported.add(name)
                self.session.report(
                    "mqtt_conflict", f"site {site} sends {name!r}, a name already in use: ignored"
                )
            return
        if name not in self.remote_last_t and len(self.remote_last_t) >= MAX_REMOTE_SOURCES:
            stats["too_many_sources"] += 1
            return
        last = self.remote_last_t.get(name)
        if last is not None and fix.t <= last:
            stats["stale"] += 1  # duplicate or out of order
            return
        now = host.clock()
        if self.opts.max_age_s > 0 and abs(fix.t - now) > self.opts.max_age_s:
            # Too old to matter, or from the future (a peer with a broken clock would
            # otherwise make every later fix look like a duplicate).
            stats["late" if fix.t < now else "future"] += 1
            return
        self.remote_last_t[name] = fix.t
        fix = Fix(
            source=name,
            t=fix.t,
            lat=fix.lat,
            lon=fix.lon,
            alt_m=fix.alt_m,
            sog_mps=fix.sog_mps,
            cog_deg=fix.cog_deg,
            quality=fix.quality,
            hdop=fix.hdop,
            sats=fix.sats,
            rx_t=now,
        )
        self.session.injecting = True
        try:
            host.inject_fix(fix)
        finally:
            self.session.injecting = False
        stats["injected"] += 1
