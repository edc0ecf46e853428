"""MONITOR: subscriptions with bounded, squashing queues, and the sender
that writes their updates.

A :class:`Monitor` is subscribed to its data wrapper (``subscribe``); the
wrapper ``post``\\ s each change to it.  Its queue holds at most
``queueSize`` updates; when it is full the newest update is squashed into
the last queued one (fields changed in both are marked in the overrun
BitSet), so a slow client never grows memory.

The :class:`MonitorSender` of a circuit sends the queued updates, one per
monitor in turn, respecting the pipeline window and TCP back-pressure: it
runs once per event-loop iteration with pending updates, and stops and
waits while the connection's write backlog is above its high water mark.
A burst (updates again within :data:`MONITOR_BATCH` of the last write) waits
in the monitors' queues for a batch write that moment later: one write (and
one run of the sender) instead of one per update.  The updates are encoded
when it is due, so a PV posted faster than that
costs at most ``queueSize`` encodings per subscriber and batch (the queue
squashes the rest, as it does for a slow client; the last value is always
sent), as a pvxs server squashes what its sender has not taken yet.  An
update is encoded once for every subscriber that sends it (the last ones
encoded are kept in the type's plans, :mod:`pva._typecache`).

Memory: a monitor is charged ``Monitor.COST`` (its objects and its first
queued update, which is the value the data wrapper holds anyway); every
further queued update is charged its estimated size (:func:`snapshot_size`)
to the connection's budget until it is sent.  An update that does not fit
is squashed into the last one queued, as when the queue is full.
"""
from __future__ import annotations

import collections
import logging
from typing import Any, Dict

from ..._bitset import BitSet, _bits_of
from ..._errors import LocalProtocolError
from ..._fastpath import encode_update_body
from ..._messages import ChannelMonitorResponse, Subcommand
from ..._values import DataWithBitSet, Status
from ..common import AuthOperation, error_status, snapshot
from .base import ServedChannel, ServerOp, open_op

__all__ = ["Monitor", "MonitorSender", "on_monitor", "MONITOR_BATCH", "snapshot_size"]

log = logging.getLogger("pva.server")

_OK = Status()
_INIT = int(Subcommand.INIT)
_DESTROY = int(Subcommand.DESTROY)
_PIPELINE = int(Subcommand.PIPELINE)
_PROCESS = int(Subcommand.PROCESS)     # start or stop
_GET = int(Subcommand.GET)             # with PROCESS: start
#: monitor updates that follow each other closer than this are written together
MONITOR_BATCH = 0.001


#: leaves sized without looking further (32 bytes, as any other scalar)
_PLAIN = frozenset({float, int, bool, type(None)})


def snapshot_size(value: Any) -> int:
    """An estimate of the bytes a snapshot (:func:`~pva.server.common.snapshot`)
    holds: its arrays' and strings' own size plus a few dozen bytes per field."""
    t = type(value)
    if t in _PLAIN:
        return 32
    if t is dict:
        size = 64
        for v in value.values():
            size += 64 if type(v) in _PLAIN else 32 + snapshot_size(v)
        return size
    nbytes = getattr(value, "nbytes", None)         # numpy
    if nbytes is not None:
        return 112 + nbytes
    if isinstance(value, (str, bytes)):
        return 49 + len(value)
    if isinstance(value, (list, tuple)):
        return 56 + sum(8 + snapshot_size(v) for v in value)
    return 32


#: the snapshot last sized, its size and the sizes of its members (the same
#: snapshot is posted to every subscriber of a PV; the next one of that PV
#: shares the members its post left alone)
_sized: list = [None, 0, {}]
_NOTHING: dict = {}

#: the update last encoded: (snapshot, changed mask, overrun mask, plans,
#: byte order, body) (the sender of each subscriber asks for it in turn)
_encoded_last: list = [None, 0, 0, None, "", None]

#: the post last expanded: (snapshot, changed BitSet, plans, expanded mask)
#: (a data wrapper posts the same pair to every subscriber of its PV)
_expanded_last: list = [None, None, None, 0]


def _size_of(snap) -> int:
    """:func:`snapshot_size` of ``snap``, sizing again only the top-level
    members that are not those of the snapshot sized last (snapshots are
    never changed once taken: an unchanged member is the same object)."""
    last, size, sizes = _sized
    if last is snap:
        return size
    if type(snap) is not dict:
        _sized[:] = snap, snapshot_size(snap), {}
        return _sized[1]
    new = {}
    size = 64
    get = last.get if type(last) is dict else _NOTHING.get
    for name, v in snap.items():
        n = sizes.get(name) if get(name, _NOTHING) is v else None
        if n is None:
            n = snapshot_size(v)
        new[name] = n
        size += 32 + n
    _sized[:] = snap, size, new
    return size


class Monitor(ServerOp):
    """A monitor: a bounded, squashing queue of updates.

    A queue entry is ``[snapshot, changed mask, overrun mask, bytes charged]``:
    the fields as integer masks (bit ``i`` of the type's BitSet numbering),
    expanded to every member and limited to the fields the monitor selected.
    """

    __slots__ = ("circuit", "queue", "queue_size", "pipeline", "window", "running",
                 "alive", "mask_full")
    COST = 3072

    def __init__(self, circuit, ioid: int, served: ServedChannel, request, desc, mask,
                 queue_size: int, pipeline: bool):
        super().__init__(ioid, served, request, desc, mask)
        self.circuit = circuit
        self.queue: "collections.deque[list]" = collections.deque()
        self.queue_size = queue_size
        self.pipeline = pipeline
        self.window = queue_size
        self.running = False
        self.alive = True
        self.mask_full = _expand(self.plans, mask.to_int())

    def post(self, snap: Dict[str, Any], changed: BitSet) -> None:
        """Queue an update (called by the data wrapper); squash if the queue is full."""
        if not self.alive:
            return
        plans = self.plans
        last = _expanded_last
        if last[0] is snap and last[1] is changed and last[2] is plans:
            full = last[3]              # the same post to another subscriber
        else:
            full = _expand(plans, changed.to_int())
            last[:] = snap, changed, plans, full
        bits = full & self.mask_full
        if not bits:
            return
        q = self.queue
        n = len(q)
        if not n:
            q.append([snap, bits, 0, 0])
        elif n < self.queue_size and self.circuit.conn.charge(_size_of(snap)):
            q.append([snap, bits, 0, _sized[1]])
        else:                           # full, or over budget: squash
            last = q[-1]
            last[2] |= last[1] & bits
            last[1] |= bits
            last[0] = snap
        if self.running and (not self.pipeline or self.window > 0):
            self.circuit.monitors.kick(self)

    @property
    def sendable(self) -> bool:
        return self.alive and self.running and bool(self.queue) and \
            (not self.pipeline or self.window > 0)

    def stop(self):
        super().stop()
        self.alive = False
        charged = sum(entry[3] for entry in self.queue)
        if charged:
            self.circuit.credit(charged)
        self.queue.clear()
        return self._unsubscribe()

    async def _unsubscribe(self) -> None:
        try:
            await self.entry.unsubscribe(None, self)
        except Exception:
            log.exception("%s: unsubscribe of %s failed", self.circuit, self.entry)


def _expand(plans, mask: int) -> int:
    """``mask`` with every member of its structure bits set (bits past the
    type dropped), memoized per type."""
    expands = plans.expands
    out = expands.get(mask)
    if out is None:
        out = expands[mask] = _expanded(plans, mask)
    else:
        expands.move_to_end(mask)
    return out


def _expanded(plans, mask: int) -> int:
    table = plans.expand_masks
    if table is None:
        table = plans.expand_masks = tuple(((1 << span) - 1) << b
                                           for b, span in enumerate(plans.desc.spans))
    out = 0
    n = len(table)
    while mask:
        low = mask & -mask
        b = low.bit_length() - 1
        if b >= n:
            break
        out |= table[b]
        mask ^= low
    return out


def _compact(plans, mask: int) -> int:
    """The minimal mask meaning ``mask`` (``BitSet.compact``), memoized per type
    (every subscriber of a PV sends the same changed fields)."""
    compacts = plans.compacts
    out = compacts.get(mask)
    if out is None:
        out = compacts[mask] = BitSet(_bits_of(mask)).compact(plans.desc).to_int()
    else:
        compacts.move_to_end(mask)
    return out


def _encoded(plans, snap, cmask: int, cover: int, order: str):
    """The body of an update (``encode_monitor_update``), encoded once for every
    subscriber that sends it: the last ones are kept in the type's plans."""
    last = _encoded_last
    if last[0] is snap and last[1] == cmask and last[2] == cover and last[3] is plans \
            and last[4] == order:
        return last[5]                  # the same update to another subscriber
    updates = plans.updates
    key = (id(snap), cmask, cover, order)
    hit = updates.get(key)
    if hit is not None and hit[0] is snap:
        updates.move_to_end(key)
        raw = hit[1]
    else:
        try:
            raw = encode_update_body(plans, snap, cmask, cover, order)
        except LocalProtocolError:
            raw = None          # the circuit's own encoding reports it
        updates[key] = (snap, raw)      # holds snap: the id stays unique meanwhile
    last[:] = snap, cmask, cover, plans, order, raw
    return raw


class MonitorSender:
    """Sends the queued updates of a circuit's monitors (see the module doc)."""

    def __init__(self, circuit):
        self.circuit = circuit
        self.dirty: "collections.OrderedDict[Monitor, None]" = collections.OrderedDict()
        self.scheduled = False
        self.blocked = False              # waits until the connection is writable
        self.closed = False
        self.last_write = -1.0            # reactor time of the last monitor write
        self.batch_timer: Any = None

    def kick(self, mon: Monitor) -> None:
        """``mon`` may have something to send."""
        self.dirty[mon] = None
        # a pending batch write takes the update from the queue when it is due
        if self.scheduled or self.blocked or self.closed or self.batch_timer is not None:
            return
        reactor = self.circuit.reactor
        if reactor.time() - self.last_write < MONITOR_BATCH:
            # a burst: the update waits in its queue for the batch write
            self.batch_timer = reactor.call_later(MONITOR_BATCH, self._batch_flush)
        else:
            self.scheduled = True
            reactor.call_soon(self.run)

    def close(self) -> None:
        self.closed = True
        self.dirty.clear()
        if self.batch_timer is not None:
            self.batch_timer.cancel()
            self.batch_timer = None

    def run(self, due: bool = False) -> None:
        """Send the queued monitor updates (a callback, once per loop iteration;
        ``due``: the pending batch write is due, see the module doc)."""
        self.scheduled = False
        try:
            self._send(due)
        except Exception as ex:  # never let a sender error escape into the loop
            log.exception("%s: monitor sender failed", self.circuit)
            self.circuit.close(f"monitor sender failed: {ex}")

    def _send(self, due: bool) -> None:
        circuit = self.circuit
        conn = circuit.conn
        if self.closed or conn.closing:
            return
        dirty = self.dirty
        # TCP back-pressure: what may still be queued before the high water mark
        room = conn.high_water - conn.write_backlog()
        now = circuit.reactor.time()
        # a burst (updates again within MONITOR_BATCH of the last write):
        # gather this iteration's updates with the next ones for a moment,
        # one write instead of one per update
        burst = not due and now - self.last_write < MONITOR_BATCH
        conn.hold()
        vc = circuit.vc
        order = vc.byte_order
        send = conn.send
        send_update = vc.send_update
        credit = 0                  # what the updates sent were charged: given back at the end
        try:
            while dirty:
                mon, _ = dirty.popitem(last=False)
                q = mon.queue
                if not (mon.alive and mon.running and q and (not mon.pipeline or mon.window > 0)):
                    continue
                snap, bits, overrun, charged = q.popleft()
                credit += charged
                if mon.pipeline:
                    mon.window -= 1
                plans = mon.plans
                cmask = _compact(plans, bits)
                cover = _compact(plans, overrun) if overrun else 0
                raw = _encoded(plans, snap, cmask, cover, order)
                try:
                    if raw is not None:     # encoded once for every subscriber
                        bufs = send_update(mon.ioid, raw)
                        send(bufs)
                        for b in bufs:
                            room -= len(b)
                    else:
                        circuit.send(ChannelMonitorResponse(
                            mon.ioid, _OK, 0, pv_structure_if=plans.desc,
                            pv_data=DataWithBitSet(snap, cmask),
                            overrun_bitset=BitSet(_bits_of(cover)) if cover else None))
                        room = conn.high_water - conn.write_backlog()
                except LocalProtocolError as ex:
                    if mon.alive and circuit.request_alive(mon.ioid):
                        log.warning("%s: monitor update of %s not sent: %s", circuit,
                                    mon.entry.name, ex)
                if q and mon.running and (not mon.pipeline or mon.window > 0):
                    dirty[mon] = None
                if room < 0:
                    # write what we have, go on once drained
                    conn.flush()
                    room = conn.high_water - conn.write_backlog()
                    if room < 0 and not conn.closing:
                        self.blocked = True
                        conn.when_writable(self._writable)
                        return
                if conn.closing:
                    return
            if not burst:
                self.last_write = now
                conn.flush()
            elif self.batch_timer is None:
                self.batch_timer = circuit.reactor.call_later(MONITOR_BATCH, self._batch_flush)
        finally:
            if credit:
                conn.credit(credit)

    def _batch_flush(self) -> None:
        self.batch_timer = None
        if self.closed:
            return
        if self.dirty and not self.blocked:
            self.run(due=True)          # the updates that waited, then the write
        else:
            self.last_write = self.circuit.reactor.time()
            self.circuit.conn.flush()

    def _writable(self) -> None:
        self.blocked = False
        if self.dirty and not self.closed and not self.scheduled:
            self.scheduled = True
            self.circuit.reactor.call_soon(self.run)


async def on_monitor(circuit, msg) -> None:
    ioid = msg.ioid
    sub = msg.subcommand
    if msg.is_init:
        def err(status):
            return ChannelMonitorResponse(ioid, status, _INIT)
        res = await open_op(circuit, msg, AuthOperation.read, err, cost=Monitor.COST)
        if res is None:
            return
        served, request, desc, mask, cost = res
        lim = circuit.limits
        pipeline = bool(sub & _PIPELINE)
        try:
            qsize = msg.nfree if pipeline else request.int_option("queueSize", None)
            qsize = int(qsize) if qsize else lim.default_queue_size
        except Exception:  # a malformed queueSize option: use the default
            qsize = lim.default_queue_size
        qsize = max(1, min(qsize, lim.max_queue_size))
        mon = Monitor(circuit, ioid, served, request, desc, mask, qsize, pipeline)
        try:
            data = await served.entry.subscribe(None, mon)
        except Exception as ex:
            circuit.credit(cost)
            circuit.reply(err(error_status(ex)), err)
            return
        circuit.register(mon, cost)
        circuit.reply(ChannelMonitorResponse(ioid, _OK, _INIT, pv_structure_if=desc), err)
        # the first update is the complete (selected) value
        mon.queue.append([snapshot(desc, data), mon.mask_full, 0, 0])
        return
    mon = circuit.op(ioid)
    if not isinstance(mon, Monitor):
        return
    if sub & _DESTROY:
        await circuit.drop_and_wait(mon)
        return
    if sub & _PIPELINE and msg.nfree is not None:
        mon.window += msg.nfree
    if sub & _PROCESS:
        mon.running = bool(sub & _GET)
    if mon.sendable:
        circuit.monitors.kick(mon)
