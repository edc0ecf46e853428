"""Connection loss and re-connection with a private IOC that is stopped and restarted."""
from caffi import ca

from _ioc import Collector, ca_get, wait_for

UP = ca.CA_OP.CONN_UP
DOWN = ca.CA_OP.CONN_DOWN


def test_disconnect_and_reconnect(ctx, private_ioc):
    server = private_ioc()
    name = server.prefix + "counter"
    conn = Collector("connection")
    acc = Collector("access rights")
    mon = Collector("monitor")
    status, chid = ca.create_channel(name, callback=conn)
    assert status == ca.ECA.NORMAL
    status, plain = ca.create_channel(server.prefix + "ai")  # no callback
    assert status == ca.ECA.NORMAL
    try:
        assert ca.pend_io(10) == ca.ECA.NORMAL
        conn.wait(1, 10, predicate=lambda c: c["op"] == UP)
        assert ca.replace_access_rights_event(chid, acc) == ca.ECA.NORMAL
        acc.wait(1, 5)
        plain_conn = Collector("plain connection")
        assert ca.change_connection_event(plain, plain_conn) == ca.ECA.NORMAL
        status, evid = ca.create_subscription(chid, mon)
        assert status == ca.ECA.NORMAL
        ca.flush_io()
        mon.wait(2, 5)
        assert ca.host_name(chid).endswith(":%d" % server.ca_port)

        # --- the server goes away: libca notices the closed circuit
        server.stop()
        downs = conn.wait(1, 15, predicate=lambda c: c["op"] == DOWN)
        assert downs[0]["chid"] == chid
        plain_conn.wait(1, 15, predicate=lambda c: c["op"] == DOWN)
        assert ca.state(chid) == ca.ChannelState.PREV_CONN
        assert ca.state(plain) == ca.ChannelState.PREV_CONN
        # access rights are withdrawn right after the disconnect callback
        acc.wait(1, 5, predicate=lambda c: not c["read_access"] and not c["write_access"])
        assert ca.read_access(chid) is False
        # requests on a disconnected channel fail at once
        status, value = ca.get(chid, ca.DBR.DOUBLE, 1)
        assert status in (ca.ECA.DISCONN, ca.ECA.DISCONNCHID)
        status, value = ca.get(chid, ca.DBR.DOUBLE, 1, callback=lambda a: None)
        assert status in (ca.ECA.DISCONN, ca.ECA.DISCONNCHID)
        assert ca.put(plain, 1.0, ca.DBR.DOUBLE, 1) in (ca.ECA.DISCONN, ca.ECA.DISCONNCHID)
        n_updates = mon.n

        # --- a new server on the same port: re-search finds it again
        server2 = server.restart()
        assert server2.ca_port == server.ca_port
        ups = conn.wait(2, 20, predicate=lambda c: c["op"] == UP)
        assert ups[-1]["chid"] == chid
        plain_conn.wait(1, 20, predicate=lambda c: c["op"] == UP)
        assert ca.state(chid) == ca.ChannelState.CONN
        acc.wait(1, 5, predicate=lambda c: c["read_access"] and c["write_access"])
        # the subscription delivers again without re-subscribing
        mon.wait(n_updates + 2, 10)
        assert isinstance(ca_get(plain), float)
        assert ca.clear_subscription(evid) == ca.ECA.NORMAL
    finally:
        ca.clear_channel(chid)
        ca.clear_channel(plain)


def test_put_on_disconnected_channel(ctx, private_ioc):
    """Requests on a disconnected channel are refused at once and never call back."""
    server = private_ioc()
    conn = Collector("connection")
    status, chid = ca.create_channel(server.prefix + "scratch", callback=conn)
    try:
        conn.wait(1, 10)
        done = Collector("put")
        server.stop()
        conn.wait(1, 15, predicate=lambda c: c["op"] == DOWN)
        status = ca.put(chid, 2.0, callback=done)
        assert status in (ca.ECA.DISCONN, ca.ECA.DISCONNCHID)
        status, value = ca.get(chid, callback=done)
        assert status in (ca.ECA.DISCONN, ca.ECA.DISCONNCHID)
        mon = Collector("monitor")
        # subscriptions may be installed on disconnected channels
        status, evid = ca.create_subscription(chid, mon, chtype=ca.DBR.DOUBLE, count=1)
        assert status == ca.ECA.NORMAL
        assert ca.clear_subscription(evid) == ca.ECA.NORMAL
        ca.pend_event(0.1)
        assert done.n == 0
        assert mon.n == 0
    finally:
        ca.clear_channel(chid)


def test_connect_when_server_starts_later(ctx, private_ioc):
    server = private_ioc(start=False)
    conn = Collector("connection")
    status, chid = ca.create_channel(server.prefix + "longin", callback=conn)
    assert status == ca.ECA.NORMAL
    try:
        ca.flush_io()
        ca.pend_event(0.3)
        assert ca.state(chid) == ca.ChannelState.NEVER_CONN
        assert conn.n == 0
        server.start()
        (arg,) = conn.wait(1, 20)
        assert arg["op"] == UP
        assert ca.field_type(chid) == ca.DBF.LONG
        wait_for(lambda: ca.state(chid) == ca.ChannelState.CONN, 5)
    finally:
        assert ca.clear_channel(chid) == ca.ECA.NORMAL


def test_get_callback_outstanding_at_disconnect(ctx, private_ioc):
    """Gets with callback issued just before the server dies: each is answered or fails."""
    server = private_ioc()
    conn = Collector("connection")
    status, chid = ca.create_channel(server.prefix + "big", callback=conn)
    try:
        conn.wait(1, 10)
        got = Collector("get")
        n = 10
        for _ in range(n):
            status, _ = ca.get(chid, callback=got, use_numpy=True)
            assert status == ca.ECA.NORMAL
        ca.flush_io()
        server.stop()
        conn.wait(1, 15, predicate=lambda c: c["op"] == DOWN)
        calls = got.wait(n, 15)
        for c in calls:
            if c["status"] == ca.ECA.NORMAL:
                assert len(c["value"]) == 1000000
            else:
                assert c["status"] in (ca.ECA.DISCONN, ca.ECA.GETFAIL, ca.ECA.DISCONNCHID,
                                       ca.ECA.UNRESPTMO), c["status"]
                assert c["value"] is None
    finally:
        ca.clear_channel(chid)
