"""The pvAccess protocol layer (sans-I/O): what tools, gateways and code
ported from ``caproto.pva`` build on.

Nothing here opens a socket, starts a thread or needs an event loop: bytes
go in, messages and state come out (:mod:`pva.io` drives it over sockets;
:mod:`pva.client` and :mod:`pva.server` are built on it).  The names below
are stable; the underscored modules they come from are not.

Data model
    :class:`FieldDesc` (a type description; :class:`FieldType`,
    :class:`FieldArrayType`, :class:`TypeCode`), :class:`BitSet`,
    :class:`Status`, :class:`Variant`, :class:`FieldDescAndData`,
    :class:`DataWithBitSet`, :class:`PVRequest`, ``@pva_dataclass`` and its
    annotation types (``Int8`` ... ``String``).
Value codecs
    :func:`encode_value` / :func:`decode_value` (whole values),
    :func:`encode_partial` / :func:`decode_partial` (a BitSet and its
    fields), :func:`encode_field_desc` / :func:`decode_field_desc` (types),
    the compiled :func:`get_encoder` / :func:`get_decoder`.
Messages
    one class per message (``ChannelGetRequest`` ...), the control messages,
    :func:`encode_message` / :func:`decode_message`, :class:`Subcommand`,
    :class:`ApplicationCommand`, :class:`Direction` (``CLIENT``/``SERVER``).
Connections
    :class:`ClientVirtualCircuit` / :class:`ServerVirtualCircuit` (one TCP
    connection: ``recv(bytes) -> (message, bytes needed) pairs``, ``process_command(msg)``,
    ``send(msg) -> buffers``), their :class:`Channel` and :class:`Request`,
    the states (:class:`CircuitState`, :class:`ChannelState`,
    :class:`RequestState`) and their transition tables (:mod:`pva._state`),
    :class:`Broadcaster` (UDP: searches and beacons), :class:`Deframer` and
    :class:`Framer` (stream framing).

Example
-------
>>> from pva import protocol as p
>>> from pva import nt
>>> desc = nt.NTScalar("d").type
>>> data = p.encode_value(desc, nt.NTScalar("d").wrap(1.5, timestamp=0.0))
>>> p.decode_value(desc, data)[0]["value"]
1.5
"""
from __future__ import annotations

from . import _messages as messages
from . import _state as states
from ._bitset import BitSet, decode_bitset, encode_bitset
from ._broadcaster import Broadcaster
from ._channel import Channel, ClientChannel, Request, ServerChannel
from ._circuit import ClientVirtualCircuit, VirtualCircuit
from ._server_circuit import ServerVirtualCircuit
from ._dataclass import (Any, Boolean, Float32, Float64, Int8, Int16, Int32, Int64, String,
                         UInt8, UInt16, UInt32, UInt64, annotation_type_map,
                         dataclass_from_field_desc, fields_to_bitset, fill_dataclass,
                         from_value, get_pv_structure, is_pva_dataclass,
                         is_pva_dataclass_instance, pva_dataclass)
from ._errors import (DecodeError, LocalProtocolError, ProtocolError, PVAError,
                      PVRequestError, RemoteProtocolError)
from ._framing import Deframer, Framer
from ._header import ApplicationCommand, ControlCommand, Direction
from ._introspection import FieldArrayType, FieldDesc, FieldType, TypeCode
from ._typecodec import (CacheContext, IntrospectionCache, decode_field_desc, encode_field_desc,
                         write_field_desc)
from ._messages import (AcknowledgeMarker, Beacon, ChannelArrayRequest, ChannelArrayResponse,
                        ChannelDestroyRequest, ChannelDestroyResponse, ChannelFieldInfoRequest,
                        ChannelFieldInfoResponse, ChannelGetRequest, ChannelGetResponse,
                        ChannelMessage, ChannelMonitorRequest, ChannelMonitorResponse,
                        ChannelProcessRequest, ChannelProcessResponse, ChannelPutGetRequest,
                        ChannelPutGetResponse, ChannelPutRequest, ChannelPutResponse,
                        ChannelRequestCancel, ChannelRequestDestroy, ChannelRpcRequest,
                        ChannelRpcResponse, ChannelWithID, ConnectionValidatedResponse,
                        ConnectionValidationRequest, ConnectionValidationResponse,
                        CreateChannelRequest, CreateChannelResponse, Echo, EchoReply,
                        EchoRequest, EchoResponse, Message, MessageContext, OriginTag,
                        SearchFlags, SearchRequest, SearchResponse, SetByteOrder, SetMarker,
                        Subcommand, decode_message, encode_message)
from ._partial import decode_partial, encode_partial, write_partial
from ._pvrequest import PVRequest, parse_pvrequest
from ._state import ChannelState, CircuitState, RequestState
from ._values import (DataWithBitSet, DecodeContext, EncodeContext, FieldDescAndData, Status,
                      StatusType, Variant, decode_field_desc_and_data, decode_value,
                      default_value, encode_field_desc_and_data, encode_value, get_decoder,
                      get_encoder, infer_field_desc, write_value)
from ._wire import (BIG_ENDIAN, DEFAULT_LIMITS, LITTLE_ENDIAN, SYS_ENDIAN, Limits,
                    UserFacingEndian, Writer)

#: the two peers (caproto.pva's role names)
CLIENT = Direction.CLIENT
SERVER = Direction.SERVER

__all__ = [
    # modules
    "messages", "states",
    # errors
    "PVAError", "ProtocolError", "LocalProtocolError", "RemoteProtocolError",
    "DecodeError", "PVRequestError",
    # data model
    "FieldType", "FieldArrayType", "TypeCode", "FieldDesc", "IntrospectionCache",
    "CacheContext", "BitSet", "StatusType", "Status", "Variant", "FieldDescAndData",
    "DataWithBitSet", "PVRequest", "parse_pvrequest", "Limits", "DEFAULT_LIMITS",
    "UserFacingEndian", "LITTLE_ENDIAN", "BIG_ENDIAN", "SYS_ENDIAN", "Writer",
    # pva dataclasses
    "pva_dataclass", "is_pva_dataclass", "is_pva_dataclass_instance", "get_pv_structure",
    "dataclass_from_field_desc", "from_value", "fill_dataclass", "fields_to_bitset",
    "annotation_type_map", "Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32",
    "UInt64", "Float32", "Float64", "String", "Boolean", "Any",
    # value codecs
    "encode_value", "decode_value", "write_value", "encode_partial", "decode_partial",
    "write_partial", "encode_field_desc", "decode_field_desc", "write_field_desc",
    "encode_field_desc_and_data", "decode_field_desc_and_data", "encode_bitset",
    "decode_bitset", "get_encoder", "get_decoder", "DecodeContext", "EncodeContext",
    "default_value", "infer_field_desc",
    # messages
    "Direction", "CLIENT", "SERVER", "ApplicationCommand", "ControlCommand", "Subcommand",
    "SearchFlags", "ChannelWithID", "Message", "MessageContext", "encode_message",
    "decode_message", "SetMarker", "AcknowledgeMarker", "SetByteOrder", "EchoRequest",
    "EchoResponse", "Beacon", "ConnectionValidationRequest", "ConnectionValidationResponse",
    "ConnectionValidatedResponse", "Echo", "EchoReply", "SearchRequest", "SearchResponse",
    "CreateChannelRequest", "CreateChannelResponse", "ChannelDestroyRequest",
    "ChannelDestroyResponse", "ChannelGetRequest", "ChannelGetResponse", "ChannelPutRequest",
    "ChannelPutResponse", "ChannelPutGetRequest", "ChannelPutGetResponse",
    "ChannelMonitorRequest", "ChannelMonitorResponse", "ChannelArrayRequest",
    "ChannelArrayResponse", "ChannelRequestDestroy", "ChannelRequestCancel",
    "ChannelProcessRequest", "ChannelProcessResponse", "ChannelFieldInfoRequest",
    "ChannelFieldInfoResponse", "ChannelMessage", "ChannelRpcRequest", "ChannelRpcResponse",
    "OriginTag",
    # connections
    "VirtualCircuit", "ClientVirtualCircuit", "ServerVirtualCircuit", "Channel",
    "ClientChannel", "ServerChannel", "Request", "CircuitState", "ChannelState",
    "RequestState", "Broadcaster", "Deframer", "Framer",
]
