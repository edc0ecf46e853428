"""Server CPU per monitor update, alone: our server and p4p's, p4p's client.

    .venv/bin/python bench/server_cpu.py [--rounds N] [--n N] [--queue N] [--pythonpath DIR]

The "server CPU per 10,000 monitor updates" rows of bench/run.py without the
rest of the run (the machine may be shared): each round starts each server
(in a shuffled order) with the serve protocol of bench/workers, floods ``n``
updates to 1 and to 10 p4p client processes, and reads the server's CPU
from ``/proc`` around each flood (bench/_pva.py's ``_server_cpu``).  Prints
per round the milliseconds per 10,000 updates posted (and per client with
10) and the share of the posted updates the clients received (their default
pvRequest has a queueSize of 4: a server squashes what it has not sent yet,
so the share depends on how often it sends), and the median ratio ours /
p4p of the rounds, per update posted and per update delivered.

``--pythonpath DIR`` puts DIR in the workers' ``PYTHONPATH`` (to measure the
``pva`` of another checkout with this venv).
"""
import argparse
import os
import random
import statistics
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import _envs  # noqa: E402
import _pva  # noqa: E402
import _servers  # noqa: E402
from _impls import OURS, ours_python, pva_impls  # noqa: E402
from _runner import Runner  # noqa: E402

PREFIX = "bench:"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--n", type=int, default=5000, help="updates per flood")
    parser.add_argument("--queue", type=int, default=0,
                        help="the clients' queueSize (default: theirs, 4); a queue "
                        "as long as the flood delivers every update")
    parser.add_argument("--pythonpath", help="PYTHONPATH of the workers")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    impls = [i for i in pva_impls() if i.label in (OURS, "p4p")]
    cabench = _envs.build_cabench(ours_python(), log=lambda m: print(m, file=sys.stderr))
    for impl in impls:
        impl.prepare(cabench)
        if not impl.command:
            raise SystemExit("%s: %s" % (impl.label, impl.reason))
    client = [i for i in impls if i.label == "p4p"][0]
    env = _servers.epics_env()
    if args.pythonpath:
        env["PYTHONPATH"] = args.pythonpath
    rows = {impl.label: [] for impl in impls}
    with tempfile.TemporaryDirectory(prefix="bench-") as workdir:
        runner = Runner(env, workdir, False, 6000)
        for rnd in range(args.rounds):
            for impl in rng.sample(impls, len(impls)):
                server = _pva._start_server(runner, impl, 10, 10, PREFIX)
                try:
                    op, limit = _pva._limits(False, client, impl, "server_cpu")
                    res = _pva._server_cpu(runner, server, client, args.n, op, limit, PREFIX,
                                           queue=args.queue)
                finally:
                    server.stop()
                if "error" in res:
                    raise SystemExit("%s: %s" % (impl.label, res["error"]))
                one = res["cpu1"] / res["n"] * 1e4 * 1e3
                ten = res["cpu10"] / res["n"] * 1e4 * 1e3 / 10
                # updates the clients saw (the default queueSize of 4 lets
                # a server squash what it has not sent yet)
                got1 = 100.0 * res["delivered1"] / res["n"]
                got10 = 100.0 * res["delivered10"] / (10 * res["n"])
                rows[impl.label].append((one, ten, got1, got10))
                print("round %d  %-5s  1 client %7.1f ms (%4.1f%% delivered)   10 clients "
                      "%7.1f ms per client (%4.1f%% delivered)"
                      % (rnd + 1, impl.label, one, got1, ten, got10), file=sys.stderr)
    print("| server | 1 client [ms / 10,000 updates] | 10 clients [ms / 10,000 updates "
          "/ client] | delivered, 1 client [%] | delivered, 10 clients [%] |")
    print("|---|---|---|---|---|")
    for label, vals in rows.items():
        print("| %s | %.0f | %.0f | %.1f | %.1f |"
              % ((label,) + tuple(statistics.median(v[k] for v in vals) for k in range(4))))
    for k, what in ((0, "1 client"), (1, "10 clients")):
        ratios = [o[k] / p[k] for o, p in zip(rows[OURS], rows["p4p"])]
        print("ours / p4p, %s: %.2f (rounds: %s)" % (what, statistics.median(ratios),
                                                    ", ".join("%.2f" % r for r in ratios)))
        # the same per update received: a server that sends less costs less
        ratios = [(o[k] / o[k + 2]) / (p[k] / p[k + 2]) if o[k + 2] and p[k + 2] else
                  float("nan") for o, p in zip(rows[OURS], rows["p4p"])]
        print("ours / p4p per update delivered, %s: %.2f (rounds: %s)"
              % (what, statistics.median(ratios), ", ".join("%.2f" % r for r in ratios)))


if __name__ == "__main__":
    main()
