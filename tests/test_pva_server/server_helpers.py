"""Helpers of the pva server tests (imported by conftest and the tests).

``ServerThread`` runs a :class:`pva.server.Context` in its own thread and
event loop, bound to 127.0.0.1 with OS-chosen TCP and UDP ports; ``start()``
returns once it is listening (a ready signal, not a sleep).  ``RawClient``
speaks the protocol through our sans-I/O client circuit for the operations
p4p does not expose (GET_FIELD, cancel, echo, search over TCP, hostile
bytes).
"""
from __future__ import annotations

import asyncio
import socket
import threading
from typing import Any, Callable, Optional

import pva
from pva.server import Context

LOOPBACK = "127.0.0.1"


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def run_client(srv: "ServerThread", fn, timeout: float = 5.0):
    """``await fn(ctx)`` with our client's asyncio Context connected to ``srv``."""
    from pva.client import Context as ClientContext

    async def main():
        async with ClientContext(conf=srv.client_conf(), useenv=False,
                                 timeout=timeout) as ctx:
            return await fn(ctx)
    return asyncio.run(main())


def server_conf(**extra) -> dict:
    conf = {
        "EPICS_PVAS_INTF_ADDR_LIST": LOOPBACK,
        "EPICS_PVAS_SERVER_PORT": "0",
        "EPICS_PVAS_BROADCAST_PORT": "0",
        "EPICS_PVAS_AUTO_BEACON_ADDR_LIST": "NO",
        "EPICS_PVAS_BEACON_ADDR_LIST": "",
    }
    conf.update({k: str(v) for k, v in extra.items()})
    return conf


def client_conf_for(udp_port: int) -> dict:
    return {
        "EPICS_PVA_ADDR_LIST": f"{LOOPBACK}:{udp_port}",
        "EPICS_PVA_AUTO_ADDR_LIST": "NO",
        "EPICS_PVA_NAME_SERVERS": "",
        "EPICS_PVA_INTF_ADDR_LIST": LOOPBACK,
        "EPICS_PVA_BROADCAST_PORT": str(free_udp_port()),
        "EPICS_PVA_CONN_TMO": "30",
    }


class ServerThread:
    """Our server running in a thread with its own event loop."""

    def __init__(self, pvdb, conf: Optional[dict] = None, **kwargs):
        self.loop = asyncio.new_event_loop()
        self.ctx: Optional[Context] = None
        self._pvdb = pvdb
        self._conf = conf if conf is not None else server_conf()
        self._kwargs = kwargs
        self._ready = threading.Event()
        self._error: Optional[BaseException] = None
        self._thread = threading.Thread(target=self._main, daemon=True, name="pva-server")

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._serve())
        except BaseException as ex:  # reported by start()
            self._error = ex
            self._ready.set()
        finally:
            self.loop.close()

    async def _serve(self) -> None:
        self.ctx = Context(self._pvdb, conf=self._conf, useenv=False, **self._kwargs)
        await self.ctx.start()
        self.ctx.run_task = asyncio.ensure_future(self.ctx.run())
        self._ready.set()
        await self.ctx.run_task

    def start(self) -> "ServerThread":
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("server did not start")
        if self._error is not None:
            raise self._error
        return self

    @property
    def port(self) -> int:
        return self.ctx.port

    @property
    def udp_port(self) -> int:
        return self.ctx.udp_port

    def client_conf(self) -> dict:
        return client_conf_for(self.udp_port)

    def call(self, func: Callable[[], Any], timeout: float = 10) -> Any:
        """Run ``func()`` (a coroutine function or plain function) in the server loop."""
        async def wrapper():
            res = func()
            if asyncio.iscoroutine(res):
                res = await res
            return res
        return asyncio.run_coroutine_threadsafe(wrapper(), self.loop).result(timeout)

    def stop(self) -> None:
        if self._thread.is_alive() and self.ctx is not None:
            self.loop.call_soon_threadsafe(self.ctx.stop)
            self._thread.join(30)


class RawClient:
    """A blocking socket driven by :class:`pva.ClientVirtualCircuit`."""

    def __init__(self, port: int, host: str = LOOPBACK, validate: bool = True,
                 timeout: float = 10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.vc = pva.ClientVirtualCircuit(address=(host, port))
        self.pending: list = []
        self.closed = False
        if validate:
            self.validate()

    def validate(self, auth: str = "ca"):
        self.expect(pva.ConnectionValidationRequest)
        self.send(self.vc.validate_connection(auth_nz=auth))
        return self.expect(pva.ConnectionValidatedResponse)

    def send(self, *msgs) -> None:
        self.sock.sendall(b"".join(bytes(b) for b in self.vc.send(*msgs)))

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def recv_message(self):
        while not self.pending:
            data = self.sock.recv(65536)
            if not data:
                self.closed = True
                raise EOFError("server closed the connection")
            for msg, _ in self.vc.recv(data):
                self.vc.process_command(msg)
                self.pending.append(msg)
        return self.pending.pop(0)

    def expect(self, cls, pred: Callable[[Any], bool] = lambda m: True):
        while True:
            msg = self.recv_message()
            if isinstance(msg, cls) and pred(msg):
                return msg

    def wait_closed(self) -> bool:
        try:
            while True:
                self.recv_message()
        except EOFError:
            return True
        except (ConnectionResetError, pva.ProtocolError):
            return True

    def create_channel(self, name: str):
        ch = self.vc.create_channel(name)
        self.send(ch.create())
        reply = self.expect(pva.CreateChannelResponse, lambda m: m.client_chid == ch.cid)
        return self.vc.channel_by_cid(ch.cid), reply

    def close(self) -> None:
        self.sock.close()
