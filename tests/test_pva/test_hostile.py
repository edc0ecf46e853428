"""Hostile input: truncated, oversized, garbage and mutated bytes.

Every decoder must either succeed or raise :class:`pva.DecodeError` (never
another exception, never a hang), and refuse declared sizes beyond the input
or the configured limits before allocating.
"""
from __future__ import annotations

import random
import time
import tracemalloc

import numpy as np
import pytest
from p4p_capture import load_fixtures

import pva
from pva import (BitSet, DecodeError, FieldDesc, FieldType, IntrospectionCache,
                 Limits, PVRequest, Status, nt)

N_INPUTS = 100_000


def _corpus():
    """(kind, desc or None, valid bytes) samples to mutate."""
    samples = []
    for cap in load_fixtures().values():
        desc, _ = pva.decode_field_desc(memoryview(cap["type"]))
        samples.append(("partial", desc, cap["data"]))
        samples.append(("typed", None, cap["type"][:200] if len(cap["type"]) > 200 else cap["type"]))
    nd = nt.NTNDArray()
    v = nd.wrap(np.arange(6, dtype="i4").reshape(2, 3), attributes={"a": 1.5, "b": "x", "c": [1, 2]},
                timestamp=1.0)
    for order in "<>":
        samples.append(("value", nd.type, pva.encode_value(nd.type, v, order)))
        samples.append(("typed", None, pva.encode_field_desc_and_data(
            FieldDesc.struct([("u", FieldDesc.union([("a", FieldDesc(FieldType.int8))])),
                              ("v", FieldDesc.array(FieldDesc.variant()))]),
            {"u": ("a", 1), "v": [None, 1.5, "s", {"q": [1, 2]}]}, order, IntrospectionCache())))
        samples.append(("request", None, PVRequest.parse("field(value,alarm)record[queueSize=3]").encode(order)))
        samples.append(("status", None, Status.create_error("oops", "trace").encode(order)))
        samples.append(("bitset", None, BitSet({1, 70, 300}).encode(order)))
    return samples


SPECIAL = [b"\xfe\xff\xff\xff\xff", b"\xfe\xff\xff\xff\x7f", b"\xff", b"\xfd\x01\x00", b"\xfe\x01\x00",
           b"\x88", b"\x89", b"\x8a", b"\x82", b"\x80\x00\xfe\x00\x00\x01\x00", b"\x00"]


def _mutate(rng: random.Random, data: bytes, corpus) -> bytes:
    op = rng.randrange(6)
    if op == 0 and data:  # truncate
        return data[:rng.randrange(len(data))]
    if op == 1 and data:  # flip bytes
        b = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        return bytes(b)
    if op == 2:  # insert a hostile size or cache code
        i = rng.randrange(len(data) + 1)
        return data[:i] + rng.choice(SPECIAL) + data[i:]
    if op == 3:  # garbage
        return bytes(rng.randrange(256) for _ in range(rng.randrange(48)))
    if op == 4:  # splice two samples
        other = rng.choice(corpus)[2]
        return data[:rng.randrange(len(data) + 1)] + other[rng.randrange(len(other) + 1):]
    return data


def _decode(kind, desc, data, order, cache):
    mv = memoryview(data)
    if kind == "partial":
        _, _, off = pva.decode_partial(desc, mv, 0, order, {}, cache)
    elif kind == "value":
        _, off = pva.decode_value(desc, mv, 0, order, cache)
    elif kind == "typed":
        _, off = pva.decode_field_desc_and_data(mv, 0, order, cache)
    elif kind == "request":
        _, off = PVRequest.decode(mv, 0, order, cache)
    elif kind == "status":
        _, off = Status.decode(mv, 0, order)
    else:
        _, off = BitSet.decode(mv, 0, order)
    assert 0 <= off <= len(data)


def test_100k_mutated_inputs_raise_only_decode_error():
    rng = random.Random(20240521)
    corpus = _corpus()
    cache = IntrospectionCache()
    ok = errors = 0
    t0 = time.perf_counter()
    for i in range(N_INPUTS):
        kind, desc, data = corpus[rng.randrange(len(corpus))]
        mutated = _mutate(rng, data, corpus)
        order = "<" if i & 1 else ">"
        if i % 1000 == 0:
            cache = IntrospectionCache()
        try:
            _decode(kind, desc, mutated, order, cache)
            ok += 1
        except DecodeError as ex:
            assert str(ex)
            errors += 1
    elapsed = time.perf_counter() - t0
    print(f"\n{N_INPUTS} hostile inputs in {elapsed:.2f} s: {ok} decoded, {errors} DecodeError")
    assert ok + errors == N_INPUTS and errors > N_INPUTS // 10 and ok > 0
    assert elapsed < 60


def test_every_truncation_of_every_capture():
    for cap in load_fixtures().values():
        desc, _ = pva.decode_field_desc(memoryview(cap["type"]))
        for data, dec in ((cap["type"], lambda mv: pva.decode_field_desc(mv, 0, "<")),
                          (cap["data"], lambda mv: pva.decode_partial(desc, mv))):
            for n in range(len(data)):
                with pytest.raises(DecodeError):
                    dec(memoryview(data[:n]))


@pytest.mark.parametrize("desc", [
    FieldDesc.array(FieldType.float64), FieldDesc.array(FieldType.string),
    FieldDesc.array(FieldDesc.struct([("a", FieldDesc(FieldType.int8))])),
    FieldDesc.array(FieldDesc.union([("a", FieldDesc(FieldType.int8))])),
    FieldDesc.array(FieldDesc.variant()), FieldDesc(FieldType.string),
])
def test_huge_declared_lengths_refused_before_allocation(desc):
    data = b"\xfe\xff\xff\xff\x7f" + bytes(64)
    tracemalloc.start()
    try:
        with pytest.raises(DecodeError, match="exceeds") as info:
            pva.decode_value(desc, data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20
    assert info.value.offset == 0


def test_configured_limits():
    desc = FieldDesc.array(FieldType.uint8)
    data = pva.encode_value(desc, np.zeros(1001, dtype="u1"))
    assert pva.decode_value(desc, data, limits=Limits(max_array_length=1001))[0].size == 1001
    with pytest.raises(DecodeError, match="limit of 1000"):
        pva.decode_value(desc, data, limits=Limits(max_array_length=1000))
    sdata = pva.encode_value(FieldDesc(FieldType.string), "x" * 300)
    with pytest.raises(DecodeError, match="limit of 100"):
        pva.decode_value(FieldDesc(FieldType.string), sdata, limits=Limits(max_string_length=100))


def test_deep_variant_nesting_is_refused_not_recursed():
    data = b"\x82" * 200_000
    t0 = time.perf_counter()
    with pytest.raises(DecodeError, match="nested deeper"):
        pva.decode_value(FieldDesc.variant(), data)
    with pytest.raises(DecodeError, match="nested deeper"):
        pva.decode_field_desc(memoryview(b"\x88" * 200_000))
    assert time.perf_counter() - t0 < 10  # refused at the limit, not after 200,000 levels


def test_type_cache_cannot_grow_without_bound():
    cache = IntrospectionCache(max_entries=10)
    for i in range(10):
        pva.decode_field_desc(memoryview(bytes([0xFD, i, 0, 0x22])), 0, "<", cache)
    with pytest.raises(DecodeError, match="cache full"):
        pva.decode_field_desc(memoryview(bytes([0xFD, 99, 0, 0x22])), 0, "<", cache)
    # redefining a known id is allowed
    pva.decode_field_desc(memoryview(bytes([0xFD, 3, 0, 0x43])), 0, "<", cache)
    assert cache.received[3] == FieldDesc(FieldType.float64)


def test_bitset_and_union_garbage():
    desc = nt.NTScalar("d").type
    with pytest.raises(DecodeError, match="BitSet"):
        pva.decode_partial(desc, b"\xfe\x00\x00\x01\x00" + bytes(300))
    u = FieldDesc.union([("a", FieldDesc(FieldType.int8))])
    for bad in (b"\x01\x00", b"\xfe\x00\x00\x00\x01", b"\xfe"):
        with pytest.raises(DecodeError):
            pva.decode_value(u, bad)
    assert pva.decode_value(u, b"\xff") == (None, 1)
