"""MQTT in: the tracks of trusted sites, taken as fixes (the receiving half of ``[outputs.mqtt]``).

It shares the broker session (:class:`sepmon.transport.mqtt.MqttSession`) with the
MQTT output, which publishes. Each trusted site's ``track`` messages are decoded
strictly (:mod:`sepmon.core.mqttcodec`) and dropped with a counted reason when bad,
late, duplicate, from the future, or in conflict with a local source — every drop
also goes to the daemon's dropped-input path (``host.dropped``: event log, live view,
exit statistics) under ``mqtt:<site>``; the others go to the daemon with
``host.inject_fixes``, all the fixes of one batch of received messages at once (one
evaluation, as for one read of a serial port). ``status`` messages update
:attr:`MqttLink.peers`; a trusted site without one ``PEER_WAIT_S`` after we
subscribed is reported once (``mqtt_peer``).
"""

from __future__ import annotations

import asyncio
from collections import Counter

from sepmon.core import mqttcodec as codec
from sepmon.core.model import Fix
from sepmon.links.base import FeedHost
from sepmon.transport.mqtt import PEER_WAIT_S, MqttSession

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
        self._batch: list[Fix] = []
        self._status_seen: set[str] = set()  # trusted sites whose status came since we connected
        self._peer_warned: set[str] = set()
        self._peer_check: asyncio.TimerHandle | None = None

    @property
    def stats(self) -> Counter[str]:
        """The session's counters (shared with the output)."""
        return self.session.stats

    async def start(self, host: FeedHost) -> None:
        """Take messages from the session (and start it, if the output has not)."""
        self._host = host
        self.session.local.update(host.local_sources)
        self.session.on_message = self._handle
        self.session.on_drained = self._inject_batch
        self.session.on_drop = host.dropped
        self.session.add_on_connected(self._connected)
        await self.session.start(host.clock, host.report)

    async def stop(self) -> None:
        """Stop taking messages and close the session (the output may have already)."""
        self.session.on_message = None
        self.session.on_drained = None
        if self._peer_check is not None:
            self._peer_check.cancel()
        await self.session.stop()

    def _connected(self) -> None:
        """After each (re)connection: look for the trusted sites' status in a while."""
        self._status_seen.clear()
        if self._peer_check is not None:
            self._peer_check.cancel()
        if self.opts.trust:
            self._peer_check = asyncio.get_running_loop().call_later(PEER_WAIT_S, self._check_peers)

    def _check_peers(self) -> None:
        self._peer_check = None
        if not self.session.connected:
            return
        o = self.opts
        who = f"user {o.username}" if o.username is not None else "an anonymous client"
        for site in o.trust:
            if site in self._status_seen or site in self._peer_warned:
                continue
            self._peer_warned.add(site)
            self.session.report(
                "mqtt_peer",
                f"no status from trusted site {site} {PEER_WAIT_S:.0f} s after subscribing: it never "
                f"connected to {o.broker}, or the broker's ACL does not let {who} read {o.root}/{site}/#",
            )

    def _handle(self, topic: str, payload: bytes) -> None:
        parts = topic.split("/")
        root_n = self.opts.root.count("/") + 1
        rest = parts[root_n:]
        if "/".join(parts[:root_n]) != self.opts.root or len(rest) < 2 or rest[0] not in self.opts.trust:
            raise codec.BadMessage("untrusted", topic)
        site = rest[0]
        if rest[1:] == ["status"]:
            state = codec.decode_status(payload)
            self._status_seen.add(site)
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

    def _drop(self, site: str, reason: str) -> None:
        self.session.stats[reason] += 1
        self.session.dropped(f"mqtt:{site}", reason)

    def _inject(self, site: str, fix: Fix) -> None:
        """Check a remote fix; a good one joins the batch handed over after this drain."""
        host = self._host
        if host is None:
            return
        name = f"{site}:{fix.source}" if self.opts.prefix else fix.source
        if name in self.session.local or self._owner.setdefault(name, site) != site:
            self._drop(site, "conflict")
            if name not in self._reported:
                self._reported.add(name)
                self.session.report(
                    "mqtt_conflict", f"site {site} sends {name!r}, a name already in use: ignored"
                )
            return
        if name not in self.remote_last_t and len(self.remote_last_t) >= MAX_REMOTE_SOURCES:
            self._drop(site, "too_many_sources")
            return
        last = self.remote_last_t.get(name)
        if last is not None and fix.t <= last:
            self._drop(site, "stale")  # duplicate or out of order
            return
        now = host.clock()
        if self.opts.max_age_s > 0 and abs(fix.t - now) > self.opts.max_age_s:
            # Too old to matter, or from the future (a peer with a broken clock would
            # otherwise make every later fix look like a duplicate).
            self._drop(site, "late" if fix.t < now else "future")
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
            geoid_sep_m=fix.geoid_sep_m,
            eph_m=fix.eph_m,
            epv_m=fix.epv_m,
        )
        self._batch.append(fix)

    def _inject_batch(self) -> None:
        """Every fix of the drained messages to the daemon at once (never re-published)."""
        host, batch = self._host, self._batch
        self._batch = []
        if host is None or not batch:
            return
        self.session.injecting = True
        try:
            host.inject_fixes(batch)
        finally:
            self.session.injecting = False
        self.session.stats["injected"] += len(batch)
