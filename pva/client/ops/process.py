"""PROCESS."""
from __future__ import annotations

from ..._messages import ChannelProcessRequest, Subcommand
from .base import LAST, OneShot

__all__ = ["ProcessOp"]


class ProcessOp(OneShot):
    """PROCESS: INIT, then one execution; the result is ``None``."""

    KIND = "process"

    def _init_message(self):
        return ChannelProcessRequest(self._sid(), self.ioid, Subcommand.INIT, self.request)

    def _on_message(self, msg) -> None:
        if not self._check(msg):
            return
        if msg.subcommand & Subcommand.INIT:
            self._send(ChannelProcessRequest(self._sid(), self.ioid, LAST))
            return
        self._finish(None)
