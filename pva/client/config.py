"""Client configuration: ``EPICS_PVA_*`` variables or an explicit dict.

As p4p's ``Context(conf=..., useenv=...)``: with ``useenv=True`` (default)
the environment is read and ``conf`` entries override it; with
``useenv=False`` only ``conf`` counts.

=========================== ==============================================
variable                    meaning (default)
=========================== ==============================================
EPICS_PVA_ADDR_LIST         search destinations, ``host[:port]`` separated by
                            spaces (empty)
EPICS_PVA_AUTO_ADDR_LIST    ``YES`` adds the broadcast address of every
                            interface of EPICS_PVA_INTF_ADDR_LIST (YES)
EPICS_PVA_INTF_ADDR_LIST    interfaces (addresses) to search through and hear
                            beacons on (``0.0.0.0``: all)
EPICS_PVA_BROADCAST_PORT    UDP port searches go to when an entry names none,
                            and where beacons are heard (5076)
EPICS_PVA_SERVER_PORT       TCP port of name servers named without one (5075)
EPICS_PVA_NAME_SERVERS      servers searched over TCP, ``host[:port]`` (empty)
EPICS_PVA_CONN_TMO          seconds of silence before a connection is
                            declared dead; an echo is sent at half of it (30)
=========================== ==============================================

The broadcast addresses are those EPICS base and pvxs find (see
:func:`pva.io.netif.broadcast_addresses`): for ``0.0.0.0`` those of every
interface that is up and not loopback, for ``127.0.0.1`` the address
itself; where interfaces cannot be listed, ``255.255.255.255``.  A search
to an address of the list that is not one of these broadcast addresses (or
a multicast group, or ``255.255.255.255``) is flagged unicast.
"""
from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from typing import FrozenSet, List, Mapping, Optional, Tuple

from .._forwarding import is_multicast
from ..io.budget import MiB, MemoryLimits
from ..io.netif import ANY, LIMITED_BROADCAST, broadcast_addresses, interfaces
from .._wire import DEFAULT_LIMITS, Limits

__all__ = ["ClientConfig", "parse_addr_list"]

Address = Tuple[str, int]


def _resolve(host: str) -> str:
    try:
        return socket.gethostbyname(host)
    except OSError:
        return host


def parse_addr_list(text: str, default_port: int) -> List[Address]:
    """``'a b:1234'`` -> ``[(ip_a, default_port), (ip_b, 1234)]`` (bad entries skipped)."""
    out: List[Address] = []
    for item in text.replace(",", " ").split():
        host, sep, port = item.rpartition(":")
        if not sep:
            host, port = item, ""
        try:
            p = int(port) if port else default_port
        except ValueError:
            continue
        if not host:
            continue
        out.append((_resolve(host), p))
    return out


def _yes(text: str) -> bool:
    return text.strip().upper() in ("YES", "Y", "TRUE", "1", "ON")


#: the client's default memory budgets (a server's messages may be up to the
#: framing's 128 MiB once it validated)
CLIENT_MEMORY = MemoryLimits(total=512 * MiB, per_connection=256 * MiB,
                             validation_timeout=10.0)


@dataclass
class ClientConfig:
    """Resolved client configuration (see the module doc for the variables)."""

    addr_list: List[Address] = field(default_factory=list)
    #: local interface addresses (EPICS_PVA_INTF_ADDR_LIST)
    interfaces: List[str] = field(default_factory=lambda: [ANY])
    #: the broadcast addresses of this host's interfaces (searches to them
    #: are not flagged unicast)
    broadcasts: FrozenSet[str] = field(
        default_factory=lambda: frozenset(broadcast_addresses(ANY)))
    name_servers: List[Address] = field(default_factory=list)
    broadcast_port: int = 5076
    server_port: int = 5075
    conn_tmo: float = 30.0
    #: first and largest interval between searches for an unresolved name
    search_min: float = 0.05
    search_max: float = 5.0
    #: what one message from a server may make the decoder build (past it
    #: the connection closes; see docs/limits.rst); read when a connection opens
    limits: Limits = DEFAULT_LIMITS
    #: the memory budgets of the connections to servers: a server that has
    #: not validated the connection may make the client buffer only
    #: ``unvalidated_message`` bytes and must do so within
    #: ``validation_timeout``; the receive buffers of all connections together
    #: count against ``total`` (see docs/limits.rst)
    memory: MemoryLimits = CLIENT_MEMORY

    @classmethod
    def from_conf(cls, conf: Optional[Mapping[str, str]] = None, useenv: bool = True
                  ) -> "ClientConfig":
        env = {}
        if useenv:
            env.update({k: v for k, v in os.environ.items() if k.startswith("EPICS_PVA")})
        env.update({k: str(v) for k, v in (conf or {}).items()})
        bport = int(env.get("EPICS_PVA_BROADCAST_PORT", 5076) or 5076)
        sport = int(env.get("EPICS_PVA_SERVER_PORT", 5075) or 5075)
        addrs = parse_addr_list(env.get("EPICS_PVA_ADDR_LIST", ""), bport)
        intfs = [h for h, _ in parse_addr_list(env.get("EPICS_PVA_INTF_ADDR_LIST", ""), 0)]
        intfs = list(dict.fromkeys(intfs)) or [ANY]
        listed = interfaces()
        bcasts = frozenset(broadcast_addresses(ANY, listed if listed else None))
        if _yes(env.get("EPICS_PVA_AUTO_ADDR_LIST", "YES")):
            for intf in intfs:
                for b in broadcast_addresses(intf, listed if listed else None):
                    if (b, bport) not in addrs:
                        addrs.append((b, bport))
        names = parse_addr_list(env.get("EPICS_PVA_NAME_SERVERS", ""), sport)
        try:
            tmo = float(env.get("EPICS_PVA_CONN_TMO", 30.0))
        except ValueError:
            tmo = 30.0
        return cls(addr_list=addrs, interfaces=intfs, broadcasts=bcasts,
                   name_servers=names, broadcast_port=bport,
                   server_port=sport, conn_tmo=max(tmo, 0.1))

    def is_unicast(self, host: str) -> bool:
        """Whether a search to ``host`` is flagged unicast (as pvxs decides)."""
        return not (host in self.broadcasts or host == LIMITED_BROADCAST
                    or is_multicast(host))

    def to_conf(self) -> dict:
        """The ``EPICS_PVA_*`` dict of this configuration (auto list off)."""
        return {
            "EPICS_PVA_ADDR_LIST": " ".join(f"{h}:{p}" for h, p in self.addr_list),
            "EPICS_PVA_AUTO_ADDR_LIST": "NO",
            "EPICS_PVA_INTF_ADDR_LIST": " ".join(self.interfaces),
            "EPICS_PVA_BROADCAST_PORT": str(self.broadcast_port),
            "EPICS_PVA_SERVER_PORT": str(self.server_port),
            "EPICS_PVA_NAME_SERVERS": " ".join(f"{h}:{p}" for h, p in self.name_servers),
            "EPICS_PVA_CONN_TMO": str(self.conn_tmo),
        }
