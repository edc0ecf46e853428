"""CA servers side by side: ours (caffi.server), rsrv (the soft IOC), caproto's.

The load is the C program on libca (bench/c/cabench.c); each server serves
the same PVs (bench/_servers.write_ioc_db for the soft IOC, the ``serve``
workload of bench/workers/ca_server_*.py for the Python servers).  Per round
every server (shuffled) is started once on fresh ports and gets every
workload; its CPU (all threads, /proc schedstat) and RSS are read around
each.  Ratios are ours / rsrv within a round.

S1 ``connect_get``: cabench caget_many (create 1,000 channels, one pend_io,
   1,000 gets, one pend_io), client wall time.
S2 ``get_cpu``: cabench get_batch sync=1: 20,000 DBR_DOUBLE gets in flight
   over 1,000 connected channels; server CPU between the go and the result.
S3 ``flood``: one cabench monitor client on ``flood``, cabench writer puts
   50,000 values; server CPU per update (puts included), share delivered (the
   client ends only once it saw the last value).
S4 ``flood10``: the same with 10 subscriber processes: server CPU per update
   delivered.
S5 ``waveform``: cabench waveform sync=1: 20 gets of the 1,000,000-element
   DOUBLE waveform (MB/s at the client; server CPU per get).
S6 ``monitor_many``: cabench monitor_many: 100 circuits (libca opens one
   per priority) each subscribing to the 1,000 ai PVs; the server's RSS while
   they are held.
"""
import os
import subprocess
import time

import _servers
from _impls import OURS, Impl, ours_python, python39
from _report import Metric, error_notes, table
from _runner import Runner, error_result, last_json
from _workloads import WF_ELEMENTS, Workload, per_op

__all__ = ["SERVER_WORKLOADS", "server_impls", "run", "render", "RSRV"]

RSRV = "rsrv"
NCHAN = 1000


class _SoftIOC(Impl):
    """rsrv: the epicscorelibs soft IOC of the project's venv."""

    def prepare(self, cabench):
        python = ours_python()
        self.command = [python, "-m", "epicscorelibs.ioc"]
        probe = subprocess.run([python, "-c", "import importlib.metadata as m; "
                                "print(m.version('epicscorelibs'))"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.version = "soft IOC of epicscorelibs %s" % (probe.stdout.strip() or "?")


def server_impls():
    return [
        Impl(OURS, "ca_server_ours.py", python=ours_python(), dist="caffi"),
        _SoftIOC(RSRV),
        Impl("caproto", "ca_server_caproto.py", venv="caproto", python=python39(),
             requirements=["caproto==0.8.1", "numpy"], dist="caproto"),
    ]


def _server_cpu_per(key, scale=1e6):
    return lambda r: r["server_cpu"] / r[key] * scale


SERVER_WORKLOADS = [
    Workload("connect_get", "S1. 1,000 PVs: connect + get (new channels)",
             {"nchan": NCHAN}, {"nchan": 200}, [
        Metric("connected and read", "ms", lambda r: r["wall"] * 1e3,
               target=("max_ratio_c", 1.5)),
        Metric("server CPU", "ms", lambda r: r["server_cpu"] * 1e3)]),
    Workload("get_seq", "S2a. 2,000 sequential DBR_DOUBLE gets (one in flight)",
             {"n": 2000}, {"n": 500}, [
        Metric("server CPU per get", "us", _server_cpu_per("count"),
               target=("max_ratio_c", 2.0)),
        Metric("time per get", "us", per_op("wall"))]),
    Workload("get_cpu", "S2b. 20,000 DBR_DOUBLE gets in flight over 1,000 channels",
             {"n": 20000, "nchan": NCHAN}, {"n": 4000, "nchan": 200}, [
        Metric("server CPU per get", "us", _server_cpu_per("count")),
        Metric("time per get", "us", per_op("wall"))]),
    Workload("flood", "S3. 50,000 puts to one PV, 1 subscriber (C writer and client)",
             {"n": 50000}, {"n": 5000}, [
        Metric("server CPU per update (put included)", "us", _server_cpu_per("count"),
               target=("max", 15.0)),
        Metric("updates delivered", "%", lambda r: 100.0 * r["count"] / r["n"],
               better="higher", target=("min", 95.0)),
        Metric("updates received", "1/s", lambda r: r["count"] / r["wall"],
               better="higher")]),
    Workload("flood10", "S4. the same flood, 10 subscriber processes",
             {"n": 50000, "clients": 10}, {"n": 5000, "clients": 10}, [
        Metric("server CPU per update delivered", "us", _server_cpu_per("count")),
        Metric("updates delivered", "%",
               lambda r: 100.0 * r["count"] / (r["n"] * r["clients"]), better="higher")]),
    Workload("waveform", "S5. 1,000,000-element DOUBLE waveform get x20",
             {"n": 20}, {"n": 3}, [
        Metric("throughput", "MB/s", lambda r: r["bytes"] / r["wall"] / 1e6,
               better="higher", target=("min_ratio_c", 0.9)),
        Metric("server CPU per get", "ms", _server_cpu_per("count", 1e3))]),
    Workload("monitor_many", "S6. 100 clients monitoring 1,000 PVs each",
             {"nclients": 100, "nchan": NCHAN}, {"nclients": 10, "nchan": 200}, [
        Metric("server RSS, subscriptions held", "MB", lambda r: r["server_rss_kb"] / 1024),
        Metric("server RSS at start", "MB", lambda r: r["server_rss0_kb"] / 1024, info=True),
        Metric("until all initial updates arrived", "s", lambda r: r["wall"])]),
]


class _Server:
    """One running server (soft IOC or a worker) on its own ports."""

    def __init__(self, impl, env, workdir, prefix, db):
        self.impl = impl
        self.env = env
        if impl.label == RSRV:
            self.proc = _servers.start_ioc(ours_python(), db, env, workdir)
        else:
            self.proc = _servers.Proc(
                "%s server" % impl.label,
                impl.command + ["serve", "prefix=" + prefix, "nchan=%d" % NCHAN,
                                "elements=%d" % WF_ELEMENTS], env, cwd=workdir)
            try:
                self.proc.wait_line("READY", 120)
            except BaseException:
                self.proc.stop()
                raise
        self.pid = self.proc.pid
        self.rss0_kb = _servers.rss_kb(self.pid)

    def cpu(self):
        return _servers.cpu_seconds(self.pid)

    def stop(self):
        self.proc.stop()


class _Client:
    """A cabench run with sync=1: it holds its connections after its result
    until told to go, so that rsrv's per-client threads (and their CPU) are
    still there when the server's CPU is read."""

    def __init__(self, runner, client, workload, params, name=None):
        args = ["%s=%s" % kv for kv in sorted(dict(params, sync=1).items())]
        self.proc = _servers.Proc(name or "C %s" % workload,
                                  client.command + [workload] + args, runner.env,
                                  cwd=runner.workdir)

    def wait(self, text, timeout):
        return self.proc.wait_line(text, timeout)

    def go(self):
        self.proc.send("go")

    def result(self, timeout):
        return last_json(self.proc.wait_line('{"wall"', timeout))

    def finish(self, timeout):
        try:
            self.proc.send("done")
        except OSError:
            pass
        self.proc.finish(timeout)

    def stop(self):
        self.proc.stop()


def _timed(runner, client, workload, params, server, timeout, synced):
    """Server CPU around one client's timed section (from its go with
    ``synced``, else from its start) up to its result."""
    c = _Client(runner, client, workload, params)
    try:
        if synced:
            c.wait("READY", timeout)
            cpu0 = server.cpu()
            c.go()
        else:
            cpu0 = server.cpu()
        res = c.result(timeout)
        res["server_cpu"] = server.cpu() - cpu0
        c.finish(timeout)
    finally:
        c.stop()
    return res


def _flood(runner, client, params, server, clients, timeout):
    base = runner.next_base()
    params = dict(params, base=base)
    subs = []
    writer = None
    try:
        for i in range(clients):
            subs.append(_Client(runner, client, "monitor", params, "C monitor #%d" % i))
        for c in subs:
            c.wait("READY", timeout)
        cpu0 = server.cpu()
        writer = _Client(runner, client, "writer",
                         {"prefix": params["prefix"], "n": params["n"], "base": base})
        wres = writer.result(timeout)
        results = [c.result(timeout) for c in subs]
        cpu1 = server.cpu()
        for c in subs + [writer]:
            c.finish(timeout)
    finally:
        for c in subs + ([writer] if writer else []):
            c.stop()
    return {"count": sum(r["count"] for r in results), "n": params["n"], "clients": clients,
            "wall": max(r["wall"] for r in results), "server_cpu": cpu1 - cpu0,
            "writer_wall": wres["wall"]}


def _monitor_many(runner, client, params, server, timeout):
    c = _Client(runner, client, "monitor_many", params)
    try:
        cpu0 = server.cpu()
        res = c.result(timeout)
        time.sleep(0.5)             # what the server still frees or sends settles
        res["server_rss_kb"] = _servers.rss_kb(server.pid)
        res["server_cpu"] = server.cpu() - cpu0
        c.finish(timeout)
    finally:
        c.stop()
    res["server_rss0_kb"] = server.rss0_kb
    return res


def _one(runner, w, client, server, prefix, quick):
    params = dict(w.params(quick), prefix=prefix,
                  timeout=20 if quick else 60)
    limit = 120 if quick else 300
    if w.key == "connect_get":
        return _timed(runner, client, "caget_many", params, server, limit, False)
    if w.key == "get_seq":
        return _timed(runner, client, "get_seq", params, server, limit, True)
    if w.key == "get_cpu":
        return _timed(runner, client, "get_batch", params, server, limit, True)
    if w.key == "waveform":
        return _timed(runner, client, "waveform", params, server, limit, True)
    if w.key in ("flood", "flood10"):
        clients = params.pop("clients", 1)
        return _flood(runner, client, params, server, clients, limit)
    if w.key == "monitor_many":
        return _monitor_many(runner, client, params, server, limit)
    raise ValueError(w.key)


def selected(args):
    """The workloads of ``--rows`` (all by default)."""
    rows = getattr(args, "rows", None)
    if not rows:
        return SERVER_WORKLOADS
    keys = rows.split(",")
    unknown = set(keys) - {w.key for w in SERVER_WORKLOADS}
    if unknown:
        raise SystemExit("unknown ca-server rows: %s" % ", ".join(sorted(unknown)))
    return [w for w in SERVER_WORKLOADS if w.key in keys]


def run(args, impls, client, env, workdir, rng, prefix, log):
    """Rounds of the selected workloads against every server in ``impls``."""
    workloads = selected(args)
    results = {w.key: {i.label: (i.reason if not i.command else []) for i in impls}
               for w in workloads}
    ready = [i for i in impls if i.command]
    db = os.path.join(workdir, "bench-server.db")
    _servers.write_ioc_db(db, prefix, NCHAN, WF_ELEMENTS)
    runner = Runner(env, workdir, args.quick, args.max_rss_mb)
    repeater = _servers.start_repeater(os.path.join(os.path.dirname(ours_python()),
                                                    "caRepeater"), env, workdir)
    try:
        for rep in range(args.repeats):
            # caproto's server takes minutes per round (S6 alone runs into its
            # time limit): measured in the first round only
            order = [i for i in ready if rep == 0 or i.label != "caproto"]
            rng.shuffle(order)
            for impl in order:
                senv = dict(env, EPICS_CA_SERVER_PORT=str(_servers.pick_ports(1)[0]))
                runner.env = senv
                t0 = time.monotonic()
                try:
                    server = _Server(impl, senv, workdir, prefix, db)
                except Exception as exc:
                    for w in workloads:
                        results[w.key][impl.label].append(error_result(exc))
                    log("  [ca-server %d/%d] %s did not start: %s"
                        % (rep + 1, args.repeats, impl.label, str(exc).splitlines()[0]))
                    continue
                done = []
                try:
                    runner.run(client, "fill", {"prefix": prefix})
                    for w in workloads:
                        try:
                            res = _one(runner, w, client, server, prefix, args.quick)
                        except Exception as exc:   # recorded, the run goes on
                            res = error_result(exc)
                        results[w.key][impl.label].append(res)
                        done.append("%s%s" % (w.key, " ERROR" if "error" in res else ""))
                finally:
                    server.stop()
                log("  [ca-server %d/%d] %-8s %.1fs: %s" % (rep + 1, args.repeats, impl.label,
                                                          time.monotonic() - t0,
                                                          ", ".join(done)))
    finally:
        repeater.stop()
    return results


def render(args, results, impls):
    labels = [i.label for i in impls]
    rows = [(w.title, m, results[w.key]) for w in selected(args) for m in w.metrics]
    out = ["The load is the C program on libca (bench/c/cabench.c) for every server; "
           "server CPU is the sum of the server process's threads (/proc schedstat) "
           "around the timed section.  S3-S4: the C writer's 50,000 `ca_put`s are the "
           "posts; a client ends when it sees the last value.  S6: one libca context "
           "with one circuit per priority (100 circuits).", ""]
    out.append(table(rows, labels, OURS, RSRV))
    notes = error_notes(selected(args), results)
    if notes:
        out.append("")
        out += notes
    return "\n".join(out)
