"""Channels and requests of a circuit (sans-I/O): ids, names, states.

:class:`ClientChannel` builds the messages a client sends on its channel;
:class:`ServerChannel` the replies a server sends.  Their ``state`` and the
``state`` of a :class:`Request` are advanced by the circuit only
(:mod:`pva._rules`); the ``data`` slot of each is the application's.
"""
from __future__ import annotations

from typing import Any, Optional

from ._errors import LocalProtocolError
from ._header import ApplicationCommand
from ._dataclass import get_pv_structure
from ._introspection import FieldDesc
from ._messages import (ChannelArrayRequest, ChannelDestroyRequest, ChannelDestroyResponse,
                        ChannelFieldInfoRequest, ChannelFieldInfoResponse, ChannelGetRequest,
                        ChannelGetResponse, ChannelMonitorRequest, ChannelMonitorResponse,
                        ChannelProcessRequest, ChannelPutGetRequest, ChannelPutRequest,
                        ChannelPutResponse, ChannelRpcRequest, ChannelRpcResponse,
                        CreateChannelRequest, CreateChannelResponse, Subcommand)
from ._state import ChannelState, RequestState
from ._values import Status

__all__ = ["Channel", "ClientChannel", "ServerChannel", "Request"]

_OK = Status()


class Channel:
    """A channel on a circuit: client id, server id (once known), name, state."""

    __slots__ = ("circuit", "name", "cid", "sid", "state", "requests", "data")

    def __init__(self, circuit: Any, name: str, cid: int):
        self.circuit = circuit
        self.name = name
        self.cid = cid
        self.sid: Optional[int] = None
        self.state: Optional[ChannelState] = None
        self.requests: set = set()
        #: the application's object for this channel (a server's served PV);
        #: the circuit never reads it
        self.data: Any = None

    def __repr__(self) -> str:
        st = self.state.name if self.state else "NEW"
        return f"<{type(self).__name__} {self.name!r} cid={self.cid} sid={self.sid} {st}>"

    @property
    def connected(self) -> bool:
        return self.state is ChannelState.CONNECTED


class ClientChannel(Channel):
    """Client side of a channel; helpers build the messages for it."""

    __slots__ = ()

    def create(self) -> CreateChannelRequest:
        return CreateChannelRequest([(self.cid, self.name)])

    def disconnect(self) -> ChannelDestroyRequest:
        return ChannelDestroyRequest(self.cid, self._sid())

    def _sid(self) -> int:
        if self.sid is None:
            raise LocalProtocolError(f"channel {self.name!r} is not connected")
        return self.sid

    # pvrequest: a pvRequest string, a PVRequest or a structure; "" selects
    # everything.  The keyword names are caproto.pva's (ioid, pvrequest).
    def read(self, pvrequest: Any = "", ioid: Optional[int] = None) -> ChannelGetRequest:
        """GET INIT."""
        return ChannelGetRequest(self._sid(), self._ioid(ioid), Subcommand.INIT, pvrequest)

    def write(self, pvrequest: Any = "", ioid: Optional[int] = None) -> ChannelPutRequest:
        """PUT INIT."""
        return ChannelPutRequest(self._sid(), self._ioid(ioid), Subcommand.INIT, pvrequest)

    def read_write(self, pvrequest: Any = "", ioid: Optional[int] = None) -> ChannelPutGetRequest:
        """PUT_GET INIT."""
        return ChannelPutGetRequest(self._sid(), self._ioid(ioid), Subcommand.INIT, pvrequest)

    def subscribe(self, pvrequest: Any = "", ioid: Optional[int] = None,
                  queue_size: Optional[int] = 0) -> ChannelMonitorRequest:
        """MONITOR INIT (``queue_size`` 0: no pipelining)."""
        return ChannelMonitorRequest(self._sid(), self._ioid(ioid)).to_init(pvrequest,
                                                                           queue_size or 0)

    def rpc(self, pvrequest: Any = "", ioid: Optional[int] = None) -> ChannelRpcRequest:
        """RPC INIT."""
        return ChannelRpcRequest(self._sid(), self._ioid(ioid), Subcommand.INIT, pvrequest)

    def array(self, pvrequest: Any = "", ioid: Optional[int] = None) -> ChannelArrayRequest:
        """ARRAY INIT."""
        return ChannelArrayRequest(self._sid(), self._ioid(ioid), Subcommand.INIT, pvrequest)

    def process(self, pvrequest: Any = "", ioid: Optional[int] = None) -> ChannelProcessRequest:
        """PROCESS INIT."""
        return ChannelProcessRequest(self._sid(), self._ioid(ioid), Subcommand.INIT, pvrequest)

    def read_interface(self, sub_field_name: str = "", ioid: Optional[int] = None
                       ) -> ChannelFieldInfoRequest:
        return ChannelFieldInfoRequest(self._sid(), self._ioid(ioid), sub_field_name)

    def _ioid(self, ioid: Optional[int]) -> int:
        return self.circuit.new_ioid() if ioid is None else ioid


class ServerChannel(Channel):
    """Server side of a channel."""

    __slots__ = ()

    def create(self, sid: Optional[int] = None, status: Status = Status()) -> CreateChannelResponse:
        """The create reply (assigns a server id if needed)."""
        if sid is None:
            sid = self.sid if self.sid is not None else self.circuit.new_channel_id()
        return CreateChannelResponse(self.cid, sid, status)

    def disconnect(self) -> ChannelDestroyResponse:
        if self.sid is None:
            raise LocalProtocolError(f"channel {self.name!r} has no server id")
        return ChannelDestroyResponse(self.cid, self.sid)

    # The INIT replies of the operations, as caproto.pva's ServerChannel
    # spells them: ``interface`` is a FieldDesc or a pva dataclass (or one
    # of its instances).
    def read_interface(self, ioid: int, interface: Any, *, status: Status = _OK
                       ) -> ChannelFieldInfoResponse:
        """The GET_FIELD reply."""
        return ChannelFieldInfoResponse(ioid, _structure(interface), status)

    def read(self, ioid: int, interface: Any, *, status: Status = _OK) -> ChannelGetResponse:
        """The GET INIT reply."""
        return ChannelGetResponse(ioid, status).to_init(_structure(interface))

    def write(self, ioid: int, put_structure_if: Any, *, status: Status = _OK
              ) -> ChannelPutResponse:
        """The PUT INIT reply."""
        return ChannelPutResponse(ioid, status).to_init(_structure(put_structure_if))

    def subscribe(self, ioid: int, interface: Any, *, status: Status = _OK
                  ) -> ChannelMonitorResponse:
        """The MONITOR INIT reply."""
        return ChannelMonitorResponse(ioid).to_init(status, _structure(interface))

    def rpc(self, ioid: int, *, status: Status = _OK) -> ChannelRpcResponse:
        """The RPC INIT reply."""
        return ChannelRpcResponse(ioid).to_init(status)


def _structure(interface: Any) -> Any:
    """A FieldDesc as it is, else the structure of a pva dataclass (or instance)."""
    return interface if isinstance(interface, FieldDesc) or interface is None \
        else get_pv_structure(interface)


class Request:
    """One request (``ioid``) on a channel."""

    __slots__ = ("ioid", "command", "channel", "state", "pending", "table", "data")

    def __init__(self, ioid: int, command: int, channel: Channel, table: dict):
        self.ioid = ioid
        self.command = command
        self.channel = channel
        self.state = RequestState.NEW
        self.pending = 0
        self.table = table
        #: the application's object for this request (a server's operation);
        #: the circuit never reads it
        self.data: Any = None

    def __repr__(self) -> str:
        return (f"<Request ioid={self.ioid} {ApplicationCommand(self.command).name} "
                f"{self.state.name} on {self.channel.name!r}>")
