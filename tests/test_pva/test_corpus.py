"""The golden traffic corpus (recorded from p4p/pvxs) against pva._header.

* Every recorded TCP stream deframes without error, fed whole, fed as the
  recorded chunks, and fed in random chunk sizes, with identical results.
* Re-encoding the frames (Framer for application messages, the control
  message objects for control messages) gives back the identical bytes.
* The application commands seen follow the scenario's expected sequence.
* A live run of every scenario (fresh p4p server and client through the
  recording relays) passes the same checks and matches the stored corpus
  message for message, so drift in p4p/pvxs or in the harness shows up.
"""
from __future__ import annotations

import glob
import os
import random

import pytest

import recorder
from pva._framing import Deframer, Framer
from pva._header import (
    ControlMessage,
    Direction,
    Frame,
    SetByteOrder,
    encode_header,
)

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
FILES = sorted(glob.glob(os.path.join(FIXTURES, "*.jsonl")))
SENDER = {"c2s": Direction.CLIENT, "s2c": Direction.SERVER}
ECHO = 2


def test_corpus_present_and_small():
    names = {os.path.basename(f)[:-len(".jsonl")] for f in FILES}
    assert names == set(recorder.SCENARIOS), "regenerate with tests/test_pva/record_corpus.py"
    total = sum(os.path.getsize(f) for f in glob.glob(os.path.join(FIXTURES, "*")))
    assert total < 1_000_000


def test_corpus_has_beacons():
    recs = [recorder.load_recording(f) for f in FILES]
    assert any(ev.transport == "beacon" for rec in recs for ev in rec.events)


def summary(items):
    out = []
    for it in items:
        if isinstance(it, Frame):
            out.append(("F", it.version, it.flags, it.command, bytes(it.payload)))
        else:
            out.append(("C", it.encode()))
    return out


def reencode(items) -> bytes:
    """Encode deframed items (segments kept apart) back into a byte stream."""
    out = []
    for it in items:
        if isinstance(it, ControlMessage):
            out.append(it.encode())
            continue
        seg = it.flags & 0x30
        if seg:
            out.append(encode_header(it.command, len(it.payload), flags=seg,
                                     direction=it.direction, byte_order=it.byte_order,
                                     version=it.version))
            out.append(bytes(it.payload))
        else:
            bufs = Framer(it.direction, it.byte_order, version=it.version).encode(
                it.command, it.payload)
            out.extend(bytes(b) for b in bufs)
    return b"".join(out)


def check_tcp_stream(data: bytes, chunks, direction: str):
    """All the per-stream checks; returns the reassembled items."""
    sender = SENDER[direction]
    d = Deframer(direction=sender)
    whole = d.feed(data)
    d.close()  # connections were closed cleanly: the stream ends on a boundary
    assert summary(Deframer(direction=sender).feed_all(chunks)) == summary(whole)
    rng = random.Random(len(data))
    for _ in range(5):
        d = Deframer(direction=sender)
        items = []
        pos = 0
        while pos < len(data):
            step = rng.choice((1, 2, 3, 7, 8, 9, 64, 1000, 100000))
            items += d.feed(data[pos:pos + step])
            pos += step
        assert d.at_boundary()
        assert summary(items) == summary(whole)
    # identical bytes after re-encoding; segments re-encoded one by one
    raw = Deframer(direction=sender, reassemble=False).feed(data)
    assert reencode(raw) == data
    for it in whole:
        assert it.direction is sender
    return whole


def app_commands(items, expected):
    cmds = [it.command for it in items if isinstance(it, Frame)]
    if ECHO not in expected:
        cmds = [c for c in cmds if c != ECHO]
    return cmds


def check_recording(rec: recorder.Recording):
    name = rec.meta["scenario"]
    scenario = recorder.SCENARIOS[name]
    streams = rec.streams("tcp")
    assert {d for (_, d) in streams} == {"c2s", "s2c"}
    assert {s for (s, _) in streams} == {0}, "one TCP connection per scenario"
    items = {}
    for (stream, direction), data in streams.items():
        items[direction] = check_tcp_stream(data, rec.chunks(stream, direction),
                                            direction)
        assert app_commands(items[direction], scenario.expected[direction]) == \
            scenario.expected[direction], (name, direction)
    # the server starts with Set-Byte-Order, then CONNECTION_VALIDATION
    first = items["s2c"][0]
    assert isinstance(first, SetByteOrder) and first.direction is Direction.SERVER
    assert items["s2c"][1].command == 1
    # pvxs encodes SEARCH big endian whatever the connection's byte order
    # (it reuses its UDP search encoder for name servers over TCP)
    for it in items["c2s"]:
        if isinstance(it, Frame) and it.command == 3:
            assert it.byte_order == ">"
    orders = {d: {it.byte_order for it in its if isinstance(it, Frame) and it.command != 3}
              for d, its in items.items()}
    if scenario.big_endian:
        # everything after the byte order switch is big endian
        assert first.byte_order == ">"
        assert orders["c2s"] == {">"}
        assert orders["s2c"] == {"<", ">"}  # validation was sent before the switch
        assert all(it.byte_order == ">" for it in items["s2c"][3:])
    else:
        assert orders == {"c2s": {"<"}, "s2c": {"<"}}
    # UDP: one message per datagram, searches one way, responses the other
    searches = rec.datagrams("c2s")
    responses = rec.datagrams("s2c")
    if scenario.tcp_search or scenario.raw:
        assert not searches and not responses
    else:
        assert searches and responses
        udp_orders = set()
        for dgrams, sender, cmd in ((searches, Direction.CLIENT, 3),
                                    (responses, Direction.SERVER, 4)):
            for dg in dgrams:
                d = Deframer(direction=sender)
                (frame,) = d.feed(dg)
                assert d.at_boundary()
                assert frame.command == cmd
                assert b"".join(bytes(b) for b in Framer(sender, frame.byte_order).encode(
                    cmd, frame.payload)) == dg
                udp_orders.add((sender, frame.byte_order))
        # pvxs encodes its UDP search requests big endian, whatever the host
        assert (Direction.CLIENT, ">") in udp_orders
    for dg in [ev.data for ev in rec.events if ev.transport == "beacon"]:
        d = Deframer(direction=Direction.SERVER)
        (frame,) = d.feed(dg)
        assert d.at_boundary() and frame.command == 0
        assert frame.byte_order == ">"  # pvxs sends all UDP big endian
    if scenario.raw:
        # the scripted client's segmented CREATE_CHANNEL, with control
        # messages between its segments, was accepted by pvxs
        segs = [it for it in Deframer(reassemble=False).feed(streams[(0, "c2s")])
                if isinstance(it, Frame) and it.command == 7]
        assert [s.flags & 0x30 for s in segs] == [0x10, 0x30, 0x20]
        assert sum(isinstance(it, ControlMessage) for it in items["c2s"]) == 2
    return items


def profile(items):
    """Drift fingerprint: (direction, kind, command, byte order) per message."""
    return {d: [(("F" if isinstance(it, Frame) else "C"), it.command, it.byte_order)
                for it in its] for d, its in items.items()}


@pytest.mark.parametrize("path", FILES, ids=lambda p: os.path.basename(p)[:-6])
def test_corpus_file(path):
    rec = recorder.load_recording(path)
    assert rec.meta["versions"]["p4p"]
    check_recording(rec)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", sorted(recorder.SCENARIOS))
def test_live_recording_matches_corpus(name):
    """Record afresh through the relays; same checks, same message profile."""
    rec = recorder.record_scenario(name)
    items = check_recording(rec)
    stored = recorder.load_recording(os.path.join(FIXTURES, f"{name}.jsonl"))
    stored_items = {d: Deframer().feed(data)
                    for (_, d), data in stored.streams("tcp").items()}
    assert profile(items) == profile(stored_items)
    assert rec.meta["result"] == stored.meta["result"]


def test_isolated_server_direct(p4p_server_factory):
    """The conftest helpers alone give a working, isolated server/client pair."""
    from p4p.client.thread import Context

    server, client_conf = p4p_server_factory([{"iso:pv": recorder._scalar_pv("d", 4.5)}])
    assert server.conf()["EPICS_PVAS_INTF_ADDR_LIST"] == "127.0.0.1"
    with Context("pva", conf=client_conf, useenv=False) as ctxt:
        assert float(ctxt.get("iso:pv", timeout=5)) == 4.5
