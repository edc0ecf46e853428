"""Capture real pvxs bytes: a p4p server plus a minimal raw-socket PVA client.

Used by ``test_p4p_interop_types.py`` and, run as a script, to regenerate the
fixture files in ``tests/test_pva/data/``::

    python tests/test_pva/p4p_capture.py

The server listens on 127.0.0.1, port 0 (reported back by ``Server.conf()``),
with the environment ignored (``useenv=False``) so tests are isolated.  The
client does the minimum: validate the connection (anonymous), create a
channel, GET_FIELD, GET INIT with a caller-supplied pvRequest, GET.  It only
frames messages; all type and value decoding is left to the code under test.
"""
from __future__ import annotations

import contextlib
import json
import pathlib
import socket
import struct
from typing import Dict, Iterator, List, Optional, Tuple

import numpy as np

DATA_DIR = pathlib.Path(__file__).parent / "data"

#: scalar type codes p4p understands
SCALAR_CODES = ["?", "b", "B", "h", "H", "i", "I", "l", "L", "f", "d", "s"]

#: fixed time stamp so captures are reproducible
TIMESTAMP = 1700000000.25

SCALAR_VALUES = {
    "?": True, "b": -5, "B": 200, "h": -30000, "H": 60000, "i": -2000000000,
    "I": 4000000000, "l": -(2 ** 62), "L": 2 ** 63 + 5, "f": 1.5, "d": -2.25e300,
    "s": "héllo wörld",
}


def make_pvs() -> Dict[str, Tuple[object, object]]:
    """Name -> (p4p NT helper, initial value) of every captured PV."""
    from p4p.nt import NTEnum, NTNDArray, NTScalar, NTTable

    pvs: Dict[str, Tuple[object, object]] = {}
    for c in SCALAR_CODES:
        pvs[f"scalar_{c}"] = (NTScalar(c), SCALAR_VALUES[c])
        if c == "s":
            arr: object = ["a", "", "ccc" * 100]
        elif c == "?":
            arr = np.array([True, False, True])
        else:
            arr = np.arange(5).astype(np.dtype(c)) if c not in "fd" else np.linspace(-1, 1, 7).astype(c)
        pvs[f"array_{c}"] = (NTScalar("a" + c), arr)
    pvs["scalar_full_d"] = (
        NTScalar("d", display=True, control=True, valueAlarm=True, form=True),
        {"value": 3.5, "display.units": "mm", "display.limitHigh": 10.0,
         "control.minStep": 0.5, "alarm.severity": 1, "alarm.message": "high",
         "timeStamp.secondsPastEpoch": 1234567890, "timeStamp.nanoseconds": 999},
    )
    pvs["big_array_d"] = (NTScalar("ad"), np.arange(100000, dtype="f8"))
    pvs["enum"] = (NTEnum(), {"index": 1, "choices": ["zero", "one", "two"]})
    pvs["table"] = (
        NTTable([("a", "i"), ("b", "s"), ("c", "d")]),
        [{"a": 1, "b": "x", "c": 0.5}, {"a": 2, "b": "yy", "c": -1.0}],
    )
    pvs["ndarray"] = (NTNDArray(), np.arange(12, dtype="i2").reshape(3, 4))
    return pvs


def initial_values() -> Dict[str, object]:
    """Name -> p4p Value as served (NDArray gets attributes with variants)."""
    out = {}
    for name, (nt, init) in make_pvs().items():
        if isinstance(init, dict) and "value" in init and name == "scalar_full_d":
            init = dict(init)
            v = nt.wrap(init.pop("value"), timestamp=TIMESTAMP)
            for k, x in init.items():
                v[k] = x
        else:
            v = nt.wrap(init, timestamp=TIMESTAMP)
        if name == "ndarray":
            v["attribute"] = [
                {"name": "ColorMode", "value": 0, "descriptor": "mode"},
                {"name": "f", "value": 2.5},
                {"name": "s", "value": "text", "tags": ["t1", "t2"]},
            ]
            v["codec.name"] = ""
            v["uniqueId"] = 7
        out[name] = v
    return out


@contextlib.contextmanager
def p4p_server(values: Optional[Dict[str, object]] = None) -> Iterator[int]:
    """Serve ``values`` (name -> p4p Value) on 127.0.0.1; yields the TCP port."""
    from p4p.server import Server, StaticProvider
    from p4p.server.thread import SharedPV

    if values is None:
        values = initial_values()
    provider = StaticProvider("pva-codec-tests")
    for name, v in values.items():
        pv = SharedPV(initial=v)
        provider.add(name, pv)
    conf = {
        "EPICS_PVAS_INTF_ADDR_LIST": "127.0.0.1",
        "EPICS_PVAS_SERVER_PORT": "0",
        "EPICS_PVAS_BROADCAST_PORT": "0",
        "EPICS_PVAS_AUTO_BEACON_ADDR_LIST": "NO",
        "EPICS_PVAS_BEACON_ADDR_LIST": "",
    }
    server = Server(providers=[provider], conf=conf, useenv=False)
    try:
        yield int(server.conf()["EPICS_PVAS_SERVER_PORT"])
    finally:
        server.stop()


class RawClient:
    """Minimal blocking PVA client: frames messages, never decodes data."""

    def __init__(self, port: int, order: str = "<", timeout: float = 5.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.order = order
        self.server_order = "<"
        self._rx = b""
        self._next_id = 1
        # server: SET_BYTE_ORDER (control), CONNECTION_VALIDATION request
        cmd, _ = self._recv_app()
        assert cmd == 0x01, cmd
        payload = struct.pack(order + "IHH", 0x10000, 0x7FFF, 0) + _string("anonymous", order) + b"\xff"
        self._send(0x01, payload)
        cmd, body = self._recv_app()
        assert cmd == 0x09, (cmd, body)

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "RawClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, cmd: int, payload: bytes) -> None:
        flags = 0x80 if self.order == ">" else 0x00
        self.sock.sendall(struct.pack(self.order + "BBBBI", 0xCA, 2, flags, cmd, len(payload)) + payload)

    def _read(self, n: int) -> bytes:
        while len(self._rx) < n:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("server closed the connection")
            self._rx += chunk
        out, self._rx = self._rx[:n], self._rx[n:]
        return out

    def _recv_app(self) -> Tuple[int, bytes]:
        """Next application message (control messages are noted and skipped)."""
        while True:
            hdr = self._read(8)
            assert hdr[0] == 0xCA, hdr
            flags, cmd = hdr[2], hdr[3]
            order = ">" if flags & 0x80 else "<"
            (size,) = struct.unpack(order + "I", hdr[4:])
            if flags & 0x01:
                if cmd == 0x02:
                    self.server_order = order
                continue
            assert not flags & 0x30, "segmented messages not handled by the capture client"
            return cmd, self._read(size)

    def _expect(self, cmd: int) -> bytes:
        while True:
            c, body = self._recv_app()
            if c == cmd:
                return body

    def create_channel(self, name: str) -> int:
        cid = self._next_id
        self._next_id += 1
        self._send(0x07, struct.pack(self.order + "HI", 1, cid) + _string(name, self.order))
        body = self._expect(0x07)
        o = self.server_order
        rcid, sid = struct.unpack(o + "II", body[:8])
        assert rcid == cid and body[8] == 0xFF, body
        return sid

    def get_field(self, sid: int) -> bytes:
        """Returns the FieldDesc bytes of the whole channel type."""
        ioid = self._new_ioid()
        self._send(0x11, struct.pack(self.order + "II", sid, ioid) + b"\x00")
        body = self._expect(0x11)
        assert struct.unpack(self.server_order + "I", body[:4])[0] == ioid
        assert body[4] == 0xFF, body
        return body[5:]

    def get(self, sid: int, pvrequest: bytes) -> Tuple[bytes, bytes]:
        """GET INIT (with encoded pvRequest type+value) then GET.

        Returns ``(init type bytes, bitset+data bytes)``.
        """
        ioid = self._new_ioid()
        self._send(0x0A, struct.pack(self.order + "IIB", sid, ioid, 0x08) + pvrequest)
        body = self._expect(0x0A)
        assert struct.unpack(self.server_order + "I", body[:4])[0] == ioid and body[4] == 0x08
        assert body[5] == 0xFF, body
        init_type = body[6:]
        self._send(0x0A, struct.pack(self.order + "IIB", sid, ioid, 0x10))
        body = self._expect(0x0A)
        assert body[4] == 0x10 and body[5] == 0xFF, body[:40]
        return init_type, body[6:]

    def get_error(self, sid: int, pvrequest: bytes) -> bytes:
        """GET INIT expected to fail; returns the Status bytes."""
        ioid = self._new_ioid()
        self._send(0x0A, struct.pack(self.order + "IIB", sid, ioid, 0x08) + pvrequest)
        body = self._expect(0x0A)
        return body[5:]

    def _new_ioid(self) -> int:
        i = self._next_id
        self._next_id += 1
        return i


def _string(s: str, order: str) -> bytes:
    b = s.encode()
    assert len(b) < 254
    return bytes((len(b),)) + b


#: pvRequest ``field()`` as pvxs builds it: struct { struct field {} }
EMPTY_PVREQUEST = bytes.fromhex("80 00 01 05 6669656c64 80 00 00".replace(" ", ""))


def capture(names: Optional[List[str]] = None, order: str = "<") -> Dict[str, Dict[str, bytes]]:
    """Serve every PV of :func:`make_pvs` and capture its bytes."""
    values = initial_values()
    out: Dict[str, Dict[str, bytes]] = {}
    with p4p_server(values) as port, RawClient(port, order) as cli:
        for name in names or list(values):
            sid = cli.create_channel(name)
            type_bytes = cli.get_field(sid)
            init_type, data = cli.get(sid, EMPTY_PVREQUEST)
            out[name] = {"type": type_bytes, "init_type": init_type, "data": data}
    return out


def regenerate() -> pathlib.Path:
    """Rewrite ``tests/test_pva/data/p4p_captures.json`` from a live p4p server."""
    captured = capture()
    DATA_DIR.mkdir(exist_ok=True)
    path = DATA_DIR / "p4p_captures.json"
    doc = {
        "comment": "bytes captured from p4p/pvxs by tests/test_pva/p4p_capture.py; server byte order '<'",
        "captures": {k: {kk: vv.hex() for kk, vv in v.items()} for k, v in captured.items()
                     if k != "big_array_d"},
    }
    path.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    return path


def load_fixtures() -> Dict[str, Dict[str, bytes]]:
    """The stored captures (name -> {'type', 'init_type', 'data'} bytes)."""
    doc = json.loads((DATA_DIR / "p4p_captures.json").read_text())
    return {k: {kk: bytes.fromhex(vv) for kk, vv in v.items()} for k, v in doc["captures"].items()}


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))
    print(regenerate())


# ---- conversions between p4p objects and pva's representation (tests only)
def p4p_desc(p4p_type):
    """A pva FieldDesc equivalent to a p4p ``Type``."""
    from pva import FieldDesc
    from pva.nt import field_type_from_code

    def conv(spec):
        if isinstance(spec, str):
            if spec in ("v", "av"):
                d = FieldDesc.variant()
                return FieldDesc.array(d) if spec == "av" else d
            ft, is_array = field_type_from_code(spec)
            return FieldDesc.array(ft) if is_array else FieldDesc(ft)
        kind, ident, members = spec
        ident = "" if ident in (None, "structure", "union") else ident
        fields = [(n, conv(s)) for n, s in members]
        d = FieldDesc.union(fields, ident) if kind.endswith("U") else FieldDesc.struct(fields, ident)
        return FieldDesc.array(d) if kind.startswith("a") else d

    return conv(p4p_type.aspy())


def normalize(value):
    """pva value -> what p4p's ``Value.todict()`` gives (unions/variants collapsed)."""
    from pva import Variant

    if isinstance(value, Variant):
        return normalize(value.value)
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str):
        return normalize(value[1])
    if isinstance(value, dict):
        return {k: normalize(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalize(v) for v in value]
    return value


def assert_same(ours, theirs, path="") -> None:
    """Deep comparison tolerant of numpy arrays vs lists and ints vs bools."""
    if isinstance(theirs, dict):
        assert isinstance(ours, dict), (path, ours)
        assert set(ours) <= set(theirs), (path, set(ours) - set(theirs))
        for k in ours:
            assert_same(ours[k], theirs[k], f"{path}.{k}")
    elif isinstance(theirs, np.ndarray) or isinstance(ours, np.ndarray):
        a, b = np.asarray(ours), np.asarray(theirs)
        assert a.shape == b.shape and np.array_equal(a, b), (path, a, b)
    elif isinstance(theirs, list):
        assert len(ours) == len(theirs), path
        for i, (x, y) in enumerate(zip(ours, theirs)):
            assert_same(x, y, f"{path}[{i}]")
    else:
        assert ours == theirs, (path, ours, theirs)
