"""Fixtures of the caffi test suite: an isolated CA network on 127.0.0.1.

At import time (before anything can create a CA client context) free ports
are chosen and the EPICS_* environment is set so that this test run sees only
its own servers: a CA repeater (the ``caRepeater`` console script of the
package) and soft IOCs (``python -m epicscorelibs.ioc``).

EPICS_CA_ADDR_LIST holds 127.0.0.1 (the session IOC on EPICS_CA_SERVER_PORT)
and 127.0.0.1:<port> for each of a few extra ports reserved for private IOCs
that tests start, stop and restart (``private_ioc_port``); a private IOC must
listen on its own UDP port, because a unicast search datagram reaches only one
of several sockets sharing a port.
"""
import os
import sys
import threading
import time

import pytest
from hypothesis import settings as _hypothesis_settings

# CI runs the property tests on a fixed sequence of examples, so a submission
# is judged on the same inputs every time; exploring new ones is for local runs.
_hypothesis_settings.register_profile("ci", derandomize=True, deadline=None)
if os.environ.get("CI"):
    _hypothesis_settings.load_profile("ci")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _ioc  # noqa: E402

# --------------------------------------------------------------------------- #
# Environment: must be set before caffi creates any context.

N_PRIVATE_PORTS = 3
(_SERVER_PORT, _REPEATER_PORT, _PVA_PORT, _PVA_BCAST_PORT, *_PRIVATE_PORTS) = \
    _ioc.pick_free_ports(4 + N_PRIVATE_PORTS)

_EPICS_ENV = {
    "EPICS_CA_ADDR_LIST": " ".join(
        ["127.0.0.1"] + ["127.0.0.1:%d" % p for p in _PRIVATE_PORTS]),
    "EPICS_CA_AUTO_ADDR_LIST": "NO",
    "EPICS_CA_SERVER_PORT": str(_SERVER_PORT),
    "EPICS_CA_REPEATER_PORT": str(_REPEATER_PORT),
    "EPICS_CA_MAX_ARRAY_BYTES": "20000000",
    "EPICS_CAS_INTF_ADDR_LIST": "127.0.0.1",
    "EPICS_CAS_BEACON_ADDR_LIST": "127.0.0.1",
    "EPICS_CAS_AUTO_BEACON_ADDR_LIST": "NO",
    "EPICS_PVA_SERVER_PORT": str(_PVA_PORT),
    "EPICS_PVA_BROADCAST_PORT": str(_PVA_BCAST_PORT),
    "EPICS_PVAS_INTF_ADDR_LIST": "127.0.0.1",
    "EPICS_PVA_ADDR_LIST": "127.0.0.1",
    "EPICS_PVA_AUTO_ADDR_LIST": "NO",
}
# Variables that would route traffic elsewhere.
for _name in ("EPICS_CAS_SERVER_PORT", "EPICS_CAS_BEACON_PORT", "EPICS_CA_NAME_SERVERS",
              "EPICS_CAS_IGNORE_ADDR_LIST", "EPICS_CAS_BEACON_PERIOD",
              "EPICS_PVAS_SERVER_PORT", "EPICS_PVAS_BROADCAST_PORT",
              "EPICS_PVA_NAME_SERVERS"):
    os.environ.pop(_name, None)
os.environ.update(_EPICS_ENV)

#: Record name prefix of the session IOC (unique per test run).
PREFIX = "caffitest%d:" % os.getpid()


class _Ports:
    server = _SERVER_PORT
    repeater = _REPEATER_PORT
    private = tuple(_PRIVATE_PORTS)


# --------------------------------------------------------------------------- #
# Servers

def _script(name):
    """A console script installed next to the running interpreter."""
    bindir = os.path.dirname(sys.executable)
    for candidate in (name, name + ".exe", name + "-script.py"):
        path = os.path.join(bindir, candidate)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


@pytest.fixture(scope="session")
def ports():
    return _Ports


@pytest.fixture(scope="session", autouse=True)
def ca_repeater():
    """The package's ``caRepeater`` on the isolated repeater port."""
    script = _script("caRepeater")
    if script is None:
        pytest.fail("the caRepeater console script is not installed next to %s "
                    "(pip install -e . installs it)" % sys.executable, pytrace=False)
    rep = _ioc.Repeater(script, os.environ).start()
    try:
        yield rep
    finally:
        rep.stop()


@pytest.fixture(scope="session")
def ioc(ca_repeater):
    """The session IOC running tests/ioc/test.db with prefix ``PREFIX``."""
    server = _ioc.IOC(macros="P=%s" % PREFIX, env=os.environ, name="session-ioc")
    server.prefix = PREFIX
    server.start()
    try:
        yield server
    finally:
        server.stop()


class _PortPool:
    def __init__(self, ports):
        self._free = list(ports)
        self._lock = threading.Lock()

    def take(self):
        with self._lock:
            if not self._free:
                raise RuntimeError("no private IOC port left")
            return self._free.pop(0)

    def give(self, port):
        with self._lock:
            self._free.append(port)


_PORT_POOL = _PortPool(_PRIVATE_PORTS)
_private_counter = [0]


@pytest.fixture
def private_ioc(ca_repeater):
    """Factory for private IOCs on a reserved port; all are stopped after the test.

    ``make(acf=None)`` returns a started ``_ioc.IOC`` with attributes
    ``prefix`` (unique record prefix) and ``ca_port``; ``ioc.restart()``
    stops it and starts a new process on the same port (returns the new IOC).
    """
    started = []
    port_taken = []

    def make(acf=None, start=True):
        port = _PORT_POOL.take()
        port_taken.append(port)
        _private_counter[0] += 1
        prefix = "caffipriv%d_%d:" % (os.getpid(), _private_counter[0])

        def new():
            server = _ioc.IOC(macros="P=%s" % prefix, env=os.environ, ca_port=port,
                              acf=acf, name="private-ioc-%d" % port)
            server.prefix = prefix
            server.restart = lambda: (server.stop(), spawn())[1]
            return server

        def spawn():
            server = new()
            started.append(server)
            server.start()
            return server

        if start:
            return spawn()
        server = new()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()
    for port in port_taken:
        _PORT_POOL.give(port)


# --------------------------------------------------------------------------- #
# Channel Access client side


def _registry_counts():
    from caffi import _callbacks
    return dict(_callbacks.registry_counts())


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


_leak_baseline = {}


@pytest.fixture(autouse=True)
def leak_check(request):
    """After each test every caffi registry (channels, subscriptions, callbacks) is empty."""
    before = _registry_counts()
    yield
    rep = getattr(request.node, "rep_call", None)
    if rep is None or not rep.passed:
        return  # do not mask the test's own failure
    # Callbacks finishing in libca threads may still be unwinding: wait a moment.
    deadline = time.monotonic() + 3.0
    counts = _registry_counts()
    while any(counts.values()) and time.monotonic() < deadline:
        time.sleep(0.02)
        counts = _registry_counts()
    if any(before.values()):
        # An earlier failed test leaked; only require that this one did not add.
        grown = {k: (before.get(k, 0), v) for k, v in counts.items() if v > before.get(k, 0)}
        assert not grown, "caffi registries grew during the test: %r" % grown
    else:
        assert not any(counts.values()), "caffi registries not empty after the test: %r" % counts


@pytest.fixture(scope="session")
def ca_context(ca_repeater):
    """The session's preemptive CA client context, created in the main thread."""
    from caffi import ca
    status = ca.create_context(True)
    assert status == ca.ECA.NORMAL, status
    context = ca.current_context()
    assert context is not None
    yield context
    if ca.current_context() is None:
        ca.attach_context(context)
    ca.destroy_context()


#: the records tests/ioc/test.db sets, as (suffix, value); a module may name
#: its own ``BASELINE``
RECORD_BASELINE = (("longin", 42), ("stringin", "hello"), ("bi", 1), ("mbbi", 2),
                   ("alarm", 95), ("ai", 1.5), ("ao", 2.25), ("mbbo", 1), ("longout", 7),
                   ("stringout", "world"))


@pytest.fixture
def record_baseline(ioc, request):
    """The session IOC's records as tests/ioc/test.db sets them, before and after
    each test (other modules write them too)."""
    records = getattr(request.module, "BASELINE", RECORD_BASELINE)
    for suffix, value in records:
        ioc.dbpf(ioc.prefix + suffix, value)
    yield
    for suffix, value in records:
        ioc.dbpf(ioc.prefix + suffix, value)


@pytest.fixture
def shared_cache(ca_context):
    """caffi's shared channel cache (on the session context) emptied before the
    leak check runs: as a module's fixture it is set up after that check and
    torn down first."""
    from caffi import _shared
    _shared.reset()
    yield
    _shared.reset()


@pytest.fixture(scope="session")
def ioc_circuit(ca_context, ioc):
    """A channel to the session IOC held on the session context from the first
    test that uses the IOC to the end (made with libca directly: it is in none
    of caffi's registries, which the leak check counts).

    It keeps the context's circuit to the IOC open between tests.  libca
    closes a circuit when its last channel is cleared, and a search reply
    that arrives while it closes installs the next channel on that closing
    circuit (``cac::transferChanToVirtCircuit`` finds it in its server table,
    not alive, and installs the channel anyway); the channel is then
    disconnected with it and waits for libca's disconnect governor, up to
    10 s, before it searches again, longer than a test waits to connect.
    """
    from caffi import ca
    from caffi._ffi import ffi, lib
    if ca.current_context() is None:
        ca.attach_context(ca_context)
    if ca.current_context() != ca_context:
        yield None                  # (a test left the thread elsewhere: ``ctx`` fails it)
        return
    pchid = ffi.new("chid *")
    name = (ioc.prefix + "ai").encode()
    assert lib.ca_create_channel(name, ffi.NULL, ffi.NULL, 0, pchid) == ca.ECA.NORMAL
    assert lib.ca_pend_io(10.0) == ca.ECA.NORMAL, "the session IOC did not connect"
    yield pchid[0]
    if ca.current_context() == ca_context:
        lib.ca_clear_channel(pchid[0])
        lib.ca_flush_io()


@pytest.fixture
def ctx(ca_context):
    """Make sure the calling (main) thread is attached to the session context."""
    from caffi import ca
    current = ca.current_context()
    if current is None:
        assert ca.attach_context(ca_context) == ca.ECA.NORMAL
    elif current != ca_context:
        pytest.fail("main thread is attached to a foreign CA context %r" % (current,))
    yield ca_context
    current = ca.current_context()
    if current is None:
        ca.attach_context(ca_context)
    assert ca.current_context() == ca_context, "test left the main thread in another context"


@pytest.fixture
def pv(ioc, ioc_circuit):
    """``pv("ai")`` -> full record name in the session IOC."""
    return lambda suffix: ioc.prefix + suffix


@pytest.fixture
def connect(ctx, ioc, ioc_circuit):
    """Factory: ``connect(name)`` creates a channel, waits for it, clears it after the test.

    ``name`` is a record (field) of the session IOC without the prefix, or a
    full PV name with ``full=True``.
    With ``callback=...`` the channel is created with a connection callback
    and not waited for.  ``wait=False`` returns without waiting.
    """
    from caffi import ca
    chids = []

    def make(name, callback=None, priority=None, timeout=5.0, wait=True, full=False):
        if not full:
            name = ioc.prefix + name
        kwargs = {}
        if callback is not None:
            kwargs["callback"] = callback
        if priority is not None:
            kwargs["priority"] = priority
        status, chid = ca.create_channel(name, **kwargs)
        assert status == ca.ECA.NORMAL, (name, status)
        chids.append(chid)
        if wait:
            if callback is None:
                assert ca.pend_io(timeout) == ca.ECA.NORMAL, "%s did not connect" % name
            else:
                _ioc.wait_for(lambda: ca.state(chid) == ca.ChannelState.CONN, timeout,
                              "%s to connect" % name)
        return chid

    make.created = chids
    yield make
    for chid in chids:
        try:
            ca.clear_channel(chid)
        except Exception:
            pass
    ca.flush_io()
