"""Channel Access without I/O: commands, DBR payloads, circuits, broadcasters.

>>> import caffi.protocol as caproto
>>> bytes(caproto.VersionRequest(priority=0, version=13)).hex()
'000000000000000d0000000000000000'

The names are caproto's (``VersionRequest``, ``VirtualCircuit``,
``Broadcaster``, ``ChannelType`` ...), so code written for caproto's core
runs with ``import caffi.protocol as caproto``.  Nothing here opens a socket,
starts a thread or reads the user or host name, except :func:`bcast_socket`
and the interface discovery behind the automatic address lists
(:mod:`caffi.protocol._sockets`).  :func:`read_dbr` and :func:`write_value`
convert values between DBR types as an IOC does; :class:`ChannelData` and
its subclasses hold a server's values (no event loop needed).
"""
from ._broadcaster import REPEATER_TRANSITIONS, Broadcaster
from ._channel import ClientChannel, ServerChannel, resolve_data_type
from ._circuit import CircuitState, VirtualCircuit
from ._commands import (COMMANDS, AccessRightsResponse, Beacon, ClearChannelRequest,
                        ClearChannelResponse, ClientNameRequest, CreateChanRequest,
                        CreateChanResponse, CreateChFailResponse, EchoRequest, EchoResponse,
                        ErrorResponse, EventAddRequest, EventAddResponse, EventCancelRequest,
                        EventCancelResponse, EventsOffRequest, EventsOnRequest,
                        HostNameRequest, Message, NotFoundResponse, ReadNotifyRequest,
                        ReadNotifyResponse, ReadRequest, ReadResponse, ReadSyncRequest,
                        ReadSyncResponse, RepeaterConfirmResponse, RepeaterRegisterRequest, SearchRequest,
                        SearchResponse, ServerDisconnResponse, VersionRequest,
                        VersionResponse, WriteNotifyRequest, WriteNotifyResponse,
                        WriteRequest, extract_address, int_to_ipv4, ipv4_to_int,
                        max_payload_size, read_datagram, read_from_bytestream)
from ._constants import (CA_REPEATER_PORT, CA_SERVER_PORT, DEFAULT_MAX_ARRAY_BYTES,
                         DEFAULT_PROTOCOL_VERSION, DO_REPLY, EPICS2UNIX_EPOCH, EPICS_EPOCH,
                         MAX_ENUM_STATES, MAX_ENUM_STRING_SIZE, MAX_STRING_SIZE,
                         MAX_UNITS_SIZE, NO_REPLY, AccessRights, AlarmSeverity, AlarmStatus,
                         ChannelType, ConnStatus, SubscriptionType)
from ._alarm import DBE_ALARM, DBE_LOG, DBE_PROPERTY, DBE_VALUE, ChannelAlarm
from ._data import CannotExceedLimits, ChannelData, Forbidden, SkipWrite
from ._data_types import (ChannelByte, ChannelChar, ChannelDouble, ChannelEnum, ChannelFloat,
                          ChannelInt64, ChannelInteger, ChannelNumeric, ChannelShort,
                          ChannelString)
from ._convert import (NativeMetadata, convert_values, format_double, format_float,
                       parse_float, parse_integer, read_dbr, write_value)
from ._dbr import (DBR_LAYOUTS, DBR_TYPES, DbrLayout, TimeStamp, char_types, control_types,
                   dbr_size, dbr_size_n, decode_payload, encode_payload, enum_types,
                   epics_timestamp_to_unix, float_types, graphical_types, int_types,
                   native_type, native_types, special_types, status_types, string_types,
                   time_types, timestamp_to_epics)
from ._env import (get_address_and_port_from_string, get_address_list,
                   get_beacon_address_list, get_client_address_list,
                   get_environment_variables, get_server_address_list)
from ._errors import (CaprotoConversionError, CaprotoEnvironmentSetupError, CaprotoError,
                      CaprotoKeyError, CaprotoNotImplementedError, CaprotoTypeError,
                      CaprotoValueError, LocalProtocolError, ProtocolError,
                      RemoteProtocolError)
from ._header import ExtendedMessageHeader, MessageHeader
from ._sentinels import (AWAIT_CREATE_CHAN_RESPONSE, AWAIT_SEARCH_RESPONSE,
                         AWAIT_VERSION_RESPONSE, CLIENT, CLOSED, CONNECTED, DISCONNECTED,
                         FAILED, IDLE, MUST_CLOSE, NEED_DATA, REQUEST, RESPONSE,
                         SEND_CREATE_CHAN_REQUEST, SEND_CREATE_CHAN_RESPONSE,
                         SEND_SEARCH_REQUEST, SEND_SEARCH_RESPONSE, SEND_VERSION_REQUEST,
                         SEND_VERSION_RESPONSE, SERVER, Direction, Role, States)
from ._sockets import bcast_socket
from ._status import CASeverity, CAStatus, CAStatusCode
from . import _commands, _dbr

# the metadata classes, named as in C (DBR_TIME_DOUBLE ...)
globals().update({name: getattr(_dbr, name) for name in _dbr.__all__
                  if name.startswith("DBR_") and name not in ("DBR_LAYOUTS", "DBR_TYPES")})

__all__ = list(_commands.__all__) + [
    "MessageHeader", "ExtendedMessageHeader",
    # state
    "VirtualCircuit", "CircuitState", "Broadcaster", "REPEATER_TRANSITIONS",
    "ClientChannel", "ServerChannel", "resolve_data_type", "Role", "Direction", "States",
    "CLIENT", "SERVER", "REQUEST", "RESPONSE", "SEND_SEARCH_REQUEST",
    "AWAIT_SEARCH_RESPONSE", "SEND_SEARCH_RESPONSE", "SEND_VERSION_REQUEST",
    "AWAIT_VERSION_RESPONSE", "SEND_VERSION_RESPONSE", "SEND_CREATE_CHAN_REQUEST",
    "AWAIT_CREATE_CHAN_RESPONSE", "SEND_CREATE_CHAN_RESPONSE", "CONNECTED", "MUST_CLOSE",
    "CLOSED", "IDLE", "FAILED", "DISCONNECTED", "NEED_DATA",
    # data types
    "ChannelType", "SubscriptionType", "AccessRights", "AlarmSeverity", "AlarmStatus",
    "ConnStatus", "DbrLayout", "DBR_LAYOUTS", "DBR_TYPES", "TimeStamp", "native_type",
    "native_types", "status_types", "time_types", "graphical_types", "control_types",
    "string_types", "int_types", "float_types", "enum_types", "char_types",
    "special_types", "dbr_size", "dbr_size_n", "decode_payload", "encode_payload",
    "epics_timestamp_to_unix", "timestamp_to_epics",
    # channel data (what a server holds)
    "ChannelData", "ChannelAlarm", "ChannelNumeric", "ChannelDouble", "ChannelFloat",
    "ChannelInteger", "ChannelInt64", "ChannelShort", "ChannelByte", "ChannelChar",
    "ChannelEnum", "ChannelString", "Forbidden", "CannotExceedLimits", "SkipWrite",
    "DBE_VALUE", "DBE_LOG", "DBE_ALARM", "DBE_PROPERTY",
    # conversions as the IOC does them
    "NativeMetadata", "read_dbr", "write_value", "convert_values", "format_float",
    "format_double", "parse_integer", "parse_float",
    # status
    "CAStatus", "CAStatusCode", "CASeverity",
    # constants
    "DEFAULT_PROTOCOL_VERSION", "DEFAULT_MAX_ARRAY_BYTES", "MAX_STRING_SIZE",
    "MAX_UNITS_SIZE", "MAX_ENUM_STRING_SIZE", "MAX_ENUM_STATES", "EPICS_EPOCH",
    "EPICS2UNIX_EPOCH", "DO_REPLY", "NO_REPLY", "CA_SERVER_PORT", "CA_REPEATER_PORT",
    # environment and sockets
    "get_environment_variables", "get_address_list", "get_client_address_list",
    "get_server_address_list", "get_beacon_address_list",
    "get_address_and_port_from_string", "bcast_socket",
    # errors
    "CaprotoError", "ProtocolError", "LocalProtocolError", "RemoteProtocolError",
    "CaprotoKeyError", "CaprotoValueError", "CaprotoTypeError", "CaprotoConversionError",
    "CaprotoEnvironmentSetupError", "CaprotoNotImplementedError",
] + [name for name in _dbr.__all__ if name.startswith("DBR_")
     and name not in ("DBR_LAYOUTS", "DBR_TYPES")]
