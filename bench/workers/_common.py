"""Shared plumbing of the benchmark workers (stdlib only, Python 3.9+).

A worker is run as ``python worker.py WORKLOAD key=value ...`` by bench/run.py
in the virtual environment of the implementation it measures.  It prints
``READY`` (flood workloads) when subscribed, and one JSON object as its last
stdout line: ``wall`` and ``cpu`` seconds of the timed section, ``count``
operations, ``rss_kb``, plus workload-specific keys.  The library under test
is imported inside each workload, so ``import_mem`` can time the import.
"""
import gc
import json
import resource
import sys
import time

__all__ = ["Timer", "FloodCount", "params", "ready", "result", "rss_kb", "main", "best",
           "joined"]


def best(fn, n, repeat=5):
    """Best time per call of *fn* over *repeat* runs of *n* calls (the codec
    benchmarks: bench/codec.py, bench/ca_codec.py and their caproto workers)."""
    gc.collect()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        times.append((time.perf_counter() - t0) / n)
    return min(times)


def joined(buffers):
    """The bytes of a list of buffers (an encoder's output)."""
    return b"".join(bytes(memoryview(b)) for b in buffers)


def rss_kb():
    """Current resident set size in kB (maxrss as a fallback)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


class Timer:
    """Wall (perf_counter) and CPU (process_time: all threads) of a section."""

    def __enter__(self):
        self.c0 = time.process_time()
        self.w0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.w0
        self.cpu = time.process_time() - self.c0
        return False


class FloodCount:
    """Counts the updates of a flood: values above *base*, up to *base* + *n*.

    ``count``, ``first`` and ``last`` (perf_counter of the first and last
    update counted); calling it with a value returns True once the last
    value arrived.
    """

    def __init__(self, base, n):
        self.base = base
        self.target = base + n
        self.count = 0
        self.first = self.last = 0.0

    def __call__(self, value):
        if value <= self.base:
            return False        # the value before the flood
        now = time.perf_counter()
        if self.count == 0:
            self.first = now
        self.count += 1
        self.last = now
        return value >= self.target


def params(argv):
    """Parse ``key=value`` arguments; numbers become int/float."""
    out = {}
    for arg in argv:
        key, _, value = arg.partition("=")
        for kind in (int, float):
            try:
                value = kind(value)
                break
            except ValueError:
                continue
        out[key] = value
    return out


def ready():
    """Tell the runner the subscription is in place."""
    sys.stdout.write("READY\n")
    sys.stdout.flush()


def result(wall, cpu, count, **extra):
    out = {"wall": wall, "cpu": cpu, "count": count, "rss_kb": rss_kb()}
    out.update(extra)
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()


def main(workloads):
    """Dispatch ``sys.argv`` to ``workloads[name](**params)``."""
    if len(sys.argv) < 2 or sys.argv[1] not in workloads:
        sys.stderr.write("usage: %s {%s} key=value ...\n"
                         % (sys.argv[0], ",".join(sorted(workloads))))
        return 1
    workloads[sys.argv[1]](**params(sys.argv[2:]))
    return 0
