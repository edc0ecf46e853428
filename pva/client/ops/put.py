"""PUT: INIT (the server's put type), the value checked and converted to it,
then one execution; an enum given by choice name reads the choices first."""
from __future__ import annotations

from ..._errors import PVAError
from ..._messages import ChannelPutRequest, Subcommand
from ..._values import DataWithBitSet, default_value
from ..putvalue import build_put
from ..value import merge
from .base import LAST, OneShot

__all__ = ["PutOp"]


class PutOp(OneShot):
    """PUT; the result is ``None``."""

    KIND = "put"
    REQUEST = ChannelPutRequest

    def __init__(self, channel, request, value, callback):
        super().__init__(channel, request, callback)
        self.value = value

    def _init_message(self):
        return self.REQUEST(self._sid(), self.ioid, Subcommand.INIT, self.request)

    def _read_current(self):
        """The request that reads the present value (for enum choice names)."""
        return ChannelPutRequest(self._sid(), self.ioid).to_get()

    def _build(self, current=None):
        try:
            return build_put(self.desc, self.value, current)
        except (ValueError, TypeError, KeyError) as ex:
            self._detach_request(destroy=True)
            self._finish(None, ValueError(f"{self.name}: {ex}"))
            return None

    def _put(self, data, bits) -> None:
        msg = self.REQUEST(self._sid(), self.ioid, LAST,
                           put_data=DataWithBitSet(data, bits, self.desc))
        try:
            self._send(msg)
        except PVAError as ex:
            self._detach_request(destroy=True)
            self._finish(None, ValueError(f"{self.name}: {ex}"))

    def _on_init(self, msg) -> None:
        self.desc = msg.put_structure_if

    def _on_message(self, msg) -> None:
        if not self._check(msg):
            return
        if msg.subcommand & Subcommand.INIT:
            self._on_init(msg)
            built = self._build()
            if built is None:
                return
            data, bits, need = built
            if need:  # enum choice by name: read the present value first
                self._send(self._read_current())
                return
            self._put(data, bits)
            return
        if msg.subcommand & (Subcommand.GET | Subcommand.GET_PUT):
            current = default_value(self.desc)
            merge(current, msg.pv_data.data)
            built = self._build(current)
            if built is not None:
                self._put(built[0], built[1])
            return
        self._done(msg)

    def _done(self, msg) -> None:
        self._finish(None)
