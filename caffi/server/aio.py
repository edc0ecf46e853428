"""The asyncio CA server: sockets, hooks and the run loop.

:class:`Context` binds one TCP listener per interface of
EPICS_CAS_INTF_ADDR_LIST (all on one port: EPICS_CAS_SERVER_PORT, else
EPICS_CA_SERVER_PORT, else any free port when that one is taken, as rsrv
does), listens for searches on the UDP server port (a
:class:`pva.io.udp.UDPCollector`, shared with other servers of the host),
sends beacons (20 ms, doubling up to EPICS_CAS_BEACON_PERIOD, to
EPICS_CAS_BEACON_ADDR_LIST and, unless EPICS_CAS_AUTO_BEACON_ADDR_LIST is
NO, the broadcast addresses), ignores searches from
EPICS_CAS_IGNORE_ADDR_LIST, and runs the PVs' startup, scan and shutdown
hooks.  Everything else is loop-free (:class:`~caffi.server.core.ServerCore`).
"""
import asyncio
import gc
import logging
import socket
from typing import Any, Dict, List, Optional

from pva.io.aio import AsyncioAsyncLayer, AsyncioReactor
from pva.io.udp import UDPCollector

from ..protocol import (get_beacon_address_list, get_environment_variables,
                        get_server_address_list)
from .core import ServerCore, ServerLimits, beacon_delays

__all__ = ["Context", "AsyncioAsyncLayer", "start_server", "run", "freeze_startup_objects"]

log = logging.getLogger("caffi.server")


class Context:
    """An asyncio Channel Access server for ``pvdb`` (PV name -> ChannelData).

    Parameters
    ----------
    pvdb : dict
    interfaces : list of str, optional
        Addresses to listen on (default: EPICS_CAS_INTF_ADDR_LIST, else all).
    access : callable, optional
        ``access(pvname, data, host, user) -> AccessRights`` (see ServerCore).
    limits : ServerLimits, optional
    env : mapping, optional
        EPICS_* variables (default: the environment).
    beacons : bool
        Send beacons.

    Attributes
    ----------
    port, udp_port : int
        The bound TCP and UDP ports (after :meth:`start`).
    """

    def __init__(self, pvdb, interfaces: Optional[List[str]] = None, *, access=None,
                 limits: Optional[ServerLimits] = None, env=None, beacons: bool = True):
        self._raw_env = env
        self.env = get_environment_variables(env)
        self.pvdb = pvdb
        self.interfaces = interfaces or get_server_address_list(env)
        self.access = access
        self.limits = limits
        self.beacons = beacons
        self.core: Optional[ServerCore] = None
        self.port = 0
        self.udp_port = 0
        self.async_layer = AsyncioAsyncLayer()
        self._servers: list = []
        self._udp: Optional[UDPCollector] = None
        self._beacon_sock: Optional[socket.socket] = None
        self._tasks: List[asyncio.Task] = []
        self._ignore = set()
        for item in str(self.env.get("EPICS_CAS_IGNORE_ADDR_LIST", "")).split():
            self._ignore.add(item.partition(":")[0])

    # ------------------------------------------------------------ start / stop
    async def start(self) -> "Context":
        loop = asyncio.get_running_loop()
        reactor = AsyncioReactor(loop)
        env = self.env
        udp_port = int(env.get("EPICS_CAS_SERVER_PORT") or env["EPICS_CA_SERVER_PORT"])
        self.core = core = ServerCore(self.pvdb, reactor, access=self.access,
                                      limits=self.limits,
                                      max_array_bytes=int(env["EPICS_CA_MAX_ARRAY_BYTES"]))
        await self._listen(reactor, udp_port)
        core.tcp_port = self.port
        self._udp = UDPCollector(self._datagram, udp_port,
                                 host=self.interfaces[0] if len(self.interfaces) == 1
                                 else "0.0.0.0")
        await self._udp.open()
        self.udp_port = self._udp.port
        if self.beacons:
            self._start_beacons()
        await self._run_hooks("server_startup")
        for data in list(self.pvdb.values()):
            if getattr(data, "scan", None) is not None and hasattr(data, "server_scan"):
                self._spawn(data.server_scan(self.async_layer), "scan of %s" % data.pvname)
        log.info("CA server on TCP port %d, UDP port %d, %d PVs", self.port, self.udp_port,
                 len(self.pvdb))
        return self

    async def _listen(self, reactor, port) -> None:
        for candidate in (port, 0):
            servers = []
            try:
                for host in self.interfaces:
                    server = await reactor.listen_tcp(host, candidate, self.core.connection,
                                                      reuse_address=True)
                    servers.append(server)
                    candidate = server.sockets[0].getsockname()[1]
            except OSError as ex:
                for s in servers:
                    s.close()
                if candidate == 0:
                    raise
                log.info("TCP port %d in use (%s): a free port is used instead", port, ex)
                continue
            self._servers = servers
            self.port = candidate
            return

    async def _run_hooks(self, method: str) -> None:
        for data in list(self.pvdb.values()):
            hook = getattr(data, method, None)
            kind = method.split("_")[1]
            if hook is None or getattr(data, kind, None) is None:
                continue
            self._spawn(hook(self.async_layer), "%s of %s" % (kind, data.pvname),
                        wait=(kind == "shutdown"))
        if method == "server_shutdown":
            await asyncio.gather(*[t for t in self._tasks if t.get_name().startswith(
                "shutdown")], return_exceptions=True)

    def _spawn(self, coro, name, wait=False) -> None:
        task = asyncio.ensure_future(self._guard(coro, name))
        task.set_name(name)
        self._tasks.append(task)

    @staticmethod
    async def _guard(coro, name):
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s failed", name)

    async def stop(self) -> None:
        """Run the shutdown hooks, close every connection and socket."""
        if self.core is None:
            return
        await self._run_hooks("server_shutdown")
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        for server in self._servers:
            server.close()
        self.core.close_connections("server stopping")
        if self._udp is not None:
            self._udp.close()
        if self._beacon_sock is not None:
            self._beacon_sock.close()
            self._beacon_sock = None
        self._servers = []

    async def __aenter__(self):
        return await self.start()

    async def __aexit__(self, *exc):
        await self.stop()

    async def run(self, *, log_pv_names: bool = False, startup_hook=None) -> None:
        """Start, then serve until cancelled."""
        await self.start()
        if log_pv_names:
            log.info("PVs available:\n%s", "\n".join(sorted(self.pvdb)))
        if startup_hook is not None:
            self._spawn(startup_hook(self.async_layer), "startup_hook")
        try:
            await asyncio.Event().wait()
        finally:
            await self.stop()

    # ------------------------------------------------------------ PVs at run time
    def add_pv(self, name: str, data) -> None:
        """Serve ``data`` as ``name`` from now on."""
        self.pvdb[name] = data
        if self.core is not None:
            self.core.add_pv(name, data)

    def remove_pv(self, name: str):
        """Stop serving ``name`` (its clients are disconnected from it)."""
        self.pvdb.pop(name, None)
        return self.core.remove_pv(name) if self.core is not None else None

    # ------------------------------------------------------------ UDP
    def _datagram(self, datagram, collector) -> None:
        source = datagram.source
        if source[0] in self._ignore:
            return
        reply = self.core.answer_datagram(datagram.data, source)
        if reply:
            collector.sendto(reply, source)

    def _start_beacons(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        sock.setblocking(False)
        self._beacon_sock = sock
        period = float(self.env["EPICS_CAS_BEACON_PERIOD"])
        self.beacon_addresses = addresses = get_beacon_address_list(self._raw_env)
        iface = self.interfaces[0] if len(self.interfaces) == 1 else "0.0.0.0"
        self._spawn(self._beacon_loop(addresses, period, iface), "beacons")

    async def _beacon_loop(self, addresses, period, iface) -> None:
        for delay in beacon_delays(period):
            data = bytes(self.core.beacon(iface))
            for address in addresses:
                try:
                    self._beacon_sock.sendto(data, address)
                except OSError as ex:
                    log.debug("beacon to %s failed: %s", address, ex)
            await asyncio.sleep(delay)


async def start_server(pvdb, *, interfaces=None, log_pv_names=False, startup_hook=None,
                       **kwargs) -> None:
    """Serve ``pvdb`` until cancelled."""
    ctx = Context(pvdb, interfaces, **kwargs)
    await ctx.run(log_pv_names=log_pv_names, startup_hook=startup_hook)


def freeze_startup_objects() -> None:
    """Take what exists now (the database, the imported modules: it lives as
    long as the server) out of the cyclic garbage collector's sight
    (``gc.freeze``, after a collection).  A full collection, which a burst
    of new channels brings on, then does not walk the whole database: with
    1,000 PVs it had cost 40 ms of the server's time, stalling every client,
    and several times that under load."""
    gc.collect()
    gc.freeze()


def run(pvdb, *, interfaces=None, log_pv_names=False, startup_hook=None, **kwargs) -> None:
    """Run a CA server for ``pvdb`` until interrupted (the process's objects
    of that moment are frozen first: :func:`freeze_startup_objects`)."""
    freeze_startup_objects()
    try:
        asyncio.run(start_server(pvdb, interfaces=interfaces, log_pv_names=log_pv_names,
                                 startup_hook=startup_hook, **kwargs))
    except KeyboardInterrupt:
        pass
