"""pva: a pure-Python, sans-I/O pvAccess (EPICS PVA) protocol codec.

This package keeps the public names of ``caproto.pva`` 0.8 where they exist,
so code ports by replacing ``caproto.pva`` with ``pva``.  Modules:

- :mod:`pva._wire` -- sizes, strings, scalars, limits, output buffers
- :mod:`pva._introspection` -- :class:`FieldDesc` and the per-connection type cache
- :mod:`pva._bitset` -- :class:`BitSet`
- :mod:`pva._values` -- compiled value encoders/decoders, :class:`Status`
- :mod:`pva._pvrequest` -- :class:`PVRequest`
- :mod:`pva._dataclass` -- ``@pva_dataclass``
- :mod:`pva.nt` -- normative types

Example
-------
>>> import pva
>>> from pva import nt
>>> ntd = nt.NTScalar('d')
>>> data = pva.encode_value(ntd.type, ntd.wrap(1.5, timestamp=0.0))
>>> pva.decode_value(ntd.type, data)[0]['value']
1.5
"""
from __future__ import annotations

from . import nt
from ._bitset import BitSet, decode_bitset, encode_bitset
from ._dataclass import (Any, Boolean, Float32, Float64, Int8, Int16, Int32,
                         Int64, String, UInt8, UInt16, UInt32, UInt64,
                         annotation_type_map, dataclass_from_field_desc,
                         fields_to_bitset, fill_dataclass, from_value,
                         get_pv_structure, is_pva_dataclass,
                         is_pva_dataclass_instance, pva_dataclass)
from ._errors import (DecodeError, LocalProtocolError, ProtocolError,
                      PVAError, PVRequestError, RemoteProtocolError)
from ._introspection import (CacheContext, FieldArrayType, FieldDesc,
                             FieldType, IntrospectionCache, TypeCode,
                             decode_field_desc, encode_field_desc,
                             write_field_desc)
from ._pvrequest import PVRequest, parse_pvrequest
from ._partial import decode_partial, encode_partial, write_partial
from ._values import (DataWithBitSet, DecodeContext, EncodeContext,
                      FieldDescAndData, Status, StatusType, Variant,
                      decode_field_desc_and_data, decode_value,
                      default_value, encode_field_desc_and_data,
                      encode_value, get_decoder, get_encoder,
                      infer_field_desc, write_value)
from ._wire import (BIG_ENDIAN, DEFAULT_LIMITS, LITTLE_ENDIAN, SYS_ENDIAN,
                    Limits, UserFacingEndian, Writer)

__all__ = [
    # errors
    "PVAError", "ProtocolError", "LocalProtocolError", "RemoteProtocolError",
    "DecodeError", "PVRequestError",
    # wire
    "UserFacingEndian", "LITTLE_ENDIAN", "BIG_ENDIAN", "SYS_ENDIAN", "Limits", "DEFAULT_LIMITS", "Writer",
    # introspection
    "FieldType", "FieldArrayType", "TypeCode", "FieldDesc", "IntrospectionCache",
    "CacheContext", "encode_field_desc", "decode_field_desc", "write_field_desc",
    # bitset
    "BitSet", "encode_bitset", "decode_bitset",
    # values
    "StatusType", "Status", "Variant", "FieldDescAndData", "DataWithBitSet",
    "DecodeContext", "EncodeContext", "get_decoder", "get_encoder",
    "encode_value", "decode_value", "write_value", "encode_partial", "decode_partial",
    "write_partial", "encode_field_desc_and_data", "decode_field_desc_and_data",
    "default_value", "infer_field_desc",
    # pvrequest
    "PVRequest", "parse_pvrequest",
    # dataclasses
    "pva_dataclass", "is_pva_dataclass", "is_pva_dataclass_instance", "get_pv_structure",
    "dataclass_from_field_desc", "from_value", "fill_dataclass", "fields_to_bitset",
    "annotation_type_map",
    "Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32", "UInt64",
    "Float32", "Float64", "String", "Boolean", "Any",
    # normative types
    "nt",
]

# ---- protocol core: messages, state tables, circuits, broadcaster
from . import _messages as messages  # noqa: E402
from ._broadcaster import Broadcaster  # noqa: E402
from ._circuit import (Channel, ClientChannel, ClientVirtualCircuit,  # noqa: E402
                       Request, ServerChannel, ServerVirtualCircuit, VirtualCircuit)
from ._header import Direction  # noqa: E402
from ._messages import (AcknowledgeMarker, Beacon, ChannelArrayRequest,  # noqa: E402
                        ChannelArrayResponse, ChannelDestroyRequest, ChannelDestroyResponse,
                        ChannelFieldInfoRequest, ChannelFieldInfoResponse, ChannelGetRequest,
                        ChannelGetResponse, ChannelMessage, ChannelMonitorRequest,
                        ChannelMonitorResponse, ChannelProcessRequest, ChannelProcessResponse,
                        ChannelPutGetRequest, ChannelPutGetResponse, ChannelPutRequest,
                        ChannelPutResponse, ChannelRequestCancel, ChannelRequestDestroy,
                        ChannelRpcRequest, ChannelRpcResponse, ChannelWithID,
                        ConnectionValidatedResponse, ConnectionValidationRequest,
                        ConnectionValidationResponse, CreateChannelRequest,
                        CreateChannelResponse, Echo, EchoReply, EchoRequest, EchoResponse,
                        Message, MessageContext, OriginTag, SearchFlags, SearchRequest,
                        SearchResponse, SetByteOrder, SetMarker, Subcommand, decode_message,
                        encode_message)
from ._state import ChannelState, CircuitState, RequestState  # noqa: E402

#: caproto.pva role names
CLIENT = Direction.CLIENT
SERVER = Direction.SERVER

__all__ += [
    "messages", "Direction", "CLIENT", "SERVER",
    "VirtualCircuit", "ClientVirtualCircuit", "ServerVirtualCircuit", "Channel",
    "ClientChannel", "ServerChannel", "Request", "Broadcaster",
    "CircuitState", "ChannelState", "RequestState",
    "Message", "MessageContext", "Subcommand", "SearchFlags", "ChannelWithID",
    "encode_message", "decode_message",
    "SetMarker", "AcknowledgeMarker", "SetByteOrder", "EchoRequest", "EchoResponse",
    "Beacon", "ConnectionValidationRequest", "ConnectionValidationResponse",
    "ConnectionValidatedResponse", "Echo", "EchoReply", "SearchRequest", "SearchResponse",
    "CreateChannelRequest", "CreateChannelResponse", "ChannelDestroyRequest",
    "ChannelDestroyResponse", "ChannelGetRequest", "ChannelGetResponse",
    "ChannelPutRequest", "ChannelPutResponse", "ChannelPutGetRequest",
    "ChannelPutGetResponse", "ChannelMonitorRequest", "ChannelMonitorResponse",
    "ChannelArrayRequest", "ChannelArrayResponse", "ChannelRequestDestroy",
    "ChannelRequestCancel", "ChannelProcessRequest", "ChannelProcessResponse",
    "ChannelFieldInfoRequest", "ChannelFieldInfoResponse", "ChannelMessage",
    "ChannelRpcRequest", "ChannelRpcResponse", "OriginTag",
]

# ---- further caproto.pva 0.8 names, for porting (audit: tests/test_pva/test_caproto_names.py)
from ._dataclass import _type_to_annotation as type_to_annotation  # noqa: E402
from ._errors import PVAError as CaprotoError  # noqa: E402
from ._header import ApplicationCommand, ControlCommand  # noqa: E402
from ._messages import Beacon as BeaconMessage  # noqa: E402
from ._messages import OriginTag as OriginTagRequest  # noqa: E402
from .nt import NormativeTypeName, NTAlarm, NTTimestamp  # noqa: E402

#: caproto.pva.Role: the CLIENT / SERVER enum
Role = Direction
#: caproto.pva.annotation_types: name -> annotation type (builtins and Any left out)
annotation_types = {t.__name__: t for t in annotation_type_map
                    if t not in (int, float, str, bool, Any)}
# NTScalarBase, NTScalarArrayBase and the NTScalar[Array]<Type>[Base] pva dataclasses
for _name in nt.__all__:
    if _name.startswith("NTScalar") and _name not in ("NTScalar", "NTScalarArray"):
        globals()[_name] = getattr(nt, _name)
        __all__.append(_name)
del _name
__all__ += ["type_to_annotation", "CaprotoError", "ApplicationCommand", "ControlCommand",
            "BeaconMessage", "OriginTagRequest", "NormativeTypeName", "NTAlarm", "NTTimestamp",
            "Role", "annotation_types"]

# ---- server names caproto.pva exported at the top level (imported lazily:
# the codec itself never needs asyncio)
_SERVER_NAMES = frozenset({
    "PVAGroup", "pvaproperty", "ServerRPC", "WriteUpdate", "DataWrapperBase",
    "AuthOperation", "AuthenticationError", "DatabaseDefinitionError", "GroupDataWrapper",
    "ServerStatus", "ioc_arg_parser", "template_arg_parser",
})


def __getattr__(name: str):
    if name in _SERVER_NAMES:
        from . import server
        return getattr(server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
