"""Where our CA server's time goes on the paths of bench/_ca_server.py (a profile).

    .venv/bin/python bench/profile_ca_server.py [WORKLOAD ...]
    .venv/bin/python bench/profile_ca_server.py --count N WORKLOAD

Each workload runs in this process: a caffi.server core on the fake
reactor of pva.io.testing, its connections on transports that drop what
is written, fed the bytes libca sends (made by a caffi.protocol client
circuit), in 64 kB chunks as a socket read hands them over:

- ``get``: READ_NOTIFY DBR_DOUBLE of an ai record's PV (pipelined).
- ``get-time``: the same as DBR_TIME_DOUBLE.
- ``put``: WRITE of a DBR_DOUBLE to a PV with one DBR_DOUBLE subscriber on
  another connection (write, post, update encoded and queued).
- ``put10``: the same with ten subscriber connections.
- ``post``: a write in the server (``await pv.write(v)``, as a scan hook
  does) with one DBR_TIME_DOUBLE subscriber.
- ``connect``: CREATE_CHAN, READ_NOTIFY and CLEAR_CHANNEL of one channel.
- ``create``: CREATE_CHAN in a pipelined burst (what 1,000 new channels send).
- ``subscribe``: EVENT_ADD (initial value sent) and EVENT_CANCEL.
- ``search``: one UDP datagram's SEARCH (name found) answered.

It prints the CPU per operation (best of 5).  For instruction counts, which
do not vary with the machine's load::

    PYTHONHASHSEED=0 OPENBLAS_NUM_THREADS=1 valgrind --tool=callgrind \\
        --callgrind-out-file=/dev/null .venv/bin/python bench/profile_ca_server.py \\
        --count N WORKLOAD

for N and for 0; the difference of the two "Collected" totals divided by N
is the instructions per operation.
"""
import argparse
import sys
import time

CHUNK = 0x10000
NPVS = 1000


class _Sink:
    """A transport that takes everything and keeps only a count."""

    def __init__(self, peer):
        self.extra = {"peername": peer, "sockname": ("127.0.0.1", 5064)}
        self.nbytes = 0
        self.closing = False

    def get_extra_info(self, name, default=None):
        return self.extra.get(name, default)

    def writelines(self, buffers):
        for b in buffers:
            self.nbytes += len(b)

    def write(self, data):
        self.nbytes += len(data)

    def get_write_buffer_size(self):
        return 0

    def get_write_buffer_limits(self):
        return (0x4000, 0x10000)

    def set_write_buffer_limits(self, high=None, low=None):
        pass

    def is_closing(self):
        return self.closing

    def close(self):
        self.closing = True

    def abort(self):
        self.closing = True

    def pause_reading(self):
        pass

    def resume_reading(self):
        pass


class _Setup:
    def __init__(self):
        import types

        from pva.io.testing import FakeReactor

        from caffi.server import PVGroup, pvproperty
        from caffi.server.core import ServerCore

        attrs = {"ai%d" % i: pvproperty(value=float(i), name="ai%d" % i, record="ai",
                                        units="mm", precision=3) for i in range(NPVS)}
        attrs["flood"] = pvproperty(value=0.0, name="flood", precision=3)
        group = types.new_class("G", (PVGroup,), exec_body=lambda ns: ns.update(attrs))(
            prefix="b:")
        self.group = group
        self.reactor = FakeReactor()
        self.core = ServerCore(group.pvdb, self.reactor, max_array_bytes=16384, tcp_port=5064)
        self.port = 40000

    def client(self):
        """A connected client: (conn, transport, protocol client circuit)."""
        import caffi.protocol as ca
        conn = self.core.connection()
        self.port += 1
        transport = _Sink(("127.0.0.1", self.port))
        conn.connection_made(transport)
        vc = ca.VirtualCircuit(ca.CLIENT, ("127.0.0.1", 5064), 0)
        feed(conn, vc.send(ca.VersionRequest(priority=0, version=13),
                           ca.HostNameRequest("bench"), ca.ClientNameRequest("bench")))
        vc.process_command(ca.VersionResponse(13))
        self.reactor.run()
        return conn, transport, vc

    def channel(self, conn, vc, name):
        import caffi.protocol as ca
        chan = ca.ClientChannel(name, vc)
        feed(conn, vc.send(chan.create()))
        circuit = conn.protocol
        sid = max(circuit.channels)
        # the client side learns the answer (the sink dropped it)
        vc.process_command(ca.AccessRightsResponse(chan.cid, 3))
        vc.process_command(ca.CreateChanResponse(6, 1, chan.cid, sid))
        return chan


def feed(conn, buffers):
    """Deliver bytes as the event loop does: a read of up to 64 kB, then
    what it scheduled (the writes)."""
    data = b"".join(bytes(b) for b in buffers)
    view = memoryview(data)
    run = conn.reactor.run
    while view:
        buf = conn.get_buffer(-1)
        n = min(len(buf), len(view), CHUNK)
        buf[:n] = view[:n]
        view = view[n:]
        conn.buffer_updated(n)
        run()


def _requests(header, n, first_ioid=0, values=None):
    """``n`` requests like ``header`` (16 bytes) with ioids counting up from
    ``first_ioid`` and, with ``values``, one big-endian double each (numpy:
    the stream costs few instructions beside the server's)."""
    import numpy as np
    fields = [("h", "S12"), ("ioid", ">u4")] + ([("v", ">f8")] if values is not None else [])
    out = np.zeros(n, dtype=fields)
    out["h"] = header[:12]
    out["ioid"] = (np.arange(n, dtype=np.uint64) + first_ioid) & 0xFFFFFFFF
    if values is not None:
        out["v"] = values
    return out.tobytes()


def _gets(dbr):
    def setup(s):
        import caffi.protocol as ca
        conn, transport, vc = s.client()
        chan = s.channel(conn, vc, "b:ai1")
        req = b"".join(bytes(b) for b in vc.send(chan.read(data_type=dbr)))
        vc._ioids.clear()
        state = {"ioid": 1}

        def run(n):
            # the same request with ioids of their own (the answers are dropped)
            data = _requests(req, n, state["ioid"])
            state["ioid"] += n
            t = transport.nbytes
            t0 = time.process_time()
            feed(conn, (data,))
            s.reactor.run()
            cpu = time.process_time() - t0
            assert transport.nbytes > t and not conn.closing, "no answer"
            return cpu
        return run
    return setup


def _puts(subscribers):
    def setup(s):
        import caffi.protocol as ca
        for _ in range(subscribers):
            conn, transport, vc = s.client()
            chan = s.channel(conn, vc, "b:flood")
            feed(conn, vc.send(chan.subscribe(data_type=ca.ChannelType.DOUBLE,
                                              mask=ca.DBE_VALUE)))
        wconn, _, wvc = s.client()
        wchan = s.channel(wconn, wvc, "b:flood")
        state = {"v": 0.0}

        import numpy as np
        req = b"".join(bytes(b) for b in wvc.send(wchan.write([0.0],
                                                              data_type=ca.ChannelType.DOUBLE)))

        def run(n):
            base = state["v"]
            data = _requests(req, n, 0, base + 1 + np.arange(n))
            state["v"] = base + n
            t0 = time.process_time()
            feed(wconn, (data,))
            s.reactor.run()
            cpu = time.process_time() - t0
            assert s.group.flood.value == state["v"] or n == 0
            return cpu
        return run
    return setup


def _post(s):
    import asyncio

    import caffi.protocol as ca
    conn, transport, vc = s.client()
    chan = s.channel(conn, vc, "b:flood")
    feed(conn, vc.send(chan.subscribe(data_type=ca.ChannelType.TIME_DOUBLE,
                                      mask=ca.DBE_VALUE)))
    flood = s.group.flood

    def run(n):
        async def posts():
            v = flood.value
            for i in range(n):
                await flood.write(v + i + 1)
        coro = posts()
        t0 = time.process_time()
        try:
            coro.send(None)
        except StopIteration:
            pass
        s.reactor.run()
        return time.process_time() - t0
    asyncio.get_event_loop_policy()
    return run


def _padded_names():
    """The PV names as CREATE_CHAN carries them (NUL-terminated, padded to 8)."""
    names = []
    for i in range(NPVS):
        raw = ("b:ai%d" % i).encode() + b"\x00"
        names.append(raw + b"\x00" * (-len(raw) % 8))
    return names


def _connect(s):
    import struct
    conn, transport, vc = s.client()
    circuit = conn.protocol
    hdr = struct.Struct(">HHHHII").pack
    names = _padded_names()

    def run(n):
        # what libca sends: CREATE_CHAN, then READ_NOTIFY and CLEAR_CHANNEL
        # once created (the server's sids count up from its last one)
        sid = circuit._sids
        total = 0.0
        for i in range(n):
            name = names[i % NPVS]
            sid = (sid + 1) & 0xFFFFFFFF
            create = hdr(18, len(name), 0, 13, i + 1, 13) + name
            rest = hdr(15, 0, 6, 1, sid, i + 1) + hdr(12, 0, 0, 0, sid, i + 1)
            t0 = time.process_time()
            feed(conn, (create,))
            feed(conn, (rest,))
            total += time.process_time() - t0
        assert not circuit.channels and not conn.closing, conn.close_reason
        return total
    return run


def _create(s):
    import struct
    hdr = struct.Struct(">HHHHII").pack
    names = _padded_names()

    def run(n):
        # libca's burst of CREATE_CHANs on a new circuit (answers dropped)
        conn, transport, vc = s.client()
        data = b"".join(hdr(18, len(names[i % NPVS]), 0, 13, i + 1, 13) + names[i % NPVS]
                        for i in range(n))
        t0 = time.process_time()
        feed(conn, (data,))
        cpu = time.process_time() - t0
        assert len(conn.protocol.channels) == n and not conn.closing, conn.close_reason
        conn.close("done")
        s.reactor.run()
        return cpu
    return run


def _subscribe(s):
    import caffi.protocol as ca
    conn, transport, vc = s.client()
    chan = s.channel(conn, vc, "b:ai1")

    def run(n):
        total = 0.0
        for i in range(n):
            sub = chan.subscribe(data_type=ca.ChannelType.TIME_DOUBLE)
            data = b"".join(bytes(b) for b in vc.send(sub))
            data += b"".join(bytes(b) for b in vc.send(chan.unsubscribe(sub.subscriptionid)))
            t0 = time.process_time()
            feed(conn, (data,))
            s.reactor.run()
            total += time.process_time() - t0
            vc.event_add_commands.pop(sub.subscriptionid, None)
            vc._cancelling.pop(sub.subscriptionid, None)
        return total
    return run


def _search(s):
    import caffi.protocol as ca
    datagram = b"".join(bytes(m) for m in [ca.VersionRequest(0, 13)] + [
        ca.SearchRequest("b:ai%d" % i, i, 13) for i in range(20)])
    answer = s.core.answer_datagram

    def run(n):
        t0 = time.process_time()
        for _ in range(n):
            answer(datagram, ("127.0.0.1", 40000))
        return (time.process_time() - t0) / 20     # per name
    return run


WORKLOADS = {
    "get": ("READ_NOTIFY DBR_DOUBLE answered", _gets(6)),
    "get-time": ("READ_NOTIFY DBR_TIME_DOUBLE answered", _gets(20)),
    "put": ("WRITE DBR_DOUBLE, one subscriber's update", _puts(1)),
    "put10": ("WRITE DBR_DOUBLE, ten subscribers' updates", _puts(10)),
    "post": ("await pv.write(), one DBR_TIME_DOUBLE update", _post),
    "connect": ("CREATE_CHAN + READ_NOTIFY + CLEAR_CHANNEL", _connect),
    "create": ("CREATE_CHAN in a burst of them (as libca connects many)", _create),
    "subscribe": ("EVENT_ADD (initial update) + EVENT_CANCEL", _subscribe),
    "search": ("a found name in a 20-name search datagram (per name)", _search),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workloads", nargs="*", default=[], metavar="WORKLOAD",
                        help="any of %s (default: all)" % ", ".join(WORKLOADS))
    parser.add_argument("--count", type=int, default=None,
                        help="run N operations of one workload and print nothing")
    opts = parser.parse_args()
    names = opts.workloads or list(WORKLOADS)
    for name in names:
        if name not in WORKLOADS:
            parser.error("no workload %r" % name)
    if opts.count is not None:
        if len(names) != 1:
            parser.error("--count takes one workload")
        run = WORKLOADS[names[0]][1](_Setup())
        run(opts.count)
        return
    print("| workload | what one operation is | CPU per operation [us] |")
    print("|---|---|---|")
    for name in names:
        what, setup = WORKLOADS[name]
        run = setup(_Setup())
        run(200)
        n = 200 if name in ("connect", "subscribe", "search") else 5000
        best = min(run(n) for _ in range(5)) / n
        print("| %s | %s | %.2f |" % (name, what, best * 1e6))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
