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
from ._messages import (ChannelArrayRequest, ChannelDestroyRequest, ChannelDestroyResponse,
                        ChannelFieldInfoRequest, ChannelGetRequest, ChannelMonitorRequest,
                        ChannelProcessRequest, ChannelPutGetRequest, ChannelPutRequest,
                        ChannelRpcRequest, CreateChannelRequest, CreateChannelResponse,
                        Subcommand)
from ._state import ChannelState, RequestState
from ._values import Status

__all__ = ["Channel", "ClientChannel", "ServerChannel", "Request"]


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

    def read(self, pv_request: Any = "", ioid: Optional[int] = None) -> ChannelGetRequest:
        """GET INIT (``pv_request`` a string, :class:`PVRequest` or structure)."""
        return ChannelGetRequest(self._sid(), self._ioid(ioid), Subcommand.INIT, pv_request)

    def write(self, pv_request: Any = "", ioid: Optional[int] = None) -> ChannelPutRequest:
        return ChannelPutRequest(self._sid(), self._ioid(ioid), Subcommand.INIT, pv_request)

    def read_write(self, pv_request: Any = "", ioid: Optional[int] = None) -> ChannelPutGetRequest:
        return ChannelPutGetRequest(self._sid(), self._ioid(ioid), Subcommand.INIT, pv_request)

    def subscribe(self, pv_request: Any = "", ioid: Optional[int] = None,
                  queue_size: int = 0) -> ChannelMonitorRequest:
        return ChannelMonitorRequest(self._sid(), self._ioid(ioid)).to_init(pv_request, queue_size)

    def rpc(self, pv_request: Any = "", ioid: Optional[int] = None) -> ChannelRpcRequest:
        return ChannelRpcRequest(self._sid(), self._ioid(ioid), Subcommand.INIT, pv_request)

    def array(self, pv_request: Any = "", ioid: Optional[int] = None) -> ChannelArrayRequest:
        return ChannelArrayRequest(self._sid(), self._ioid(ioid), Subcommand.INIT, pv_request)

    def process(self, pv_request: Any = "", ioid: Optional[int] = None) -> ChannelProcessRequest:
        return ChannelProcessRequest(self._sid(), self._ioid(ioid), Subcommand.INIT, pv_request)

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
