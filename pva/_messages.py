"""pvAccess messages: one class per message, codecs keyed by (command, sender).

Theory of operation
-------------------
Every application message of the protocol is a small class here.  A class
knows its command code (``ID``) and which peer sends it (``SENDER``); the
registry :data:`MESSAGES` maps ``(command, sender)`` to the class, so the
same command code decodes differently in the two directions (a GET request
from a client, a GET response from a server).  Control messages (set
marker, acknowledge marker, set byte order, echo request/response) are the
classes of :mod:`pva._header`, re-exported here.

Codecs never hold a byte order: :func:`decode_message` takes the order from
the header flags of the frame being decoded, and :func:`encode_message`
takes it as an argument (the circuit passes the order it currently sends
with).  Bytes are read from a :class:`memoryview` with an explicit offset and
written to a :class:`~pva._wire.Writer`; large arrays are never copied.

Values inside messages are encoded with the compiled per-type codecs of
:mod:`pva._values` (compiled once per :class:`FieldDesc`, reused for every
update) and type descriptions with :mod:`pva._introspection`, both through a
per-connection :class:`MessageContext`, which holds

* the introspection cache (``0xFD``/``0xFE`` type ids) for both directions:
  always consulted when decoding, used for encoding when ``send_cache``;
* the decoding :class:`~pva._wire.Limits`;
* ``types``: request id -> :class:`RequestTypes`, the type(s) announced by
  the INIT response of that request.  A GET/PUT/MONITOR/PUT_GET/ARRAY data
  message carries no type description (only a BitSet and the selected
  fields), so it can only be decoded with the type of its request's INIT
  reply.  :class:`~pva._circuit.VirtualCircuit` fills this table as it sends
  and receives INIT responses.  A data message whose request id has no entry
  is still decoded (ids, subcommand, status) and keeps its undecoded rest in
  ``raw``; the circuit decides whether that is a stale reply (ignored, as
  pvxs does) or a protocol violation.

The subcommand byte of the channel operations is a bit set
(:class:`Subcommand`): ``0x08`` INIT, ``0x10`` DESTROY (last request),
``0x40`` GET, ``0x80`` GET_PUT / PIPELINE (monitor ack) / SET_LENGTH (array),
``0x04`` PROCESS (monitor: start/stop, with ``0x40`` meaning start; array:
get length).  ``0x00`` is the "default" action of each operation.

Trailing bytes after a message's last field are ignored (pvxs does the same).
"""
from __future__ import annotations

import enum
import ipaddress
import struct
from typing import (Any, ClassVar, Dict, List, NamedTuple, Optional, Sequence,
                    Tuple, Type, Union)

from ._bitset import BitSet, _bits_of, _trusted, encode_bitset
from ._dataclass import pva_dataclass
from ._errors import DecodeError, LocalProtocolError
from ._framing import frame
from ._header import (AcknowledgeMarker, ApplicationCommand,
                      ControlMessage, Direction, EchoRequest, EchoResponse, SetByteOrder,
                      SetMarker, normalize_byte_order)
from ._introspection import FieldDesc
from ._typecodec import IntrospectionCache, decode_field_desc, write_field_desc
from ._pvrequest import PVRequest
from ._partial import read_mask, read_partial, write_bits
from ._typecache import type_cache, wire_requests, wire_types
from ._values import (DataWithBitSet, DecodeContext, EncodeContext,
                      FieldDescAndData, Status, get_decoder, get_encoder)
from ._wire import (DEFAULT_LIMITS, Limits, Writer, check_count, pack_size,
                    pack_string, read_size, read_string)

__all__ = [
    "Subcommand", "SearchFlags", "MessageContext", "RequestTypes", "ChannelWithID",
    "QOSFlags", "QOS_PRIORITY_MASK", "ChannelAccessAuthentication",
    "Message", "MESSAGES", "encode_message", "encode_payload", "decode_message",
    "classes_sent_by", "DECODE_ERRORS",
    "write_type", "OK_BYTE",
    "message_class",
    # control
    "ControlMessage", "SetMarker", "AcknowledgeMarker", "SetByteOrder",
    "EchoRequest", "EchoResponse",
    # application
    "Beacon", "ConnectionValidationRequest", "ConnectionValidationResponse",
    "Echo", "SearchRequest", "SearchResponse", "AuthNZ", "AclChange",
    "CreateChannelRequest", "CreateChannelResponse",
    "ChannelDestroyRequest", "ChannelDestroyResponse", "ConnectionValidatedResponse",
    "ChannelGetRequest", "ChannelGetResponse", "ChannelPutRequest", "ChannelPutResponse",
    "ChannelPutGetRequest", "ChannelPutGetResponse",
    "ChannelMonitorRequest", "ChannelMonitorResponse",
    "ChannelArrayRequest", "ChannelArrayResponse", "ChannelRequestDestroy",
    "ChannelProcessRequest", "ChannelProcessResponse",
    "ChannelFieldInfoRequest", "ChannelFieldInfoResponse", "ChannelMessage",
    "MultipleData", "ChannelRpcRequest", "ChannelRpcResponse", "ChannelRequestCancel",
    "OriginTag",
]

Buffer = Union[bytes, bytearray, memoryview]

_U8 = struct.Struct("B")
_U16 = {o: struct.Struct(o + "H") for o in "<>"}
_U32 = {o: struct.Struct(o + "I") for o in "<>"}
_IIB = {o: struct.Struct(o + "IIB") for o in "<>"}   # sid, ioid, subcommand
_IB = {o: struct.Struct(o + "IB") for o in "<>"}     # ioid, subcommand
_II = {o: struct.Struct(o + "II") for o in "<>"}
_HEAD = {o: struct.Struct(o + "BBBBI") for o in "<>"}
_OK = Status()
OK_BYTE = 0xFF


class Subcommand(enum.IntFlag):
    """Bits of the subcommand byte of channel operations."""

    DEFAULT = 0x00
    PROCESS = 0x04     # monitor start/stop (with GET = start); array: get length
    INIT = 0x08
    DESTROY = 0x10
    SHARE = 0x20
    GET = 0x40
    GET_PUT = 0x80     # put-get: get the put structure; array: set length
    PIPELINE = 0x80    # monitor: ack with a count of free queue slots
    START = 0x44
    STOP = 0x04


class SearchFlags(enum.IntFlag):
    """Flags byte of a search request."""

    BROADCAST = 0x00
    REPLY_REQUIRED = 0x01
    UNICAST = 0x80
    # caproto.pva spellings
    broadcast = 0x00
    reply_required = 0x01
    unicast = 0x80


_SUB_DEFAULT = 0x00
_SUB_PROCESS = 0x04
_SUB_STOP = 0x04
_SUB_INIT = 0x08
_SUB_DESTROY = 0x10
_SUB_GET = 0x40
_SUB_START = 0x44
_SUB_GET_PUT = 0x80
_SUB_PIPELINE = 0x80


class ChannelWithID(NamedTuple):
    """A (client id, channel name) pair of search and create-channel requests."""

    id: int
    channel_name: str


class RequestTypes(NamedTuple):
    """Types announced by the INIT response of one request id.

    ``type`` is the data type of GET/PUT/MONITOR/ARRAY (the put type of
    PUT_GET), ``get_type`` the get type of PUT_GET; ``plans`` and
    ``get_plans`` their :class:`~pva._typecache.TypePlans`, held for the
    request's life (:meth:`of` looks them up).
    """

    command: int
    type: Optional[FieldDesc]
    get_type: Optional[FieldDesc] = None
    plans: Any = None
    get_plans: Any = None

    @classmethod
    def of(cls, command: int, type: Optional[FieldDesc],
           get_type: Optional[FieldDesc] = None) -> "RequestTypes":
        plans = type_cache.plans
        return cls(command, type, get_type, None if type is None else plans(type),
                   None if get_type is None else plans(get_type))


class MessageContext:
    """Per-connection codec state (see the module docstring).

    Parameters
    ----------
    cache : IntrospectionCache, optional
        The connection's type cache (a new one if omitted).
    limits : Limits
        Decoding limits.
    send_cache : bool
        Encode structures and unions through the cache (``0xFD`` id the first
        time, ``0xFE`` id after).  pvxs accepts this but never sends it.
    """

    __slots__ = ("cache", "limits", "max_nodes", "send_cache", "types", "dctx", "ectx")

    def __init__(self, cache: Optional[IntrospectionCache] = None,
                 limits: Limits = DEFAULT_LIMITS, send_cache: bool = False):
        self.cache = IntrospectionCache() if cache is None else cache
        self.limits = limits
        self.max_nodes = limits.max_message_nodes
        self.send_cache = send_cache
        self.types: Dict[int, RequestTypes] = {}
        self.dctx = DecodeContext(self.cache, limits)
        self.ectx = EncodeContext(self.cache if send_cache else None)

    @property
    def send_types(self) -> Optional[IntrospectionCache]:
        """The cache to encode type descriptions with (or ``None``)."""
        return self.cache if self.send_cache else None


# --------------------------------------------------------------------------
# small helpers (all reads bounds-checked; struct.error becomes DecodeError)
def _read_status(buf: memoryview, off: int, order: str, ctx: MessageContext) -> Tuple[Status, int]:
    if off < len(buf) and buf[off] == OK_BYTE:
        return _OK, off + 1
    return Status.decode(buf, off, order, ctx.limits)


def _write_status(w: Writer, status: Status) -> None:
    if status is _OK:
        w.buf.append(OK_BYTE)
    else:
        w.buf += status.encode(w.order)


#: type descriptions longer than this are decoded every time (not looked up)
_TYPE_CACHE_MAX_BYTES = 4096


def _read_type(buf: memoryview, off: int, order: str, ctx: MessageContext):
    """The type description at ``off``.

    Servers that do not use the type cache (pvxs) send the whole type in every
    INIT reply, so a type sent inline is decoded once per distinct content: the
    same FieldDesc object comes back, and its plans (codecs, partial readers,
    :mod:`pva._typecache`) serve every request of that type.  A description that may define or use
    the connection's type cache (any 0xFD / 0xFE byte) is always decoded.
    The rest of the message is the key, so the length consumed is known too.
    """
    rest = len(buf) - off
    if 0 < rest <= _TYPE_CACHE_MAX_BYTES:
        key = (order, ctx.limits, bytes(buf[off:]))
        hit = wire_types.lookup(key)
        if hit is not None:         # only keys without those bytes are stored
            return hit[0], off + hit[1]
        raw = key[2]
        if 0xFD not in raw and 0xFE not in raw:
            desc, end = decode_field_desc(buf, off, order, ctx.cache, ctx.limits, ctx.dctx)
            wire_types[key] = (desc, end - off)
            return desc, end
    return decode_field_desc(buf, off, order, ctx.cache, ctx.limits, ctx.dctx)


def write_type(w: Writer, desc: Optional[FieldDesc], ctx: MessageContext) -> None:
    write_field_desc(w.buf, desc, w.order, ctx.send_types)


def _read_typed(buf: memoryview, off: int, order: str, ctx: MessageContext) -> Tuple[FieldDescAndData, int]:
    desc, off = decode_field_desc(buf, off, order, ctx.cache, ctx.limits, ctx.dctx)
    if desc is None:
        return FieldDescAndData(None, None), off
    value, off = get_decoder(desc, order)(buf, off, ctx.dctx)
    return FieldDescAndData(desc, value), off


def _write_typed(w: Writer, fd: Optional[FieldDescAndData], ctx: MessageContext) -> None:
    if fd is None or fd.interface is None:
        w.buf.append(0xFF)
        return
    write_field_desc(w.buf, fd.interface, w.order, ctx.send_types)
    _write_full(w, fd.interface, fd.data, ctx)


def _write_full(w: Writer, desc: FieldDesc, value: Any, ctx: MessageContext) -> None:
    try:
        get_encoder(desc, w.order)(value, w, ctx.ectx)
    except LocalProtocolError:
        raise
    except (struct.error, TypeError, ValueError, KeyError, AttributeError, OverflowError) as ex:
        raise LocalProtocolError(f"cannot encode {value!r} as {desc.field_type.name}: {ex}") from None


#: pvRequests longer than this are decoded every time (not looked up)
_PVREQUEST_CACHE_MAX_BYTES = 1024


def _read_pvrequest_parsed(buf, off, order, ctx
                           ) -> Tuple[FieldDescAndData, int, Optional[PVRequest]]:
    """The pvRequest of an INIT message, and its parsed form.

    Clients send the same pvRequest with every operation they create (p4p
    does an INIT per ``get``), so the decoded form is cached by content.
    Only a request whose type is inline is cached: a type-cache definition
    (0xFD) or reference (0xFE), at any level, depends on the connection's
    state (so no such byte may appear at all, as in :func:`_read_type`).
    The rest of the message is part of the key, so the length consumed is too.
    """
    rest = len(buf) - off
    if 0 < rest <= _PVREQUEST_CACHE_MAX_BYTES:
        key = (order, bytes(buf[off:]))
        hit = wire_requests.lookup(key)
        if hit is not None:         # only keys without those bytes are stored
            return hit[0], off + hit[1], hit[2]
        fdd, end = _read_typed(buf, off, order, ctx)
        if 0xFD in key[1] or 0xFE in key[1]:
            return fdd, end, None
        try:
            parsed = _parse_request(fdd)
        except Exception:   # reported when the request is used, not while decoding
            parsed = None
        wire_requests[key] = (fdd, end - off, parsed)
        return fdd, end, parsed
    fdd, end = _read_typed(buf, off, order, ctx)
    return fdd, end, None


def _parse_request(fdd: Optional[FieldDescAndData]) -> PVRequest:
    if fdd is None or fdd.interface is None:
        return PVRequest()
    return PVRequest.from_structure(fdd.interface, fdd.data)


def _as_request(pv_request: Any) -> FieldDescAndData:
    """Accept a PVRequest, a request string, FieldDescAndData or None."""
    if pv_request is None:
        pv_request = PVRequest()
    if isinstance(pv_request, str):
        pv_request = PVRequest.parse(pv_request)
    if isinstance(pv_request, PVRequest):
        desc, value = pv_request.to_structure()
        return FieldDescAndData(desc, value)
    if isinstance(pv_request, FieldDescAndData):
        return pv_request
    raise TypeError(f"not a pvRequest: {pv_request!r}")


def _read_address(buf: memoryview, off: int) -> Tuple[str, int]:
    if off + 16 > len(buf):
        raise DecodeError("truncated input: expected a 16-byte address", off)
    addr = ipaddress.IPv6Address(bytes(buf[off:off + 16]))
    v4 = addr.ipv4_mapped
    return (str(v4) if v4 is not None else str(addr)), off + 16


def _pack_address(host: str) -> bytes:
    """16-byte address: IPv4 as IPv4-mapped IPv6, IPv6 as is."""
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        raise LocalProtocolError(f"not an IP address: {host!r}") from None
    if addr.version == 4:
        return b"\0" * 10 + b"\xff\xff" + addr.packed
    return addr.packed


def _read_guid(buf: memoryview, off: int) -> Tuple[bytes, int]:
    if off + 12 > len(buf):
        raise DecodeError("truncated input: expected a 12-byte GUID", off)
    return bytes(buf[off:off + 12]), off + 12


def _pack_guid(guid: Union[bytes, str]) -> bytes:
    if isinstance(guid, str):
        guid = bytes.fromhex(guid)
    if len(guid) != 12:
        raise LocalProtocolError("a GUID is 12 bytes")
    return bytes(guid)


def _read_names(buf: memoryview, off: int, order: str, ctx: MessageContext) -> Tuple[List[ChannelWithID], int]:
    """uint16 count, then (uint32 id, string name) pairs."""
    if off + 2 > len(buf):
        raise DecodeError("truncated input: expected a channel count", off)
    n = _U16[order].unpack_from(buf, off)[0]
    check_count(n, 5, buf, off + 2, 0xFFFF, "channel list", off)
    off += 2
    u32 = _U32[order]
    out = []
    for _ in range(n):
        if off + 4 > len(buf):
            raise DecodeError("truncated input: expected a channel id", off)
        cid = u32.unpack_from(buf, off)[0]
        name, off = read_string(buf, off + 4, order, ctx.limits)
        out.append(ChannelWithID(cid, name))
    return out, off


def _write_names(w: Writer, channels: Sequence[Tuple[int, str]]) -> None:
    if len(channels) > 0xFFFF:
        raise LocalProtocolError("at most 65535 channels per message")
    o = w.order
    w.buf += _U16[o].pack(len(channels))
    u32 = _U32[o]
    for cid, name in channels:
        w.buf += u32.pack(cid)
        w.buf += pack_string(name, o)


def _need(buf: memoryview, off: int, n: int, what: str) -> None:
    if off + n > len(buf):
        raise DecodeError(f"truncated input: expected {what}", off)


def _rest(buf: memoryview, off: int) -> bytes:
    return bytes(buf[off:])


# --------------------------------------------------------------------------
# base class and registry
class Message:
    """Base class of application messages.

    Subclasses define ``ID`` (the command), ``SENDER`` (the sending peer),
    ``_encode(w, ctx)`` and ``_decode(buf, off, order, ctx)``.
    """

    __slots__ = ()
    ID: ClassVar[int] = -1
    SENDER: ClassVar[Direction] = Direction.CLIENT
    #: attribute names, for repr/eq
    _fields: ClassVar[Tuple[str, ...]] = ()

    def _encode(self, w: Writer, ctx: MessageContext) -> None:  # pragma: no cover
        raise NotImplementedError

    @classmethod
    def _decode(cls, buf: memoryview, off: int, order: str, ctx: MessageContext) -> "Message":
        raise NotImplementedError  # pragma: no cover

    @property
    def direction(self) -> Direction:
        return self.SENDER

    def __repr__(self) -> str:
        args = ", ".join(f"{f}={getattr(self, f)!r}" for f in self._fields
                         if getattr(self, f, None) is not None)
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        from ._values import _values_equal
        for f in self._fields:
            a, b = getattr(self, f), getattr(other, f)
            if isinstance(a, DataWithBitSet) and isinstance(b, DataWithBitSet):
                if a.bitset != b.bitset or not _values_equal(a.data, b.data):
                    return False
            elif not _values_equal(a, b):
                return False
        return True

    __hash__ = None  # type: ignore[assignment]

    def encode(self, ctx: Optional[MessageContext] = None, byte_order: str = "<") -> bytes:
        """Payload bytes of this message (no header)."""
        w = Writer(_order(byte_order))
        _encode_checked(self, w, ctx or MessageContext())
        return w.getvalue()


#: (command, sender) -> message class
MESSAGES: Dict[Tuple[int, Direction], Type[Message]] = {}


_BY_KEY: Dict[Tuple[int, int], Type[Message]] = {}


def _register(cls):
    MESSAGES[(cls.ID, cls.SENDER)] = cls
    _BY_KEY[(int(cls.ID), int(cls.SENDER))] = cls
    return cls


def message_class(command: int, sender: Direction) -> Optional[Type[Message]]:
    """The class decoding ``command`` sent by ``sender`` (None if unknown)."""
    return MESSAGES.get((command, Direction(sender)))


def classes_sent_by(sender: Direction) -> Dict[int, Type[Message]]:
    """command -> the class decoding it when ``sender`` sent it (a stream
    decoder looks its classes up here once, then calls their ``_decode``
    with :data:`DECODE_ERRORS` turned into :class:`DecodeError`, as
    :func:`decode_message` does)."""
    return {cmd: cls for (cmd, snd), cls in MESSAGES.items() if snd == sender}


#: what a message decoder may raise on bad input besides DecodeError
DECODE_ERRORS = (struct.error, IndexError, ValueError, OverflowError, UnicodeError,
                 RecursionError, KeyError, TypeError)
_LOW_LEVEL = DECODE_ERRORS


def decode_message(command: int, sender: Direction, payload: Buffer, byte_order: str,
                   ctx: Optional[MessageContext] = None) -> Message:
    """Decode an application message payload.

    Raises
    ------
    DecodeError
        Malformed, truncated or oversized payload, or an unknown command.
    """
    cls = _BY_KEY.get((command, int(sender)))
    if cls is None:
        raise DecodeError(f"unknown application command {command} from "
                          f"{Direction(sender).name.lower()}")
    buf = payload if isinstance(payload, memoryview) else memoryview(payload)
    if buf.format != "B" or buf.ndim != 1:
        buf = buf.cast("B")
    if ctx is None:
        ctx = MessageContext()
    if type(byte_order) is not str or (byte_order != "<" and byte_order != ">"):
        byte_order = _order(byte_order)
    # each message has its own node budget: a fixed allowance plus one per byte
    ctx.dctx.nodes = ctx.max_nodes + len(buf)
    try:
        return cls._decode(buf, 0, byte_order, ctx)
    except DecodeError as ex:
        # without the decoders' frames, whose locals hold what was built
        # before the fault (the circuit keeps its error)
        raise ex.with_traceback(None)
    except _LOW_LEVEL as ex:
        raise DecodeError(f"cannot decode {cls.__name__}: {ex}") from None


def encode_payload(msg: Message, byte_order: str = "<",
                   ctx: Optional[MessageContext] = None) -> List[Buffer]:
    """Payload of ``msg`` as a list of buffers (large arrays not copied)."""
    w = Writer(_order(byte_order))
    _encode_checked(msg, w, ctx or MessageContext())
    return w.buffers()


def _order(byte_order: Any) -> str:
    """A plain ``'<'``/``'>'`` (enum members do not hash like their value)."""
    if type(byte_order) is str and (byte_order == "<" or byte_order == ">"):
        return byte_order
    return normalize_byte_order(byte_order)


def _encode_checked(msg: Message, w: Writer, ctx: MessageContext) -> None:
    """``msg._encode`` with low-level failures turned into LocalProtocolError."""
    try:
        msg._encode(w, ctx)
    except LocalProtocolError:
        raise
    except (struct.error, OverflowError, TypeError, ValueError, KeyError, AttributeError,
            IndexError) as ex:
        raise LocalProtocolError(f"cannot encode {type(msg).__name__}: {ex}") from None


def encode_message(msg: Union[Message, ControlMessage], byte_order: str = "<",
                   ctx: Optional[MessageContext] = None,
                   max_segment_size: Optional[int] = None) -> List[Buffer]:
    """Header(s) and payload of ``msg``, segmented above ``max_segment_size``.

    Control messages are encoded with their own flags (byte order and
    direction are attributes of the control message object).
    """
    if isinstance(msg, ControlMessage):
        return [msg.encode()]
    byte_order = _order(byte_order)
    w = Writer(byte_order)
    _encode_checked(msg, w, ctx or MessageContext())
    return _framed(msg.ID, msg.SENDER, w, max_segment_size)


def _framed(command: int, sender: Direction, w: Writer,
            max_segment_size: Optional[int]) -> List[Buffer]:
    """Header(s) and the payload written to ``w``."""
    return frame(command, sender, w.order, w.buffers() if w.chunks else w.buf,
                 max_segment_size)


# --------------------------------------------------------------------------
# connection-level messages
@_register
class Beacon(Message):
    """Server beacon (UDP): GUID, flags, sequence id, change count, address, protocol, status."""

    __slots__ = ("guid", "flags", "beacon_sequence_id", "change_count",
                 "server_address", "server_port", "protocol", "server_status")
    _fields = __slots__
    ID = ApplicationCommand.BEACON
    SENDER = Direction.SERVER

    def __init__(self, guid: Union[bytes, str] = b"\0" * 12, beacon_sequence_id: int = 0,
                 server_address: Tuple[str, int] = ("0.0.0.0", 5075), *,
                 flags: int = 0, change_count: int = 0, protocol: str = "tcp",
                 server_status: Optional[FieldDescAndData] = None):
        self.guid = _pack_guid(guid)
        self.flags = flags
        self.beacon_sequence_id = beacon_sequence_id
        self.change_count = change_count
        self.server_address, self.server_port = server_address
        self.protocol = protocol
        self.server_status = server_status if server_status is not None else FieldDescAndData()

    def _encode(self, w, ctx):
        o = w.order
        w.buf += self.guid
        w.buf += struct.pack(o + "BBH", self.flags, self.beacon_sequence_id & 0xFF, self.change_count)
        w.buf += _pack_address(self.server_address)
        w.buf += _U16[o].pack(self.server_port)
        w.buf += pack_string(self.protocol, o)
        _write_typed(w, self.server_status, ctx)

    @classmethod
    def _decode(cls, buf, off, order, ctx):
        guid, off = _read_guid(buf, off)
        _need(buf, off, 4, "beacon flags")
        flags, seq, changes = struct.unpack_from(order + "BBH", buf, off)
        addr, off = _read_address(buf, off + 4)
        _need(buf, off, 2, "a port")
        port = _U16[order].unpack_from(buf, off)[0]
        proto, off = read_string(buf, off + 2, order, ctx.limits)
        status = FieldDescAndData()
        if off < len(buf):  # pvxs ignores the status; older servers may omit it
            status, off = _read_typed(buf, off, order, ctx)
        return cls(guid, seq, (addr, port), flags=flags, change_count=changes,
                   protocol=proto, server_status=status)


@_register
class ConnectionValidationRequest(Message):
    """Server -> client, first application message: buffer/registry sizes, auth methods."""

    __slots__ = ("server_buffer_size", "server_registry_size", "auth_nz")
    _fields = __slots__
    ID = ApplicationCommand.CONNECTION_VALIDATION
    SENDER = Direction.SERVER

    def __init__(self, server_buffer_size: int = 0x10000, server_registry_size: int = 0x7FFF,
                 auth_nz: Sequence[str] = ("anonymous", "ca")):
        self.server_buffer_size = server_buffer_size
        self.server_registry_size = server_registry_size
        self.auth_nz = list(auth_nz)

    def _encode(self, w, ctx):
        o = w.order
        w.buf += struct.pack(o + "IH", self.server_buffer_size, self.server_registry_size)
        w.buf += pack_size(len(self.auth_nz), o)
        for name in self.auth_nz:
            w.buf += pack_string(name, o)

    @classmethod
    def _decode(cls, buf, off, order, ctx):
        _need(buf, off, 6, "buffer and registry sizes")
        bsize, rsize = struct.unpack_from(order + "IH", buf, off)
        n, off = read_size(buf, off + 6, order)
        check_count(n, 1, buf, off, ctx.limits.max_array_length, "auth method list")
        names = []
        for _ in range(n):
            name, off = read_string(buf, off, order, ctx.limits)
            names.append(name)
        return cls(bsize, rsize, names)


#: the priority bits of a connection's QoS word (pvAccess priorities are 0-99)
QOS_PRIORITY_MASK = 0x7F


class QOSFlags(enum.IntFlag):
    """The flag bits of a connection's QoS word (``connection_qos``), above its
    priority; caproto.pva's names in lower case.  pvxs ignores them."""

    LOW_LATENCY = 1 << 8
    THROUGHPUT_PRIORITY = 1 << 9
    ENABLE_COMPRESSION = 1 << 10
    low_latency = 1 << 8
    throughput_priority = 1 << 9
    enable_compression = 1 << 10

    @classmethod
    def encode(cls, priority: int, flags: int) -> int:
        """The QoS word of a priority and flags."""
        return (priority & QOS_PRIORITY_MASK) | int(flags)

    @classmethod
    def decode(cls, word: int) -> Tuple[int, "QOSFlags"]:
        """``(priority, flags)`` of a QoS word (bits outside both are dropped)."""
        return word & QOS_PRIORITY_MASK, cls(word & _QOS_FLAG_BITS)


_QOS_FLAG_BITS = int(QOSFlags.LOW_LATENCY | QOSFlags.THROUGHPUT_PRIORITY
                     | QOSFlags.ENABLE_COMPRESSION)


@pva_dataclass(name="")
class ChannelAccessAuthentication:
    """The data of the ``"ca"`` authentication method: who the client is."""

    user: str
    host: str


@_register
class ConnectionValidationResponse(Message):
    """Client -> server: buffer/registry sizes, QoS, chosen auth method and its data.

    ``data`` is a type description + value (e.g. for ``"ca"`` a structure
    with ``user`` and ``host`` strings), or no type for ``"anonymous"``.
    """

    __slots__ = ("client_buffer_size", "client_registry_size", "connection_qos",
                 "auth_nz", "data")
    _fields = __slots__
    ID = ApplicationCommand.CONNECTION_VALIDATION
    SENDER = Direction.CLIENT

    def __init__(self, client_buffer_size: int = 0x10000, client_registry_size: int = 0x7FFF,
                 connection_qos: int = 0, auth_nz: str = "anonymous",
                 data: Optional[FieldDescAndData] = None):
        self.client_buffer_size = client_buffer_size
        self.client_registry_size = client_registry_size
        self.connection_qos = connection_qos
        self.auth_nz = auth_nz
        self.data = data if data is not None else FieldDescAndData()

    @classmethod
    def ca(cls, user: str, host: str, **kwargs) -> "ConnectionValidationResponse":
        """The ``"ca"`` method with its ``{user, host}`` structure."""
        return cls(auth_nz="ca", data=FieldDescAndData(ChannelAccessAuthentication._pva_struct_,
                                                       {"user": user, "host": host}), **kwargs)

    def _encode(self, w, ctx):
        o = w.order
        w.buf += struct.pack(o + "IHH", self.client_buffer_size, self.client_registry_size,
                             self.connection_qos)
        w.buf += pack_string(self.auth_nz, o)
        _write_typed(w, self.data, ctx)

    @classmethod
    def _decode(cls, buf, off, order, ctx):
        _need(buf, off, 8, "buffer/registry sizes and QoS")
        bsize, rsize, qos = struct.unpack_from(order + "IHH", buf, off)
        method, off = read_string(buf, off + 8, order, ctx.limits)
        data = FieldDescAndData()
        if off < len(buf):  # pvAccessCPP clients may omit the data for "anonymous"
            data, off = _read_typed(buf, off, order, ctx)
        return cls(bsize, rsize, qos, method, data)


class _Echo(Message):
    __slots__ = ("payload",)
    _fields = __slots__
    ID = ApplicationCommand.ECHO

    def __init__(self, payload: bytes = b""):
        self.payload = bytes(payload)

    def _encode(self, w, ctx):
        w.add_buffer(self.payload)

    @classmethod
    def _decode(cls, buf, off, order, ctx):
        return cls(_rest(buf, off))


@_register
class Echo(_Echo):
    """Application echo from a client; the server answers with the same payload.

    (The control-message echo is :class:`EchoRequest`/:class:`EchoResponse`;
    pvxs uses this application echo as its keep-alive.)
    """

    __slots__ = ()
    SENDER = Direction.CLIENT


@_register
class EchoReply(_Echo):
    """Application echo from a server (the reply to :class:`Echo`)."""

    __slots__ = ()
    SENDER = Direction.SERVER


@_register
class SearchRequest(Message):
    """Channel search (UDP, or TCP to a name server).

    The channel list count is a uint16, not a size (so senders can patch
    it in place); the protocol list uses the normal size encoding.
    """

    __slots__ = ("sequence_id", "flags", "reserved", "response_address", "response_port",
                 "protocols", "channels")
    _fields = __slots__
    ID = ApplicationCommand.SEARCH
    SENDER = Direction.CLIENT

    def __init__(self, sequence_id: int = 0, response_address: Tuple[str, int] = ("0.0.0.0", 0),
                 channels: Sequence[Tuple[int, str]] = (), *,
                 protocols: Sequence[str] = ("tcp",), flags: int = SearchFlags.BROADCAST,
                 reserved: bytes = b"\0\0\0"):
        self.sequence_id = sequence_id
        self.flags = int(flags)
        self.reserved = bytes(reserved)
        self.response_address, self.response_port = response_address
        self.protocols = list(protocols)
        self.channels = [ChannelWithID(*c) for c in channels]

    def _encode(self, w, ctx):
        o = w.order
        if len(self.reserved) != 3:
            raise LocalProtocolError("reserved must be 3 bytes")
        w.buf += _U32[o].pack(self.sequence_id)
        w.buf.append(self.flags)
        w.buf += self.reserved
        w.buf += _pack_address(self.response_address)
        w.buf += _U16[o].pack(self.response_port)
        w.buf += pack_size(len(self.protocols), o)
        for p in self.protocols:
            w.buf += pack_string(p, o)
        _write_names(w, self.channels)

    @classmethod
    def _decode(cls, buf, off, order, ctx):
        _need(buf, off, 8, "search id and flags")
        seq = _U32[order].unpack_from(buf, off)[0]
        flags = buf[off + 4]
        reserved = bytes(buf[off + 5:off + 8])
        addr, off = _read_address(buf, off + 8)
        _need(buf, off, 2, "a port")
        port = _U16[order].unpack_from(buf, off)[0]
        n, off = read_size(buf, off + 2, order)
        check_count(n, 1, buf, off, ctx.limits.max_array_length, "protocol list")
        protocols = []
        for _ in range(n):
            p, off = read_string(buf, off, order, ctx.limits)
            protocols.append(p)
        channels, off = _read_names(buf, off, order, ctx)
        return cls(seq, (addr, port), channels, protocols=protocols, flags=flags,
                   reserved=reserved)


@_register
class SearchResponse(Message):
    """Answer to a search: server GUID, address, and the found/not-found instance ids."""

    __slots__ = ("guid", "sequence_id", "server_address", "server_port", "protocol",
                 "found", "search_instance_ids")
    _fields = __slots__
    ID = ApplicationCommand.SEARCH_RESPONSE
    SENDER = Direction.SERVER

    def __init__(self, guid: Union[bytes, str] = b"\0" * 12, sequence_id: int = 0,
                 server_address: Tuple[str, int] = ("0.0.0.0", 0),
                 search_instance_ids: Sequence[int] = (), *, found: bool = True,
                 protocol: str = "tcp"):
        self.guid = _pack_guid(guid)
        self.sequence_id = sequence_id
        self.server_address, self.server_port = server_address
        self.protocol = protocol
        self.found = bool(found)
        self.search_instance_ids = list(search_instance_ids)

    def _encode(self, w, ctx):
        o = w.order
        w.buf += self.guid
        w.buf += _U32[o].pack(self.sequence_id)
        w.buf += _pack_address(self.server_address)
        w.buf += _U16[o].pack(self.server_port)
        w.buf += pack_string(self.protocol, o)
        w.buf.append(1 if self.found else 0)
        if len(self.search_instance_ids) > 0xFFFF:
            raise LocalProtocolError("at most 65535 ids per search response")
        w.buf += _U16[o].pack(len(self.search_instance_ids))
        u32 = _U32[o]
        for i in self.search_instance_ids:
            w.buf += u32.pack(i)

    @classmethod
    def _decode(cls, buf, off, order, ctx):
        guid, off = _read_guid(buf, off)
        _need(buf, off, 4, "a search id")
        seq = _U32[order].unpack_from(buf, off)[0]
        addr, off = _read_address(buf, off + 4)
        _need(buf, off, 2, "a port")
        port = _U16[order].unpack_from(buf, off)[0]
        proto, off = read_string(buf, off + 2, order, ctx.limits)
        _need(buf, off, 3, "found flag and id count")
        found = buf[off]
        n = _U16[order].unpack_from(buf, off + 1)[0]
        off += 3
        check_count(n, 4, buf, off, 0xFFFF, "search instance id list", off - 2)
        ids = list(struct.unpack_from(f"{order}{n}I", buf, off))
        return cls(guid, seq, (addr, port), ids, found=bool(found), protocol=proto)


class _TypedPayload(Message):
    """A message whose payload is one type description + value (AUTHNZ)."""

    __slots__ = ("data",)
    _fields = __slots__

    def __init__(self, data: Optional[FieldDescAndData] = None):
        self.data = data if data is not None else FieldDescAndData()

    def _encode(self, w, ctx):
        _write_typed(w, self.data, ctx)

    @classmethod
    def _decode(cls, buf, off, order, ctx):
        data, off = _read_typed(buf, off, order, ctx)
        return cls(data)


@_register
class AuthNZ(_TypedPayload):
    """Authentication exchange (client -> server); pvxs ignores it."""

    __slots__ = ()
    ID = ApplicationCommand.AUTHNZ
    SENDER = Direction.CLIENT


@_register
class AuthNZReply(_TypedPayload):
    """Authentication exchange (server -> client); pvxs ignores it."""

    __slots__ = ()
    ID = ApplicationCommand.AUTHNZ
    SENDER = Direction.SERVER


class _Opaque(Message):
    """A message with an undocumented payload, kept as bytes."""

    __slots__ = ("payload",)
    _fields = __slots__

    def __init__(self, payload: bytes = b""):
        self.payload = bytes(payload)

    def _encode(self, w, ctx):
        w.add_buffer(self.payload)

    @classmethod
    def _decode(cls, buf, off, order, ctx):
        return cls(_rest(buf, off))


@_register
class AclChange(_Opaque):
    """Access rights change (server -> client); unused by pvxs, payload opaque."""

    __slots__ = ()
    ID = ApplicationCommand.ACL_CHANGE
    SENDER = Direction.SERVER


@_register
class MultipleData(_Opaque):
    """Deprecated, never used; payload kept opaque."""

    __slots__ = ()
    ID = ApplicationCommand.MULTIPLE_DATA
    SENDER = Direction.SERVER


@_register
class CreateChannelRequest(Message):
    """Create channel(s): uint16 count, then (client id, name); pvxs replies per channel."""

    __slots__ = ("channels",)
    _fields = __slots__
    ID = ApplicationCommand.CREATE_CHANNEL
    SENDER = Direction.CLIENT

    def __init__(self, channels: Sequence[Tuple[int, str]] = ()):
        self.channels = [ChannelWithID(*c) for c in channels]

    @property
    def count(self) -> int:
        return len(self.channels)

    def _encode(self, w, ctx):
        _write_names(w, self.channels)

    @classmethod
    def _decode(cls, buf, off, order, ctx):
        channels, off = _read_names(buf, off, order, ctx)
        return cls(channels)


@_register
class CreateChannelResponse(Message):
    """Client id, server id, status.

    ``access_rights`` is accepted for caproto.pva compatibility and not sent
    (neither the specification nor pvxs has it on the wire); a
    :class:`Status` given in its place is taken as the status.
    """

    __slots__ = ("client_chid", "server_chid", "status")
    _fields = __slots__
    ID = ApplicationCommand.CREATE_CHANNEL
    SENDER = Direction.SERVER

    def __init__(self, client_chid: int = 0, server_chid: int = 0, access_rights: Any = 0,
                 status: Optional[Status] = None):
        if isinstance(access_rights, Status):
            status = access_rights
        self.client_chid = client_chid
        self.server_chid = server_chid
        self.status = _OK if status is None else status

    def _encode(self, w, ctx):
        w.buf += _II[w.order].pack(self.client_chid, self.server_chid)
        _write_status(w, self.status)

    @classmethod
    def _decode(cls, buf, off, order, ctx):
        _need(buf, off, 8, "channel ids")
        cid, sid = _II[order].unpack_from(buf, off)
        status, off = _read_status(buf, off + 8, order, ctx)
        return cls(cid, sid, status)


class _DestroyChannel(Message):
    # constructor order (client id, server id) as in caproto.pva; the wire
    # order is server id, client id
    __slots__ = ("client_chid", "server_chid")
    _fields = __slots__
    ID = ApplicationCommand.DESTROY_CHANNEL

    def __init__(self, client_chid: int = 0, server_chid: int = 0):
        self.client_chid = client_chid
        self.server_chid = server_chid

    def _encode(self, w, ctx):
        w.buf += _II[w.order].pack(self.server_chid, self.client_chid)

    @classmethod
    def _decode(cls, buf, off, order, ctx):
        _need(buf, off, 8, "channel ids")
        sid, cid = _II[order].unpack_from(buf, off)
        return cls(cid, sid)


@_register
class ChannelDestroyRequest(_DestroyChannel):
    """Client -> server: destroy a channel (server id, client id)."""

    __slots__ = ()
    SENDER = Direction.CLIENT


@_register
class ChannelDestroyResponse(_DestroyChannel):
    """Server -> client: the channel is gone (reply, or server-initiated).

    pvxs sends no status here, only the two ids.
    """

    __slots__ = ()
    SENDER = Direction.SERVER


@_register
class ConnectionValidatedResponse(Message):
    """Server -> client: result of the connection validation."""

    __slots__ = ("status",)
    _fields = __slots__
    ID = ApplicationCommand.CONNECTION_VALIDATED
    SENDER = Direction.SERVER

    def __init__(self, status: Status = _OK):
        self.status = status

    def _encode(self, w, ctx):
        _write_status(w, self.status)

    @classmethod
    def _decode(cls, buf, off, order, ctx):
        status, off = _read_status(buf, off, order, ctx)
        return cls(status)


# --------------------------------------------------------------------------
# channel operations
class _OpRequest(Message):
    """Client -> server operation message: server channel id, request id, subcommand."""

    __slots__ = ("server_chid", "ioid", "subcommand", "pv_request", "raw", "_parsed")
    _fields = ("server_chid", "ioid", "subcommand", "pv_request")

    def __init__(self, server_chid: int = 0, ioid: int = 0, subcommand: int = _SUB_INIT,
                 pv_request: Any = None, raw: Optional[bytes] = None):
        self.server_chid = server_chid
        self.ioid = ioid
        self.subcommand = int(subcommand)
        # only an INIT message carries a pvRequest
        self.pv_request = _as_request(pv_request) if subcommand & _SUB_INIT else None
        self._parsed = None
        self.raw = raw

    @property
    def is_init(self) -> bool:
        return bool(self.subcommand & _SUB_INIT)

    @property
    def is_destroy(self) -> bool:
        return bool(self.subcommand & _SUB_DESTROY)

    @property
    def request(self) -> PVRequest:
        """The pvRequest of an INIT message as a :class:`PVRequest`."""
        parsed = getattr(self, "_parsed", None)
        if parsed is not None:
            return parsed
        return _parse_request(self.pv_request)

    def to_init(self, pv_request: Any = None) -> "_OpRequest":
        self.subcommand = _SUB_INIT
        self.pv_request = _as_request(pv_request)
        self._parsed = None
        return self

    def _head(self, w: Writer) -> None:
        w.buf += _IIB[w.order].pack(self.server_chid, self.ioid, self.subcommand)

    def _encode(self, w, ctx):
        self._head(w)
        if self.subcommand & _SUB_INIT:
            _write_typed(w, self.pv_request, ctx)
        else:
            self._encode_exec(w, ctx)

    def _encode_exec(self, w, ctx):
        if self.raw is not None:
            w.add_buffer(self.raw)

    @classmethod
    def _decode(cls, buf, off, order, ctx):
        _need(buf, off, 9, "channel id, request id and subcommand")
        sid, ioid, sub = _IIB[order].unpack_from(buf, off)
        off += 9
        self = cls.__new__(cls)
        self.server_chid, self.ioid, self.subcommand = sid, ioid, sub
        self.pv_request = None
        self._parsed = None
        self.raw = None
        if sub & _SUB_INIT:
            self.pv_request, off, self._parsed = _read_pvrequest_parsed(buf, off, order, ctx)
            cls._decode_init_extra(self, buf, off, order, ctx)
        else:
            cls._decode_exec(self, buf, off, order, ctx)
        return self

    @classmethod
    def _decode_init_extra(cls, self, buf, off, order, ctx) -> None:
        pass

    @classmethod
    def _decode_exec(cls, self, buf, off, order, ctx) -> None:
        pass


class _OpResponse(Message):
    """Server -> client operation message: request id, subcommand, status."""

    __slots__ = ("ioid", "subcommand", "status", "raw")
    _fields = ("ioid", "subcommand", "status")
    _has_status: ClassVar[bool] = True

    def __init__(self, ioid: int = 0, status: Status = _OK, subcommand: int = _SUB_INIT):
        self.ioid = ioid
        self.subcommand = int(subcommand)
        self.status = status
        self.raw = None

    @property
    def is_init(self) -> bool:
        return bool(self.subcommand & _SUB_INIT)

    @property
    def is_destroy(self) -> bool:
        return bool(self.subcommand & _SUB_DESTROY)

    def _encode(self, w, ctx):
        w.buf += _IB[w.order].pack(self.ioid, self.subcommand)
        _write_status(w, self.status)
        if self.status.is_successful:
            if self.raw is not None:
                w.add_buffer(self.raw)
            else:
                self._encode_body(w, ctx)

    def _encode_body(self, w, ctx) -> None:
        pass

    @classmethod
    def _decode(cls, buf, off, order, ctx):
        _need(buf, off, 5, "request id and subcommand")
        ioid, sub = _IB[order].unpack_from(buf, off)
        self = cls.__new__(cls)
        self._blank()
        self.ioid, self.subcommand = ioid, sub
        self.status, off = _read_status(buf, off + 5, order, ctx)
        if self.status.is_successful:
            cls._decode_body(self, buf, off, order, ctx)
        return self

    def _blank(self) -> None:
        self.raw = None

    @classmethod
    def _decode_body(cls, self, buf, off, order, ctx) -> None:
        pass


def _op_plans(ctx: MessageContext, ioid: int, get: bool = False):
    """The TypePlans of request ``ioid``'s (get) type, or None."""
    t = ctx.types.get(ioid)
    if t is None:
        return None
    plans = t.get_plans if get else t.plans
    if plans is None:
        desc = t.get_type if get else t.type
        if desc is not None:
            plans = type_cache.plans(desc)
    return plans


def _op_type(ctx: MessageContext, ioid: int, get: bool = False) -> Optional[FieldDesc]:
    t = ctx.types.get(ioid)
    if t is None:
        return None
    return t.get_type if get else t.type


def _encode_data(w, ctx, ioid, iface, data: Optional[DataWithBitSet], get=False):
    desc = iface or (data.interface if data is not None else None) or _op_type(ctx, ioid, get)
    if desc is None:
        raise LocalProtocolError(f"no type known for request {ioid}: send the INIT first "
                                 "or give the structure type")
    if data is None:
        raise LocalProtocolError("data message without data")
    write_bits(w, type_cache.plans(desc), data.data, data.bitset, ctx.ectx)


@_register
class ChannelGetRequest(_OpRequest):
    """GET: INIT carries the pvRequest; an exec (0x00/0x40, maybe | 0x10) carries nothing."""

    __slots__ = ()
    ID = ApplicationCommand.GET
    SENDER = Direction.CLIENT

    def to_get(self) -> "ChannelGetRequest":
        self.subcommand = _SUB_DEFAULT
        return self

    to_default = to_get


@_register
class ChannelGetResponse(_OpResponse):
    """GET reply: INIT carries the type; an exec carries BitSet + partial value."""

    __slots__ = ("pv_structure_if", "pv_data")
    _fields = ("ioid", "subcommand", "status", "pv_structure_if", "pv_data")
    ID = ApplicationCommand.GET
    SENDER = Direction.SERVER

    def __init__(self, ioid: int = 0, status: Status = _OK, subcommand: int = _SUB_INIT,
                 pv_structure_if: Optional[FieldDesc] = None,
                 pv_data: Optional[DataWithBitSet] = None):
        super().__init__(ioid, status, subcommand)
        self.pv_structure_if = pv_structure_if
        self.pv_data = pv_data

    def _blank(self):
        self.raw = None
        self.pv_structure_if = None
        self.pv_data = None

    def to_init(self, pv_structure_if: FieldDesc) -> "ChannelGetResponse":
        self.subcommand = _SUB_INIT
        self.pv_structure_if = pv_structure_if
        return self

    def to_get(self, pv_data: DataWithBitSet) -> "ChannelGetResponse":
        self.subcommand = _SUB_DEFAULT
        self.pv_data = pv_data
        return self

    to_default = to_get

    def _encode_body(self, w, ctx):
        if self.subcommand & _SUB_INIT:
            write_type(w, self.pv_structure_if, ctx)
        else:
            _encode_data(w, ctx, self.ioid, self.pv_structure_if, self.pv_data)

    @classmethod
    def _decode_body(cls, self, buf, off, order, ctx):
        if self.subcommand & _SUB_INIT:
            self.pv_structure_if, off = _read_type(buf, off, order, ctx)
            return
        desc = _op_type(ctx, self.ioid)
        if desc is None:
            self.raw = _rest(buf, off)
            return
        self.pv_structure_if = desc
        self.pv_data, off = read_partial(buf, off, order, _op_plans(ctx, self.ioid), ctx.dctx)


@_register
class ChannelPutRequest(_OpRequest):
    """PUT: INIT pvRequest; 0x40 get (nothing); 0x00 BitSet + partial put value."""

    __slots__ = ("put_data",)
    _fields = ("server_chid", "ioid", "subcommand", "pv_request", "put_data")
    ID = ApplicationCommand.PUT
    SENDER = Direction.CLIENT

    def __init__(self, server_chid: int = 0, ioid: int = 0, subcommand: int = _SUB_INIT,
                 pv_request: Any = None, put_data: Optional[DataWithBitSet] = None,
                 raw: Optional[bytes] = None):
        super().__init__(server_chid, ioid, subcommand, pv_request, raw)
        self.put_data = put_data

    def to_default(self, put_data: DataWithBitSet) -> "ChannelPutRequest":
        self.subcommand = _SUB_DEFAULT
        self.put_data = put_data
        return self

    def to_get(self) -> "ChannelPutRequest":
        self.subcommand = _SUB_GET
        return self

    def _encode_exec(self, w, ctx):
        if self.subcommand & _SUB_GET:
            return
        if self.raw is not None:
            w.add_buffer(self.raw)
            return
        _encode_data(w, ctx, self.ioid, None, self.put_data)

    @classmethod
    def _decode_exec(cls, self, buf, off, order, ctx):
        self.put_data = None
        if self.subcommand & _SUB_GET:
            return
        desc = _op_type(ctx, self.ioid)
        if desc is None:
            self.raw = _rest(buf, off)
            return
        self.put_data, off = read_partial(buf, off, order, _op_plans(ctx, self.ioid), ctx.dctx)

    @classmethod
    def _decode_init_extra(cls, self, buf, off, order, ctx):
        self.put_data = None


@_register
class ChannelPutResponse(_OpResponse):
    """PUT reply: INIT type; 0x40 BitSet + partial value; 0x00 status only."""

    __slots__ = ("put_structure_if", "pv_data")
    _fields = ("ioid", "subcommand", "status", "put_structure_if", "pv_data")
    ID = ApplicationCommand.PUT
    SENDER = Direction.SERVER

    def __init__(self, ioid: int = 0, status: Status = _OK, subcommand: int = _SUB_INIT,
                 put_structure_if: Optional[FieldDesc] = None,
                 pv_data: Optional[DataWithBitSet] = None):
        super().__init__(ioid, status, subcommand)
        self.put_structure_if = put_structure_if
        self.pv_data = pv_data

    def _blank(self):
        self.raw = None
        self.put_structure_if = None
        self.pv_data = None

    def to_init(self, put_structure_if: FieldDesc) -> "ChannelPutResponse":
        self.subcommand = _SUB_INIT
        self.put_structure_if = put_structure_if
        return self

    def to_default(self) -> "ChannelPutResponse":
        self.subcommand = _SUB_DEFAULT
        return self

    def to_get(self, data: DataWithBitSet) -> "ChannelPutResponse":
        self.subcommand = _SUB_GET
        self.pv_data = data
        return self

    @property
    def put_data(self) -> Optional[DataWithBitSet]:
        """caproto.pva's name of :attr:`pv_data` (the current value, for GET_PUT)."""
        return self.pv_data

    @put_data.setter
    def put_data(self, data: Optional[DataWithBitSet]) -> None:
        self.pv_data = data

    def _encode_body(self, w, ctx):
        if self.subcommand & _SUB_INIT:
            write_type(w, self.put_structure_if, ctx)
        elif self.subcommand & _SUB_GET:
            _encode_data(w, ctx, self.ioid, self.put_structure_if, self.pv_data)

    @classmethod
    def _decode_body(cls, self, buf, off, order, ctx):
        if self.subcommand & _SUB_INIT:
            self.put_structure_if, off = _read_type(buf, off, order, ctx)
        elif self.subcommand & _SUB_GET:
            desc = _op_type(ctx, self.ioid)
            if desc is None:
                self.raw = _rest(buf, off)
                return
            self.put_structure_if = desc
            self.pv_data, off = read_partial(buf, off, order, _op_plans(ctx, self.ioid), ctx.dctx)


@_register
class ChannelPutGetRequest(_OpRequest):
    """PUT_GET: INIT pvRequest; 0x00 put BitSet + value; 0x40 get-get; 0x80 get-put."""

    __slots__ = ("put_data",)
    _fields = ("server_chid", "ioid", "subcommand", "pv_request", "put_data")
    ID = ApplicationCommand.PUT_GET
    SENDER = Direction.CLIENT

    def __init__(self, server_chid: int = 0, ioid: int = 0, subcommand: int = _SUB_INIT,
                 pv_request: Any = None, put_data: Optional[DataWithBitSet] = None,
                 raw: Optional[bytes] = None):
        super().__init__(server_chid, ioid, subcommand, pv_request, raw)
        self.put_data = put_data

    def _encode_exec(self, w, ctx):
        if self.subcommand & (_SUB_GET | _SUB_GET_PUT):
            return
        if self.raw is not None:
            w.add_buffer(self.raw)
            return
        _encode_data(w, ctx, self.ioid, None, self.put_data)

    @classmethod
    def _decode_exec(cls, self, buf, off, order, ctx):
        self.put_data = None
        if self.subcommand & (_SUB_GET | _SUB_GET_PUT):
            return
        desc = _op_type(ctx, self.ioid)
        if desc is None:
            self.raw = _rest(buf, off)
            return
        self.put_data, off = read_partial(buf, off, order, _op_plans(ctx, self.ioid), ctx.dctx)

    @classmethod
    def _decode_init_extra(cls, self, buf, off, order, ctx):
        self.put_data = None


@_register
class ChannelPutGetResponse(_OpResponse):
    """PUT_GET reply: INIT put type + get type; 0x00/0x40 get data; 0x80 put data.

    Data are BitSet + partial value (as pvAccessCPP sends them).
    """

    __slots__ = ("put_structure_if", "get_structure_if", "pv_data")
    _fields = ("ioid", "subcommand", "status", "put_structure_if", "get_structure_if", "pv_data")
    ID = ApplicationCommand.PUT_GET
    SENDER = Direction.SERVER

    def __init__(self, ioid: int = 0, status: Status = _OK, subcommand: int = _SUB_INIT,
                 put_structure_if: Optional[FieldDesc] = None,
                 get_structure_if: Optional[FieldDesc] = None,
                 pv_data: Optional[DataWithBitSet] = None):
        super().__init__(ioid, status, subcommand)
        self.put_structure_if = put_structure_if
        self.get_structure_if = get_structure_if
        self.pv_data = pv_data

    def _blank(self):
        self.raw = None
        self.put_structure_if = self.get_structure_if = None
        self.pv_data = None

    def _encode_body(self, w, ctx):
        if self.subcommand & _SUB_INIT:
            write_type(w, self.put_structure_if, ctx)
            write_type(w, self.get_structure_if, ctx)
        elif self.subcommand & _SUB_GET_PUT:
            _encode_data(w, ctx, self.ioid, self.put_structure_if, self.pv_data)
        else:
            _encode_data(w, ctx, self.ioid, self.get_structure_if, self.pv_data, get=True)

    @classmethod
    def _decode_body(cls, self, buf, off, order, ctx):
        if self.subcommand & _SUB_INIT:
            self.put_structure_if, off = _read_type(buf, off, order, ctx)
            self.get_structure_if, off = _read_type(buf, off, order, ctx)
            return
        put = bool(self.subcommand & _SUB_GET_PUT)
        desc = _op_type(ctx, self.ioid, get=not put)
        if desc is None:
            self.raw = _rest(buf, off)
            return
        if put:
            self.put_structure_if = desc
        else:
            self.get_structure_if = desc
        self.pv_data, off = read_partial(buf, off, order, _op_plans(ctx, self.ioid, get=not put),
                                         ctx.dctx)


@_register
class ChannelMonitorRequest(_OpRequest):
    """MONITOR: INIT pvRequest (+ uint32 queue size if 0x80); 0x44 start, 0x04 stop,
    0x80 pipeline ack with uint32 nfree, 0x10 destroy."""

    __slots__ = ("nfree",)
    _fields = ("server_chid", "ioid", "subcommand", "pv_request", "nfree")
    ID = ApplicationCommand.MONITOR
    SENDER = Direction.CLIENT

    def __init__(self, server_chid: int = 0, ioid: int = 0, subcommand: int = _SUB_INIT,
                 pv_request: Any = None, nfree: Optional[int] = None):
        if nfree is not None:
            subcommand |= _SUB_PIPELINE
        super().__init__(server_chid, ioid, subcommand, pv_request)
        self.nfree = nfree

    @property
    def queue_size(self) -> Optional[int]:
        return self.nfree

    def to_init(self, pv_request: Any = None, queue_size: int = 0) -> "ChannelMonitorRequest":
        super().to_init(pv_request)
        if queue_size:
            self.subcommand |= _SUB_PIPELINE
            self.nfree = queue_size
        return self

    def to_start(self) -> "ChannelMonitorRequest":
        self.subcommand = _SUB_START
        return self

    def to_stop(self) -> "ChannelMonitorRequest":
        self.subcommand = _SUB_STOP
        return self

    def to_pipeline(self, nfree: int) -> "ChannelMonitorRequest":
        self.subcommand = _SUB_PIPELINE
        self.nfree = nfree
        return self

    def _encode(self, w, ctx):
        super()._encode(w, ctx)
        if self.subcommand & _SUB_PIPELINE:
            if self.nfree is None:
                raise LocalProtocolError("pipeline (0x80) monitor message needs nfree")
            w.buf += _U32[w.order].pack(self.nfree)

    def _encode_exec(self, w, ctx):
        pass

    @classmethod
    def _decode(cls, buf, off, order, ctx):
        _need(buf, off, 9, "channel id, request id and subcommand")
        sid, ioid, sub = _IIB[order].unpack_from(buf, off)
        off += 9
        self = cls.__new__(cls)
        self.server_chid, self.ioid, self.subcommand = sid, ioid, sub
        self.pv_request = None
        self._parsed = None
        self.raw = None
        self.nfree = None
        if sub & _SUB_INIT:
            self.pv_request, off, self._parsed = _read_pvrequest_parsed(buf, off, order, ctx)
        if sub & _SUB_PIPELINE:
            _need(buf, off, 4, "a queue count")
            self.nfree = _U32[order].unpack_from(buf, off)[0]
        return self


@_register
class ChannelMonitorResponse(_OpResponse):
    """MONITOR reply: INIT status + type; update (0x00) BitSet + partial value +
    overrun BitSet (no status); final (0x10) status."""

    __slots__ = ("pv_structure_if", "pv_data", "overrun_bitset")
    _fields = ("ioid", "subcommand", "status", "pv_structure_if", "pv_data", "overrun_bitset")
    ID = ApplicationCommand.MONITOR
    SENDER = Direction.SERVER

    def __init__(self, ioid: int = 0, status: Status = _OK, subcommand: int = _SUB_INIT,
                 pv_structure_if: Optional[FieldDesc] = None,
                 pv_data: Optional[DataWithBitSet] = None,
                 overrun_bitset: Optional[BitSet] = None):
        super().__init__(ioid, status, subcommand)
        self.pv_structure_if = pv_structure_if
        self.pv_data = pv_data
        self.overrun_bitset = overrun_bitset

    def _blank(self):
        self.raw = None
        self.pv_structure_if = None
        self.pv_data = None
        self.overrun_bitset = None

    @property
    def is_update(self) -> bool:
        return not self.subcommand & (_SUB_INIT | _SUB_DESTROY)

    def to_init(self, status: Status, pv_structure_if: FieldDesc) -> "ChannelMonitorResponse":
        self.subcommand = _SUB_INIT
        self.status = status
        self.pv_structure_if = pv_structure_if
        return self

    def to_default(self, pv_data: DataWithBitSet,
                   overrun_bitset: Optional[BitSet] = None) -> "ChannelMonitorResponse":
        self.subcommand = _SUB_DEFAULT
        self.pv_data = pv_data
        self.overrun_bitset = overrun_bitset
        return self

    def _encode(self, w, ctx):
        sub = self.subcommand
        w.buf += _IB[w.order].pack(self.ioid, sub)
        if sub & (_SUB_INIT | _SUB_DESTROY):
            _write_status(w, self.status)
            if sub & _SUB_INIT and self.status.is_successful:
                write_type(w, self.pv_structure_if, ctx)
            return
        raw = self.raw
        if raw is not None:
            if type(raw) is tuple:       # from encode_monitor_update()
                for b in raw:
                    w.add_buffer(b)
            else:
                w.add_buffer(raw)
            return
        _encode_data(w, ctx, self.ioid, self.pv_structure_if, self.pv_data)
        ob = self.overrun_bitset
        if not ob:
            w.buf.append(0)
        else:
            w.buf += encode_bitset(ob.to_int() if isinstance(ob, BitSet) else int(ob), w.order)

    @classmethod
    def _decode(cls, buf, off, order, ctx):
        end = len(buf)
        if off + 5 > end:
            _need(buf, off, 5, "request id and subcommand")
        ioid, sub = _IB[order].unpack_from(buf, off)
        off += 5
        self = cls.__new__(cls)
        self.raw = self.pv_structure_if = self.pv_data = self.overrun_bitset = None
        self.ioid, self.subcommand = ioid, sub
        self.status = _OK
        if sub & (_SUB_INIT | _SUB_DESTROY):
            self.status, off = _read_status(buf, off, order, ctx)
            if sub & _SUB_INIT and self.status.is_successful:
                self.pv_structure_if, off = _read_type(buf, off, order, ctx)
            return self
        # an update: the hot path of a client
        types = ctx.types.get(ioid)
        desc = None if types is None else types.type
        if desc is None:
            self.raw = _rest(buf, off)
            return self
        self.pv_structure_if = desc
        plans = types.plans
        if plans is None:
            plans = type_cache.plans(desc)
        self.pv_data, off = read_partial(buf, off, order, plans, ctx.dctx)
        if off < end:
            if buf[off]:
                mask, off = read_mask(buf, off, order, end)
                self.overrun_bitset = _trusted(_bits_of(mask))
            else:           # the usual empty overrun BitSet
                self.overrun_bitset = _trusted(())
        else:  # overrun BitSet missing (tolerated, as pvxs's reader would fail softly)
            self.overrun_bitset = BitSet()
        return self


@_register
class ChannelArrayRequest(_OpRequest):
    """ARRAY: INIT pvRequest; 0x40 get (offset, count, stride); 0x00 put (offset,
    stride, array); 0x80 set length (length); 0x04 get length (nothing).

    Layout as pvAccessCPP sends it (the specification omits stride).
    """

    __slots__ = ("offset", "count", "stride", "length", "array_data")
    _fields = ("server_chid", "ioid", "subcommand", "pv_request", "offset", "count",
               "stride", "length", "array_data")
    ID = ApplicationCommand.ARRAY
    SENDER = Direction.CLIENT

    def __init__(self, server_chid: int = 0, ioid: int = 0, subcommand: int = _SUB_INIT,
                 pv_request: Any = None, *, offset: int = 0, count: int = 0, stride: int = 1,
                 length: int = 0, array_data: Any = None, raw: Optional[bytes] = None):
        super().__init__(server_chid, ioid, subcommand, pv_request, raw)
        self.offset, self.count, self.stride = offset, count, stride
        self.length = length
        self.array_data = array_data

    def _encode_exec(self, w, ctx):
        sub, o = self.subcommand, w.order
        if sub & _SUB_GET:
            w.buf += pack_size(self.offset, o) + pack_size(self.count, o) + pack_size(self.stride, o)
        elif sub & _SUB_GET_PUT:
            w.buf += pack_size(self.length, o)
        elif sub & _SUB_PROCESS:
            pass
        else:
            if self.raw is not None:
                w.add_buffer(self.raw)
                return
            w.buf += pack_size(self.offset, o) + pack_size(self.stride, o)
            desc = _op_type(ctx, self.ioid)
            if desc is None:
                raise LocalProtocolError(f"no array type known for request {self.ioid}")
            _write_full(w, desc, self.array_data, ctx)

    @classmethod
    def _decode_init_extra(cls, self, buf, off, order, ctx):
        self.offset, self.count, self.stride, self.length, self.array_data = 0, 0, 1, 0, None

    @classmethod
    def _decode_exec(cls, self, buf, off, order, ctx):
        cls._decode_init_extra(self, buf, off, order, ctx)
        sub = self.subcommand
        if sub & _SUB_GET:
            self.offset, off = read_size(buf, off, order)
            self.count, off = read_size(buf, off, order)
            self.stride, off = read_size(buf, off, order)
        elif sub & _SUB_GET_PUT:
            self.length, off = read_size(buf, off, order)
        elif sub & _SUB_PROCESS:
            pass
        else:
            desc = _op_type(ctx, self.ioid)
            if desc is None:
                self.raw = _rest(buf, off)
                return
            self.offset, off = read_size(buf, off, order)
            self.stride, off = read_size(buf, off, order)
            self.array_data, off = get_decoder(desc, order)(buf, off, ctx.dctx)


@_register
class ChannelArrayResponse(_OpResponse):
    """ARRAY reply: INIT array type; 0x40 array data; 0x04 length; others status only."""

    __slots__ = ("array_structure_if", "array_data", "length")
    _fields = ("ioid", "subcommand", "status", "array_structure_if", "array_data", "length")
    ID = ApplicationCommand.ARRAY
    SENDER = Direction.SERVER

    def __init__(self, ioid: int = 0, status: Status = _OK, subcommand: int = _SUB_INIT,
                 array_structure_if: Optional[FieldDesc] = None, array_data: Any = None,
                 length: Optional[int] = None):
        super().__init__(ioid, status, subcommand)
        self.array_structure_if = array_structure_if
        self.array_data = array_data
        self.length = length

    def _blank(self):
        self.raw = None
        self.array_structure_if = None
        self.array_data = None
        self.length = None

    def _encode_body(self, w, ctx):
        sub = self.subcommand
        if sub & _SUB_INIT:
            write_type(w, self.array_structure_if, ctx)
        elif sub & _SUB_GET:
            desc = self.array_structure_if or _op_type(ctx, self.ioid)
            if desc is None:
                raise LocalProtocolError(f"no array type known for request {self.ioid}")
            _write_full(w, desc, self.array_data, ctx)
        elif sub & _SUB_PROCESS:
            w.buf += pack_size(self.length or 0, w.order)

    @classmethod
    def _decode_body(cls, self, buf, off, order, ctx):
        sub = self.subcommand
        if sub & _SUB_INIT:
            self.array_structure_if, off = _read_type(buf, off, order, ctx)
        elif sub & _SUB_GET:
            desc = _op_type(ctx, self.ioid)
            if desc is None:
                self.raw = _rest(buf, off)
                return
            self.array_structure_if = desc
            self.array_data, off = get_decoder(desc, order)(buf, off, ctx.dctx)
        elif sub & _SUB_PROCESS:
            self.length, off = read_size(buf, off, order)


@_register
class ChannelRequestDestroy(Message):
    """Destroy a request (server channel id, request id); no reply."""

    __slots__ = ("server_chid", "ioid")
    _fields = __slots__
    ID = ApplicationCommand.DESTROY_REQUEST
    SENDER = Direction.CLIENT

    def __init__(self, server_chid: int = 0, ioid: int = 0):
        self.server_chid = server_chid
        self.ioid = ioid

    def _encode(self, w, ctx):
        w.buf += _II[w.order].pack(self.server_chid, self.ioid)

    @classmethod
    def _decode(cls, buf, off, order, ctx):
        _need(buf, off, 8, "channel and request ids")
        return cls(*_II[order].unpack_from(buf, off))


@_register
class ChannelRequestCancel(ChannelRequestDestroy):
    """Cancel a pending request (server channel id, request id); no reply."""

    __slots__ = ()
    ID = ApplicationCommand.CANCEL_REQUEST


@_register
class ChannelProcessRequest(_OpRequest):
    """PROCESS: INIT with an optional pvRequest (null type allowed); exec carries nothing."""

    __slots__ = ()
    ID = ApplicationCommand.PROCESS
    SENDER = Direction.CLIENT


@_register
class ChannelProcessResponse(_OpResponse):
    """PROCESS reply: status only."""

    __slots__ = ()
    ID = ApplicationCommand.PROCESS
    SENDER = Direction.SERVER


@_register
class ChannelFieldInfoRequest(Message):
    """GET_FIELD: server channel id, request id, sub-field name ('' = all).

    pvxs ignores the sub-field name and always returns the full type.
    """

    __slots__ = ("server_chid", "ioid", "sub_field_name")
    _fields = __slots__
    ID = ApplicationCommand.GET_FIELD
    SENDER = Direction.CLIENT

    def __init__(self, server_chid: int = 0, ioid: int = 0, sub_field_name: str = ""):
        self.server_chid = server_chid
        self.ioid = ioid
        self.sub_field_name = sub_field_name

    def _encode(self, w, ctx):
        w.buf += _II[w.order].pack(self.server_chid, self.ioid)
        w.buf += pack_string(self.sub_field_name, w.order)

    @classmethod
    def _decode(cls, buf, off, order, ctx):
        _need(buf, off, 8, "channel and request ids")
        sid, ioid = _II[order].unpack_from(buf, off)
        name, off = read_string(buf, off + 8, order, ctx.limits)
        return cls(sid, ioid, name)


@_register
class ChannelFieldInfoResponse(Message):
    """GET_FIELD reply: request id, status, type (if successful)."""

    __slots__ = ("ioid", "status", "interface")
    _fields = __slots__
    ID = ApplicationCommand.GET_FIELD
    SENDER = Direction.SERVER

    def __init__(self, ioid: int = 0, interface: Optional[FieldDesc] = None, status: Status = _OK):
        self.ioid = ioid
        self.interface = interface
        self.status = status

    def _encode(self, w, ctx):
        w.buf += _U32[w.order].pack(self.ioid)
        _write_status(w, self.status)
        if self.status.is_successful:
            write_type(w, self.interface, ctx)

    @classmethod
    def _decode(cls, buf, off, order, ctx):
        _need(buf, off, 4, "a request id")
        ioid = _U32[order].unpack_from(buf, off)[0]
        status, off = _read_status(buf, off + 4, order, ctx)
        desc = None
        if status.is_successful:
            desc, off = _read_type(buf, off, order, ctx)
        return cls(ioid, desc, status)


class MessageType(enum.IntEnum):
    """Severity of a :class:`ChannelMessage`."""

    INFO = 0
    WARNING = 1
    ERROR = 2
    FATAL = 3


@_register
class ChannelMessage(Message):
    """MESSAGE (server -> client): request id, message type, text."""

    __slots__ = ("ioid", "message_type", "message")
    _fields = __slots__
    ID = ApplicationCommand.MESSAGE
    SENDER = Direction.SERVER

    def __init__(self, ioid: int = 0, message_type: int = MessageType.INFO, message: str = ""):
        self.ioid = ioid
        self.message_type = message_type
        self.message = message

    def _encode(self, w, ctx):
        w.buf += _U32[w.order].pack(self.ioid)
        w.buf.append(self.message_type)
        w.buf += pack_string(self.message, w.order)

    @classmethod
    def _decode(cls, buf, off, order, ctx):
        _need(buf, off, 5, "request id and message type")
        ioid = _U32[order].unpack_from(buf, off)[0]
        mtype = buf[off + 4]
        text, off = read_string(buf, off + 5, order, ctx.limits)
        return cls(ioid, mtype, text)


@_register
class ChannelRpcRequest(_OpRequest):
    """RPC: INIT pvRequest; exec carries the argument as type + full value."""

    __slots__ = ("pv_data",)
    _fields = ("server_chid", "ioid", "subcommand", "pv_request", "pv_data")
    ID = ApplicationCommand.RPC
    SENDER = Direction.CLIENT

    def __init__(self, server_chid: int = 0, ioid: int = 0, subcommand: int = _SUB_INIT,
                 pv_request: Any = None, pv_data: Optional[FieldDescAndData] = None):
        super().__init__(server_chid, ioid, subcommand, pv_request)
        if pv_data is None and not subcommand & _SUB_INIT:
            pv_data = FieldDescAndData()
        self.pv_data = pv_data

    def to_default(self, pv_data: FieldDescAndData) -> "ChannelRpcRequest":
        self.subcommand = _SUB_DEFAULT
        self.pv_data = pv_data
        return self

    def _encode_exec(self, w, ctx):
        _write_typed(w, self.pv_data, ctx)

    @classmethod
    def _decode_init_extra(cls, self, buf, off, order, ctx):
        self.pv_data = None

    @classmethod
    def _decode_exec(cls, self, buf, off, order, ctx):
        self.pv_data, off = _read_typed(buf, off, order, ctx)


@_register
class ChannelRpcResponse(_OpResponse):
    """RPC reply: INIT status only; exec status + type + full value."""

    __slots__ = ("pv_response",)
    _fields = ("ioid", "subcommand", "status", "pv_response")
    ID = ApplicationCommand.RPC
    SENDER = Direction.SERVER

    def __init__(self, ioid: int = 0, status: Status = _OK, subcommand: int = _SUB_INIT,
                 pv_response: Optional[FieldDescAndData] = None):
        super().__init__(ioid, status, subcommand)
        if pv_response is None and not subcommand & _SUB_INIT and status.is_successful:
            pv_response = FieldDescAndData()
        self.pv_response = pv_response

    def _blank(self):
        self.raw = None
        self.pv_response = None

    def to_init(self, status: Status) -> "ChannelRpcResponse":
        self.subcommand = _SUB_INIT
        self.status = status
        return self

    def to_default(self, status: Status, pv_response: FieldDescAndData) -> "ChannelRpcResponse":
        self.subcommand = _SUB_DEFAULT
        self.status = status
        self.pv_response = pv_response
        return self

    def _encode_body(self, w, ctx):
        if not self.subcommand & _SUB_INIT:
            _write_typed(w, self.pv_response, ctx)

    @classmethod
    def _decode_body(cls, self, buf, off, order, ctx):
        if not self.subcommand & _SUB_INIT:
            self.pv_response, off = _read_typed(buf, off, order, ctx)


@_register
class OriginTag(Message):
    """ORIGIN_TAG (UDP): the address a forwarded search was first received on."""

    __slots__ = ("forwarder_address",)
    _fields = __slots__
    ID = ApplicationCommand.ORIGIN_TAG
    SENDER = Direction.CLIENT

    def __init__(self, forwarder_address: str = "0.0.0.0"):
        self.forwarder_address = forwarder_address

    def _encode(self, w, ctx):
        w.buf += _pack_address(self.forwarder_address)

    @classmethod
    def _decode(cls, buf, off, order, ctx):
        addr, off = _read_address(buf, off)
        return cls(addr)


__all__ += ["EchoReply", "AuthNZReply", "MessageType"]
