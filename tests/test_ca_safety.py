"""Misuse must give a status or a Python exception, never a crash.

The most dangerous cases run in a child interpreter, so that a segfault is a
test failure instead of the end of the pytest process.
"""
import textwrap
import threading

import pytest

from caffi import ca

from _ioc import Collector, ca_get, ca_put, run_in_thread, run_python, HERE

INFO_FUNCTIONS = ("name", "field_type", "element_count", "host_name", "read_access",
                  "write_access")


def _in_child(code, ioc, timeout=60):
    prelude = textwrap.dedent("""
        import sys, threading, time
        sys.path.insert(0, %r)
        from caffi import ca
        from caffi._ffi import ffi
        P = %r
        assert ca.create_context(True) == ca.ECA.NORMAL
        def connect(suffix):
            status, chid = ca.create_channel(P + suffix)
            assert status == ca.ECA.NORMAL
            assert ca.pend_io(5) == ca.ECA.NORMAL, suffix
            return chid
    """) % (HERE, ioc.prefix)
    body = prelude + textwrap.dedent(code) + "\nprint('CHILD-OK', flush=True)\n"
    rc, out, err = run_python(body, timeout=timeout)
    assert rc == 0 and "CHILD-OK" in out, \
        "child failed with exit code %r\n--- stdout ---\n%s\n--- stderr ---\n%s" % (rc, out, err)
    return out


# --------------------------------------------------------------------------- #
# Cleared channels (in process)


def test_cleared_chid_everywhere(ctx, ioc):
    status, chid = ca.create_channel(ioc.prefix + "ai")
    assert ca.pend_io(5) == ca.ECA.NORMAL
    status, gid = ca.sg_create()
    assert status == ca.ECA.NORMAL
    try:
        assert ca.clear_channel(chid) == ca.ECA.NORMAL
        assert ca.state(chid) == ca.ChannelState.CLOSED
        assert ca.clear_channel(chid) == ca.ECA.BADCHID
        assert ca.change_connection_event(chid, lambda a: None) == ca.ECA.BADCHID
        assert ca.change_connection_event(chid, None) == ca.ECA.BADCHID
        assert ca.replace_access_rights_event(chid, lambda a: None) == ca.ECA.BADCHID
        assert ca.get(chid) == (ca.ECA.BADCHID, None)
        assert ca.get(chid, ca.DBR.DOUBLE, 1) == (ca.ECA.BADCHID, None)
        assert ca.get(chid, callback=lambda a: None) == (ca.ECA.BADCHID, None)
        assert ca.put(chid, 1.0) == ca.ECA.BADCHID
        assert ca.put(chid, 1.0, callback=lambda a: None) == ca.ECA.BADCHID
        assert ca.create_subscription(chid, lambda a: None) == (ca.ECA.BADCHID, None)
        assert ca.sg_get(gid, chid) == (ca.ECA.BADCHID, None)
        assert ca.sg_put(gid, chid, 1.0) == ca.ECA.BADCHID
        for fname in INFO_FUNCTIONS:
            with pytest.raises(ValueError):
                getattr(ca, fname)(chid)
    finally:
        assert ca.sg_delete(gid) == ca.ECA.NORMAL


def test_cleared_evid(connect):
    chid = connect("ai")
    status, evid = ca.create_subscription(chid, lambda a: None)
    assert status == ca.ECA.NORMAL
    assert ca.clear_subscription(evid) == ca.ECA.NORMAL
    assert ca.clear_subscription(evid) == ca.ECA.BADMONID
    assert ca.clear_subscription(evid) == ca.ECA.BADMONID


def test_wrong_python_types(connect, ctx):
    chid = connect("ai")
    with pytest.raises(TypeError):
        ca.create_channel(123)
    with pytest.raises(TypeError):
        ca.create_channel(None)
    with pytest.raises(TypeError):
        ca.get(chid, chtype="DOUBLE")
    with pytest.raises(TypeError):
        ca.get(chid, count="3")
    with pytest.raises(TypeError):
        ca.put(chid, 1.0, count="3")
    with pytest.raises(TypeError):
        ca.put(chid, 1.0, chtype=1.5)
    with pytest.raises(TypeError):
        ca.pend_event(None)
    with pytest.raises(TypeError):
        ca.create_subscription(chid, lambda a: None, mask="VALUE")
    with pytest.raises(TypeError):
        ca.create_channel("x", priority="high")
    with pytest.raises(TypeError):
        ca.message("NORMAL")
    # still fine afterwards
    assert isinstance(ca_get(chid), float)


def test_timeout_type(ctx):
    """A str is the wrong type for a timeout (TypeError, not a parse attempt)."""
    for fn in (ca.pend_io, ca.pend_event):
        with pytest.raises(TypeError):
            fn("soon")
    with pytest.raises(TypeError):
        ca.pend("soon", True)


def test_non_callable_callbacks(connect, ctx, ioc):
    chid = connect("ai")
    # caffi 1.0: a non-callable connection/access callback means "no callback".
    try:
        status, chid2 = ca.create_channel(ioc.prefix + "ai", callback=42)
    except TypeError:
        chid2 = None
    else:
        assert status == ca.ECA.NORMAL
        assert ca.pend_io(5) == ca.ECA.NORMAL  # created without callback
        assert ca.clear_channel(chid2) == ca.ECA.NORMAL
    try:
        assert ca.change_connection_event(chid, 42) == ca.ECA.NORMAL
    except TypeError:
        pass
    try:
        assert ca.replace_access_rights_event(chid, "nope") == ca.ECA.NORMAL
    except TypeError:
        pass
    # a get/put "callback" that is not callable is refused or ignored, never called
    try:
        status, value = ca.get(chid, callback=42)
    except TypeError:
        pass
    else:
        assert status in (ca.ECA.NORMAL, ca.ECA.BADFUNCPTR)
        if status == ca.ECA.NORMAL and value is not None:
            assert ca.pend_io(5) == ca.ECA.NORMAL
    ca.pend_event(0.05)


def test_destroy_context_invalidates_channels(ioc, ctx):
    name = ioc.prefix + "counter"

    def body():
        assert ca.create_context(True) == ca.ECA.NORMAL
        status, chid = ca.create_channel(name)
        assert status == ca.ECA.NORMAL
        assert ca.pend_io(5) == ca.ECA.NORMAL
        mon = Collector("monitor")
        status, evid = ca.create_subscription(chid, mon)
        assert status == ca.ECA.NORMAL
        ca.flush_io()
        mon.wait(1, 5)
        conn_chid_status = ca.create_channel(name, callback=lambda a: None)
        assert conn_chid_status[0] == ca.ECA.NORMAL
        status, pending = ca.get(chid)  # outstanding, never pended
        assert status == ca.ECA.NORMAL
        ca.destroy_context()
        assert ca.current_context() is None
        # every id of the destroyed context is dead now
        assert ca.state(chid) == ca.ChannelState.CLOSED
        assert ca.clear_channel(chid) == ca.ECA.BADCHID
        assert ca.clear_channel(conn_chid_status[1]) == ca.ECA.BADCHID
        assert ca.get(chid) == (ca.ECA.BADCHID, None)
        assert ca.put(chid, 1.0) == ca.ECA.BADCHID
        assert ca.clear_subscription(evid) in (ca.ECA.BADMONID, ca.ECA.BADCHID)
        for fname in INFO_FUNCTIONS:
            with pytest.raises(ValueError):
                getattr(ca, fname)(chid)
        n = mon.n
        # a witness in a new context sees the record change 3 times meanwhile
        assert ca.create_context(True) == ca.ECA.NORMAL
        try:
            status, other = ca.create_channel(name)
            assert ca.pend_io(5) == ca.ECA.NORMAL
            witness = Collector("witness")
            status, wevid = ca.create_subscription(other, witness)
            ca.flush_io()
            witness.wait(4, 5)
        finally:
            ca.destroy_context()
        assert mon.n == n
        return True

    assert run_in_thread(body)
    assert ca.current_context() == ctx


def test_channel_of_other_context_after_destroy_from_main(ioc, ctx):
    """A chid whose context died, used from a thread with a live context."""
    name = ioc.prefix + "ai"
    holder = {}

    def body():
        assert ca.create_context(True) == ca.ECA.NORMAL
        status, chid = ca.create_channel(name)
        assert ca.pend_io(5) == ca.ECA.NORMAL
        holder["chid"] = chid
        ca.destroy_context()

    run_in_thread(body)
    chid = holder["chid"]
    assert ca.state(chid) == ca.ChannelState.CLOSED
    assert ca.clear_channel(chid) == ca.ECA.BADCHID
    assert ca.get(chid) == (ca.ECA.BADCHID, None)
    assert ca.put(chid, 2.0, callback=lambda a: None) == ca.ECA.BADCHID
    assert ca.create_subscription(chid, lambda a: None) == (ca.ECA.BADCHID, None)


# --------------------------------------------------------------------------- #
# Foreign ids and races (in a child process)


def test_foreign_chids_in_child(ioc):
    _in_child("""
        BAD = [None, 0, 1234, -1, 2**70, "a string", b"bytes", 1.5, object(),
               ffi.cast("chid", 1234), ffi.NULL, ffi.new("int *")]
        status, gid = ca.sg_create()
        for bad in BAD:
            def check_status(fn, *args, **kwargs):
                try:
                    result = fn(*args, **kwargs)
                except TypeError:
                    return
                if isinstance(result, tuple):
                    assert result == (ca.ECA.BADCHID, None), (fn, bad, result)
                else:
                    assert result == ca.ECA.BADCHID, (fn, bad, result)
            check_status(ca.clear_channel, bad)
            check_status(ca.change_connection_event, bad, lambda a: None)
            check_status(ca.replace_access_rights_event, bad, lambda a: None)
            check_status(ca.get, bad)
            check_status(ca.get, bad, ca.DBR.DOUBLE, 1, callback=lambda a: None)
            check_status(ca.put, bad, 1.0)
            check_status(ca.put, bad, 1.0, ca.DBR.DOUBLE, 1, callback=lambda a: None)
            check_status(ca.create_subscription, bad, lambda a: None)
            check_status(ca.create_subscription, bad, lambda a: None, ca.DBR.DOUBLE, 1)
            check_status(ca.sg_get, gid, bad)
            check_status(ca.sg_put, gid, bad, 1.0)
            for fname in ("name", "field_type", "element_count", "host_name",
                          "read_access", "write_access"):
                try:
                    getattr(ca, fname)(bad)
                except (TypeError, ValueError):
                    pass
                else:
                    raise AssertionError("%s(%r) did not raise" % (fname, bad))
            try:
                st = ca.state(bad)
            except TypeError:
                pass
            else:
                assert st in (ca.ChannelState.NEVER_SEARCH, ca.ChannelState.CLOSED), (bad, st)
        assert ca.sg_delete(gid) == ca.ECA.NORMAL
        # the library still works
        chid = connect("ai")
        assert ca.get(chid)[0] == ca.ECA.NORMAL
        assert ca.pend_io(5) == ca.ECA.NORMAL
    """, ioc)


def test_foreign_evids_in_child(ioc):
    _in_child("""
        chid = connect("ai")
        status, good = ca.create_subscription(chid, lambda a: None)
        for bad in [None, 0, 1234, "evid", ffi.cast("evid", 1234), ffi.NULL, chid]:
            try:
                result = ca.clear_subscription(bad)
            except TypeError:
                continue
            assert result in (ca.ECA.BADMONID, ca.ECA.BADCHID), (bad, result)
        assert ca.clear_subscription(good) == ca.ECA.NORMAL
        # a chid is not an evid, an evid is not a chid
        try:
            r = ca.clear_channel(good)
        except TypeError:
            pass
        else:
            assert r == ca.ECA.BADCHID
        assert ca.clear_channel(chid) == ca.ECA.NORMAL
    """, ioc)


def test_foreign_contexts_in_child(ioc):
    _in_child("""
        for bad in [1234, "ctx", ffi.cast("void *", 1234), object()]:
            def attach():
                try:
                    r = ca.attach_context(bad)
                except TypeError:
                    return
                assert r != ca.ECA.NORMAL, (bad, r)
                assert ca.current_context() is None
            t = threading.Thread(target=attach)
            t.start(); t.join(10)
            try:
                r = ca.show_context(bad)
            except TypeError:
                pass
            else:
                # refused without touching libca: no context
                assert r == ca.ECA.NOCACTX, (bad, r)
        try:
            assert ca.attach_context(None) != ca.ECA.NORMAL
        except TypeError:
            pass
    """, ioc)


def test_clear_inside_own_callback_in_child(ioc):
    _in_child("""
        chid = connect("counter")
        done = threading.Event()
        box = {}
        def one_shot(arg):
            if "evid" in box and "status" not in box:
                box["status"] = ca.clear_subscription(box["evid"])
                done.set()
        status, evid = ca.create_subscription(chid, one_shot)
        box["evid"] = evid
        ca.flush_io()
        assert done.wait(10), "callback never ran"
        assert box["status"] == ca.ECA.NORMAL, box
        # clear a channel from inside its own get callback
        chid2 = connect("ai")
        done2 = threading.Event()
        def clear_me(arg):
            box["clear"] = ca.clear_channel(chid2)
            done2.set()
        assert ca.get(chid2, callback=clear_me)[0] == ca.ECA.NORMAL
        ca.flush_io()
        assert done2.wait(10)
        assert box["clear"] == ca.ECA.NORMAL
        assert ca.state(chid2) == ca.ChannelState.CLOSED
        # and from inside a connection callback
        done3 = threading.Event()
        holder = {}
        def conn(arg):
            holder["r"] = ca.clear_channel(arg["chid"])
            done3.set()
        status, chid3 = ca.create_channel(P + "longin", callback=conn)
        assert done3.wait(10)
        assert holder["r"] == ca.ECA.NORMAL
        assert ca.clear_channel(chid) == ca.ECA.NORMAL
    """, ioc)


def test_clear_while_updates_race_in_child(ioc):
    _in_child("""
        writer_chid = connect("scratch")
        stop = threading.Event()
        def writer():
            ca.attach_context(CTX)
            i = 0
            while not stop.is_set():
                ca.put(writer_chid, float(i))
                ca.flush_io()
                i += 1
                time.sleep(0.001)
            ca.detach_context()
        CTX = ca.current_context()
        t = threading.Thread(target=writer)
        t.start()
        try:
            for i in range(40):
                chid = connect("scratch")
                got = threading.Event()
                status, evid = ca.create_subscription(chid, lambda a: got.set(), use_numpy=True)
                assert status == ca.ECA.NORMAL
                ca.flush_io()
                assert got.wait(5)
                if i % 2:
                    assert ca.clear_subscription(evid) == ca.ECA.NORMAL
                status, _ = ca.get(chid, callback=lambda a: None)
                assert ca.clear_channel(chid) == ca.ECA.NORMAL
        finally:
            stop.set()
            t.join(10)
        from caffi import _callbacks
        counts = _callbacks.registry_counts()
        assert counts["channels"] == 1 and counts["subscriptions"] == 0, counts
    """, ioc, timeout=120)


def test_destroy_context_with_everything_in_child(ioc):
    _in_child("""
        chids = [connect(s) for s in ("ai", "counter", "wf:double", "big")]
        evids = [ca.create_subscription(c, lambda a: None, use_numpy=True)[1] for c in chids]
        pending = [ca.get(c)[1] for c in chids]
        ca.get(chids[3], callback=lambda a: None)
        ca.put(chids[0], 1.0, callback=lambda a: None)
        status, gid = ca.sg_create()
        ca.sg_get(gid, chids[3])
        ca.add_exception_event(lambda a: None)
        ca.flush_io()
        ca.destroy_context()
        for c in chids:
            assert ca.clear_channel(c) == ca.ECA.BADCHID
        from caffi import _callbacks
        counts = _callbacks.registry_counts()
        assert not any(counts.values()), counts
        # a new context works
        assert ca.create_context(True) == ca.ECA.NORMAL
        chid = connect("ai")
        assert ca.get(chid)[0] == ca.ECA.NORMAL
        assert ca.pend_io(5) == ca.ECA.NORMAL
        assert ca.clear_channel(chid) == ca.ECA.NORMAL
        ca.destroy_context()
    """, ioc)


def test_pending_get_buffer_outlives_caller_in_child(ioc):
    _in_child("""
        import gc
        chid = connect("big")
        for i in range(5):
            status, value = ca.get(chid, use_numpy=True)
            assert status == ca.ECA.NORMAL
            del value
            gc.collect()
        assert ca.pend_io(10) == ca.ECA.NORMAL
        status, value = ca.get(chid, count=10)
        assert ca.pend_io(10) == ca.ECA.NORMAL
        assert len(value.get()) == 10
    """, ioc)


def test_gc_of_unreferenced_callbacks_in_child(ioc):
    _in_child("""
        import gc
        chid = connect("counter")
        got = []
        class Cb:
            def __call__(self, arg):
                got.append(arg)
        status, evid = ca.create_subscription(chid, Cb())
        ca.flush_io()
        gc.collect()
        deadline = time.time() + 5
        while len(got) < 3 and time.time() < deadline:
            time.sleep(0.05)
            gc.collect()
        assert len(got) >= 3
        ca.get(chid, callback=Cb())
        gc.collect()
        ca.flush_io()
        ca.pend_event(0.3)
        assert ca.clear_subscription(evid) == ca.ECA.NORMAL
    """, ioc)


def test_use_cleared_channel_after_gc(ctx, ioc):
    import gc
    status, chid = ca.create_channel(ioc.prefix + "ai")
    assert ca.pend_io(5) == ca.ECA.NORMAL
    assert ca.clear_channel(chid) == ca.ECA.NORMAL
    gc.collect()
    # Make more channels so that the freed libca memory is reused.
    others = []
    try:
        for _ in range(20):
            st, c = ca.create_channel(ioc.prefix + "ao")
            others.append(c)
        assert ca.pend_io(5) == ca.ECA.NORMAL
        assert ca.put(chid, 1.0) == ca.ECA.BADCHID
        with pytest.raises(ValueError):
            ca.name(chid)
    finally:
        for c in others:
            ca.clear_channel(c)


def test_concurrent_clear_same_channel(ctx, ioc):
    status, chid = ca.create_channel(ioc.prefix + "ai")
    assert ca.pend_io(5) == ca.ECA.NORMAL
    results = []
    barrier = threading.Barrier(4)

    def worker():
        ca.attach_context(ctx)
        try:
            barrier.wait(5)
            results.append(ca.clear_channel(chid))
        finally:
            ca.detach_context()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(results) == sorted([ca.ECA.NORMAL] + [ca.ECA.BADCHID] * 3)
