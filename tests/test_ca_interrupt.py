"""Ctrl-C (SIGINT) interrupts every blocking call within a fraction of a second.

A child process blocks in each call in turn; the test sends it SIGINT and the
child reports, with ``time.monotonic()`` (the system-wide CLOCK_MONOTONIC, so
comparable with the parent's), when its ``except KeyboardInterrupt`` ran.
Each call blocks on something that does not end by itself within its
timeout: a channel that never connects, a put to a record whose processing
takes 30 s (``slow.A``), or plain waiting.
"""
import os
import select
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import _ioc

#: latency from SIGINT to KeyboardInterrupt the tests allow
LIMIT = 0.2

CHILD = textwrap.dedent("""
    import sys, time
    from caffi import ca

    kind, prefix = sys.argv[1], sys.argv[2]
    names = sys.argv[3:]
    MISSING = "caffi:interrupt:missing"

    def setup():
        assert ca.create_context(kind == "preemptive") == ca.ECA.NORMAL
        status, slow = ca.create_channel(prefix + "slow.A")
        assert ca.pend_io(10) == ca.ECA.NORMAL
        status, gid = ca.sg_create()
        assert ca.sg_put(gid, slow, 1.0) == ca.ECA.NORMAL
        # Created without callback and never found: pend_io waits for it.
        status, missing = ca.create_channel(MISSING)
        return slow, gid

    slow, gid = setup()

    def one_liner_caget():
        import caffi
        caffi.caget(MISSING, timeout=20)

    def one_liner_caput_wait():
        import caffi
        caffi.caput(prefix + "slow.A", 2.0, wait=True, timeout=20)

    def pv_wait_for_connection():
        import caffi
        caffi.PV(MISSING).wait_for_connection(timeout=20)

    def pv_put_wait():
        import caffi
        pv = caffi.PV(prefix + "slow.A")
        assert pv.wait_for_connection(timeout=10)
        pv.put(3.0, wait=True, timeout=20)

    CALLS = {
        "pend_event(0)": lambda: ca.pend_event(0),
        "pend_event(20)": lambda: ca.pend_event(20),
        "pend(20, False)": lambda: ca.pend(20, False),
        "pend_io(20)": lambda: ca.pend_io(20),
        "pend_io(0)": lambda: ca.pend_io(0),
        "pend(20, True)": lambda: ca.pend(20, True),
        "sg_block(20)": lambda: ca.sg_block(gid, 20),
        "caget": one_liner_caget,
        "caput(wait=True)": one_liner_caput_wait,
        "PV.wait_for_connection": pv_wait_for_connection,
        "PV.put(wait=True)": pv_put_wait,
    }
    for name in names:
        print("ready", name, flush=True)
        try:
            result = CALLS[name]()
        except KeyboardInterrupt:
            print("caught", time.monotonic(), flush=True)
        else:
            print("returned", result, flush=True)
    print("end", flush=True)
    # Not a clean exit: libca's context shutdown would wait for the server to
    # finish the 30 s puts before it closes the circuit.
    import os
    os._exit(0)
""")

CALLS = ["pend_event(0)", "pend_event(20)", "pend(20, False)", "pend_io(20)", "pend_io(0)",
         "pend(20, True)", "sg_block(20)"]
ONE_LINERS = ["caget", "caput(wait=True)", "PV.wait_for_connection", "PV.put(wait=True)"]
CASES = [("preemptive", name) for name in CALLS + ONE_LINERS] + \
    [("non-preemptive", name) for name in CALLS]


def _readline(proc, timeout):
    """The child's next output line, or "" if none came within *timeout* s."""
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    return proc.stdout.readline().decode() if ready else ""


def _run_child(kind, names, prefix):
    """Interrupt each call of *names* in one child: {name: latency or message}.

    After a call that was not interrupted the child is killed and the calls
    after it run in a new one.
    """
    proc = subprocess.Popen([sys.executable, "-c", CHILD, kind, prefix] + names,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0,
                            env=dict(os.environ), cwd=_ioc.HERE)
    results = {}
    try:
        for index, name in enumerate(names):
            line = _readline(proc, 30)
            assert line == "ready %s\n" % name, (line, proc.stderr.read().decode()[-3000:]
                                                 if not line else "")
            # Let the child get into the call, then interrupt it there.
            time.sleep(0.3)
            sent = time.monotonic()
            os.kill(proc.pid, signal.SIGINT)
            words = _readline(proc, 5).split()
            if words[:1] != ["caught"]:
                results[name] = "not interrupted within 5 s: %r" % (words,)
                proc.kill()
                results.update(_run_child(kind, names[index + 1:], prefix)
                               if names[index + 1:] else {})
                return results
            results[name] = float(words[1]) - sent
        assert _readline(proc, 30) == "end\n"
        assert proc.wait(30) == 0, proc.stderr.read().decode()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    return results


@pytest.fixture(scope="module")
def latencies(ioc):
    results = {}
    for kind in ("preemptive", "non-preemptive"):
        names = [name for k, name in CASES if k == kind]
        for name, value in _run_child(kind, names, ioc.prefix).items():
            results[kind, name] = value
    return results


@pytest.mark.parametrize("kind, name", CASES)
def test_ctrl_c_interrupts(latencies, kind, name):
    latency = latencies[kind, name]
    assert not isinstance(latency, str), latency
    assert 0 <= latency < LIMIT, "%s (%s): KeyboardInterrupt after %.3f s" % (
        name, kind, latency)
