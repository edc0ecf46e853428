"""The workloads: worker names, parameters (full / --quick) and table rows.

Each ``Workload.key`` is the name a worker takes on its command line; each
``Metric`` turns a worker's JSON result into one table row.
"""
from _report import Metric

__all__ = ["WF_ELEMENTS", "Workload", "CA_WORKLOADS", "PVA_WORKLOADS", "AIO_WORKLOADS"]

WF_ELEMENTS = 1000000


class Workload:
    """``only``: the implementations that have the API (others show "n/a")."""

    def __init__(self, key, title, full, quick, metrics, only=None):
        self.key = key
        self.title = title
        self.full = full
        self.quick = quick
        self.metrics = metrics
        self.only = only

    def params(self, quick):
        return dict(self.quick if quick else self.full)


def per_op(field, scale=1e6):
    return lambda r: r[field] / r["count"] * scale


def rate(r):
    return r["count"] / r["wall"]


def mb_per_s(r):
    return r["bytes"] / r["wall"] / 1e6


CA_WORKLOADS = [
    Workload("connect", "1. connect 1,000 channels", {"nchan": 1000}, {"nchan": 200}, [
        Metric("until all connected", "ms", lambda r: r["wall"] * 1e3,
               target=("max_ratio_c", 1.15)),
        Metric("client CPU", "ms", lambda r: r["cpu"] * 1e3)]),
    Workload("get_seq", "2. 2,000 sequential get + pend_io", {"n": 2000}, {"n": 200}, [
        Metric("time per get", "us", per_op("wall"), target=("max_ratio_c", 1.15)),
        Metric("CPU per get", "us", per_op("cpu"))]),
    Workload("get_batch", "3. 20,000 gets in flight, one pend_io",
             {"n": 20000, "nchan": 1000}, {"n": 2000, "nchan": 200}, [
        Metric("CPU per get", "us", per_op("cpu"), target=("max", 2.0)),
        Metric("time per get", "us", per_op("wall"))]),
    Workload("put_cb", "4. 5,000 sequential put-callback round trips", {"n": 5000},
             {"n": 300}, [
        Metric("time per put", "us", per_op("wall"), target=("max_ratio_c", 1.15)),
        Metric("CPU per put", "us", per_op("cpu"))]),
    Workload("monitor", "5. monitor flood (writer puts 50,000 values)", {"n": 50000},
             {"n": 3000}, [
        Metric("events delivered", "1/s", rate, better="higher"),
        Metric("client CPU per event", "us", per_op("cpu"), target=("max", 2.0)),
        Metric("events not delivered (coalesced)", "count", lambda r: r["lost"], info=True)]),
    Workload("waveform", "6. 1,000,000-element DOUBLE waveform get x20 into numpy",
             {"n": 20}, {"n": 3}, [
        Metric("throughput", "MB/s", mb_per_s, better="higher", target=("min_ratio_c", 0.9)),
        Metric("CPU per get", "ms", per_op("cpu", 1e3))]),
    Workload("ctrl_time", "7. DBR_CTRL_DOUBLE / DBR_TIME_DOUBLE gets to Python",
             {"n": 20000, "nchan": 1000}, {"n": 1000, "nchan": 200}, [
        Metric("DBR_CTRL_DOUBLE", "gets/s", lambda r: r["count"] / 2 / r["wall_ctrl"],
               better="higher"),
        Metric("DBR_TIME_DOUBLE", "gets/s", lambda r: r["count"] / 2 / r["wall_time"],
               better="higher")]),
    Workload("import_mem", "8. import, then connect 1,000 channels", {"nchan": 1000},
             {"nchan": 200}, [
        Metric("import time", "ms", lambda r: r["import_s"] * 1e3, not_for=("C",)),
        Metric("RSS after connecting", "MB", lambda r: r["rss_kb"] / 1024)]),
    # The one-liners of the prompt layer; C does the same work with the C API.
    Workload("caget_many", "9. caget_many of 1,000 scalar PVs (new channels)",
             {"nchan": 1000}, {"nchan": 200}, [
        Metric("connected and read", "ms", lambda r: r["wall"] * 1e3,
               target=("max_ratio_c", 2.0))], only=("ours", "C", "pyepics")),
    Workload("caget_one", "10. single caget on a connected PV", {"n": 2000}, {"n": 200}, [
        Metric("time per caget", "us", per_op("wall"), target=("max_ratio_c", 1.3))],
        only=("ours", "C", "pyepics")),
]

PVA_WORKLOADS = [
    Workload("get_seq", "2,000 sequential NTScalar double gets", {"n": 2000}, {"n": 100}, [
        Metric("time per get", "us", per_op("wall")),
        Metric("client CPU per get", "us", per_op("cpu"))]),
    Workload("monitor", "monitor flood, 50,000 updates of one PV (queueSize=10,000)",
             {"n": 50000, "queue": 10000}, {"n": 2000, "queue": 10000}, [
        Metric("updates received", "1/s", rate, better="higher"),
        Metric("updates lost (squashed)", "count", lambda r: r["lost"], info=True),
        Metric("client CPU per update", "us", per_op("cpu"))]),
    Workload("array", "1,000,000-element float64 NTScalarArray get x20",
             {"n": 20, "budget": 5, "elements": WF_ELEMENTS},
             {"n": 2, "budget": 1, "elements": 100000}, [
        Metric("throughput", "MB/s", mb_per_s, better="higher")]),
    Workload("connect_get", "1,000 PVs connect + get once", {"npvs": 1000}, {"npvs": 100}, [
        Metric("time for 1,000 PVs", "ms", lambda r: r["wall"] / r["count"] * 1e6)]),
    Workload("server_cpu", "server CPU per 10,000 monitor updates", {"n": 5000},
             {"n": 1000}, [
        Metric("1 client", "ms", lambda r: r["cpu1"] / r["n"] * 1e7),
        Metric("10 clients", "ms", lambda r: r["cpu10"] / r["n"] * 1e7),
        # with the default queueSize of 4 a server squashes what it has not
        # sent yet: how many the clients received, and the CPU per one of those
        Metric("delivered, 1 client", "%", lambda r: 100.0 * r["delivered1"] / r["n"],
               info=True),
        Metric("delivered, 10 clients", "%",
               lambda r: 100.0 * r["delivered10"] / (10 * r["n"]), info=True),
        Metric("1 client, per 10,000 delivered", "ms",
               lambda r: r["cpu1"] / r["delivered1"] * 1e7),
        Metric("10 clients, per 10,000 delivered", "ms",
               lambda r: r["cpu10"] / r["delivered10"] * 1e7)]),
    Workload("server_mem", "server memory (RSS)", {"npvs": [1000, 100000]},
             {"npvs": [1000]}, []),
]

# Channel Access from asyncio: caffi.aio against aioca, the same calls (workers/_aio.py).
# Targets are ratios to aioca ("max_ratio_c"/"min_ratio_c" against the baseline column).
AIO_WORKLOADS = [
    Workload("aget_one", "A1. await caget of one connected PV, 2,000 in sequence",
             {"n": 2000}, {"n": 300}, [
        Metric("time per get", "us", per_op("wall"), target=("max_ratio_c", 1.0)),
        Metric("CPU per get", "us", per_op("cpu"))]),
    Workload("aget_many", "A2. caget of a list of 1,000 PVs", {"nchan": 1000},
             {"nchan": 1000}, [
        Metric("new channels: connected and read", "ms", lambda r: r["wall"] * 1e3,
               target=("max_ratio_c", 0.5)),
        Metric("client CPU, new channels", "ms", lambda r: r["cpu"] * 1e3),
        Metric("channels connected: read", "ms", lambda r: r["wall_cached"] * 1e3,
               target=("max_ratio_c", 0.5)),
        Metric("client CPU, connected", "ms", lambda r: r["cpu_cached"] * 1e3)]),
    Workload("amonitor", "A3. camonitor flood, all_updates=True (writer puts 50,000 values)",
             {"n": 50000}, {"n": 5000}, [
        Metric("events delivered", "1/s", rate, better="higher",
               target=("min_ratio_c", 2.0)),
        Metric("client CPU per event", "us", per_op("cpu"), target=("max_ratio_c", 0.5)),
        Metric("events not delivered (coalesced by the server)", "count",
               lambda r: r["lost"], info=True)]),
]
