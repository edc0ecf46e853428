"""The command-line tools, run as ``python -m pva.cli.<tool>`` against a p4p server.

Where p4p's own CLI (``python -m p4p.client.cli``) overlaps, the output is compared.
"""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

pytestmark = pytest.mark.timeout(60)


def env_for(conf):
    env = {k: v for k, v in os.environ.items() if not k.startswith("EPICS_PVA")}
    env.update(conf)
    return env


def tool(conf, name, *args, check=True):
    r = subprocess.run([sys.executable, "-m", f"pva.cli.{name}", *args], env=env_for(conf),
                       capture_output=True, text=True, timeout=30)
    if check:
        assert r.returncode == 0, r.stderr
    return r


def p4p_cli(conf, *args):
    r = subprocess.run([sys.executable, "-m", "p4p.client.cli", *args], env=env_for(conf),
                       capture_output=True, text=True, timeout=30)
    return r.stdout


@pytest.fixture
def served(p4p_server):
    from p4p.nt import NTEnum, NTScalar, NTTable
    from p4p.server.thread import SharedPV

    def writable(pv):
        @pv.put
        def onput(p, op):
            p.post(op.value())
            op.done()
        return pv
    pvs = {
        "c:d": writable(SharedPV(nt=NTScalar("d"), initial=1.5)),
        "c:s": writable(SharedPV(nt=NTScalar("s"), initial="hi there")),
        "c:ai": writable(SharedPV(nt=NTScalar("ai"), initial=np.arange(3, dtype=np.int32))),
        "c:e": writable(SharedPV(nt=NTEnum(), initial={"index": 1, "choices": ["a", "b", "c"]})),
        "c:t": SharedPV(nt=NTTable([("x", "i"), ("n", "s")]), initial=[{"x": 1, "n": "q"}]),
    }
    rpc = SharedPV(nt=NTScalar("d"), initial=0.0)

    @rpc.rpc
    def onrpc(pv, op):
        q = op.value().query
        op.done(NTScalar("d").wrap(float(q.a) + float(q.b)))
    pvs["c:rpc"] = rpc
    srv, conf = p4p_server([pvs])
    return pvs, conf, srv


def test_pvget_raw_matches_p4p(served):
    _, conf, _ = served
    names = ["c:d", "c:s", "c:ai", "c:e", "c:t"]
    ours = tool(conf, "pvget", "-M", "raw", *names).stdout
    theirs = p4p_cli(conf, "--raw", "get", *names)
    assert ours == theirs and "double value = 1.5" in ours


def test_pvget_nt_matches_p4p_for_scalars(served):
    _, conf, _ = served
    names = ["c:d", "c:s", "c:e"]
    ours = tool(conf, "pvget", "-M", "nt", *names).stdout
    assert ours == p4p_cli(conf, "get", *names)
    assert ours.splitlines()[2] == "c:e b"


def test_pvget_json_and_request(served):
    import json
    _, conf, _ = served
    out = tool(conf, "pvget", "-M", "json", "-r", "field(value)", "c:ai").stdout
    name, _, text = out.partition(" ")
    assert name == "c:ai" and json.loads(text)["value"] == [0, 1, 2]


def test_pvget_errors(served):
    _, conf, _ = served
    r = tool(conf, "pvget", "-w", "0.5", "c:d", "c:nope", check=False)
    assert r.returncode == 1
    assert r.stdout.startswith("c:d\n")
    assert "c:nope" in r.stderr and "timeout" in r.stderr
    r = tool(conf, "pvget", "-r", "field(value", "c:d", check=False)
    assert r.returncode == 1 and "at position 11" in r.stderr


def test_pvput_forms(served):
    pvs, conf, _ = served
    r = tool(conf, "pvput", "c:d", "2.5")
    assert r.stdout == ""                   # silent, as pvxs's pvxput
    assert pvs["c:d"].current().raw.value == 2.5
    r = tool(conf, "pvput", "-v", "c:d", "2.75")
    assert r.stdout.startswith("Writing fields:\n") and "    value double = 2.75\n" in r.stdout
    tool(conf, "pvput", "c:d", "value=3.5", "alarm.severity=1")
    assert pvs["c:d"].current().raw.alarm.severity == 1
    tool(conf, "pvput", "c:d", '{"value": 4.5}')
    tool(conf, "pvput", "c:ai", "4", "5")
    tool(conf, "pvput", "c:e", "c")
    tool(conf, "pvput", "c:s", "new text")
    theirs = p4p_cli(conf, "get", "c:d", "c:ai", "c:e", "c:s")
    assert theirs.splitlines()[0].endswith(" 4.5")
    assert "[4, 5]" in theirs.splitlines()[1]
    assert theirs.splitlines()[2] == "c:e c"
    assert theirs.splitlines()[3].endswith("'new text'")
    r = tool(conf, "pvput", "c:d", "abc", check=False)
    assert r.returncode == 1 and "cannot convert 'abc'" in r.stderr


def test_pvmonitor_count(served):
    pvs, conf, _ = served
    proc = subprocess.Popen([sys.executable, "-m", "pva.cli.pvmonitor", "-M", "nt", "-c", "3",
                             "c:d"],
                            env=env_for(conf), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        first = proc.stdout.readline()
        assert first.startswith("c:d ") and first.rstrip().endswith(" 1.5")
        pvs["c:d"].post(7.0)
        second = proc.stdout.readline()
        pvs["c:d"].post(8.0)
        rest, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
        proc.wait()
    assert second.rstrip().endswith(" 7") or second.rstrip().endswith(" 7.0")
    assert rest.rstrip().endswith(" 8") or rest.rstrip().endswith(" 8.0")
    assert proc.returncode == 0, err


def test_pvinfo(served):
    _, conf, srv = served
    out = tool(conf, "pvinfo", "c:d").stdout.splitlines()
    port = srv.conf()["EPICS_PVAS_SERVER_PORT"]
    assert out[0] == f"c:d from 127.0.0.1:{port}"
    assert out[1] == 'struct "epics:nt/NTScalar:1.0" {'
    assert "    double value" in out


def test_pvcall(served):
    _, conf, _ = served
    out = tool(conf, "pvcall", "c:rpc", "a=1.5", "b=2").stdout
    assert out.startswith('struct "epics:nt/NTScalar:1.0" {\n    double value = 3.5\n')
    assert tool(conf, "pvcall", "-M", "nt", "c:rpc", "a=1", "b=2").stdout.endswith(" 3\n")


def test_pvlist(served):
    _, conf, srv = served
    port = srv.conf()["EPICS_PVAS_SERVER_PORT"]
    out = tool(conf, "pvlist", "-w", "1").stdout.split()
    assert f"127.0.0.1:{port}" in out
    names = tool(conf, "pvlist", f"127.0.0.1:{port}").stdout.split()
    assert sorted(names) == sorted(["c:d", "c:s", "c:ai", "c:e", "c:t", "c:rpc"])
