"""Where pva's time goes on the pvAccess paths with targets (a profile, not a race).

    .venv/bin/python bench/profile_pva.py [WORKLOAD ...]
    .venv/bin/python bench/profile_pva.py --count N WORKLOAD

Each workload runs in this process, its connection a fake transport, so the
measured loop has no sockets and no other process in it:

- ``server-get``: the INIT, GET and DESTROY_REQUEST messages a pvxs client
  (p4p) sends for one ``get``, fed to a server connection (the connection
  driver and its ServerCircuit, made by ``pva.server.core.ServerCore``); the
  replies are encoded and dropped.
- ``server-post``: one ``commit`` of a new value and time stamp to a PV with
  one running monitor, through the update's encoding (one event-loop
  iteration per post, as the flood of bench/run.py); ``server-post-10``: the
  same with 10 connections, each with a monitor of that PV.
- ``client-monitor``: a p4p server's monitor flood, recorded first from a real
  p4p server (bench/workers/pva_p4p.py, started on private ports), replayed
  into our asyncio client (connection driver, circuit, codec, monitor
  operation, subscription queue) up to each item's ``.value``.

It prints the process CPU per operation (best of 5).  A machine shared with
other work makes such times vary; instruction counts do not: ``--count N``
runs N operations once and prints nothing, so that ::

    valgrind --tool=callgrind --callgrind-out-file=/dev/null \\
        .venv/bin/python bench/profile_pva.py --count N WORKLOAD

for N and for 0 (with ``PYTHONHASHSEED=0 OPENBLAS_NUM_THREADS=1``) gives the
instructions per operation as the difference of the two "Collected" totals
divided by N.  For client-monitor add ``--flood FILE``: both runs then replay
the same recording (a recording's own cost varies from run to run with the
p4p server's timing).
"""
import argparse
import asyncio
import os
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import _servers  # noqa: E402

FLOOD = 20000          # updates recorded for client-monitor


class _Transport(asyncio.Transport):
    """Collects what a protocol writes; never pushes back."""

    def __init__(self):
        super().__init__()
        self.out = []
        self.closing = False

    def get_extra_info(self, name, default=None):
        return {"peername": ("127.0.0.1", 40000),
                "sockname": ("127.0.0.1", 5075)}.get(name, default)

    def write(self, data):
        self.out.append(bytes(data))

    def writelines(self, lines):
        self.out.append(b"".join(lines))

    def get_write_buffer_limits(self):
        return (16384, 65536)

    def get_write_buffer_size(self):
        return 0

    def is_closing(self):
        return self.closing

    def close(self):
        self.closing = True

    def pause_reading(self):
        pass

    def resume_reading(self):
        pass


def _feed(protocol, data):
    """Deliver ``data`` to a buffered protocol as a socket would, in chunks."""
    mv = memoryview(data)
    while mv:
        buf = protocol.get_buffer(-1)
        n = min(len(buf), len(mv))
        buf[:n] = mv[:n]
        protocol.buffer_updated(n)
        mv = mv[n:]


def _joined(bufs):
    return b"".join(bytes(b) for b in bufs)


async def _server_connection(pvdb, core=None):
    """A server connection past validation (of a new server core, or of
    ``core``), and a client circuit to talk to it."""
    from pva._circuit import ClientVirtualCircuit
    from pva.io.aio import AsyncioReactor
    from pva.server.config import ServerConfig
    from pva.server.core import ServerCore

    transport = _Transport()
    if core is None:
        core = ServerCore(pvdb, ServerConfig.from_env(useenv=False),
                          AsyncioReactor(asyncio.get_running_loop()))
    conn = core.connection()
    conn.connection_made(transport)
    # pvxs sends pvRequests inline, never through the type cache
    client = ClientVirtualCircuit(("127.0.0.1", 5075), send_type_cache=False)

    async def exchange(*msgs):
        for m in msgs:
            _feed(conn, _joined(client.send(m)))
        for _ in range(3):
            await asyncio.sleep(0)
        conn.flush()
        replies = [m for m, _ in client.recv(*transport.out)]
        transport.out.clear()
        for m in replies:
            client.process_command(m)
        return replies

    await exchange()
    await exchange(client.validate_connection(auth_nz="anonymous"))
    channel = client.create_channel(next(iter(pvdb)))
    await exchange(channel.create())
    return (core, conn), transport, client, client.channel_by_cid(channel.cid), exchange


async def server_get(count, report):
    from pva import nt
    from pva._messages import ChannelGetRequest, ChannelRequestDestroy

    (core, conn), transport, client, channel, exchange = await _server_connection(
        {"P:s0": nt.NTScalarFloat64Base(value=1.0)})
    init = channel.read("field()")
    await exchange(init)
    # one cycle from an open request: GET, DESTROY_REQUEST, then the INIT of
    # the next get, which reuses the request id (the server forgot it)
    messages = [_joined(client.send(m)) for m in (
        ChannelGetRequest(channel.sid, init.ioid, 0x00),
        ChannelRequestDestroy(channel.sid, init.ioid),
        channel.read("field()", ioid=init.ioid))]
    flush, out = conn.flush, transport.out

    def run(n):
        for _ in range(n):
            for data in messages:
                _feed(conn, data)
                flush()
            out.clear()
    for data in messages:                   # a reply to the GET and one to the INIT
        _feed(conn, data)
        flush()
    assert len(out) == 2 and conn.close_reason is None, (out, conn.close_reason)
    out.clear()
    run(count if count is not None else 200)
    if count is None:
        report("server-get", "INIT + GET + DESTROY_REQUEST of one get", _best(run, 2000))


async def server_post(count, report, subscribers=1):
    from pva import nt
    from pva._messages import ChannelMonitorRequest

    core = None
    transports = []
    for _ in range(subscribers):
        (core, conn), transport, client, channel, exchange = await _server_connection(
            {"P:flood": nt.NTScalarFloat64Base(value=0.0)}, core)
        mon = channel.subscribe("record[queueSize=10000]")
        await exchange(mon)
        await exchange(ChannelMonitorRequest(channel.sid, mon.ioid).to_start())
        transports.append(transport)
    commit = core.pvdb["P:flood"].commit
    state = {"value": 0.0}

    async def run(n):
        for _ in range(n):
            state["value"] += 1.0
            now = time.time()
            sec = int(now)
            await commit({"value": state["value"],
                          "timeStamp": {"secondsPastEpoch": sec,
                                        "nanoseconds": int((now - sec) * 1e9)}})
            await asyncio.sleep(0)
        await asyncio.sleep(0.005)          # the last batch is written
        for transport in transports:
            assert transport.out, "no update was sent"
            transport.out.clear()
    await run(count if count is not None else 200)
    if count is None:
        times = []
        for _ in range(5):
            t0 = time.process_time()
            await run(5000)
            times.append((time.process_time() - t0) / 5000)
        report("server-post" if subscribers == 1 else "server-post-%d" % subscribers,
               "commit + encode + write of one update (%d subscriber%s)"
               % (subscribers, "s" if subscribers > 1 else ""), min(times))


async def server_post_10(count, report):
    await server_post(count, report, 10)


async def _record_p4p_flood(n):
    """The bytes a p4p server sends our client: connection, one monitor, ``n`` updates."""
    env = _servers.epics_env()
    os.environ.update({k: v for k, v in env.items() if k.startswith("EPICS_")})
    from pva.client import Context, Value
    from pva.io.driver import Connection

    chunks, views = [], {}
    get_buffer, buffer_updated = Connection.get_buffer, Connection.buffer_updated

    def recording_get_buffer(self, sizehint):
        views[id(self)] = view = get_buffer(self, sizehint)
        return view

    def recording_buffer_updated(self, nbytes):
        chunks.append(bytes(views[id(self)][:nbytes]))
        return buffer_updated(self, nbytes)

    server = subprocess.Popen(
        [sys.executable, os.path.join(HERE, "workers", "pva_p4p.py"), "serve", "prefix=rec:",
         "npvs=1", "array=10"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
        text=True)
    try:
        if server.stdout.readline().strip() != "READY":
            raise SystemExit("the p4p server did not start (is p4p installed in this venv?)")
        Connection.get_buffer = recording_get_buffer
        Connection.buffer_updated = recording_buffer_updated

        async def flood():
            async with Context("pva") as ctxt:
                async with ctxt.monitor("rec:flood", request="record[queueSize=10000]",
                                        queue_size=n) as sub:
                    started = False
                    async for item in sub:
                        assert isinstance(item, Value), item
                        if not started:
                            started = True
                            server.stdin.write("flood 0 %d\n" % n)
                            server.stdin.flush()
                        elif item.value >= n:
                            return
        await asyncio.wait_for(flood(), 60)
    finally:
        Connection.get_buffer, Connection.buffer_updated = get_buffer, buffer_updated
        server.stdin.close()
        server.wait(10)
    return b"".join(chunks)


#: where a recorded flood is kept (--flood FILE), so that repeated runs
#: (N and 0 operations under callgrind) replay the same bytes
FLOOD_FILE = None


async def _flood_stream():
    path = FLOOD_FILE
    if path and os.path.exists(path):
        with open(path, "rb") as f:
            return f.read()
    stream = await _record_p4p_flood(FLOOD)
    if path:
        with open(path, "wb") as f:
            f.write(stream)
    return stream


def _split_updates(stream):
    """Offsets just after each monitor update (subcommand 0) of a recorded stream."""
    pos, ends = 0, []
    while pos < len(stream):
        flags, command = stream[pos + 2], stream[pos + 3]
        size = struct.unpack_from(">I" if flags & 0x80 else "<I", stream, pos + 4)[0]
        if flags & 1:                       # control message: no payload
            size = 0
        end = pos + 8 + size
        if not flags & 1 and command == 13 and not stream[pos + 12] & 0x18:
            ends.append(end)
        pos = end
    return ends


async def client_monitor(count, report):
    from pva.client import Value
    from pva.client.aio import Subscription
    from pva.client.config import ClientConfig
    from pva.client.core import ClientCore, parse_request
    from pva.io.aio import AsyncioReactor

    stream = await _flood_stream()
    ends = _split_updates(stream)
    total = count if count is not None else FLOOD - 1
    head, flood = stream[:ends[0]], stream[ends[0]:ends[total]]

    class Reactor(AsyncioReactor):      # the loop's, but connections stay here
        conn = None

        def connect_tcp(self, host, port, conn):
            self.conn = conn

    class Owner:                    # what a Subscription needs of its Context
        def __init__(self, core):
            self.core, self._subs = core, set()
            self._loop = asyncio.get_running_loop()

        def _ensure(self):
            return self.core

    reactor = Reactor(asyncio.get_running_loop())
    core = ClientCore(reactor, ClientConfig())
    sub = Subscription(Owner(core), "rec:flood", parse_request("record[queueSize=10000]"),
                       None, True, FLOOD + 1)
    core.channels["rec:flood"]._found(("127.0.0.1", 5075))
    conn = reactor.conn
    conn.connection_made(_Transport())
    _feed(conn, head)
    first = await sub.__anext__()
    assert isinstance(first, Value) and first.value == 0.0, first
    queue = sub._queue
    t0 = time.process_time()
    got, last, mv, pos = 0, 0.0, memoryview(flood), 0
    while pos < len(flood):
        n = min(0x40000, len(flood) - pos)          # a socket read's worth
        _feed(conn, mv[pos:pos + n])
        pos += n
        while queue:
            last = (await sub.__anext__()).value
            got += 1
    cpu = time.process_time() - t0
    assert got == total and last == float(total), (got, last)
    if count is None:
        report("client-monitor", "decode + queue + item.value of one p4p update "
               "(one pass over %d)" % total, cpu / total)


def _best(run, n, repeat=5):
    times = []
    for _ in range(repeat):
        t0 = time.process_time()
        run(n)
        times.append((time.process_time() - t0) / n)
    return min(times)


WORKLOADS = {"server-get": server_get, "server-post": server_post,
             "server-post-10": server_post_10, "client-monitor": client_monitor}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workloads", nargs="*", choices=[[]] + sorted(WORKLOADS),
                        default=[], metavar="WORKLOAD",
                        help="any of %s (default: all)" % ", ".join(sorted(WORKLOADS)))
    parser.add_argument("--flood", metavar="FILE", default=None,
                        help="client-monitor: replay the p4p flood kept in FILE (recorded "
                             "there first if missing), the same bytes in every run")
    parser.add_argument("--count", type=int, default=None,
                        help="run N operations of one workload and print nothing")
    opts = parser.parse_args()
    names = opts.workloads or sorted(WORKLOADS)
    global FLOOD_FILE
    FLOOD_FILE = opts.flood
    if opts.count is not None and len(names) != 1:
        parser.error("--count takes one workload")
    rows = []

    def report(name, what, seconds):
        rows.append((name, what, seconds))
    for name in names:
        asyncio.run(WORKLOADS[name](opts.count, report))
    if rows:
        print("| workload | what one operation is | CPU per operation [us] |")
        print("|---|---|---|")
        for name, what, seconds in rows:
            print("| %s | %s | %.1f |" % (name, what, seconds * 1e6))


if __name__ == "__main__":
    main()
