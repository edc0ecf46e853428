"""Where caffi's time goes in the CA workloads with targets (a profile, not a race).

    .venv/bin/python bench/profile_ca.py

Starts a soft IOC on private ports and measures, in this process, each step of
the paths bench/run.py times as a whole: a get without callback (argument
checks, buffer, the libca call, the DBRValue; for the one-call path of a
native one-element get and for the general path), pend_io, the conversion of the
value, and a put-with-callback round trip split into the part spent in Python
and the part spent waiting for libca's thread to hand the completion back.
CPU times are process CPU (all threads) per operation, best of 5.
"""
import os
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import _servers  # noqa: E402


def best(fn, n, repeat=5, clock=time.process_time, after=None):
    times = []
    for _ in range(repeat):
        t0 = clock()
        for _ in range(n):
            fn()
        times.append((clock() - t0) / n)
        if after is not None:
            after()
    return min(times)


def profile(ca, dbr, ffi, lib, prefix):
    from caffi._ca_checks import _read_request
    status, chid = ca.create_channel(prefix + "ai0")
    assert ca.pend_io(5) == ca.ECA.NORMAL
    rows = []
    n = 20000
    pend = lambda: ca.pend_io(10)  # noqa: E731
    rows.append(("get(): whole call, native one element (one-call path)",
                 best(lambda: ca.get(chid), n, after=pend)))
    plain = dbr.PLAIN_PTR
    rows.append(("  buffer (union caffi_plain)", best(lambda: ffi.new(plain), n)))
    pbuf = ffi.new(plain)
    group = ca.current_context().make_io_group()
    request_ptr = ffi.typeof("struct caffi_request *")

    def get_plain():
        request = ffi.new(request_ptr)
        lib.caffi_get_plain(chid.ptr, pbuf, group._ptr, request)
        group.add(chid, request, pbuf)  # pend_io waits for it
    rows.append(("  caffi_get_plain (checks + request record + get with C callback)",
                 best(get_plain, n, after=pend)))
    member, value_class = dbr.PLAIN_SCALARS[6]
    rows.append(("  DBRValue object", best(lambda: value_class(member, pbuf, False), n)))
    values = [ca.get(chid)[1] for _ in range(n)]
    ca.pend_io(10)
    it = iter(values * 5)
    rows.append(("  DBRValue.get() of a double", best(lambda: next(it).get(), n)))
    rows.append(("get(): whole call, explicit DBR_DOUBLE, count 1 (general path)",
                 best(lambda: ca.get(chid, 6, 1), n, after=pend)))
    rows.append(("  argument checks (_read_request)",
                 best(lambda: _read_request(chid.ptr, 6, 1, False), n)))
    rows.append(("  buffer (allocate)", best(lambda: dbr.allocate(6, 1, False), n)))
    buf = dbr.allocate(6, 1, False)[0]
    rows.append(("  libca ca_array_get itself",
                 best(lambda: lib.ca_array_get(6, 1, chid.ptr, buf), n, after=pend)))
    rows.append(("  DBRValue object", best(lambda: dbr.DBRValue(6, 1, buf, False, None), n)))
    values = [ca.get(chid, 6, 1)[1] for _ in range(n)]
    ca.pend_io(10)
    it = iter(values * 5)
    rows.append(("  DBRValue.get() of a double", best(lambda: next(it).get(), n)))

    def one_get():
        value = ca.get(chid)[1]
        ca.pend_io(5)
        value.get()
    rows.append(("sequential get + pend_io, wall", best(one_get, 2000, clock=time.perf_counter)))
    rows.append(("sequential get + pend_io, CPU", best(one_get, 2000)))

    done = threading.Event()
    spent = []

    def on_put(args):
        t = time.perf_counter()
        done.set()
        spent.append(time.perf_counter() - t)

    def one_put():
        done.clear()
        ca.put(chid, 1.5, callback=on_put)
        ca.flush_io()
        done.wait(5)
    rows.append(("put with callback round trip, wall",
                 best(one_put, 2000, clock=time.perf_counter)))
    rows.append(("put(): the call itself", best(lambda: ca.put(chid, 1.5), n,
                                                after=lambda: ca.pend_io(5))))
    ca.clear_channel(chid)
    return rows


def main():
    env = _servers.epics_env()
    os.environ.update({k: v for k, v in env.items() if k.startswith("EPICS_")})
    workdir = tempfile.mkdtemp(prefix="caffi-profile-")
    db = os.path.join(workdir, "profile.db")
    prefix = "prof:"
    _servers.write_ioc_db(db, prefix, 4, 10)
    python = os.path.join(os.path.dirname(HERE), ".venv", "bin", "python")
    python = python if os.path.exists(python) else sys.executable
    repeater = _servers.start_repeater(os.path.join(os.path.dirname(python), "caRepeater"),
                                       env, workdir)
    ioc = _servers.start_ioc(python, db, env, workdir)
    try:
        from caffi import ca, dbr
        from caffi._ffi import ffi, lib
        ca.create_context(True)
        print("| step | per operation |")
        print("|---|---|")
        for label, seconds in profile(ca, dbr, ffi, lib, prefix):
            print("| %s | %.2f us |" % (label, seconds * 1e6))
        ca.destroy_context()
    finally:
        ioc.stop()
        repeater.stop()


if __name__ == "__main__":
    main()
