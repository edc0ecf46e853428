"""Client contexts: create/destroy/attach/detach/current/show, preemptive or not."""
import threading
import time

from caffi import ca

from _ioc import Collector, run_in_thread, wait_for


def test_current_context_main_thread(ctx):
    current = ca.current_context()
    assert current is not None
    assert current == ctx
    # Asking again gives an equal object.
    assert ca.current_context() == current


def test_create_context_when_preemptive_exists(ctx):
    # The main thread already has a preemptive context: asking again is fine.
    assert ca.create_context(True) == ca.ECA.NORMAL
    assert ca.current_context() == ctx


def test_attach_when_attached(ctx):
    assert ca.attach_context(ctx) == ca.ECA.ISATTACHED
    assert ca.current_context() == ctx


def test_new_thread_has_no_context(ctx):
    def body():
        return ca.current_context()
    assert run_in_thread(body) is None


def test_attach_detach_in_thread(ctx, connect):
    chid = connect("ai")

    def body():
        assert ca.current_context() is None
        assert ca.attach_context(ctx) == ca.ECA.NORMAL
        try:
            assert ca.current_context() == ctx
            assert ca.attach_context(ctx) == ca.ECA.ISATTACHED
            # A channel of the main thread is usable here.
            assert ca.state(chid) == ca.ChannelState.CONN
            assert ca.name(chid).endswith("ai")
        finally:
            ca.detach_context()
        assert ca.current_context() is None
        # detach without context is harmless
        ca.detach_context()
        assert ca.current_context() is None
        return True

    assert run_in_thread(body)
    # The main thread is unaffected.
    assert ca.current_context() == ctx
    assert ca.state(chid) == ca.ChannelState.CONN


def test_preemptive_context_in_thread(ioc, ctx):
    name = ioc.prefix + "ai"

    def body():
        assert ca.create_context(True) == ca.ECA.NORMAL
        try:
            own = ca.current_context()
            assert own is not None and own != ctx
            conn = Collector("connection")
            status, chid = ca.create_channel(name, callback=conn)
            assert status == ca.ECA.NORMAL
            try:
                # Preemptive: the callback arrives without this thread calling into CA.
                (arg,) = conn.wait(1, 5.0)
                assert arg["op"] == ca.CA_OP.CONN_UP
                assert conn.threads[0] is not threading.current_thread()
            finally:
                assert ca.clear_channel(chid) == ca.ECA.NORMAL
        finally:
            ca.destroy_context()
        assert ca.current_context() is None
        return True

    assert run_in_thread(body)
    assert ca.current_context() == ctx


def test_non_preemptive_context(ioc, ctx):
    name = ioc.prefix + "ai"
    ioc.dbpf(name, 1.5)

    def body():
        inside = {"pend": False}
        seen = []  # was the owning thread inside pend_event/poll at each callback?

        def tracking(collector):
            def cb(arg):
                seen.append(inside["pend"])
                collector(arg)
            return cb

        def pend(fn, *args):
            inside["pend"] = True
            try:
                return fn(*args)
            finally:
                inside["pend"] = False

        assert ca.create_context(False) == ca.ECA.NORMAL
        try:
            own = ca.current_context()
            assert own is not None and own != ctx
            # A second create in the same thread asking for preemption is refused.
            assert ca.create_context(True) == ca.ECA.NOTTHREADED
            conn = Collector("connection")
            status, chid = ca.create_channel(name, callback=tracking(conn))
            assert status == ca.ECA.NORMAL
            try:
                ca.flush_io()
                # Without polling, callbacks are not delivered (the network
                # round trip on 127.0.0.1 takes far less than this).
                time.sleep(0.3)
                assert conn.n == 0
                deadline = time.monotonic() + 5
                while not conn.n and time.monotonic() < deadline:
                    assert pend(ca.pend_event, 0.05) == ca.ECA.TIMEOUT
                (arg,) = conn.wait(1, 0.1)
                assert arg["op"] == ca.CA_OP.CONN_UP

                got = Collector("get")
                status, _ = ca.get(chid, callback=tracking(got))
                assert status == ca.ECA.NORMAL
                ca.flush_io()
                time.sleep(0.2)
                assert got.n == 0
                deadline = time.monotonic() + 5
                while not got.n and time.monotonic() < deadline:
                    pend(ca.poll)
                    time.sleep(0.005)
                (arg,) = got.wait(1, 0.1)
                assert arg["value"] == 1.5
                assert seen == [True, True]

                # pend_io serves gets without callback.
                status, value = ca.get(chid)
                assert status == ca.ECA.NORMAL
                assert ca.pend_io(5) == ca.ECA.NORMAL
                assert value.get() == 1.5
            finally:
                assert ca.clear_channel(chid) == ca.ECA.NORMAL
        finally:
            ca.destroy_context()
        assert ca.current_context() is None
        return True

    assert run_in_thread(body)


def test_attach_to_non_preemptive_context(ctx):
    holder = {}
    created = threading.Event()
    release = threading.Event()

    def owner():
        assert ca.create_context(False) == ca.ECA.NORMAL
        holder["ctx"] = ca.current_context()
        created.set()
        release.wait(10)
        ca.destroy_context()

    t = threading.Thread(target=owner, daemon=True)
    t.start()
    try:
        assert created.wait(10)

        def joiner():
            status = ca.attach_context(holder["ctx"])
            current = ca.current_context()
            return status, current

        status, current = run_in_thread(joiner)
        assert status == ca.ECA.NOTTHREADED
        assert current is None
    finally:
        release.set()
        t.join(10)
    assert not t.is_alive()


def test_implicit_context_is_non_preemptive(ioc, ctx):
    name = ioc.prefix + "ai"

    def body():
        # A CA call without context creates a non-preemptive one implicitly.
        status, chid = ca.create_channel(name)
        try:
            assert status == ca.ECA.NORMAL
            assert ca.current_context() is not None
            assert ca.create_context(True) == ca.ECA.NOTTHREADED
            assert ca.pend_io(5) == ca.ECA.NORMAL
        finally:
            ca.clear_channel(chid)
            ca.destroy_context()
        return True

    assert run_in_thread(body)


def test_show_context(ctx, connect, capfd):
    chid = connect("ai")
    capfd.readouterr()
    assert ca.show_context() in (None, ca.ECA.NORMAL)
    out, err = capfd.readouterr()
    text = out + err
    assert "Channel Access Client" in text or "CA Client" in text or "context" in text.lower(), text
    ca.show_context(ctx, 1)
    out, err = capfd.readouterr()
    assert out + err
    ca.show_context(level=2)
    out2, err2 = capfd.readouterr()
    assert len(out2 + err2) >= len(text)
    assert ca.name(chid)


def test_pend_functions(ctx):
    assert ca.pend_event(0.01) == ca.ECA.TIMEOUT
    assert ca.poll() == ca.ECA.TIMEOUT
    assert ca.pend(0.01, False) == ca.ECA.TIMEOUT
    # Nothing outstanding: pend_io / pend(early) return at once.
    t0 = time.monotonic()
    assert ca.pend_io(5.0) == ca.ECA.NORMAL
    assert ca.pend(5.0, True) == ca.ECA.NORMAL
    assert time.monotonic() - t0 < 2.0
    assert ca.flush_io() == ca.ECA.NORMAL
    assert ca.test_io() == ca.ECA.IODONE


def test_pend_event_duration(ctx):
    t0 = time.monotonic()
    assert ca.pend_event(0.3) == ca.ECA.TIMEOUT
    assert time.monotonic() - t0 >= 0.25


def test_poll_is_quick(ctx):
    t0 = time.monotonic()
    for _ in range(20):
        ca.poll()
    assert time.monotonic() - t0 < 1.0


def test_destroy_and_recreate_in_thread(ctx):
    def body():
        for _ in range(3):
            assert ca.create_context(True) == ca.ECA.NORMAL
            assert ca.current_context() is not None
            ca.destroy_context()
            assert ca.current_context() is None
        # destroy without a context is harmless
        ca.destroy_context()
        return True

    assert run_in_thread(body)


def test_version_and_message():
    version = ca.version()
    assert isinstance(version, str)
    assert version.startswith("4.")
    assert ca.message(ca.ECA.NORMAL) == "Normal successful completion"
    assert ca.message(ca.ECA.IODONE) == "IO operations have completed"
    assert isinstance(ca.message(ca.ECA.DISCONN), str)


def test_callbacks_run_on_libca_thread(connect):
    conn = Collector("connection")
    connect("ai", callback=conn)
    conn.wait(1, 5)
    wait_for(lambda: len(conn.threads) >= 1)
    assert conn.threads[0] is not threading.main_thread()
