"""Gets of a large array PV of a PVAGroup, by p4p's client, in one run.

    .venv/bin/python bench/group_array_get.py [--count 1000000] [--gets 40]

Three PVs hold the same doubles: declared as a list (``pvaproperty(value=[...])``,
as caproto.pva's docs write it), as a numpy array, and as an
``NTScalarArrayFloat64Base`` dataclass instance built from an array.  Prints
the median time per get and MB/s of each, and the ratio of the first two to
the third (1.0: a list-valued PV costs nothing more).  The server runs in
this process's second thread, on loopback ports of its own.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

from pva import nt
from pva.server import PVAGroup, pvaproperty

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "test_pva_server"))
from server_helpers import ServerThread  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--count", type=int, default=1_000_000, help="doubles per array")
    p.add_argument("--gets", type=int, default=40, help="gets per PV")
    args = p.parse_args()
    data = np.linspace(0.0, 1.0, args.count)

    class Arrays(PVAGroup):
        as_list = pvaproperty(value=data.tolist())
        as_numpy = pvaproperty(value=data)
        as_dataclass = pvaproperty(value=nt.NTScalarArrayFloat64Base(value=data.copy()))

    srv = ServerThread(Arrays("bench:").pvdb).start()
    from p4p.client.thread import Context as P4PContext
    ctxt = P4PContext("pva", conf=srv.client_conf(), useenv=False, nt=False)
    try:
        results = {}
        for name in ("as_list", "as_numpy", "as_dataclass"):
            pv = "bench:" + name
            ctxt.get(pv, timeout=30)        # connect, warm up
            times = []
            for _ in range(args.gets):
                t0 = time.perf_counter()
                v = ctxt.get(pv, timeout=30)
                times.append(time.perf_counter() - t0)
            assert len(v.value) == args.count
            results[name] = statistics.median(times)
        base = results["as_dataclass"]
        mb = args.count * 8 / 1e6
        print(f"{args.count} doubles, median of {args.gets} gets by p4p's client")
        for name, t in results.items():
            print(f"  {name:13s} {t * 1e3:7.2f} ms  {mb / t:7.0f} MB/s  ratio {t / base:5.2f}")
    finally:
        ctxt.close()
        srv.stop()


if __name__ == "__main__":
    main()
