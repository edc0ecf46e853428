"""What the server's operations share: the operation object, the checks of
an INIT, the field selection of a pvRequest, running a handler detached."""
from __future__ import annotations

import inspect
import logging
from typing import Any, Callable, Optional, Set

from ..._bitset import BitSet
from ..._errors import ProtocolError
from ..._typecodec import NODE_BYTES
from ..._pvrequest import PVRequest
from ..._typecache import type_cache
from ..common import AuthOperation, DataWrapperBase, error_status

__all__ = ["ServerOp", "ServedChannel", "open_op", "open_request", "request_mask",
           "error_reply", "execute_open", "blocking", "detach", "maybe_await"]

log = logging.getLogger("pva.server")


class ServedChannel:
    """A created channel of a circuit: the PV's data wrapper and the
    operations open on it (the ``data`` of its :class:`~pva.ServerChannel`)."""

    __slots__ = ("entry", "ops")

    def __init__(self, entry: DataWrapperBase):
        self.entry = entry
        self.ops: Set["ServerOp"] = set()


class ServerOp:
    """Server state of one request (the ``data`` of its :class:`~pva.Request`).

    ``COST`` is what it is charged to its connection's memory budget while
    it lives (its objects on both layers and its pvRequest, measured with
    tracemalloc, rounded up).
    """

    __slots__ = ("ioid", "served", "entry", "request", "desc", "plans", "mask", "task",
                 "cost")
    COST = 1536

    def __init__(self, ioid: int, served: ServedChannel, request: PVRequest, desc, mask):
        self.ioid = ioid
        self.served = served
        self.entry = served.entry
        self.request = request
        self.desc = desc
        self.plans = type_cache.plans(desc)     # held while the request lives
        self.mask = mask          # BitSet to send (compacted)
        self.task: Any = None
        self.cost = 0             # bytes charged for it (given back when it is dropped)

    def stop(self):
        """The request is gone: stop what runs for it (None, or a coroutine to
        await for the rest of the clean-up)."""
        task = self.task
        if task is not None and not task.done():
            task.cancel()
        return None


async def maybe_await(value: Any) -> Any:
    if inspect.isawaitable(value):
        return await value
    return value


async def open_op(circuit, msg, operation: AuthOperation, error_reply,
                  select: Optional[Callable] = None, cost: int = ServerOp.COST):
    """The checks of an INIT; returns ``(served, request, desc, mask, cost)``
    or None (refused: the error reply was sent).

    ``select(request, desc)``, if given, replaces the field selection; its
    result is returned in place of the mask.  ``cost`` bytes and the
    pvRequest's (:data:`~pva._typecodec.NODE_BYTES` per field named and
    option, :attr:`PVRequest.nodes <pva.PVRequest.nodes>`) are charged to
    the connection's memory budget (refused past it); the total is returned:
    the caller registers the operation with it (credited when it is dropped)
    or credits it."""
    served = circuit.served(msg.server_chid)
    charged = False
    try:
        if served is None:
            raise LookupError(f"unknown channel {msg.server_chid}")
        if circuit.nops >= circuit.limits.max_operations:
            raise RuntimeError(f"too many operations on this connection "
                               f"(limit {circuit.limits.max_operations})")
        request = msg.request
        cost += request.nodes * NODE_BYTES
        conn = circuit.conn             # circuit.charge(), written out: once per INIT
        if not conn.accounting.charge(conn, cost):
            raise circuit.over_budget("operation")
        charged = True
        entry = served.entry
        await entry.authorize(operation, authorization=dict(circuit.authorization),
                              request=request)
        desc = entry.structure
        mask = (select or request_mask)(request, desc)
    except Exception as ex:
        if charged:
            circuit.credit(cost)
        circuit.reply(error_reply(error_status(ex)), error_reply)
        return None
    return served, request, desc, mask, cost


async def open_request(circuit, msg, operation: AuthOperation,
                       error_reply) -> Optional[ServerOp]:
    """The INIT of a GET, PUT, PUT_GET, PROCESS or RPC: the checks of
    :func:`open_op`, then the operation registered (None: refused, the error
    reply sent)."""
    res = await open_op(circuit, msg, operation, error_reply)
    if res is None:
        return None
    served, request, desc, mask, cost = res
    op = ServerOp(msg.ioid, served, request, desc, mask)
    circuit.register(op, cost)
    return op


def request_mask(request: PVRequest, desc) -> BitSet:
    """The fields a pvRequest selects, compacted (bit 0 alone = everything).

    Memoized per type (:mod:`pva._typecache`), by the request object: the
    codec hands out one PVRequest object per distinct request content
    (``wire_requests``), so a client repeating the same request hits the
    cache.  An entry holds its request, so its id stays unique while cached.
    The result is only read.
    """
    masks = type_cache.plans(desc).request_masks
    hit = masks.lookup(id(request))
    if hit is not None and hit[0] is request:
        return hit[1]
    mask = _compute_request_mask(request, desc)
    masks[id(request)] = (request, mask)
    return mask


def _compute_request_mask(request: PVRequest, desc) -> BitSet:
    bits = request.to_bitset(desc)
    if len(bits) >= desc.num_bits:
        return BitSet({0})
    spans = desc.spans
    # a structure named only as the parent of a selected member (the
    # ``alarm`` of ``field(alarm.severity)``) is not selected as a whole
    own = BitSet(b for b in bits
                 if not any(c in bits for c in range(b + 1, b + spans[b])))
    return own.expand(desc).compact(desc)


def error_reply(msg, response_cls) -> Callable:
    """``err(status)``: the error reply of ``msg``'s kind (same request id and subcommand)."""
    ioid, sub = msg.ioid, msg.subcommand
    return lambda status: response_cls(ioid, status, sub)


def execute_open(circuit, msg, execute, *args) -> None:
    """An execution of an open request: start ``execute(circuit, op, *args)``
    (nothing if the request is gone meanwhile)."""
    op = circuit.op(msg.ioid)
    if op is not None:
        circuit.start(op, execute(circuit, op, *args))


def blocking(request: PVRequest) -> bool:
    """``record[block=...]`` (default true: reply once the handler finished)."""
    try:
        return request.bool_option("block", True)
    except ProtocolError:   # a malformed option: the safe default
        return True


def detach(circuit, entry: DataWrapperBase, what: str, coro) -> None:
    """Run a handler without waiting for it (``block=false``); errors are logged."""
    async def run():
        try:
            await coro
        except Exception:
            log.warning("%s: non-blocking %s of %s failed", circuit, what, entry.name,
                        exc_info=True)
    circuit.core.detach(run())
