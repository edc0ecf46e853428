"""Benchmark caffi (ours) and pva (ours) against a C program and other toolkits.

Run ``python bench/run.py --quick`` (under a minute, one round, for
development) or ``python bench/run.py`` (the full run, a few minutes), add
``--write-docs`` to write the table to docs/performance.md.  See bench/README.md.

The run starts its own servers on free loopback ports (soft IOC and caRepeater
for CA; every implementation's server for pvAccess, each used by every client
implementation, see _pva.py), creates the anchors'
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

import _ca_server
import _envs
import _pva
import _report
import _servers
from _impls import AIOCA, OURS, aio_impls, ca_impls, ours_python, pva_impls
from _runner import Runner, error_result
from _workloads import AIO_WORKLOADS, CA_WORKLOADS, WF_ELEMENTS

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DOCS = os.path.join(ROOT, "docs", "performance.md")
PREFIX = "bench:"


def log(msg):
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


# CA ----------------------------------------------------------------------------
def run_ca(args, impls, env, workdir, rng, workloads=CA_WORKLOADS, writer=None, tag="CA"):
    """Rounds of *workloads* (CA, or the asyncio ones) against one soft IOC.

    *writer* is the C implementation that floods (default: the C column).
    """
    ready = [i for i in impls if i.command]
    results = {w.key: {i.label: (i.reason if not i.command else
                                 [] if w.only is None or i.label in w.only else
                                 "n/a (no such API)") for i in impls}
               for w in workloads}
    c_impl = next((i for i in impls if i.native and i.command), None)
    if writer is not None and writer.command:
        c_impl = writer
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
        if c_impl is not None and c_impl in impls:
            runner.run(c_impl, "fill", {"prefix": PREFIX})
        for rep in range(args.repeats):
            for w in workloads:
                order = [i for i in ready if w.only is None or i.label in w.only]
                rng.shuffle(order)
                times = []
                for impl in order:
                    t0 = time.monotonic()
                    params = dict(w.params(args.quick), prefix=PREFIX)
                    try:
                        if w.key in ("monitor", "amonitor"):
                            res = _ca_flood(runner, impl, c_impl, params, w.key)
                        else:
                            res = runner.run(impl, w.key, params)
                    except Exception as exc:   # recorded, the run goes on
                        res = error_result(exc)
                    results[w.key][impl.label].append(res)
                    times.append("%s %.1fs%s" % (impl.label, time.monotonic() - t0,
                                                 " ERROR" if "error" in res else ""))
                log("  [%s %d/%d] %-10s %s" % (tag, rep + 1, args.repeats, w.key,
                                               ", ".join(times)))
    finally:
        for p in (ioc, repeater):
            if p is not None:
                p.stop()
    return results


def _ca_flood(runner, impl, c_impl, params, key="monitor"):
    if c_impl is None:
        raise _servers.ProcError("the monitor flood needs the C writer (cabench)")

    def start(base, n):
        return runner.run(c_impl, "writer", {"prefix": PREFIX, "n": n, "base": base})

    results, writer, _ = runner.flood([impl], key, params, start)
    res = results[0]
    res["writer_wall"] = writer["wall"]
    return res


# Report ------------------------------------------------------------------------
def _rows(workloads, results):
    return [(w.title, m, results[w.key]) for w in workloads for m in w.metrics]


def _notes(workloads, results, quick):
    """Errors and partial runs, one line each."""
    notes = _report.error_notes(workloads, results)
    for w in workloads:
        for label, runs in results[w.key].items():
            if isinstance(runs, str):
                continue
            wanted = w.params(quick).get("n")
            partial = [r for r in runs if "error" not in r and w.key == "array"
                       and r.get("count", 0) < wanted]
            if partial:
                notes.append("- %s / %s: time budget reached after %s gets (MB/s from those)"
                             % (w.title, label, "/".join(str(r["count"]) for r in partial)))
    return notes


def render(args, meta, ca, pva, ca_list, pva_list, aio=None, aio_list=(), srv=None,
           srv_list=()):
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
    for i in ca_list + pva_list + list(aio_list) + list(srv_list):
        if i.command:
            versions.setdefault(i.label, i.version)
    out.append("Versions: " + "; ".join("%s = %s" % kv for kv in versions.items()) + ".")
    missing = {}
    for i in ca_list + pva_list + list(aio_list) + list(srv_list):
        if not i.command and i.detail:
            missing.setdefault(i.label, "%s: %s" % (i.reason, i.detail))
    for label, why in missing.items():
        out.append("Not measured: %s, %s." % (label, why.replace("\n", " ").replace("|", "/")))
    if ca is not None:
        out.append("")
        out.append("## Channel Access")
        out.append("")
        out.append(_report.table(_rows(CA_WORKLOADS, ca),
                                 [i.label for i in ca_list], OURS, "C"))
        notes = _notes(CA_WORKLOADS, ca, args.quick)
        if notes:
            out.append("")
            out += notes
    if aio is not None:
        out.append("")
        out.append("## Channel Access from asyncio (caffi.aio and aioca)")
        out.append("")
        out.append("The same calls through `caffi.aio` and aioca (bench/workers/_aio.py), "
                   "each in `asyncio.run`; the targets are ratios to aioca.")
        out.append("")
        out.append(_report.table(_rows(AIO_WORKLOADS, aio), [i.label for i in aio_list],
                                 OURS, AIOCA))
        notes = _notes(AIO_WORKLOADS, aio, args.quick)
        if notes:
            out.append("")
            out += notes
    if srv is not None:
        out.append("")
        out.append("## Channel Access servers (ours, rsrv, caproto's)")
        out.append("")
        out.append(_ca_server.render(args, srv, srv_list))
    if pva is not None:
        out.append("")
        out.append("## pvAccess")
        out.append("")
        out.append(_pva.render(args, pva, [i.label for i in pva_list if i.command]))
    return "\n".join(out) + "\n"


DOC_HEAD = """\
# Performance

```console
$ .venv/bin/python bench/run.py --quick          # under a minute, one round, for development
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
    parser.add_argument("--repeats", type=int, default=None,
                        help="rounds (default 3; 1 with --quick)")
    parser.add_argument("--write-docs", action="store_true",
                        help="write the result to docs/performance.md")
    parser.add_argument("--only", choices=("ca", "pva", "aio", "ca-server"),
                        help="one part only: CA, pvAccess, CA from asyncio, or the CA "
                             "servers (ours, rsrv, caproto's) under a C client's load")
    parser.add_argument("--rows", help="ca-server: only these workloads (comma-separated "
                                       "keys, e.g. connect_get,waveform)")
    parser.add_argument("--servers", help="ca-server: only these servers (comma-separated "
                                          "labels: ours, rsrv, caproto)")
    parser.add_argument("--max-rss-mb", type=int, default=6000,
                        help="kill a worker whose RSS exceeds this (default 6000 MB)")
    parser.add_argument("--seed", type=int, default=None, help="shuffle seed")
    parser.add_argument("--json", help="also write raw results to this file "
                                       "(default bench/.envs/last-run.json)")
    args = parser.parse_args(argv)
    if args.repeats is None:
        args.repeats = 1 if args.quick else 3
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
    ca_list = ca_impls() if args.only in (None, "ca") else []
    pva_list = pva_impls() if args.only in (None, "pva") else []
    aio_list = aio_impls() if args.only in (None, "aio") else []
    srv_list = _ca_server.server_impls() if args.only in (None, "ca-server") else []
    if args.servers:
        srv_list = [i for i in srv_list if i.label in args.servers.split(",")]
    for impl in ca_list + pva_list + aio_list + srv_list:
        impl.prepare(cabench)
        log("  %-12s %s" % (impl.label, impl.version if impl.command else impl.reason))
    writer = next((i for i in ca_impls() if i.native), None)
    if (aio_list or srv_list) and writer is not None:
        writer.prepare(cabench)
    env = _servers.epics_env()
    ca = pva = aio = srv = None
    with tempfile.TemporaryDirectory(prefix="bench-") as workdir:
        if ca_list:
            log("Channel Access (%s) ..." % ("quick" if args.quick else "full"))
            ca = run_ca(args, ca_list, env, workdir, rng)
        if aio_list:
            log("Channel Access from asyncio ...")
            aio = run_ca(args, aio_list, env, workdir, rng, AIO_WORKLOADS, writer, "aio")
        if pva_list:
            log("pvAccess, every client against every server ...")
            pva = _pva.run(args, pva_list, env, workdir, rng, PREFIX, log)
        if srv_list:
            log("Channel Access servers under the C client's load ...")
            srv = _ca_server.run(args, srv_list, writer, env, workdir, rng, PREFIX, log)
    meta["load_end"] = "%.2f" % os.getloadavg()[0]
    meta["seconds"] = round(time.monotonic() - t_start, 1)
    text = render(args, meta, ca, pva, ca_list, pva_list, aio, aio_list, srv, srv_list)
    text += "\nTotal run time %.0f s (seed %d).\n" % (meta["seconds"], seed)
    print(text)
    raw = args.json or os.path.join(_envs.ENVS_DIR, "last-run.json")
    os.makedirs(os.path.dirname(os.path.abspath(raw)), exist_ok=True)
    pva_raw = None if pva is None else {
        "pairs": {"%s -> %s" % k: v for k, v in pva["pairs"].items()}, "mem": pva["mem"]}
    with open(raw, "w") as f:
        json.dump({"meta": meta, "quick": args.quick, "ca": ca, "aio": aio, "pva": pva_raw,
                   "ca_server": srv},
                  f, indent=1)
    if args.write_docs:
        with open(DOCS, "w") as f:
            f.write(DOC_HEAD + text)
        log("wrote %s" % os.path.relpath(DOCS, ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
