"""Real clients against our CA server (a child process): caffi (libca),
CaChannel (its own libca, in this process), pyepics (its own libca), caproto's client, our
command-line tools; the same records compared with the soft IOC (rsrv)."""
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from CaChannel import CaChannel

from caffi import ca

import _ioc
from _pyioc import PyIOC

PREFIX = "caffisrv%d:" % os.getpid()


@pytest.fixture(scope="module")
def server(ports):
    # the last private port of the suite's address list; no test of this module
    # starts a private soft IOC
    ioc = PyIOC(PREFIX, ports.private[-1]).start()
    try:
        yield ioc
    finally:
        ioc.stop()


def _comparable(value):
    """A DBRValue's dict without the time stamp (the two servers differ there)."""
    if isinstance(value, dict):
        return {k: _comparable(v) for k, v in value.items() if k not in ("stamp",)}
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, float) and value != value:
        return "nan"                # NaN limits compare equal
    return value


# (record, value put into both servers with dbpf / caput)
RECORDS = [("ai", 1.5), ("ao", 2.25), ("longin", 42), ("longout", 7), ("stringin", "hello"),
           ("stringout", "world"), ("bo", 0), ("bi", 1), ("mbbo", 1)]
DBR_TYPES = [t for t in range(39) if t not in (35, 36)]     # PUT_ACKT/ACKS: write only


@pytest.mark.parametrize("record,value", RECORDS)
def test_same_answers_as_rsrv_for_every_dbr_type(ioc, chan, record, value):
    ioc.dbpf(ioc.prefix + record, value)
    theirs = chan(record, prefix=ioc.prefix)
    ours = chan(record)
    assert ca.field_type(ours) == ca.field_type(theirs)
    assert ca.element_count(ours) == ca.element_count(theirs)
    # other modules leave alarms unacknowledged in the session IOC: acknowledge both
    for chid in (theirs, ours):
        assert ca.put(chid, 3, chtype=36) == ca.ECA.NORMAL      # DBR_PUT_ACKS
    assert ca.pend_io(5.0) == ca.ECA.NORMAL
    differences = []
    for dbr in DBR_TYPES:
        got = []
        for chid in (theirs, ours):
            status, dbrvalue = ca.get(chid, chtype=dbr)
            assert status == ca.ECA.NORMAL
            rc = ca.pend_io(0.5)
            got.append((rc, _comparable(dbrvalue.get()) if rc == ca.ECA.NORMAL else None))
        if got[0] != got[1]:
            differences.append((dbr, got[0], got[1]))
    assert differences == [], "\n".join(map(repr, differences))


def test_write_errors_as_rsrv(ctx, chan, server):
    # read-only PV: ECA_NOWTACCESS from ca_put_callback, as rsrv's RO records
    ro = chan("ro")
    assert ca.write_access(ro) is False and ca.read_access(ro) is True
    fails = chan("fails")
    done = _ioc.Collector("put callback")
    assert ca.put(fails, 1, callback=done) == ca.ECA.NORMAL
    ca.flush_io()
    (arg,) = done.wait(1, 5.0)
    assert arg["status"] == ca.ECA.PUTFAIL
    # the server survives and still serves
    assert _ioc.ca_get(chan("ai")) == 1.5


def test_access_hook_by_user(chan):
    secret = chan("secret")     # our user is not 'trusted'
    assert ca.read_access(secret) is False and ca.write_access(secret) is False
    # (with a callback: libca counts a refused get without one as pending I/O)
    status, value = ca.get(secret, callback=lambda arg: None)
    assert status == ca.ECA.NORDACCESS


def test_async_putter_completes_the_put(chan):
    slow = chan("slow")
    done = _ioc.Collector("put callback")
    t0 = time.monotonic()
    assert ca.put(slow, 3.5, callback=done) == ca.ECA.NORMAL
    ca.flush_io()
    (arg,) = done.wait(1, 5.0)
    assert arg["status"] == ca.ECA.NORMAL and time.monotonic() - t0 >= 0.15
    assert _ioc.ca_get(slow) == 3.5


def test_large_array(chan):
    big = chan("big")
    assert ca.element_count(big) == 200_000
    value = _ioc.ca_get(big, use_numpy=True)
    assert len(value) == 200_000


def test_subscription_gets_every_post(chan):
    wf = chan("longin")
    got = []
    lock = threading.Lock()

    def cb(arg):
        with lock:
            got.append(arg["value"])
    status, evid = ca.create_subscription(wf, callback=cb, mask=ca.DBE.VALUE)
    assert status == ca.ECA.NORMAL
    ca.flush_io()
    _ioc.wait_for(lambda: len(got) >= 1, 5.0, "the first update")
    for i in range(20):
        _ioc.ca_put(wf, 100 + i)
    _ioc.wait_for(lambda: got and got[-1] == 119, 5.0, "the last update")
    ca.clear_subscription(evid)


def _run_client(code, timeout=60):
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=timeout, env=os.environ)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.strip().splitlines()[-1]


def test_cachannel(ctx, server):
    # in this process, beside caffi's libca: CaChannel's C extension has its own
    ch = CaChannel(PREFIX + "ao")
    ch.searchw()
    ch.putw(3.25)
    assert ch.getw() == 3.25
    ch.clear_channel()
    ch.flush_io()


def test_pyepics(server):
    code = ("import epics\n"
            "assert epics.caput('%(p)sao', 4.5, wait=True)\n"
            "print(epics.caget('%(p)sao'), epics.caget('%(p)sai.EGU'), "
            "epics.caget('%(p)sbo', as_string=True))\n" % {"p": PREFIX})
    assert _run_client(code) == "4.5 mm Off"


def test_caproto_client(server):
    code = ("from caproto.threading.client import Context\n"
            "ctx = Context()\n"
            "ao, wf = ctx.get_pvs('%(p)sao', '%(p)swf', timeout=10)\n"
            "ao.write([5.5], wait=True)\n"
            "print(float(ao.read().data[0]), [float(v) for v in wf.read().data[:3]])\n"
            "ctx.disconnect()\n" % {"p": PREFIX})
    assert _run_client(code) == "5.5 [0.0, 1.0, 2.0]"


def test_command_line_tools(server):
    bindir = os.path.dirname(sys.executable)

    def tool(*args):
        out = subprocess.run([os.path.join(bindir, args[0])] + list(args[1:]),
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        return out.stdout
    tool("caput", PREFIX + "longin", "77")
    assert tool("caget", "-t", PREFIX + "longin").strip() == "77"
    assert "Access:           read, write" in tool("cainfo", PREFIX + "longin")
    proc = subprocess.Popen([os.path.join(bindir, "camonitor"), PREFIX + "longin"],
                            stdout=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()
        assert "77" in first
        tool("caput", PREFIX + "longin", "78")
        assert "78" in proc.stdout.readline()
    finally:
        proc.terminate()
        proc.wait(10)


def test_reconnection_after_restart(ctx, ports, server):
    """Clients see the disconnection and the reconnection, and monitors resume."""
    status, chid = ca.create_channel(PREFIX + "longin")
    assert ca.pend_io(5.0) == ca.ECA.NORMAL
    states = []
    values = []
    ca.change_connection_event(chid, lambda arg: states.append(arg["op"]))
    status, evid = ca.create_subscription(chid, callback=lambda a: values.append(a["value"]))
    ca.flush_io()
    _ioc.wait_for(lambda: values, 5.0, "first value")
    try:
        server.restart()
        _ioc.wait_for(lambda: len(states) >= 2, 20.0, "disconnect and reconnect")
        assert states[:2] == [ca.CA_OP_CONN_DOWN, ca.CA_OP_CONN_UP]
        n = len(values)
        _ioc.ca_put(chid, 424)
        _ioc.wait_for(lambda: len(values) > n and values[-1] == 424, 10.0,
                      "the resumed subscription")
    finally:
        ca.clear_subscription(evid)
        ca.clear_channel(chid)
        ca.flush_io()


EXAMPLES = {"simple": ["A", "B", "C", "mode", "writes"],
            "thermo_sim": ["period", "readback", "setpoint", "tau"],
            "records": ["counts", "motor", "sensor", "switch"],
            "waveform": ["count", "length", "period", "wave"],
            "enums": ["cmd", "duration", "state"],
            "random_walk": ["dt", "x"]}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_iocs_list_and_serve_their_pvs(ctx, ports, name):
    prefix = "ex%d_%s:" % (os.getpid(), name)
    ioc = PyIOC(prefix, ports.private[-2], module="caffi.server.ioc_examples." + name,
                args=["--list-pvs"]).start()
    try:
        listed = [line for line in ioc.log if line.startswith(prefix)]
        deadline = time.monotonic() + 10
        while len(listed) < len(EXAMPLES[name]) and time.monotonic() < deadline:
            ioc.wait_for(prefix, 10)
            listed = [line for line in ioc.log if line.startswith(prefix)]
        assert sorted(listed) == [prefix + pv for pv in EXAMPLES[name]]
        status, chid = ca.create_channel(prefix + EXAMPLES[name][-1])
        assert ca.pend_io(5.0) == ca.ECA.NORMAL
        ca.clear_channel(chid)
        ca.flush_io()
    finally:
        ioc.stop()
