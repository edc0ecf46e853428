"""Micro-benchmarks of the pva codec (no sockets), ours against caproto 0.8.1's.

    python bench/codec.py [--no-caproto]

Measures the paths the issue sets targets for: an NTScalar double value (whole,
and as a partial monitor update), a monitor message, a 1,000,000-element float64
array, and deframing a pipelined stream of small messages.

The same inputs go through caproto 0.8.1's pva codec, which needs Python 3.9:
it runs in bench/.envs/caproto (the venv bench/run.py uses for its caproto
anchor, created on first use by bench/_envs.py) as bench/workers/caproto_codec.py,
fed the bytes our codec produced.  The worker checks that caproto encodes the
same values to exactly those bytes and decodes them to the same values; any
difference is printed under the table.  The ratio column is caproto's time
over ours (how many times faster ours is; the goal is at least 5x).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

import pva
from pva import nt
from pva._bitset import BitSet
from pva._framing import Deframer, Framer
from pva._header import Direction
from pva._introspection import FieldDesc, FieldType
from pva._messages import (ChannelMonitorResponse, DataWithBitSet, MessageContext,
                           RequestTypes, decode_message, encode_message)
from pva._wire import Writer

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "workers"))
from _common import best, joined  # noqa: E402  (shared with the caproto workers)

CAPROTO_WORKER = os.path.join(HERE, "workers", "caproto_codec.py")
CAPROTO_ENV = ("caproto", ["caproto==0.8.1", "numpy"])   # shared with bench/run.py
RATIO_GOAL = 5.0
ARRAY_LEN = 1_000_000
IOID = 7


class Row:
    """One workload: our time, and the worker's key for caproto's (if any)."""

    def __init__(self, name, seconds, unit, target=None, caproto_key=None):
        self.name = name
        self.seconds = seconds
        self.unit = unit
        self.target = target
        self.caproto_key = caproto_key


def make_inputs():
    """The values both codecs work on, and the bytes ours makes of them."""
    ntd = nt.NTScalar("d")
    desc = ntd.type
    value = ntd.wrap(1.5, timestamp=1.25)
    bits = BitSet({desc.bit_of["value"], desc.bit_of["timeStamp"]})
    ctx = MessageContext()
    ctx.types[IOID] = RequestTypes(13, desc)
    msg = ChannelMonitorResponse(IOID, subcommand=0).to_default(DataWithBitSet(value, bits))
    message = joined(encode_message(msg, "<", ctx))
    adesc = FieldDesc.array(FieldType.float64)
    arr = np.arange(float(ARRAY_LEN))
    return {
        "desc": desc, "value": value, "bits": bits, "ctx": ctx,
        "adesc": adesc, "arr": arr,
        "bytes": {
            "field_desc": pva.encode_field_desc(desc),
            "full": pva.encode_value(desc, value),
            "partial": pva.encode_partial(desc, value, bits),
            "monitor_message": message,
            "monitor_payload": message[8:],
        },
        "array": pva.encode_value(adesc, arr),
    }


def our_rows(inp):
    desc, value, bits = inp["desc"], inp["value"], inp["bits"]
    full = memoryview(inp["bytes"]["full"])
    yield Row("NTScalar double value: decode", best(
        lambda: pva.decode_value(desc, full), 5000), "us", None, "full_decode")
    yield Row("NTScalar double value: encode", best(
        lambda: pva.encode_value(desc, value), 5000), "us", None, "full_encode")

    data = memoryview(inp["bytes"]["partial"])
    target = dict(value)
    yield Row("NTScalar double update: partial decode", best(
        lambda: pva.decode_partial(desc, data, 0, "<", target), 5000), "us", 10,
        "partial_decode")
    yield Row("NTScalar double update: partial encode", best(
        lambda: pva.encode_partial(desc, value, bits), 5000), "us", 10, "partial_encode")

    ctx = inp["ctx"]
    payload = inp["bytes"]["monitor_payload"]

    def message_round_trip():
        m = decode_message(13, Direction.SERVER, payload, "<", ctx)
        encode_message(m, "<", ctx)
    yield Row("monitor message decode + encode", best(message_round_trip, 5000), "us", 20,
              "message")

    adesc, arr = inp["adesc"], inp["arr"]
    adata = memoryview(inp["array"])
    yield Row("1e6 float64 array decode (view)", best(
        lambda: pva.decode_value(adesc, adata), 50), "ms", 2, "array_decode")

    def encode_array():
        w = Writer("<")
        pva.write_value(w, adesc, arr)
        return w.buffers()
    yield Row("1e6 float64 array encode (buffers)", best(encode_array, 50), "ms", None,
              "array_encode")

    yield Row("1e6 float64 array encode (bytes)", best(
        lambda: pva.encode_value(adesc, arr), 20), "ms", None, "array_encode_bytes")

    frame = joined(Framer(Direction.SERVER).encode(13, bytes(20)))
    for n in (10_000, 100_000):
        stream = frame * n
        chunks = [stream[i:i + 65536] for i in range(0, len(stream), 65536)]

        def deframe():
            d = Deframer(direction=Direction.SERVER)
            for c in chunks:
                d.feed(c)
        per = best(deframe, 1, repeat=3) / n
        yield Row("deframe %d pipelined messages, per message" % n, per, "us")


def log(msg):
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


def caproto_python():
    """The caproto 0.8.1 venv's interpreter, creating the venv on first use."""
    sys.path.insert(0, HERE)
    try:
        import _envs
        from _impls import python39
    finally:
        sys.path.remove(HERE)
    name, requirements = CAPROTO_ENV
    return _envs.ensure_venv(name, python39(), requirements, log=log)


def run_caproto(inp, scale=1.0):
    """Run the worker on our bytes; return its result, or ``{"error": reason}``."""
    python, why = caproto_python()
    if python is None:
        return {"error": "caproto venv unavailable: %s" % why}
    value = inp["value"]
    with tempfile.TemporaryDirectory(prefix="pva-codec-") as tmp:
        with open(os.path.join(tmp, "inputs.json"), "w") as f:
            json.dump({"value": value,
                       "bits": sorted(inp["bits"]),
                       "ioid": IOID,
                       "array_len": ARRAY_LEN,
                       "scale": scale,
                       "bytes": {k: v.hex() for k, v in inp["bytes"].items()}}, f)
        with open(os.path.join(tmp, "array.bin"), "wb") as f:
            f.write(inp["array"])
        proc = subprocess.run([python, CAPROTO_WORKER, tmp], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": "worker failed (rc %d): %s" % (proc.returncode, tail)}
    return json.loads(lines[-1])


def fmt(seconds, unit):
    return "%.3f %s" % (seconds * (1e6 if unit == "us" else 1e3), unit)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-caproto", action="store_true",
                        help="measure ours only (no caproto venv / worker)")
    parser.add_argument("--caproto-scale", type=float, default=1.0,
                        help="scale caproto's call counts (e.g. 0.2 for a quick run)")
    args = parser.parse_args(argv)

    inp = make_inputs()
    rows = list(our_rows(inp))
    theirs = {"error": "skipped (--no-caproto)"} if args.no_caproto else \
        run_caproto(inp, args.caproto_scale)
    times = theirs.get("times", {})
    label = "caproto %s" % theirs.get("versions", {}).get("caproto", "0.8.1")

    print("| workload | ours | %s | ratio | target |" % label)
    print("|---|---|---|---|---|")
    short = []
    for r in rows:
        goal = "< %s %s" % (r.target, r.unit) if r.target is not None else ""
        other = times.get(r.caproto_key)
        if other is None:
            cap, ratio = "n/a", ""
        else:
            x = other / r.seconds
            cap, ratio = fmt(other, r.unit), ("%.1fx" if x < 100 else "%.0fx") % x
            if other / r.seconds < RATIO_GOAL:
                short.append(r.name)
        print("| %s | %s | %s | %s | %s |" % (r.name, fmt(r.seconds, r.unit), cap, ratio, goal))

    print()
    print("ratio = caproto time / our time (goal: >= %gx)." % RATIO_GOAL)
    if "error" in theirs:
        print("caproto: %s" % theirs["error"])
    else:
        print("caproto ran under Python %s." % theirs["versions"]["python"])
        mism = theirs.get("mismatches", [])
        if mism:
            print("BYTES/VALUES DIFFER between the codecs: %s" % "; ".join(mism))
        else:
            print("Same bytes: caproto encodes the same values to exactly our bytes "
                  "and decodes ours to the same values.")
        for note in theirs.get("notes", []):
            print("Note: %s." % note)
        if short:
            print("Below the %gx goal: %s" % (RATIO_GOAL, "; ".join(short)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
