"""CA workloads through the caffi 1.0 API (``caffi.ca``).

The same script measures ours (caffi from the project's venv) and caffi 1.0.4
(from PyPI in bench/.envs/caffi104): the API is the same, only the venv differs.
Each workload uses the idiom caffi documents: ``get`` + ``pend_io``,
``put(callback=)`` on a preemptive context, ``create_subscription``.
"""
import sys
import threading
import time

from _common import Timer, main, ready, result, rss_kb


def _ca():
    import caffi.ca as ca
    status = ca.create_context(True)
    if status != ca.ECA.NORMAL:
        raise SystemExit("create_context: %r" % status)
    return ca


def _connect(ca, names, timeout):
    chids = []
    for name in names:
        status, chid = ca.create_channel(name)
        if status != ca.ECA.NORMAL:
            raise SystemExit("create_channel(%s): %r" % (name, status))
        chids.append(chid)
    status = ca.pend_io(timeout)
    if status != ca.ECA.NORMAL:
        raise SystemExit("connect: %r" % status)
    return chids


def _pend(ca, timeout):
    status = ca.pend_io(timeout)
    if status != ca.ECA.NORMAL:
        raise SystemExit("pend_io: %r" % status)


def _ai_names(prefix, nchan):
    return ["%sai%d" % (prefix, i) for i in range(nchan)]


def connect(prefix, nchan, timeout=30, **_):
    ca = _ca()
    names = _ai_names(prefix, nchan)
    with Timer() as t:
        _connect(ca, names, timeout)
    result(t.wall, t.cpu, nchan)


def get_seq(prefix, n, timeout=30, **_):
    ca = _ca()
    chid, = _connect(ca, [prefix + "ai0"], timeout)
    get, pend_io, normal = ca.get, ca.pend_io, ca.ECA.NORMAL
    with Timer() as t:
        for _i in range(n):
            status, value = get(chid)
            if pend_io(timeout) != normal:
                raise SystemExit("pend_io failed")
            value.get()
    result(t.wall, t.cpu, n)


def get_batch(prefix, n, nchan, timeout=30, **_):
    ca = _ca()
    chids = _connect(ca, _ai_names(prefix, nchan), timeout)
    get = ca.get
    with Timer() as t:
        pending = [get(chids[i % nchan])[1] for i in range(n)]
        _pend(ca, timeout)
        values = [v.get() for v in pending]
    assert len(values) == n
    result(t.wall, t.cpu, n)


def put_cb(prefix, n, timeout=30, **_):
    ca = _ca()
    chid, = _connect(ca, [prefix + "put"], timeout)
    done = threading.Event()
    statuses = []

    def on_put(args):
        statuses.append(args["status"])
        done.set()

    put, flush_io = ca.put, ca.flush_io
    with Timer() as t:
        for i in range(n):
            done.clear()
            put(chid, float(i), callback=on_put)
            flush_io()
            if not done.wait(timeout):
                raise SystemExit("put callback timed out")
    assert len(statuses) == n and all(s == ca.ECA.NORMAL for s in statuses)
    result(t.wall, t.cpu, n)


def monitor(prefix, n, base, timeout=60, **_):
    ca = _ca()
    chid, = _connect(ca, [prefix + "flood"], timeout)
    target = base + n
    done = threading.Event()
    state = {"count": 0, "first": 0.0, "last": 0.0}

    def on_event(args):
        value = args["value"]
        if value <= base:
            return              # initial value, left by an earlier run
        now = time.perf_counter()
        if state["count"] == 0:
            state["first"] = now
        state["count"] += 1
        state["last"] = now
        if value >= target:
            done.set()

    status, evid = ca.create_subscription(chid, on_event, mask=ca.DBE.VALUE)
    if status != ca.ECA.NORMAL:
        raise SystemExit("create_subscription: %r" % status)
    ca.flush_io()
    ready()
    c0 = time.process_time()
    if not done.wait(timeout):
        raise SystemExit("monitor flood timed out after %d events" % state["count"])
    cpu = time.process_time() - c0
    result(state["last"] - state["first"], cpu, state["count"], lost=n - state["count"])


def waveform(prefix, n, timeout=60, **_):
    ca = _ca()
    chid, = _connect(ca, [prefix + "wf"], timeout)
    count = ca.element_count(chid)
    nbytes = 0
    with Timer() as t:
        for _i in range(n):
            status, value = ca.get(chid, use_numpy=True)
            _pend(ca, timeout)
            array = value.get()
            nbytes += array.nbytes
    assert len(array) == count
    result(t.wall, t.cpu, n, bytes=nbytes)


def ctrl_time(prefix, n, nchan, timeout=30, **_):
    ca = _ca()
    chids = _connect(ca, _ai_names(prefix, nchan), timeout)
    out = {}
    for kind, chtype in (("ctrl", ca.DBR.CTRL_DOUBLE), ("time", ca.DBR.TIME_DOUBLE)):
        with Timer() as t:
            pending = [ca.get(chids[i % nchan], chtype)[1] for i in range(n)]
            _pend(ca, timeout)
            values = [v.get() for v in pending]
        assert len(values) == n and isinstance(values[-1], dict), values[-1]
        out["wall_" + kind], out["cpu_" + kind] = t.wall, t.cpu
    result(out["wall_ctrl"] + out["wall_time"], out["cpu_ctrl"] + out["cpu_time"], 2 * n,
           **out)


def import_mem(prefix, nchan, timeout=30, **_):
    rss0 = rss_kb()
    t0 = time.perf_counter()
    import caffi.ca  # noqa: F401
    import_s = time.perf_counter() - t0
    ca = _ca()
    with Timer() as t:
        _connect(ca, _ai_names(prefix, nchan), timeout)
    result(t.wall, t.cpu, nchan, import_s=import_s, rss0_kb=rss0,
           module=sys.modules["caffi"].__file__)


def caget_many(prefix, nchan, timeout=30, **_):
    """The prompt layer's one-liner on fresh channels (ours only)."""
    from caffi import caget_many as read_many
    names = _ai_names(prefix, nchan)
    with Timer() as t:
        values = read_many(names, timeout=timeout)
    assert len(values) == nchan
    result(t.wall, t.cpu, nchan)


def caget_one(prefix, n, timeout=30, **_):
    """Sequential ``caget`` of one PV whose channel is cached (ours only)."""
    from caffi import caget
    name = prefix + "ai0"
    caget(name, timeout=timeout)
    with Timer() as t:
        for _ in range(n):
            caget(name, timeout=timeout)
    result(t.wall, t.cpu, n)


if __name__ == "__main__":
    sys.exit(main({f.__name__: f for f in (connect, get_seq, get_batch, put_cb, monitor,
                                            waveform, ctrl_time, import_mem, caget_many,
                                            caget_one)}))
