"""Benchmark caffi (ours) and pva (ours) against a C program and other toolkits.

Run ``python bench/run.py --quick`` (about a minute, for development) or
``python bench/run.py`` (the full run, a few minutes), add ``--write-docs`` to
write the table to docs/performance.md.  See bench/README.md.

The run starts its own servers on free loopback ports (soft IOC and caRepeater
for CA; each implementation's own server for pvAccess), creates the anchors'
virtual environments under bench/.envs/ on first use, and runs every workload
of every implementation in its own subprocess (bench/workers/*.py, or the C
program bench/c/cabench.c compiled at run time).  Implementations are
interleaved in a shuffled order within each of ``--repeats`` rounds; the
table shows the median and spread, and ratios are taken between
measurements of the same round.
"""
import argparse
import datetime
import json
import os
import platform
import random
import sys
import tempfile
import time

import _envs
import _report
import _servers
from _impls import OURS, ca_impls, ours_python, pva_impls
from _report import Metric
from _workloads import CA_WORKLOADS, PVA_WORKLOADS, WF_ELEMENTS

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DOCS = os.path.join(ROOT, "docs", "performance.md")
PREFIX = "bench:"


def log(msg):
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


# Running one measurement -------------------------------------------------------
class Runner:
    def __init__(self, env, workdir, quick, max_rss_mb):
        self.env = env
        self.workdir = workdir
        self.quick = quick
        self.max_rss_mb = max_rss_mb
        self.timeout = 90 if quick else 300
        self.base = 0
        self.writer = None

    def next_base(self):
        """A fresh value range per flood, above anything posted before."""
        self.base += 10000000
        return self.base

    def _args(self, impl, workload, params):
        return impl.command + [workload] + ["%s=%s" % kv for kv in sorted(params.items())]

    def run(self, impl, workload, params):
        """Run a worker to completion; return its JSON result."""
        proc = _servers.Proc("%s %s" % (impl.label, workload),
                             self._args(impl, workload, params), self.env, cwd=self.workdir)
        try:
            return _last_json(proc.finish(self.timeout, self.max_rss_mb))
        finally:
            proc.stop()

    def flood(self, impls, workload, params, start_flood, wait_done=None):
        """Start clients, wait for READY from each, flood, collect results."""
        base = self.next_base()
        params = dict(params, base=base)
        clients = []
        try:
            for i, impl in enumerate(impls):
                clients.append(_servers.Proc("%s %s #%d" % (impl.label, workload, i),
                                             self._args(impl, workload, params), self.env,
                                             cwd=self.workdir))
            for c in clients:
                c.wait_line("READY", self.timeout)
            before = start_flood(base, params["n"])
            results = [_last_json(c.finish(self.timeout, self.max_rss_mb)) for c in clients]
            after = wait_done() if wait_done else None
            return results, before, after
        finally:
            for c in clients:
                c.stop()


def _last_json(text):
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise _servers.ProcError("no JSON result in output: %r" % text[-300:])


def _error(exc):
    first = str(exc).strip().splitlines()
    return {"error": first[0] if first else type(exc).__name__, "detail": str(exc)[-2000:]}


# CA ----------------------------------------------------------------------------
def run_ca(args, impls, env, workdir, rng):
    ready = [i for i in impls if i.command]
    results = {w.key: {i.label: (i.reason if not i.command else
                                 [] if w.only is None or i.label in w.only else
                                 "n/a (no such API)") for i in impls}
               for w in CA_WORKLOADS}
    c_impl = next((i for i in impls if i.native and i.command), None)
    db = os.path.join(workdir, "bench.db")
    _servers.write_ioc_db(db, PREFIX, 1000, WF_ELEMENTS)
    repeater = ioc = None
    runner = Runner(env, workdir, args.quick, args.max_rss_mb)
    try:
        repeater = _servers.start_repeater(os.path.join(os.path.dirname(ours_python()),
                                                        "caRepeater"), env, workdir)
        ioc = _servers.start_ioc(ours_python(), db, env, workdir)
        log("  soft IOC pid %d, caRepeater pid %d, CA port %s"
            % (ioc.pid, repeater.pid, env["EPICS_CA_SERVER_PORT"]))
        if c_impl is not None:
            runner.run(c_impl, "fill", {"prefix": PREFIX})
        for rep in range(args.repeats):
            for w in CA_WORKLOADS:
                order = [i for i in ready if w.only is None or i.label in w.only]
                rng.shuffle(order)
                times = []
                for impl in order:
                    t0 = time.monotonic()
                    params = dict(w.params(args.quick), prefix=PREFIX)
                    try:
                        if w.key == "monitor":
                            res = _ca_flood(runner, impl, c_impl, params)
                        else:
                            res = runner.run(impl, w.key, params)
                    except Exception as exc:   # recorded, the run goes on
                        res = _error(exc)
                    results[w.key][impl.label].append(res)
                    times.append("%s %.1fs%s" % (impl.label, time.monotonic() - t0,
                                                 " ERROR" if "error" in res else ""))
                log("  [CA %d/%d] %-10s %s" % (rep + 1, args.repeats, w.key, ", ".join(times)))
    finally:
        for p in (ioc, repeater):
            if p is not None:
                p.stop()
    return results


def _ca_flood(runner, impl, c_impl, params):
    if c_impl is None:
        raise _servers.ProcError("the monitor flood needs the C writer (cabench)")

    def start(base, n):
        return runner.run(c_impl, "writer", {"prefix": PREFIX, "n": n, "base": base})

    results, writer, _ = runner.flood([impl], "monitor", params, start)
    res = results[0]
    res["writer_wall"] = writer["wall"]
    return res


# PVA ---------------------------------------------------------------------------
def run_pva(args, impls, env, workdir, rng):
    ready = [i for i in impls if i.command]
    keys = [w.key for w in PVA_WORKLOADS]
    results = {k: {i.label: (i.reason if not i.command else []) for i in impls} for k in keys}
    runner = Runner(env, workdir, args.quick, args.max_rss_mb)
    params = {w.key: w.params(args.quick) for w in PVA_WORKLOADS}
    npvs = params["connect_get"]["npvs"]
    for rep in range(args.repeats):
        order = list(ready)
        rng.shuffle(order)
        for impl in order:
            t0 = time.monotonic()
            # --quick measures the server CPU/memory tests (the most processes) once.
            server_tests = not args.quick or rep == 0
            got = _pva_block(runner, impl, params, npvs, server_tests)
            for k in keys:
                if k in got:
                    results[k][impl.label].append(got[k])
            errors = [k for k in keys if k in got and "error" in got[k]]
            log("  [PVA %d/%d] %-8s %.1fs (%s)%s" % (
                rep + 1, args.repeats, impl.label, time.monotonic() - t0,
                ", ".join("%s %.1fs" % kv for kv in got["_times"].items()),
                " errors: " + ",".join(errors) if errors else ""))
    return results


CROSS_KEYS = ("get_seq", "array", "connect_get")
#: Crossed pairs: ours and the reference (pvxs); caproto's pairs time out too
#: often (its client searches slowly, its server sends arrays as lists).
CROSS_LABELS = (OURS, "p4p")
CROSS_TIMEOUT = 15


def run_pva_cross(args, impls, env, workdir, rng):
    """Every client against every server (get, array, connect): the crossed table.

    Returns ``{(client label, server label): {key: [runs]}}``.
    """
    ready = [i for i in impls if i.command and i.label in CROSS_LABELS]
    runner = Runner(env, workdir, args.quick, args.max_rss_mb)
    params = {w.key: w.params(args.quick) for w in PVA_WORKLOADS}
    npvs = params["connect_get"]["npvs"]
    results = {(c.label, s.label): {k: [] for k in CROSS_KEYS} for c in ready for s in ready}
    for rep in range(args.repeats):
        for server_impl in rng.sample(ready, len(ready)):
            t0 = time.monotonic()
            try:
                server = _start_server(runner, server_impl, npvs, params["array"]["elements"])
            except Exception as exc:
                for client in ready:
                    for key in CROSS_KEYS:
                        results[(client.label, server_impl.label)][key].append(_error(exc))
                continue
            try:
                for client in rng.sample(ready, len(ready)):
                    for key in CROSS_KEYS:
                        p = {k: v for k, v in params[key].items() if k != "elements"}
                        p.update(prefix=PREFIX, timeout=CROSS_TIMEOUT)
                        try:
                            res = runner.run(client, key, p)
                        except Exception as exc:
                            res = _error(exc)
                        results[(client.label, server_impl.label)][key].append(res)
            finally:
                server.stop()
            log("  [PVA x %d/%d] server %-8s %.1fs"
                % (rep + 1, args.repeats, server_impl.label, time.monotonic() - t0))
    return results


def render_cross(cross, labels):
    """Markdown tables: rows are clients, columns servers, one table per metric."""
    metrics = [(w.title, m) for w in PVA_WORKLOADS if w.key in CROSS_KEYS
               for m in w.metrics if not m.info]
    keys = {w.title: w.key for w in PVA_WORKLOADS}
    out = []
    for title, metric in metrics:
        key = keys[title]
        out.append("%s, %s [%s], %s is better (rows: client, columns: server):"
                   % (title, metric.label, metric.unit, metric.better))
        out.append("")
        out.append("| client \\ server | " + " | ".join(labels) + " |")
        out.append("|---|" + "---|" * len(labels))
        for client in labels:
            cells = []
            for server in labels:
                runs = cross.get((client, server), {}).get(key)
                if not runs:
                    cells.append("-")
                    continue
                summary = _report.summarize(metric.values(runs))
                cells.append("failed" if summary is None else _report._cell(summary, None))
            out.append("| %s | %s |" % (client, " | ".join(cells)))
        out.append("")
    return "\n".join(out)


def _start_server(runner, impl, npvs, array):
    server = _servers.Proc("%s server" % impl.label,
                           impl.command + ["serve", "prefix=" + PREFIX, "npvs=%d" % npvs,
                                           "array=%d" % array],
                           runner.env, cwd=runner.workdir)
    try:
        server.wait_line("READY", 600)
    except BaseException:
        server.stop()
        raise
    return server


def _pva_block(runner, impl, params, npvs, server_tests=True):
    """All pva workloads of one implementation against its own server."""
    got = {"_times": {}}
    t0 = time.monotonic()

    def lap(name):
        nonlocal t0
        now = time.monotonic()
        got["_times"][name] = now - t0
        t0 = now

    server = None
    try:
        server = _start_server(runner, impl, npvs, params["array"]["elements"])
    except Exception as exc:
        err = _error(exc)
        return dict({w.key: err for w in PVA_WORKLOADS}, _times={})
    lap("server")
    try:
        for key in ("get_seq", "array", "connect_get"):
            try:
                p = {k: v for k, v in params[key].items() if k != "elements"}
                got[key] = runner.run(impl, key, dict(p, prefix=PREFIX))
            except Exception as exc:
                got[key] = _error(exc)
            lap(key)

        def start(base, n):
            server.send("flood %d %d" % (base, n))

        def done():
            server.wait_line("FLOODED", runner.timeout)

        try:
            res, _, _ = runner.flood([impl], "monitor", dict(params["monitor"], prefix=PREFIX),
                                     start, done)
            got["monitor"] = res[0]
        except Exception as exc:
            got["monitor"] = _error(exc)
        lap("monitor")

        if not server_tests:
            return got
        n = params["server_cpu"]["n"]
        cpu = {"n": n}
        try:
            for clients in (1, 10):
                cpu_box = {}

                def start_cpu(base, count):
                    cpu_box["before"] = _servers.cpu_seconds(server.pid)
                    server.send("flood %d %d" % (base, count))

                def done_cpu():
                    server.wait_line("FLOODED", runner.timeout)
                    return _servers.cpu_seconds(server.pid)

                res, _, after = runner.flood([impl] * clients, "monitor",
                                             {"n": n, "prefix": PREFIX}, start_cpu, done_cpu)
                cpu["cpu%d" % clients] = after - cpu_box["before"]
                cpu["delivered%d" % clients] = sum(r["count"] for r in res)
            got["server_cpu"] = cpu
        except Exception as exc:
            got["server_cpu"] = _error(exc)
        lap("server_cpu")
    finally:
        server.stop()
    mem = {}
    try:
        for count in params["server_mem"]["npvs"]:
            server = _start_server(runner, impl, count, 1)
            try:
                mem["rss%d" % count] = _servers.rss_kb(server.pid)
            finally:
                server.stop()
        got["server_mem"] = mem
    except Exception as exc:
        got["server_mem"] = _error(exc)
    lap("server_mem")
    return got


# Report ------------------------------------------------------------------------
def _rows(workloads, results, quick):
    rows = []
    for w in workloads:
        metrics = w.metrics
        if w.key == "server_mem":
            metrics = [Metric("%s PVs" % "{:,}".format(c), "MB",
                              (lambda c: lambda r: r["rss%d" % c] / 1024)(c))
                       for c in w.params(quick)["npvs"]]
        for m in metrics:
            rows.append((w.title, m, results[w.key]))
    return rows


def _notes(workloads, results, quick):
    """Errors and partial runs, one line each."""
    notes = []
    for w in workloads:
        for label, runs in results[w.key].items():
            if isinstance(runs, str):
                continue
            errors = [r["error"] for r in runs if "error" in r]
            if errors:
                notes.append("- %s / %s: %d of %d runs failed: %s"
                             % (w.title, label, len(errors), len(runs), errors[0][:200]))
            wanted = w.params(quick).get("n")
            partial = [r for r in runs if "error" not in r and w.key == "array"
                       and r.get("count", 0) < wanted]
            if partial:
                notes.append("- %s / %s: time budget reached after %s gets (MB/s from those)"
                             % (w.title, label, "/".join(str(r["count"]) for r in partial)))
    return notes


def render(args, meta, ca, pva, ca_list, pva_list):
    out = []
    out.append("Run %s, %s mode, %d rounds; %s." % (
        meta["date"], "quick" if args.quick else "full", args.repeats, meta["machine"]))
    out.append("Load average %s at start, %s at end (other processes may share the "
               "machine: compare ratios, not absolute numbers)." % (meta["load_start"],
                                                                      meta["load_end"]))
    out.append("")
    if args.quick:
        out.append("Quick mode: smaller counts than the row titles say (see bench/README.md).")
        out.append("")
    out.append("Cells: median of the rounds ±half the min-max range.  Ratio columns: "
               "ours ÷ other, the median of per-round ratios (for lower-is-better rows "
               "a ratio below 1 means ours is better; for higher-is-better rows, above 1).")
    out.append("")
    versions = {}
    for i in ca_list + pva_list:
        if i.command:
            versions.setdefault(i.label, i.version)
    out.append("Versions: " + "; ".join("%s = %s" % kv for kv in versions.items()) + ".")
    missing = {}
    for i in ca_list + pva_list:
        if not i.command and i.detail:
            missing.setdefault(i.label, "%s: %s" % (i.reason, i.detail))
    for label, why in missing.items():
        out.append("Not measured: %s, %s." % (label, why.replace("\n", " ").replace("|", "/")))
    if ca is not None:
        out.append("")
        out.append("## Channel Access")
        out.append("")
        out.append(_report.table(_rows(CA_WORKLOADS, ca, args.quick),
                                 [i.label for i in ca_list], OURS, "C"))
        notes = _notes(CA_WORKLOADS, ca, args.quick)
        if notes:
            out.append("")
            out += notes
    if pva is not None:
        out.append("")
        out.append("## pvAccess")
        out.append("")
        out.append("Each implementation's client against its own server (p4p: pvxs)."
                   + (" In --quick mode the server CPU and memory rows are from the first"
                      " round only." if args.quick else ""))
        out.append("")
        out.append(_report.table(_rows(PVA_WORKLOADS, pva, args.quick),
                                 [i.label for i in pva_list], OURS, None))
        notes = _notes(PVA_WORKLOADS, pva, args.quick)
        if notes:
            out.append("")
            out += notes
    return "\n".join(out) + "\n"


DOC_HEAD = """\
# Performance

```console
$ .venv/bin/python bench/run.py --quick          # about a minute, for development
$ .venv/bin/python bench/run.py --write-docs     # the full run, rewrites this page
```

Generated by `bench/run.py` (see `bench/README.md` for the workloads and
method).  Every number below comes from one run: servers on isolated loopback
ports, each workload in its own subprocess, implementations interleaved in
shuffled order each round.  The machine is shared and noisy; read the ratio
columns, which compare measurements of the same round.

"""


# Main --------------------------------------------------------------------------
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small counts (< 1 minute)")
    parser.add_argument("--repeats", type=int, default=3, help="rounds (default 3)")
    parser.add_argument("--write-docs", action="store_true",
                        help="write the result to docs/performance.md")
    parser.add_argument("--only", choices=("ca", "pva"), help="one protocol only")
    parser.add_argument("--max-rss-mb", type=int, default=6000,
                        help="kill a worker whose RSS exceeds this (default 6000 MB)")
    parser.add_argument("--seed", type=int, default=None, help="shuffle seed")
    parser.add_argument("--json", help="also write raw results to this file "
                                       "(default bench/.envs/last-run.json)")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    t_start = time.monotonic()
    seed = args.seed if args.seed is not None else int(time.time())
    rng = random.Random(seed)
    meta = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": "%s, %d CPUs, Python %s" % (platform.machine(), os.cpu_count() or 0,
                                             platform.python_version()),
        "load_start": "%.2f" % os.getloadavg()[0],
        "seed": seed,
    }
    log("preparing implementations ...")
    cabench = _envs.build_cabench(ours_python(), log=log)
    ca_list = ca_impls() if args.only != "pva" else []
    pva_list = pva_impls() if args.only != "ca" else []
    for impl in ca_list + pva_list:
        impl.prepare(cabench)
        log("  %-12s %s" % (impl.label, impl.version if impl.command else impl.reason))
    env = _servers.epics_env()
    ca = pva = cross = None
    with tempfile.TemporaryDirectory(prefix="bench-") as workdir:
        if ca_list:
            log("Channel Access (%s) ..." % ("quick" if args.quick else "full"))
            ca = run_ca(args, ca_list, env, workdir, rng)
        if pva_list:
            log("pvAccess ...")
            pva = run_pva(args, pva_list, env, workdir, rng)
            log("pvAccess, clients x servers ...")
            cross = run_pva_cross(args, pva_list, env, workdir, rng)
    meta["load_end"] = "%.2f" % os.getloadavg()[0]
    meta["seconds"] = round(time.monotonic() - t_start, 1)
    text = render(args, meta, ca, pva, ca_list, pva_list)
    if cross is not None:
        text += ("\n## pvAccess, clients crossed with servers\n\n"
                 + render_cross(cross, [i.label for i in pva_list
                                        if i.command and i.label in CROSS_LABELS]))
    text += "\nTotal run time %.0f s (seed %d).\n" % (meta["seconds"], seed)
    print(text)
    raw = args.json or os.path.join(_envs.ENVS_DIR, "last-run.json")
    os.makedirs(os.path.dirname(os.path.abspath(raw)), exist_ok=True)
    with open(raw, "w") as f:
        json.dump({"meta": meta, "quick": args.quick, "ca": ca, "pva": pva,
                   "pva_cross": {"%s -> %s" % k: v for k, v in (cross or {}).items()}},
                  f, indent=1)
    if args.write_docs:
        with open(DOCS, "w") as f:
            f.write(DOC_HEAD + text)
        log("wrote %s" % os.path.relpath(DOCS, ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
