"""Channels: create/clear, connection and access-rights callbacks, information functions."""
import os

import pytest

from caffi import ca

from _ioc import Collector, wait_for

TYPES = {
    "ai": (ca.DBF.DOUBLE, 1), "longout": (ca.DBF.LONG, 1), "stringin": (ca.DBF.STRING, 1),
    "bo": (ca.DBF.ENUM, 1), "mbbi": (ca.DBF.ENUM, 1), "short": (ca.DBF.SHORT, 1),
    "float": (ca.DBF.FLOAT, 1), "char": (ca.DBF.CHAR, 1), "ai.PREC": (ca.DBF.SHORT, 1),
    "wf:string": (ca.DBF.STRING, 16), "wf:short": (ca.DBF.SHORT, 16),
    "wf:float": (ca.DBF.FLOAT, 16), "wf:enum": (ca.DBF.ENUM, 16), "wf:char": (ca.DBF.CHAR, 16),
    "wf:uchar": (ca.DBF.CHAR, 16), "wf:long": (ca.DBF.LONG, 16),
    "wf:double": (ca.DBF.DOUBLE, 16), "longstr": (ca.DBF.CHAR, 256),
    "big": (ca.DBF.DOUBLE, 1000000),
}


def test_create_channel_pend_io(ctx, ioc):
    name = ioc.prefix + "ai"
    status, chid = ca.create_channel(name)
    try:
        assert status == ca.ECA.NORMAL
        assert isinstance(status, ca.ECA)
        assert chid is not None
        assert ca.pend_io(5) == ca.ECA.NORMAL
        assert ca.state(chid) == ca.ChannelState.CONN
        assert isinstance(ca.state(chid), ca.ChannelState)
        assert ca.name(chid) == name
        assert ca.field_type(chid) == ca.DBF.DOUBLE
        assert isinstance(ca.field_type(chid), ca.DBF)
        assert ca.element_count(chid) == 1
        assert ca.read_access(chid) is True
        assert ca.write_access(chid) is True
        host = ca.host_name(chid)
        assert isinstance(host, str)
        assert host.endswith(":" + os.environ["EPICS_CA_SERVER_PORT"])
        assert host.split(":")[0] in ("localhost", "127.0.0.1")
    finally:
        assert ca.clear_channel(chid) == ca.ECA.NORMAL


@pytest.mark.parametrize("suffix", sorted(TYPES))
def test_native_types(connect, suffix):
    chid = connect(suffix)
    dbf, count = TYPES[suffix]
    assert ca.field_type(chid) == dbf
    assert ca.element_count(chid) == count


def test_create_channel_with_callback(ctx, ioc):
    name = ioc.prefix + "longin"
    conn = Collector("connection")
    status, chid = ca.create_channel(name, callback=conn)
    assert status == ca.ECA.NORMAL
    try:
        (arg,) = conn.wait(1, 5)
        assert set(arg) == {"chid", "op"}
        assert arg["op"] == ca.CA_OP.CONN_UP
        assert isinstance(arg["op"], ca.CA_OP)
        # The chid in the callback is (equal to) the one returned.
        assert arg["chid"] == chid
        assert hash(arg["chid"]) == hash(chid)
        assert ca.name(arg["chid"]) == name
        assert ca.state(chid) == ca.ChannelState.CONN
    finally:
        assert ca.clear_channel(chid) == ca.ECA.NORMAL


def test_chid_is_opaque(connect):
    chid = connect("ai")
    from caffi._ffi import ffi
    assert not isinstance(chid, ffi.CData)
    assert chid == chid
    other = connect("ao")
    assert chid != other
    # Usable as a dict key.
    d = {chid: 1, other: 2}
    assert d[chid] == 1


def test_pend_io_ignores_channels_with_callback(ctx):
    conn = Collector("connection")
    status, chid = ca.create_channel("caffitest:does:not:exist:1", callback=conn)
    assert status == ca.ECA.NORMAL
    try:
        assert ca.pend_io(0.5) == ca.ECA.NORMAL
        assert ca.state(chid) == ca.ChannelState.NEVER_CONN
        assert conn.n == 0
    finally:
        assert ca.clear_channel(chid) == ca.ECA.NORMAL


def test_never_connected_channel(ctx):
    status, chid = ca.create_channel("caffitest:does:not:exist:2")
    assert status == ca.ECA.NORMAL
    try:
        assert ca.test_io() == ca.ECA.IOINPROGRESS
        assert ca.pend_io(0.2) == ca.ECA.TIMEOUT
        assert ca.state(chid) == ca.ChannelState.NEVER_CONN
        assert ca.field_type(chid) == ca.DBF.INVALID
        assert ca.element_count(chid) == 0
        assert ca.read_access(chid) is False
        assert ca.write_access(chid) is False
        assert ca.name(chid) == "caffitest:does:not:exist:2"
        assert isinstance(ca.host_name(chid), str)
        # Requests on a disconnected channel fail at once.
        status, value = ca.get(chid, ca.DBR.DOUBLE, 1)
        assert status in (ca.ECA.DISCONN, ca.ECA.DISCONNCHID, ca.ECA.BADTYPE)
        assert ca.put(chid, 1.0, ca.DBR.DOUBLE, 1) in (ca.ECA.DISCONN, ca.ECA.DISCONNCHID)
    finally:
        assert ca.clear_channel(chid) == ca.ECA.NORMAL
    assert ca.test_io() == ca.ECA.IODONE


def test_test_io_with_get(connect):
    chid = connect("ai")
    status, value = ca.get(chid)
    assert status == ca.ECA.NORMAL
    assert ca.test_io() == ca.ECA.IOINPROGRESS
    assert ca.pend_io(5) == ca.ECA.NORMAL
    assert ca.test_io() == ca.ECA.IODONE
    assert isinstance(value.get(), float)


@pytest.mark.parametrize("priority", [0, 1, 50, 99, ca.CA_PRIORITY.MAX, ca.CA_PRIORITY.DB_LINKS])
def test_priority(connect, priority):
    chid = connect("longin", priority=priority)
    assert ca.state(chid) == ca.ChannelState.CONN
    assert isinstance(ca.get(chid)[0], ca.ECA)
    assert ca.pend_io(5) == ca.ECA.NORMAL


@pytest.mark.parametrize("priority", [100, 1000, -1])
def test_bad_priority(ctx, ioc, priority):
    status, chid = ca.create_channel(ioc.prefix + "ai", priority=priority)
    if chid is not None:
        ca.clear_channel(chid)
    assert status == ca.ECA.BADPRIORITY
    assert chid is None


def test_bad_name(ctx):
    status, chid = ca.create_channel("")
    if chid is not None:
        ca.clear_channel(chid)
    assert status in (ca.ECA.BADSTR, ca.ECA.EMPTYSTR)
    assert chid is None


def test_name_as_bytes(ctx, ioc):
    status, chid = ca.create_channel((ioc.prefix + "ai").encode())
    try:
        assert status == ca.ECA.NORMAL
        assert ca.pend_io(5) == ca.ECA.NORMAL
        assert ca.name(chid) == ioc.prefix + "ai"
    finally:
        ca.clear_channel(chid)


def test_clear_channel(ctx, ioc):
    status, chid = ca.create_channel(ioc.prefix + "ai")
    assert ca.pend_io(5) == ca.ECA.NORMAL
    assert ca.clear_channel(chid) == ca.ECA.NORMAL
    assert ca.state(chid) == ca.ChannelState.CLOSED
    assert ca.clear_channel(chid) == ca.ECA.BADCHID


def test_clear_channel_does_not_call_disconnect(ctx, ioc):
    conn = Collector("connection")
    status, chid = ca.create_channel(ioc.prefix + "ai", callback=conn)
    conn.wait(1, 5)
    assert ca.clear_channel(chid) == ca.ECA.NORMAL
    ca.pend_event(0.1)
    assert [c["op"] for c in conn.calls] == [ca.CA_OP.CONN_UP]


def test_many_channels_same_pv(connect):
    chids = [connect("ai", wait=False) for _ in range(20)]
    assert ca.pend_io(5) == ca.ECA.NORMAL
    assert len(set(chids)) == 20
    for chid in chids:
        assert ca.state(chid) == ca.ChannelState.CONN


def test_change_connection_event(connect):
    chid = connect("ai")
    conn = Collector("connection")
    assert ca.change_connection_event(chid, conn) == ca.ECA.NORMAL
    assert ca.change_connection_event(chid, None) == ca.ECA.NORMAL
    assert ca.change_connection_event(chid, conn) == ca.ECA.NORMAL
    # Still usable.
    status, value = ca.get(chid)
    assert status == ca.ECA.NORMAL
    assert ca.pend_io(5) == ca.ECA.NORMAL


def test_change_connection_event_before_connect(ctx, ioc):
    # Installing a connection handler on a channel created without one.
    status, chid = ca.create_channel("caffitest:does:not:exist:3")
    try:
        conn = Collector("connection")
        assert ca.change_connection_event(chid, conn) == ca.ECA.NORMAL
        assert ca.pend_io(0.2) in (ca.ECA.NORMAL, ca.ECA.TIMEOUT)
    finally:
        assert ca.clear_channel(chid) == ca.ECA.NORMAL
    status, chid = ca.create_channel(ioc.prefix + "longin")
    try:
        conn = Collector("connection")
        assert ca.change_connection_event(chid, conn) == ca.ECA.NORMAL
        ca.flush_io()
        (arg,) = conn.wait(1, 5)
        assert arg["op"] == ca.CA_OP.CONN_UP
        assert arg["chid"] == chid
    finally:
        assert ca.clear_channel(chid) == ca.ECA.NORMAL


def test_replace_access_rights_event(connect):
    chid = connect("ai")
    acc = Collector("access rights")
    assert ca.replace_access_rights_event(chid, acc) == ca.ECA.NORMAL
    # Called once at once because the channel is connected.
    (arg,) = acc.wait(1, 5)
    assert set(arg) == {"chid", "read_access", "write_access"}
    assert arg["chid"] == chid
    assert arg["read_access"] is True
    assert arg["write_access"] is True
    assert ca.replace_access_rights_event(chid, None) == ca.ECA.NORMAL
    assert ca.replace_access_rights_event(chid) == ca.ECA.NORMAL


def test_access_rights_before_connection(ctx, ioc):
    acc = Collector("access rights")
    conn = Collector("connection")
    events = []
    status, chid = ca.create_channel(ioc.prefix + "ao", callback=lambda a: (events.append("conn"), conn(a)))
    try:
        assert ca.replace_access_rights_event(
            chid, lambda a: (events.append("access"), acc(a))) == ca.ECA.NORMAL
        conn.wait(1, 5)
        acc.wait(1, 5)
        # Either installed after connecting (called at once) or before (called
        # right before the connection handler).
        assert events[0] in ("conn", "access")
        assert acc.calls[-1]["write_access"] is True
    finally:
        assert ca.clear_channel(chid) == ca.ECA.NORMAL


def test_host_name_disconnected(ctx):
    status, chid = ca.create_channel("caffitest:does:not:exist:4", callback=lambda a: None)
    try:
        host = ca.host_name(chid)
        assert isinstance(host, str)
        assert "disconnected" in host or host == ""
    finally:
        ca.clear_channel(chid)


def test_wait_for_connection_with_state(ctx, ioc):
    status, chid = ca.create_channel(ioc.prefix + "bi", callback=lambda a: None)
    try:
        ca.flush_io()
        wait_for(lambda: ca.state(chid) == ca.ChannelState.CONN, 5, "connection")
        assert ca.field_type(chid) == ca.DBF.ENUM
    finally:
        ca.clear_channel(chid)


class _FalsyCollector(Collector):
    """A valid callback whose truth value is False (e.g. an empty container-like object)."""

    def __bool__(self):
        return False

    def __len__(self):
        return 0


def test_falsy_callables_are_callbacks(ctx, ioc):
    """Callables must be tested with callable()/``is None``, not truthiness."""
    conn = _FalsyCollector("falsy connection")
    status, chid = ca.create_channel(ioc.prefix + "ai", callback=conn)
    assert status == ca.ECA.NORMAL
    try:
        (arg,) = conn.wait(1, 5)
        assert arg["op"] == ca.CA_OP.CONN_UP
        conn2 = _FalsyCollector("falsy connection 2")
        assert ca.change_connection_event(chid, conn2) == ca.ECA.NORMAL
        acc = _FalsyCollector("falsy access rights")
        assert ca.replace_access_rights_event(chid, acc) == ca.ECA.NORMAL
        acc.wait(1, 5)
        got = _FalsyCollector("falsy get")
        assert ca.get(chid, callback=got)[0] == ca.ECA.NORMAL
        put = _FalsyCollector("falsy put")
        assert ca.put(chid, 1.5, callback=put) == ca.ECA.NORMAL
        mon = _FalsyCollector("falsy monitor")
        status, evid = ca.create_subscription(chid, mon)
        assert status == ca.ECA.NORMAL
        ca.flush_io()
        got.wait(1, 5)
        put.wait(1, 5)
        mon.wait(1, 5)
        assert ca.clear_subscription(evid) == ca.ECA.NORMAL
    finally:
        assert ca.clear_channel(chid) == ca.ECA.NORMAL
