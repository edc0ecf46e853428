"""pvAccess: every client against every server, the tables and the targets.

Per round, each server implementation (in a shuffled order) is started once;
every client implementation (shuffled) then runs the client workloads
against it, each in its own process: sequential gets, array gets, connect +
get of many PVs, and the monitor flood.  Then the server's CPU is read from
``/proc`` around floods to 1 and to 10 client processes of each client
implementation in ``cpu_clients``.  The server is stopped and the next one
starts.  Server memory is measured on fresh servers (1,000 and
100,000 PVs).

A pair whose first workload (connect and sequential gets) timed out, the
client never having found the server's PVs, skips its remaining workloads of
that round, recorded as ``skipped``.  Pairs with caproto (its client searches
slowly, its server sends arrays as lists and posts about 5,000 updates/s) get
a shorter process time limit and are measured in the first round only;
server memory, which hardly varies, is measured in the first round only.

``run`` returns ``{"pairs": {(client, server): {key: [runs]}}, "mem":
{server: [runs]}}``; the own-server table is the diagonal.
"""
import statistics
import time

import _report
import _servers
from _impls import OURS
from _report import Metric
from _runner import Runner, error_result
from _workloads import PVA_WORKLOADS

__all__ = ["run", "render", "CLIENT_KEYS", "TARGETS"]

CLIENT_KEYS = ("get_seq", "array", "connect_get", "monitor")
PAIR_KEYS = CLIENT_KEYS + ("server_cpu",)
#: Implementations whose pairs get the shorter process limit.
SLOW = ("caproto",)


def _slow(client, server):
    return client.label in SLOW or server.label in SLOW


def _limits(quick, client, server, key):
    """``(timeout given to the worker, process limit)`` in s for one workload.

    The worker's timeout is per operation; connect_get's one operation is
    the whole list of PVs, a monitor's the whole flood (caproto's server
    posts about 5,000 updates/s).
    """
    slow = _slow(client, server)
    if key in ("connect_get", "monitor", "server_cpu"):
        # caproto's pairs finish in 10-25 s when they work at all (its
        # server fails to answer some of 1,000 parallel requests): waiting
        # longer only makes the full run exceed its 10 minutes
        op = 20 if quick else (30 if slow else 60)
    else:
        op = 5 if quick else 15
    if slow:
        return op, (30 if quick else 90)
    return op, (60 if quick else 300)


def cpu_clients(quick, ready):
    """Client implementations the server CPU is measured with.

    --quick: p4p's only (eleven client processes per measurement are most of
    the time of a quick run; the targets name p4p's client); see also
    ``quick_leaves_out``.
    """
    if quick:
        return [i for i in ready if i.label == "p4p"]
    return list(ready)


def quick_leaves_out(client, server, key):
    """What --quick does not measure, beyond ``cpu_clients``: the heaviest
    work of the slowest implementation, caproto (README.md lists it)."""
    if key == "connect_get":
        return client == "caproto"          # a search and a circuit per PV
    if key == "array":
        return server == "caproto"          # its server sends arrays as lists
    if key == "server_cpu":
        return server == "caproto"          # ~2 s of its CPU for 1,000 updates to 10
    if key == "server_cpu10":
        return server != OURS               # 10 clients: only for the target's pair
    return False


def run(args, impls, env, workdir, rng, prefix, log):
    ready = [i for i in impls if i.command]
    runner = Runner(env, workdir, args.quick, args.max_rss_mb)
    params = {w.key: w.params(args.quick) for w in PVA_WORKLOADS}
    pairs = {(c.label, s.label): {k: [] for k in PAIR_KEYS} for c in ready for s in ready}
    mem = {s.label: [] for s in ready}
    for rep in range(args.repeats):
        for server_impl in rng.sample(ready, len(ready)):
            # caproto's pairs: first round only.
            clients = [c for c in ready if rep == 0 or not _slow(c, server_impl)]
            if not clients:
                continue
            t0 = time.monotonic()
            times = _server_round(runner, server_impl, clients, params, pairs, rng, prefix)
            log("  [PVA %d/%d] server %-8s %5.1fs (%s)" % (
                rep + 1, args.repeats, server_impl.label, time.monotonic() - t0,
                ", ".join("%s %.1fs" % kv for kv in times.items())))
        if rep == 0:
            for server_impl in rng.sample(ready, len(ready)):
                mem[server_impl.label].append(
                    _server_mem(runner, server_impl, params["server_mem"]["npvs"], prefix))
    return {"pairs": pairs, "mem": mem}


def _start_server(runner, impl, npvs, array, prefix):
    server = _servers.Proc("%s server" % impl.label,
                           impl.command + ["serve", "prefix=" + prefix, "npvs=%d" % npvs,
                                           "array=%d" % array],
                           runner.env, cwd=runner.workdir)
    try:
        server.wait_line("READY", 600)
    except BaseException:
        server.stop()
        raise
    return server


def _server_round(runner, server_impl, clients, params, pairs, rng, prefix):
    """One server, every client's workloads, then server CPU; returns lap times."""
    times = {}
    try:
        server = _start_server(runner, server_impl, params["connect_get"]["npvs"],
                               params["array"]["elements"], prefix)
    except Exception as exc:
        err = error_result(exc)
        for client in clients:
            for key in PAIR_KEYS:
                pairs[(client.label, server_impl.label)][key].append(err)
        return times
    try:
        timed_out = set()
        for client in rng.sample(clients, len(clients)):
            t0 = time.monotonic()
            cell = pairs[(client.label, server_impl.label)]
            for key in CLIENT_KEYS:
                if runner.quick and quick_leaves_out(client.label, server_impl.label, key):
                    continue
                if client.label in timed_out:
                    cell[key].append(_skipped())
                    continue
                op, limit = _limits(runner.quick, client, server_impl, key)
                p = {k: v for k, v in params[key].items() if k != "elements"}
                p.update(prefix=prefix, timeout=op)
                try:
                    if key == "monitor":
                        res = _flood(runner, server, [client], p, limit)[0]
                    else:
                        res = runner.run(client, key, p, timeout=limit)
                except Exception as exc:
                    res = error_result(exc)
                    if res["timeout"] and key == CLIENT_KEYS[0]:
                        timed_out.add(client.label)   # never connected
                cell[key].append(res)
            times[client.label] = time.monotonic() - t0
        t0 = time.monotonic()
        cpu_labels = [c.label for c in cpu_clients(runner.quick, clients)
                      if not (runner.quick and quick_leaves_out(c.label, server_impl.label,
                                                                "server_cpu"))]
        for client in rng.sample(clients, len(clients)):
            cell = pairs[(client.label, server_impl.label)]
            if client.label not in cpu_labels:
                continue
            if client.label in timed_out:
                cell["server_cpu"].append(_skipped())
                continue
            op, limit = _limits(runner.quick, client, server_impl, "server_cpu")
            counts = (1, 10)
            if runner.quick and quick_leaves_out(client.label, server_impl.label,
                                                 "server_cpu10"):
                counts = (1,)
            cell["server_cpu"].append(
                _server_cpu(runner, server, client, params["server_cpu"]["n"], op, limit,
                            prefix, counts))
        times["server CPU"] = time.monotonic() - t0
    finally:
        server.stop()
    return times


def _skipped():
    return {"error": "skipped: the pair's first workload timed out in this round",
            "detail": "", "timeout": True, "skipped": True}


def _flood(runner, server, impls, params, limit):
    def start(base, n):
        server.send("flood %d %d" % (base, n))

    def done():
        server.wait_line("FLOODED", limit)

    results, _, _ = runner.flood(impls, "monitor", params, start, done, timeout=limit)
    return results


def _server_cpu(runner, server, client, n, op, limit, prefix, counts=(1, 10), queue=0):
    """Server CPU around a flood of n updates to 1 and to 10 client processes
    (``queue``: their monitors' queueSize, 0 for the default)."""
    out = {"n": n}
    try:
        for count in counts:
            box = {}

            def start(base, total):
                box["before"] = _servers.cpu_seconds(server.pid)
                server.send("flood %d %d" % (base, total))

            def done():
                server.wait_line("FLOODED", limit)
                return _servers.cpu_seconds(server.pid)

            params = {"n": n, "prefix": prefix, "timeout": op}
            if queue:
                params["queue"] = queue
            res, _, after = runner.flood([client] * count, "monitor", params,
                                         start, done, timeout=limit)
            out["cpu%d" % count] = after - box["before"]
            out["delivered%d" % count] = sum(r["count"] for r in res)
    except Exception as exc:
        return error_result(exc)
    return out


def _server_mem(runner, impl, counts, prefix):
    out = {}
    try:
        for count in counts:
            server = _start_server(runner, impl, count, 1, prefix)
            try:
                out["rss%d" % count] = _servers.rss_kb(server.pid)
            finally:
                server.stop()
    except Exception as exc:
        return error_result(exc)
    return out


# Report ------------------------------------------------------------------------
def _diagonal(result, labels):
    """``{key: {label: runs}}`` of each implementation against its own server."""
    out = {}
    for key in PAIR_KEYS:
        out[key] = {label: result["pairs"].get((label, label), {}).get(key, [])
                    for label in labels}
    out["server_mem"] = {label: result["mem"].get(label, []) for label in labels}
    for key in out:
        for label in labels:
            if not out[key][label]:
                out[key][label] = "not measured"
    return out


def _failed_cell(runs):
    """"timeout", "skipped", "failed" or "not measured" for a cell without a value."""
    if runs and not any("error" in r for r in runs):
        return "not measured"
    if runs and all("error" in r for r in runs):
        if all(r.get("skipped") for r in runs):
            return "skipped (timeout)"
        if all(r.get("timeout") for r in runs):
            return "timeout"
    return "failed"


def _cross_table(result, labels, key, metric):
    lines = ["| client \\ server | " + " | ".join(labels) + " |",
             "|---|" + "---|" * len(labels)]
    for client in labels:
        cells = []
        for server in labels:
            runs = result["pairs"].get((client, server), {}).get(key)
            if not runs:
                cells.append("not measured")
                continue
            vals = metric.values(runs)
            summary = _report.summarize(vals)
            if summary is None:
                cells.append(_failed_cell(runs))
                continue
            note = None if summary[2] == len(vals) else "(%d/%d runs)" % (summary[2], len(vals))
            cells.append(_report._cell(summary, note))
        lines.append("| %s | %s |" % (client, " | ".join(cells)))
    return "\n".join(lines)


def _pair_notes(result, labels, quick):
    wanted = [w for w in PVA_WORKLOADS if w.key == "array"][0].params(quick)["n"]
    notes = []
    for (client, server), cell in sorted(result["pairs"].items()):
        if client not in labels or server not in labels:
            continue
        for key in PAIR_KEYS:
            runs = cell[key]
            errors = [r for r in runs if "error" in r and not r.get("skipped")]
            if errors:
                notes.append("- client %s, server %s, %s: %d of %d runs failed: %s"
                             % (client, server, key, len(errors), len(runs),
                                errors[0]["error"][:200]))
            skipped = [r for r in runs if r.get("skipped")]
            if skipped:
                notes.append("- client %s, server %s, %s: skipped in %d of %d rounds "
                             "(the pair's first workload timed out)"
                             % (client, server, key, len(skipped), len(runs)))
            if key == "array":
                partial = [r for r in runs if "error" not in r
                           and r.get("count", 0) < wanted]
                if partial:
                    notes.append("- client %s, server %s, array: time budget reached after "
                                 "%s gets (MB/s from those)"
                                 % (client, server, "/".join(str(r["count"]) for r in partial)))
    return notes


# Targets -----------------------------------------------------------------------
class Target:
    """A goal for one (client, server) pair, checked on the same run's values.

    ``value(pair_runs, pairs)`` returns per-round values (None for a failed
    round); ``op`` is ">=" or "<=".
    """

    def __init__(self, text, client, server, unit, op, goal, value):
        self.text = text
        self.client = client
        self.server = server
        self.unit = unit
        self.op = op
        self.goal = goal
        self.value = value


def _per_round(key, compute):
    def values(pairs, client, server):
        runs = pairs.get((client, server), {}).get(key, [])
        return Metric("", "", compute).values(runs)
    return values


def _gets_per_s(r):
    return r["count"] / r["wall"]


def _seq_ratio(pairs, client, server):
    """Per-round gets/s against ``server`` over gets/s against the client's own."""
    mine = _per_round("get_seq", _gets_per_s)(pairs, client, server)
    own = _per_round("get_seq", _gets_per_s)(pairs, client, client)
    return [a / b if a is not None and b else None for a, b in zip(mine, own)]


TARGETS = [
    Target("sequential gets", OURS, "p4p", "gets/s", ">=", 4000,
           _per_round("get_seq", _gets_per_s)),
    Target("monitor updates received (one PV, queueSize=10,000)", OURS, "p4p", "updates/s",
           ">=", 50000, _per_round("monitor", lambda r: r["count"] / r["wall"])),
    Target("1,000,000-element float64 array", OURS, "p4p", "MB/s", ">=", 1000,
           _per_round("array", lambda r: r["bytes"] / r["wall"] / 1e6)),
    Target("1,000 PVs connect + get", OURS, "p4p", "s", "<=", 0.4,
           _per_round("connect_get", lambda r: r["wall"] / r["count"] * 1000)),
    Target("sequential gets/s, relative to p4p client against p4p server", "p4p", OURS, "x",
           ">=", 0.9,
           _seq_ratio),
    Target("server CPU per 10,000 updates, 1 client", "p4p", OURS, "s", "<=", 0.5,
           _per_round("server_cpu", lambda r: r["cpu1"] / r["n"] * 1e4)),
    Target("server CPU per 10,000 updates per client, 10 clients", "p4p", OURS, "s", "<=",
           0.4, _per_round("server_cpu", lambda r: r["cpu10"] / r["n"] * 1e4 / 10)),
    Target("1,000,000-element float64 array", "p4p", OURS, "MB/s", ">=", 1000,
           _per_round("array", lambda r: r["bytes"] / r["wall"] / 1e6)),
    Target("1,000 PVs connect + get", "p4p", OURS, "s", "<=", 0.5,
           _per_round("connect_get", lambda r: r["wall"] / r["count"] * 1000)),
]


def _targets_table(result, labels, quick):
    lines = ["| client | server | target | measured | result |", "|---|---|---|---|---|"]
    for t in TARGETS:
        want = "%s %s %s%s" % (t.text, t.op, _report.fmt(t.goal),
                               "x" if t.unit == "x" else " " + t.unit)
        if t.client not in labels or t.server not in labels:
            lines.append("| %s | %s | %s | not measured | - |" % (t.client, t.server, want))
            continue
        vals = [v for v in t.value(result["pairs"], t.client, t.server) if v is not None]
        if not vals:
            lines.append("| %s | %s | %s | failed | MISSED |" % (t.client, t.server, want))
            continue
        got = statistics.median(vals)
        ok = got >= t.goal if t.op == ">=" else got <= t.goal
        lines.append("| %s | %s | %s | %s%s | %s |" % (
            t.client, t.server, want, _report.fmt(got), "x" if t.unit == "x" else " " + t.unit,
            "met" if ok else "MISSED"))
    return "\n".join(lines)


def render(args, result, labels):
    """Markdown: own-server table, crossed tables, targets, notes."""
    out = []
    diag = _diagonal(result, labels)
    rows = []
    for w in PVA_WORKLOADS:
        metrics = w.metrics
        if w.key == "server_mem":
            metrics = [Metric("%s PVs" % "{:,}".format(c), "MB",
                              (lambda c: lambda r: r["rss%d" % c] / 1024)(c))
                       for c in w.params(args.quick)["npvs"]]
        for m in metrics:
            rows.append((w.title, m, diag[w.key]))
    out.append("Each implementation's client against its own server (p4p: pvxs); the "
               "crossed tables below hold every pair.  Server memory is measured in the "
               "first round only" + ("." if args.repeats == 1 else
                                     ", and so is every pair with caproto."))
    out.append("")
    out.append(_report.table(rows, labels, OURS, None))
    out.append("")
    out.append("## pvAccess, clients crossed with servers")
    out.append("")
    out.append("Rows: the client implementation; columns: the server implementation "
               "(each cell: that client against that server).  \"timeout\": the client "
               "gave up (typically it never found the server's PVs); \"skipped "
               "(timeout)\": the pair's first workload (connect and sequential gets) "
               "timed out in that round."
               + (" --quick leaves out: server CPU with other clients than p4p's, "
                  "for caproto's server, and with 10 clients for other servers than "
                  "ours; caproto's client's connect + get; array gets from caproto's "
                  "server." if args.quick else ""))
    out.append("")
    out.append("### Targets")
    out.append("")
    if args.quick:
        out.append("Quick mode: the targets refer to the full-mode counts; these values "
                   "are indicative only.")
        out.append("")
    out.append(_targets_table(result, labels, args.quick))
    out.append("")
    for w in PVA_WORKLOADS:
        if w.key not in PAIR_KEYS:
            continue
        for m in w.metrics:
            arrow = "" if m.info else ", %s is better" % m.better
            out.append("%s, %s [%s]%s:" % (w.title, m.label, m.unit, arrow))
            out.append("")
            out.append(_cross_table(result, labels, w.key, m))
            out.append("")
    notes = _pair_notes(result, labels, args.quick)
    if notes:
        out += notes
        out.append("")
    return "\n".join(out)
