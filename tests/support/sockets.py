"""The sockets a process tree listens on, to check that local services stay on loopback."""

from __future__ import annotations

import ipaddress

import psutil


def listening(pid: int) -> set[tuple[str, int]]:
    """``(address, port)`` of every listening TCP socket of ``pid`` and its descendants."""
    leader = psutil.Process(pid)
    found: set[tuple[str, int]] = set()
    for proc in [leader, *leader.children(recursive=True)]:
        try:
            connections = proc.net_connections(kind="inet")
        except psutil.NoSuchProcess:  # a short-lived helper process ended meanwhile
            continue
        found |= {(c.laddr.ip, c.laddr.port) for c in connections if c.status == psutil.CONN_LISTEN}
    return found


def loopback(ip: str) -> bool:
    """Whether ``ip`` is a loopback address; Java shows 127.0.0.1 as ``::ffff:127.0.0.1``."""
    address = ipaddress.ip_address(ip)
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback
