"""PUT_GET: a put whose result is the value read back in the same request."""
from __future__ import annotations

from ..._messages import ChannelPutGetRequest, Subcommand
from ..._values import default_value
from ..value import Value, merge
from .put import PutOp

__all__ = ["PutGetOp"]


class PutGetOp(PutOp):
    """PUT_GET; the result is the :class:`~pva.client.Value` of the get part."""

    KIND = "put_get"
    REQUEST = ChannelPutGetRequest

    def _read_current(self):
        return ChannelPutGetRequest(self._sid(), self.ioid, Subcommand.GET_PUT)

    def _on_init(self, msg) -> None:
        self.desc = msg.put_structure_if
        self.get_desc = msg.get_structure_if

    def _done(self, msg) -> None:
        desc = msg.get_structure_if or self.get_desc
        data = default_value(desc)
        merge(data, msg.pv_data.data)
        self._finish(Value(data, desc, msg.pv_data.bitset))
