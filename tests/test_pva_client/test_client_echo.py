"""EPICS_PVA_CONN_TMO against a real server: echo keeps a quiet connection
up, silence drops it.

The peer is the epicscorelibs soft IOC (qsrv).  It is frozen with SIGSTOP so
its TCP connection stays open but nothing comes back: only the client's
inactivity check can notice.  (The timing rules themselves are tested with a
fake clock in tests/test_pva/test_timing.py; these check that qsrv answers
our echoes and that the client notices a real silent peer.)
"""
from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest

from pva.client import Context, Disconnected, Value

from client_ioc import start_ioc

pytestmark = pytest.mark.timeout(90)

TMO = 1.0


@pytest.fixture
def private_ioc(tmp_path):
    with start_ioc(tmp_path) as ioc:
        yield ioc


def _conf(ioc):
    conf = dict(ioc.conf)
    conf["EPICS_PVA_CONN_TMO"] = str(TMO)
    return conf


def test_echo_keeps_quiet_connection(private_ioc):
    """No operation for 3 echo periods: the IOC answers each echo the client
    sends (its replies are the only traffic: the connection's last receive
    time moves), so the same connection is still there and still works."""
    ioc = private_ioc

    async def main():
        async with Context(conf=_conf(ioc), useenv=False) as ctx:
            await ctx.get(ioc.pv("ao"))
            circuits = list(ctx.core.circuits.values())
            conn = circuits[0].conn
            answered = []
            for _ in range(3):
                last = conn.last_rx
                deadline = time.monotonic() + 5 * TMO
                while conn.last_rx == last and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
                answered.append(conn.last_rx > last)
            state = circuits[0].connected
            value = await ctx.get(ioc.pv("ao"))
            return circuits, list(ctx.core.circuits.values()), answered, state, value
    before, after, answered, state, value = asyncio.run(main())
    assert answered == [True, True, True]
    assert len(before) == 1 and after == before and state is True
    assert isinstance(value, Value)


def test_silent_server_is_dropped_and_monitor_resumes(private_ioc):
    """A frozen server: within about CONN_TMO the monitor reports Disconnected
    (no exception, no hang); once the server runs again the updates resume."""
    ioc = private_ioc

    async def main():
        items = []
        async with Context(conf=_conf(ioc), useenv=False) as ctx:
            async with ctx.monitor(ioc.pv("calc")) as sub:       # 10 Hz record
                items.append(await asyncio.wait_for(sub.__anext__(), 10))
                os.kill(ioc.proc.pid, signal.SIGSTOP)
                t0 = time.monotonic()
                try:
                    while True:
                        item = await asyncio.wait_for(sub.__anext__(), 10 * TMO)
                        if isinstance(item, Disconnected):
                            break
                    lost_after = time.monotonic() - t0
                    items.append(item)
                finally:
                    os.kill(ioc.proc.pid, signal.SIGCONT)
                while True:
                    item = await asyncio.wait_for(sub.__anext__(), 20)
                    if isinstance(item, Value):
                        items.append(item)
                        break
        return items, lost_after
    items, lost_after = asyncio.run(main())
    assert isinstance(items[0], Value)
    assert isinstance(items[1], Disconnected)
    # the check runs every CONN_TMO/2 and fires past CONN_TMO of silence
    assert TMO <= lost_after < 3 * TMO + 1
    assert isinstance(items[2], Value)
