"""The epicscorelibs soft IOC (qsrv, pvAccessCPP) as a pvAccess peer of the client tests."""
from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from typing import Iterator

from client_helpers import LOOPBACK, client_conf, free_tcp_port, free_udp_port

IOC_DB = """
record(ao, "$(P)ao") {
    field(VAL, "1.5")
    field(EGU, "mm")
    field(PREC, "3")
    field(HOPR, "10")
    field(LOPR, "-10")
}
record(longout, "$(P)long") {
    field(VAL, "42")
}
record(stringout, "$(P)str") {
    field(VAL, "hello")
}
record(bo, "$(P)bo") {
    field(ZNAM, "Off")
    field(ONAM, "On")
    field(VAL, "0")
}
record(waveform, "$(P)wf") {
    field(FTVL, "DOUBLE")
    field(NELM, "16")
}
record(calc, "$(P)count") {
    field(CALC, "A+1")
    field(INPA, "$(P)count NPP")
}
record(calc, "$(P)calc") {
    field(SCAN, ".1 second")
    field(CALC, "(A+1)%1000")
    field(INPA, "$(P)calc NPP")
}
"""


class Ioc:
    def __init__(self, proc, conf, prefix):
        self.proc = proc
        self.conf = conf
        self.prefix = prefix

    def pv(self, name: str) -> str:
        return self.prefix + name


@contextlib.contextmanager
def start_ioc(directory) -> Iterator[Ioc]:
    """A soft IOC (qsrv) serving IOC_DB on its own ports, killed at the end."""
    db = directory / "test.db"
    db.write_text(IOC_DB)
    tcp, udp = free_tcp_port(), free_udp_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("EPICS_")}
    env.update(EPICS_PVA_SERVER_PORT=str(tcp), EPICS_PVA_BROADCAST_PORT=str(udp),
               EPICS_PVAS_INTF_ADDR_LIST=LOOPBACK, EPICS_PVA_AUTO_ADDR_LIST="NO",
               EPICS_PVA_ADDR_LIST="", EPICS_PVAS_BEACON_ADDR_LIST="",
               EPICS_PVAS_AUTO_BEACON_ADDR_LIST="NO",
               EPICS_CA_SERVER_PORT=str(free_tcp_port()), EPICS_CAS_INTF_ADDR_LIST=LOOPBACK,
               EPICS_CA_AUTO_ADDR_LIST="NO", EPICS_CA_ADDR_LIST=LOOPBACK)
    prefix = f"tst{os.getpid()}:"
    proc = subprocess.Popen([sys.executable, "-m", "epicscorelibs.ioc", "-m", f"P={prefix}",
                             "-d", str(db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    lines: "queue.Queue[bytes]" = queue.Queue()

    def pump(stream):
        for line in iter(stream.readline, b""):
            lines.put(line)
        lines.put(b"")
    threads = [threading.Thread(target=pump, args=(s,), daemon=True)
               for s in (proc.stdout, proc.stderr)]
    for t in threads:
        t.start()
    seen = []
    try:
        deadline = time.monotonic() + 30
        eof = 0
        while True:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            seen.append(line)
            if b"IOC Running" in line:
                break
            if line == b"":
                eof += 1
                if eof == 2:
                    raise RuntimeError(f"IOC exited: {b''.join(seen)!r}")
        yield Ioc(proc, client_conf(udp), prefix)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGCONT)      # in case a test stopped it
        proc.kill()
        proc.wait(10)
        for s in (proc.stdin, proc.stdout, proc.stderr):
            s.close()
