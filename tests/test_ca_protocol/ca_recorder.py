"""Record real Channel Access traffic between libca (caffi) and rsrv (the soft IOC).

Theory of operation
-------------------
A soft IOC runs on loopback with run-time chosen ports.  Between it and a CA
client sit relays on 127.0.0.1, run by threads of the recording process:

* :class:`UdpRelay` receives the client's datagrams (searches, repeater
  registrations), forwards them from its own upstream socket, and relays the
  answers back.  rsrv answers a search with the address 255.255.255.255
  ("where this came from") and its TCP port; the relay replaces that port
  with the TCP relay's port, so the client connects through the relay.
* :class:`TcpRelay` accepts the client's connections, connects to rsrv and
  pumps bytes both ways.
* The IOC's beacons are sent straight to a recording socket.

Every chunk is recorded *as the sending peer sent it* (before the one
rewrite above), in one list ordered by arrival at the relay, which keeps
causality: a server's answer is recorded after the request it answers.

The clients are real: :data:`LIBCA_SCENARIO` runs caffi (libca) in a child
process whose EPICS_CA_* variables name only the relays; a second scenario
drives rsrv with :mod:`caffi.protocol` commands that libca never sends in
normal operation (deprecated reads, flow control, failing creates, searches
over TCP), so that rsrv's answers to them are recorded too.

The relay parses no CA message except the 16-byte header of a UDP search
answer (to rewrite the port): the recording does not depend on the code it
is used to test.  ``python tests/test_ca_protocol/ca_recorder.py`` re-records
``tests/data/ca_golden.json``.
"""
import base64
import json
import os
import select
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
FIXTURE = os.path.join(TESTS, "data", "ca_golden.json")
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)

import _ioc  # noqa: E402

LOOPBACK = "127.0.0.1"
PREFIX = "golden:"


class Recording:
    """Ordered chunks: ``(transport, connection, direction, bytes)``;
    direction is ``'c2s'`` or ``'s2c'``."""

    def __init__(self):
        self.events = []
        self._lock = threading.Lock()

    def add(self, transport, conn, direction, data):
        with self._lock:
            self.events.append((transport, conn, direction, bytes(data)))

    def to_json(self):
        return [[t, c, d, base64.b64encode(zlib.compress(data)).decode()]
                for t, c, d, data in self.events]

    @staticmethod
    def from_json(items):
        rec = Recording()
        rec.events = [(t, c, d, zlib.decompress(base64.b64decode(data)))
                      for t, c, d, data in items]
        return rec


def _udp_socket(port=0):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((LOOPBACK, port))
    return s


class UdpRelay:
    """Client-facing UDP port -> ``upstream`` (host, port); answers relayed back."""

    def __init__(self, recording, upstream, name, tcp_port=None):
        self.recording = recording
        self.upstream = upstream
        self.name = name
        self.tcp_port = tcp_port
        self.front = _udp_socket()
        self.back = _udp_socket()
        self.port = self.front.getsockname()[1]
        self.client = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="udp-relay")

    def start(self):
        self._thread.start()
        return self

    def _rewrite(self, data):
        # search answers (command 6): data_type holds the server's TCP port
        out = bytearray(data)
        offset = 0
        while self.tcp_port is not None and offset + 16 <= len(out):
            cmd, size = struct.unpack_from(">HH", out, offset)
            if cmd == 6:
                struct.pack_into(">H", out, offset + 4, self.tcp_port)
            offset += 16 + size
        return bytes(out)

    def _run(self):
        while not self._stop.is_set():
            ready, _, _ = select.select([self.front, self.back], [], [], 0.1)
            for sock in ready:
                try:
                    data, addr = sock.recvfrom(70000)
                except OSError:
                    continue
                if sock is self.front:
                    self.client = addr
                    self.recording.add("udp", self.name, "c2s", data)
                    self.back.sendto(data, self.upstream)
                elif self.client is not None:
                    self.recording.add("udp", self.name, "s2c", data)
                    self.front.sendto(self._rewrite(data), self.client)

    def stop(self):
        self._stop.set()
        self._thread.join(5)
        self.front.close()
        self.back.close()


class TcpRelay:
    """Accept clients, connect each to ``upstream``, pump and record."""

    def __init__(self, recording, upstream):
        self.recording = recording
        self.upstream = upstream
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((LOOPBACK, 0))
        self.listener.listen(8)
        self.port = self.listener.getsockname()[1]
        self._stop = threading.Event()
        self._pairs = []
        self._count = 0
        self._thread = threading.Thread(target=self._run, daemon=True, name="tcp-relay")

    def start(self):
        self._thread.start()
        return self

    def _run(self):
        socks = {}
        while not self._stop.is_set():
            ready, _, _ = select.select([self.listener] + list(socks), [], [], 0.1)
            for sock in ready:
                if sock is self.listener:
                    client, _ = self.listener.accept()
                    server = socket.create_connection(self.upstream)
                    self._count += 1
                    conn = "tcp%d" % self._count
                    socks[client] = (server, conn, "c2s")
                    socks[server] = (client, conn, "s2c")
                    self._pairs.append((client, server))
                    continue
                if sock not in socks:      # closed with its peer in this round
                    continue
                other, conn, direction = socks[sock]
                try:
                    data = sock.recv(1 << 20)
                except OSError:
                    data = b""
                if not data:
                    for s in (sock, other):
                        socks.pop(s, None)
                        try:
                            s.close()
                        except OSError:
                            pass
                    continue
                self.recording.add("tcp", conn, direction, data)
                try:
                    other.sendall(data)
                except OSError:
                    pass
        for s in socks:
            s.close()

    def stop(self):
        self._stop.set()
        self._thread.join(5)
        self.listener.close()


class BeaconRecorder:
    def __init__(self, recording):
        self.recording = recording
        self.sock = _udp_socket()
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="beacons")

    def start(self):
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            ready, _, _ = select.select([self.sock], [], [], 0.1)
            if ready:
                data, _ = self.sock.recvfrom(70000)
                self.recording.add("udp", "beacon", "s2c", data)

    def stop(self):
        self._stop.set()
        self._thread.join(5)
        self.sock.close()


# --------------------------------------------------------------------------- #
# Clients

#: native record of each CA native type in tests/ioc/test.db
RECORDS = {"STRING": "stringin", "INT": "short", "FLOAT": "float", "ENUM": "mbbi",
           "CHAR": "char", "LONG": "longin", "DOUBLE": "ai"}

#: run by a child process: libca through the relays
LIBCA_SCENARIO = r'''
import sys, time
from caffi import ca
P = sys.argv[1]
done = []
def cb(arg):
    done.append(arg)
def wait(n, timeout=5.0):
    t0 = time.monotonic()
    while len(done) < n:
        if time.monotonic() - t0 > timeout:
            raise SystemExit("timed out waiting for %d callbacks (%d)" % (n, len(done)))
        ca.pend_event(0.01)
assert ca.create_context(True) == ca.ECA.NORMAL
t_start = time.monotonic()
chans = {}
for rec in RECORDS:
    st, chid = ca.create_channel(P + rec)
    chans[rec] = chid
assert ca.pend_io(5.0) == ca.ECA.NORMAL
n = 0
for rec, chid in chans.items():
    for t in list(range(35)) + [37, 38]:
        assert ca.get(chid, chtype=t, callback=cb)[0] == ca.ECA.NORMAL
        ca.flush_io(); n += 1; wait(n)
    # a put with notification, then without (CA_PROTO_WRITE)
    value = {"stringin": "abc", "mbbi": 1, "char": 65, "short": -5, "longin": 123456,
             "float": 2.5, "ai": 1.25}[rec]
    assert ca.put(chid, value, callback=cb) == ca.ECA.NORMAL
    ca.flush_io(); n += 1; wait(n)
    assert ca.put(chid, value) == ca.ECA.NORMAL
    ca.flush_io()
    # a subscription: first update, one change, cancel
    st, ev = ca.create_subscription(chid, cb, chtype=14 + (ca.field_type(chid) % 7), mask=5)
    ca.flush_io(); n += 1; wait(n)
    ca.clear_subscription(ev); ca.flush_io()
# every plain type put into a DOUBLE, and the alarm acknowledgements
chid = chans["ai"]
for t, v in ((0, "3.5"), (1, 4), (2, 4.5), (3, 5), (4, 6), (5, 7), (6, 7.5), (35, 1), (36, 0)):
    assert ca.put(chid, v, chtype=t, callback=cb) == ca.ECA.NORMAL
    ca.flush_io(); n += 1; wait(n)
# an array with metadata, and one large enough for the extended header
for rec, t, count in (("wf:double", 34, 16), ("wf:string", 14, 16), ("big", 6, 10000)):
    st, chid = ca.create_channel(P + rec)
    assert ca.pend_io(5.0) == ca.ECA.NORMAL
    assert ca.put(chid, list(range(count)) if rec != "wf:string" else ["s%d" % i for i in range(count)],
                  count=count, callback=cb) == ca.ECA.NORMAL
    ca.flush_io(); n += 1; wait(n)
    assert ca.get(chid, chtype=t, count=count, callback=cb)[0] == ca.ECA.NORMAL
    ca.flush_io(); n += 1; wait(n)
    ca.clear_channel(chid)
# a put that rsrv refuses: ErrorResponse (no callback) and a failed notification
chid = chans["mbbi"]
ca.put(chid, "no such state", chtype=0)
ca.put(chid, "no such state", chtype=0, callback=cb)
ca.flush_io(); n += 1; wait(n)
# an idle circuit: libca sends echo requests (EPICS_CA_CONN_TMO is short);
# libca registers with the repeater 10 s after the context starts
time.sleep(2.5)
while time.monotonic() - t_start < 11.5:
    ca.pend_event(0.2)
for chid in chans.values():
    ca.clear_channel(chid)
ca.flush_io()
ca.pend_event(0.3)
ca.destroy_context()
print("scenario done")
'''.replace("RECORDS", repr(sorted(RECORDS.values())))


def _protocol_scenario(tcp_port, udp_port, repeater_port):
    """Commands libca does not send in normal use, from caffi.protocol, so
    that rsrv's answers to them are recorded."""
    import caffi.protocol as caproto
    sock = socket.create_connection((LOOPBACK, tcp_port))
    sock.settimeout(5)
    circuit = caproto.VirtualCircuit(caproto.CLIENT, (LOOPBACK, tcp_port), 0)

    def send(*commands):
        sock.sendall(b"".join(bytes(b) for b in circuit.send(*commands)))

    pending = []

    def recv(n):
        while len(pending) < n:
            cmds, _ = circuit.recv(sock.recv(65536))
            for c in cmds:
                circuit.process_command(c)
            pending.extend(cmds)
        got = pending[:n]
        del pending[:n]
        return got

    send(caproto.VersionRequest(priority=1, version=13),
         caproto.HostNameRequest("recorder"), caproto.ClientNameRequest("golden"))
    recv(1)
    send(caproto.CreateChanRequest(PREFIX + "no:such:record", 1, 13))
    recv(1)                                  # CreateChFailResponse
    send(caproto.CreateChanRequest(PREFIX + "longin", 2, 13))
    _, created = recv(2)
    sid = created.sid
    send(caproto.ReadRequest(5, 1, sid, 1))  # deprecated READ: ReadResponse
    recv(1)
    send(caproto.ReadRequest(0, 1, sid, 2))  # ... which rsrv sends as a bare string
    recv(1)
    send(caproto.EventsOffRequest(), caproto.EventsOnRequest(), caproto.ReadSyncRequest(),
         caproto.EchoRequest())
    recv(1)                                  # EchoResponse
    send(caproto.SearchRequest(PREFIX + "longin", 7, 13, reply=caproto.DO_REPLY),
         caproto.SearchRequest(PREFIX + "missing", 8, 13, reply=caproto.DO_REPLY))
    recv(2)                                  # SearchResponse, NotFoundResponse over TCP
    send(caproto.ClearChannelRequest(sid, 2))
    recv(1)
    sock.close()
    # a search datagram from caffi.protocol too (a DO_REPLY one for a missing name
    # stays unanswered over UDP, as rsrv does)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.settimeout(5)
    b = caproto.Broadcaster(caproto.CLIENT)
    udp.sendto(b.send(caproto.VersionRequest(0, 13), caproto.SearchRequest(PREFIX + "ai", 3, 13)),
               (LOOPBACK, udp_port))
    udp.recvfrom(1024)
    # libca registers with the repeater by an empty datagram; the command
    # REPEATER_REGISTER still works
    udp.sendto(b.send(b.register("127.0.0.1")), (LOOPBACK, repeater_port))
    udp.recvfrom(1024)
    udp.close()


def record(timeout=120.0):
    """Run both scenarios against a fresh soft IOC; return the :class:`Recording`."""
    rec = Recording()
    beacons = BeaconRecorder(rec).start()
    ioc_port, repeater_port = _ioc.pick_free_ports(2)
    env = dict(os.environ)
    for key in list(env):
        if key.startswith("EPICS_"):
            del env[key]
    env.update({
        "EPICS_CA_SERVER_PORT": str(ioc_port), "EPICS_CAS_INTF_ADDR_LIST": LOOPBACK,
        "EPICS_CAS_BEACON_ADDR_LIST": LOOPBACK, "EPICS_CAS_AUTO_BEACON_ADDR_LIST": "NO",
        "EPICS_CAS_BEACON_PORT": str(beacons.port), "EPICS_CAS_BEACON_PERIOD": "0.5",
        "EPICS_CA_MAX_ARRAY_BYTES": "200000", "EPICS_CA_AUTO_ADDR_LIST": "NO",
        "EPICS_CA_ADDR_LIST": LOOPBACK, "EPICS_CA_REPEATER_PORT": str(repeater_port),
    })
    ioc = _ioc.IOC(macros="P=%s" % PREFIX, env=env, name="golden-ioc")
    repeater = None
    relays = []
    try:
        ioc.start()
        script = os.path.join(os.path.dirname(sys.executable), "caRepeater")
        repeater = _ioc.Repeater(script, env).start()
        tcp = TcpRelay(rec, (LOOPBACK, ioc_port)).start()
        udp = UdpRelay(rec, (LOOPBACK, ioc_port), "search", tcp_port=tcp.port).start()
        rep = UdpRelay(rec, (LOOPBACK, repeater_port), "repeater").start()
        relays = [tcp, udp, rep]
        client_env = dict(env)
        client_env.update({"EPICS_CA_ADDR_LIST": "%s:%d" % (LOOPBACK, udp.port),
                           "EPICS_CA_REPEATER_PORT": str(rep.port),
                           "EPICS_CA_CONN_TMO": "1.0"})
        proc = subprocess.run([sys.executable, "-c", LIBCA_SCENARIO, PREFIX], env=client_env,
                              cwd="/", capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0 or "scenario done" not in proc.stdout:
            raise RuntimeError("libca scenario failed (%s):\n%s\n%s"
                               % (proc.returncode, proc.stdout, proc.stderr))
        _protocol_scenario(tcp.port, udp.port, rep.port)
        time.sleep(1.2)  # a few more beacons
    finally:
        for relay in relays:
            relay.stop()
        beacons.stop()
        if repeater is not None:
            repeater.stop()
        ioc.stop()
    return rec


def load(path=FIXTURE):
    with open(path) as f:
        doc = json.load(f)
    return doc, Recording.from_json(doc["events"])


def save(rec, path=FIXTURE):
    from caffi import ca
    doc = {"meta": {"recorded_with": "caffi (libca %s) and the epicscorelibs soft IOC (rsrv)"
                    % ca.version(),
                    "rewrites": "search answers relayed with the TCP relay's port; the "
                                "recorded bytes are the original ones",
                    "prefix": PREFIX},
           "events": rec.to_json()}
    with open(path, "w") as f:
        json.dump(doc, f, indent=0)
        f.write("\n")


if __name__ == "__main__":
    recording = record()
    save(recording)
    print("recorded %d chunks into %s" % (len(recording.events), FIXTURE))
