"""The pv* tools against pvxs: flags, output and exit codes of pvxs's tools.

The reference is ``pvxs_format`` (``pvxs_format.cpp``, compiled against the
libpvxs that p4p installs): it reads the same PV from the same server and
prints it with libpvxs's own value formatter, laid out as pvxs's
``pvxget``/``pvxmonitor``/``pvxinfo`` lay it out.  Our tools' stdout must be
byte for byte the same, for every type p4p can serve, in both formats, with
and without an array limit, with field selections, and for monitor updates
carrying partial BitSets.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

import numpy as np
import pytest

pytestmark = pytest.mark.timeout(120)


def env_for(conf, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("EPICS_PVA")}
    env.update(conf)
    env.update(extra)
    return env


def tool(conf, name, *args, env=None):
    return subprocess.run([sys.executable, "-m", f"pva.cli.{name}", *args],
                          env=env or env_for(conf), capture_output=True, text=True, timeout=60)


@pytest.fixture
def served(p4p_server):
    from p4p import Type, Value
    from p4p.nt import NTEnum, NTNDArray, NTScalar, NTTable
    from p4p.server.thread import SharedPV
    odd = Type([
        ("u", ("U", None, [("a", "d"), ("b", "s")])),
        ("unset", ("U", None, [("a", "d")])),
        ("v", "v"),
        ("empty", ("S", None, [])),
        ("sa", ("aS", "pt_t", [("x", "i"), ("y", "s")])),
        ("ua", ("aU", None, [("a", "d"), ("b", "s")])),
        ("va", "av"),
        ("txt", "s"),
        ("flags", "a?"),
        ("bytes", "ab"),
        ("f", "f"),
        ("big", "L"),
        ("nested", ("S", "n_t", [("inner", ("S", None, [("q", "i")])), ("r", "d")])),
    ], id="odd_t")
    oddv = Value(odd, {
        "u": ("b", "hello"), "v": 3.25, "sa": [{"x": 1, "y": "a"}, {"x": 2, "y": "b\nc"}],
        "ua": [("a", 1.5), ("b", "x")], "va": [1, "two"], "txt": "tab\there \"q\" \u00e9\x01",
        "flags": [True, False, True], "bytes": [-1, 2, 127], "f": 0.1, "big": 2**64 - 1,
        "nested": {"inner": {"q": 7}, "r": 1e-7},
    })
    pvs = {
        "c:d": SharedPV(nt=NTScalar("d", display=True, control=True, valueAlarm=True),
                        initial=1.5),
        "c:s": SharedPV(nt=NTScalar("s"), initial="hi there"),
        "c:i": SharedPV(nt=NTScalar("i"), initial=-42),
        "c:ad": SharedPV(nt=NTScalar("ad"), initial=np.linspace(0, 1, 30)),
        "c:as": SharedPV(nt=NTScalar("as"), initial=["x", "y z"]),
        "c:aempty": SharedPV(nt=NTScalar("ai"), initial=np.zeros(0, dtype=np.int32)),
        "c:e": SharedPV(nt=NTEnum(), initial={"index": 1, "choices": ["a", "b", "c"]}),
        "c:t": SharedPV(nt=NTTable([("x", "i"), ("n", "s")]),
                        initial=[{"x": 1, "n": "q"}, {"x": 2, "n": "r"}]),
        "c:odd": SharedPV(initial=oddv),
        "c:nd": SharedPV(nt=NTNDArray(), initial=np.arange(6, dtype=np.uint16).reshape(2, 3)),
    }
    srv, conf = p4p_server([pvs])
    return pvs, conf, srv


ALL = ["c:d", "c:s", "c:i", "c:ad", "c:as", "c:aempty", "c:e", "c:t", "c:odd", "c:nd"]


@pytest.mark.parametrize("fmt", ["delta", "tree"])
@pytest.mark.parametrize("limit", ["0", "2"])
def test_pvget_output_is_pvxs(served, pvxs_format, fmt, limit):
    _, conf, _ = served
    expected = ""
    for name in ALL:
        ref = pvxs_format(conf, "get", name, "", fmt, limit)
        assert ref.returncode == 0, ref.stderr
        expected += ref.stdout
    ours = tool(conf, "pvget", "-F", fmt, "-#", limit, *ALL)
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout == expected
    if fmt == "delta" and limit == "0":   # the default format is pvxs's default
        assert tool(conf, "pvget", *ALL).stdout == expected


@pytest.mark.parametrize("request_text", ["field(value,alarm)", "field(u,sa,nested.inner)",
                                          "field(timeStamp.nanoseconds)"])
def test_pvget_field_selection_is_pvxs(served, pvxs_format, request_text):
    _, conf, _ = served
    name = "c:odd" if "sa" in request_text else "c:d"
    for fmt in ("delta", "tree"):
        ref = pvxs_format(conf, "get", name, request_text, fmt, "0")
        assert ref.returncode == 0, ref.stderr
        ours = tool(conf, "pvget", "-F", fmt, "-r", request_text, name)
        assert ours.stdout == ref.stdout


def test_pvinfo_output_is_pvxs(served, pvxs_format):
    _, conf, _ = served
    for name in ALL:
        ref = pvxs_format(conf, "info", name)
        assert ref.returncode == 0, ref.stderr
        assert tool(conf, "pvinfo", name).stdout == ref.stdout


def test_pvmonitor_output_is_pvxs(pva_server, pvxs_format):
    """Updates with partial BitSets (a structure changed whole, single
    fields, an array), from our server, to both monitors at once."""
    from pva import nt
    from pva.server import DataWrapperBase
    pv = DataWrapperBase("m:x", nt.NTScalarFloat64(value=1.0))
    arr = DataWrapperBase("m:a", nt.NTScalarArrayInt32(value=np.arange(4, dtype=np.int32)))
    srv = pva_server({"m:x": pv, "m:a": arr})
    conf = srv.client_conf()
    updates = {pv: [{"value": 2.5},
                    {"alarm": {"severity": 2, "status": 1, "message": "high"}},
                    {"value": 3.0, "display": {"units": "mm"}}],
               arr: [{"value": np.arange(25, dtype=np.int32)}]}
    for fmt, limit in (("delta", "0"), ("tree", "3")):
        for wrapper, changes in updates.items():
            count = str(1 + len(changes))
            procs = [_Lines([pvxs_format.exe, "monitor", wrapper.name, "", fmt, limit, count],
                            pvxs_format.env(conf)),
                     _Lines([sys.executable, "-m", "pva.cli.pvmonitor", "-F", fmt, "-#", limit,
                             "-c", count, wrapper.name], env_for(conf))]
            try:
                for n, change in enumerate(changes, 1):
                    for p in procs:     # the previous update reached both: none is merged
                        p.wait_headers(wrapper.name, n)
                    srv.call(lambda c=change: wrapper.commit(c))
                ref, ours = (p.finish() for p in procs)
            finally:
                for p in procs:
                    p.kill()
            assert ref[0] == 0, ref[2]
            assert ours[0] == 0, ours[2]
            assert ours[1] == ref[1]
            assert ours[1].count(wrapper.name + "\n") == int(count)
            assert f"{wrapper.name} Connected to 127.0.0.1:{srv.port}" in ours[2]


class _Lines:
    """A process whose stdout lines are collected by a thread."""

    def __init__(self, argv, env):
        self.proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.lines = []
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.proc.stdout:
            with self.cond:
                self.lines.append(line)
                self.cond.notify_all()
        with self.cond:
            self.lines.append(None)
            self.cond.notify_all()

    def wait_headers(self, name, n, timeout=30.0):
        with self.cond:
            ok = self.cond.wait_for(lambda: None in self.lines or
                                    self.lines.count(name + "\n") >= n, timeout)
        assert ok and self.lines.count(name + "\n") >= n, "".join(filter(None, self.lines))

    def finish(self):
        err = self.proc.stderr.read()
        self.proc.wait(60)
        self.thread.join(10)
        return self.proc.returncode, "".join(filter(None, self.lines)), err

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


# ---- flags and exit codes ------------------------------------------------
def test_version_flag(served):
    _, conf, _ = served
    for name in ("pvget", "pvput", "pvmonitor", "pvinfo", "pvcall"):
        r = tool(conf, name, "-V")
        assert r.returncode == 0 and r.stdout.startswith("pva ") and "Python " in r.stdout


def test_usage_errors_exit_1(served):
    _, conf, _ = served
    r = tool(conf, "pvget", "-Q", "c:d")
    assert r.returncode == 1 and "usage:" in r.stderr
    r = tool(conf, "pvput", "c:d", "value=1", "oops")
    assert r.returncode == 1 and 'expected <fld>=<value> not "oops"' in r.stderr
    r = tool(conf, "pvcall", "c:d", "a=1", "a=2")
    assert r.returncode == 1 and "duplicate argument name a" in r.stderr
    r = tool(conf, "pvget", "-F", "fancy", "c:i")
    assert r.returncode == 0 and "Warning: ignoring unknown format 'fancy'" in r.stderr
    assert r.stdout.startswith("c:i\n    value int32_t = -42")      # delta, the default


def test_debug_and_verbose_flags(served):
    _, conf, _ = served
    r = tool(conf, "pvget", "-d", "c:i")
    assert r.returncode == 0 and "DEBUG pva." in r.stderr
    assert "DEBUG" not in tool(conf, "pvget", "c:i").stderr
    r = tool(conf, "pvget", "-v", "c:i")
    assert "Effective config" in r.stderr and f"EPICS_PVA_ADDR_LIST={conf['EPICS_PVA_ADDR_LIST']}" in r.stderr


def test_pvinfo_target_information(served):
    _, conf, _ = served
    r = tool(conf, "pvinfo", "-D")
    assert r.returncode == 0
    assert f"EPICS_PVA_ADDR_LIST={conf['EPICS_PVA_ADDR_LIST']}" in r.stdout
    assert " 127.0.0.1/255.0.0.0" in r.stdout and r.stdout.startswith("pva ")


def test_timeout_exits_1(served):
    _, conf, _ = served
    r = tool(conf, "pvget", "-w", "0.5", "c:i", "c:nope")
    assert r.returncode == 1 and "c:nope" in r.stderr
    assert r.stdout.startswith("c:i\n")


@pytest.mark.parametrize("argv", [["pvmonitor", "c:i"], ["pvget", "-w", "60", "c:nope"],
                                  ["pvinfo", "-w", "60", "c:nope"]])
def test_ctrl_c_exits_2(served, argv):
    import socket
    _, conf, _ = served
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as listener:
        # searches for c:nope also come here: once one arrives, the tool waits
        listener.bind(("127.0.0.1", 0))
        listener.settimeout(30)
        conf = dict(conf, EPICS_PVA_ADDR_LIST=conf["EPICS_PVA_ADDR_LIST"] +
                    " 127.0.0.1:%d" % listener.getsockname()[1])
        proc = subprocess.Popen([sys.executable, "-m", f"pva.cli.{argv[0]}", *argv[1:]],
                                env=env_for(conf), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            if argv[0] == "pvmonitor":
                assert proc.stdout.readline() == "c:i\n"     # subscribed and printing
            else:
                listener.recvfrom(65536)
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == 2, err
    assert "Traceback" not in err
