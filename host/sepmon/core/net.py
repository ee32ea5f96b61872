"""Network address policy shared by links (listeners) and outputs (servers): pure, no sockets."""

from __future__ import annotations

import ipaddress


def exposed(host: str) -> bool:
    """True when listening on ``host`` is reachable from other machines (not a loopback address)."""
    if host.lower() == "localhost":
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True  # a name: whatever it resolves to, assume it is reachable
