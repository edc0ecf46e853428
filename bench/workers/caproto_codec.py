"""caproto 0.8.1's pva codec on the inputs of bench/codec.py (Python 3.9 venv).

    python caproto_codec.py INPUT_DIR

INPUT_DIR (written by bench/codec.py) holds ``inputs.json`` -- the NTScalar
double value, the bits of the partial update, the ioid, and the bytes our
codec produced (hex) -- and ``array.bin``, our encoding of the 1e6-element
float64 array.  The worker builds the same type and value with caproto's API
(``pva_dataclass`` + ``get_pv_structure``, ``SimpleField``, ``BitSet``,
``DataWithBitSet``, ``ChannelMonitorResponseLE``), checks that caproto encodes
them to exactly our bytes and decodes our bytes back to the same values, then
times each workload the way bench/codec.py times ours (best of 5 runs of n
calls).  The last stdout line is one JSON object: ``times`` (seconds per call,
by workload key), ``mismatches`` (empty when both codecs agree) and ``notes``
(known, benign differences such as the header's protocol version byte).
"""
import json
import os
import sys

import numpy as np

import caproto
from _common import best, joined
from caproto.pva import (LITTLE_ENDIAN, BitSet, CacheContext, ChannelMonitorResponseLE,
                         DataWithBitSet, FieldArrayType, FieldType, Int32, Int64,
                         MessageFlags, MessageHeaderLE, SimpleField, from_wire,
                         get_pv_structure, pva_dataclass, to_wire)



# The type of pva.nt.NTScalar("d"): value, alarm, timeStamp.  (caproto's own
# NTScalarFloat64 also carries descriptor/display/control/valueAlarm, so it is
# a different structure; the field-description bytes are compared below.)
@pva_dataclass(name="alarm_t")
class Alarm:
    severity: Int32
    status: Int32
    message: str


@pva_dataclass(name="time_t")
class TimeStamp:
    secondsPastEpoch: Int64
    nanoseconds: Int32
    userTag: Int32


@pva_dataclass(name="epics:nt/NTScalar:1.0")
class NTScalarDouble:
    value: float
    alarm: Alarm
    timeStamp: TimeStamp


def run(indir):
    with open(os.path.join(indir, "inputs.json")) as f:
        inp = json.load(f)
    ours = {k: bytes.fromhex(v) for k, v in inp["bytes"].items()}
    with open(os.path.join(indir, "array.bin"), "rb") as f:
        ours["array"] = f.read()
    value = inp["value"]
    bits = BitSet(inp["bits"])
    ioid = inp["ioid"]
    scale = inp.get("scale", 1.0)
    mismatches = []
    notes = []

    def check(what, ok, detail=""):
        if not ok:
            mismatches.append("%s%s" % (what, (": " + detail) if detail else ""))

    def n_of(n):
        return max(1, int(n * scale))

    struct = get_pv_structure(NTScalarDouble)
    check("field description", joined(struct.serialize(endian=LITTLE_ENDIAN, cache=None))
          == ours["field_desc"], "caproto's structure differs from ours")

    # 1. whole structure ------------------------------------------------------
    def encode_full():
        return to_wire(struct, value=value, endian=LITTLE_ENDIAN)

    def decode_full():
        return from_wire(struct, data=ours["full"], endian=LITTLE_ENDIAN, cache=None)

    check("full encode", joined(encode_full()) == ours["full"])
    decoded, _, used = decode_full()
    check("full decode", decoded == value and used == len(ours["full"]), repr(decoded))

    # 2. partial update (BitSet + selected fields) ----------------------------
    partial = ours["partial"]

    def encode_partial():
        return DataWithBitSet(bitset=bits, interface=struct, data=value).serialize(
            endian=LITTLE_ENDIAN)

    def decode_partial():
        return DataWithBitSet(interface=struct).deserialize(partial, endian=LITTLE_ENDIAN)

    check("partial encode", joined(encode_partial()) == partial)
    dwb, _, used = decode_partial()
    want = {"value": value["value"], "timeStamp": value["timeStamp"]}
    got = {k: v for k, v in dwb.data.items() if v}     # caproto leaves "alarm": {}
    check("partial decode", got == want and set(dwb.bitset) == set(bits)
          and used == len(partial), repr(dwb))

    # 3. monitor message: payload decode, then encode with its header ---------
    payload = bytearray(ours["monitor_payload"])   # ctypes from_buffer needs writable
    cache = CacheContext()
    cache.ioid_interfaces[ioid] = struct
    flags = MessageFlags.APP_MESSAGE | MessageFlags.FROM_SERVER | MessageFlags.LITTLE_ENDIAN

    def message_round_trip():
        msg = ChannelMonitorResponseLE.deserialize(payload, cache=cache).data
        body = msg.serialize(cache=cache)
        header = MessageHeaderLE(flags=flags, command=msg.ID, payload_size=len(body))
        return msg, [header, body]

    msg, (header, body) = message_round_trip()
    check("monitor message encode (payload)", body == payload)
    # caproto writes protocol version 1 in the header, we write 2 (pvxs does too)
    header, our_header = bytearray(bytes(header)), bytearray(ours["monitor_message"][:8])
    if header[1] != our_header[1]:
        notes.append("header version byte: caproto %d, ours %d" % (header[1], our_header[1]))
        header[1] = our_header[1]
    check("monitor message encode (header)", header == our_header,
          "%s != %s" % (header.hex(), our_header.hex()))
    check("monitor message decode",
          msg.ioid == ioid and set(msg.pv_data.bitset) == set(bits)
          and msg.pv_data.data.get("value") == value["value"]
          and not msg.overrun_bitset, repr(msg))

    # 4. 1e6 float64 array ----------------------------------------------------
    afield = SimpleField(name="", field_type=FieldType.float64,
                         array_type=FieldArrayType.variable_array, size=1)
    arr = np.arange(float(inp["array_len"]))
    adata = memoryview(ours["array"])

    def encode_array():
        return to_wire(afield, value=arr, endian=LITTLE_ENDIAN)

    def decode_array():
        return from_wire(afield, data=adata, endian=LITTLE_ENDIAN, cache=None)

    check("array encode", joined(encode_array()) == ours["array"])
    got, _, used = decode_array()
    check("array decode", used == len(ours["array"])
          and np.array_equal(np.frombuffer(got, dtype=np.float64), arr))

    times = {
        "full_decode": best(decode_full, n_of(2000)),
        "full_encode": best(encode_full, n_of(2000)),
        "partial_decode": best(decode_partial, n_of(2000)),
        "partial_encode": best(encode_partial, n_of(2000)),
        "message": best(message_round_trip, n_of(1000)),
        "array_decode": best(decode_array, n_of(20)),
        "array_encode": best(encode_array, 1, repeat=max(1, min(3, int(3 * scale)))),
        "array_encode_bytes": best(lambda: joined(encode_array()), 1, repeat=1),
    }
    return {"times": times, "mismatches": mismatches, "notes": notes,
            "versions": {"caproto": caproto.__version__, "python": sys.version.split()[0]}}


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: %s INPUT_DIR" % sys.argv[0])
    sys.stdout.write(json.dumps(run(sys.argv[1])) + "\n")
