"""pvAccess workloads with caproto 0.8.1's pva (Python 3.9 venv).

Client: caproto's pva has only ``caproto.pva.sync.client``, whose public
``read``/``monitor`` search and open a new circuit per call; to measure
requests rather than connection setup the workloads keep one channel from
``make_channel`` and call its ``_read``/``_monitor`` helpers (what ``read``
and ``monitor`` use).  Server: a ``PVAGroup`` built at run time, same stdin
protocol as pva_p4p.py (``flood BASE N``, prints ``FLOODED``).
"""
import sys
import time

from _common import Timer, main, ready, result


def _channel(name, timeout):
    from caproto.pva.sync import client
    udp_sock, udp_port = client.make_broadcaster_socket()
    try:
        udp_sock.settimeout(timeout)
        return client.make_channel(name, udp_sock, udp_port, timeout)
    finally:
        udp_sock.close()


def get_seq(prefix, n, timeout=10, **_):
    from caproto.pva.sync.client import _read
    chan = _channel(prefix + "s0", timeout)
    with Timer() as t:
        for _i in range(n):
            _read(chan, timeout, "field()")
    result(t.wall, t.cpu, n)


def monitor(prefix, n, base, timeout=60, queue=0, **_):
    from caproto.pva.sync.client import _monitor
    chan = _channel(prefix + "flood", timeout)
    target = base + n
    count, first, last = 0, 0.0, 0.0
    c0 = None
    request = "record[queueSize=%d]field()" % queue if queue else "field()"
    for _response, data in _monitor(chan, timeout, request, None):
        value = data.value
        if c0 is None:
            ready()
            c0 = time.process_time()
        if value <= base:
            continue
        now = time.perf_counter()
        if count == 0:
            first = now
        count += 1
        last = now
        if value >= target:
            break
    cpu = time.process_time() - c0
    result(last - first, cpu, count, lost=n - count)


def array(prefix, n, timeout=120, budget=0, **_):
    from caproto.pva.sync.client import _read
    chan = _channel(prefix + "arr", timeout)
    nbytes = 0
    count = 0
    with Timer() as t:
        while count < n and not (budget and count and time.perf_counter() - t.w0 > budget):
            count += 1
            _response, data = _read(chan, timeout, "field()")
            nbytes += len(data.value) * 8
    result(t.wall, t.cpu, count, bytes=nbytes)


def connect_get(prefix, npvs, timeout=30, **_):
    # The sync client holds one channel per circuit: read() searches,
    # connects, gets and closes, one PV after the other.
    from caproto.pva.sync.client import read
    with Timer() as t:
        for i in range(npvs):
            read("%ss%d" % (prefix, i), timeout=timeout)
    result(t.wall, t.cpu, npvs)


def serve(prefix, npvs, array=1000000, **_):
    import asyncio
    import types

    from caproto.pva.server import PVAGroup, pvaproperty, run

    attrs = {"s%d" % i: pvaproperty(value=float(i), name="s%d" % i) for i in range(npvs)}
    attrs["arr"] = pvaproperty(value=[float(i) for i in range(array)], name="arr")
    flood = attrs["flood"] = pvaproperty(value=0.0, name="flood")

    @flood.startup
    async def flood(self, instance, async_lib):
        loop = asyncio.get_event_loop()
        ready()
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                loop.stop()
                return
            words = line.split()
            if words[:1] == ["flood"]:
                base, count = int(words[1]), int(words[2])
                for i in range(1, count + 1):
                    async with self.flood as pv:
                        pv.value = float(base + i)
                sys.stdout.write("FLOODED\n")
                sys.stdout.flush()

    attrs["flood"] = flood
    group_class = types.new_class("BenchGroup", (PVAGroup,), exec_body=lambda ns: ns.update(attrs))
    group = group_class(prefix=prefix)
    run(group.pvdb, module_name="caproto.pva.asyncio.server", interfaces=["127.0.0.1"])


if __name__ == "__main__":
    sys.exit(main({f.__name__: f for f in (get_seq, monitor, array, connect_get, serve)}))
