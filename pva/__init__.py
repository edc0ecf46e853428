"""pva: pvAccess (EPICS PVA) in pure Python -- client, server and protocol.

What users call (``pva.__all__``):

- :mod:`pva.client` (asyncio ``Context``), :mod:`pva.sync` (the same from
  plain threads; ``pva.sync.client`` has caproto.pva's ``read``/``monitor``),
  :mod:`pva.server` (``PVAGroup``, ``pvaproperty``, ``run``) and the command
  line tools of :mod:`pva.cli`;
- :mod:`pva.nt`, the normative types, and :class:`Value`, what a client
  gets back;
- the server's :class:`PVAGroup`, :func:`pvaproperty`, :class:`ServerRPC`
  and ``@pva_dataclass``;
- :class:`FieldDesc`, :class:`FieldType`, :class:`BitSet`, :class:`PVRequest`;
- the errors: :class:`PVAError`, the root, over :class:`ProtocolError`
  (:class:`LocalProtocolError`: ours; :class:`RemoteProtocolError`: the
  peer's, such as :class:`DecodeError`) and :class:`PVRequestError`; and the
  client's :class:`Disconnected`, :class:`RemoteError`, :class:`Finished`,
  :class:`Timeout`, :class:`Cancelled`.

:mod:`pva.protocol` is the protocol layer (sans-I/O: messages, circuits,
state machines, codecs), documented and importable for tools and gateways;
:mod:`pva.io` the protocol-neutral I/O layer the client and server run on.

Porting from caproto.pva: ``import caproto.pva as pva`` becomes ``import
pva``.  Every name caproto.pva documents that has an equivalent here is
reachable as ``pva.<name>`` (``pva.FieldDesc``, ``pva.ServerVirtualCircuit``,
``pva.ChannelGetRequest``, ``pva.PVAGroup``, ``pva.sync`` ...), without being
part of the small ``__all__``; the audit is tests/test_pva/test_caproto_names.py.

Nothing is imported that needs asyncio until a client or server name is used.

Example
-------
>>> import pva
>>> from pva import nt
>>> ntd = nt.NTScalar('d')
>>> data = pva.protocol.encode_value(ntd.type, ntd.wrap(1.5, timestamp=0.0))
>>> pva.protocol.decode_value(ntd.type, data)[0]['value']
1.5
"""
from __future__ import annotations

from typing import Any as _Any

from . import nt, protocol
# the protocol layer under its caproto.pva names (reachable, not in __all__)
from .protocol import (PVAError, ProtocolError, LocalProtocolError, RemoteProtocolError,
                       DecodeError, PVRequestError, FieldType, FieldArrayType, TypeCode, FieldDesc,
                       IntrospectionCache, CacheContext, BitSet, StatusType, Status, Variant,
                       FieldDescAndData, DataWithBitSet, PVRequest, parse_pvrequest, Limits,
                       DEFAULT_LIMITS, UserFacingEndian, LITTLE_ENDIAN, BIG_ENDIAN, SYS_ENDIAN,
                       Writer, pva_dataclass, is_pva_dataclass, is_pva_dataclass_instance,
                       get_pv_structure, dataclass_from_field_desc, from_value, fill_dataclass,
                       fields_to_bitset, annotation_type_map, Int8, Int16, Int32, Int64, UInt8,
                       UInt16, UInt32, UInt64, Float32, Float64, String, Boolean, Any, encode_value,
                       decode_value, write_value, encode_partial, decode_partial, write_partial,
                       encode_field_desc, decode_field_desc, write_field_desc,
                       encode_field_desc_and_data, decode_field_desc_and_data, encode_bitset,
                       decode_bitset, get_encoder, get_decoder, DecodeContext, EncodeContext,
                       default_value, infer_field_desc, Direction, CLIENT, SERVER,
                       ApplicationCommand, ControlCommand, Subcommand, SearchFlags, ChannelWithID,
                       Message, MessageContext, encode_message, decode_message, SetMarker,
                       AcknowledgeMarker, SetByteOrder, EchoRequest, EchoResponse, Beacon,
                       ConnectionValidationRequest, ConnectionValidationResponse,
                       ConnectionValidatedResponse, Echo, EchoReply, SearchRequest, SearchResponse,
                       CreateChannelRequest, CreateChannelResponse, ChannelDestroyRequest,
                       ChannelDestroyResponse, ChannelGetRequest, ChannelGetResponse,
                       ChannelPutRequest, ChannelPutResponse, ChannelPutGetRequest,
                       ChannelPutGetResponse, ChannelMonitorRequest, ChannelMonitorResponse,
                       ChannelArrayRequest, ChannelArrayResponse, ChannelRequestDestroy,
                       ChannelRequestCancel, ChannelProcessRequest, ChannelProcessResponse,
                       ChannelFieldInfoRequest, ChannelFieldInfoResponse, ChannelMessage,
                       ChannelRpcRequest, ChannelRpcResponse, OriginTag, VirtualCircuit,
                       ClientVirtualCircuit, ServerVirtualCircuit, Channel, ClientChannel,
                       ServerChannel, Request, CircuitState, ChannelState, RequestState,
                       Broadcaster, Deframer, Framer)  # noqa: F401
from .protocol import messages  # noqa: F401
# caproto.pva spellings of names that are ours under another name
from ._dataclass import _type_to_annotation as type_to_annotation  # noqa: F401
from ._errors import PVAError as CaprotoError  # noqa: F401
from ._header import Direction as Role  # noqa: F401
from ._messages import Beacon as BeaconMessage  # noqa: F401
from ._messages import OriginTag as OriginTagRequest  # noqa: F401
from .nt import (NormativeTypeName, NTAlarm, NTTimestamp, NTScalarBase, NTScalarArrayBase,
                 NTScalarBoolean, NTScalarBooleanBase, NTScalarInt8, NTScalarInt8Base,
                 NTScalarInt16, NTScalarInt16Base, NTScalarInt32, NTScalarInt32Base, NTScalarInt64,
                 NTScalarInt64Base, NTScalarUInt8, NTScalarUInt8Base, NTScalarUInt16,
                 NTScalarUInt16Base, NTScalarUInt32, NTScalarUInt32Base, NTScalarUInt64,
                 NTScalarUInt64Base, NTScalarFloat32, NTScalarFloat32Base, NTScalarFloat64,
                 NTScalarFloat64Base, NTScalarString, NTScalarStringBase, NTScalarArrayBoolean,
                 NTScalarArrayBooleanBase, NTScalarArrayInt8, NTScalarArrayInt8Base,
                 NTScalarArrayInt16, NTScalarArrayInt16Base, NTScalarArrayInt32,
                 NTScalarArrayInt32Base, NTScalarArrayInt64, NTScalarArrayInt64Base,
                 NTScalarArrayUInt8, NTScalarArrayUInt8Base, NTScalarArrayUInt16,
                 NTScalarArrayUInt16Base, NTScalarArrayUInt32, NTScalarArrayUInt32Base,
                 NTScalarArrayUInt64, NTScalarArrayUInt64Base, NTScalarArrayFloat32,
                 NTScalarArrayFloat32Base, NTScalarArrayFloat64, NTScalarArrayFloat64Base,
                 NTScalarArrayString, NTScalarArrayStringBase)  # noqa: F401

#: caproto.pva.annotation_types: name -> annotation type (builtins and Any left out)
annotation_types = {t.__name__: t for t in annotation_type_map
                    if t not in (int, float, str, bool, Any)}

__all__ = [
    # packages
    "client", "sync", "server", "nt", "protocol",
    # values and types
    "Value", "FieldDesc", "FieldType", "BitSet", "PVRequest",
    # the server API
    "PVAGroup", "pvaproperty", "ServerRPC", "pva_dataclass",
    # errors
    "PVAError", "ProtocolError", "LocalProtocolError", "RemoteProtocolError", "DecodeError",
    "PVRequestError", "Disconnected", "RemoteError", "Finished", "Timeout", "Cancelled",
]

# ---- loaded on first use: the client, the server (asyncio) and their names
_SUBPACKAGES = frozenset({"client", "sync", "server", "io", "cli"})
_CLIENT_NAMES = frozenset({"Value", "Disconnected", "RemoteError", "Finished", "Timeout",
                           "Cancelled"})
#: caproto.pva's server names at its top level
_SERVER_NAMES = frozenset({
    "PVAGroup", "pvaproperty", "ServerRPC", "WriteUpdate", "DataWrapperBase",
    "AuthOperation", "AuthenticationError", "DatabaseDefinitionError", "GroupDataWrapper",
    "ServerStatus", "ioc_arg_parser", "template_arg_parser",
})


def __getattr__(name: str) -> _Any:
    import importlib
    if name in _SUBPACKAGES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _CLIENT_NAMES:
        return getattr(importlib.import_module(f"{__name__}.client"), name)
    if name in _SERVER_NAMES:
        return getattr(importlib.import_module(f"{__name__}.server"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list:
    return sorted(set(globals()) | _SUBPACKAGES | _CLIENT_NAMES | _SERVER_NAMES)
