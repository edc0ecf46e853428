"""caffi.aio across event loops: threads, closed loops, IPython, run(), the bridge."""
import asyncio
import os
import sys
import textwrap
import threading
import time

import pytest

import _ioc
from caffi import _callbacks, _shared, ca, caget as sync_caget
from caffi.aio import (CANothing, caget, camonitor, caput, get_channel_infos,
                       purge_channel_caches, run)
from caffi.aio._bridge import LoopBridge
from caffi.aio._channels import cache
from caffi.aio._monitor import CLOSED_LOOP_BACKLOG

NE = "caffi:aio:does:not:exist"


@pytest.fixture
def aio(ioc, record_baseline):
    yield lambda suffix: ioc.prefix + suffix
    purge_channel_caches()


@pytest.fixture
def unraisable():
    """Reports given to sys.unraisablehook during the test."""
    reports = []
    old = sys.unraisablehook
    sys.unraisablehook = reports.append
    try:
        yield reports
    finally:
        sys.unraisablehook = old


async def until(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.005)


# The bridge ------------------------------------------------------------------------------
def test_bridge_wakes_the_loop_once_per_burst():
    async def main():
        loop = asyncio.get_running_loop()
        bridge = LoopBridge(loop)
        got = []
        poster = threading.Thread(target=lambda: [bridge.post(got.append, i)
                                                  for i in range(1000)])
        poster.start()
        poster.join()           # the loop is blocked meanwhile: one burst
        await until(lambda: len(got) == 1000)
        return got, bridge.wakeups
    got, wakeups = asyncio.run(main())
    assert got == list(range(1000)) and wakeups == 1


def test_bridge_reports_a_closed_loop_once(unraisable):
    loop = asyncio.new_event_loop()
    bridge = LoopBridge(loop)
    loop.close()
    bridge.post(print, "never", False)      # nothing waits for it: not reported
    assert unraisable == []
    bridge.post(print, "never")
    bridge.post(print, "never")
    assert len(unraisable) == 1
    report = unraisable[0]
    assert "Event loop is closed" in report.exc_value.args and report.object is loop


# Loops and threads -------------------------------------------------------------------------
def test_loops_in_several_threads(aio):
    names = [aio("ai"), aio("longin"), aio("stringin")]
    results = {}

    def worker(index):
        async def main():
            values = []
            m = camonitor(names[index], values.append)
            got = await caget(names)
            await caput(aio("scratch"), index, wait=True)
            await until(lambda: values)
            m.close()
            return (got, values[0], [i.name for i in get_channel_infos()],
                    ca.current_context())
        results[index] = asyncio.run(main())
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results) == [0, 1, 2]
    for index, (got, first, infos, context) in results.items():
        assert got == [1.5, 42, "hello"] and first == got[index]
        assert sorted(infos) == sorted(set(names + [aio("scratch")]))   # its own cache
        assert context is _shared.context()                         # one shared context


def test_shares_the_context_of_the_one_liners(aio, shared_cache):
    assert sync_caget(aio("ai")) == 1.5

    async def main():
        value = await caget(aio("ai"))
        return value, cache().channels[aio("ai")].chid.context
    value, context = asyncio.run(main())
    assert value == 1.5 and context is _shared.context()


# Closing loops -------------------------------------------------------------------------------
def test_closing_the_loop_with_a_monitor_open(aio, unraisable):
    async def main():
        values = []
        m = camonitor(aio("counter"), values.append, all_updates=True)
        await until(lambda: values)
        return m
    m = asyncio.run(main())
    # The counter goes on ticking: its updates cannot reach the closed loop.
    # The first few are kept (as aioca keeps them), then they are counted and
    # dropped instead of piling up.
    _ioc.wait_for(lambda: len(m.pending_values) >= 3, 10, "updates after the loop closed")
    m.pending_values.extend([0.0] * (CLOSED_LOOP_BACKLOG - len(m.pending_values)))
    _ioc.wait_for(lambda: m.dropped_callbacks >= 2, 10, "updates dropped after the backlog")
    assert len(m.pending_values) == CLOSED_LOOP_BACKLOG
    assert len(unraisable) == 1
    assert "Event loop is closed" in unraisable[0].exc_value.args
    m.close()
    assert m.state == m.CLOSED and _callbacks.registry_counts()["subscriptions"] == 0


def test_closing_the_loop_without_monitors_is_quiet(private_ioc, unraisable):
    server = private_ioc()
    name = server.prefix + "ai"

    async def main():
        await caget(name)
        return cache().channels[name]
    channel = asyncio.run(main())
    try:
        server.stop()
        _ioc.wait_for(lambda: channel.bridge._dead, 10, "the disconnection to be dropped")
        assert unraisable == []
    finally:
        purge_channel_caches()


def test_a_closed_loops_cache_is_cleared_by_the_next_loop(aio):
    asyncio.run(caget([aio("ai"), aio("ao")]))
    assert _callbacks.registry_counts()["channels"] == 2

    async def other():
        return await caget(aio("longin"))
    assert asyncio.run(other()) == 42
    assert _callbacks.registry_counts()["channels"] == 1


def test_purge_fails_the_requests_that_wait(aio):
    async def main():
        task = asyncio.ensure_future(caget(NE, timeout=None))
        await until(lambda: NE in cache().channels)
        purge_channel_caches()
        with pytest.raises(CANothing) as failed:
            await asyncio.wait_for(task, 10)
        return failed.value
    failed = asyncio.run(main())
    assert failed.name == NE and failed.errorcode == int(ca.ECA.BADCHID)


# run() and IPython -------------------------------------------------------------------------
def test_run_helper(aio):
    assert run(caget(aio("ai"))) == 1.5
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        async def stop_soon():
            await caget(aio("ai"))
            loop.stop()
            await asyncio.sleep(10)
        started = time.monotonic()
        assert run(stop_soon(), forever=True) is None
        assert time.monotonic() - started < 5 and loop.is_closed()
    finally:
        asyncio.set_event_loop(None)


def test_ipython_top_level_await(aio):
    """IPython runs a cell with top-level ``await`` on its own loop, and keeps
    that loop (stopped) between cells: monitors deliver while a cell awaits."""
    ao = aio("ao")
    code = textwrap.dedent("""
        from IPython.core.interactiveshell import InteractiveShell
        shell = InteractiveShell.instance()
        cells = [
            "import asyncio\\nfrom caffi.aio import caget, caput, camonitor",
            "first = await caget(%(ao)r)",
            "await caput(%(ao)r, 3.25, wait=True)\\nvalues = []\\n"
            "m = camonitor(%(ao)r, values.append)\\n"
            "while not values: await asyncio.sleep(0.01)",
            "await caput(%(ao)r, 4.5, wait=True)",
            "while values[-1] != 4.5: await asyncio.sleep(0.01)\\nm.close()",
        ]
        for cell in cells:
            result = shell.run_cell(cell)
            assert result.success, (cell, result.error_in_exec, result.error_before_exec)
        print("RESULT", shell.user_ns["first"], list(shell.user_ns["values"]))
    """) % {"ao": ao}
    rc, out, err = _ioc.run_python(code, timeout=120, env=os.environ)
    assert rc == 0, err
    assert "RESULT 2.25 [3.25, 4.5]" in out, out + err


def test_a_destroyed_context_is_replaced(aio):
    """Destroying the shared context kills its channels; the next call makes new ones."""
    code = textwrap.dedent("""
        import asyncio
        from caffi import ca
        from caffi.aio import caget, camonitor

        async def main():
            m = camonitor(%(ai)r, print)
            value = await caget(%(ai)r)
            ca.destroy_context()            # in the loop's thread, the loop goes on
            m.close()
            return value, await caget(%(ai)r, timeout=5), m.state
        print("RESULT", *asyncio.run(main()))
    """) % {"ai": aio("ai")}
    rc, out, err = _ioc.run_python(code, timeout=60, env=os.environ)
    assert rc == 0, err
    assert "RESULT 1.5 1.5 2" in out, out + err
