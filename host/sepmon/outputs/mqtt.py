"""``[outputs.mqtt]``, the publishing half: our tracks, alerts and board health to the broker.

Example::

    [outputs.mqtt]
    host = "broker.example.org"
    port = 8883
    site = "siteA"
    trust = ["siteB"]
    username = "siteA"
    password_file = "/etc/sepmon/mqtt-password"   # or password_env = "SEPMON_MQTT_PASSWORD"
    tls = true
    ca_file = "/etc/sepmon/ca.pem"                # optional: the system CAs otherwise
    # cert_file / key_file: client certificate; keepalive = 30; qos = 1; queue = 1000
    # prefix = false   (true: remote sources are named "<site>:<source>")
    # max_age_s = 30   (remote fixes further than this from our clock are dropped; 0: off)

The table configures one broker session (:mod:`sepmon.transport.mqtt`) shared by
this output and the MQTT link (:mod:`sepmon.links.mqtt`), which takes the tracks
of the ``trust``-ed sites as fixes. Every local fix is published under
``<root>/<site>/track/<source>``, level events under ``<root>/<site>/event`` and,
from the picture, each configured source's link and board health (retained)
under ``<root>/<site>/board/<source>``. Fixes the link injected are never
re-published (no loops between sites that trust each other).
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from sepmon.core import mqttcodec as codec
from sepmon.core.model import Event, Fix
from sepmon.core.picture import Picture
from sepmon.outputs.base import OutputHost
from sepmon.transport.mqtt import MqttOptions, MqttSession

BOARD_EVENTS = frozenset({"board", "board_silent", "board_acking", "port_up", "port_down"})


class MqttOutput:
    """The publishing half of the MQTT sharing (see the module docstring)."""

    name = "mqtt"

    def __init__(self, session: MqttSession) -> None:
        self.session = session
        self._last_board_t = -math.inf
        session.add_on_connected(self._on_connected)

    @property
    def opts(self) -> MqttOptions:
        """The validated ``[outputs.mqtt]`` table."""
        return self.session.opts

    @property
    def stats(self) -> Counter[str]:
        """The session's counters (shared with the link)."""
        return self.session.stats

    @property
    def connected(self) -> bool:
        """True while the broker connection is up."""
        return self.session.connected

    @property
    def pending(self) -> int:
        """Messages waiting for the broker."""
        return self.session.pending

    async def start(self, host: OutputHost) -> None:
        """Start the session: its thread connects (and reconnects) in the background."""
        await self.session.start(host.clock, host.report)

    async def stop(self) -> None:
        """Say ``offline`` (retained), disconnect and join the network thread."""
        await self.session.stop()

    def _on_connected(self) -> None:
        self._last_board_t = -math.inf  # retained health again at the next tick

    def on_fix(self, fix: Fix) -> None:
        """Publish a local fix; fixes the MQTT link injected are never re-published."""
        s = self.session
        if s.injecting:
            return
        s.local.add(fix.source)
        s.publish(f"{s.prefix}/track/{codec.topic_level(fix.source)}", codec.encode_track(fix))

    def on_event(self, event: Event, picture: Picture) -> None:
        """Publish level events; board and link events refresh that source's health."""
        if event.type == "level":
            self.session.publish(f"{self.session.prefix}/event", codec.encode_event(self.opts.site, event))
        elif event.type in BOARD_EVENTS:
            self._publish_board(event.a, event.t, picture)

    def on_tick(self, now: float, picture: Picture) -> None:
        """Board health every ``board_interval_s``."""
        if now - self._last_board_t < self.opts.board_interval_s or not self.session.connected:
            return
        self._last_board_t = now
        for src in picture.sources:
            self._publish_board(src.name, now, picture)

    def _publish_board(self, name: str, now: float, picture: Picture) -> None:
        st = picture.source(name)
        if st is None:
            return
        health: dict[str, Any] = {"link_up": st.up, "link_detail": st.detail, "bytes_in": st.bytes_in}
        board = picture.board(name)
        if board is not None:
            has_status = board.uptime_ms is not None
            health.update(
                board_id=board.board_id,
                fw_version=board.fw_version,
                profile=board.profile,
                status_age_s=(now - board.status_t) if has_status else None,
                uptime_ms=board.uptime_ms,
                lines_dropped=board.lines_dropped,
                gps_silent_ms=board.gps_silent_ms,
                acks=board.acks,
                acking=board.acking,
                level=int(board.told_level),
            )
        topic = f"{self.session.prefix}/board/{codec.topic_level(name)}"
        self.session.publish(topic, codec.encode_board(self.opts.site, name, now, health), retain=True)
