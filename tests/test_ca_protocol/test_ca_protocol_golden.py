"""Golden bytes: real libca <-> rsrv traffic decodes and re-encodes exactly.

``tests/data/ca_golden.json`` is recorded by ``ca_recorder.py`` (run it to
re-record; ``test_rerecord`` does so into a temporary file on every run, so
the recorder itself stays working).  Each TCP connection is replayed through
a pair of circuits, one per role, in the order the relay saw the chunks: the
server-role circuit receives what the client sent and the client-role
circuit sends it (and the other way round), so both tables check every
command in both directions.  Every command must re-encode to exactly the
bytes received, both as decoded and when built again from its fields with
the public constructor.
"""
import collections

import numpy as np
import pytest

import caffi.protocol as ca
import ca_recorder

DOC, REC = ca_recorder.load()

#: constructor keywords beyond caproto's fields, for commands that have them
EXTRA = {"VersionRequest": ("sequence_id",), "VersionResponse": ("priority", "sequence_id"),
         "EventCancelRequest": ("data_count",), "SearchResponse": ("data_count",),
         "NotFoundResponse": ("reply",)}


def rebuild(cmd):
    """The command built again from its fields."""
    name = type(cmd).__name__
    kwargs = {f: getattr(cmd, f) for f in cmd._fields}
    kwargs.update({f: getattr(cmd, f) for f in EXTRA.get(name, ())})
    return type(cmd)(**kwargs)


def replay_tcp(events):
    """Replay one connection; return the decoded commands by direction."""
    client = ca.VirtualCircuit(ca.CLIENT, ("127.0.0.1", 5064), 0, max_array_bytes=200000)
    server = ca.VirtualCircuit(ca.SERVER, ("127.0.0.1", 40000), None, max_array_bytes=200000)
    streams = {"c2s": bytearray(), "s2c": bytearray()}
    decoded = {"c2s": [], "s2c": []}
    for direction, data in events:
        receiver, sender = (server, client) if direction == "c2s" else (client, server)
        streams[direction] += data
        commands, _ = receiver.recv(data)
        for cmd in commands:
            receiver.process_command(cmd)
            sender.send(cmd)
            decoded[direction].append(cmd)
    for direction in streams:
        assert b"".join(bytes(c) for c in decoded[direction]) == bytes(streams[direction])
    return decoded


def _tcp_connections():
    conns = collections.OrderedDict()
    for transport, conn, direction, data in REC.events:
        if transport == "tcp":
            conns.setdefault(conn, []).append((direction, data))
    return conns


def _all_commands():
    out = []
    for events in _tcp_connections().values():
        for cmds in replay_tcp(events).values():
            out.extend(cmds)
    for transport, conn, direction, data in REC.events:
        if transport == "udp":
            role = ca.CLIENT if direction == "c2s" else ca.SERVER
            out.extend(ca.read_datagram(data, ("127.0.0.1", 1), role))
    return out


@pytest.mark.parametrize("conn", list(_tcp_connections()))
def test_tcp_connection_replays_exactly(conn):
    decoded = replay_tcp(_tcp_connections()[conn])
    assert decoded["c2s"] and decoded["s2c"]


def test_udp_datagrams_replay_exactly():
    n = 0
    for transport, conn, direction, data in REC.events:
        if transport != "udp":
            continue
        role = ca.SERVER if direction == "c2s" else ca.CLIENT   # the receiver's role
        b = ca.Broadcaster(role)
        commands = b.recv(data, ("127.0.0.1", 1))
        b.process_commands(commands)
        assert b"".join(bytes(c) for c in commands) == data
        # and the sender's broadcaster sends the same datagram
        assert ca.Broadcaster(role.other).send(*commands) == data
        n += 1
    assert n > 10


def canonical(cmd):
    """The bytes of ``cmd`` with what follows the NUL of each string value
    zeroed: rsrv formats numbers into the 40-byte slot without clearing it,
    so stale bytes of its send buffer follow the NUL on the wire; C (and
    every client) reads a string up to its NUL."""
    raw = bytearray(bytes(cmd))
    dtype = getattr(cmd, "data_type", None)
    if hasattr(cmd, "metadata") and ca.DBR_LAYOUTS[dtype].native is ca.ChannelType.STRING:
        start = len(cmd._raw_header) + ca.DBR_LAYOUTS[dtype].metadata_size
        for i in range(cmd.data_count):
            slot = raw[start + 40 * i:start + 40 * (i + 1)]
            nul = slot.find(0)
            if nul >= 0:
                raw[start + 40 * i + nul:start + 40 * i + len(slot)] = bytes(len(slot) - nul)
    return bytes(raw)


def test_every_command_rebuilds_from_its_fields():
    for cmd in _all_commands():
        again = rebuild(cmd)
        expected = canonical(cmd)
        if expected != bytes(cmd):   # only rsrv's strings carry stale bytes
            assert type(cmd).__name__ in ("ReadNotifyResponse", "EventAddResponse"), cmd
        assert bytes(again) == expected, (cmd, again)


def test_recording_covers_the_protocol():
    names = collections.Counter(type(c).__name__ for c in _all_commands())
    expected = {
        "VersionRequest", "VersionResponse", "SearchRequest", "SearchResponse",
        "NotFoundResponse", "EchoRequest", "EchoResponse", "Beacon", "RepeaterRegisterRequest",
        "RepeaterConfirmResponse", "EventAddRequest", "EventAddResponse",
        "EventCancelRequest", "EventCancelResponse", "ReadRequest", "ReadResponse",
        "WriteRequest", "EventsOffRequest", "EventsOnRequest", "ReadSyncRequest",
        "ReadSyncResponse", "ErrorResponse", "ClearChannelRequest", "ClearChannelResponse",
        "ReadNotifyRequest", "ReadNotifyResponse", "CreateChanRequest", "CreateChanResponse",
        "WriteNotifyRequest", "WriteNotifyResponse", "ClientNameRequest", "HostNameRequest",
        "AccessRightsResponse", "CreateChFailResponse"}
    assert expected <= set(names), expected - set(names)
    # rsrv never sends ServerDisconnResponse (only the portable server does)
    read_types = {int(c.data_type) for c in _all_commands()
                  if type(c).__name__ == "ReadNotifyResponse"}
    assert set(range(35)) | {37, 38} <= read_types
    put_types = {int(c.data_type) for c in _all_commands()
                 if type(c).__name__ == "WriteNotifyRequest"}
    assert set(range(7)) | {35, 36} <= put_types


def test_recorded_values_decode_as_the_ioc_set_them():
    reads = {}
    for cmd in _all_commands():
        if type(cmd).__name__ == "ReadNotifyResponse" and cmd.data_type == 34 \
                and cmd.data_count == 16:
            reads["wf:double"] = cmd
        if type(cmd).__name__ == "ReadNotifyResponse" and cmd.data_count == 10000:
            reads["big"] = cmd
    np.testing.assert_array_equal(reads["wf:double"].data, np.arange(16.0))
    assert reads["big"].header.extended and len(reads["big"]._raw_header) == 24
    np.testing.assert_array_equal(reads["big"].data, np.arange(10000.0))
    # rsrv answers the deprecated READ of one string with the string and its NUL only
    (bare,) = [c for c in _all_commands()
               if type(c).__name__ == "ReadResponse" and c.data_type == 0]
    assert bare.header.payload_size == 8 and bare.data == [b"123456"]   # as the scenario put it


def test_rerecord(tmp_path):
    """The recorder still works against the current IOC and libca."""
    rec = ca_recorder.record()
    path = tmp_path / "golden.json"
    ca_recorder.save(rec, str(path))
    _, again = ca_recorder.load(str(path))
    conns = collections.OrderedDict()
    for transport, conn, direction, data in again.events:
        if transport == "tcp":
            conns.setdefault(conn, []).append((direction, data))
    assert len(conns) == len(_tcp_connections())
    for events in conns.values():
        replay_tcp(events)
