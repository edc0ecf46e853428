"""The asyncio pvAccess server.

Structure (after trio's ``serve_listeners``): :class:`Context` binds one TCP
listener per interface (all on one port) and listens on the UDP search port
(a :class:`~pva.io.udp.UDPCollector`: one socket on ``0.0.0.0`` that learns
each datagram's destination and forwards unicast searches to the other
listeners on this host, as pvxs does).  Everything else is loop-free: the
:class:`~pva.server.core.ServerCore` makes a :class:`pva.io.driver.Connection`
per accepted client, driving a :class:`~pva.server.circuit.ServerCircuit`,
answers searches and times the beacons; this module binds sockets, runs the
data wrappers' startup and shutdown hooks and waits.
"""
from __future__ import annotations

import asyncio
import errno
import inspect
import logging
from typing import Any, Callable, Dict, List, Mapping, Optional

from .._forwarding import LOCAL_MCAST_GROUP, DatagramRouter, Received
from ..io.aio import AsyncioAsyncLayer, AsyncioReactor
from ..io.netif import InterfaceMap, broadcast_addresses
from ..io.udp import UDPCollector
from .config import ServerConfig, ServerLimits
from .core import ServerCore

__all__ = ["Context", "start_server", "run", "AsyncioAsyncLayer"]

log = logging.getLogger("pva.server")


async def _maybe_await(value: Any) -> Any:
    if inspect.isawaitable(value):
        return await value
    return value


class Context:
    """An asyncio pvAccess server for ``pvdb`` (PV name -> data wrapper).

    Parameters
    ----------
    pvdb : dict
        PV name to :class:`~pva.server.common.DataWrapperBase` (or a plain pva
        dataclass instance, which gets wrapped).
    interfaces : list of str, optional
        Overrides EPICS_PVAS_INTF_ADDR_LIST.
    conf : dict, optional
        EPICS_PVA* settings overriding the environment.
    useenv : bool
        Read the environment at all (``False``: only ``conf`` and defaults).
    config : ServerConfig, optional
        A complete configuration (``conf``/``useenv`` are then ignored).
    limits : ServerLimits, optional
        Per-circuit limits.
    authorize : callable, optional
        ``authorize(authorization: dict)`` (may be async) called when a client
        validates its connection, with ``method``, ``user``, ``host`` and
        ``peer``; raise to refuse the connection.

    Attributes
    ----------
    port, udp_port : int
        The bound TCP and UDP ports (known once :meth:`start` returned).
    """

    def __init__(self, pvdb: Mapping[str, Any], *, interfaces: Optional[List[str]] = None,
                 conf: Optional[Mapping[str, str]] = None, useenv: bool = True,
                 config: Optional[ServerConfig] = None, limits: Optional[ServerLimits] = None,
                 authorize: Optional[Callable[[dict], Any]] = None):
        self.config = config or ServerConfig.from_env(conf, useenv=useenv, limits=limits)
        if limits is not None:
            self.config.limits = limits
        if interfaces:
            self.config.interfaces = list(interfaces)
        self._pvdb = pvdb
        self._authorize = authorize
        self.core: Optional[ServerCore] = None      # made by start(), on the running loop
        self.port: Optional[int] = None
        self.udp_port: Optional[int] = None
        self._servers: list = []
        self._udp: List[UDPCollector] = []
        #: where beacons go (known once :meth:`start` returned)
        self.beacon_destinations: List[tuple] = []
        self._hook_tasks: list = []
        self._stopped: Optional[asyncio.Event] = None
        self.started = False
        # the data wrappers, checked now (a bad pvdb fails here, not at start)
        from .common import wrap_pvdb
        self.pvdb = wrap_pvdb(pvdb)

    @property
    def guid(self) -> bytes:
        """The server GUID."""
        return self._ensure_core().guid

    @property
    def circuits(self) -> set:
        """The circuits of the live client connections."""
        return self._ensure_core().circuits

    @property
    def authorize(self) -> Optional[Callable[[dict], Any]]:
        return self._authorize

    def _ensure_core(self) -> ServerCore:
        if self.core is None:
            self.core = ServerCore(self.pvdb, self.config,
                                   AsyncioReactor(asyncio.get_event_loop()),
                                   authorize=self._authorize)
        return self.core

    def client_conf(self) -> Dict[str, str]:
        """A client configuration (p4p ``conf=``) that reaches this server by unicast."""
        return self.config.client_conf(self.port, self.udp_port)

    # ------------------------------------------------------------ start/stop
    async def start(self) -> None:
        """Bind the TCP and UDP sockets and start serving (returns when ready)."""
        core = self._ensure_core()
        reactor = core.reactor
        self._stopped = asyncio.Event()
        cfg = self.config
        port = cfg.tcp_port
        for intf in cfg.interfaces:
            try:
                srv = await reactor.listen_tcp(intf, port, core.connection)
            except OSError as ex:
                if ex.errno != errno.EADDRINUSE or port == 0 or self._servers:
                    raise
                log.warning("TCP port %d is in use; using a free port", port)
                srv = await reactor.listen_tcp(intf, 0, core.connection)
            port = srv.sockets[0].getsockname()[1]
            self._servers.append(srv)
        self.port = port
        await self._open_udp()
        core.broadcaster.server_address = (
            cfg.interfaces[0] if len(cfg.interfaces) == 1 else "0.0.0.0", port)
        if self._udp:
            core.start_beacons(self._udp[0].sendto, self.beacon_destinations,
                               cfg.beacon_period)
        self.started = True
        log.info("pva server %s listening on TCP %s:%d, UDP %d", self.guid.hex(),
                 ",".join(cfg.interfaces), port, self.udp_port)

    async def run(self, *, log_pv_names: bool = False, startup_hook=None) -> None:
        """Start, run the startup hooks of the data wrappers, serve until :meth:`stop`."""
        if not self.started:
            await self.start()
        if log_pv_names:
            log.info("PVs available:\n%s", "\n".join(sorted(self.pvdb)))
        async_lib = AsyncioAsyncLayer()
        for entry in self.pvdb.values():
            hook = getattr(entry, "server_startup", None)
            if hook is not None:
                self._hook_tasks.append(asyncio.ensure_future(self._run_hook(hook, async_lib)))
        if startup_hook is not None:
            await _maybe_await(startup_hook(self))
        try:
            await self._stopped.wait()
        finally:
            await self._shutdown(async_lib)

    async def _run_hook(self, hook, async_lib) -> None:
        try:
            await hook(async_lib)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("startup hook %s failed", hook)

    async def _shutdown(self, async_lib) -> None:
        for t in self._hook_tasks:
            t.cancel()
        self._hook_tasks.clear()
        for entry in self.pvdb.values():
            hook = getattr(entry, "server_shutdown", None)
            if hook is not None:
                try:
                    await hook(async_lib)
                except Exception:
                    log.exception("shutdown hook %s failed", hook)
        await self.close()

    def stop(self) -> None:
        """Ask :meth:`run` to return."""
        if self._stopped is not None:
            self._stopped.set()

    async def close(self) -> None:
        """Close every socket and connection."""
        core = self.core
        for srv in self._servers:
            srv.close()
        for coll in self._udp:
            coll.close()
        if core is not None:
            core.stop_beacons()
            await self._close_connections(core)
            tasks = core.tasks()
        else:
            tasks = []
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        for srv in self._servers:
            await srv.wait_closed()
        self._servers.clear()
        self._udp.clear()
        self.started = False

    @staticmethod
    async def _close_connections(core: ServerCore) -> None:
        loop = asyncio.get_running_loop()
        waits = []
        for circuit in core.close_connections("server stopping"):
            conn = circuit.conn
            fut = loop.create_future()
            conn.add_close_callback(lambda _c, f=fut: f.done() or f.set_result(None))
            waits.append((conn, fut))
        if not waits:
            return
        _, pending = await asyncio.wait([f for _, f in waits], timeout=2)
        if pending:   # clients that do not read: do not wait for their buffers
            for conn, fut in waits:
                if not fut.done() and conn.transport is not None:
                    conn.transport.abort()
            await asyncio.wait(pending, timeout=2)
        # a teardown whose unsubscribe hook waits: let it finish
        for _ in range(3):
            if not core.circuits:
                break
            await asyncio.sleep(0)

    async def __aenter__(self) -> "Context":
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    # ------------------------------------------------------------ UDP
    async def _open_udp(self) -> None:
        """The search listener(s) on the UDP port (see :mod:`pva.io.udp`).

        With destination information (Linux) one socket on ``0.0.0.0``
        receives for every interface, and a search is answered only if it
        was sent to one of ``interfaces`` or to one of their broadcast
        addresses (as pvxs); otherwise one socket per interface.
        """
        cfg = self.config
        core = self.core
        ifmap = InterfaceMap()
        udp_port = cfg.udp_port
        if "0.0.0.0" in cfg.interfaces:
            core.accept = None
        else:
            accept = set(cfg.interfaces)
            for intf in cfg.interfaces:
                accept.update(broadcast_addresses(intf, ifmap.interfaces))
            core.accept = frozenset(accept)
        for intf in cfg.interfaces:
            coll = UDPCollector(None, udp_port, intf, ifmap, group=LOCAL_MCAST_GROUP)
            coll.handler = DatagramRouter(lambda rx, c=coll: self._on_received(c, rx))
            await coll.open()
            udp_port = coll.port
            self._udp.append(coll)
            if coll.pktinfo:
                break       # bound to 0.0.0.0: one is enough
        self.udp_port = udp_port
        # beacons: the configured list, plus the broadcast address of every
        # interface served (EPICS_PVAS_AUTO_BEACON_ADDR_LIST)
        self.beacon_destinations = cfg.beacon_destinations(udp_port, ifmap.interfaces or None)

    def _on_received(self, collector: UDPCollector, rx: Received) -> None:
        for data, dest in self.core.search_replies(rx):
            try:
                collector.sendto(data, dest, source=rx.reply_from)
            except OSError as ex:
                log.debug("search reply to %s:%d failed: %s", dest[0], dest[1], ex)


async def start_server(pvdb: Mapping[str, Any], *, interfaces: Optional[List[str]] = None,
                       log_pv_names: bool = False, **kwargs) -> None:
    """Start an asyncio server for ``pvdb`` and serve until cancelled."""
    ctx = Context(pvdb, interfaces=interfaces, **kwargs)
    await ctx.run(log_pv_names=log_pv_names)


def run(pvdb: Mapping[str, Any], *, interfaces: Optional[List[str]] = None,
        log_pv_names: bool = False, **kwargs) -> None:
    """Serve ``pvdb`` until interrupted (Ctrl-C), then exit cleanly."""
    try:
        asyncio.run(start_server(pvdb, interfaces=interfaces, log_pv_names=log_pv_names,
                                 **kwargs))
    except KeyboardInterrupt:
        pass
