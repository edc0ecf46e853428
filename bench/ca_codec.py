"""Micro-benchmarks of the sans-I/O Channel Access core: caffi.protocol against caproto's.

    python bench/ca_codec.py [--no-caproto]

The workloads are written once, against the API both share (``import
caffi.protocol as caproto`` or ``import caproto``): a server-role circuit
sending subscription updates and answering reads, a client-role circuit
receiving pipelined updates, a server-role circuit receiving pipelined read
requests, and a 1e6-element float64 array both ways.  Ours runs in this
process; caproto (1.3.0, its latest release) runs the same file as a worker
in its own venv (bench/.envs/caproto-ca, made on first use by bench/_envs.py)
and reports its times as JSON.  Before timing, each worker checks that the
bytes it produces equal ours for the same commands (both must speak the same
protocol); a difference is printed under the table.  The ratio column is
caproto's time over ours.
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "workers"))
from _common import best, joined  # noqa: E402  (shared with the caproto workers)

CAPROTO_ENV = ("caproto-ca", ["caproto==1.3.0", "numpy"])
BASE_PYTHON = os.path.expanduser("~/.pyenv/versions/3.11.7/bin/python")
N_UPDATES = 1000
ARRAY_LEN = 1_000_000


def pair(ca):
    """A server-role and a client-role circuit with channel sid 7 (a DOUBLE)
    and subscription 1 (TIME_DOUBLE) set up on both."""
    server = ca.VirtualCircuit(ca.SERVER, ("127.0.0.1", 40000), None)
    client = ca.VirtualCircuit(ca.CLIENT, ("127.0.0.1", 5064), 0)
    steps = [(client, server, ca.VersionRequest(priority=0, version=13)),
             (server, client, ca.VersionResponse(13)),
             (client, server, ca.CreateChanRequest(name="bench:pv", cid=1, version=13)),
             (server, client, ca.AccessRightsResponse(cid=1, access_rights=3)),
             (server, client, ca.CreateChanResponse(data_type=6, data_count=1, cid=1, sid=7)),
             (client, server, ca.EventAddRequest(data_type=20, data_count=1, sid=7,
                                                 subscriptionid=1, low=0, high=0, to=0,
                                                 mask=1))]
    for sender, receiver, command in steps:
        data = joined(sender.send(command))
        commands, _ = receiver.recv(data)
        for c in commands:
            receiver.process_command(c)
    return server, client


def run(ca):
    """Times (seconds per call) and the bytes produced, by workload key."""
    times, produced = {}, {}
    server, client = pair(ca)
    # status 0, severity 0, time stamp (1000 s, 500 ns): caproto's metadata is a
    # ctypes structure whose time stamp is a nested one
    if ca.__name__ == "caproto":
        metadata = ca.DBR_TYPES[ca.ChannelType.TIME_DOUBLE](0, 0, ca.TimeStamp(1000, 500))
    else:
        metadata = ca.DBR_TIME_DOUBLE(0, 0, 1000, 500)

    def update():
        return server.send(ca.EventAddResponse(data=(1.5,), data_type=20, data_count=1,
                                               status=1, subscriptionid=1,
                                               metadata=metadata))
    produced["update"] = joined(update()).hex()
    times["update_send"] = best(update, 20000)

    stream = joined(update()) * N_UPDATES

    def receive_updates():
        commands, _ = client.recv(stream)
        for c in commands:
            client.process_command(c)
    times["updates_recv"] = best(receive_updates, 20) / N_UPDATES

    requests = b"".join(
        joined(client.send(ca.ReadNotifyRequest(data_type=20, data_count=1, sid=7, ioid=i)))
        for i in range(N_UPDATES))
    answered = iter(range(10 ** 9))

    def receive_requests():
        # fresh ioids each round, answered so that none stays pending
        data = b"".join(bytes(ca.ReadNotifyRequest(data_type=20, data_count=1, sid=7,
                                                   ioid=next(answered)))
                        for _ in range(100))      # (the client's encoding, not timed apart)
        commands, _ = server.recv(data)
        for c in commands:
            server.process_command(c)
            server.send(ca.ReadNotifyResponse(data=(1.5,), data_type=20, data_count=1,
                                              status=1, ioid=c.ioid, metadata=metadata))
    times["read_roundtrip"] = best(receive_requests, 50) / 100
    produced["requests"] = requests[:64].hex()

    arr = np.arange(float(ARRAY_LEN))

    def array_encode():
        return ca.ReadNotifyResponse(data=arr, data_type=6, data_count=ARRAY_LEN, status=1,
                                     ioid=5)
    times["array_encode"] = best(array_encode, 10)
    big = bytes(array_encode())
    produced["array_head"] = big[:64].hex()

    def array_decode():
        c = ca.VirtualCircuit(ca.CLIENT, ("127.0.0.1", 5064), 0)
        c.max_array_bytes = 1 << 30
        if hasattr(c, "max_payload"):
            c.max_payload = 1 << 30
        commands, _ = c.recv(big)
        assert float(commands[0].data[-1]) == ARRAY_LEN - 1
    times["array_decode"] = best(array_decode, 10)
    return times, produced


ROWS = [("update_send", "server: EventAddResponse TIME_DOUBLE built + sent", "us"),
        ("updates_recv", "client: pipelined update recv + process, per update", "us"),
        ("read_roundtrip", "server: ReadNotifyRequest recv + answer, per request", "us"),
        ("array_encode", "1e6 float64 ReadNotifyResponse built", "ms"),
        ("array_decode", "1e6 float64 ReadNotifyResponse decode", "ms")]


def caproto_times(produced):
    sys.path.insert(0, HERE)
    from _envs import ensure_venv
    python, reason = ensure_venv(CAPROTO_ENV[0], BASE_PYTHON, CAPROTO_ENV[1])
    if python is None:
        return None, "caproto unavailable: %s" % reason
    proc = subprocess.run([python, os.path.abspath(__file__), "--worker"],
                          capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        return None, "caproto worker failed:\n" + proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    diffs = [k for k in produced if result["produced"].get(k) != produced[k]]
    note = ("bytes differ for: %s" % ", ".join(diffs)) if diffs else "same bytes"
    return result["times"], note


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-caproto", action="store_true")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        import caproto
        times, produced = run(caproto)
        print(json.dumps({"times": times, "produced": produced}))
        return
    import caffi.protocol as ours
    times, produced = run(ours)
    theirs, note = (None, "not run") if args.no_caproto else caproto_times(produced)
    print("%-56s %12s %12s %7s" % ("workload", "caffi", "caproto", "ratio"))
    for key, label, unit in ROWS:
        scale = 1e6 if unit == "us" else 1e3
        mine = times[key] * scale
        other = theirs[key] * scale if theirs else None
        print("%-56s %9.2f %s %9s %s %7s" % (
            label, mine, unit, "%.2f" % other if other else "-", unit if other else "  ",
            "%.1fx" % (other / mine) if other else "-"))
    print("caproto 1.3.0: %s" % note)


if __name__ == "__main__":
    main()
