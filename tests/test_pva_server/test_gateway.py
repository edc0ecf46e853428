"""Our server behind p4p's gateway (``python -m p4p.gw``), reached by a p4p client."""
from __future__ import annotations

import json
import queue
import re
import subprocess
import sys
import threading

import pytest
from p4p.client.thread import Context as P4PContext

from pva import nt

from server_helpers import client_conf_for, free_udp_port

CONF_LINE = re.compile(r"(EPICS_PVAS?_\w+)\s*:\s*(\S*)")


@pytest.fixture
def gateway(serve, tmp_path):
    pvdb = {"gw:x": nt.NTScalarFloat64(value=1.5), "gw:n": nt.NTScalarInt32(value=3)}
    srv = serve(pvdb)
    config = {
        "version": 2,
        "readOnly": False,
        "clients": [{
            "name": "upstream", "provider": "pva",
            "addrlist": f"127.0.0.1:{srv.udp_port}", "autoaddrlist": False,
            "bcastport": free_udp_port(),
        }],
        "servers": [{
            "name": "downstream", "clients": ["upstream"],
            "interface": ["127.0.0.1"], "addrlist": "", "autoaddrlist": False,
            "serverport": 0, "bcastport": 0,
        }],
    }
    path = tmp_path / "gw.json"
    path.write_text(json.dumps(config))
    proc = subprocess.Popen([sys.executable, "-m", "p4p.gw", str(path)],
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    lines: "queue.Queue" = queue.Queue()
    output = []

    def pump():
        for line in proc.stderr:
            output.append(line)
            lines.put(line)
        lines.put(None)
    threading.Thread(target=pump, daemon=True).start()
    try:
        in_server = False
        server_conf = {}
        while True:
            line = lines.get(timeout=60)
            if line is None:
                raise RuntimeError("gateway exited:\n" + "".join(output))
            if "Server effective configuration" in line:
                in_server = True
            m = CONF_LINE.search(line)
            if in_server and m:
                server_conf[m.group(1)] = m.group(2)
            if "Setup GW clients to ignore GW servers" in line:
                break
        yield srv, int(server_conf["EPICS_PVAS_BROADCAST_PORT"])
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:  # pragma: no cover
            proc.kill()
            proc.wait()


def test_through_gateway(gateway):
    srv, gw_udp_port = gateway
    ctxt = P4PContext("pva", conf=client_conf_for(gw_udp_port), useenv=False, nt=False)
    try:
        assert ctxt.get("gw:x", timeout=10).value == 1.5
        ctxt.put("gw:n", 42, timeout=10)
        assert ctxt.get("gw:n", timeout=10).value == 42
        assert srv.call(lambda: srv.ctx.pvdb["gw:n"].data.value) == 42
        q = queue.Queue()
        sub = ctxt.monitor("gw:x", q.put)
        try:
            assert q.get(timeout=10).value == 1.5
            srv.call(lambda: srv.ctx.pvdb["gw:x"].commit({"value": 2.5}))
            assert q.get(timeout=10).value == 2.5
        finally:
            sub.close()
    finally:
        ctxt.close()
