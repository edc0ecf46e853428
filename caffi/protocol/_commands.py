"""Every CA 4.13 command, both directions: a message catalogue.

Theory of operation
-------------------
A command is a header (:class:`~caffi.protocol.MessageHeader`) and a payload.
Each class below names the header fields the way the CA protocol
specification does for that command (``ReadNotifyRequest.ioid`` is
``parameter2``) and builds the payload from Python values.  A command is
built once: the constructor packs the header and encodes the payload right
away, so sending it costs nothing more, and ``buffers`` (header, then payload
pieces: metadata bytes, a view of the values, padding) can go to
``socket.sendmsg`` as they are.

Received commands are made by :func:`read_from_bytestream` (TCP) and
:func:`read_datagram` (UDP) through each class's ``from_wire``: the header
and the payload are kept as received (views of the received bytes), so
``bytes(command)`` is exactly what arrived, and the fields are decoded from
them (DBR values as numpy views).  The class is chosen by command number and
by who sent it: the same number is a request from a client and a response
from a server (:data:`COMMANDS`).

Decoding never trusts the peer: the payload size is checked against the
configured maximum before anything is joined or built, a payload must be a
multiple of 8 bytes (rsrv rejects anything else), and element counts must fit
in the bytes received.  Everything that fails raises
:class:`~caffi.protocol.RemoteProtocolError`.
"""
import ipaddress
import operator
import struct
from collections import deque
from typing import Deque, Dict, Tuple

from ._constants import (DEFAULT_PROTOCOL_VERSION, MAX_UDP_RECV, NO_REPLY, DO_REPLY,
                         AccessRights, ChannelType)
from ._dbr import DBR_LAYOUTS, decode_payload, encode_payload
from ._errors import CaprotoValueError, RemoteProtocolError
from ._header import HEADER, MessageHeader, pack_header, unpack_header
from ._sentinels import CLIENT, NEED_DATA, SERVER, Role
from ._status import eca_value, status_from_wire

__all__ = [
    "Message", "VersionRequest", "VersionResponse", "SearchRequest", "SearchResponse",
    "NotFoundResponse", "EchoRequest", "EchoResponse", "Beacon", "RepeaterRegisterRequest",
    "RepeaterConfirmResponse", "EventAddRequest", "EventAddResponse", "EventCancelRequest",
    "EventCancelResponse", "ReadRequest", "ReadResponse", "WriteRequest", "EventsOffRequest",
    "EventsOnRequest", "ReadSyncRequest", "ReadSyncResponse", "ErrorResponse", "ClearChannelRequest",
    "ClearChannelResponse", "ReadNotifyRequest", "ReadNotifyResponse", "CreateChanRequest",
    "CreateChanResponse", "WriteNotifyRequest", "WriteNotifyResponse", "ClientNameRequest",
    "HostNameRequest", "AccessRightsResponse", "CreateChFailResponse",
    "ServerDisconnResponse", "COMMANDS", "read_from_bytestream", "read_datagram",
    "extract_address", "ipv4_to_int", "int_to_ipv4", "max_payload_size",
]

_PAD = b"\x00" * 8
_unpack_header = HEADER.unpack_from
_pack = HEADER.pack
#: a MessageHeader from a tuple of its fields without the Python-level __new__
_new_header = tuple.__new__
_unpack_sizes = struct.Struct(">II").unpack_from
_STRING_ENCODING = "latin-1"


def ipv4_to_int(address: str) -> int:
    """``'127.0.0.1'`` -> 0x7f000001 (``''`` is 0.0.0.0)."""
    try:
        return int(ipaddress.IPv4Address(address or "0.0.0.0"))
    except ValueError:
        raise CaprotoValueError("not an IPv4 address: %r" % (address,)) from None


def int_to_ipv4(value: int) -> str:
    return "%d.%d.%d.%d" % (value >> 24, (value >> 16) & 255, (value >> 8) & 255, value & 255)


def max_payload_size(max_array_bytes: int) -> int:
    """The largest payload accepted when arrays may have ``max_array_bytes``:
    the array, the largest DBR metadata (CTRL_ENUM) and padding, and never
    less than the classic 16 kB message."""
    return max(int(max_array_bytes) + 512, 16 * 1024)


def _encode_name(name) -> bytes:
    """A name as NUL-terminated bytes (not padded)."""
    if isinstance(name, str):
        try:
            name = name.encode(_STRING_ENCODING)
        except UnicodeEncodeError as exc:
            raise CaprotoValueError("name %r: %s" % (name, exc)) from None
    elif not isinstance(name, (bytes, bytearray)):
        raise CaprotoValueError("a name must be str or bytes, not %r" % (name,))
    if b"\x00" in name:
        raise CaprotoValueError("a name must not contain NUL: %r" % (name,))
    return bytes(name) + b"\x00"


def _decode_name(payload) -> str:
    raw = bytes(payload)
    nul = raw.find(b"\x00")
    return (raw if nul < 0 else raw[:nul]).decode(_STRING_ENCODING)


def _padded(raw: bytes) -> bytes:
    return raw + _PAD[:-len(raw) % 8]


class Message:
    """Base class of all commands.

    Attributes
    ----------
    header : MessageHeader
        The header fields (real size and count, also when extended).
    payload : tuple
        The payload as buffers (empty tuple for none), padding included.
    sender_address : tuple or None
        ``(host, port)`` of a command received in a datagram.
    """

    __slots__ = ("header", "_raw_header", "payload", "sender_address")
    ID = -1
    #: who sends this command
    SENDER: Role = CLIENT
    #: the names of the constructor arguments (also shown by ``repr``)
    _fields: Tuple[str, ...] = ()

    def _set(self, payload_size, data_type, data_count, parameter1, parameter2, payload=()):
        fields = (self.ID, payload_size, data_type, data_count, parameter1, parameter2)
        try:
            if payload_size < 0xFFFF and data_count < 0xFFFF:
                self._raw_header = _pack(*fields)
            else:
                self._raw_header = pack_header(*fields)
        except struct.error as exc:
            raise CaprotoValueError("%s: field out of range (%s)"
                                    % (type(self).__name__, exc)) from None
        self.header = _new_header(MessageHeader, fields)
        self.payload = payload
        self.sender_address = None

    @classmethod
    def from_wire(cls, header: MessageHeader, raw_header, payload) -> "Message":
        """A received command (``payload`` is a memoryview)."""
        self = cls.__new__(cls)
        self.header = header
        self._raw_header = raw_header
        self.payload = (payload,) if len(payload) else ()
        self.sender_address = None
        self._decode(payload)
        return self

    def _decode(self, payload):
        """Decode and check payload fields (subclasses)."""

    @property
    def buffers(self) -> tuple:
        """Header and payload buffers, ready for ``socket.sendmsg``."""
        return (self._raw_header,) + self.payload

    def __bytes__(self) -> bytes:
        return b"".join(bytes(b) for b in self.buffers)

    def __len__(self) -> int:
        return len(self._raw_header) + self.header.payload_size

    def __eq__(self, other):
        if type(self) is not type(other):
            return NotImplemented
        return bytes(self) == bytes(other)

    __hash__ = None

    def __repr__(self):
        parts = []
        for name in self._fields:
            try:
                parts.append("%s=%r" % (name, getattr(self, name)))
            except Exception as exc:  # a repr must not fail
                parts.append("%s=(repr: %s)" % (name, exc))
        return "%s(%s)" % (type(self).__name__, ", ".join(parts))


def _p(index):
    """A read-only property of header field ``index``."""
    return property(operator.attrgetter("header." + MessageHeader._fields[index]))


_TYPES = {int(t): t for t in ChannelType}
#: the DBR type as a ChannelType (an unknown code stays an int: a server
#: answers such a request with ECA_BADTYPE, as rsrv does)
_DT = property(lambda self: _TYPES.get(self.header.data_type, self.header.data_type))


# --------------------------------------------------------------------------- #
# 0 VERSION

class VersionRequest(Message):
    """Start a circuit (or a search datagram): priority and protocol version.

    Over UDP, libca sets ``priority`` to 1 ("sequence number valid") and
    ``sequence_id`` to the datagram's number."""
    __slots__ = ()
    ID = 0
    _fields = ("priority", "version")

    def __init__(self, priority, version, *, sequence_id=0):
        self._set(0, priority, version, sequence_id, 0)

    priority = _p(2)
    version = _p(3)
    sequence_id = _p(4)


class VersionResponse(Message):
    """The server's protocol version (rsrv sends it as soon as it accepts)."""
    __slots__ = ()
    ID = 0
    SENDER = SERVER
    _fields = ("version",)

    def __init__(self, version, *, priority=0, sequence_id=0):
        self._set(0, priority, version, sequence_id, 0)

    priority = _p(2)
    version = _p(3)
    sequence_id = _p(4)


# --------------------------------------------------------------------------- #
# Channel data (DBR payloads)

class _DataMessage(Message):
    """A command with a DBR payload: ``data`` and ``metadata``."""
    __slots__ = ("data", "metadata")
    #: one DBR_STRING goes as its characters and NUL only (see encode_payload)
    BARE_STRING = False

    def _set_data(self, data, data_type, data_count, metadata, p1, p2):
        try:
            data_type = int(data_type)
            if not 0 <= data_type <= 38:
                raise CaprotoValueError("no DBR type %r" % (data_type,))
            buffers, _, data_count = encode_payload(data_type, data, data_count, metadata,
                                                     self.BARE_STRING)
        except CaprotoValueError as exc:
            raise CaprotoValueError("%s: %s" % (type(self).__name__, exc)) from None
        size = 0
        for b in buffers:
            size += len(b)
        self._set(size, data_type, data_count, p1, p2, tuple(buffers))
        self.data = data
        layout = DBR_LAYOUTS[data_type]
        self.metadata = (layout.make_metadata(metadata)
                         if layout.metadata_class is not None else None)

    def _decode(self, payload):
        h = self.header
        self.metadata, self.data = decode_payload(h.data_type, h.data_count, payload)

    data_type = _DT
    data_count = _p(3)


class EventAddRequest(Message):
    """Subscribe to a channel.  ``low``, ``high`` and ``to`` are unused
    by servers (always 0 from libca)."""
    __slots__ = ("low", "high", "to", "mask")
    ID = 1
    _fields = ("data_type", "data_count", "sid", "subscriptionid", "low", "high", "to", "mask")
    _BODY = struct.Struct(">fffHH")

    def __init__(self, data_type, data_count, sid, subscriptionid, low=0.0, high=0.0,
                 to=0.0, mask=1):
        try:
            body = self._BODY.pack(low, high, to, mask, 0)
        except struct.error as exc:
            raise CaprotoValueError("EventAddRequest: %s" % exc) from None
        self._set(16, data_type, data_count, sid, subscriptionid, (body,))
        self.low, self.high, self.to, self.mask = low, high, to, mask

    def _decode(self, payload):
        if len(payload) < 16:
            raise RemoteProtocolError("EventAddRequest payload of %d bytes" % len(payload))
        self.low, self.high, self.to, self.mask, _ = self._BODY.unpack_from(payload)

    data_type = _DT
    data_count = _p(3)
    sid = _p(4)
    subscriptionid = _p(5)


class EventAddResponse(_DataMessage):
    """A subscription update.  ``status`` is the ECA code of the update."""
    __slots__ = ()
    ID = 1
    SENDER = SERVER
    _fields = ("data", "data_type", "data_count", "status", "subscriptionid", "metadata")

    def __init__(self, data, data_type, data_count, status, subscriptionid, *,
                 metadata=None):
        self._set_data(data, data_type, data_count, metadata, eca_value(status),
                       subscriptionid)

    status = property(lambda self: status_from_wire(self.header.parameter1))
    subscriptionid = _p(5)


class EventCancelRequest(Message):
    """End a subscription (libca also sends the subscription's count)."""
    __slots__ = ()
    ID = 2
    _fields = ("data_type", "sid", "subscriptionid")

    def __init__(self, data_type, sid, subscriptionid, *, data_count=0):
        self._set(0, data_type, data_count, sid, subscriptionid)

    data_type = _DT
    data_count = _p(3)
    sid = _p(4)
    subscriptionid = _p(5)


class EventCancelResponse(Message):
    """Confirm an :class:`EventCancelRequest`.  On the wire this is command 1
    (an :class:`EventAddResponse` without payload) echoing the request."""
    __slots__ = ()
    ID = 1
    SENDER = SERVER
    _fields = ("data_type", "sid", "subscriptionid", "data_count")

    def __init__(self, data_type, sid, subscriptionid, data_count):
        self._set(0, data_type, data_count, sid, subscriptionid)

    data_type = _DT
    data_count = _p(3)
    sid = _p(4)
    subscriptionid = _p(5)


class ReadRequest(Message):
    """Read without notification (deprecated since CA 3.13)."""
    __slots__ = ()
    ID = 3
    _fields = ("data_type", "data_count", "sid", "ioid")

    def __init__(self, data_type, data_count, sid, ioid):
        self._set(0, data_type, data_count, sid, ioid)

    data_type = _DT
    data_count = _p(3)
    sid = _p(4)
    ioid = _p(5)


class ReadResponse(_DataMessage):
    """Answer to a :class:`ReadRequest` (deprecated)."""
    __slots__ = ()
    BARE_STRING = True
    ID = 3
    SENDER = SERVER
    _fields = ("data", "data_type", "data_count", "sid", "ioid", "metadata")

    def __init__(self, data, data_type, data_count, sid, ioid, *, metadata=None):
        self._set_data(data, data_type, data_count, metadata, sid, ioid)

    sid = _p(4)
    ioid = _p(5)


class WriteRequest(_DataMessage):
    """Write without notification."""
    __slots__ = ()
    BARE_STRING = True
    ID = 4
    _fields = ("data", "data_type", "data_count", "sid", "ioid", "metadata")

    def __init__(self, data, data_type, data_count, sid, ioid, *, metadata=None):
        self._set_data(data, data_type, data_count, metadata, sid, ioid)

    sid = _p(4)
    ioid = _p(5)


# --------------------------------------------------------------------------- #
# 6 SEARCH, 14 NOT_FOUND

class SearchRequest(Message):
    """Look for a channel.  ``reply`` is :data:`NO_REPLY` (only servers that
    have the channel answer) or :data:`DO_REPLY` (a not-found answer too)."""
    __slots__ = ("name",)
    ID = 6
    _fields = ("name", "cid", "version", "reply")

    def __init__(self, name, cid, version=DEFAULT_PROTOCOL_VERSION, reply=NO_REPLY):
        raw = _padded(_encode_name(name))
        self._set(len(raw), reply, version, cid, cid, (raw,))
        self.name = name if isinstance(name, str) else _decode_name(raw)

    def _decode(self, payload):
        self.name = _decode_name(payload)

    reply = _p(2)
    version = _p(3)
    cid = _p(4)
    payload_size = _p(1)


class SearchResponse(Message):
    """A server has the channel: its TCP port and address.  ``ip`` is
    ``'255.255.255.255'`` when the server means "the address this datagram
    came from" (rsrv always does); :func:`extract_address` resolves that.
    ``version`` is None for the payload-less answer to a search over TCP."""
    __slots__ = ()
    ID = 6
    SENDER = SERVER
    _fields = ("port", "ip", "cid", "version")

    def __init__(self, port, ip, cid, version=DEFAULT_PROTOCOL_VERSION, *, data_count=0):
        address = ip if isinstance(ip, int) else ipv4_to_int(ip)
        if version is None:
            self._set(0, port, data_count, address, cid)
        else:
            try:
                body = struct.pack(">H6x", version)
            except struct.error as exc:
                raise CaprotoValueError("SearchResponse: %s" % exc) from None
            self._set(8, port, data_count, address, cid, (body,))

    def _decode(self, payload):
        if 0 < len(payload) < 2:
            raise RemoteProtocolError("SearchResponse payload of %d bytes" % len(payload))

    @property
    def version(self):
        if not self.payload:
            return None
        return struct.unpack_from(">H", self.payload[0])[0]

    port = _p(2)
    data_count = _p(3)
    ip = property(lambda self: int_to_ipv4(self.header.parameter1))
    cid = _p(5)


class NotFoundResponse(Message):
    """No such channel (sent only for a :data:`DO_REPLY` search); rsrv echoes
    the request's header fields."""
    __slots__ = ()
    ID = 14
    SENDER = SERVER
    _fields = ("version", "cid")

    def __init__(self, version, cid, *, reply=DO_REPLY):
        self._set(0, reply, version, cid, cid)

    reply = _p(2)
    version = _p(3)
    cid = _p(4)


# --------------------------------------------------------------------------- #
# 8-10 flow control

class _Empty(Message):
    __slots__ = ()

    def __init__(self):
        self._set(0, 0, 0, 0, 0)


class EventsOffRequest(_Empty):
    """Stop subscription updates on this circuit (flow control)."""
    __slots__ = ()
    ID = 8


class EventsOnRequest(_Empty):
    """Resume subscription updates."""
    __slots__ = ()
    ID = 9


class ReadSyncRequest(_Empty):
    """Deprecated: see :class:`ReadNotifyRequest`."""
    __slots__ = ()
    ID = 10


class ReadSyncResponse(_Empty):
    """rsrv's answer to a :class:`ReadSyncRequest` (the request echoed)."""
    __slots__ = ()
    ID = 10
    SENDER = SERVER


class EchoRequest(_Empty):
    """Check that the peer is alive."""
    __slots__ = ()
    ID = 23


class EchoResponse(_Empty):
    """Answer to an :class:`EchoRequest`."""
    __slots__ = ()
    ID = 23
    SENDER = SERVER


# --------------------------------------------------------------------------- #
# 11 ERROR

class ErrorResponse(Message):
    """A request failed: the request's header comes back with a message.
    ``cid`` is the channel's client id (0xFFFFFFFF when none applies)."""
    __slots__ = ("original_request", "error_message")
    ID = 11
    SENDER = SERVER
    _fields = ("original_request", "cid", "status", "error_message")

    def __init__(self, original_request, cid, status, error_message):
        h = original_request.header if isinstance(original_request, Message) else \
            MessageHeader(*original_request)
        raw = pack_header(*h) + _encode_name(error_message)
        raw = _padded(raw)
        self._set(len(raw), 0, 0, cid, eca_value(status), (raw,))
        self.original_request = h
        self.error_message = error_message

    def _decode(self, payload):
        header, n = unpack_header(payload)
        if header is None:
            raise RemoteProtocolError("ErrorResponse without the original header")
        self.original_request = header
        self.error_message = _decode_name(payload[n:])

    cid = _p(4)
    status = property(lambda self: status_from_wire(self.header.parameter2))


# --------------------------------------------------------------------------- #
# 12 CLEAR_CHANNEL

class ClearChannelRequest(Message):
    """Close a channel."""
    __slots__ = ()
    ID = 12
    _fields = ("sid", "cid")

    def __init__(self, sid, cid):
        self._set(0, 0, 0, sid, cid)

    sid = _p(4)
    cid = _p(5)


class ClearChannelResponse(Message):
    """Confirm a :class:`ClearChannelRequest`."""
    __slots__ = ()
    ID = 12
    SENDER = SERVER
    _fields = ("sid", "cid")

    def __init__(self, sid, cid):
        self._set(0, 0, 0, sid, cid)

    sid = _p(4)
    cid = _p(5)


# --------------------------------------------------------------------------- #
# 13 RSRV_IS_UP, 17/24 repeater

class Beacon(Message):
    """A server's heartbeat (``CA_PROTO_RSRV_IS_UP``)."""
    __slots__ = ()
    ID = 13
    SENDER = SERVER
    _fields = ("version", "server_port", "beacon_id", "address")

    def __init__(self, version, server_port, beacon_id, address):
        if isinstance(address, str):
            address = ipv4_to_int(address)
        self._set(0, version, server_port, beacon_id, address)

    version = _p(2)
    server_port = _p(3)
    beacon_id = _p(4)
    address = _p(5)
    address_string = property(lambda self: int_to_ipv4(self.header.parameter2))


class RepeaterRegisterRequest(Message):
    """Register a client with the CA repeater."""
    __slots__ = ()
    ID = 24
    _fields = ("client_address",)

    def __init__(self, client_address="0.0.0.0"):
        self._set(0, 0, 0, 0, ipv4_to_int(client_address))

    client_address = property(lambda self: int_to_ipv4(self.header.parameter2))


class RepeaterConfirmResponse(Message):
    """The repeater confirms a registration."""
    __slots__ = ()
    ID = 17
    SENDER = SERVER
    _fields = ("repeater_address",)

    def __init__(self, repeater_address):
        self._set(0, 0, 0, 0, ipv4_to_int(repeater_address))

    repeater_address = property(lambda self: int_to_ipv4(self.header.parameter2))


# --------------------------------------------------------------------------- #
# 15 READ_NOTIFY, 19 WRITE_NOTIFY

class ReadNotifyRequest(Message):
    """Read a channel; the server answers with a :class:`ReadNotifyResponse`."""
    __slots__ = ()
    ID = 15
    _fields = ("data_type", "data_count", "sid", "ioid")

    def __init__(self, data_type, data_count, sid, ioid):
        self._set(0, data_type, data_count, sid, ioid)

    data_type = _DT
    data_count = _p(3)
    sid = _p(4)
    ioid = _p(5)


class ReadNotifyResponse(_DataMessage):
    """The value read (``status`` is ECA_NORMAL or why it failed)."""
    __slots__ = ()
    ID = 15
    SENDER = SERVER
    _fields = ("data", "data_type", "data_count", "status", "ioid", "metadata")

    def __init__(self, data, data_type, data_count, status, ioid, *, metadata=None):
        self._set_data(data, data_type, data_count, metadata, eca_value(status), ioid)

    status = property(lambda self: status_from_wire(self.header.parameter1))
    ioid = _p(5)


class WriteNotifyRequest(_DataMessage):
    """Write a channel and be told when the write completed."""
    __slots__ = ()
    BARE_STRING = True
    ID = 19
    _fields = ("data", "data_type", "data_count", "sid", "ioid", "metadata")

    def __init__(self, data, data_type, data_count, sid, ioid, *, metadata=None):
        self._set_data(data, data_type, data_count, metadata, sid, ioid)

    sid = _p(4)
    ioid = _p(5)


class WriteNotifyResponse(Message):
    """The write completed (``status`` says how)."""
    __slots__ = ()
    ID = 19
    SENDER = SERVER
    _fields = ("data_type", "data_count", "status", "ioid")

    def __init__(self, data_type, data_count, status, ioid):
        self._set(0, data_type, data_count, eca_value(status), ioid)

    data_type = _DT
    data_count = _p(3)
    status = property(lambda self: status_from_wire(self.header.parameter1))
    ioid = _p(5)


# --------------------------------------------------------------------------- #
# 18 CREATE_CHAN, 26 CREATE_CH_FAIL, 22 ACCESS_RIGHTS, 27 SERVER_DISCONN

class CreateChanRequest(Message):
    """Create a channel on this circuit."""
    __slots__ = ("name",)
    ID = 18
    _fields = ("name", "cid", "version")

    def __init__(self, name, cid, version=DEFAULT_PROTOCOL_VERSION):
        raw = _padded(_encode_name(name))
        self._set(len(raw), 0, 0, cid, version, (raw,))
        self.name = name if isinstance(name, str) else _decode_name(raw)

    def _decode(self, payload):
        self.name = _decode_name(payload)

    cid = _p(4)
    version = _p(5)


class CreateChanResponse(Message):
    """The channel exists: its native type and count and the server's id."""
    __slots__ = ()
    ID = 18
    SENDER = SERVER
    _fields = ("data_type", "data_count", "cid", "sid")

    def __init__(self, data_type, data_count, cid, sid):
        self._set(0, data_type, data_count, cid, sid)

    data_type = _DT
    data_count = _p(3)
    cid = _p(4)
    sid = _p(5)


class CreateChFailResponse(Message):
    """The server could not create the channel."""
    __slots__ = ()
    ID = 26
    SENDER = SERVER
    _fields = ("cid",)

    def __init__(self, cid):
        self._set(0, 0, 0, cid, 0)

    cid = _p(4)


class AccessRightsResponse(Message):
    """The client's access rights on a channel (sent again when they change)."""
    __slots__ = ()
    ID = 22
    SENDER = SERVER
    _fields = ("cid", "access_rights")

    def __init__(self, cid, access_rights):
        self._set(0, 0, 0, cid, int(access_rights))

    cid = _p(4)
    access_rights = property(lambda self: AccessRights(self.header.parameter2 & 3))


class ServerDisconnResponse(Message):
    """The server dropped the channel (its PV is gone)."""
    __slots__ = ()
    ID = 27
    SENDER = SERVER
    _fields = ("cid",)

    def __init__(self, cid):
        self._set(0, 0, 0, cid, 0)

    cid = _p(4)


# --------------------------------------------------------------------------- #
# 20 CLIENT_NAME, 21 HOST_NAME

class _NameRequest(Message):
    __slots__ = ("name",)
    _fields = ("name",)

    def __init__(self, name):
        raw = _padded(_encode_name(name))
        self._set(len(raw), 0, 0, 0, 0, (raw,))
        self.name = name if isinstance(name, str) else _decode_name(raw)

    def _decode(self, payload):
        self.name = _decode_name(payload)


class ClientNameRequest(_NameRequest):
    """The client's user name (rsrv uses it for access security)."""
    __slots__ = ()
    ID = 20


class HostNameRequest(_NameRequest):
    """The client's host name (rsrv uses it for access security)."""
    __slots__ = ()
    ID = 21


# --------------------------------------------------------------------------- #
# Readers

#: command class by (who sent it, command number)
COMMANDS: Dict[Tuple[Role, int], type] = {}
for _cls in list(globals().values()):
    if isinstance(_cls, type) and issubclass(_cls, Message) and _cls.ID >= 0 \
            and _cls is not EventCancelResponse:
        COMMANDS[(_cls.SENDER, _cls.ID)] = _cls
del _cls


def _command_class(role: Role, header: MessageHeader):
    cls = COMMANDS.get((role, header.command))
    if cls is None:
        raise RemoteProtocolError("no command %d from a %s" % (header.command, role.name.lower()))
    if cls is EventAddResponse and header.payload_size == 0 and header.data_count:
        # rsrv confirms a cancel with an empty EVENT_ADD echoing the request
        return EventCancelResponse
    return cls


def read_from_bytestream(data, role: Role, max_payload: int, offset: int = 0):
    """Read one command sent by ``role`` from ``data`` at ``offset``.

    Returns ``(command, bytes consumed)`` or ``(NEED_DATA, bytes still
    needed)``.  ``data`` should be immutable (``bytes``): the command keeps
    views of it.  A header announcing more than ``max_payload`` bytes, a
    payload that is not a multiple of 8, an unknown command or a payload
    that does not decode raise :class:`RemoteProtocolError` (before any of
    the payload is waited for).
    """
    avail = len(data) - offset
    if avail < 16:
        return NEED_DATA, 16 - avail
    command, size, data_type, count, p1, p2 = _unpack_header(data, offset)
    if size == 0xFFFF:
        if avail < 24:
            return NEED_DATA, 24 - avail
        size, count = _unpack_sizes(data, offset + 16)
        n = 24
    else:
        n = 16
    header = _new_header(MessageHeader, (command, size, data_type, count, p1, p2))
    if size > max_payload:
        raise RemoteProtocolError("%s announces a payload of %d bytes (limit %d)"
                                  % (header, size, max_payload))
    if size & 7:
        raise RemoteProtocolError("payload of %d bytes is not 8-byte aligned (%s)"
                                  % (size, header))
    cls = _command_class(role, header)
    end = offset + n + size
    if end > len(data):
        return NEED_DATA, end - len(data)
    view = data if type(data) is memoryview else memoryview(data)
    cmd = cls.from_wire(header, view[offset:offset + n], view[offset + n:end])
    return cmd, n + size


def read_datagram(data, address, role: Role) -> Deque[Message]:
    """All commands of one UDP datagram sent by ``role`` (each gets
    ``sender_address``).  A datagram that does not decode entirely raises
    :class:`RemoteProtocolError`."""
    if len(data) > MAX_UDP_RECV:
        raise RemoteProtocolError("datagram of %d bytes" % len(data))
    data = bytes(data)
    commands: Deque[Message] = deque()
    offset = 0
    while offset < len(data):
        cmd, n = read_from_bytestream(data, role, MAX_UDP_RECV, offset)
        if cmd is NEED_DATA:
            raise RemoteProtocolError("datagram ends inside a message (%d bytes missing)" % n)
        cmd.sender_address = address
        commands.append(cmd)
        offset += n
    return commands


def extract_address(search_response: SearchResponse) -> Tuple[str, int]:
    """``(host, port)`` to connect to for a :class:`SearchResponse`.

    An ``ip`` of 255.255.255.255 (what rsrv sends) means the address the
    response came from."""
    ip = search_response.ip
    if ip == "255.255.255.255":
        if search_response.sender_address is None:
            raise CaprotoValueError("the response names no address and was not received")
        ip = search_response.sender_address[0]
    return ip, search_response.port

