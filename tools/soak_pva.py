"""Soak test of the pva server: mixed clients for a while, RSS and latency over time.

    .venv/bin/python tools/soak_pva.py --minutes 10 [--interval 30] [--p4p-server]

Starts our server (``--serve``, a PVAGroup with a counter updated every
10 ms, a setpoint and an RPC doubler) in its own process on 127.0.0.1 with
OS-chosen ports, and 10 clients in this process, each in its own thread:

==  ==========================================================================
0   our sync client: get of the setpoint in a loop (timed)
1   our sync client: put of the setpoint in a loop (timed)
2   our sync client: monitor of the counter (updates counted)
3   our sync client: RPC doubler in a loop (timed)
4   our sync client: connect, get, disconnect (new context each time; timed)
5   p4p client: get of the setpoint (timed)
6   p4p client: put of the setpoint (timed)
7   p4p client: monitor of the counter (updates counted)
8   p4p client: connect, get, disconnect (timed)
9   our sync client: get of the counter with a pvRequest (timed)
==  ==========================================================================

With ``--p4p-server`` a p4p server is started too and clients 5 and 8 get
its PV instead (our client against p4p is covered by 0-4 and 9 meanwhile).
Every interval it prints the server's RSS and, per client, the operations
done and the 50/95/99th percentile latencies of the interval; at the end a
summary.  Nothing is asserted: this is a measurement, not a test.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import threading
import time
from typing import Dict, List

CONF_SERVER = {"EPICS_PVAS_INTF_ADDR_LIST": "127.0.0.1", "EPICS_PVAS_SERVER_PORT": "0",
               "EPICS_PVAS_BROADCAST_PORT": "0", "EPICS_PVAS_AUTO_BEACON_ADDR_LIST": "NO",
               "EPICS_PVAS_BEACON_ADDR_LIST": ""}


# ------------------------------------------------------------------ server
def serve() -> None:
    from pva.server import PVAGroup, pva_dataclass, pvaproperty
    from pva.server import Context

    @pva_dataclass
    class Reading:
        value: int
        info: str

    class Soak(PVAGroup):
        counter = pvaproperty(value=0)
        setpoint = pvaproperty(value=1.5)
        doubler = pvaproperty(value=Reading())

        @counter.startup
        async def counter(self, instance, async_lib):
            while True:
                async with self.counter as c:       # one commit, one monitor update
                    c.value = c.value + 1
                await async_lib.library.sleep(0.01)

        @doubler.call
        async def doubler(self, instance, data):
            return Reading(value=2 * int(data.value), info="doubled")

    async def main():
        ctx = Context(Soak(prefix="soak:").pvdb, conf=CONF_SERVER, useenv=False)
        await ctx.start()
        task = asyncio.ensure_future(ctx.run())
        print("READY", ctx.port, ctx.udp_port, flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        ctx.stop()
        await task
    asyncio.run(main())


# ----------------------------------------------------------------- clients
def _free_udp_port() -> int:
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def client_conf(udp_port: int) -> Dict[str, str]:
    return {"EPICS_PVA_ADDR_LIST": f"127.0.0.1:{udp_port}", "EPICS_PVA_AUTO_ADDR_LIST": "NO",
            "EPICS_PVA_NAME_SERVERS": "", "EPICS_PVA_INTF_ADDR_LIST": "127.0.0.1",
            "EPICS_PVA_BROADCAST_PORT": str(_free_udp_port())}


class Worker:
    """One client in a thread: ``step()`` in a loop, each timed."""

    def __init__(self, name: str, setup, step, close=None):
        self.name, self._setup, self._step, self._close = name, setup, step, close
        self.latencies: List[float] = []
        self.all_latencies: List[float] = []
        self.count = 0
        self.errors = 0
        self.last_error = ""
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self):
        state = self._setup()
        try:
            while not self._stop.is_set():
                t0 = time.perf_counter()
                try:
                    self._step(state)
                except Exception as ex:
                    self.errors += 1
                    self.last_error = repr(ex)[:200]
                    self._stop.wait(0.1)
                    continue
                dt = time.perf_counter() - t0
                self.latencies.append(dt)
                self.count += 1
                self._stop.wait(0.002)
        finally:
            if self._close is not None:
                self._close(state)

    def take(self) -> List[float]:
        out, self.latencies = self.latencies, []
        self.all_latencies += out
        return out

    def stop(self):
        self._stop.set()
        self.thread.join(30)


class Counter:
    """A monitor: counts updates (its 'latency' list stays empty)."""

    def __init__(self, name: str, subscribe, close):
        self.name, self.count, self.errors, self.last_error = name, 0, 0, ""
        self._state = subscribe(self._on)
        self._close = close
        self.latencies: List[float] = []
        self.all_latencies: List[float] = []

    def _on(self, value):
        if isinstance(value, Exception):
            self.errors += 1
            self.last_error = repr(value)[:200]
        else:
            self.count += 1

    def take(self):
        return []

    def stop(self):
        self._close(self._state)


def _pct(values: List[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1e3


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def make_clients(udp_port: int, p4p_udp_port: int) -> list:
    from p4p.client.thread import Context as P4P

    from pva.sync import Context as Ours

    conf = client_conf(udp_port)
    p4p_conf = client_conf(p4p_udp_port or udp_port)
    good = "soak:setpoint" if not p4p_udp_port else "soakp4p:x"
    ours = lambda: Ours(conf=conf, useenv=False, timeout=5.0)  # noqa: E731
    theirs = lambda c=conf: P4P("pva", conf=c, useenv=False, nt=False)  # noqa: E731

    def churn_ours(_):
        c = Ours(conf=conf, useenv=False, timeout=5.0)
        try:
            c.get("soak:setpoint")
        finally:
            c.close()

    def churn_p4p(_):
        c = theirs(p4p_conf)
        try:
            c.get(good, timeout=5.0)
        finally:
            c.close()

    puts = iter(range(10 ** 12))
    workers = [
        Worker("ours get", ours, lambda c: c.get("soak:setpoint"), lambda c: c.close()),
        Worker("ours put", ours, lambda c: c.put("soak:setpoint", float(next(puts) % 100)),
               lambda c: c.close()),
        Counter("ours monitor", lambda cb: (lambda c: (c, c.monitor("soak:counter", cb)))(ours()),
                lambda s: (s[1].close(), s[0].close())),
        Worker("ours rpc", ours, lambda c: c.rpc("soak:doubler", {"value": 21}),
               lambda c: c.close()),
        Worker("ours churn", lambda: None, churn_ours),
        Worker("p4p get", lambda: theirs(p4p_conf), lambda c: c.get(good, timeout=5.0),
               lambda c: c.close()),
        Worker("p4p put", theirs, lambda c: c.put("soak:setpoint", 2.5, timeout=5.0),
               lambda c: c.close()),
        Counter("p4p monitor", lambda cb: (lambda c: (c, c.monitor("soak:counter", cb)))(theirs()),
                lambda s: (s[1].close(), s[0].close())),
        Worker("p4p churn", lambda: None, churn_p4p),
        Worker("ours get req", ours, lambda c: c.get("soak:counter", "field(value)"),
               lambda c: c.close()),
    ]
    return workers


def run(minutes: float, interval: float, with_p4p: bool) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EPICS_")}
    env["OPENBLAS_NUM_THREADS"] = "1"
    server = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--serve"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    p4p_server = None
    workers: list = []
    try:
        line = server.stdout.readline().split()
        assert line and line[0] == "READY", line
        udp_port = int(line[2])
        p4p_udp = 0
        if with_p4p:
            from p4p.nt import NTScalar
            from p4p.server import Server, StaticProvider
            from p4p.server.thread import SharedPV
            provider = StaticProvider("soak")
            provider.add("soakp4p:x", SharedPV(nt=NTScalar("d"), initial=1.0))
            p4p_server = Server(providers=[provider], conf=CONF_SERVER, useenv=False)
            p4p_udp = int(p4p_server.conf()["EPICS_PVAS_BROADCAST_PORT"])
        rss0 = rss_mb(server.pid)
        print(f"server pid {server.pid}, RSS {rss0:.1f} MB at start", flush=True)
        workers = make_clients(udp_port, p4p_udp)
        for w in workers:
            if isinstance(w, Worker):
                w.thread.start()
        start = time.monotonic()
        end = start + minutes * 60
        header = "  t(s)  RSS(MB)  " + "  ".join(f"{w.name:>24}" for w in workers)
        print("per client: operations in the interval, p50/p95/p99 ms (monitors: updates)")
        print(header, flush=True)
        last = {w.name: 0 for w in workers}
        while time.monotonic() < end:
            time.sleep(min(interval, max(0.0, end - time.monotonic())))
            cells = []
            for w in workers:
                lat = w.take()
                n = w.count - last[w.name]
                last[w.name] = w.count
                if lat:
                    cells.append(f"{n:>6} {_pct(lat, .5):5.1f}/{_pct(lat, .95):5.1f}/"
                                 f"{_pct(lat, .99):5.1f}")
                else:
                    cells.append(f"{n:>6} updates")
            print(f"{time.monotonic() - start:6.0f}  {rss_mb(server.pid):7.1f}  "
                  + "  ".join(f"{c:>24}" for c in cells), flush=True)
        print(f"\nsummary over {minutes:g} min: server RSS {rss0:.1f} -> "
              f"{rss_mb(server.pid):.1f} MB")
        for w in workers:
            lat = w.all_latencies + w.take()
            extra = (f"p50 {_pct(lat, .5):.1f} ms, p95 {_pct(lat, .95):.1f} ms, "
                     f"p99 {_pct(lat, .99):.1f} ms, max {_pct(lat, 1.0):.1f} ms"
                     if lat else "")
            print(f"  {w.name:>14}: {w.count} ops, {w.errors} errors {extra}"
                  + (f" (last: {w.last_error})" if w.errors else ""))
    finally:
        for w in workers:
            w.stop()
        if p4p_server is not None:
            p4p_server.stop()
        if server.poll() is None:
            server.stdin.close()
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--interval", type=float, default=30.0, help="seconds between reports")
    ap.add_argument("--p4p-server", action="store_true", help="start a p4p server too")
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve()
    else:
        run(args.minutes, args.interval, args.p4p_server)


if __name__ == "__main__":
    main()
