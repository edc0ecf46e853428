"""Server configuration from ``EPICS_PVAS_*`` / ``EPICS_PVA_*`` variables.

The variables and their fall-backs (as pvxs reads them):

=================================  ========================================  =========
setting                            variables (first found wins)              default
=================================  ========================================  =========
interfaces to bind                 EPICS_PVAS_INTF_ADDR_LIST                 0.0.0.0
TCP port (0 = any free port)       EPICS_PVAS_SERVER_PORT, EPICS_PVA_SERVER_PORT  5075
UDP search port                    EPICS_PVAS_BROADCAST_PORT, EPICS_PVA_BROADCAST_PORT  5076
beacon destinations                EPICS_PVAS_BEACON_ADDR_LIST, EPICS_PVA_ADDR_LIST  (empty)
interfaces' broadcasts to beacons  EPICS_PVAS_AUTO_BEACON_ADDR_LIST, EPICS_PVA_AUTO_ADDR_LIST  YES
beacon period (s)                  EPICS_PVAS_BEACON_PERIOD, EPICS_PVA_BEACON_PERIOD  15
inactivity timeout (s)             EPICS_PVA_CONN_TMO                        30
=================================  ========================================  =========

``conf`` (a dict of those names) overrides the environment; ``useenv=False``
ignores the environment entirely (as p4p's ``Server(conf=..., useenv=False)``).
"""
from __future__ import annotations

import dataclasses
import os
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from ..io.budget import MemoryLimits
from ..io.netif import Interface, broadcast_addresses
from .._wire import DEFAULT_LIMITS, Limits

__all__ = ["ServerConfig", "ServerLimits"]


@dataclasses.dataclass
class ServerLimits:
    """Per-circuit resource limits, checked before anything is allocated.

    Attributes
    ----------
    max_message_size : int
        Largest application message accepted (from its header, before buffering).
    max_channels : int
        Channels one circuit may hold open.
    max_operations : int
        Live requests (get/put/monitor/rpc/...) one circuit may hold.
    max_queue_size : int
        Upper bound on a monitor's ``queueSize``.
    default_queue_size : int
        Monitor queue size when the client asks for none.
    decode : pva.Limits
        What one message may make the decoder build: string and array
        lengths, nesting depth, members per structure, and the size of type
        descriptions and of whole messages after expanding type-cache
        references (see docs/limits.rst).  Past one, the connection closes.
    memory : pva.io.budget.MemoryLimits
        The byte budgets of each connection and of all of them together:
        buffering and time allowed before validation, channels, operations
        and queued monitor updates (see docs/limits.rst).  Past one a
        request gets an error Status, a monitor squashes its updates, a
        message or connection that does not fit is closed.
    """

    max_message_size: int = 64 * 1024 * 1024
    max_channels: int = 262144
    max_operations: int = 262144
    max_queue_size: int = 1024
    default_queue_size: int = 4
    decode: Limits = DEFAULT_LIMITS
    memory: MemoryLimits = MemoryLimits()


def _split_addr(entry: str, default_port: int) -> Tuple[str, int]:
    host, _, port = entry.partition(":")
    return host, int(port) if port else default_port


def _yes(value: str) -> bool:
    return value.strip().upper() in ("YES", "Y", "TRUE", "1", "ON")


@dataclasses.dataclass
class ServerConfig:
    """Where and how the server listens.

    Use :meth:`from_env` to read the EPICS variables.
    """

    interfaces: List[str] = dataclasses.field(default_factory=lambda: ["0.0.0.0"])
    tcp_port: int = 5075
    udp_port: int = 5076
    beacon_addresses: List[Tuple[str, int]] = dataclasses.field(default_factory=list)
    auto_beacon: bool = True
    beacon_period: float = 15.0
    conn_timeout: float = 30.0
    limits: ServerLimits = dataclasses.field(default_factory=ServerLimits)

    @classmethod
    def from_env(cls, conf: Optional[Mapping[str, str]] = None, *, useenv: bool = True,
                 limits: Optional[ServerLimits] = None) -> "ServerConfig":
        """Build from ``conf`` layered over ``os.environ`` (if ``useenv``)."""
        env: Dict[str, str] = {}
        if useenv:
            env.update({k: v for k, v in os.environ.items() if k.startswith("EPICS_PVA")})
        env.update({k: str(v) for k, v in (conf or {}).items()})

        def get(*names: str, default: str) -> str:
            for n in names:
                v = env.get(n, "").strip()
                if v:
                    return v
            return default

        udp_port = int(get("EPICS_PVAS_BROADCAST_PORT", "EPICS_PVA_BROADCAST_PORT", default="5076"))
        beacons = [_split_addr(e, udp_port) for e in
                   get("EPICS_PVAS_BEACON_ADDR_LIST", "EPICS_PVA_ADDR_LIST", default="").split()]
        return cls(
            interfaces=get("EPICS_PVAS_INTF_ADDR_LIST", default="0.0.0.0").split(),
            tcp_port=int(get("EPICS_PVAS_SERVER_PORT", "EPICS_PVA_SERVER_PORT", default="5075")),
            udp_port=udp_port,
            beacon_addresses=beacons,
            auto_beacon=_yes(get("EPICS_PVAS_AUTO_BEACON_ADDR_LIST", "EPICS_PVA_AUTO_ADDR_LIST",
                                 default="YES")),
            beacon_period=float(get("EPICS_PVAS_BEACON_PERIOD", "EPICS_PVA_BEACON_PERIOD",
                                    default="15")),
            conn_timeout=float(get("EPICS_PVA_CONN_TMO", default="30")),
            limits=limits or ServerLimits(),
        )

    def beacon_destinations(self, udp_port: int,
                            interface_list: Optional[Sequence[Interface]] = None
                            ) -> List[Tuple[str, int]]:
        """Where beacons go: the configured list, plus (auto list) the broadcast
        addresses of the interfaces served, as pvxs expands them.

        ``udp_port`` replaces a port of 0; duplicates are dropped.
        """
        dests = [(h, p or udp_port) for h, p in self.beacon_addresses]
        if self.auto_beacon:
            for intf in self.interfaces:
                dests += [(b, udp_port) for b in broadcast_addresses(intf, interface_list)]
        return list(dict.fromkeys(dests))

    def client_conf(self, tcp_port: int, udp_port: int) -> Dict[str, str]:
        """A client configuration (p4p ``conf=``) reaching this server by unicast.

        The client's own broadcast (beacon) port is left out: give it one
        nobody else binds (a unicast search reaches only one of the sockets
        sharing a port).
        """
        host = self.interfaces[0]
        if host == "0.0.0.0":
            host = "127.0.0.1"
        return {
            "EPICS_PVA_ADDR_LIST": f"{host}:{udp_port}",
            "EPICS_PVA_AUTO_ADDR_LIST": "NO",
            "EPICS_PVA_NAME_SERVERS": "",
        }
