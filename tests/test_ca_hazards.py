"""Call sequences that crash a C program do not crash caffi.

Each scenario runs in a child process (a crash is a failure there, not the
end of the test run) against the session IOC, and prints what it observed.
"""
import textwrap

import pytest

import _ioc

PRELUDE = textwrap.dedent("""
    import sys, threading, time
    from caffi import ca
    P = %r
    assert ca.create_context(True) == ca.ECA.NORMAL
    ctx = ca.current_context()
    st, chid = ca.create_channel(P + "ai")
    st, other = ca.create_channel(P + "ao")
    assert ca.pend_io(10) == ca.ECA.NORMAL
    got = {}
    done = threading.Event()

    def once(action):
        # A monitor callback that runs *action* the first time it is called.
        def callback(args):
            if not done.is_set():
                try:
                    got["result"] = action()
                    got["context"] = ca.current_context()
                finally:
                    done.set()
        st, evid = ca.create_subscription(chid, callback)
        assert st == ca.ECA.NORMAL
        ca.flush_io()
        assert done.wait(10), "no monitor callback"
        return evid

    def still_works():
        # The context and the shared one-liner context keep working.
        status, value = ca.get(other)
        assert status == ca.ECA.NORMAL and ca.pend_io(5) == ca.ECA.NORMAL
        import caffi
        assert caffi.caget(P + "ao", timeout=5) == value.get()
""")

SCENARIOS = {
    "destroy_context in a callback is refused": """
        evid = once(ca.destroy_context)
        assert got["result"] == ca.ECA.EVDISALLOW, got
        assert got["context"] is ctx
        assert ca.current_context() is ctx
        still_works()
        ca.clear_subscription(evid)
        ca.destroy_context()
        assert ca.current_context() is None
    """,
    "destroy_context in a callback libca runs in this thread is refused": """
        seen = []
        me = threading.current_thread()
        def access(args):
            seen.append((threading.current_thread() is me, ca.destroy_context()))
        assert ca.replace_access_rights_event(chid, access) == ca.ECA.NORMAL
        # libca called it at once, from inside the call above
        assert seen == [(True, ca.ECA.EVDISALLOW)], seen
        still_works()
        ca.replace_access_rights_event(chid, None)
        # Outside the callback the thread may destroy its context again.
        assert ca.destroy_context() == ca.ECA.NORMAL
        assert ca.current_context() is None
    """,
    "detach_context in a callback is refused": """
        evid = once(ca.detach_context)
        assert got["result"] == ca.ECA.EVDISALLOW, got
        assert got["context"] is ctx
        # Later callbacks in libca's thread still have the context.
        later = []
        ca.create_subscription(other, lambda args: later.append(ca.current_context()))
        ca.flush_io()
        deadline = time.monotonic() + 5
        while not later and time.monotonic() < deadline:
            time.sleep(0.01)
        assert later == [ctx]
        still_works()
    """,
    "clear_channel of another channel in a callback": """
        st, third = ca.create_channel(P + "longin")
        assert ca.pend_io(5) == ca.ECA.NORMAL
        evid = once(lambda: ca.clear_channel(third))
        assert got["result"] == ca.ECA.NORMAL
        assert ca.clear_channel(third) == ca.ECA.BADCHID
        assert ca.get(third) == (ca.ECA.BADCHID, None)
        still_works()
    """,
    "clear_channel of the callback's own channel": """
        evid = once(lambda: ca.clear_channel(chid))
        assert got["result"] == ca.ECA.NORMAL
        assert ca.clear_subscription(evid) == ca.ECA.BADMONID
        assert ca.state(chid) == ca.ChannelState.CLOSED
        still_works()
    """,
    "clear_subscription of the callback's own subscription": """
        holder = {}
        evid = once(lambda: ca.clear_subscription(holder["evid"]) if "evid" in holder
                    else ca.ECA.NORMAL)
        holder["evid"] = evid
        assert ca.clear_subscription(evid) == ca.ECA.NORMAL
        still_works()
    """,
    "blocking calls in a callback are refused": """
        st, gid = ca.sg_create()
        evid = once(lambda: (ca.pend_io(1), ca.pend_event(1), ca.pend(1, True),
                             ca.sg_block(gid, 1)))
        assert got["result"] == (ca.ECA.EVDISALLOW,) * 4, got
        still_works()
    """,
    "sg_delete in a callback while the main thread waits in sg_block": """
        st, gid = ca.sg_create()
        st, slow = ca.create_channel(P + "slow.A")
        assert ca.pend_io(5) == ca.ECA.NORMAL
        assert ca.sg_put(gid, slow, 1.0) == ca.ECA.NORMAL  # completes in 30 s
        def deleter():
            ca.attach_context(ctx)
            once(lambda: ca.sg_delete(gid))
        threading.Timer(0.3, deleter).start()
        started = time.monotonic()
        status = ca.sg_block(gid, 20)
        assert status == ca.ECA.BADSYNCGRP, status
        assert time.monotonic() - started < 5
        assert got["result"] == ca.ECA.NORMAL
        assert ca.sg_test(gid) == ca.ECA.BADSYNCGRP
        still_works()
        print("ok", flush=True)
        import os
        os._exit(0)  # (a clean exit would wait for the 30 s put)
    """,
    "destroy_context in another thread while this one waits, then new contexts": """
        def destroyer():
            assert ca.attach_context(ctx) == ca.ECA.NORMAL
            time.sleep(0.3)
            assert ca.destroy_context() == ca.ECA.NORMAL
        threading.Thread(target=destroyer).start()
        started = time.monotonic()
        assert ca.pend_event(0) == ca.ECA.NOCACTX
        assert time.monotonic() - started < 5
        # This thread was attached to the destroyed context: it is detached,
        # and everything starts afresh.
        assert ca.current_context() is None
        assert ca.clear_channel(chid) == ca.ECA.BADCHID
        import caffi
        assert isinstance(caffi.PV(P + "ao").get(timeout=5), float)
        assert ca.detach_context() == ca.ECA.NORMAL
        assert ca.create_context(False) == ca.ECA.NORMAL
        st, again = ca.create_channel(P + "ao")
        assert ca.pend_io(5) == ca.ECA.NORMAL
        status, value = ca.get(again)
        assert ca.pend_io(5) == ca.ECA.NORMAL and isinstance(value.get(), float)
    """,
    "destroy_context in another thread during pend_io and sg_block": """
        st, gid = ca.sg_create()
        st, slow = ca.create_channel(P + "slow.A")
        assert ca.pend_io(5) == ca.ECA.NORMAL
        assert ca.sg_put(gid, slow, 1.0) == ca.ECA.NORMAL  # completes in 30 s
        st, missing = ca.create_channel("caffi:hazards:missing")  # pend_io waits for it
        results = []
        def waiter(call):
            assert ca.attach_context(ctx) == ca.ECA.NORMAL
            results.append(call())
        threads = [threading.Thread(target=waiter, args=(lambda: ca.pend_io(20),)),
                   threading.Thread(target=waiter, args=(lambda: ca.sg_block(gid, 20),))]
        for t in threads:
            t.start()
        time.sleep(0.3)
        assert ca.destroy_context() == ca.ECA.NORMAL
        for t in threads:
            t.join(5)
        assert sorted(results) == [ca.ECA.NOCACTX] * 2, results
        print("ok", flush=True)
        import os
        os._exit(0)  # (no wait for the IOC to finish the put)
    """,
    # CaChannel's C extension carries its own static copy of libca and libCom.
    # Had caffi put epicscorelibs' copies into the global symbol scope, that
    # extension's calls would land half in one copy, half in the other.
    "another libca in the process (CaChannel's C extension)": """
        import os
        os.environ.pop("CACHANNEL_BACKEND", None)
        from CaChannel import CaChannel
        assert "CaChannel._ca" in sys.modules       # its C extension, not caffi
        theirs = CaChannel(P + "scratch")
        theirs.searchw()
        theirs.putw(7.5)
        assert theirs.getw() == 7.5
        still_works()
        ca.destroy_context()
    """,
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_no_crash(ioc, name):
    code = PRELUDE % ioc.prefix + textwrap.dedent(SCENARIOS[name]) + "\nprint('ok')\n"
    status, out, err = _ioc.run_python(code, timeout=60)
    assert status == 0 and out.endswith("ok\n"), "exit %d\n%s\n%s" % (status, out,
                                                                      err[-3000:])
