"""Micro-benchmarks of the pva codec (no sockets): prints one table.

    python bench/codec.py

Measures the paths the issue sets targets for: an NTScalar double monitor
update (partial value, and as a whole message), a 1,000,000-element float64
array, and deframing a pipelined stream of small messages.
"""
import gc
import time

import numpy as np

import pva
from pva import nt
from pva._bitset import BitSet
from pva._header import Deframer, Direction, Framer
from pva._introspection import FieldDesc, FieldType
from pva._messages import (ChannelMonitorResponse, DataWithBitSet, MessageContext,
                           RequestTypes, decode_message, encode_message)
from pva._wire import Writer


def best(fn, n, repeat=5):
    """Best time per call of *fn* over *repeat* runs of *n* calls."""
    gc.collect()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        times.append((time.perf_counter() - t0) / n)
    return min(times)


def rows():
    desc = nt.NTScalar("d").type
    value = nt.NTScalar("d").wrap(1.5, timestamp=1.25)
    bits = BitSet({desc.bit_of["value"], desc.bit_of["timeStamp"]})
    data = memoryview(pva.encode_partial(desc, value, bits))
    target = dict(value)
    yield ("NTScalar double update: partial decode", best(
        lambda: pva.decode_partial(desc, data, 0, "<", target), 5000) * 1e6, "us", 10)
    yield ("NTScalar double update: partial encode", best(
        lambda: pva.encode_partial(desc, value, bits), 5000) * 1e6, "us", 10)

    ctx = MessageContext()
    ctx.types[7] = RequestTypes(13, desc)
    msg = ChannelMonitorResponse(7, subcommand=0).to_default(DataWithBitSet(value, bits))
    payload = b"".join(bytes(b) for b in encode_message(msg, "<", ctx))[8:]

    def message_round_trip():
        m = decode_message(13, Direction.SERVER, payload, "<", ctx)
        encode_message(m, "<", ctx)
    yield ("monitor message decode + encode", best(message_round_trip, 5000) * 1e6, "us", 20)

    adesc = FieldDesc.array(FieldType.float64)
    arr = np.arange(1e6)
    adata = memoryview(pva.encode_value(adesc, arr))
    yield ("1e6 float64 array decode (view)", best(
        lambda: pva.decode_value(adesc, adata), 50) * 1e3, "ms", 2)

    def encode_array():
        w = Writer("<")
        pva.write_value(w, adesc, arr)
        return w.buffers()
    yield ("1e6 float64 array encode (buffers)", best(encode_array, 50) * 1e3, "ms", None)

    frame = b"".join(bytes(b) for b in Framer(Direction.SERVER).encode(13, bytes(20)))
    for n in (10_000, 100_000):
        stream = frame * n
        chunks = [stream[i:i + 65536] for i in range(0, len(stream), 65536)]

        def deframe():
            d = Deframer(direction=Direction.SERVER)
            for c in chunks:
                d.feed(c)
        per = best(deframe, 1, repeat=3) / n
        yield ("deframe %d pipelined messages, per message" % n, per * 1e6, "us", None)


def main():
    print("| workload | measured | target |")
    print("|---|---|---|")
    for name, value, unit, target in rows():
        goal = "< %s %s" % (target, unit) if target is not None else ""
        print("| %s | %.3f %s | %s |" % (name, value, unit, goal))


if __name__ == "__main__":
    main()
