"""``[web]`` / ``sepmon run --web [HOST:]PORT``: a live web view of the monitor.

One page (``static/``: HTML, JS and CSS, all served from here, nothing fetched from
anywhere else) draws a scope of the tracks in local coordinates, the pairs at
advisory or above, the boards, the sources and the event log, updated over a
WebSocket from the daemon's :class:`~sepmon.core.picture.Picture` several times a
second. The same page, with a recording inside, is the playback page of
``sepmon report`` (:mod:`sepmon.presentation.playback`).

Configuration::

    [web]
    port = 8642                 # 0: any free port
    bind = "127.0.0.1"          # another address needs a token
    token_file = "/etc/sepmon/web-token"   # or token_env = "SEPMON_WEB_TOKEN"
    interval_s = 0.4            # one picture every interval (0.05 to 0.5; sooner after a level change)
    max_clients = 16
    max_queue = 16              # updates queued per viewer before it is dropped
    backlog = 500               # events a newly opened page is given
    tiles = "https://tile.example.org/{z}/{x}/{y}.png"   # optional map background
    tile_attribution = "© the tile server's data sources"
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sepmon.core.errors import ConfigError
from sepmon.core.model import Minima
from sepmon.outputs.web.server import WebOutput
from sepmon.outputs.web.settings import WebSettings, parse_address, parse_settings

__all__ = ["WebOutput", "WebSettings", "from_config", "parse_address", "parse_settings"]


def from_config(
    where: str, table: Any, address: str | None = None, minima: Minima | None = None
) -> WebOutput | None:
    """The web output of a ``[web]`` table and/or ``--web [HOST:]PORT``; None when neither asks for it.

    ``address`` overrides the table's ``port`` (and ``bind`` when it names a host);
    a table with ``enabled = false`` is still checked.
    """
    if table is not None and not isinstance(table, Mapping):
        raise ConfigError(f"{where}: expected a table ([{where}])")
    t = dict(table or {})
    if address is None:
        if not t:
            return None
        settings = parse_settings(where, t)
        enabled = t.get("enabled", True)
        return WebOutput(settings, minima) if enabled else None
    host, port = parse_address(address)
    t["port"] = port
    if host is not None:
        t["bind"] = host
    t.pop("enabled", None)
    return WebOutput(parse_settings(where, t), minima)
