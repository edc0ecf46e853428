"""Coverage-guided fuzzing of the pvAccess codec and both circuit roles (atheris).

Not part of the test suite and not a dependency: atheris 3.1.0 ships wheels
for CPython 3.12 and 3.13 only, so use a separate environment::

    python3.12 -m venv /tmp/fuzzenv
    /tmp/fuzzenv/bin/pip install atheris==3.1.0 numpy
    PYTHONPATH=. /tmp/fuzzenv/bin/python tools/fuzz_pva.py TARGET [CORPUS_DIR] -runs=1000000
    PYTHONPATH=. /tmp/fuzzenv/bin/python tools/fuzz_pva.py --make-corpus

``PYTHONPATH=.`` picks up this checkout's ``pva`` (pure Python); arguments
after TARGET go to libFuzzer (``-runs=N``, ``-max_total_time=S``, a corpus
directory to read and add to).  The seed corpus ``tools/fuzz_corpus/TARGET/``
is made from the recorded p4p traffic of ``tests/test_pva/fixtures`` by
``--make-corpus`` (a few dozen files per target; keep it small).

Targets, and the only exceptions each may raise:

=============== =============================================================
message         decode_message for every (command, sender), both byte orders,
                data messages with types known for their request ids:
                DecodeError
field_desc      a type description and value (with a type cache); a decoded
                type must fit the limits and encode/decode to itself:
                DecodeError
value           full and partial values of the recorded types: DecodeError
pvrequest       pvRequest structures (DecodeError) and strings
                (PVRequestError); a parsed request must survive its round trip
server_circuit  a server circuit fed a client's byte stream (replies made as
                a server would): RemoteProtocolError and subclasses
client_circuit  a client circuit with open GET/PUT/MONITOR/RPC requests fed a
                server's byte stream: RemoteProtocolError and subclasses
=============== =============================================================

Any other exception is a finding: libFuzzer stops and writes the input to
``crash-*``; fix it and add the input as a regression test.
"""
from __future__ import annotations

import glob
import hashlib
import json
import os
import pickle
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CORPUS = os.path.join(HERE, "fuzz_corpus")
FIXTURES = os.path.join(ROOT, "tests", "test_pva", "fixtures")
CAPTURES = os.path.join(ROOT, "tests", "test_pva", "data", "p4p_captures.json")


def _setup():
    global pva, KEYS, TYPES
    import pva
    from pva._messages import MESSAGES
    KEYS = sorted((int(c), int(s)) for c, s in MESSAGES)
    with open(CAPTURES) as f:
        caps = json.load(f)["captures"]
    TYPES = [pva.decode_field_desc(memoryview(bytes.fromhex(c["init_type"])))[0]
             for _, c in sorted(caps.items())]
    F, T = pva.FieldDesc, pva.FieldType
    TYPES.append(F.struct([("u", F.union([("a", F(T.int8)), ("s", F(T.string))])),
                           ("v", F.array(F.variant())), ("w", F.array(F.struct([("x", F(T.int32))]))),
                           ("z", F.array(F.union([("q", F(T.float64))])))]))


# ------------------------------------------------------------------ targets
def t_message(data: bytes) -> None:
    from pva._messages import MessageContext, RequestTypes, decode_message
    if len(data) < 2:
        return
    command, sender = KEYS[data[0] % len(KEYS)]
    order = ">" if data[1] & 1 else "<"
    ctx = MessageContext()
    n = len(TYPES)
    for ioid in range(4):
        ctx.types[ioid] = RequestTypes(command, TYPES[((data[1] >> 1) * 4 + ioid) % n],
                                       TYPES[(ioid + 1) % n])
    try:
        msg = decode_message(command, sender, data[2:], order, ctx)
    except pva.DecodeError:
        return
    if getattr(msg, "pv_request", None) is not None:
        msg.request.fields


def t_field_desc(data: bytes) -> None:
    from pva import IntrospectionCache, Limits
    from pva._values import _values_equal
    if not data:
        return
    order = ">" if data[0] & 1 else "<"
    limits = Limits(max_type_nodes=4096, max_message_nodes=4096)
    try:
        fdd, _ = pva.decode_field_desc_and_data(data[1:], 0, order, IntrospectionCache(), limits)
    except pva.DecodeError:
        return
    desc = fdd.interface
    if desc is None:
        return
    assert desc.node_count <= 4096, desc.node_count
    for cache in (None, IntrospectionCache()):
        wire = pva.encode_field_desc(desc, order, cache)
        assert pva.decode_field_desc(wire, 0, order, IntrospectionCache())[0] == desc
    wire = pva.encode_value(desc, fdd.data, order)
    again, _ = pva.decode_value(desc, wire, 0, order)
    assert _values_equal(again, fdd.data), (fdd.data, again)
    desc.descendants
    pva.default_value(desc)


def t_value(data: bytes) -> None:
    if len(data) < 2:
        return
    desc = TYPES[data[0] % len(TYPES)]
    order = ">" if data[1] & 1 else "<"
    try:
        if data[1] & 2 and desc.field_type == pva.FieldType.struct:
            pva.decode_partial(desc, data[2:], 0, order, {})
        else:
            pva.decode_value(desc, data[2:], 0, order)
    except pva.DecodeError:
        return


def t_pvrequest(data: bytes) -> None:
    from pva import PVRequest
    if not data:
        return
    if data[0] & 1:
        try:
            req = PVRequest.parse(data[1:].decode("utf-8", "replace"))
        except pva.PVRequestError:
            return
        assert PVRequest.decode(req.encode())[0] == req, req
        return
    try:
        req, _ = PVRequest.decode(data[1:], 0, ">" if data[0] & 2 else "<")
    except pva.DecodeError:
        return
    str(req)
    try:
        req.to_bitset(TYPES[0])
    except pva.LocalProtocolError:      # selects no field of this type (documented)
        pass


def _client_pair():
    """A client circuit with a connected channel and open operations; a server to answer."""
    from pva._circuit import ClientVirtualCircuit, ServerVirtualCircuit
    from pva._messages import (ChannelGetResponse, ChannelMonitorResponse, ChannelPutResponse,
                               ChannelRpcResponse)
    cli = ClientVirtualCircuit(("127.0.0.1", 5075))
    srv = ServerVirtualCircuit(("127.0.0.1", 40000))

    def deliver(src, dst, *msgs):
        for m in dst.recv(b"".join(bytes(b) for b in src.send(*msgs))):
            dst.process_command(m)

    deliver(srv, cli, srv.set_byte_order("<"), srv.validate_connection())
    deliver(cli, srv, cli.validate_connection(auth_nz="anonymous"))
    deliver(srv, cli, srv.validated_connection())
    ch = cli.create_channel("fuzz:pv")
    deliver(cli, srv, ch.create())
    deliver(srv, cli, srv.channel_by_cid(ch.cid).create())
    ch = cli.channel_by_cid(ch.cid)
    desc = TYPES[-1]
    for op, reply in ((ch.read(), lambda i: ChannelGetResponse(i).to_init(desc)),
                      (ch.write(), lambda i: ChannelPutResponse(i).to_init(desc)),
                      (ch.subscribe(), lambda i: ChannelMonitorResponse(i).to_init(pva.Status(), desc)),
                      (ch.rpc(), lambda i: ChannelRpcResponse(i).to_init(pva.Status()))):
        deliver(cli, srv, op)
        deliver(srv, cli, reply(op.ioid))
    return cli


_CLIENT = None


def t_client_circuit(data: bytes) -> None:
    global _CLIENT
    if _CLIENT is None:         # made once, a fresh copy per input
        _CLIENT = pickle.dumps(_client_pair())
    _feed(pickle.loads(_CLIENT), data, lambda msg: None)


def t_server_circuit(data: bytes) -> None:
    from pva._circuit import ServerVirtualCircuit
    from pva._messages import (ChannelGetRequest, ChannelMonitorRequest, ChannelPutRequest,
                               ChannelGetResponse, ChannelMonitorResponse, ChannelPutResponse,
                               ConnectionValidationResponse, CreateChannelRequest)
    srv = ServerVirtualCircuit(("127.0.0.1", 40000))
    srv.send(srv.set_byte_order("<"), srv.validate_connection())
    desc = TYPES[-1]

    def answer(msg):                # as a server would, so the stream gets further
        if isinstance(msg, ConnectionValidationResponse):
            srv.send(srv.validated_connection())
        elif isinstance(msg, CreateChannelRequest):
            for cid, _ in msg.channels:
                srv.send(srv.channel_by_cid(cid).create())
        elif isinstance(msg, ChannelGetRequest) and msg.is_init:
            srv.send(ChannelGetResponse(msg.ioid).to_init(desc))
        elif isinstance(msg, ChannelPutRequest) and msg.is_init:
            srv.send(ChannelPutResponse(msg.ioid).to_init(desc))
        elif isinstance(msg, ChannelMonitorRequest) and msg.is_init:
            srv.send(ChannelMonitorResponse(msg.ioid).to_init(pva.Status(), desc))

    _feed(srv, data, answer)


def _feed(vc, data: bytes, answer) -> None:
    """Feed ``data`` in chunks (sizes from its first byte); handle every message."""
    if not data:
        return
    step = (1, 3, 16, 1 << 20)[data[0] & 3]
    for pos in range(1, len(data), step):
        try:
            msgs = vc.recv(data[pos:pos + step])
        except pva.RemoteProtocolError:
            return
        for msg in msgs:
            try:
                if vc.process_command(msg):
                    try:
                        answer(msg)
                    except pva.LocalProtocolError:
                        pass        # the harness's reply is not allowed now: not a finding
            except pva.RemoteProtocolError:
                return


TARGETS = {"message": t_message, "field_desc": t_field_desc, "value": t_value,
           "pvrequest": t_pvrequest, "server_circuit": t_server_circuit,
           "client_circuit": t_client_circuit}


# ------------------------------------------------------------------- corpus
def _streams():
    """(direction, whole TCP stream bytes, list of frames) of every recorded scenario."""
    from pva._framing import Deframer
    out = []
    for path in sorted(glob.glob(os.path.join(FIXTURES, "*.jsonl"))):
        with open(path) as f:
            events = [json.loads(line) for line in f][1:]
        for d in ("c2s", "s2c"):
            stream = b"".join(bytes.fromhex(e["hex"]) for e in events
                              if e["transport"] == "tcp" and e["dir"] == d)
            frames = []
            deframer = Deframer(max_message_size=1 << 24)
            for item in deframer.feed(stream):
                if hasattr(item, "payload"):
                    frames.append(item)
            out.append((d, stream, frames))
    return out


def make_corpus() -> None:
    from pva._messages import _BY_KEY
    with open(CAPTURES) as f:
        caps = json.load(f)["captures"]
    seeds = {t: set() for t in TARGETS}
    streams = _streams()
    for d, stream, frames in streams:
        seeds["server_circuit" if d == "c2s" else "client_circuit"].add(b"\x03" + stream)
        for fr in frames:
            key = (fr.command, int(fr.direction))
            if key in _BY_KEY:
                sel = sorted(_BY_KEY).index(key)
                seeds["message"].add(bytes((sel, 1 if fr.flags & 0x80 else 0)) + bytes(fr.payload))
    for i, (_, c) in enumerate(sorted(caps.items())):
        seeds["value"].add(bytes((i, 2)) + bytes.fromhex(c["data"]))
        seeds["field_desc"].add(b"\x00" + bytes.fromhex(c["init_type"]) + b"\xff")
    from pva import PVRequest
    for text in ("field()", "field(value,alarm)", "record[queueSize=3]field(value)",
                 "field(a.b{c,d})record[pipeline=true]", "putField(value)getField(value)"):
        seeds["pvrequest"].add(b"\x01" + text.encode())
        seeds["pvrequest"].add(b"\x00" + PVRequest.parse(text).encode())
    for target, items in seeds.items():
        folder = os.path.join(CORPUS, target)
        os.makedirs(folder, exist_ok=True)
        chosen = sorted(items, key=len)[:40]      # small ones first: a few dozen files
        for item in chosen:
            name = hashlib.sha1(item).hexdigest()[:16]
            with open(os.path.join(folder, name), "wb") as f:
                f.write(item)
        print(f"{target}: {len(chosen)} seeds")


def main() -> None:
    if sys.argv[1:2] == ["--make-corpus"]:
        _setup()
        make_corpus()
        return
    import atheris
    target = sys.argv[1]
    with atheris.instrument_imports(include=["pva"]):
        _setup()
    fn = TARGETS[target]
    args = [sys.argv[0]] + sys.argv[2:]
    if not any(not a.startswith("-") for a in sys.argv[2:]):
        # new inputs go to the first directory: a scratch one, not the seeds
        args += [tempfile.mkdtemp(prefix=f"fuzz_{target}_"), os.path.join(CORPUS, target)]
    atheris.Setup(args, fn)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
