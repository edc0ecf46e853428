"""Channel objects: the per-channel state a circuit keeps, and command builders.

A :class:`ClientChannel` or :class:`ServerChannel` is created by the user (or
by the circuit when it first sees a :class:`CreateChanRequest` for a new
``cid``).  Its methods only *build* commands with the ids and native type
filled in; nothing changes until the command goes through the circuit's
``send`` or ``process_command``.
"""
from typing import Optional

from ._commands import (ClearChannelRequest, ClearChannelResponse, ClientNameRequest,
                        CreateChanRequest, CreateChanResponse, CreateChFailResponse,
                        EventAddRequest, EventAddResponse, EventCancelRequest,
                        EventCancelResponse, HostNameRequest, ReadNotifyRequest,
                        ReadNotifyResponse, ReadRequest, ReadResponse, ServerDisconnResponse,
                        VersionRequest, VersionResponse, WriteNotifyRequest,
                        WriteNotifyResponse, WriteRequest)
from ._constants import AccessRights, ChannelType, SubscriptionType
from ._errors import CaprotoValueError
from ._sentinels import IDLE, SEND_CREATE_CHAN_REQUEST
from ._status import CAStatus

__all__ = ["ClientChannel", "ServerChannel", "resolve_data_type"]

_CLASS_OFFSET = {"native": 0, "status": 7, "time": 14, "graphic": 21, "control": 28}


def resolve_data_type(data_type, native: Optional[int]) -> ChannelType:
    """A DBR type from ``'native'``, ``'status'``, ``'time'``, ``'graphic'``,
    ``'control'`` (applied to ``native``), a :class:`ChannelType` or an int."""
    if data_type is None:
        data_type = "native"
    if isinstance(data_type, str):
        if native is None:
            raise CaprotoValueError("the channel's native type is not known yet")
        try:
            return ChannelType(_CLASS_OFFSET[data_type.lower()] + native % 7)
        except KeyError:
            raise CaprotoValueError("unknown data type class %r" % (data_type,)) from None
    return ChannelType(data_type)


class _BaseChannel:
    def __init__(self, name, circuit, cid=None, string_encoding="latin-1"):
        self.name = name
        self.circuit = circuit
        self.cid = circuit.new_channel_id() if cid is None else cid
        self.sid = None
        self.native_data_type = None
        self.native_data_count = None
        self.access_rights = AccessRights.NO_ACCESS
        self.protocol_version = circuit.protocol_version
        self.string_encoding = string_encoding
        self._state = (SEND_CREATE_CHAN_REQUEST, IDLE)

    def _register(self):
        """Made by the user: the circuit uses this object for the channel's
        CreateChanRequest (its cid is taken from now on)."""
        self.circuit.channels.setdefault(self.cid, self)

    @property
    def states(self):
        from ._circuit import CircuitState
        return CircuitState(*self._state)

    def _type_count(self, data_type, data_count):
        data_type = resolve_data_type(data_type, self.native_data_type)
        if data_count is None:
            data_count = self.native_data_count if self.native_data_count is not None else 0
        return data_type, data_count

    def __repr__(self):
        return "<%s name=%r cid=%r sid=%r states=%r>" % (
            type(self).__name__, self.name, self.cid, self.sid, self.states)


class ClientChannel(_BaseChannel):
    """A channel as a client sees it (registered with ``circuit``).

    Parameters
    ----------
    name : str
        Channel (PV) name.
    circuit : VirtualCircuit
    cid : int, optional
        Client id; allocated by the circuit if omitted.
    string_encoding : str
        Encoding of string values (latin-1).
    """

    def __init__(self, name, circuit, cid=None, string_encoding="latin-1"):
        super().__init__(name, circuit, cid, string_encoding)
        self._register()

    def version(self, priority=0):
        return VersionRequest(priority=priority, version=self.protocol_version)

    def host_name(self, host_name: str):
        """A :class:`HostNameRequest` (pass the name: nothing here looks it up)."""
        return HostNameRequest(host_name)

    def client_name(self, client_name: str):
        """A :class:`ClientNameRequest` (pass the user name)."""
        return ClientNameRequest(client_name)

    def create(self):
        return CreateChanRequest(name=self.name, cid=self.cid, version=self.protocol_version)

    def clear(self):
        return ClearChannelRequest(self.sid, self.cid)

    def read(self, data_type=None, data_count=None, ioid=None, notify=True):
        data_type, data_count = self._type_count(data_type, data_count)
        if ioid is None:
            ioid = self.circuit.new_ioid()
        cls = ReadNotifyRequest if notify else ReadRequest
        return cls(data_type, data_count, self.sid, ioid)

    def write(self, data, data_type=None, data_count=None, metadata=None, ioid=None,
              notify=False):
        data_type = resolve_data_type(data_type, self.native_data_type)
        if ioid is None:
            ioid = self.circuit.new_ioid()
        cls = WriteNotifyRequest if notify else WriteRequest
        return cls(data, data_type, data_count, self.sid, ioid, metadata=metadata)

    def subscribe(self, data_type=None, data_count=None, subscriptionid=None, low=0.0,
                  high=0.0, to=0.0, mask=None):
        data_type, data_count = self._type_count(data_type, data_count)
        if subscriptionid is None:
            subscriptionid = self.circuit.new_subscriptionid()
        if mask is None:
            mask = (SubscriptionType.DBE_VALUE | SubscriptionType.DBE_ALARM
                    | SubscriptionType.DBE_PROPERTY)
        return EventAddRequest(data_type, data_count, self.sid, subscriptionid,
                               low, high, to, int(mask))

    def unsubscribe(self, subscriptionid):
        request = self.circuit.event_add_commands.get(subscriptionid)
        if request is None:
            raise CaprotoValueError("no subscription %r on this circuit" % (subscriptionid,))
        return EventCancelRequest(request.data_type, self.sid, subscriptionid,
                                  data_count=request.data_count)


class ServerChannel(_BaseChannel):
    """A channel as a server sees it (created when a CreateChanRequest arrives)."""

    def version(self):
        return VersionResponse(self.protocol_version)

    def create(self, native_data_type, native_data_count, sid):
        return CreateChanResponse(native_data_type, native_data_count, self.cid, sid)

    def create_fail(self):
        return CreateChFailResponse(self.cid)

    def access_rights_response(self, access_rights):
        from ._commands import AccessRightsResponse
        return AccessRightsResponse(self.cid, access_rights)

    def read(self, data, ioid, data_type=None, data_count=None, status=1, *, metadata=None,
             notify=True):
        data_type = resolve_data_type(data_type, self.native_data_type)
        if notify:
            return ReadNotifyResponse(data, data_type, data_count, status, ioid,
                                      metadata=metadata)
        return ReadResponse(data, data_type, data_count, self.sid, ioid, metadata=metadata)

    def write(self, ioid, data_type=None, data_count=None, status=1):
        data_type, data_count = self._type_count(data_type, data_count)
        return WriteNotifyResponse(data_type, data_count, status, ioid)

    def subscribe(self, data, subscriptionid, data_type=None, data_count=None,
                  status=CAStatus.ECA_NORMAL, metadata=None):
        data_type = resolve_data_type(data_type, self.native_data_type)
        return EventAddResponse(data, data_type, data_count, status, subscriptionid,
                                metadata=metadata)

    def unsubscribe(self, subscriptionid, data_type=None, data_count=None):
        request = self.circuit.event_add_commands.get(subscriptionid)
        if request is not None:
            data_type = request.data_type if data_type is None else data_type
            data_count = request.data_count if data_count is None else data_count
        data_type, data_count = self._type_count(data_type, data_count)
        return EventCancelResponse(data_type, self.sid, subscriptionid, data_count)

    def clear(self):
        return ClearChannelResponse(self.sid, self.cid)

    def disconnect(self):
        return ServerDisconnResponse(self.cid)

