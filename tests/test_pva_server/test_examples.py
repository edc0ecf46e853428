"""The example IOCs run as ``python -m pva.ioc_examples.NAME --prefix P: --list-pvs``."""
from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import threading

import numpy as np
import pytest
from p4p import Type, Value
from p4p.client.thread import Context as P4PContext, RemoteError
from p4p.nt import NTURI
from p4p.rpc import rpccall, rpcproxy

from server_helpers import client_conf_for

READY = re.compile(r"listening on TCP [\d.,]+:(\d+), UDP (\d+)")


class ExampleIOC:
    def __init__(self, name: str, prefix: str, argv=None):
        env = {k: v for k, v in os.environ.items() if not k.startswith("EPICS_PVA")}
        env.update({
            "EPICS_PVAS_INTF_ADDR_LIST": "127.0.0.1",
            "EPICS_PVAS_SERVER_PORT": "0",
            "EPICS_PVAS_BROADCAST_PORT": "0",
            "EPICS_PVAS_AUTO_BEACON_ADDR_LIST": "NO",
            "EPICS_PVAS_BEACON_ADDR_LIST": "",
        })
        self.proc = subprocess.Popen(
            (argv or [sys.executable, "-m", f"pva.ioc_examples.{name}"]) +
            ["--prefix", prefix, "--list-pvs"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.lines: "queue.Queue[str]" = queue.Queue()
        self.output = []
        threading.Thread(target=self._pump, daemon=True).start()
        self.port = self.udp_port = None
        while self.port is None:
            line = self.lines.get(timeout=60)
            if line is None:
                raise RuntimeError("example exited:\n" + "".join(self.output))
            m = READY.search(line)
            if m:
                self.port, self.udp_port = int(m.group(1)), int(m.group(2))

    def _pump(self):
        for line in self.proc.stderr:
            self.output.append(line)
            self.lines.put(line)
        self.lines.put(None)

    def wait_for_line(self, text: str) -> None:
        if any(text in line for line in self.output):
            return
        while True:
            line = self.lines.get(timeout=30)
            if line is None:
                raise AssertionError(f"{text!r} never logged")
            if text in line:
                return

    def client(self, nt=None):
        conf = client_conf_for(self.udp_port)
        return P4PContext("pva", conf=conf, useenv=False, **({} if nt is None else {"nt": nt}))

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:  # pragma: no cover
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def example():
    started = []

    def start(name, prefix, argv=None):
        ioc = ExampleIOC(name, prefix, argv)
        started.append(ioc)
        return ioc

    yield start
    for ioc in started:
        ioc.stop()


def test_normative(example):
    ioc = example("normative", "N:")
    ioc.wait_for_line("N:uint64_array")
    c = ioc.client()
    try:
        assert c.get("N:int8", timeout=10) == -8
        assert c.get("N:uint64", timeout=10) == 64
        assert c.get("N:float32", timeout=10) == 3.25
        assert c.get("N:string", timeout=10) == "hello"
        assert list(c.get("N:string_array", timeout=10)) == ["a", "b"]
        assert list(c.get("N:uint16_array", timeout=10)) == [1, 2]
        c.put("N:int16", 1234, timeout=10)
        assert c.get("N:int16", timeout=10) == 1234
        with pytest.raises(RemoteError):
            c.put("N:read_only", 2.0, timeout=10)
    finally:
        c.close()


def test_group(example):
    ioc = example("group", "G:")
    c = ioc.client(nt=False)
    try:
        q = queue.Queue()
        sub = c.monitor("G:counter", q.put)
        first = q.get(timeout=10).value
        assert q.get(timeout=10).value == first + 1  # the startup loop counts
        sub.close()
        res = c.rpc("G:rpc", Value(Type([("query", ("S", None, [("value", "s")]))]),
                                   {"query": {"value": "7"}}), timeout=10)
        assert res.todict() == {"value": 7, "info": "from rpc"}
        c.put("G:only_value", {"value": 3, "info": "no"}, timeout=10)
        assert c.get("G:only_value", timeout=10).todict() == {
            "value": 3, "info": "info cannot be written"}
    finally:
        c.close()


def test_table(example):
    ioc = example("table", "T:")
    c = ioc.client(nt=False)
    try:
        v = c.get("T:table", timeout=10)
        assert v.getID() == "epics:nt/NTTable:1.0"
        assert list(v.value.name) == ["x", "y"]
        res = c.rpc("T:append", Value(Type([("name", "s"), ("position", "d"), ("count", "i")]),
                                      {"name": "z", "position": 3.0, "count": 3}), timeout=10)
        assert res.value == 3
        v = c.get("T:table", timeout=10)
        assert list(v.value.name) == ["x", "y", "z"]
        assert list(v.value.position) == [1.5, -2.0, 3.0]
    finally:
        c.close()


def test_ndarray(example):
    ioc = example("ndarray", "I:")
    c = ioc.client()
    try:
        q = queue.Queue()
        sub = c.monitor("I:image", q.put)
        a = q.get(timeout=10)
        b = q.get(timeout=10)
        assert a.shape == b.shape == (64, 96) and a.dtype == np.uint16
        assert not np.array_equal(a, b)
        sub.close()
        c.put("I:rate", 20.0, timeout=10)
        with pytest.raises(RemoteError, match="rate"):
            c.put("I:rate", 1000.0, timeout=10)
    finally:
        c.close()


def test_advanced(example):
    ioc = example("advanced", "A:")
    c = ioc.client(nt=False)
    try:
        assert c.get("A:test", timeout=10).todict() == {"value": 5, "info": "a string"}
        c.put("A:test", {"value": 8}, timeout=10)
        assert c.get("A:test", timeout=10).value == 8
        with pytest.raises(RemoteError, match="negative"):
            c.put("A:test", {"value": -1}, timeout=10)
    finally:
        c.close()


def test_docs_opening_example(example, tmp_path):
    """The runnable example that opens docs/pva-server.rst."""
    doc = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "pva-server.rst")
    with open(doc, encoding="utf-8") as f:
        text = f.read()
    block = text.split("::\n\n", 1)[1].split("\nThen,", 1)[0]
    code = "\n".join(line[4:] for line in block.splitlines())
    script = tmp_path / "demo.py"
    script.write_text(code)
    ioc = example(None, "demo:", argv=[sys.executable, str(script)])
    c = ioc.client(nt=False)
    try:
        q = queue.Queue()
        sub = c.monitor("demo:counter", q.put)
        first = q.get(timeout=10).value
        assert q.get(timeout=10).value == first + 1
        sub.close()
        c.put("demo:setpoint", 3.5, timeout=10)
        assert c.get("demo:setpoint", timeout=10).value == 3.5
        with pytest.raises(RemoteError, match=">= 0"):
            c.put("demo:setpoint", -1.0, timeout=10)
        res = c.rpc("demo:doubler", Value(Type([("x", "i")]), {"x": 21}), timeout=10)
        assert res.todict() == {"value": 42, "info": "doubled"}
        # NTURI requests: strings, as the pvcall tools send them ...
        uri = NTURI([("x", "s")]).wrap("demo:doubler", kws={"x": "5"})
        assert c.rpc("demo:doubler", uri, timeout=10).todict() == {
            "value": 10, "info": "doubled"}
        # ... typed, as p4p's rpcproxy sends them ...
        proxy = _Doubler(context=c, format="demo:")
        assert proxy.double(x=8).todict() == {"value": 16, "info": "doubled"}
        # ... and our own pvcall, run as a user runs it
        env = {k: v for k, v in os.environ.items() if not k.startswith("EPICS_PVA")}
        env.update(client_conf_for(ioc.udp_port))
        out = subprocess.run([sys.executable, "-m", "pva.cli.pvcall", "demo:doubler", "x=12"],
                             env=env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert "int64_t value = 24" in out.stdout and '"doubled"' in out.stdout
    finally:
        c.close()


@rpcproxy
class _Doubler:
    @rpccall("%sdoubler")
    def double(x="i"):
        pass
