"""GET."""
from __future__ import annotations

from ..._errors import PVAError
from ..._messages import ChannelGetRequest, Subcommand
from ..._values import default_value
from ..value import Value, merge
from .base import OneShot

__all__ = ["GetOp", "MAX_IDLE_GETS"]

#: GET requests kept open per channel for re-use (one per pvRequest)
MAX_IDLE_GETS = 4


class GetOp(OneShot):
    """GET.  The request stays open on the server after its reply and the next
    GET with the same pvRequest on the channel re-executes it: one round trip
    instead of two (INIT + EXEC).  At most :data:`MAX_IDLE_GETS` per channel."""

    KIND = "get"

    def _init_message(self):
        return ChannelGetRequest(self._sid(), self.ioid, Subcommand.INIT, self.request)

    def _start(self) -> None:
        if self.done or self.ioid is not None:
            return
        self.key = str(self.request)
        idle = self.channel.idle_gets.pop(self.key, None)
        if idle is None:
            super()._start()
            return
        circ = self.circuit = self.channel.circuit
        self.ioid, self.desc = idle
        circ.attach(self)
        try:
            circ.send(ChannelGetRequest(self._sid(), self.ioid, Subcommand.DEFAULT))
        except PVAError as ex:
            self._detach_request(destroy=True)
            self._fail(ex)

    def _on_message(self, msg) -> None:
        if not self._check(msg):
            return
        if msg.subcommand & Subcommand.INIT:
            self.desc = msg.pv_structure_if
            self._send(ChannelGetRequest(self._sid(), self.ioid, Subcommand.DEFAULT))
            return
        desc = msg.pv_structure_if or self.desc
        data, bits = msg.pv_data.data, msg.pv_data.bitset
        if bits is None or 0 not in bits:     # some fields only: the rest as defaults
            full = default_value(desc)
            merge(full, data)
            data = full
        value = Value(data, desc, bits)
        ch, circ = self.channel, self.circuit
        if (ch.circuit is circ and ch.connected and self.key not in ch.idle_gets
                and len(ch.idle_gets) < MAX_IDLE_GETS):
            circ.detach(self.ioid, self)
            ch.idle_gets[self.key] = (self.ioid, desc)
            self.circuit = self.ioid = None
        else:
            self._detach_request(destroy=True)
        self._finish(value)
