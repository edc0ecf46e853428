"""Access rights with a private IOC running access security (tests/ioc/test.acf)."""
from caffi import ca

from _ioc import TEST_ACF, Collector, ca_get, ca_put


def test_read_only_record(ctx, private_ioc):
    server = private_ioc(acf=TEST_ACF)
    ro_name = server.prefix + "ro"
    acc = Collector("access rights")
    conn = Collector("connection")
    status, chid = ca.create_channel(ro_name, callback=conn)
    assert status == ca.ECA.NORMAL
    status, rw = ca.create_channel(server.prefix + "scratch")
    assert status == ca.ECA.NORMAL
    status, gid = ca.sg_create()
    assert status == ca.ECA.NORMAL
    try:
        assert ca.pend_io(10) == ca.ECA.NORMAL
        conn.wait(1, 10)
        assert ca.read_access(chid) is True
        assert ca.write_access(chid) is False
        assert ca.write_access(rw) is True
        assert ca.replace_access_rights_event(chid, acc) == ca.ECA.NORMAL
        (arg,) = acc.wait(1, 5)
        assert arg == {"chid": chid, "read_access": True, "write_access": False}

        # reading works, writing is refused by libca at once
        assert ca_get(chid) == 3.0
        assert ca.put(chid, 5.0) == ca.ECA.NOWTACCESS
        refused = Collector("put")
        assert ca.put(chid, 5.0, callback=refused) == ca.ECA.NOWTACCESS
        assert ca.sg_put(gid, chid, 5.0) == ca.ECA.NOWTACCESS
        ca.pend_event(0.1)
        assert refused.n == 0
        assert ca_get(chid) == 3.0
        assert ca_put(rw, 1.0)["status"] == ca.ECA.NORMAL

        # change the record's access security group at run time
        server.dbpf(ro_name + ".ASG", "DEFAULT")
        acc.wait(1, 10, predicate=lambda c: c["write_access"])
        assert ca.write_access(chid) is True
        assert ca_put(chid, 5.0)["status"] == ca.ECA.NORMAL
        assert ca_get(chid) == 5.0

        server.dbpf(ro_name + ".ASG", "RO")
        acc.wait(1, 10, predicate=lambda c: not c["write_access"] and acc.n >= 3)
        assert ca.write_access(chid) is False
        assert ca.read_access(chid) is True
        assert ca.put(chid, 6.0) == ca.ECA.NOWTACCESS
        assert [c["write_access"] for c in acc.calls] == [False, True, False]
        assert all(c["read_access"] for c in acc.calls)
    finally:
        ca.sg_delete(gid)
        ca.clear_channel(chid)
        ca.clear_channel(rw)


def test_access_rights_callback_before_connection(ctx, private_ioc):
    """Installed before connecting: called right before the connection handler."""
    server = private_ioc(acf=TEST_ACF)
    order = []
    status, chid = ca.create_channel(server.prefix + "ro",
                                     callback=lambda a: order.append(("conn", a["op"])))
    assert status == ca.ECA.NORMAL
    try:
        assert ca.replace_access_rights_event(
            chid, lambda a: order.append(("access", a["write_access"]))) == ca.ECA.NORMAL
        ca.flush_io()
        from _ioc import wait_for
        wait_for(lambda: ("conn", ca.CA_OP.CONN_UP) in order, 10, "connection")
        assert ("access", False) in order
        if order[0][0] == "access":
            assert order.index(("access", False)) < order.index(("conn", ca.CA_OP.CONN_UP))
    finally:
        assert ca.clear_channel(chid) == ca.ECA.NORMAL


def test_subscription_on_read_only(ctx, private_ioc):
    server = private_ioc(acf=TEST_ACF)
    status, chid = ca.create_channel(server.prefix + "ro")
    try:
        assert ca.pend_io(10) == ca.ECA.NORMAL
        mon = Collector("monitor")
        status, evid = ca.create_subscription(chid, mon)
        assert status == ca.ECA.NORMAL
        ca.flush_io()
        (arg,) = mon.wait(1, 5)
        assert arg["value"] == 3.0
        server.dbpf(server.prefix + "ro", 4)
        mon.wait(1, 5, predicate=lambda c: c["value"] == 4.0)
        assert ca.clear_subscription(evid) == ca.ECA.NORMAL
    finally:
        ca.clear_channel(chid)
