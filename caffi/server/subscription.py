"""The subscriptions of a CA server connection: EVENT_ADD, EVENT_CANCEL,
EVENTS_OFF/ON, and the updates they bring (loop-free).

:class:`Subscription` is one EVENT_ADD of a client; a PV's
:class:`~caffi.protocol.ChannelData` posts its encoded values to it.
:class:`SubscriptionHandling` is the part of
:class:`~caffi.server.circuit.ServerCircuit` that handles those requests
and writes the updates.

An update is written at once while the connection takes data and nothing
of that subscription is queued; otherwise it waits in the subscription's
queue, bounded by its PV's ``max_subscription_backlog``, where a post to a
full queue replaces the newest queued update, so the latest value is
always delivered, as rsrv does.  Queues are written out when the transport
takes data again (TCP back-pressure holds them, where they coalesce);
EVENTS_OFF holds them too, until EVENTS_ON.  The updates a write caused are
sent before its write-notify reply (the circuit flushes them first).

Updates take the fast path (:func:`caffi.server._fast.update_ok`: a header
packed over the PV's cached payload) where the generic path would send them
without a change of state; otherwise they go through the protocol circuit
as message objects.
"""
from collections import deque
from typing import Dict

from ..protocol import CaprotoConversionError, CAStatus, ChannelType
from ..protocol._dbr import DBR_LAYOUTS, encode_payload
from ..protocol._status import eca_value
from . import _fast
from ._fast import update_ok as _update_ok

__all__ = ["Subscription", "SubscriptionHandling"]

_S = CAStatus
_NORMAL = eca_value(_S.ECA_NORMAL)


class Subscription:
    """One EVENT_ADD of a client: what it asked for, and its queue."""
    __slots__ = ("circuit", "chan", "subscriptionid", "data_type", "data_count", "mask",
                 "queue", "backlog", "dropped", "queued_bytes", "_header_key", "_header")

    def __init__(self, circuit, chan, subscriptionid, data_type, data_count, mask, backlog):
        self.circuit = circuit
        self.chan = chan
        self.subscriptionid = subscriptionid
        self.data_type = data_type
        self.data_count = data_count or None     # 0: the current length
        self.mask = mask
        self.queue: deque = deque()
        self.backlog = backlog
        self.dropped = 0
        self.queued_bytes = 0
        #: the last update's header and its (size, count, status): the next
        #: update of the same shape reuses it (most carry one more number)
        self._header_key = None
        self._header = b""

    def post_payload(self, flags, payload) -> None:
        """A new value for the client, encoded (called by the ChannelData)."""
        if self.chan.can_read:
            self.update(payload, _NORMAL)

    def post_error(self, ex) -> None:
        self.update(self.circuit._zero_payload(self), eca_value(_S.ECA_GETFAIL))

    def update(self, payload, status: int) -> None:
        """Send an update now if the connection takes it, else queue it."""
        circuit = self.circuit
        conn = circuit.conn
        if (self.queue or not circuit._events_on or conn is None or conn.closing
                or conn.write_backlog() > circuit._high):
            circuit._hold(self, payload, status)
        else:
            circuit._emit_update(self, payload, status)

    def header(self, size, count, status) -> bytes:
        """The header of an update of ``size`` bytes, ``count`` elements."""
        key = (size, count, status)
        if key != self._header_key:
            self._header_key = key
            self._header = _fast.pack_header(1, size, self.data_type, count, status,
                                             self.subscriptionid)
        return self._header


class SubscriptionHandling:
    """The subscription requests and updates of a
    :class:`~caffi.server.circuit.ServerCircuit` (a base class of it: the
    attributes used here are the circuit's)."""

    subscriptions: Dict[int, Subscription]

    def _drop_subscription(self, sub: Subscription) -> None:
        sub.chan.data.remove_subscriber(sub)
        sub.chan.subs.pop(sub.subscriptionid, None)
        self.subscriptions.pop(sub.subscriptionid, None)
        self._dirty.pop(sub, None)
        self._queued_bytes -= sub.queued_bytes
        sub.queue.clear()
        self.core.n_subscriptions -= 1

    # ---------------------------------------------------------------- subscriptions
    def _event_add(self, cmd) -> None:
        core = self.core
        chan = self.channels[cmd.sid]
        if not isinstance(cmd.data_type, ChannelType) or cmd.data_type in (
                ChannelType.PUT_ACKT, ChannelType.PUT_ACKS):
            self.vc.event_add_commands.pop(cmd.subscriptionid, None)
            return self._error(cmd.header, chan.cid, _S.ECA_BADTYPE, "bad DBR type")
        if core.n_subscriptions >= core.limits.subscriptions_total:
            self.vc.event_add_commands.pop(cmd.subscriptionid, None)
            core.refuse(self.conn.peer, "server-wide subscription budget (%d) exhausted"
                        % core.limits.subscriptions_total)
            return self._error(cmd.header, chan.cid, _S.ECA_ALLOCMEM, "too many subscriptions")
        data = chan.data
        sub = Subscription(self, chan, cmd.subscriptionid, cmd.data_type, cmd.data_count,
                           cmd.mask, data.max_subscription_backlog)
        chan.subs[cmd.subscriptionid] = sub
        self.subscriptions[cmd.subscriptionid] = sub
        core.n_subscriptions += 1
        data.add_subscriber(sub)
        # the current value at once, as rsrv sends it
        if chan.can_read:
            try:
                payload = data.payload(sub.data_type, sub.data_count)
            except CaprotoConversionError:
                sub.update(self._zero_payload(sub), eca_value(_S.ECA_GETFAIL))
            else:
                sub.update(payload, _NORMAL)
        else:
            sub.update(self._zero_payload(sub), eca_value(_S.ECA_NORDACCESS))

    def _event_cancel(self, cmd) -> None:
        sub = self.subscriptions.get(cmd.subscriptionid)
        if sub is not None:
            self._drop_subscription(sub)
        vchan = self.vc.channels_sid[cmd.sid]
        self._send(vchan.unsubscribe(cmd.subscriptionid))

    def _events_off(self, cmd) -> None:
        self._events_on = False

    def _events_on_request(self, cmd) -> None:
        self._events_on = True
        self._schedule_flush()

    # ---------------------------------------------------------------- updates
    @staticmethod
    def _zero_payload(sub):
        """The payload of an update that carries a failure (zeros of the asked size)."""
        count = sub.data_count or sub.chan.data.max_length
        buffers, size, count = encode_payload(sub.data_type, _zeros(sub.data_type, count),
                                              sub.data_count, None)
        return tuple(buffers), count, sum(len(b) for b in buffers)

    def _hold(self, sub: Subscription, payload, status: int) -> None:
        """Queue an update until the connection takes data (or EVENTS_ON)."""
        self._enqueue(sub, (payload, status))
        if self._events_on:
            self._schedule_flush()

    def _emit_update(self, sub: Subscription, payload, status: int) -> None:
        if not (self.fast_updates and _update_ok(self, sub)):
            # the generic path checks it (and refuses what the guard refused)
            return self._send(_fast.update_message(sub, payload, status))
        buffers, count, size = payload
        if size >= _fast.LARGE:
            return self.put_large((sub.header(size, count, status),) + buffers)
        batch = self._batch
        if batch is not None:
            batch.append(sub.header(size, count, status))
            batch.extend(buffers)
        else:
            self.conn.send((sub.header(size, count, status),) + buffers)

    def _enqueue(self, sub: Subscription, item) -> None:
        q = sub.queue
        size = 64 + item[0][2]
        if q and (len(q) >= sub.backlog
                  or self._queued_bytes + size > self.core.limits.max_queued_bytes):
            old = q[-1]
            q[-1] = item                # the newest replaces the last queued
            delta = size - 64 - old[0][2]
            sub.dropped += 1
        else:
            q.append(item)
            delta = size
        sub.queued_bytes += delta
        self._queued_bytes += delta
        self._dirty[sub] = None

    def _schedule_flush(self) -> None:
        """Write the queues out once the transport takes data (soon if it does)."""
        conn = self.conn
        if not self._flush_scheduled and conn is not None and not conn.closing:
            self._flush_scheduled = True
            conn.when_writable(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        conn = self.conn
        if conn.closing or not self._events_on:
            return
        dirty = self._dirty
        high = self._high
        while dirty:
            if conn.write_backlog() > high:
                self._schedule_flush()
                break
            sub = next(iter(dirty))
            q = sub.queue
            payload, status = q.popleft()
            if not q:
                del dirty[sub]
            size = 64 + payload[2]
            sub.queued_bytes -= size
            self._queued_bytes -= size
            self._emit_update(sub, payload, status)


def _zeros(data_type, count):
    layout = DBR_LAYOUTS[int(data_type)]
    if layout.native is ChannelType.STRING:
        return [b""] * count
    import numpy as np
    return np.zeros(count, dtype=layout.value_dtype)
