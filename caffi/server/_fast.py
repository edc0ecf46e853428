"""The fast paths of the CA server's circuit, and their guards.

Three messages come by the thousand: a READ_NOTIFY, a WRITE of one number
and a subscription update (and a CREATE_CHAN when a client connects many
channels: see :func:`creator`).  For each, the generic path of
:class:`~caffi.server.circuit.ServerCircuit` decodes a message object, runs
it through the :class:`~caffi.protocol.VirtualCircuit` (transition tables,
id bookkeeping) and builds the answer as a message object.  A fast path
does the same work on the raw bytes, and only where the generic path would
accept the message *and leave every state as it was*: the guards below are
those conditions, the state sets computed from the tables of
:mod:`caffi.protocol._state` (a read's ioid is added and removed in one
step, so it must simply not be pending).  Where a guard fails, the generic
path takes the message, and raises or answers as it always does.

What a fast path sends is the generic path's bytes: the header packed here,
the payload from :meth:`ChannelData.payload <caffi.protocol.ChannelData.payload>`
(encoded once per change, for every reader and subscriber); the tests
compare both paths byte for byte.
"""
import struct

from ..protocol import CaprotoConversionError, ChannelType, EventAddResponse
from ..protocol._header import HEADER, MessageHeader, pack_header
from ..protocol._sentinels import CLIENT, DISCONNECTED, SERVER
from ..protocol._state import CHANNEL_TRANSITIONS, CIRCUIT_OPEN
from ..protocol._status import CAStatus, eca_value

__all__ = ["READ_KEEPS", "WRITE_KEEPS", "UPDATE_KEEPS", "reader", "writer", "creator",
           "circuit_open",
           "update_ok",
           "update_message", "pack_header"]


def _keeps(sender, name):
    """The channel states in which ``name`` from ``sender`` changes nothing."""
    return frozenset(state for (state, event), nxt in CHANNEL_TRANSITIONS.items()
                     if event == (sender, name) and nxt == state)


#: a READ_NOTIFY answered at once: the request and its answer keep the channel
READ_KEEPS = _keeps(CLIENT, "ReadNotifyRequest") & _keeps(SERVER, "ReadNotifyResponse")
#: a WRITE (no answer unless it fails)
WRITE_KEEPS = _keeps(CLIENT, "WriteRequest")
#: a subscription update
UPDATE_KEEPS = _keeps(SERVER, "EventAddResponse")
_CLIENT_OPEN = CIRCUIT_OPEN[CLIENT]
_SERVER_OPEN = CIRCUIT_OPEN[SERVER]

#: answers at least this large go to the transport at once (see ServerCircuit.put_large)
LARGE = 0x40000
_unpack_header = HEADER.unpack_from
_unpack_sizes = struct.Struct(">II").unpack_from
_pack = HEADER.pack
#: ACCESS_RIGHTS and CREATE_CHAN answers in one piece
_pack_created = struct.Struct(">HHHHIIHHHHII").pack
_NORMAL = eca_value(CAStatus.ECA_NORMAL)
#: what a READ_NOTIFY may ask for (PUT_ACKT/PUT_ACKS are refused: generic path)
_READ_TYPES = frozenset(range(35)) | {37, 38}
#: one number of a channel's own type, as a WRITE carries it (8 bytes with padding)
#: (the channel's native type decides: a fast write has the channel's own type)
_WRITE_VALUE = {int(ChannelType.INT): struct.Struct(">h").unpack_from,
                int(ChannelType.FLOAT): struct.Struct(">f").unpack_from,
                int(ChannelType.LONG): struct.Struct(">i").unpack_from,
                int(ChannelType.DOUBLE): struct.Struct(">d").unpack_from}


def reader(circuit):
    """``fast_read(frame) -> bool`` for ``circuit``: answer a READ_NOTIFY of
    a channel whose PV answers without a hook; False leaves it to the
    generic path."""
    vc = circuit.vc
    ioids = vc._ioids
    channels = circuit.channels

    def fast_read(frame) -> bool:
        _, size, dtype, count, sid, ioid = _unpack_header(frame)
        if size == 0xFFFF and len(frame) == 24:
            size, count = _unpack_sizes(frame, 16)   # the extended header of large counts
        chan = channels.get(sid)
        if size or chan is None or not chan.readable or dtype not in _READ_TYPES \
                or not circuit.open or chan.vchan._state not in READ_KEEPS \
                or ioid in ioids or len(ioids) >= vc.max_pending \
                or count > chan.max_length or chan.max_size > circuit.max_answer:
            return False
        try:
            buffers, n, nbytes = chan.data.payload(dtype, count or None)
        except CaprotoConversionError:
            return False                    # the generic path answers ECA_GETFAIL
        if nbytes < 0xFFFF and n < 0xFFFF:
            header = _pack(15, nbytes, dtype, n, _NORMAL, ioid)
        else:
            header = pack_header(15, nbytes, dtype, n, _NORMAL, ioid)
            if nbytes >= LARGE:
                circuit.put_large((header,) + buffers)
                return True
        batch = circuit._batch
        if batch is not None:
            batch.append(header)
            batch.extend(buffers)
        else:
            circuit.conn.send((header,) + buffers)
        return True
    return fast_read


def writer(circuit):
    """``fast_write(frame) -> bool`` for ``circuit``: store a WRITE of one
    number of the channel's own type (through the same write coroutine as
    the generic path); False leaves it to the generic path."""
    channels = circuit.channels
    detach = circuit.core.detach

    def fast_write(frame) -> bool:
        _, size, dtype, count, sid, ioid = _unpack_header(frame)
        chan = channels.get(sid)
        if size != 8 or count != 1 or chan is None or not chan.can_write \
                or chan.native != dtype or not circuit.client_open \
                or chan.vchan._state not in WRITE_KEEPS:
            return False
        detach(circuit._write_async(chan, [_WRITE_VALUE[dtype](frame, 16)[0]], dtype, None,
                                    (4, 8, dtype, 1, sid, ioid), False))
        return True
    return fast_write


def creator(circuit):
    """``fast_create(frame) -> bool`` for ``circuit``: a CREATE_CHAN of a PV
    that exists, answered with the generic path's two messages; the protocol
    circuit takes the exchange in one step (``accept_channel``, the same
    rules).  False leaves it to the generic path (unknown PV, budgets, any
    refusal)."""
    vc = circuit.vc
    core = circuit.core
    pvdb = core.pvdb
    channels = circuit.channels
    channels_sid = vc.channels_sid

    def fast_create(frame) -> bool:
        _, size, _, _, cid, version = _unpack_header(frame)
        if size == 0xFFFF or not circuit.open or cid in vc.channels:
            return False
        name = str(frame[16:16 + size], "latin-1").partition("\x00")[0]
        data = pvdb.get(name)
        if data is None or core.n_channels >= core.limits.channels_total:
            data = circuit.creatable(name)      # RECORD.FIELD names, the budget's refusal
            if data is None:
                return False
        sid = (circuit._sids + 1) & 0xFFFFFFFF
        if sid in channels or sid in channels_sid:
            sid = circuit.new_sid()
        else:
            circuit._sids = sid
        rights = core.rights(name, data, circuit.host, circuit.user)
        count = data.max_length
        vchan = vc.accept_channel(name, cid, version, data.data_type, count, sid, rights)
        if vchan is None:
            return False
        circuit.opened(cid, sid, name, data, rights, vchan)
        if count < 0xFFFF:
            answer = _pack_created(22, 0, 0, 0, cid, rights, 18, 0, vchan.native_data_type,
                                   count, cid, sid)
        else:
            answer = _pack(22, 0, 0, 0, cid, rights) + pack_header(
                18, 0, vchan.native_data_type, count, cid, sid)
        batch = circuit._batch
        if batch is not None:
            batch.append(answer)
        else:
            circuit.conn.send((answer,))
        return True
    return fast_create


def circuit_open(vc):
    """``(client may send, both may send)``: the circuit states in which the
    generic path takes a client's channel request, and also sends the answer."""
    state = vc._state
    client = vc.failed is None and state[0] in _CLIENT_OPEN
    return client, client and state[1] in _SERVER_OPEN


def update_ok(circuit, sub) -> bool:
    """Whether the generic path would send an update of ``sub`` without a
    change of state (the circuit open both ways, the subscription known to
    the protocol circuit, its channel in a state an update keeps)."""
    return (circuit.open and sub.chan.vchan._state in UPDATE_KEEPS
            and sub.subscriptionid in circuit.vc.event_add_commands)


def update_message(sub, payload, status) -> EventAddResponse:
    """The update as a message object, for the generic path."""
    buffers, count, size = payload
    header = MessageHeader(1, size, int(sub.data_type), count, status, sub.subscriptionid)
    return EventAddResponse.from_wire(header, pack_header(*header),
                                      memoryview(b"".join(bytes(b) for b in buffers)))
