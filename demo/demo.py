#!/usr/bin/env python
"""A tour of ``caffi.ca`` against a private soft IOC.

Run it with no arguments::

    python demo/demo.py

It picks free ports and points every EPICS address variable at 127.0.0.1, so
it neither sees nor disturbs other IOCs on the network. It then starts
libca's ``caRepeater`` and the embedded soft IOC of epicscorelibs (serving
``demo/demo.db``), walks through Channel Access with ``from caffi import ca``
and stops both processes again. The exit status is 0 only if every step
succeeded.

Each part of the tour is one ``section_*`` function taking a :class:`Tour`;
``CA_SECTIONS`` lists them in order. A pvAccess part (the ``pva`` package,
coming) will add its own list and reuse the same servers: the soft IOC
already serves the records over pvAccess on the isolated PVA ports.
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
PREFIX = "demo:"
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
    ca_port, repeater_port, pva_port, pva_bcast_port = free_ports(4)
    PORTS.update(ca=ca_port, repeater=repeater_port, pva=pva_port,
                 pva_broadcast=pva_bcast_port)
    os.environ.update({
        "EPICS_CA_SERVER_PORT": str(ca_port),
        "EPICS_CA_REPEATER_PORT": str(repeater_port),
        "EPICS_CA_ADDR_LIST": "127.0.0.1",
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
    """What the sections share: the ``ca`` module and the open channels."""

    def __init__(self, ca):
        self.ca = ca
        self.chids = {}  # short name -> channel id

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
    """Clear the channels and destroy the context."""
    ca = tour.ca
    heading("6. Clean up")
    for short, chid in tour.chids.items():
        check(ca.clear_channel(chid), "clear_channel(%s)" % short, ca)
    tour.chids.clear()
    ca.flush_io()
    ca.destroy_context()
    show("channels cleared", "context destroyed")


CA_SECTIONS = [
    section_connect,
    section_get,
    section_put,
    section_monitor,
    section_sync_group,
]
# pvAccess sections (the pva package, coming) will go in a PVA_SECTIONS list
# run after the CA ones against the same soft IOC.


def run_ca_tour():
    from caffi import ca  # imported only now: the environment is set up

    tour = Tour(ca)
    try:
        for section in CA_SECTIONS:
            section(tour)
    except BaseException:
        # Best effort, without checks that would hide the original error.
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
        show("PVA server / broadcast port",
             "%(pva)d / %(pva_broadcast)d" % PORTS)
        repeater = start_repeater(processes)
        show("caRepeater", "pid %d, confirmed registration" % repeater.pid)
        ioc = start_ioc(processes)
        show("soft IOC", "pid %d, serving %s" % (ioc.pid, DATABASE))
        run_ca_tour()
        ok = True
    except DemoError as exc:
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
