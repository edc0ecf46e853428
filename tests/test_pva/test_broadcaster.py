"""pva._broadcaster: search/beacon datagrams and the search sequence-id state."""
from __future__ import annotations

import random
import socket
import struct
import time

import pytest

from pva import DecodeError, LocalProtocolError, RemoteProtocolError, nt
from pva._broadcaster import Broadcaster
from pva._header import Direction
from pva._messages import Beacon, OriginTag, SearchFlags, SearchRequest, SearchResponse
from pva._values import FieldDescAndData


def joined(bufs):
    return b"".join(bytes(b) for b in bufs)


@pytest.mark.parametrize("order", ["<", ">"])
def test_search_round_trip(order):
    client = Broadcaster("client")
    server = Broadcaster("server", guid=b"0123456789ab", server_address=("10.0.0.2", 5075))
    req = client.search(["a", "b", "c"], reply_address=("0.0.0.0", 5076), unicast=True)
    assert req.flags & SearchFlags.UNICAST
    (got,) = server.recv(joined(client.send(req, byte_order=order)), ("10.0.0.1", 5076))
    assert server.process_command(got) == []
    assert [c.channel_name for c in got.channels] == ["a", "b", "c"]
    ids = [c.id for c in got.channels if c.channel_name != "b"]
    resp = server.search_response(got, ids)
    (r,) = client.recv(joined(server.send(resp, byte_order=order)), ("10.0.0.2", 5076))
    found = client.process_command(r, ("10.0.0.2", 5076))
    assert found == [("a", ("10.0.0.2", 5075)), ("c", ("10.0.0.2", 5075))]
    # pvxs answers twice: the duplicate is still accepted
    assert client.process_command(r) == found
    client.forget(req.sequence_id)
    with pytest.raises(RemoteProtocolError, match="of no pending search"):
        client.process_command(r)


def test_any_address_means_sender():
    client = Broadcaster("client")
    req = client.search(["x"])
    resp = SearchResponse(b"g" * 12, req.sequence_id, ("0.0.0.0", 5075),
                          [req.channels[0].id])
    assert client.process_command(resp, ("192.168.1.9", 5076)) == [("x", ("192.168.1.9", 5075))]


def test_unknown_ids_and_not_found():
    client = Broadcaster("client")
    req = client.search(["x"])
    with pytest.raises(RemoteProtocolError, match="of no pending search"):
        client.process_command(SearchResponse(b"g" * 12, req.sequence_id, ("1.2.3.4", 1), [999]))
    assert client.process_command(SearchResponse(b"g" * 12, req.sequence_id, ("1.2.3.4", 1),
                                                 [req.channels[0].id], found=False)) == []


def test_response_matched_by_instance_ids():
    """caproto 0.8's server answers every search with sequence id 0; as pvxs,
    the instance ids alone resolve it while their search is pending."""
    client = Broadcaster("client")
    first = client.search(["x", "y"])
    second = client.search(["z"])
    ids = [first.channels[1].id, second.channels[0].id]
    resp = SearchResponse(b"g" * 12, 0, ("1.2.3.4", 5075), ids)
    assert client.process_command(resp) == [("y", ("1.2.3.4", 5075)), ("z", ("1.2.3.4", 5075))]
    client.forget(second.sequence_id)
    with pytest.raises(RemoteProtocolError, match=r"ids \[%d\] of no pending" % ids[1]):
        client.process_command(resp)


def test_role_rules():
    client = Broadcaster(Direction.CLIENT)
    server = Broadcaster(Direction.SERVER)
    with pytest.raises(LocalProtocolError):
        server.search(["x"])
    with pytest.raises(LocalProtocolError):
        client.beacon()
    with pytest.raises(LocalProtocolError):
        client.send(Beacon())
    with pytest.raises(RemoteProtocolError):
        server.process_command(SearchResponse())
    with pytest.raises(LocalProtocolError):
        server.search_response(SearchRequest(1, ("0.0.0.0", 0), [(5, "x")]), [6])


def test_beacons_numbered_and_wrap():
    server = Broadcaster("server", guid=b"G" * 12, server_address=("0.0.0.0", 5075))
    client = Broadcaster("client")
    status = FieldDescAndData(nt.NTScalar("i").type, {"value": 3})
    seqs = []
    for _ in range(258):
        b = server.beacon()
        seqs.append(b.beacon_sequence_id)
    assert seqs[:3] == [0, 1, 2] and seqs[256] == 0
    b = server.beacon(status)
    (got,) = client.recv(joined(server.send(b)))
    assert isinstance(got, Beacon) and got.server_status.data["value"] == 3
    assert got.guid == b"G" * 12 and client.process_command(got) == []


def test_origin_tag_and_search_in_one_datagram():
    client = Broadcaster("client")
    server = Broadcaster("server")
    req = client.search(["pv"])
    data = joined(client.send(OriginTag("127.0.0.1"), req))
    tag, got = server.recv(data)
    assert tag.forwarder_address == "127.0.0.1" and got.channels == req.channels


def test_hostile_datagrams():
    client = Broadcaster("client")
    server = Broadcaster("server")
    good = [joined(client.send(client.search([f"pv{i}" for i in range(n)])))
            for n in (0, 1, 5)]
    good.append(joined(Broadcaster("server").send(SearchResponse(b"g" * 12, 1,
                                                                 ("1.2.3.4", 5), [1, 2]))))
    rng = random.Random(7)
    t0 = time.perf_counter()
    for _ in range(20000):
        d = bytearray(rng.choice(good))
        op = rng.randrange(4)
        if op == 0:
            for _ in range(rng.randint(1, 3)):
                d[rng.randrange(len(d))] = rng.randrange(256)
        elif op == 1:
            d = d[:rng.randrange(len(d))]
        elif op == 2:
            d = bytearray(rng.randrange(256) for _ in range(rng.randrange(60)))
        else:
            d[8 + 33:8 + 35] = b"\xff\xff"  # channel count 65535
        for bc in (client, server):
            try:
                for m in bc.recv(bytes(d)):
                    try:
                        bc.process_command(m)
                    except RemoteProtocolError:
                        pass
            except DecodeError:
                pass
    assert time.perf_counter() - t0 < 30
    with pytest.raises(DecodeError):
        server.recv(struct.pack(">BBBBI", 0xCA, 2, 0x01, 2, 0))  # control message


@pytest.mark.timeout(30)
def test_live_search_against_p4p(p4p_server_factory):
    """Our search datagram, answered by a real pvxs server."""
    from p4p.nt import NTScalar
    from p4p.server.thread import SharedPV
    server, _ = p4p_server_factory([{"bc:pv": SharedPV(nt=NTScalar("d"), initial=1.0)}])
    udp_port = int(server.conf()["EPICS_PVAS_BROADCAST_PORT"])
    tcp_port = int(server.conf()["EPICS_PVAS_SERVER_PORT"])
    bc = Broadcaster("client")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(5)
        reply_port = sock.getsockname()[1]
        req = bc.search(["bc:pv", "bc:nope"], reply_address=("127.0.0.1", reply_port),
                        unicast=True)
        sock.sendto(joined(bc.send(req)), ("127.0.0.1", udp_port))
        data, addr = sock.recvfrom(65536)
    (resp,) = bc.recv(data, addr)
    found = bc.process_command(resp, addr)
    assert [name for name, _ in found] == ["bc:pv"]
    assert found[0][1][1] == tcp_port
