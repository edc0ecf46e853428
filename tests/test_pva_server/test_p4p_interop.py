"""Our server, p4p's client: every operation and the normative types.

Values are compared field by field between what we serve and what p4p's
``Value.todict()`` gives.
"""
from __future__ import annotations

import getpass
import queue
import threading

import numpy as np
import pytest
from p4p import Value
from p4p.client.thread import RemoteError

import pva
from pva import nt
from pva.server import AuthenticationError, AuthOperation, DataWrapperBase
from pva.server.common import value_instance

SCALAR_VALUES = {
    "?": True, "b": -5, "B": 200, "h": -30000, "H": 60000, "i": -2000000000,
    "I": 4000000000, "l": -(2 ** 62), "L": 2 ** 63 + 5, "f": 1.5, "d": -2.25e300,
    "s": "héllo wörld",
}
PUT_VALUES = {
    "?": False, "b": 7, "B": 3, "h": 1234, "H": 4321, "i": -17, "I": 17, "l": 2 ** 40,
    "L": 2 ** 64 - 1, "f": -0.5, "d": 1e-300, "s": "put ✓",
}
TIMESTAMP = 1700000000.25


def normalize(value):
    """Our value -> what p4p's todict() gives (unions and variants collapsed)."""
    if isinstance(value, pva.Variant):
        return normalize(value.value)
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str):
        return normalize(value[1])
    if isinstance(value, dict):
        return {k: normalize(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalize(v) for v in value]
    return value


def assert_same(ours, theirs, path=""):
    if isinstance(theirs, dict):
        assert isinstance(ours, dict), (path, ours)
        assert set(ours) == set(theirs), (path, set(ours) ^ set(theirs))
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


def make_cases():
    """name -> (FieldDesc, full value dict)."""
    cases = {}
    for code, v in SCALAR_VALUES.items():
        t = nt.NTScalar(code, display=True, control=True, valueAlarm=True)
        cases[f"scalar_{code}"] = (t.type, t.wrap(v, timestamp=TIMESTAMP))
        if code == "s":
            arr = ["a", "", "ccc" * 100]
        elif code == "?":
            arr = np.array([True, False, True])
        elif code in "fd":
            arr = np.linspace(-1, 1, 7).astype(code)
        else:
            arr = np.arange(5).astype(np.dtype(code))
        ta = nt.NTScalar("a" + code)
        cases[f"array_{code}"] = (ta.type, ta.wrap(arr, timestamp=TIMESTAMP))
    te = nt.NTEnum()
    cases["enum"] = (te.type, te.wrap({"index": 1, "choices": ["zero", "one", "two"]},
                                      timestamp=TIMESTAMP))
    tt = nt.NTTable([("a", "i"), ("b", "s"), ("c", "d")])
    cases["table"] = (tt.type, tt.wrap([{"a": 1, "b": "x", "c": 0.5},
                                        {"a": 2, "b": "yy", "c": -1.0}], timestamp=TIMESTAMP))
    tn = nt.NTNDArray()
    cases["ndarray"] = (tn.type, tn.wrap(np.arange(12, dtype="i2").reshape(3, 4),
                                         timestamp=TIMESTAMP))
    return cases


def served(cases):
    return {name: DataWrapperBase(name, value_instance(value, desc))
            for name, (desc, value) in cases.items()}


def current(entry):
    return pva.server.common.snapshot(entry.structure, entry.data)


@pytest.fixture
def nt_server(serve):
    cases = make_cases()
    pvdb = served(cases)
    return serve(pvdb), pvdb, cases


def test_get_every_normative_type(nt_server, p4p_client):
    srv, pvdb, cases = nt_server
    ctxt = p4p_client(srv, nt=False)
    names = sorted(cases)
    values = ctxt.get(names, timeout=10)
    for name, v in zip(names, values):
        desc, value = cases[name]
        assert v.getID() == desc.type_id, name
        assert_same(normalize(value), v.todict(), name)


def test_put_every_scalar_type(nt_server, p4p_client):
    srv, pvdb, cases = nt_server
    ctxt = p4p_client(srv)
    raw = p4p_client(srv, nt=False)
    for code, v in PUT_VALUES.items():
        name = f"scalar_{code}"
        ctxt.put(name, v, timeout=5)
        got = raw.get(name, timeout=5)
        want = np.float32(v) if code == "f" else v
        assert got.todict()["value"] == want, name
        assert srv.call(lambda: pvdb[name].data.value) == want
        # the other fields are untouched
        assert got.todict()["display"] == normalize(cases[name][1])["display"]


def test_put_arrays(nt_server, p4p_client):
    srv, pvdb, cases = nt_server
    ctxt = p4p_client(srv)
    ctxt.put("array_d", np.array([1.0, 2.0, 3.0]), timeout=5)
    assert_same(np.array([1.0, 2.0, 3.0]), ctxt.get("array_d", timeout=5).todict()["value"])
    ctxt.put("array_s", ["x", "yz"], timeout=5)
    assert ctxt.get("array_s", timeout=5).todict()["value"] == ["x", "yz"]
    ctxt.put("array_i", np.arange(1000, dtype="i4"), timeout=5)
    assert_same(np.arange(1000, dtype="i4"), ctxt.get("array_i", timeout=5).todict()["value"])


def test_put_enum_and_table(nt_server, p4p_client):
    srv, pvdb, cases = nt_server
    ctxt = p4p_client(srv, nt=False)
    ctxt.put("enum", {"value.index": 2}, timeout=5)
    got = ctxt.get("enum", timeout=5).todict()
    assert got["value"] == {"index": 2, "choices": ["zero", "one", "two"]}
    ctxt.put("table", {"value.a": np.array([5, 6, 7], dtype="i4")}, timeout=5)
    got = ctxt.get("table", timeout=5).todict()
    assert_same(np.array([5, 6, 7], dtype="i4"), got["value"]["a"])


def test_put_process_block_request(nt_server, p4p_client):
    srv, pvdb, cases = nt_server
    ctxt = p4p_client(srv)
    ctxt.put("scalar_d", 12.5, request="record[process=true,block=true]", timeout=5)
    ctxt.put("scalar_i", 3, process="true", wait=True, timeout=5)
    assert srv.call(lambda: pvdb["scalar_d"].data.value) == 12.5
    assert srv.call(lambda: pvdb["scalar_i"].data.value) == 3


def test_field_selection(nt_server, p4p_client):
    srv, pvdb, cases = nt_server
    ctxt = p4p_client(srv, nt=False)
    v = ctxt.get("scalar_d", request="field(value,alarm.severity)", timeout=5)
    assert v.changedSet() == {"value", "alarm.severity"}
    assert v.value == SCALAR_VALUES["d"]
    v = ctxt.get("scalar_d", request="field(display)", timeout=5)
    assert "display.units" in v.changedSet() and "value" not in v.changedSet()
    full = ctxt.get("scalar_d", timeout=5)
    assert "value" in full.changedSet() and "timeStamp.nanoseconds" in full.changedSet()
    with pytest.raises(RemoteError):
        ctxt.get("scalar_d", request="field(nosuchfield)", timeout=5)


def test_monitor_updates(nt_server, p4p_client):
    srv, pvdb, cases = nt_server
    ctxt = p4p_client(srv, nt=False)
    q = queue.Queue()
    sub = ctxt.monitor("scalar_i", q.put)
    try:
        first = q.get(timeout=5)
        assert first.todict()["value"] == SCALAR_VALUES["i"]
        assert "display.units" in first.changedSet()
        for i in range(5):
            srv.call(lambda i=i: pvdb["scalar_i"].commit({"value": i}))
            upd = q.get(timeout=5)
            assert upd.value == i
            # a commit without a time stamp is stamped with the current time
            assert upd.changedSet() == {"value", "timeStamp.secondsPastEpoch",
                                        "timeStamp.nanoseconds"}
    finally:
        sub.close()


def test_monitor_pipeline(nt_server, p4p_client):
    srv, pvdb, cases = nt_server
    ctxt = p4p_client(srv)
    q = queue.Queue()
    sub = ctxt.monitor("scalar_l", q.put, request="record[pipeline=true,queueSize=2]")
    try:
        assert q.get(timeout=5).value == SCALAR_VALUES["l"]
        got = []
        for i in range(20):
            srv.call(lambda i=i: pvdb["scalar_l"].commit({"value": i}))
        while not got or got[-1] != 19:
            got.append(q.get(timeout=5).value)
        assert got == sorted(got)
    finally:
        sub.close()


def test_monitor_field_selection(nt_server, p4p_client):
    srv, pvdb, cases = nt_server
    ctxt = p4p_client(srv, nt=False)
    q = queue.Queue()
    sub = ctxt.monitor("scalar_d", q.put, request="field(alarm)")
    try:
        first = q.get(timeout=5)
        assert {"alarm.severity", "alarm.status", "alarm.message"} <= first.changedSet()
        assert not {"value", "timeStamp.userTag", "display.units"} & first.changedSet()
        srv.call(lambda: pvdb["scalar_d"].commit({"value": 1.0}))  # not selected
        srv.call(lambda: pvdb["scalar_d"].commit({"alarm": {"severity": 2}}))
        upd = q.get(timeout=5)
        assert upd.changedSet() == {"alarm.severity"}
        assert upd.alarm.severity == 2
    finally:
        sub.close()


def test_rpc(serve, p4p_client):
    class Adder(DataWrapperBase):
        async def call(self, request, data):
            out = nt.NTScalarFloat64(value=data.data["a"] + data.data["b"])
            return out

    srv = serve({"add": Adder("add", nt.NTScalarFloat64(value=0.0))})
    ctxt = p4p_client(srv, nt=False)
    from p4p import Type
    arg = Value(Type([("a", "d"), ("b", "d")]), {"a": 1.25, "b": 2.0})
    res = ctxt.rpc("add", arg, timeout=5)
    assert res.value == 3.25
    assert res.getID() == "epics:nt/NTScalar:1.0"


def test_rpc_unsupported_is_an_error(serve, p4p_client):
    srv = serve({"x": nt.NTScalarFloat64(value=0.0)})
    ctxt = p4p_client(srv)
    from p4p import Type
    with pytest.raises(RemoteError, match="RPC"):
        ctxt.rpc("x", Value(Type([("a", "d")]), {"a": 1.0}), timeout=5)


class Faulty(DataWrapperBase):
    async def read(self, request):
        raise RuntimeError("read exploded")

    async def write(self, update):
        raise ValueError("write refused")


def test_handler_exceptions_become_error_status(serve, p4p_client):
    srv = serve({"bad": Faulty("bad", nt.NTScalarFloat64(value=1.0)),
                 "good": nt.NTScalarFloat64(value=2.0)})
    ctxt = p4p_client(srv)
    with pytest.raises(RemoteError, match="read exploded"):
        ctxt.get("bad", timeout=5)
    with pytest.raises(RemoteError, match="write refused"):
        ctxt.put("bad", 3.0, get=False, timeout=5)
    # the same connection goes on
    assert ctxt.get("good", timeout=5).value == 2.0
    assert len(srv.ctx.circuits) == 1


def test_put_of_unknown_field_is_an_error(serve, p4p_client):
    srv = serve({"x": nt.NTScalarFloat64(value=1.0)})
    ctxt = p4p_client(srv)
    # a value that cannot be stored: an int field receiving a string is converted by
    # p4p before sending; a string that is not a number is refused by the client
    with pytest.raises(Exception):
        ctxt.put("x", "not a number", timeout=5)
    assert ctxt.get("x", timeout=5).value == 1.0


def test_unknown_pv_times_out(serve, p4p_client):
    from p4p.client.thread import TimeoutError as P4PTimeout
    srv = serve({"x": nt.NTScalarFloat64(value=1.0)})
    ctxt = p4p_client(srv)
    with pytest.raises(P4PTimeout):
        ctxt.get("does:not:exist", timeout=0.5)


def test_authorize_sees_ca_user(serve, p4p_client):
    seen = []

    class Guarded(DataWrapperBase):
        async def authorize(self, operation, *, authorization, request=None):
            seen.append((operation, authorization["method"], authorization["user"]))
            if operation is AuthOperation.write:
                raise AuthenticationError(f"{authorization['user']} may not write")
            return self.data

    hook_seen = []
    srv = serve({"g": Guarded("g", nt.NTScalarFloat64(value=1.0))},
                authorize=lambda auth: hook_seen.append(auth))
    ctxt = p4p_client(srv)
    assert ctxt.get("g", timeout=5).value == 1.0
    with pytest.raises(RemoteError, match="may not write"):
        ctxt.put("g", 2.0, timeout=5)
    user = getpass.getuser()
    assert (AuthOperation.read, "ca", user) in seen
    assert hook_seen and hook_seen[0]["method"] == "ca" and hook_seen[0]["user"] == user
    assert hook_seen[0]["peer"][0] == "127.0.0.1"


def test_search_over_tcp_name_server(serve):
    from p4p.client.thread import Context as P4PContext
    srv = serve({"tcp:x": nt.NTScalarInt32(value=11)})
    conf = srv.client_conf()
    conf["EPICS_PVA_ADDR_LIST"] = ""
    conf["EPICS_PVA_NAME_SERVERS"] = f"127.0.0.1:{srv.port}"
    ctxt = P4PContext("pva", conf=conf, useenv=False)
    try:
        assert ctxt.get("tcp:x", timeout=5) == 11
    finally:
        ctxt.close()


def test_many_pvs(serve, p4p_client):
    """100,000 PVs in one server: a sample spread over all of them (and the
    last one) is searched, connected and read by p4p's client; a monitor
    on one of them sees a change."""
    n = 100_000
    pvdb = {f"many:{i}": nt.NTScalarInt32(value=i) for i in range(n)}
    srv = serve(pvdb)
    ctxt = p4p_client(srv)
    sample = sorted(set(range(0, n, 50)) | {n - 1})
    values = ctxt.get([f"many:{i}" for i in sample], timeout=60)
    assert [v.value for v in values] == sample
    updates = queue.Queue()
    sub = ctxt.monitor("many:77777", updates.put)
    try:
        assert updates.get(timeout=10).value == 77777
        srv.call(lambda: pvdb_entry(srv, "many:77777").commit({"value": -1}))
        assert updates.get(timeout=10).value == -1
    finally:
        sub.close()


def test_many_clients(serve, p4p_client):
    """100 p4p clients at once on one server: each monitors, puts and gets."""
    pvdb = {"shared": nt.NTScalarInt64(value=0)}
    srv = serve(pvdb)
    clients = [p4p_client(srv) for _ in range(100)]
    queues = [queue.Queue() for _ in clients]
    subs = [c.monitor("shared", q.put) for c, q in zip(clients, queues)]
    try:
        for q in queues:
            assert q.get(timeout=10).value == 0
        srv.call(lambda: pvdb_entry(srv, "shared").commit({"value": 42}))
        for q in queues:
            assert q.get(timeout=10).value == 42
        errors = []

        def worker(c, i):
            try:
                c.put("shared", i, timeout=10)
                c.get("shared", timeout=10)
            except Exception as ex:  # pragma: no cover - reported below
                errors.append(ex)
        threads = [threading.Thread(target=worker, args=(c, i)) for i, c in enumerate(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert not errors
        assert len(srv.ctx.circuits) == 100
    finally:
        for s in subs:
            s.close()


def pvdb_entry(srv, name):
    return srv.ctx.pvdb[name]


def test_hostile_client_does_not_disturb_others(serve, p4p_client, raw_client, caplog):
    srv = serve({"x": nt.NTScalarFloat64(value=1.0)})
    ctxt = p4p_client(srv)
    q = queue.Queue()
    sub = ctxt.monitor("x", q.put)
    try:
        assert q.get(timeout=5).value == 1.0
        bad = raw_client(srv.port)
        bad.send_raw(b"\xca\x01\x00\x07" + b"\xff" * 64)  # garbage after validation
        assert bad.wait_closed()
        bad2 = raw_client(srv.port, validate=False)
        bad2.send_raw(bytes(range(256)) * 4)
        assert bad2.wait_closed()
        srv.call(lambda: pvdb_entry(srv, "x").commit({"value": 2.0}))
        assert q.get(timeout=5).value == 2.0
        assert ctxt.get("x", timeout=5).value == 2.0
    finally:
        sub.close()
    assert any("closing circuit" in r.getMessage() for r in caplog.records)
