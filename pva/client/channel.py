"""The channel of one PV name, shared by every operation of a client on it."""
from __future__ import annotations

import enum
import logging
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

from .._errors import PVAError
from .._introspection import FieldDesc
from .._messages import CreateChannelResponse
from .errors import Cancelled
from .ops.base import OneShot, Operation

__all__ = ["SharedChannel", "NameState"]

log = logging.getLogger("pva.client")


class NameState(enum.Enum):
    """Where a PV name is: being searched, connecting to its server (the
    circuit being made or validated, the channel being created), connected,
    or closed for good.  (The protocol states of the channel on its circuit
    are :class:`pva.ChannelState`; this is the client's view of a name.)"""

    SEARCHING = "searching"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    CLOSED = "closed"

    __hash__ = object.__hash__


S = NameState


class SharedChannel:
    """A PV name, shared by every operation of a client core on it.

    ``listeners`` are called ``fn(connected: bool)`` on changes.
    """

    def __init__(self, core: Any, name: str):
        self.core = core
        self.name = name
        self.state = S.SEARCHING
        self.circuit: Any = None            # ClientCircuit
        self.vch = None                     # its pva.ClientChannel on the circuit
        self.ops: Set[Operation] = set()
        self.listeners: List[Callable[[bool], None]] = []
        self.search_delay = core.config.search_min
        self.search_due = core.reactor.time()
        self.searches = 0
        self.key: Any = name
        self.direct: Optional[Tuple[str, int]] = None
        #: pvRequest text -> (ioid, type) of an open, idle GET request
        self.idle_gets: Dict[str, Tuple[int, FieldDesc]] = {}
        self.error: Optional[str] = None

    def __repr__(self) -> str:
        return f"<SharedChannel {self.name!r} {self.state.value}>"

    @property
    def connected(self) -> bool:
        return self.state is S.CONNECTED

    @property
    def server(self) -> Optional[Tuple[str, int]]:
        return self.circuit.address if self.circuit is not None else None

    def _notify(self, up: bool) -> None:
        for fn in list(self.listeners):
            try:
                fn(up)
            except Exception:  # a listener must not break the core
                log.exception("connection listener of %s failed", self.name)

    def _found(self, address: Tuple[str, int]) -> None:
        if self.state is not S.SEARCHING:
            return
        self.core.search.discard(self)
        self.state = S.CONNECTING
        circ = self.core._circuit_for(address)
        self.circuit = circ
        circ.add_channel(self)

    def _create_on(self, circ: Any) -> None:
        self.idle_gets.clear()
        vch = circ.vc.create_channel(self.name)
        circ.channels[vch.cid] = self
        self.vch = vch
        circ.send(vch.create())

    def _on_created(self, circ: Any, msg: CreateChannelResponse) -> None:
        if circ is not self.circuit:
            return
        if not msg.status.is_successful:
            self.error = msg.status.message
            log.info("%s: create refused: %s", self.name, msg.status.message)
            circ.channels.pop(msg.client_chid, None)
            self.circuit = None
            self.state = S.SEARCHING
            self.core._start_search(self, delay=self.core.config.search_max)
            return
        self.vch = circ.vc.channel_by_cid(msg.client_chid)
        self.state = S.CONNECTED
        self.error = None
        for op in list(self.ops):
            op._start()
        self._notify(True)

    def _lost(self, circ: Any) -> None:
        if self.circuit is not circ or self.state is S.CLOSED:
            return
        was = self.state is S.CONNECTED
        self.circuit = None
        self.vch = None
        self.idle_gets.clear()
        self.state = S.SEARCHING
        for op in list(self.ops):
            op._channel_lost()
        self.core._start_search(self)
        if was:
            self._notify(False)

    def _attach(self, op: Operation) -> None:
        if self.state is S.CLOSED:
            op._fail(Cancelled(f"{self.name}: context closed"))
            return
        self.ops.add(op)
        if self.state is S.CONNECTED:
            op._start()

    def close(self, destroy: bool = True) -> None:
        """Destroy the channel (its operations are cancelled)."""
        if self.state is S.CLOSED:
            return
        for op in list(self.ops):
            op._detach_request(destroy=destroy)
            if isinstance(op, OneShot):   # a waiting caller learns why
                op._finish(None, Cancelled(f"{self.name}: cancelled (channel closed)"))
            op.cancel()
        circ = self.circuit
        if destroy and self.state is S.CONNECTED and circ is not None and circ.connected:
            try:
                circ.send(self.vch.disconnect())
            except PVAError:
                pass
        if circ is not None:
            vch = self.vch
            if vch is not None and circ.channels.get(vch.cid) is self:
                del circ.channels[vch.cid]
            circ.waiting.pop(self, None)
        self.core.search.discard(self)
        self.core.channels.pop(self.key, None)
        was = self.state is S.CONNECTED
        self.state = S.CLOSED
        self.circuit = None
        if was:
            self._notify(False)
