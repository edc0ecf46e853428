"""Threads sharing a preemptive context; callbacks while the main thread blocks."""
import threading
import time

from caffi import ca

from _ioc import Collector, ca_get, ca_get_cb, run_in_thread


def test_second_thread_uses_main_channels(ctx, connect, ioc):
    ioc.dbpf(ioc.prefix + "longin", 555)
    chid = connect("longin")
    sc = connect("scratch")

    def body():
        assert ca.attach_context(ctx) == ca.ECA.NORMAL
        try:
            assert ca_get(chid) == 555
            assert ca_get_cb(chid)["value"] == 555
            from _ioc import ca_put
            assert ca_put(sc, 6.5)["status"] == ca.ECA.NORMAL
            mon = Collector("monitor")
            status, evid = ca.create_subscription(chid, mon)
            assert status == ca.ECA.NORMAL
            ca.flush_io()
            mon.wait(1, 5)
            assert ca.clear_subscription(evid) == ca.ECA.NORMAL
            return True
        finally:
            ca.detach_context()

    assert run_in_thread(body)
    assert ca_get(sc) == 6.5


def test_thread_creates_channel_main_clears(ctx, ioc):
    holder = {}

    def body():
        assert ca.attach_context(ctx) == ca.ECA.NORMAL
        try:
            status, chid = ca.create_channel(ioc.prefix + "ai")
            assert status == ca.ECA.NORMAL
            assert ca.pend_io(5) == ca.ECA.NORMAL
            holder["chid"] = chid
        finally:
            ca.detach_context()

    run_in_thread(body)
    chid = holder["chid"]
    assert ca.state(chid) == ca.ChannelState.CONN
    assert isinstance(ca_get(chid), float)
    assert ca.clear_channel(chid) == ca.ECA.NORMAL


def test_callbacks_while_main_blocks_in_pend_event(connect, ioc):
    chid = connect("counter")
    ai = connect("ai")
    mon = Collector("monitor")
    status, evid = ca.create_subscription(chid, mon)
    assert status == ca.ECA.NORMAL
    inner = Collector("inner get")

    def on_first(arg):
        # CA calls from a libca callback thread while main is inside pend_event
        if inner.n == 0 and not getattr(on_first, "done", False):
            on_first.done = True
            ca.get(ai, callback=inner)
            ca.flush_io()
    status, evid2 = ca.create_subscription(chid, on_first)
    assert status == ca.ECA.NORMAL
    try:
        t0 = time.monotonic()
        assert ca.pend_event(0.6) == ca.ECA.TIMEOUT
        assert time.monotonic() - t0 < 3
        assert mon.n >= 3
        inner.wait(1, 5)
    finally:
        assert ca.clear_subscription(evid) == ca.ECA.NORMAL
        assert ca.clear_subscription(evid2) == ca.ECA.NORMAL


def test_callbacks_while_main_blocks_in_pend_io(connect, ioc):
    chid = connect("counter")
    mon = Collector("monitor")
    status, evid = ca.create_subscription(chid, mon)
    assert status == ca.ECA.NORMAL
    try:
        status, missing = ca.create_channel("caffitest:does:not:exist:threads")
        try:
            t0 = time.monotonic()
            assert ca.pend_io(0.5) == ca.ECA.TIMEOUT
            assert time.monotonic() - t0 >= 0.4
        finally:
            ca.clear_channel(missing)
        mon.wait(3, 5)
    finally:
        assert ca.clear_subscription(evid) == ca.ECA.NORMAL


def test_callback_waits_for_main_thread_lock(connect):
    """A callback blocking on a lock the main thread holds while calling CA: no deadlock."""
    chid = connect("counter")
    lock = threading.Lock()
    seen = []

    def cb(arg):
        with lock:
            seen.append(arg["value"])

    status, evid = ca.create_subscription(chid, cb)
    assert status == ca.ECA.NORMAL
    ca.flush_io()
    try:
        deadline = time.monotonic() + 5
        while len(seen) < 3 and time.monotonic() < deadline:
            with lock:
                # CA calls while holding the lock a callback may be waiting for
                ca.flush_io()
                ca.state(chid)
                ca.field_type(chid)
            time.sleep(0.01)
        assert len(seen) >= 3
    finally:
        # clear_subscription waits for a running callback; the lock is free here
        assert ca.clear_subscription(evid) == ca.ECA.NORMAL


def test_concurrent_gets_from_four_threads(ctx, connect, ioc):
    ioc.dbpf(ioc.prefix + "longout", 321)
    ioc.dbpf_array(ioc.prefix + "wf:long", list(range(16)))
    a = connect("longout")
    b = connect("wf:long")
    errors = []
    barrier = threading.Barrier(4)

    def worker(n):
        try:
            assert ca.attach_context(ctx) == ca.ECA.NORMAL
            try:
                barrier.wait(5)
                for i in range(50):
                    if (i + n) % 2:
                        assert ca_get_cb(a)["value"] == 321
                    else:
                        value = ca_get_cb(b, use_numpy=bool(i % 3))["value"]
                        assert list(value) == list(range(16))
                    if i % 10 == 0:
                        assert ca_get(a) == 321
            finally:
                ca.detach_context()
        except BaseException as exc:  # noqa: B902
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads)
    assert not errors, errors


def test_concurrent_channel_churn(ctx, ioc):
    errors = []

    def worker(n):
        try:
            assert ca.attach_context(ctx) == ca.ECA.NORMAL
            try:
                for i in range(15):
                    status, chid = ca.create_channel(ioc.prefix + ("ai", "longin", "bo")[i % 3],
                                                     callback=lambda a: None)
                    assert status == ca.ECA.NORMAL
                    mon = Collector("m")
                    status, evid = ca.create_subscription(chid, mon, chtype=ca.DBR.STRING,
                                                          count=1)
                    assert status == ca.ECA.NORMAL
                    ca.flush_io()
                    mon.wait(1, 5)
                    if i % 2:
                        assert ca.clear_subscription(evid) == ca.ECA.NORMAL
                    assert ca.clear_channel(chid) == ca.ECA.NORMAL
            finally:
                ca.detach_context()
        except BaseException as exc:  # noqa: B902
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads)
    assert not errors, errors


def test_non_preemptive_threads_independent(ioc):
    """Two threads each with their own non-preemptive context."""
    def body(suffix):
        def run():
            assert ca.create_context(False) == ca.ECA.NORMAL
            try:
                status, chid = ca.create_channel(ioc.prefix + suffix)
                assert status == ca.ECA.NORMAL
                assert ca.pend_io(5) == ca.ECA.NORMAL
                got = Collector("get")
                inside = []
                flag = {"pend": False}

                def cb(arg):
                    inside.append(flag["pend"])
                    got(arg)
                assert ca.get(chid, callback=cb)[0] == ca.ECA.NORMAL
                deadline = time.monotonic() + 5
                while not got.n and time.monotonic() < deadline:
                    flag["pend"] = True
                    ca.pend_event(0.02)
                    flag["pend"] = False
                assert inside == [True]
                assert ca.clear_channel(chid) == ca.ECA.NORMAL
                return got.calls[0]["value"]
            finally:
                ca.destroy_context()
        return run

    results = {}
    ts = []

    def target(s):
        try:
            results[s] = body(s)()
        except BaseException as exc:  # noqa: B902
            results[s] = exc

    for suffix in ("longin", "stringin"):
        t = threading.Thread(target=target, args=(suffix,))
        t.start()
        ts.append(t)
    for t in ts:
        t.join(30)
    assert isinstance(results.get("longin"), int), results
    assert isinstance(results.get("stringin"), str)
