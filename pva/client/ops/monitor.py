"""MONITOR: a subscription that re-subscribes itself when its channel reconnects."""
from __future__ import annotations

from typing import Any, Callable, Optional

from ..._errors import PVAError
from ..._introspection import FieldDesc
from ..._messages import ChannelMonitorRequest, ChannelMonitorResponse, Subcommand
from ..._values import default_value
from ..errors import Disconnected, Finished, RemoteError
from ..value import Value, merged
from .base import Operation, log

__all__ = ["MonitorOp"]

_INIT = int(Subcommand.INIT)
_INIT_OR_DESTROY = int(Subcommand.INIT | Subcommand.DESTROY)
_new_value = Value.__new__
_dict_update = dict.update


class MonitorOp(Operation):
    """A subscription: ``on_event(item)`` per update or event; re-subscribes itself.

    With ``record[pipeline=true]`` the server sends at most ``queueSize``
    updates (default 4) before the subscriber acknowledges them: call
    :meth:`ack` once per update consumed (adapters do).
    """

    KIND = "monitor"

    def __init__(self, channel: Any, request: Any, on_event: Callable[[Any], None]):
        super().__init__(channel, request)
        self.on_event = on_event
        self.pipeline = self.request.bool_option("pipeline", False)
        self.queue_size = self.request.int_option("queueSize", 4) or 4
        self.desc: Optional[FieldDesc] = None
        self.current: Optional[dict] = None
        self.connected_once = False
        self._unacked = 0
        self._acked_ioid: Optional[int] = None

    def _init_message(self):
        qs = max(self.queue_size, 2) if self.pipeline else 0
        return ChannelMonitorRequest(self._sid(), self.ioid).to_init(self.request, qs)

    def _emit(self, item: Any) -> None:
        try:
            self.on_event(item)
        except Exception:
            log.exception("subscriber of %s failed", self.name)

    def _on_message(self, msg: ChannelMonitorResponse) -> None:
        sub = msg.subcommand
        if not sub & _INIT_OR_DESTROY:      # an update: the hot path
            data = msg.pv_data
            self.current = current = merged(self.current, data.data)
            self.connected_once = True
            value = _new_value(Value)       # Value(current, desc, bits), inline
            _dict_update(value, current)
            value.type, value.changed = self.desc, data.bitset
            try:                            # _emit, inline
                self.on_event(value)
            except Exception:
                log.exception("subscriber of %s failed", self.name)
            return
        if sub & _INIT:
            if not msg.status.is_successful:
                self.circuit.detach(self.ioid, self)
                self.circuit = self.ioid = None
                self._emit(RemoteError(self.name, msg.status))
                return
            self.desc = msg.pv_structure_if
            self.current = default_value(self.desc)
            self._unacked = 0
            self._send(ChannelMonitorRequest(self._sid(), self.ioid).to_start())
            return
        self.circuit.detach(self.ioid, self)       # DESTROY
        self.circuit = self.ioid = None
        if not msg.status.is_successful:
            self._emit(RemoteError(self.name, msg.status))
        self.done = True
        self.channel.ops.discard(self)
        self._emit(Finished(self.name))

    def ack(self, n: int = 1) -> None:
        """``n`` updates were consumed (pipeline flow control)."""
        if not self.pipeline or self.done or self.ioid is None:
            return
        self._unacked += n
        if self._unacked >= max(1, self.queue_size // 2):
            n, self._unacked = self._unacked, 0
            try:
                # Interop: a pvxs server (1.5) only widens its window on an
                # ack and sends what it queued meanwhile on the next post or
                # START, so an idle PV would leave queued updates stuck.  A
                # START (legal while running) right after the ack makes it
                # send them; pvAccessCPP refuses ack and start combined in one
                # message, so they are two messages.
                self._send(ChannelMonitorRequest(self._sid(), self.ioid).to_pipeline(n))
                self._send(ChannelMonitorRequest(self._sid(), self.ioid).to_start())
            except PVAError:
                pass

    def _fail(self, exc: BaseException) -> None:
        self._emit(exc)

    def _lost(self) -> None:
        super()._lost()

    def _channel_lost(self) -> None:
        self.circuit = self.ioid = None
        if self.connected_once:
            self._emit(Disconnected(self.name))

    def cancel(self) -> None:
        if self.done:
            return
        super().cancel()

    close = cancel
