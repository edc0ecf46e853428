"""pvAccess workloads with p4p: the client (``p4p.client.thread.Context``)
and, with ``serve``, the server (``p4p.server.Server`` over ``SharedPV``).

Server protocol (shared by every pva_*.py worker, see bench/README.md):
``serve prefix= npvs= array=`` serves ``<prefix>s0..s<npvs-1>`` (NTScalar
double), ``<prefix>arr`` (NTScalarArray double, ``array`` elements) and
``<prefix>flood`` (NTScalar double), prints ``READY`` and then reads commands
on stdin: ``flood BASE N`` posts BASE+1 .. BASE+N to ``flood`` as fast as it
can and prints ``FLOODED``; end of input stops the server.
"""
import sys
import threading
import time

from _common import Timer, main, ready, result


def _context():
    from p4p.client.thread import Context
    return Context("pva")


def get_seq(prefix, n, timeout=10, **_):
    ctxt = _context()
    name = prefix + "s0"
    ctxt.get(name, timeout=timeout)          # connect outside the timed section
    get = ctxt.get
    with Timer() as t:
        for _i in range(n):
            get(name, timeout=timeout)
    result(t.wall, t.cpu, n)
    ctxt.close()


def monitor(prefix, n, base, timeout=60, queue=0, **_):
    ctxt = _context()
    target = base + n
    done = threading.Event()
    first = threading.Event()
    state = {"count": 0, "first": 0.0, "last": 0.0}

    def on_update(value):
        first.set()
        value = float(value)
        if value <= base:
            return
        now = time.perf_counter()
        if state["count"] == 0:
            state["first"] = now
        state["count"] += 1
        state["last"] = now
        if value >= target:
            done.set()

    request = "record[queueSize=%d]" % queue if queue else None
    sub = ctxt.monitor(prefix + "flood", on_update, request=request)
    if not first.wait(timeout):
        raise SystemExit("no initial update: timed out")
    ready()
    c0 = time.process_time()
    if not done.wait(timeout):
        raise SystemExit("flood timed out after %d updates" % state["count"])
    cpu = time.process_time() - c0
    result(state["last"] - state["first"], cpu, state["count"], lost=n - state["count"])
    sub.close()
    ctxt.close()


def array(prefix, n, timeout=60, budget=0, **_):
    ctxt = _context()
    name = prefix + "arr"
    ctxt.get(name, timeout=timeout)
    nbytes = 0
    count = 0
    with Timer() as t:
        while count < n and not (budget and count and time.perf_counter() - t.w0 > budget):
            count += 1
            value = ctxt.get(name, timeout=timeout)
            nbytes += value.nbytes
    result(t.wall, t.cpu, count, bytes=nbytes)
    ctxt.close()


def connect_get(prefix, npvs, timeout=30, **_):
    names = ["%ss%d" % (prefix, i) for i in range(npvs)]
    with Timer() as t:
        ctxt = _context()
        values = ctxt.get(names, timeout=timeout)
    assert len(values) == npvs
    result(t.wall, t.cpu, npvs)
    ctxt.close()


def serve(prefix, npvs, array=1000000, **_):
    import numpy
    from p4p.nt import NTScalar
    from p4p.server import Server
    from p4p.server.thread import SharedPV

    def handler_pv(nt, initial):
        pv = SharedPV(nt=nt, initial=initial)

        @pv.put
        def on_put(pv, op):
            pv.post(op.value())
            op.done()
        return pv

    scalar = NTScalar("d")
    pvs = {"%ss%d" % (prefix, i): handler_pv(scalar, float(i)) for i in range(npvs)}
    pvs[prefix + "arr"] = SharedPV(nt=NTScalar("ad"),
                                   initial=numpy.arange(array, dtype=numpy.float64))
    flood = pvs[prefix + "flood"] = SharedPV(nt=scalar, initial=0.0)
    with Server(providers=[pvs]):
        ready()
        for line in sys.stdin:
            words = line.split()
            if words[:1] == ["flood"]:
                base, count = int(words[1]), int(words[2])
                post = flood.post
                for i in range(1, count + 1):
                    post(float(base + i))
                sys.stdout.write("FLOODED\n")
                sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main({f.__name__: f for f in (get_seq, monitor, array, connect_get, serve)}))
