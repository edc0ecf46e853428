"""Name resolution timing: which unresolved names are searched, and when.

Each unresolved name has its own backoff: searched at once, then after
``search_min`` seconds, doubling up to ``search_max``.  A tick sends every
name that is due, at most :data:`MAX_NAMES_PER_SEARCH` per datagram, to
every address of the search list and over TCP to every name server; a
burst of more than :data:`MAX_NAMES_PER_TICK` names is spread over ticks
:data:`SEARCH_BURST_INTERVAL` apart, so a server's UDP receive buffer (about
200 kB by default on Linux) does not overflow.  A beacon from a server not
seen before (:meth:`Searcher.reset_backoff`) makes every unresolved name due
again at once.  Loop-free: the reactor's clock and timers drive it.
"""
from __future__ import annotations

import logging
from typing import Any, Callable, List, Optional, Set

__all__ = ["Searcher", "MAX_NAMES_PER_SEARCH", "MAX_NAMES_PER_TICK", "SEARCH_BURST_INTERVAL"]

log = logging.getLogger("pva.client")

#: names per search datagram
MAX_NAMES_PER_SEARCH = 64
#: names searched per tick (the rest of a burst goes out in later ticks)
MAX_NAMES_PER_TICK = 64 * MAX_NAMES_PER_SEARCH
SEARCH_BURST_INTERVAL = 0.02


class Searcher:
    """The unresolved names of a client core and their search schedule.

    ``send(names) -> bool`` is the core's: it sends one search of ``names``
    to the address list (UDP) and to the name servers, and says whether it
    had anywhere to send it.
    """

    def __init__(self, reactor: Any, config: Any,
                 send: Callable[[List[str]], None]):
        self.reactor = reactor
        self.config = config
        self.send = send
        #: the channels being searched
        self.pending: Set[Any] = set()
        self._timer: Any = None
        self._at: Optional[float] = None
        self.closed = False

    def add(self, ch: Any, delay: Optional[float] = None) -> None:
        """Search ``ch``: its backoff restarts (at ``delay``, at least
        ``search_min``, first search after ``delay``; default: now)."""
        now = self.reactor.time()
        cfg = self.config
        ch.search_delay = cfg.search_min if delay is None else max(delay, cfg.search_min)
        ch.search_due = now + (0.0 if delay is None else delay)
        self.pending.add(ch)
        self._schedule(ch.search_due)

    def discard(self, ch: Any) -> None:
        self.pending.discard(ch)

    def now(self) -> None:
        """Run a tick at once (what is due goes out)."""
        self._schedule(self.reactor.time())

    def reset_backoff(self) -> None:
        """Every pending name is due now, its backoff back to ``search_min``."""
        now = self.reactor.time()
        for ch in self.pending:
            ch.search_delay = self.config.search_min
            ch.search_due = now
        self.now()

    def close(self) -> None:
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _schedule(self, when: float) -> None:
        if self.closed:
            return
        if self._timer is not None and self._at is not None and self._at <= when:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._at = when
        self._timer = self.reactor.call_later(max(0.0, when - self.reactor.time()), self._tick)

    def _tick(self) -> None:
        self._timer = None
        self._at = None
        if self.closed or not self.pending:
            return
        now = self.reactor.time()
        due = [ch for ch in self.pending if ch.search_due <= now + 1e-3]
        more = len(due) > MAX_NAMES_PER_TICK
        if more:    # a burst: the rest goes out in the next ticks
            due = due[:MAX_NAMES_PER_TICK]
        if due:
            sent = False
            for i in range(0, len(due), MAX_NAMES_PER_SEARCH):
                sent = self.send([ch.name for ch in due[i:i + MAX_NAMES_PER_SEARCH]]) or sent
            if not sent:
                # nowhere to send yet: the UDP socket or a name server
                # becoming ready calls now()
                return
            search_max = self.config.search_max
            for ch in due:
                ch.searches += 1
                ch.search_due = now + ch.search_delay
                ch.search_delay = min(ch.search_delay * 2, search_max)
        if more:
            self._schedule(now + SEARCH_BURST_INTERVAL)
        elif self.pending:
            self._schedule(min(ch.search_due for ch in self.pending))
