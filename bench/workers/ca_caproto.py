"""CA workloads through caproto's threading client (pure Python CA).

Batched reads use ``caproto.threading.client.Batch`` (all requests sent on
exit of the block, responses to callbacks); sequential ones ``PV.read()`` and
``PV.write(wait=True)``; the flood ``PV.subscribe().add_callback``.
"""
import sys
import threading
import time

from _common import Timer, main, ready, result, rss_kb


def _context():
    from caproto.threading.client import Context
    return Context()


def _connect(ctx, names, timeout):
    pvs = ctx.get_pvs(*names, timeout=timeout)
    for pv in pvs:
        pv.wait_for_connection(timeout=timeout)
    return pvs


def _ai_names(prefix, nchan):
    return ["%sai%d" % (prefix, i) for i in range(nchan)]


def _batch_read(pvs, n, timeout, data_type=None):
    from caproto.threading.client import Batch
    done = threading.Event()
    values = []

    def on_read(response):
        values.append((response.data, response.metadata))
        if len(values) == n:
            done.set()

    with Batch(timeout=timeout) as batch:
        for i in range(n):
            batch.read(pvs[i % len(pvs)], on_read, data_type=data_type)
    if not done.wait(timeout):
        raise SystemExit("batch read: %d of %d responses" % (len(values), n))
    return values


def connect(prefix, nchan, timeout=30, **_):
    ctx = _context()
    names = _ai_names(prefix, nchan)
    with Timer() as t:
        _connect(ctx, names, timeout)
    result(t.wall, t.cpu, nchan)


def get_seq(prefix, n, timeout=30, **_):
    ctx = _context()
    pv, = _connect(ctx, [prefix + "ai0"], timeout)
    with Timer() as t:
        for _i in range(n):
            pv.read(timeout=timeout).data
    result(t.wall, t.cpu, n)


def get_batch(prefix, n, nchan, timeout=30, **_):
    ctx = _context()
    pvs = _connect(ctx, _ai_names(prefix, nchan), timeout)
    with Timer() as t:
        _batch_read(pvs, n, timeout)
    result(t.wall, t.cpu, n)


def put_cb(prefix, n, timeout=30, **_):
    ctx = _context()
    pv, = _connect(ctx, [prefix + "put"], timeout)
    with Timer() as t:
        for i in range(n):
            pv.write([float(i)], wait=True, timeout=timeout)
    result(t.wall, t.cpu, n)


def monitor(prefix, n, base, timeout=60, **_):
    ctx = _context()
    pv, = _connect(ctx, [prefix + "flood"], timeout)
    target = base + n
    done = threading.Event()
    state = {"count": 0, "first": 0.0, "last": 0.0}

    def on_event(sub, response):
        value = response.data[0]
        if value <= base:
            return
        now = time.perf_counter()
        if state["count"] == 0:
            state["first"] = now
        state["count"] += 1
        state["last"] = now
        if value >= target:
            done.set()

    sub = pv.subscribe()
    sub.add_callback(on_event)      # caproto holds callbacks weakly: keep on_event alive
    ready()
    c0 = time.process_time()
    if not done.wait(timeout):
        raise SystemExit("monitor flood timed out after %d events" % state["count"])
    cpu = time.process_time() - c0
    result(state["last"] - state["first"], cpu, state["count"], lost=n - state["count"])


def waveform(prefix, n, timeout=60, **_):
    ctx = _context()
    pv, = _connect(ctx, [prefix + "wf"], timeout)
    count = pv.channel.native_data_count
    nbytes = 0
    with Timer() as t:
        for _i in range(n):
            array = pv.read(timeout=timeout).data
            nbytes += array.nbytes
    assert len(array) == count
    result(t.wall, t.cpu, n, bytes=nbytes)


def ctrl_time(prefix, n, nchan, timeout=30, **_):
    ctx = _context()
    pvs = _connect(ctx, _ai_names(prefix, nchan), timeout)
    out = {}
    for kind, data_type in (("ctrl", "control"), ("time", "time")):
        values = []
        with Timer() as t:
            # Rounds of len(pvs): one Batch of all n requests grows caproto's
            # memory to gigabytes for DBR_CTRL (seen with 0.8.1).
            while len(values) < n:
                size = min(len(pvs), n - len(values))
                values += _batch_read(pvs[:size], size, timeout, data_type)
        assert len(values) == n
        out["wall_" + kind], out["cpu_" + kind] = t.wall, t.cpu
    result(out["wall_ctrl"] + out["wall_time"], out["cpu_ctrl"] + out["cpu_time"], 2 * n,
           **out)


def import_mem(prefix, nchan, timeout=30, **_):
    rss0 = rss_kb()
    t0 = time.perf_counter()
    import caproto.threading.client  # noqa: F401
    import_s = time.perf_counter() - t0
    ctx = _context()
    with Timer() as t:
        _connect(ctx, _ai_names(prefix, nchan), timeout)
    result(t.wall, t.cpu, nchan, import_s=import_s, rss0_kb=rss0)


if __name__ == "__main__":
    sys.exit(main({f.__name__: f for f in (connect, get_seq, get_batch, put_cb, monitor,
                                            waveform, ctrl_time, import_mem)}))
