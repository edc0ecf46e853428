"""caffi.aio.camonitor: delivery, squashing, async callbacks, disconnection, closing."""
import asyncio
import gc

import pytest

import _ioc
from caffi import _callbacks
from caffi.aio import (DBE_VALUE, FORMAT_CTRL, FORMAT_TIME, CANothing, Subscription,
                       camonitor, caput, purge_channel_caches)

NE = "caffi:aio:does:not:exist"


def run(coro, timeout=30.0):
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def until(predicate, timeout=10.0, what="condition"):
    """Let the loop run until *predicate()* holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("timed out waiting for " + what)
        await asyncio.sleep(0.005)


@pytest.fixture
def aio(ioc, record_baseline):
    ioc.dbpf(ioc.prefix + "scratch", 0)
    yield lambda suffix: ioc.prefix + suffix
    purge_channel_caches()


def _burst(ioc, pv, subscription, values):
    """Put *values* with the IOC while the loop is blocked; wait until libca
    queued the last one.  Returns the loop wakeups this cost."""
    before = subscription._bridge.wakeups
    for value in values:
        ioc.dbpf(pv, value)
    _ioc.wait_for(lambda: list(subscription.pending_values)[-1:] == [values[-1]], 10,
                  "the last update to arrive")
    return subscription._bridge.wakeups - before


def test_updates_squash_and_a_burst_is_one_wakeup(aio, ioc):
    scratch = aio("scratch")

    async def main():
        values = []
        m = camonitor(scratch, values.append)
        assert isinstance(m, Subscription)
        await until(lambda: values == [0])
        woken = _burst(ioc, scratch, m, [1, 2, 3, 4, 5])
        dropped = m.dropped_callbacks
        await until(lambda: values[-1] == 5)
        m.close()
        return values, dropped, woken
    values, dropped, woken = run(main())
    assert values == [0, 5] and dropped == 4
    assert woken == 1


def test_all_updates_keeps_every_value(aio, ioc):
    scratch = aio("scratch")

    async def main():
        values = []
        m = camonitor(scratch, values.append, all_updates=True)
        await until(lambda: values == [0])
        woken = _burst(ioc, scratch, m, [1, 2, 3, 4, 5])
        await until(lambda: len(values) == 6)
        m.close()
        return values, m.dropped_callbacks, woken
    values, dropped, woken = run(main())
    assert values == [0, 1, 2, 3, 4, 5] and dropped == 0
    assert woken == 1
    assert [v.name for v in values] == [scratch] * 6


def test_async_callback_squashes_while_it_runs(aio, ioc):
    scratch = aio("scratch")

    async def main():
        gate = asyncio.Event()
        seen = []

        async def callback(value):
            seen.append(value)
            await gate.wait()
        m = camonitor(scratch, callback)
        await until(lambda: seen == [0])
        for value in (1, 2):
            ioc.dbpf(scratch, value)
        await until(lambda: list(m.pending_values) == [2])
        dropped = m.dropped_callbacks
        gate.set()
        await until(lambda: seen == [0, 2])
        m.close()
        return dropped
    assert run(main()) == 1


def test_formats_and_event_masks(aio, ioc):
    alarm = aio("alarm")

    async def main():
        raw, timed, ctrl = [], [], []
        subs = [camonitor(alarm, raw.append), camonitor(alarm, timed.append, format=FORMAT_TIME),
                camonitor(alarm, ctrl.append, format=FORMAT_CTRL, events=DBE_VALUE)]
        await until(lambda: raw and timed and ctrl)
        ioc.dbpf(alarm + ".HHSV", "MINOR")      # the alarm changes, the value not
        ioc.dbpf(alarm + ".PROC", 1)
        await until(lambda: len(timed) == 2)
        ioc.dbpf(alarm, 96)
        await until(lambda: len(timed) == 3 and len(raw) == 2 and len(ctrl) == 2)
        for m in subs:
            m.close()
        return raw, timed, ctrl
    try:
        raw, timed, ctrl = run(main())
    finally:
        ioc.dbpf(alarm + ".HHSV", "MAJOR")
        ioc.dbpf(alarm, 95)
    assert raw == [95, 96]                              # DBE_VALUE only
    assert [(v, v.severity) for v in timed] == [(95, 2), (95, 1), (96, 1)]
    assert all(hasattr(v, "timestamp") for v in timed)
    assert ctrl == [95, 96] and ctrl[0].upper_alarm_limit == 90


def test_list_of_pvs_calls_back_with_the_index(aio, ioc):
    async def main():
        got = []
        subs = camonitor([aio("scratch"), aio("stringin")], lambda v, i: got.append((i, v)))
        await until(lambda: len(got) == 2)
        for m in subs:
            m.close()
        return sorted(got)
    assert run(main()) == [(0, 0), (1, "hello")]


def test_disconnect_is_notified_and_updates_resume(private_ioc):
    server = private_ioc()
    name = server.prefix + "ai"

    async def main():
        values = []
        m = camonitor(name, values.append, notify_disconnect=True)
        await until(lambda: values == [1.5])
        server.stop()
        await until(lambda: len(values) == 2)
        restarted = server.restart()
        await until(lambda: len(values) == 3, 30, "the restarted IOC's value")
        restarted.dbpf(name, 2.5)
        await until(lambda: len(values) == 4)
        m.close()
        return values
    try:
        values = run(main(), 60)
    finally:
        purge_channel_caches()
    assert values[0] == 1.5 and values[0].ok
    assert type(values[1]) is CANothing and values[1].errorcode == 192 and not values[1]
    assert values[2:] == [1.5, 2.5]


def test_connect_timeout_calls_back_and_keeps_waiting(aio):
    async def main():
        values = []
        m = camonitor(NE, values.append, connect_timeout=0.2)
        await until(lambda: values)
        state = m.state
        m.close()
        return values, state
    values, state = run(main())
    assert len(values) == 1 and values[0].errorcode == 80 and values[0].name == NE
    assert state == Subscription.OPENING


def test_a_raising_callback_closes_the_subscription(aio, ioc, capsys):
    scratch = aio("scratch")

    async def main():
        seen = []

        def callback(value):
            seen.append(value)
            if value == 1:
                raise ValueError("boom")
        m = camonitor(scratch, callback)
        await until(lambda: seen == [0])
        ioc.dbpf(scratch, 1)
        await until(lambda: m.state == m.CLOSED)
        return seen
    assert run(main()) == [0, 1]
    err = capsys.readouterr().err
    assert "ValueError: boom" in err and "Subscription %s closed" % scratch in err
    assert _callbacks.registry_counts()["subscriptions"] == 0


def test_subscription_survives_garbage_collection(aio, ioc):
    scratch = aio("scratch")

    async def main():
        values = []
        camonitor(scratch, values.append)
        await until(lambda: values == [0])
        gc.collect()
        ioc.dbpf(scratch, 7)
        await until(lambda: values == [0, 7])
    run(main())


def test_close_from_another_thread(aio):
    async def main():
        values = []
        m = camonitor(aio("counter"), values.append)
        await until(lambda: values)
        await asyncio.get_running_loop().run_in_executor(None, m.close)
        return m.state, _callbacks.registry_counts()["subscriptions"]
    assert run(main()) == (Subscription.CLOSED, 0)


def test_monitor_then_put_sees_the_put(aio):
    # On a connected channel the subscription is made at once, so it reaches
    # the server before the put that follows it.
    scratch = aio("scratch")

    async def main():
        await caput(scratch, 1, wait=True)
        values = []
        m = camonitor(scratch, values.append, all_updates=True)
        assert m.state == m.OPEN
        await caput(scratch, 2, wait=True)
        await until(lambda: values[-1:] == [2])
        m.close()
        return values
    assert run(main()) == [1, 2]
