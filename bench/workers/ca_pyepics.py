"""CA workloads through pyepics' ``epics.ca`` layer (its own bundled libca).

pyepics keeps one outstanding get per channel, so the batched workloads issue
``get(wait=False)`` on every channel and collect with ``get_complete`` in
rounds of ``nchan`` (the documented pyepics way to overlap gets).
"""
import sys
import threading
import time

from _common import Timer, main, ready, result, rss_kb


def _ca():
    from epics import ca
    ca.initialize_libca()
    return ca


def _connect(ca, names, timeout):
    chids = [ca.create_channel(name, connect=False, auto_cb=False) for name in names]
    for chid in chids:
        if not ca.connect_channel(chid, timeout=timeout):
            raise SystemExit("not connected: %s" % ca.name(chid))
    return chids


def _ai_names(prefix, nchan):
    return ["%sai%d" % (prefix, i) for i in range(nchan)]


def _rounds(ca, chids, n, timeout, ftype=None):
    """``n`` overlapped gets, ``len(chids)`` in flight at a time."""
    if ftype is None:
        start, complete, kw = ca.get, ca.get_complete, {}
    else:
        start, complete = ca.get_with_metadata, ca.get_complete_with_metadata
        kw = {"ftype": ftype}
    values = []
    while len(values) < n:
        batch = chids[:min(len(chids), n - len(values))]
        for chid in batch:
            start(chid, wait=False, **kw)
        for chid in batch:
            values.append(complete(chid, timeout=timeout, **kw))
    return values


def connect(prefix, nchan, timeout=30, **_):
    ca = _ca()
    names = _ai_names(prefix, nchan)
    with Timer() as t:
        _connect(ca, names, timeout)
    result(t.wall, t.cpu, nchan)


def get_seq(prefix, n, timeout=30, **_):
    ca = _ca()
    chid, = _connect(ca, [prefix + "ai0"], timeout)
    get = ca.get
    with Timer() as t:
        for _i in range(n):
            get(chid, timeout=timeout)
    result(t.wall, t.cpu, n)


def get_batch(prefix, n, nchan, timeout=30, **_):
    ca = _ca()
    chids = _connect(ca, _ai_names(prefix, nchan), timeout)
    with Timer() as t:
        values = _rounds(ca, chids, n, timeout)
    assert len(values) == n and values[-1] is not None
    result(t.wall, t.cpu, n)


def put_cb(prefix, n, timeout=30, **_):
    ca = _ca()
    chid, = _connect(ca, [prefix + "put"], timeout)
    put = ca.put
    with Timer() as t:
        for i in range(n):
            if put(chid, float(i), wait=True, timeout=timeout) != 1:
                raise SystemExit("put timed out")
    result(t.wall, t.cpu, n)


def monitor(prefix, n, base, timeout=60, **_):
    ca = _ca()
    chid, = _connect(ca, [prefix + "flood"], timeout)
    target = base + n
    done = threading.Event()
    state = {"count": 0, "first": 0.0, "last": 0.0}

    def on_event(value=None, **kw):
        if value <= base:
            return
        now = time.perf_counter()
        if state["count"] == 0:
            state["first"] = now
        state["count"] += 1
        state["last"] = now
        if value >= target:
            done.set()

    sub = ca.create_subscription(chid, callback=on_event, mask=ca.dbr.DBE_VALUE)
    ca.flush_io()
    ready()
    c0 = time.process_time()
    if not done.wait(timeout):
        raise SystemExit("monitor flood timed out after %d events" % state["count"])
    cpu = time.process_time() - c0
    result(state["last"] - state["first"], cpu, state["count"], lost=n - state["count"])
    del sub


def waveform(prefix, n, timeout=60, **_):
    ca = _ca()
    chid, = _connect(ca, [prefix + "wf"], timeout)
    count = ca.element_count(chid)
    nbytes = 0
    with Timer() as t:
        for _i in range(n):
            array = ca.get(chid, as_numpy=True, timeout=timeout)
            nbytes += array.nbytes
    assert len(array) == count
    result(t.wall, t.cpu, n, bytes=nbytes)


def ctrl_time(prefix, n, nchan, timeout=30, **_):
    ca = _ca()
    chids = _connect(ca, _ai_names(prefix, nchan), timeout)
    out = {}
    for kind, ftype in (("ctrl", ca.dbr.CTRL_DOUBLE), ("time", ca.dbr.TIME_DOUBLE)):
        with Timer() as t:
            values = _rounds(ca, chids, n, timeout, ftype=ftype)
        assert len(values) == n and isinstance(values[-1], dict), values[-1]
        out["wall_" + kind], out["cpu_" + kind] = t.wall, t.cpu
    result(out["wall_ctrl"] + out["wall_time"], out["cpu_ctrl"] + out["cpu_time"], 2 * n,
           **out)


def import_mem(prefix, nchan, timeout=30, **_):
    rss0 = rss_kb()
    t0 = time.perf_counter()
    import epics  # noqa: F401
    import_s = time.perf_counter() - t0
    ca = _ca()
    with Timer() as t:
        _connect(ca, _ai_names(prefix, nchan), timeout)
    result(t.wall, t.cpu, nchan, import_s=import_s, rss0_kb=rss0)


def caget_many(prefix, nchan, timeout=30, **_):
    """``epics.caget_many`` on fresh channels."""
    import epics
    names = _ai_names(prefix, nchan)
    with Timer() as t:
        values = epics.caget_many(names, timeout=timeout)
    assert len(values) == nchan and all(v is not None for v in values)
    result(t.wall, t.cpu, nchan)


def caget_one(prefix, n, timeout=30, **_):
    """Sequential ``epics.caget`` of one PV (pyepics caches the channel)."""
    import epics
    name = prefix + "ai0"
    epics.caget(name, timeout=timeout)
    with Timer() as t:
        for _ in range(n):
            epics.caget(name, timeout=timeout)
    result(t.wall, t.cpu, n)


if __name__ == "__main__":
    sys.exit(main({f.__name__: f for f in (connect, get_seq, get_batch, put_cb, monitor,
                                            waveform, ctrl_time, import_mem, caget_many,
                                            caget_one)}))
