"""Recording relay for pvAccess traffic between a p4p client and a p4p server.

Theory of operation
-------------------
A p4p (pvxs) server is started on 127.0.0.1 with isolated, run-time chosen
ports.  Between it and a p4p client sit two relays, both on 127.0.0.1:

* :class:`UdpRelay` receives the client's search datagrams, forwards them to
  the server's UDP port from its own "upstream" socket, and relays the
  server's search responses back to the client.  Each datagram is recorded
  as it was delivered.
* :class:`TcpRelay` is a TCP proxy: the client connects to it, it connects
  to the server's TCP port and pumps bytes both ways, recording every chunk
  (with a timestamp) per direction and per connection.

The server's beacons go to a third socket (:class:`BeaconRecorder`) and are
recorded too.

This is a *recording harness*, so it rewrites a few fields to keep the
client on the relays (every rewrite is listed in the recording's ``meta``):

* search request (UDP): the reply address/port in the body is replaced by
  "any" and the relay's upstream port, because pvxs replies to the port
  named in the body, not to the datagram's source;
* search response (UDP and TCP): the server port in the body is replaced by
  the TCP proxy's port, else the client would connect straight to the server;
* big-endian mode (optional): the server's initial Set-Byte-Order control
  message is re-flagged big endian (pvxs clients latch their sending byte
  order from it), and a client-direction big-endian Set-Byte-Order message
  is injected at the start of the client-to-server stream (pvxs servers latch
  from it too).  pvxs has no public switch for the byte order it sends
  (``overrideSendBE`` is a C++ expert API that p4p does not expose), so this
  is the only way to make it produce big-endian traffic.

Recorded TCP data is what the *receiving* peer got, after any rewrite.
When a rewrite is active the relay forwards whole messages (it parses just
enough of the header to find message boundaries); otherwise chunks pass
through unchanged, preserving pvxs's natural pipelining.

The relay's header parsing is deliberately independent of ``pva._header``
so that the corpus does not depend on the code it is used to test.

:func:`record_scenario` runs one named scenario end to end and returns a
:class:`Recording`; :data:`SCENARIOS` lists them.
"""
from __future__ import annotations

import functools
import json
import queue
import select
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

__all__ = [
    "Event",
    "Recording",
    "TcpRelay",
    "UdpRelay",
    "BeaconRecorder",
    "SCENARIOS",
    "record_scenario",
    "load_recording",
    "save_recording",
    "versions",
    "free_tcp_port",
    "free_udp_port",
    "isolated_server_conf",
    "isolated_client_conf",
]

LOOPBACK = "127.0.0.1"
SEARCH = 3
SEARCH_RESPONSE = 4
SET_BYTE_ORDER = 2


@dataclass
class Event:
    """One recorded chunk (TCP) or datagram (UDP)."""

    t: float            # seconds since the recording started
    transport: str      # "tcp", "udp" (search) or "beacon"
    stream: int         # TCP connection number (0, 1, ...); 0 for UDP
    direction: str      # "c2s" (client to server) or "s2c"
    data: bytes

    def to_json(self) -> dict:
        return {"t": round(self.t, 6), "transport": self.transport, "stream": self.stream,
                "dir": self.direction, "hex": self.data.hex()}

    @classmethod
    def from_json(cls, obj: dict) -> "Event":
        return cls(obj["t"], obj["transport"], obj["stream"], obj["dir"],
                   bytes.fromhex(obj["hex"]))


@dataclass
class Recording:
    """A scenario's metadata and its events in arrival order."""

    meta: dict
    events: List[Event] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _t0: float = field(default_factory=time.monotonic, repr=False)

    def add(self, transport: str, stream: int, direction: str, data: bytes) -> None:
        with self._lock:
            self.events.append(Event(time.monotonic() - self._t0, transport, stream,
                                     direction, bytes(data)))

    def streams(self, transport: str = "tcp") -> Dict[Tuple[int, str], bytes]:
        """Concatenated bytes per (stream, direction)."""
        out: Dict[Tuple[int, str], List[bytes]] = {}
        for ev in self.events:
            if ev.transport == transport:
                out.setdefault((ev.stream, ev.direction), []).append(ev.data)
        return {k: b"".join(v) for k, v in out.items()}

    def chunks(self, stream: int, direction: str, transport: str = "tcp") -> List[bytes]:
        return [ev.data for ev in self.events
                if ev.transport == transport and ev.stream == stream
                and ev.direction == direction]

    def datagrams(self, direction: str) -> List[bytes]:
        return [ev.data for ev in self.events
                if ev.transport == "udp" and ev.direction == direction]


def save_recording(rec: Recording, path: str) -> None:
    """Write JSON lines: the metadata line, then one line per event."""
    with open(path, "w") as f:
        f.write(json.dumps({"meta": rec.meta}, sort_keys=True) + "\n")
        for ev in rec.events:
            f.write(json.dumps(ev.to_json(), sort_keys=True) + "\n")


def load_recording(path: str) -> Recording:
    with open(path) as f:
        lines = [json.loads(line) for line in f if line.strip()]
    return Recording(lines[0]["meta"], [Event.from_json(o) for o in lines[1:]])


def versions() -> dict:
    import p4p
    import pvxslibs.version
    from p4p import _p4p
    out = {"p4p": str(getattr(p4p, "version", "?")),
           "pvxslibs": pvxslibs.version.version}
    try:
        out["pvxs"] = _p4p.version_str()
    except Exception:  # pragma: no cover - older p4p
        pass
    return out


# ---------------------------------------------------------------- header helpers


def _size_order(flags: int) -> str:
    return ">" if flags & 0x80 else "<"


def _message_length(buf: bytes, pos: int) -> Optional[int]:
    """Length of the message at ``pos`` (header included) or None if unknown yet."""
    if len(buf) - pos < 8:
        return None
    flags = buf[pos + 2]
    if flags & 0x01:
        return 8
    (size,) = struct.unpack_from(_size_order(flags) + "I", buf, pos + 4)
    return 8 + size


def rewrite_search_request(msg: bytearray, reply_port: int) -> None:
    """Point a SEARCH's reply address at 'any' and its port at ``reply_port``."""
    bo = _size_order(msg[2])
    msg[16:32] = bytes(16)
    struct.pack_into(bo + "H", msg, 32, reply_port)


def rewrite_search_response(msg: bytearray, server_port: int) -> None:
    """Set the server port of a SEARCH_RESPONSE (address left as sent)."""
    bo = _size_order(msg[2])
    struct.pack_into(bo + "H", msg, 8 + 12 + 4 + 16, server_port)


# ---------------------------------------------------------------- TCP relay


class TcpRelay:
    """TCP proxy on 127.0.0.1 that records both directions of every connection.

    Parameters
    ----------
    upstream_port : int
        The real server's TCP port on 127.0.0.1.
    recording : Recording
        Where events go.
    rewrite_search_port : bool
        Rewrite the server port of TCP SEARCH_RESPONSE messages to ours.
    force_big_endian : bool
        Make both pvxs peers send big endian (see module docstring).
    """

    def __init__(self, upstream_port: int, recording: Recording, *,
                 rewrite_search_port: bool = False, force_big_endian: bool = False):
        self.upstream_port = upstream_port
        self.recording = recording
        self.rewrite_search_port = rewrite_search_port
        self.force_big_endian = force_big_endian
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind((LOOPBACK, 0))
        self._listener.listen(8)
        self.port = self._listener.getsockname()[1]
        self._threads: List[threading.Thread] = []
        self._sockets: List[socket.socket] = []
        self._lock = threading.Lock()
        self._closing = False
        self._nconn = 0
        self._open_pumps = 0
        self._idle = threading.Condition(self._lock)
        t = threading.Thread(target=self._accept_loop, name="pva-tcp-relay-accept",
                             daemon=True)
        t.start()
        self._threads.append(t)

    @property
    def connections(self) -> int:
        return self._nconn

    def _accept_loop(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                if self._closing:
                    client.close()
                    return
                stream = self._nconn
                self._nconn += 1
            try:
                server = socket.create_connection((LOOPBACK, self.upstream_port), timeout=5)
                server.settimeout(None)
            except OSError:
                client.close()
                continue
            for s in (client, server):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._sockets += [client, server]
                self._open_pumps += 2
            if self.force_big_endian:
                # pvxs latches its sending byte order from a Set-Byte-Order
                # control message received from either peer at any time.
                inject = bytes([0xCA, 2, 0x81, SET_BYTE_ORDER, 0, 0, 0, 0])
                self.recording.add("tcp", stream, "c2s", inject)
                server.sendall(inject)
            for src, dst, direc in ((client, server, "c2s"), (server, client, "s2c")):
                t = threading.Thread(target=self._pump, args=(src, dst, direc, stream),
                                     name=f"pva-tcp-relay-{stream}-{direc}", daemon=True)
                t.start()
                with self._lock:
                    self._threads.append(t)

    def _transform(self, direction: str, buf: bytearray, state: dict) -> bytes:
        """Split off complete messages from ``buf``, rewrite them, return them."""
        pos = 0
        while True:
            n = _message_length(buf, pos)
            if n is None or len(buf) - pos < n:
                break
            flags, cmd = buf[pos + 2], buf[pos + 3]
            if direction == "s2c" and flags & 0x01 and cmd == SET_BYTE_ORDER \
                    and self.force_big_endian and not state.get("endian_done"):
                buf[pos + 2] |= 0x80
                state["endian_done"] = True
            elif (direction == "s2c" and not flags & 0x01 and cmd == SEARCH_RESPONSE
                  and self.rewrite_search_port and n >= 42):
                view = bytearray(buf[pos:pos + n])
                rewrite_search_response(view, self.port)
                buf[pos:pos + n] = view
            pos += n
        out = bytes(buf[:pos])
        del buf[:pos]
        return out

    def _pump(self, src: socket.socket, dst: socket.socket, direction: str,
              stream: int) -> None:
        rewriting = self.rewrite_search_port or (self.force_big_endian and direction == "s2c")
        pending = bytearray()
        state: dict = {}
        try:
            while True:
                try:
                    data = src.recv(1 << 16)
                except OSError:
                    data = b""
                if not data:
                    break
                if rewriting:
                    pending += data
                    data = self._transform(direction, pending, state)
                    if not data:
                        continue
                self.recording.add("tcp", stream, direction, data)
                try:
                    dst.sendall(data)
                except OSError:
                    break
            if pending:  # trailing partial message: pass it on unchanged
                self.recording.add("tcp", stream, direction, bytes(pending))
                try:
                    dst.sendall(pending)
                except OSError:
                    pass
        finally:
            try:
                dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            with self._lock:
                self._open_pumps -= 1
                self._idle.notify_all()

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until every relayed connection has been closed by both peers."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._open_pumps:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

    def close(self) -> None:
        with self._lock:
            self._closing = True
            socks = list(self._sockets)
        try:
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for t in list(self._threads):
            t.join(5)
        for s in socks:
            s.close()


# ---------------------------------------------------------------- UDP relay


class UdpRelay:
    """Relay search datagrams between a client and the server, recording them.

    The client sends to ``client_port``; the relay forwards to the server's
    UDP port from ``upstream_port`` and sends responses back to the last
    client address seen.
    """

    def __init__(self, server_udp_port: int, recording: Recording, tcp_proxy_port: int):
        self.server_udp_port = server_udp_port
        self.recording = recording
        self.tcp_proxy_port = tcp_proxy_port
        self._down = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._down.bind((LOOPBACK, 0))
        self._up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._up.bind((LOOPBACK, 0))
        self.client_port = self._down.getsockname()[1]
        self.upstream_port = self._up.getsockname()[1]
        self._client_addr: Optional[Tuple[str, int]] = None
        self._stop_r, self._stop_w = socket.socketpair()
        self._thread = threading.Thread(target=self._loop, name="pva-udp-relay", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        socks = [self._down, self._up, self._stop_r]
        while True:
            ready, _, _ = select.select(socks, [], [])
            if self._stop_r in ready:
                return
            if self._down in ready:
                data, addr = self._down.recvfrom(1 << 16)
                self._client_addr = addr
                msg = bytearray(data)
                if len(msg) >= 34 and msg[0] == 0xCA and msg[3] == SEARCH \
                        and not msg[2] & 0x01:
                    rewrite_search_request(msg, self.upstream_port)
                self.recording.add("udp", 0, "c2s", msg)
                self._up.sendto(msg, (LOOPBACK, self.server_udp_port))
            if self._up in ready:
                data, _addr = self._up.recvfrom(1 << 16)
                msg = bytearray(data)
                if len(msg) >= 42 and msg[0] == 0xCA and msg[3] == SEARCH_RESPONSE \
                        and not msg[2] & 0x01:
                    rewrite_search_response(msg, self.tcp_proxy_port)
                self.recording.add("udp", 0, "s2c", msg)
                if self._client_addr is not None:
                    self._down.sendto(msg, self._client_addr)

    def close(self) -> None:
        self._stop_w.send(b"x")
        self._thread.join(5)
        for s in (self._down, self._up, self._stop_r, self._stop_w):
            s.close()


class BeaconRecorder:
    """A UDP socket on 127.0.0.1 that records the beacons a server sends it.

    Give ``127.0.0.1:<port>`` as the server's EPICS_PVAS_BEACON_ADDR_LIST;
    pvxs sends its first beacon right after it starts.
    """

    def __init__(self, recording: Recording):
        self.recording = recording
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind((LOOPBACK, 0))
        self.port = self._sock.getsockname()[1]
        self._stop_r, self._stop_w = socket.socketpair()
        self._thread = threading.Thread(target=self._loop, name="pva-beacon-recorder",
                                        daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while True:
            ready, _, _ = select.select([self._sock, self._stop_r], [], [])
            if self._stop_r in ready:
                return
            data, _addr = self._sock.recvfrom(1 << 16)
            self.recording.add("beacon", 0, "s2c", data)

    def close(self) -> None:
        self._stop_w.send(b"x")
        self._thread.join(5)
        for s in (self._sock, self._stop_r, self._stop_w):
            s.close()


# ---------------------------------------------------------------- scenarios


def free_udp_port() -> int:
    """A UDP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def free_tcp_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def isolated_server_conf() -> dict:
    """p4p ``Server(conf=..., useenv=False)`` for 127.0.0.1 only.

    Ports are chosen by the OS; read them back with ``Server.conf()``
    (``EPICS_PVAS_SERVER_PORT``, ``EPICS_PVAS_BROADCAST_PORT``).  Beacons
    go nowhere unless EPICS_PVAS_BEACON_ADDR_LIST is set.
    """
    return {
        "EPICS_PVAS_INTF_ADDR_LIST": LOOPBACK,
        "EPICS_PVAS_SERVER_PORT": "0",
        "EPICS_PVAS_BROADCAST_PORT": "0",
        "EPICS_PVAS_AUTO_BEACON_ADDR_LIST": "NO",
        "EPICS_PVAS_BEACON_ADDR_LIST": "",
        "EPICS_PVAS_IGNORE_ADDR_LIST": "",
    }


def isolated_client_conf(server_conf: dict) -> dict:
    """p4p ``Context(conf=..., useenv=False)`` searching one server by unicast."""
    return _client_conf(int(server_conf["EPICS_PVAS_BROADCAST_PORT"]), None)


def _client_conf(udp_port: Optional[int], name_server_port: Optional[int]) -> dict:
    conf = {
        "EPICS_PVA_AUTO_ADDR_LIST": "NO",
        "EPICS_PVA_ADDR_LIST": "",
        "EPICS_PVA_NAME_SERVERS": "",
        "EPICS_PVA_INTF_ADDR_LIST": LOOPBACK,
        "EPICS_PVA_CONN_TMO": "30",
    }
    # the client binds its broadcast port (beacon listener): keep it apart
    # from the relay's port, on a port nobody else uses
    conf["EPICS_PVA_BROADCAST_PORT"] = str(free_udp_port())
    if udp_port is not None:
        conf["EPICS_PVA_ADDR_LIST"] = f"{LOOPBACK}:{udp_port}"
    if name_server_port is not None:
        conf["EPICS_PVA_NAME_SERVERS"] = f"{LOOPBACK}:{name_server_port}"
    return conf


class _Scenario:
    """A named client/server exchange.

    ``providers()`` builds the server side (dict of name -> SharedPV);
    ``run(ctxt, pvs)`` drives the client.  ``expected`` maps a direction to
    the application commands that direction carries, in order, on the
    channel connection (ECHO excluded unless the scenario sends it).
    Legend: 1 CONNECTION_VALIDATION, 2 ECHO, 3 SEARCH, 4 SEARCH_RESPONSE,
    7 CREATE_CHANNEL, 8 DESTROY_CHANNEL, 9 CONNECTION_VALIDATED, 10 GET,
    11 PUT, 13 MONITOR, 15 DESTROY_REQUEST, 17 GET_FIELD, 20 RPC.  A get or
    put is INIT then EXEC (p4p's put also fetches the current value first);
    p4p sends DESTROY_REQUEST when an operation is done, and closes the
    socket without DESTROY_CHANNEL.
    """

    name = ""
    description = ""
    tcp_search = False
    big_endian = False
    raw = False
    expected: Dict[str, List[int]] = {}

    def providers(self) -> dict:
        raise NotImplementedError

    def run(self, ctxt, pvs: dict) -> dict:
        raise NotImplementedError


def _scalar_pv(code: str, value):
    from p4p.nt import NTScalar
    from p4p.server.thread import SharedPV
    return SharedPV(nt=NTScalar(code), initial=value)


class _Get(_Scenario):
    name = "get"
    description = ("UDP search for two PVs in one context, then a get of each "
                   "(NTScalar double and NTScalar string) over one TCP connection")
    expected = {"c2s": [1, 7, 7, 10, 10, 10, 10, 15, 15],
                "s2c": [1, 9, 7, 7, 10, 10, 10, 10]}

    def providers(self):
        return {"rec:double": _scalar_pv("d", 1.5), "rec:string": _scalar_pv("s", "hello")}

    def run(self, ctxt, pvs):
        a, b = ctxt.get(["rec:double", "rec:string"])
        assert float(a) == 1.5 and b == "hello", (a, b)
        return {"values": [float(a), b + ""]}


class _Put(_Scenario):
    name = "put"
    description = "put an int32 NTScalar (with the get-before-put p4p does), then get it back"
    expected = {"c2s": [1, 7, 11, 11, 11, 15, 10, 10, 15],
                "s2c": [1, 9, 7, 11, 11, 11, 10, 10]}

    def providers(self):
        from p4p.nt import NTScalar
        from p4p.server.thread import SharedPV
        pv = SharedPV(nt=NTScalar("i"), initial=1)

        @pv.put
        def onput(pv, op):
            pv.post(op.value())
            op.done()

        return {"rec:int": pv}

    def run(self, ctxt, pvs):
        ctxt.put("rec:int", 42)
        v = ctxt.get("rec:int")
        assert int(v) == 42, v
        return {"value": int(v)}


@functools.lru_cache(maxsize=None)
def _struct_type():
    from p4p import Type
    return Type([("a", "i"), ("b", "d"), ("c", "s"), ("arr", "ad"),
                 ("sub", ("S", None, [("x", "l"), ("y", "?")]))], id="test:partial")


class _Monitor(_Scenario):
    name = "monitor"
    description = ("monitor a custom structure; the server posts changes of one "
                   "field at a time (partial updates) and one array change")
    expected = {"c2s": [1, 7, 13, 13, 15],
                "s2c": [1, 9, 7, 13, 13, 13, 13, 13, 13]}

    def providers(self):
        from p4p import Value
        from p4p.server.thread import SharedPV
        V = Value(_struct_type(), {"a": 1, "b": 2.0, "c": "x", "arr": [1.0, 2.0],
                                   "sub": {"x": 5, "y": True}})
        return {"rec:struct": SharedPV(initial=V)}

    def run(self, ctxt, pvs):
        from p4p import Value
        pv = pvs["rec:struct"]
        q: "queue.Queue" = queue.Queue()
        sub = ctxt.monitor("rec:struct", q.put)
        try:
            first = q.get(timeout=5)
            updates = [first.changedSet()]
            for change in ({"a": 2}, {"c": "changed"}, {"arr": [3.0, 4.0, 5.0]},
                           {"sub.x": 6}):
                V = Value(_struct_type(), {})
                for k, val in change.items():
                    V[k] = val
                pv.post(V)
                got = q.get(timeout=5)
                updates.append(sorted(got.changedSet()))
        finally:
            sub.close()
        return {"changed": [sorted(u) for u in updates]}


class _Rpc(_Scenario):
    name = "rpc"
    description = "RPC with an NTURI-style argument structure returning an NTScalar"
    expected = {"c2s": [1, 7, 20, 20, 15],
                "s2c": [1, 9, 7, 20, 20]}

    def providers(self):
        from p4p.nt import NTScalar
        from p4p.server.thread import SharedPV
        pv = SharedPV(nt=NTScalar("d"), initial=0.0)

        @pv.rpc
        def onrpc(pv, op):
            args = op.value().query
            op.done(NTScalar("d").wrap(float(args.a) + float(args.b)))

        return {"rec:rpc": pv}

    def run(self, ctxt, pvs):
        from p4p.nt import NTURI
        uri = NTURI([("a", "d"), ("b", "d")]).wrap("rec:rpc", kws={"a": 1.25, "b": 2.0})
        v = ctxt.rpc("rec:rpc", uri)
        assert float(v) == 3.25, v
        return {"value": float(v)}


class _NDArray(_Scenario):
    name = "ntndarray"
    description = ("get and monitor of an NTNDArray (value is a union of arrays, "
                   "attribute values are 'any'); the monitor sees a union type change")
    expected = {"c2s": [1, 7, 10, 10, 15, 13, 13, 15],
                "s2c": [1, 9, 7, 10, 10, 13, 13, 13]}

    def providers(self):
        import numpy as np
        from p4p.nt import NTNDArray
        from p4p.server.thread import SharedPV
        img = np.arange(12, dtype=np.uint16).reshape(3, 4)
        arr = NTNDArray().wrap(img, attrib={"Exposure": 0.5, "Name": "frame"})
        return {"rec:image": SharedPV(initial=arr)}

    def run(self, ctxt, pvs):
        import numpy as np
        v = ctxt.get("rec:image")
        assert v.shape == (3, 4), v.shape
        q: "queue.Queue" = queue.Queue()
        sub = ctxt.monitor("rec:image", q.put)
        try:
            q.get(timeout=5)
            from p4p.nt import NTNDArray
            pvs["rec:image"].post(NTNDArray().wrap(
                np.linspace(0, 1, 6, dtype=np.float32).reshape(2, 3)))
            second = q.get(timeout=5)
        finally:
            sub.close()
        assert second.shape == (2, 3), second.shape
        return {"first": list(v.shape), "second": list(second.shape)}


@functools.lru_cache(maxsize=None)
def _union_any_type():
    from p4p import Type
    return Type([
        ("choice", ("U", None, [("i", "i"), ("s", "s"), ("ad", "ad")])),
        ("anything", "v"),
        ("ids", "aI"),
        ("structs", ("aS", None, [("name", "s"), ("val", "d")])),
        ("unions", ("aU", None, [("i", "i"), ("s", "s")])),
    ], id="test:unionany")


class _UnionAny(_Scenario):
    name = "union_any"
    description = ("get and put of a structure with a union, an 'any' field, and "
                   "arrays of unsigned ints, structures and unions")
    expected = {"c2s": [1, 7, 10, 10, 15, 11, 11, 11, 15, 10, 10, 15],
                "s2c": [1, 9, 7, 10, 10, 11, 11, 11, 10, 10]}

    def providers(self):
        from p4p import Value
        from p4p.server.thread import SharedPV
        V = Value(_union_any_type(), {
            "choice": ("s", "text"),
            "anything": 3.5,
            "ids": [1, 2, 4000000000],
            "structs": [{"name": "one", "val": 1.0}, {"name": "two", "val": 2.0}],
            "unions": [("i", 5), ("s", "five")],
        })
        pv = SharedPV(initial=V)

        @pv.put
        def onput(pv, op):
            pv.post(op.value())
            op.done()

        return {"rec:union": pv}

    def run(self, ctxt, pvs):
        v = ctxt.get("rec:union")
        assert v.choice == "text", v.choice
        ctxt.put("rec:union", {"choice": ("ad", [1.0, 2.0]), "anything": "now a string"})
        v2 = ctxt.get("rec:union")
        assert list(v2.choice) == [1.0, 2.0] and v2.anything == "now a string", v2
        return {"anything": v2.anything}


class _Request(_Scenario):
    name = "get_request"
    description = ("get with a pvRequest selecting fields ('field(value,alarm.severity)'), "
                   "and a get of an unknown PV name (search without reply)")
    expected = {"c2s": [1, 7, 10, 10, 15],
                "s2c": [1, 9, 7, 10, 10]}

    def providers(self):
        return {"rec:double": _scalar_pv("d", 7.25)}

    def run(self, ctxt, pvs):
        v = ctxt.get("rec:double", request="field(value,alarm.severity)")
        assert float(v) == 7.25
        try:
            ctxt.get("rec:missing", timeout=0.3)
        except TimeoutError:
            pass
        else:  # pragma: no cover
            raise AssertionError("rec:missing should not exist")
        return {"value": float(v)}


class _TcpSearch(_Scenario):
    name = "search_tcp"
    description = ("search over TCP via EPICS_PVA_NAME_SERVERS pointing at the proxy, "
                   "then a get on the same connection")
    tcp_search = True
    expected = {"c2s": [1, 3, 7, 10, 10, 15],
                "s2c": [1, 9, 4, 7, 10, 10]}

    def providers(self):
        return {"rec:double": _scalar_pv("d", 2.5)}

    def run(self, ctxt, pvs):
        v = ctxt.get("rec:double")
        assert float(v) == 2.5
        return {"value": float(v)}


class _BigEndian(_Scenario):
    name = "big_endian"
    description = ("get, put and monitor with both peers sending big endian "
                   "(forced by the relay's Set-Byte-Order rewrite/injection)")
    big_endian = True
    expected = {"c2s": [1, 7, 10, 10, 15, 11, 11, 11, 15, 13, 13, 15],
                "s2c": [1, 9, 7, 10, 10, 11, 11, 11, 13, 13, 13]}

    def providers(self):
        from p4p import Value
        from p4p.server.thread import SharedPV
        V = Value(_struct_type(), {"a": 0x01020304, "b": 1.0e-3, "c": "be",
                                   "arr": [1.0, -2.0], "sub": {"x": -5, "y": True}})
        pv = SharedPV(initial=V)

        @pv.put
        def onput(pv, op):
            pv.post(op.value())
            op.done()

        return {"rec:be": pv}

    def run(self, ctxt, pvs):
        v = ctxt.get("rec:be")
        assert v.a == 0x01020304
        ctxt.put("rec:be", {"b": 2.5, "sub.x": 1 << 40})
        q: "queue.Queue" = queue.Queue()
        sub = ctxt.monitor("rec:be", q.put)
        try:
            first = q.get(timeout=5)
            from p4p import Value
            V = Value(_struct_type(), {})
            V["arr"] = [7.0, 8.0, 9.0]
            pvs["rec:be"].post(V)
            second = q.get(timeout=5)
        finally:
            sub.close()
        assert first.b == 2.5 and first.sub.x == 1 << 40
        assert list(second.arr) == [7.0, 8.0, 9.0]
        return {"b": first.b}


class _Errors(_Scenario):
    name = "errors"
    description = ("operations the server refuses: a put rejected by the handler "
                   "(error Status), an RPC to a PV without RPC support, a get with a "
                   "pvRequest naming a field that does not exist")
    expected = {"c2s": [1, 7, 11, 11, 11, 15, 20, 20, 15, 10, 15],
                "s2c": [1, 9, 7, 11, 11, 11, 20, 20, 10]}

    def providers(self):
        from p4p.nt import NTScalar
        from p4p.server.thread import SharedPV
        pv = SharedPV(nt=NTScalar("d"), initial=1.0)

        @pv.put
        def onput(pv, op):
            op.done(error="put refused by test handler")

        return {"rec:refuse": pv}

    def run(self, ctxt, pvs):
        from p4p.client.thread import RemoteError
        from p4p.nt import NTScalar
        errors = []
        for call in (lambda: ctxt.put("rec:refuse", 2.0),
                     lambda: ctxt.rpc("rec:refuse", NTScalar("d").wrap(1.0)),
                     lambda: ctxt.get("rec:refuse", request="field(nope)")):
            try:
                call()
                errors.append(None)
            except RemoteError as e:
                errors.append(str(e))
        return {"errors": errors}


def _pva_string(text: str) -> bytes:
    raw = text.encode()
    assert len(raw) < 254
    return bytes([len(raw)]) + raw


class _RawClient:
    """A scripted, hand-encoded client: just enough pvAccess for GET_FIELD.

    Kept independent of the ``pva`` package on purpose (little endian only).
    """

    def __init__(self, port: int):
        self.sock = socket.create_connection((LOOPBACK, port), timeout=5)
        self.buf = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    @staticmethod
    def message(cmd: int, payload: bytes, flags: int = 0) -> bytes:
        return struct.pack("<BBBBI", 0xCA, 2, flags, cmd, len(payload)) + payload

    def receive(self, cmd: int) -> bytes:
        """Read messages until an application message ``cmd``; return its payload."""
        while True:
            n = _message_length(self.buf, 0)
            if n is not None and len(self.buf) >= n:
                head, self.buf = self.buf[:n], self.buf[n:]
                if not head[2] & 0x01 and head[3] == cmd:
                    return head[8:]
                continue
            data = self.sock.recv(1 << 16)
            if not data:
                raise ConnectionError("server closed the connection")
            self.buf += data

    def close(self) -> None:
        self.sock.close()


class _GetFieldRaw(_Scenario):
    name = "get_field_raw"
    description = (
        "hand-encoded client (p4p has no get-field/info API): validation, "
        "application ECHO, a CREATE_CHANNEL sent in three segments with control "
        "messages (set marker, echo request) between the segments, GET_FIELD of "
        "the whole structure, of a sub-field and of a missing field (pvxs "
        "ignores the sub-field name and answers with the full type each time), "
        "DESTROY_CHANNEL")
    raw = True
    expected = {"c2s": [1, 2, 7, 17, 17, 17, 8],
                "s2c": [1, 9, 2, 7, 17, 17, 17, 8]}

    def providers(self):
        from p4p import Value
        from p4p.server.thread import SharedPV
        V = Value(_struct_type(), {"a": 1, "b": 2.0, "c": "x", "arr": [1.0],
                                   "sub": {"x": 5, "y": True}})
        return {"rec:struct": SharedPV(initial=V)}

    def run_raw(self, port: int, pvs) -> dict:
        c = _RawClient(port)
        msg = c.message
        try:
            c.receive(1)
            # serverReceiveBufferSize, registry size, QoS, "anonymous", null cred
            c.send(msg(1, struct.pack("<IHH", 0x10000, 0x7FFF, 0)
                       + _pva_string("anonymous") + b"\xff"))
            c.receive(9)
            c.send(msg(2, b"ping"))
            echo = c.receive(2)
            assert echo == b"ping", echo
            # CREATE_CHANNEL(count=1, cid=0x11, name) in segments, with
            # control messages in between (pvxs ignores them)
            body = struct.pack("<HI", 1, 0x11) + _pva_string("rec:struct")
            parts = [body[:3], body[3:9], body[9:]]
            c.send(msg(7, parts[0], 0x10)
                   + struct.pack("<BBBBI", 0xCA, 2, 0x01, 0, 1234)  # set marker
                   + msg(7, parts[1], 0x30)
                   + struct.pack("<BBBBI", 0xCA, 2, 0x01, 3, 99)  # echo request
                   + msg(7, parts[2], 0x20))
            created = c.receive(7)
            cid, sid = struct.unpack_from("<II", created)
            assert cid == 0x11, created
            results = []
            for ioid, sub in ((1, ""), (2, "sub"), (3, "nope")):
                c.send(msg(17, struct.pack("<II", sid, ioid) + _pva_string(sub)))
                reply = c.receive(17)
                results.append(reply[:8].hex())
            c.send(msg(8, struct.pack("<II", sid, cid)))
            c.receive(8)
        finally:
            c.close()
        return {"get_field_heads": results}


SCENARIOS: Dict[str, _Scenario] = {
    s.name: s for s in (_Get(), _Put(), _Monitor(), _Rpc(), _NDArray(), _UnionAny(),
                        _Request(), _TcpSearch(), _BigEndian(), _GetFieldRaw(), _Errors())
}


def record_scenario(name: str, timeout: float = 20.0) -> Recording:
    """Run scenario ``name`` through fresh relays and return its recording.

    Everything started here (server, relays, client context) is stopped
    before returning, also on error.
    """
    from p4p.client.thread import Context
    from p4p.server import Server

    scenario = SCENARIOS[name]
    recording = Recording(meta={
        "scenario": name,
        "description": scenario.description,
        "versions": versions(),
        "expected": scenario.expected,
        "rewrites": [],
    })
    pvs = scenario.providers()
    beacons = BeaconRecorder(recording)
    conf = isolated_server_conf()
    conf["EPICS_PVAS_BEACON_ADDR_LIST"] = f"{LOOPBACK}:{beacons.port}"
    try:
        server = Server(providers=[pvs], conf=conf, useenv=False)
    except BaseException:
        beacons.close()
        raise
    tcp = udp = ctxt = None
    try:
        sconf = server.conf()
        tcp = TcpRelay(int(sconf["EPICS_PVAS_SERVER_PORT"]), recording,
                       rewrite_search_port=scenario.tcp_search,
                       force_big_endian=scenario.big_endian)
        rewrites = recording.meta["rewrites"]
        if scenario.raw:
            t0 = time.monotonic()
            recording.meta["result"] = scenario.run_raw(tcp.port, pvs)
            recording.meta["duration"] = round(time.monotonic() - t0, 3)
            tcp.wait_idle(timeout)
            return recording
        if scenario.tcp_search:
            ctxt_conf = _client_conf(None, tcp.port)
            rewrites.append("TCP SEARCH_RESPONSE server port -> proxy port")
        else:
            udp = UdpRelay(int(sconf["EPICS_PVAS_BROADCAST_PORT"]), recording, tcp.port)
            ctxt_conf = _client_conf(udp.client_port, None)
            rewrites.append("UDP SEARCH reply address -> any, reply port -> relay upstream "
                            "port")
            rewrites.append("UDP SEARCH_RESPONSE server port -> proxy port")
        if scenario.big_endian:
            rewrites.append("s2c first Set-Byte-Order control message flagged big endian")
            rewrites.append("c2s big-endian Set-Byte-Order control message injected at "
                            "connection start")
        ctxt = Context("pva", conf=ctxt_conf, useenv=False)
        t0 = time.monotonic()
        recording.meta["result"] = scenario.run(ctxt, pvs)
        recording.meta["duration"] = round(time.monotonic() - t0, 3)
        ctxt.close()
        ctxt = None
        # let the client's close reach the server and the server close its side
        tcp.wait_idle(timeout)
    finally:
        if ctxt is not None:
            ctxt.close()
        server.stop()
        if tcp is not None:
            tcp.wait_idle(2.0)
            tcp.close()
        if udp is not None:
            udp.close()
        beacons.close()
    return recording
