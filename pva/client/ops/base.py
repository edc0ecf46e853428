"""What every client operation shares: the request lifecycle on a channel."""
from __future__ import annotations

import logging
from typing import Any, Callable, Optional

from ..._errors import PVAError
from ..._messages import ChannelRequestDestroy, Subcommand
from ..._pvrequest import PVRequest
from ..errors import Disconnected, RemoteError

__all__ = ["Operation", "OneShot", "parse_request", "LAST"]

log = logging.getLogger("pva.client")

#: the subcommand of an execution that also destroys the request
LAST = int(Subcommand.DESTROY)


def parse_request(request: Any) -> PVRequest:
    """A :class:`PVRequest` from a string (``PVRequestError`` with position) or one."""
    if isinstance(request, PVRequest):
        return request
    if request is None:
        request = ""
    return PVRequest.parse(str(request))


class Operation:
    """One operation on a channel; runs (again) whenever the channel connects."""

    KIND = "op"

    def __init__(self, channel: Any, request: Any = ""):
        self.channel = channel
        self.request = parse_request(request)
        self.ioid: Optional[int] = None
        self.circuit: Any = None
        self.done = False

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.channel.name!r}>"

    @property
    def name(self) -> str:
        return self.channel.name

    def _start(self) -> None:
        if self.done or self.ioid is not None:
            return
        circ = self.channel.circuit
        self.circuit = circ
        self.ioid = circ.vc.new_ioid()
        try:
            circ.send(self._init_message())
        except PVAError as ex:
            self.circuit = self.ioid = None
            self._fail(ex)
            return
        circ.attach(self)

    def _init_message(self):
        raise NotImplementedError

    def _sid(self) -> int:
        return self.channel.vch.sid

    def _send(self, msg) -> None:
        self.circuit.send(msg)

    def _detach_request(self, destroy: bool = False) -> None:
        circ, ioid = self.circuit, self.ioid
        self.circuit = self.ioid = None
        if circ is None or ioid is None:
            return
        circ.detach(ioid, self)
        if destroy and circ.connected and self.channel.vch is not None:
            try:
                circ.send(ChannelRequestDestroy(self.channel.vch.sid, ioid))
            except PVAError:
                pass

    def _lost(self) -> None:
        """The circuit died under a started request."""
        self.circuit = self.ioid = None

    def _channel_lost(self) -> None:
        raise NotImplementedError

    def _on_message(self, msg) -> None:
        raise NotImplementedError

    def _fail(self, exc: BaseException) -> None:
        raise NotImplementedError

    def cancel(self) -> None:
        """Stop the operation (a request in progress is destroyed on the server)."""
        if self.done:
            return
        self.done = True
        self._detach_request(destroy=True)
        self.channel.ops.discard(self)


class OneShot(Operation):
    """An operation with one result: ``callback(result, exception)``."""

    def __init__(self, channel: Any, request: Any, callback: Callable[[Any, Optional[BaseException]], None]):
        super().__init__(channel, request)
        self.callback = callback

    def _finish(self, result: Any = None, exc: Optional[BaseException] = None) -> None:
        if self.done:
            return
        self.done = True
        self.channel.ops.discard(self)
        if self.circuit is not None and self.ioid is not None:
            self.circuit.detach(self.ioid, self)
        try:
            self.callback(result, exc)
        except Exception:
            log.exception("callback of %r failed", self)

    def _fail(self, exc: BaseException) -> None:
        self._finish(None, exc)

    def _channel_lost(self) -> None:
        if self.ioid is not None or self.circuit is not None:
            self._finish(None, Disconnected(self.name))

    def _lost(self) -> None:
        super()._lost()
        self._finish(None, Disconnected(self.name))

    def _check(self, msg) -> bool:
        if not msg.status.is_successful:
            if msg.subcommand & Subcommand.INIT:
                self.circuit.detach(self.ioid, self)    # the server destroyed it
                self.circuit = self.ioid = None
            else:
                self._detach_request(destroy=True)
            self._finish(None, RemoteError(self.name, msg.status))
            return False
        return True
