#!/usr/bin/env python
"""A tour of ``caffi.ca`` and ``pva`` against private servers.

Run it with no arguments::

    python demo/demo.py

It picks free ports and points every EPICS address variable at 127.0.0.1, so
it neither sees nor disturbs other IOCs on the network. It then starts three
processes: libca's ``caRepeater``, the embedded soft IOC of epicscorelibs
(serving ``demo/demo.db`` over Channel Access and, through its QSRV, over
pvAccess), our pure-Python pvAccess server (``demo/pva_server.py``) and our
pure-Python Channel Access server (``demo/ca_server.py``, a ``PVGroup`` of
``caffi.server`` served over CA and pvAccess at once), each on ports of its
own. It walks through Channel Access with ``from caffi import ca``, then
through pvAccess with the synchronous ``pva`` client against the pvAccess
servers, then through both protocols against our CA server, and stops the
processes again. The exit status is 0 only if every step succeeded.

Each part of the tour is one ``section_*`` function taking a :class:`Tour`;
``CA_SECTIONS``, ``PVA_SECTIONS`` and ``CAS_SECTIONS`` list them in order. The CA context stays
open during the pvAccess part, so a record can be shown through both
protocols side by side.
"""
import os
import queue
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DATABASE = os.path.join(HERE, "demo.db")
PVA_SERVER = os.path.join(HERE, "pva_server.py")
CA_SERVER = os.path.join(HERE, "ca_server.py")
PREFIX = "demo:"
PY_PREFIX = "pydemo:"  # the PVs of our Python pvAccess server
CAS_PREFIX = "pycas:"  # the PVs of our Python CA server (CA and pvAccess)
TIMEOUT = 5.0  # seconds for any single network operation
START_TIMEOUT = 30.0  # seconds for a server process to report it is ready

# Set by isolate_environment() and read by the sections (for the summary).
PORTS = {}


class DemoError(Exception):
    """A step of the demo did not do what it should."""


# ---------------------------------------------------------------------------
# Output helpers
# ---------------------------------------------------------------------------

def heading(text):
    print()
    print(text)
    print("-" * len(text))


def show(label, value):
    print("  %-28s %s" % (label, value))


def check(status, what, ca):
    """Raise DemoError unless *status* is ``ECA.NORMAL``."""
    if status != ca.ECA.NORMAL:
        raise DemoError("%s failed: %r (%s)" % (what, status, ca.message(status)))


# ---------------------------------------------------------------------------
# Isolated servers
# ---------------------------------------------------------------------------

def _port_free(port, kinds):
    for kind in kinds:
        with socket.socket(socket.AF_INET, kind) as sock:
            try:
                sock.bind(("", port))
            except OSError:
                return False
    return True


def free_ports(n):
    """Return *n* distinct ports that are free for both TCP and UDP."""
    kinds = (socket.SOCK_STREAM, socket.SOCK_DGRAM)
    ports = []
    while len(ports) < n:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port not in ports and _port_free(port, kinds):
            ports.append(port)
    return ports


def isolate_environment():
    """Point CA and PVA, client and server, at loopback on private ports.

    This must run before the CA client context is created: libca reads the
    ``EPICS_CA_*`` variables when the context starts. The child processes
    inherit the same environment.
    """
    (ca_port, repeater_port, pva_port, pva_bcast_port,
     cas_port, cas_pva_port, cas_pva_udp) = free_ports(7)
    PORTS.update(ca=ca_port, repeater=repeater_port, pva=pva_port,
                 pva_broadcast=pva_bcast_port, cas=cas_port, cas_pva=cas_pva_port,
                 cas_pva_udp=cas_pva_udp)
    os.environ.update({
        "EPICS_CA_SERVER_PORT": str(ca_port),
        "EPICS_CA_REPEATER_PORT": str(repeater_port),
        # the soft IOC on the default server port, our CA server on its own
        "EPICS_CA_ADDR_LIST": "127.0.0.1 127.0.0.1:%d" % cas_port,
        "EPICS_CA_AUTO_ADDR_LIST": "NO",
        "EPICS_CAS_INTF_ADDR_LIST": "127.0.0.1",
        "EPICS_PVA_SERVER_PORT": str(pva_port),
        "EPICS_PVA_BROADCAST_PORT": str(pva_bcast_port),
        "EPICS_PVAS_INTF_ADDR_LIST": "127.0.0.1",
        "EPICS_PVA_ADDR_LIST": "127.0.0.1",
        "EPICS_PVA_AUTO_ADDR_LIST": "NO",
    })
    # caRepeater is installed next to this interpreter; libca looks for it
    # on PATH should it ever need to start one itself.
    bindir = os.path.dirname(sys.executable)
    os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")


def start_repeater(processes):
    """Start the ``caRepeater`` console script and wait until it answers."""
    exe = os.path.join(os.path.dirname(sys.executable), "caRepeater")
    if os.name == "nt":  # pragma: no cover - Windows
        exe += ".exe"
    if not os.path.exists(exe):
        raise DemoError("caRepeater not found next to %s; is caffi installed?"
                        % sys.executable)
    proc = subprocess.Popen([exe], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    processes.append(("caRepeater", proc))
    # Ready signal: the repeater confirms a registration (REPEATER_REGISTER,
    # command 24) with REPEATER_CONFIRM (command 17), as libca expects.
    register = struct.pack("!HHHHII", 24, 0, 0, 0, 0, 0x7F000001)
    deadline = time.monotonic() + START_TIMEOUT
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(0.1)
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise DemoError("caRepeater exited with status %s: %s" % (
                    proc.returncode, proc.stderr.read().decode(errors="replace")))
            sock.sendto(register, ("127.0.0.1", PORTS["repeater"]))
            try:
                reply = sock.recv(1024)
            except (socket.timeout, ConnectionError):
                continue
            if len(reply) >= 2 and struct.unpack("!H", reply[:2])[0] == 17:
                return proc
    raise DemoError("caRepeater did not confirm within %.0f s" % START_TIMEOUT)


def start_ioc(processes):
    """Start the soft IOC on demo.db and wait for 'IOC Running' on stderr.

    The IOC runs an interactive Python shell on its stdin, so stdin is a pipe
    that stays open for as long as the IOC should live.
    """
    proc = subprocess.Popen(
        [sys.executable, "-m", "epicscorelibs.ioc", "-d", DATABASE],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, universal_newlines=True)
    processes.append(("soft IOC", proc))
    done = threading.Event()  # set on 'IOC Running' or when stderr closes
    running = []
    log = []

    def drain():  # keep reading so the IOC never blocks on a full pipe
        for line in proc.stderr:
            log.append(line)
            if "IOC Running" in line and not running:
                running.append(True)
                done.set()
        done.set()

    threading.Thread(target=drain, name="ioc-stderr", daemon=True).start()
    done.wait(START_TIMEOUT)
    if not running:
        raise DemoError("soft IOC did not start:\n" + "".join(log[-20:]))
    return proc


def start_pva_server(processes):
    """Start ``demo/pva_server.py`` and wait for its ``READY`` line.

    The server binds 127.0.0.1 on a TCP port and a UDP search port of the
    system's choosing (it ignores the ``EPICS_PVA*`` variables meant for the
    soft IOC) and reports them: ``READY <tcp port> <udp port> <PV count>``.
    Closing its stdin stops it.
    """
    proc = subprocess.Popen(
        [sys.executable, PVA_SERVER, "--prefix", PY_PREFIX],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, universal_newlines=True)
    processes.append(("PVA server", proc))
    lines = queue.Queue()
    log = []

    def drain(stream, sink):  # never let the server block on a full pipe
        for line in stream:
            sink(line)
        if stream is proc.stdout:
            lines.put(None)

    threading.Thread(target=drain, args=(proc.stdout, lines.put),
                     name="pva-server-stdout", daemon=True).start()
    threading.Thread(target=drain, args=(proc.stderr, log.append),
                     name="pva-server-stderr", daemon=True).start()
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            line = None
        if line is None:  # end of output or timed out
            time.sleep(0.2)  # let stderr catch up for the message
            raise DemoError("PVA server did not start:\n" + "".join(log[-20:]))
        if line.startswith("READY "):
            _, tcp_port, udp_port, count = line.split()
            PORTS.update(py_pva=int(tcp_port), py_pva_udp=int(udp_port))
            return proc, int(count)


def start_ca_server(processes):
    """Start ``demo/ca_server.py`` (CA and pvAccess) on ports of its own and
    wait until both of its servers log that they listen.

    Its ports are given as an IOC takes them, in its environment; closing
    its stdin stops it.
    """
    env = dict(os.environ)
    env.update({
        "EPICS_CAS_SERVER_PORT": str(PORTS["cas"]),
        "EPICS_CAS_INTF_ADDR_LIST": "127.0.0.1",
        "EPICS_CAS_BEACON_ADDR_LIST": "127.0.0.1",
        "EPICS_CAS_AUTO_BEACON_ADDR_LIST": "NO",
        "EPICS_PVA_SERVER_PORT": str(PORTS["cas_pva"]),
        "EPICS_PVA_BROADCAST_PORT": str(PORTS["cas_pva_udp"]),
        "EPICS_PVAS_INTF_ADDR_LIST": "127.0.0.1",
        "EPICS_PVAS_BEACON_ADDR_LIST": "127.0.0.1",
        "EPICS_PVAS_AUTO_BEACON_ADDR_LIST": "NO",
    })
    proc = subprocess.Popen(
        [sys.executable, CA_SERVER, "--prefix", CAS_PREFIX], env=env,
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, universal_newlines=True)
    processes.append(("CA server", proc))
    markers = {"CA server on TCP port": False, "listening on TCP": False}
    ready = threading.Event()  # set when both listen or stderr closes
    log = []

    def drain():  # keep reading so the server never blocks on a full pipe
        for line in proc.stderr:
            log.append(line)
            for marker in markers:
                if marker in line:
                    markers[marker] = True
            if all(markers.values()):
                ready.set()
        ready.set()

    threading.Thread(target=drain, name="ca-server-stderr", daemon=True).start()
    ready.wait(START_TIMEOUT)
    if not all(markers.values()):
        raise DemoError("CA server did not start:\n" + "".join(log[-20:]))
    return proc


def stop_processes(processes):
    """Stop every process we started, newest first, by PID."""
    for label, proc in reversed(processes):
        if proc.poll() is None and proc.stdin:
            try:
                proc.stdin.close()  # the IOC's shell exits cleanly on EOF
                proc.wait(5)
            except (OSError, subprocess.TimeoutExpired):
                pass
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
        print("  stopped %-12s (pid %d, exit status %s)"
              % (label, proc.pid, proc.returncode))


# ---------------------------------------------------------------------------
# Channel Access sections
# ---------------------------------------------------------------------------

class Tour:
    """What the sections share: the ``ca`` module and the open channels,
    and the ``pva`` client contexts (one per pvAccess server)."""

    def __init__(self, ca):
        self.ca = ca
        self.chids = {}  # short name -> channel id
        self.pva = {}  # "python" / "ioc" -> pva.sync.client.Context

    def chid(self, short):
        return self.chids[short]


def section_connect(tour):
    """Create a preemptive context, create channels and wait for them."""
    ca = tour.ca
    heading("1. Connect channels")
    check(ca.create_context(True), "create_context", ca)
    show("CA protocol version", ca.version())
    for short in ("temperature", "setpoint", "counter", "mode", "spectrum"):
        status, chid = ca.create_channel(PREFIX + short)
        check(status, "create_channel(%s)" % short, ca)
        tour.chids[short] = chid
    # Channels created without a connection callback: pend_io waits for them.
    check(ca.pend_io(TIMEOUT), "pend_io (connect)", ca)
    for short, chid in tour.chids.items():
        show(ca.name(chid), "%-10s x%-3d %s  read=%s write=%s" % (
            ca.field_type(chid).name, ca.element_count(chid),
            ca.host_name(chid), ca.read_access(chid), ca.write_access(chid)))
        if ca.state(chid) != ca.ChannelState.CONN:
            raise DemoError("%s is not connected" % short)


def section_get(tour):
    """Read plain values, then DBR_CTRL values with units and limits."""
    ca = tour.ca
    heading("2. Get: plain values and DBR_CTRL metadata")
    requests = [
        ("temperature", None),
        ("mode", None),                 # native DBF_ENUM: the index
        ("mode", ca.DBR.STRING),        # converted by the server: the label
        ("spectrum", None),
    ]
    pending = []
    for short, dbrtype in requests:
        status, value = ca.get(tour.chid(short), dbrtype, use_numpy=True)
        check(status, "get(%s)" % short, ca)
        pending.append((short, dbrtype, value))
    # One pend_io completes all outstanding gets issued without a callback.
    check(ca.pend_io(TIMEOUT), "pend_io (get)", ca)
    for short, dbrtype, value in pending:
        label = short if dbrtype is None else "%s as %s" % (short, dbrtype.name)
        show(label, repr(value.get()))

    print()
    for short in ("temperature", "mode"):
        chid = tour.chid(short)
        ctrl = ca.field_type(chid).toCTRL()
        status, value = ca.get(chid, ctrl)
        check(status, "get(%s, %s)" % (short, ctrl.name), ca)
        check(ca.pend_io(TIMEOUT), "pend_io (ctrl get)", ca)
        meta = value.get()
        print("  %s as %s:" % (ca.name(chid), ctrl.name))
        if "units" in meta:
            if meta["units"] != "degC" or meta["precision"] != 2:
                raise DemoError("unexpected CTRL metadata: %r" % meta)
            show("  value", "%s %s (precision %s)" % (
                meta["value"], meta["units"], meta["precision"]))
            show("  display limits", "%s .. %s" % (
                meta["lower_disp_limit"], meta["upper_disp_limit"]))
            show("  alarm limits", "%s .. %s" % (
                meta["lower_alarm_limit"], meta["upper_alarm_limit"]))
            show("  warning limits", "%s .. %s" % (
                meta["lower_warning_limit"], meta["upper_warning_limit"]))
            show("  control limits", "%s .. %s" % (
                meta["lower_ctrl_limit"], meta["upper_ctrl_limit"]))
        else:  # enum: the state labels instead of units and limits
            show("  value", "%s = %r" % (meta["value"],
                                         meta["strs"][meta["value"]]))
            show("  states", ", ".join(meta["strs"]))
        show("  alarm", "%s / %s" % (_name(meta["severity"]),
                                     _name(meta["status"])))


def _name(member):
    return getattr(member, "name", member)


def section_put(tour):
    """Write the setpoint and wait for the put-completion callback."""
    ca = tour.ca
    heading("3. Put with completion callback")
    done = queue.Queue()

    def on_put_done(args):  # runs in a libca thread (preemptive context)
        done.put(args)

    for short, value in (("setpoint", 65.0), ("mode", "Run")):
        chid = tour.chid(short)
        check(ca.put(chid, value, callback=on_put_done),
              "put(%s)" % short, ca)
        ca.flush_io()
        try:
            args = done.get(timeout=TIMEOUT)
        except queue.Empty:
            raise DemoError("no put callback for %s" % short)
        if args["chid"] != chid:
            raise DemoError("put callback for the wrong channel")
        check(args["status"], "put(%s) completion" % short, ca)
        show("put %s <- %r" % (ca.name(chid), value), _name(args["status"]))

    # The setpoint forward-links the temperature record, which has now
    # processed, picked up 65 degC and raised its HIGH (MINOR) alarm.
    status, value = ca.get(tour.chid("temperature"), ca.DBR.TIME_DOUBLE)
    check(status, "get(temperature, TIME_DOUBLE)", ca)
    check(ca.pend_io(TIMEOUT), "pend_io (time get)", ca)
    meta = value.get()
    show("temperature now", "%s (%s / %s) at %s" % (
        meta["value"], _name(meta["severity"]), _name(meta["status"]),
        _timestamp(meta)))
    if meta["value"] != 65.0:
        raise DemoError("temperature did not follow the setpoint")


def _timestamp(meta):
    """The record's time stamp of a DBR_TIME_* value as local HH:MM:SS.mmm."""
    stamp = meta["stamp"]
    return time.strftime("%H:%M:%S", time.localtime(stamp["seconds"])) + (
        ".%03d" % (stamp["nanoseconds"] // 1000000))


def section_monitor(tour):
    """Subscribe to the counter (processes every 0.1 s) and print updates."""
    ca = tour.ca
    heading("4. Monitor a record that changes every 0.1 s")
    updates = queue.Queue()

    def on_update(args):  # libca thread: hand the data to the main thread
        updates.put(args)

    chid = tour.chid("counter")
    status, evid = ca.create_subscription(
        chid, on_update, ca.DBR.TIME_DOUBLE,
        mask=ca.DBE.VALUE | ca.DBE.ALARM)
    check(status, "create_subscription", ca)
    ca.flush_io()
    values = []
    try:
        while len(values) < 6:
            try:
                args = updates.get(timeout=TIMEOUT)
            except queue.Empty:
                raise DemoError("no monitor update within %.0f s" % TIMEOUT)
            check(args["status"], "monitor update", ca)
            meta = args["value"]
            values.append(meta["value"])
            show("update %d: %s" % (len(values), ca.name(args["chid"])),
                 "%6.0f  at %s" % (meta["value"], _timestamp(meta)))
    finally:
        check(ca.clear_subscription(evid), "clear_subscription", ca)
        ca.flush_io()
    if values != sorted(values) or values[-1] <= values[0]:
        raise DemoError("the counter did not count up: %r" % values)


def section_sync_group(tour):
    """Read several channels in one synchronous group."""
    ca = tour.ca
    heading("5. Synchronous group: sg_get of several PVs, sg_block, sg_put")
    status, gid = ca.sg_create()
    check(status, "sg_create", ca)
    try:
        values = []
        for short, dbrtype in (("temperature", None), ("setpoint", None),
                               ("counter", None), ("mode", ca.DBR.STRING),
                               ("spectrum", None)):
            status, value = ca.sg_get(gid, tour.chid(short), dbrtype,
                                      use_numpy=True)
            check(status, "sg_get(%s)" % short, ca)
            values.append((short, value))
        show("sg_test before sg_block", _name(ca.sg_test(gid)))
        check(ca.sg_block(gid, TIMEOUT), "sg_block", ca)
        show("sg_test after sg_block", _name(ca.sg_test(gid)))
        for short, value in values:
            show(PREFIX + short, repr(value.get()))
        # Puts can share a group too: restore the setpoint and the mode.
        check(ca.sg_put(gid, tour.chid("setpoint"), 21.5), "sg_put", ca)
        check(ca.sg_put(gid, tour.chid("mode"), "Standby"), "sg_put", ca)
        check(ca.sg_block(gid, TIMEOUT), "sg_block (puts)", ca)
        show("sg_put + sg_block", "setpoint <- 21.5, mode <- 'Standby'")
    finally:
        check(ca.sg_delete(gid), "sg_delete", ca)


def section_cleanup(tour):
    """Close the pvAccess contexts, clear the channels, destroy the context."""
    ca = tour.ca
    heading("14. Clean up")
    for label, ctx in tour.pva.items():
        ctx.close()
    show("pvAccess contexts closed", ", ".join(tour.pva) or "(none)")
    tour.pva.clear()
    for short, chid in tour.chids.items():
        check(ca.clear_channel(chid), "clear_channel(%s)" % short, ca)
    tour.chids.clear()
    ca.flush_io()
    ca.destroy_context()
    show("CA channels cleared", "context destroyed")


CA_SECTIONS = [
    section_connect,
    section_get,
    section_put,
    section_monitor,
    section_sync_group,
]


# ---------------------------------------------------------------------------
# pvAccess sections
# ---------------------------------------------------------------------------

def _pva_time(value):
    """A pvAccess ``timeStamp`` as local HH:MM:SS.mmm (same style as CA)."""
    stamp = value["timeStamp"]
    return time.strftime("%H:%M:%S", time.localtime(
        stamp["secondsPastEpoch"])) + (
            ".%03d" % (stamp["nanoseconds"] // 1000000))


# pvAccess alarm_t codes. The status is not CA's alarm condition: QSRV
# sends CA's HIGH as a status code plus the message 'HIGH'.
PVA_SEVERITIES = ("NO_ALARM", "MINOR", "MAJOR", "INVALID", "UNDEFINED")
PVA_STATUSES = ("NONE", "DEVICE", "DRIVER", "RECORD", "DB", "CONF",
                "UNDEFINED", "CLIENT")


def _code(names, code):
    return "%d %s" % (code, names[code] if 0 <= code < len(names) else "?")


def _pva_alarm(value):
    """A pvAccess ``alarm`` as 'severity 1 MINOR, status 3 RECORD, 'HIGH''."""
    return "severity %s, status %s%s" % (
        _code(PVA_SEVERITIES, value["alarm.severity"]),
        _code(PVA_STATUSES, value["alarm.status"]),
        (", %r" % value["alarm.message"]) if value["alarm.message"] else "")


def _pva_type(desc):
    """A PV's type in one line: type id, type of ``value``, other members."""
    members = dict(desc.fields)
    value = members.pop("value", None)
    if value is None:
        kind = "-"
    elif value.type_id:
        kind = value.type_id
    else:
        kind = value.field_type.name + (
            "[]" if value.array_type.name != "scalar" else "")
    return "%-18s value %-10s + %s" % (
        desc.type_id.rpartition("/")[2] or "(no type id)", kind,
        " ".join(members) or "-")


def _pva_item(item, what):
    """Raise DemoError unless a monitor item is a value update."""
    from pva.sync.client import Value
    if not isinstance(item, Value):
        raise DemoError("%s: %r instead of an update" % (what, item))
    return item


def section_pva_connect(tour):
    """One synchronous client context per pvAccess server, configured
    explicitly (``useenv=False``) to search only that server."""
    from pva.sync.client import Context
    heading("6. pvAccess: a client context for each server")
    servers = [
        ("python", PORTS["py_pva_udp"], PY_PREFIX,
         ("setpoint", "counter", "spectrum", "add")),
        ("ioc", PORTS["pva_broadcast"], PREFIX,
         ("temperature", "setpoint", "counter", "mode", "spectrum")),
    ]
    for label, udp_port, prefix, shorts in servers:
        conf = {
            # Unicast searches to this one server's UDP port, nothing else.
            "EPICS_PVA_ADDR_LIST": "127.0.0.1:%d" % udp_port,
            "EPICS_PVA_AUTO_ADDR_LIST": "NO",
            "EPICS_PVA_NAME_SERVERS": "",
            # Listen for beacons on a port of the system's choosing: a
            # client bound to a server's search port could steal searches.
            "EPICS_PVA_BROADCAST_PORT": "0",
        }
        ctx = tour.pva[label] = Context(conf=conf, useenv=False,
                                        timeout=TIMEOUT)
        print("  %s, EPICS_PVA_ADDR_LIST=%s" % (
            "Python server (pva.server)" if label == "python"
            else "soft IOC (QSRV)", conf["EPICS_PVA_ADDR_LIST"]))
        # GET_FIELD: the type of each PV, without its value.
        for short in shorts:
            show("  " + prefix + short, _pva_type(ctx.info(prefix + short)))


def section_pva_get(tour):
    """Read the Python server's PVs: NTScalar with metadata, NTScalarArray."""
    ctx = tour.pva["python"]
    heading("7. pvAccess get from the Python server")
    sp = ctx.get(PY_PREFIX + "setpoint")
    print("  %s (%s):" % (PY_PREFIX + "setpoint", sp.type.type_id))
    show("  value", "%s %s" % (sp.value, sp["display.units"]))
    show("  description", sp["display.description"])
    show("  display limits", "%s .. %s" % (sp["display.limitLow"],
                                          sp["display.limitHigh"]))
    show("  control limits", "%s .. %s" % (sp["control.limitLow"],
                                          sp["control.limitHigh"]))
    show("  alarm", _pva_alarm(sp))
    show("  time stamp", _pva_time(sp))
    if sp.value != 21.5 or sp["display.units"] != "degC":
        raise DemoError("unexpected setpoint: %r" % sp.todict())
    # A list of names is read concurrently.
    counter, spectrum = ctx.get([PY_PREFIX + "counter",
                                 PY_PREFIX + "spectrum"])
    show(PY_PREFIX + "counter", "%d at %s (a startup loop counts it up)" % (
        counter.value, _pva_time(counter)))
    show(PY_PREFIX + "spectrum", "%r (%s)" % (spectrum.value,
                                             spectrum.type.type_id))
    if len(spectrum.value) != 8:
        raise DemoError("unexpected spectrum: %r" % spectrum.value)


def section_pva_put(tour):
    """Write, read back, see a refused write, write an array, call an RPC."""
    from pva.sync.client import RemoteError
    ctx = tour.pva["python"]
    heading("8. pvAccess put, read back, RPC (Python server)")
    name = PY_PREFIX + "setpoint"
    ctx.put(name, 42.5)
    back = ctx.get(name)
    show("%s <- 42.5" % name, "read back %s at %s" % (
        back.value, _pva_time(back)))
    if back.value != 42.5:
        raise DemoError("setpoint did not take the value: %r" % back.value)
    # The server's putter refuses values outside the control limits; the
    # client gets its message as an error and nothing is written.
    try:
        ctx.put(name, 120.0)
    except RemoteError as exc:
        show("%s <- 120.0" % name, "refused: %s" % exc.message)
    else:
        raise DemoError("a setpoint of 120 was accepted")
    if ctx.get(name).value != 42.5:
        raise DemoError("a refused put changed the setpoint")
    show(name, "still 42.5")

    name = PY_PREFIX + "spectrum"
    ctx.put(name, [0.5, 1.0, 2.0, 4.0])
    back = ctx.get(name)
    show("%s <- 4 values" % name, "read back %r" % back.value)
    if list(back.value) != [0.5, 1.0, 2.0, 4.0]:
        raise DemoError("spectrum did not take the array: %r" % back.value)

    name = PY_PREFIX + "add"
    result = ctx.rpc(name, {"a": 1.5, "b": 2.25})
    show("%s(a=1.5, b=2.25)" % name, "RPC result %s (%r)" % (
        result.value, result.info))
    if result.value != 3.75:
        raise DemoError("the RPC added wrongly: %r" % result.todict())


def section_pva_monitor(tour):
    """Subscribe to the Python server's counter (committed every 0.1 s)."""
    ctx = tour.pva["python"]
    heading("9. pvAccess monitor of the Python server's counter")
    name = PY_PREFIX + "counter"
    values = []
    # The first item is the complete current value, then one update per
    # commit, with the BitSet of the fields that changed.
    for item in ctx.iterate(name, timeout=TIMEOUT, maximum_events=6):
        update = _pva_item(item, "monitor of " + name)
        values.append(update.value)
        changed = []  # top-level names: "timeStamp", not its members
        for field in update.changed_fields:
            top = field.partition(".")[0]
            if top and top not in changed:
                changed.append(top)
        show("update %d: %s" % (len(values), name), "%6d  at %s  %s" % (
            update.value, _pva_time(update),
            ("changed: " + ", ".join(changed)) if changed else "(complete)"))
    if values != sorted(values) or values[-1] <= values[0]:
        raise DemoError("the counter did not count up: %r" % values)


def section_pva_ioc_record(tour):
    """The soft IOC's demo:temperature through CA and through PVA (QSRV)."""
    ca = tour.ca
    ctx = tour.pva["ioc"]
    heading("10. One record, two protocols: %stemperature" % PREFIX)
    chid = tour.chid("temperature")
    status, ctrl = ca.get(chid, ca.DBR.CTRL_DOUBLE)
    check(status, "get(temperature, CTRL_DOUBLE)", ca)
    status, timed = ca.get(chid, ca.DBR.TIME_DOUBLE)
    check(status, "get(temperature, TIME_DOUBLE)", ca)
    check(ca.pend_io(TIMEOUT), "pend_io (get)", ca)
    ctrl, timed = ctrl.get(), timed.get()
    v = ctx.get(PREFIX + "temperature")
    print("  %-22s %-26s %s" % ("", "CA (caffi, DBR_CTRL/TIME)",
                                "PVA (pva, %s)" % v.type.type_id))
    rows = [
        ("value", ctrl["value"], v.value),
        ("units", ctrl["units"], v["display.units"]),
        ("precision", ctrl["precision"], v["display.precision"]
         if "precision" in v["display"] else v["display.form"]),
        ("alarm severity", _name(timed["severity"]),
         _code(PVA_SEVERITIES, v["alarm.severity"])),
        ("alarm status", _name(timed["status"]),
         "%s %r" % (_code(PVA_STATUSES, v["alarm.status"]),
                    v["alarm.message"])),
        ("time stamp", _timestamp(timed), _pva_time(v)),
        ("display limits", "%s .. %s" % (ctrl["lower_disp_limit"],
                                         ctrl["upper_disp_limit"]),
         "%s .. %s" % (v["display.limitLow"], v["display.limitHigh"])),
        ("alarm limits", "%s .. %s" % (ctrl["lower_alarm_limit"],
                                       ctrl["upper_alarm_limit"]),
         "%s .. %s" % (v["valueAlarm.lowAlarmLimit"],
                       v["valueAlarm.highAlarmLimit"])),
    ]
    for label, over_ca, over_pva in rows:
        print("  %-22s %-26s %s" % (label, over_ca, over_pva))
    if (v.value != ctrl["value"] or v["display.units"] != ctrl["units"]
            or v["display.limitHigh"] != ctrl["upper_disp_limit"]):
        raise DemoError("CA and PVA disagree about the temperature")

    # Write through PVA (QSRV processes the ao, which forward-links the
    # temperature), read the alarm through CA.
    print()
    ctx.put(PREFIX + "setpoint", 70.0)
    show("PVA put setpoint <- 70.0", "done")
    status, timed = ca.get(chid, ca.DBR.TIME_DOUBLE)
    check(status, "get(temperature, TIME_DOUBLE)", ca)
    check(ca.pend_io(TIMEOUT), "pend_io (get)", ca)
    timed = timed.get()
    show("CA get temperature", "%s (%s / %s)" % (
        timed["value"], _name(timed["severity"]), _name(timed["status"])))
    v = ctx.get(PREFIX + "temperature")
    show("PVA get temperature", "%s (%s)" % (v.value, _pva_alarm(v)))
    if timed["value"] != 70.0 or v.value != 70.0 or v["alarm.severity"] != 1:
        raise DemoError("the PVA put did not reach the temperature")
    ctx.put(PREFIX + "setpoint", 21.5)
    show("PVA put setpoint <- 21.5", "restored")


def section_pva_ca_monitor(tour):
    """Monitor demo:counter through CA and PVA at once; match the updates."""
    heading("11. Monitor %scounter through CA and PVA at once" % PREFIX)
    _monitor_both(tour, tour.pva["ioc"], tour.chid("counter"), PREFIX + "counter")
    show("time stamps", "identical: one record, two protocols")


def _monitor_both(tour, ctx, chid, name):
    """Subscribe to *name* through CA (*chid*) and PVA (*ctx*) at once; wait
    for five values seen by both, print them and check their time stamps."""
    from pva.sync.client import Value
    ca = tour.ca
    updates = queue.Queue()  # ("CA" | "PVA", value, (seconds, nanoseconds))

    def on_ca(args):  # libca thread
        meta = args["value"]
        updates.put(("CA", meta["value"], (meta["stamp"]["seconds"],
                                           meta["stamp"]["nanoseconds"])))

    def on_pva(item):  # the pva client's callback thread
        if not isinstance(item, Value):
            updates.put(("PVA", item, None))
            return
        updates.put(("PVA", item.value, (item["timeStamp.secondsPastEpoch"],
                                         item["timeStamp.nanoseconds"])))

    status, evid = ca.create_subscription(
        chid, on_ca, ca.DBR.TIME_DOUBLE, mask=ca.DBE.VALUE)
    check(status, "create_subscription", ca)
    ca.flush_io()
    sub = ctx.monitor(name, on_pva)
    seen = {"CA": {}, "PVA": {}}  # counter value -> time stamp
    both = []
    deadline = time.monotonic() + TIMEOUT
    try:
        while len(both) < 5:
            try:
                proto, value, stamp = updates.get(
                    timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise DemoError(
                    "no matching CA and PVA updates within %.0f s "
                    "(CA %r, PVA %r)" % (TIMEOUT, sorted(seen["CA"]),
                                         sorted(seen["PVA"])))
            if stamp is None:
                raise DemoError("PVA monitor of %s: %r" % (name, value))
            seen[proto][value] = stamp
            other = seen["PVA" if proto == "CA" else "CA"]
            if value in other:
                both.append(value)
    finally:
        sub.close()
        check(ca.clear_subscription(evid), "clear_subscription", ca)
        ca.flush_io()
    print("  %-22s %-26s %s" % (name, "CA time stamp", "PVA time stamp"))
    for value in both:
        ca_stamp, pva_stamp = seen["CA"][value], seen["PVA"][value]
        print("  %-22.0f %-26s %s" % (
            value, _timestamp({"stamp": {"seconds": ca_stamp[0],
                                         "nanoseconds": ca_stamp[1]}}),
            _pva_time({"timeStamp": {"secondsPastEpoch": pva_stamp[0],
                                     "nanoseconds": pva_stamp[1]}})))
        if ca_stamp != pva_stamp:
            raise DemoError("update %s has different time stamps: CA %r, "
                            "PVA %r" % (value, ca_stamp, pva_stamp))


PVA_SECTIONS = [
    section_pva_connect,
    section_pva_get,
    section_pva_put,
    section_pva_monitor,
    section_pva_ioc_record,
    section_pva_ca_monitor,
]


# ---------------------------------------------------------------------------
# Our Channel Access server, over both protocols
# ---------------------------------------------------------------------------

def _get_meta(ca, chid, dbrtype):
    status, value = ca.get(chid, dbrtype)
    check(status, "get(%s, %s)" % (ca.name(chid), dbrtype.name), ca)
    check(ca.pend_io(TIMEOUT), "pend_io", ca)
    return value.get()


def section_cas_ca(tour):
    """Channel Access against our CA server: connect, DBR_CTRL, put with
    completion (clamped to the control limits), a monitor of an alarm."""
    ca = tour.ca
    heading("12. Our Python CA server (caffi.server) over Channel Access")
    for short in ("setpoint", "temperature", "counter", "mode", "writes"):
        status, chid = ca.create_channel(CAS_PREFIX + short)
        check(status, "create_channel(%s)" % short, ca)
        tour.chids["cas:" + short] = chid
    check(ca.pend_io(TIMEOUT), "pend_io (connect)", ca)
    for short in ("setpoint", "temperature", "mode"):
        chid = tour.chid("cas:" + short)
        show(ca.name(chid), "%-10s on %s  write=%s" % (
            ca.field_type(chid).name, ca.host_name(chid), ca.write_access(chid)))
    meta = _get_meta(ca, tour.chid("cas:setpoint"), ca.DBR.CTRL_DOUBLE)
    show("setpoint as CTRL_DOUBLE", "%s %s, control limits %s .. %s" % (
        meta["value"], meta["units"], meta["lower_ctrl_limit"], meta["upper_ctrl_limit"]))
    if meta["units"] != "degC" or meta["upper_ctrl_limit"] != 90.0:
        raise DemoError("unexpected CTRL metadata: %r" % meta)

    done = queue.Queue()
    for value, expected in ((95.0, 90.0), (65.0, 65.0)):
        check(ca.put(tour.chid("cas:setpoint"), value, callback=done.put),
              "put(setpoint)", ca)
        ca.flush_io()
        try:
            args = done.get(timeout=TIMEOUT)
        except queue.Empty:
            raise DemoError("no put callback from our CA server")
        check(args["status"], "put(setpoint) completion", ca)
        now = _get_meta(ca, tour.chid("cas:setpoint"), ca.DBR.DOUBLE)
        show("put setpoint <- %s" % value, "completed; setpoint is %s" % now)
        if now != expected:
            raise DemoError("setpoint is %r, expected %r" % (now, expected))
    writes = _get_meta(ca, tour.chid("cas:writes"), ca.DBR.LONG)
    show("writes (counted by a putter)", writes)

    # The temperature follows the setpoint a tenth of the way every 0.1 s
    # and raises a HIGH (MINOR) alarm above 60.
    updates = queue.Queue()
    status, evid = ca.create_subscription(
        tour.chid("cas:temperature"), updates.put, ca.DBR.TIME_DOUBLE,
        mask=ca.DBE.VALUE | ca.DBE.ALARM)
    check(status, "create_subscription", ca)
    ca.flush_io()
    deadline = time.monotonic() + TIMEOUT
    try:
        while True:
            try:
                args = updates.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise DemoError("the temperature did not reach its HIGH alarm")
            meta = args["value"]
            if _name(meta["status"]).upper() == "HIGH":
                break
    finally:
        check(ca.clear_subscription(evid), "clear_subscription", ca)
        ca.flush_io()
    show("temperature monitor", "%.2f (%s / %s) at %s" % (
        meta["value"], _name(meta["severity"]), _name(meta["status"]), _timestamp(meta)))


def section_cas_pva(tour):
    """The same PVs through pvAccess: NTScalar with alarm, display and
    control; a pvAccess put seen over CA; one counter, two protocols."""
    from pva.sync.client import Context
    ca = tour.ca
    heading("13. The same PVs over pvAccess: one group, two protocols")
    conf = {
        "EPICS_PVA_ADDR_LIST": "127.0.0.1:%d" % PORTS["cas_pva_udp"],
        "EPICS_PVA_AUTO_ADDR_LIST": "NO",
        "EPICS_PVA_NAME_SERVERS": "",
        "EPICS_PVA_BROADCAST_PORT": "0",
    }
    ctx = tour.pva["cas"] = Context(conf=conf, useenv=False, timeout=TIMEOUT)
    for short in ("setpoint", "temperature", "mode"):
        show(CAS_PREFIX + short, _pva_type(ctx.info(CAS_PREFIX + short)))
    temp = ctx.get(CAS_PREFIX + "temperature")
    show("temperature over PVA", "%.2f %s, alarm %s" % (
        temp.value, temp["display.units"], _pva_alarm(temp)))
    ctx.put(CAS_PREFIX + "setpoint", 21.5)
    now = _get_meta(ca, tour.chid("cas:setpoint"), ca.DBR.DOUBLE)
    show("PVA put setpoint <- 21.5", "CA reads %s" % now)
    if now != 21.5:
        raise DemoError("a pvAccess put was not seen over CA: %r" % now)
    mode = ctx.get(CAS_PREFIX + "mode")
    show("mode over PVA (NTEnum)", "%d of %s" % (mode["value.index"],
                                               list(mode["value.choices"])))
    print()
    _monitor_both(tour, ctx, tour.chid("cas:counter"), CAS_PREFIX + "counter")
    show("time stamps", "identical: one PV of a PVGroup, two protocols")


CAS_SECTIONS = [
    section_cas_ca,
    section_cas_pva,
]


def run_tour():
    from caffi import ca  # imported only now: the environment is set up

    tour = Tour(ca)
    try:
        for section in CA_SECTIONS + PVA_SECTIONS + CAS_SECTIONS:
            section(tour)
    except BaseException:
        # Best effort, without checks that would hide the original error.
        for ctx in tour.pva.values():
            try:
                ctx.close()
            except Exception:
                pass
        for chid in tour.chids.values():
            ca.clear_channel(chid)
        if ca.current_context() is not None:
            ca.destroy_context()
        raise
    section_cleanup(tour)


def main():
    started = time.monotonic()
    processes = []
    ok = False
    try:
        heading("0. Isolated servers")
        isolate_environment()
        show("CA server / repeater port", "%(ca)d / %(repeater)d" % PORTS)
        show("IOC PVA server / search port",
             "%(pva)d / %(pva_broadcast)d" % PORTS)
        repeater = start_repeater(processes)
        show("caRepeater", "pid %d, confirmed registration" % repeater.pid)
        ioc = start_ioc(processes)
        show("soft IOC", "pid %d, serving %s" % (ioc.pid, DATABASE))
        pva_server, count = start_pva_server(processes)
        show("Python PVA server", "pid %d, %d PVs on TCP %d / UDP %d" % (
            pva_server.pid, count, PORTS["py_pva"], PORTS["py_pva_udp"]))
        ca_server = start_ca_server(processes)
        show("Python CA server", "pid %d, CA on TCP %d, PVA on TCP %d / UDP %d" % (
            ca_server.pid, PORTS["cas"], PORTS["cas_pva"], PORTS["cas_pva_udp"]))
        run_tour()
        ok = True
    except (DemoError, TimeoutError) as exc:  # pva's Timeout is a TimeoutError
        print("\nFAILED: %s" % exc, file=sys.stderr)
    except Exception:
        import traceback
        traceback.print_exc()
        print("\nFAILED with an unexpected exception", file=sys.stderr)
    finally:
        heading("Stopping servers")
        stop_processes(processes)
    print("\n%s in %.1f s" % ("Demo completed" if ok else "Demo FAILED",
                              time.monotonic() - started))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
