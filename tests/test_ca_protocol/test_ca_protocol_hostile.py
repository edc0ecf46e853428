"""Hostile input: 100,000 random and mutated byte streams into a server-role
circuit raise nothing but RemoteProtocolError (no other exception, no hang,
no allocation beyond what was received), and UDP datagrams into a
server-role Broadcaster likewise.

The inputs are made by a seeded generator from the client-sent bytes of the
golden recording (real libca traffic): whole messages in random order,
truncated, with bytes flipped, with hostile sizes and counts written into
their headers, spliced, or plain garbage, fed in random chunk sizes.
"""
import random
import struct
import time
import tracemalloc

import pytest

import caffi.protocol as ca
import ca_recorder

N_INPUTS = 100_000
SEED = 20240614


def _client_messages():
    _, rec = ca_recorder.load()
    stream = b"".join(data for t, _, d, data in rec.events if t == "tcp" and d == "c2s")
    msgs = []
    offset = 0
    while offset < len(stream):
        cmd, n = ca.read_from_bytestream(stream, ca.CLIENT, 1 << 24, offset)
        msgs.append(stream[offset:offset + n])
        offset += n
    datagrams = [data for t, _, d, data in rec.events if t == "udp" and d == "c2s" and data]
    return msgs, datagrams


MESSAGES, DATAGRAMS = _client_messages()
VERSION = bytes(ca.VersionRequest(0, 13))
HOSTILE_WORDS = [0, 1, 0xFFFF, 0xFFFE, 0x7FFF, 0x8000, 0xFFFFFFFF, 0x7FFFFFFF, 39, 40, 41]


def _mutate(rng, data):
    op = rng.randrange(7)
    b = bytearray(data)
    if op == 0 and b:
        return bytes(b[:rng.randrange(len(b))])
    if op == 1 and b:
        for _ in range(rng.randint(1, 4)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        return bytes(b)
    if op == 2 and len(b) >= 16:
        # a hostile header field: size, type, count or an id
        field = rng.choice([(2, ">H"), (4, ">H"), (6, ">H"), (8, ">I"), (12, ">I")])
        word = rng.choice(HOSTILE_WORDS) & (0xFFFF if field[1] == ">H" else 0xFFFFFFFF)
        struct.pack_into(field[1], b, field[0], word)
        return bytes(b)
    if op == 3 and len(b) >= 16:
        # turn it into an extended header with hostile size and count
        ext = struct.pack(">HHHHIIII", struct.unpack_from(">H", b)[0], 0xFFFF,
                          rng.randrange(40), 0, 0, 0, rng.choice(HOSTILE_WORDS),
                          rng.choice(HOSTILE_WORDS))
        return ext + bytes(b[16:])
    if op == 4:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(64)))
    if op == 5:
        other = rng.choice(MESSAGES)
        return bytes(b[:rng.randrange(len(b) + 1)]) + other[rng.randrange(len(other) + 1):]
    return data


def _inputs(rng, n):
    for _ in range(n):
        msgs = [rng.choice(MESSAGES) for _ in range(rng.randint(1, 4))]
        if rng.random() < 0.7:
            msgs.insert(0, VERSION)
        data = b"".join(_mutate(rng, m) if rng.random() < 0.6 else m for m in msgs)
        yield data


def _feed(circuit, data, rng):
    """Feed ``data`` in random chunks; process every command."""
    i = 0
    while i < len(data):
        step = rng.choice((len(data), 1, 3, 16, 24, 100))
        commands, _ = circuit.recv(data[i:i + step])
        for cmd in commands:
            circuit.process_command(cmd)
            for name in cmd._fields:     # every field of an accepted command reads
                getattr(cmd, name)
        i += step


def _circuit(rng):
    """A fresh server-role circuit, or (half the time) one that already
    serves channels with the sids rsrv gave in the recording, so mutated
    requests reach the channel and id checks."""
    circuit = ca.VirtualCircuit(ca.SERVER, ("127.0.0.1", 1), None, max_array_bytes=16384)
    if rng.random() < 0.5:
        commands, _ = circuit.recv(VERSION + PREPARE)
        for cmd in commands:
            circuit.process_command(cmd)
        circuit.send(ca.VersionResponse(13))
        for cid in range(1, 13):
            circuit.send(ca.CreateChanResponse(rng.choice((0, 3, 6)), 16, cid, cid - 1))
    return circuit


PREPARE = b"".join(bytes(ca.CreateChanRequest("pv%d" % cid, cid, 13)) for cid in range(1, 13))


def test_hostile_streams_raise_only_protocol_errors():
    rng = random.Random(SEED)
    outcomes = {"ok": 0, "refused": 0}
    t0 = time.perf_counter()
    for data in _inputs(rng, N_INPUTS):
        circuit = _circuit(rng)
        try:
            _feed(circuit, data, rng)
        except ca.RemoteProtocolError:
            outcomes["refused"] += 1
        else:
            outcomes["ok"] += 1
    elapsed = time.perf_counter() - t0
    # both kinds occur: the generator is neither all garbage nor all valid
    assert outcomes["ok"] > N_INPUTS // 5 and outcomes["refused"] > N_INPUTS // 5, outcomes
    print("%d hostile inputs in %.1f s: %r" % (N_INPUTS, elapsed, outcomes))


def test_hostile_datagrams_raise_only_protocol_errors():
    rng = random.Random(SEED + 1)
    refused = 0
    for _ in range(20_000):
        data = _mutate(rng, rng.choice(DATAGRAMS))
        b = ca.Broadcaster(ca.SERVER)
        try:
            b.process_commands(b.recv(data, ("127.0.0.1", 1)))
        except ca.RemoteProtocolError:
            refused += 1
    assert 0 < refused < 20_000


@pytest.mark.parametrize("size,count", [(0xFFFFFFF8, 1), (1 << 24, 0xFFFFFFFF),
                                        (16392, 0xFFFFFFFF)])
def test_announced_sizes_allocate_nothing(size, count):
    """A header announcing a huge payload or count is refused from the
    header alone, without allocating for it."""
    header = struct.pack(">HHHHIIII", 19, 0xFFFF, 6, 0, 1, 1, size, count)
    body = b"\x00" * (size if size <= 16392 else 8)
    tracemalloc.start()
    try:
        circuit = ca.VirtualCircuit(ca.SERVER, ("h", 1), None, max_array_bytes=16384)
        circuit.recv(VERSION)
        with pytest.raises(ca.RemoteProtocolError):
            commands, _ = circuit.recv(header + body)
            for cmd in commands:
                circuit.process_command(cmd)
            raise AssertionError("accepted")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 200_000 + len(body)
