"""GET_FIELD: the channel's type."""
from __future__ import annotations

from ..._messages import ChannelFieldInfoResponse
from ..errors import RemoteError
from .base import OneShot

__all__ = ["InfoOp"]


class InfoOp(OneShot):
    """GET_FIELD: the result is the channel's :class:`~pva.FieldDesc`."""

    KIND = "info"

    def __init__(self, channel, sub_field, callback):
        super().__init__(channel, "", callback)
        self.sub_field = sub_field

    def _init_message(self):
        return self.channel.vch.read_interface(self.sub_field, ioid=self.ioid)

    def _on_message(self, msg) -> None:
        if not isinstance(msg, ChannelFieldInfoResponse):
            return
        self.circuit.detach(self.ioid, self)
        self.circuit = self.ioid = None
        if not msg.status.is_successful:
            self._finish(None, RemoteError(self.name, msg.status))
        else:
            self._finish(msg.interface)
