"""The server's hot-path encoders: replies and monitor updates without
message objects (sans-I/O).

Each produces exactly the bytes the message classes of :mod:`pva._messages`
produce for the same message (the tests compare them byte for byte); they
only skip building the objects:

- :func:`encode_reply_ok`: a successful GET / PUT / PROCESS reply
  (:meth:`pva.ServerVirtualCircuit.reply_ok` checks the state and calls it);
- :func:`encode_monitor_update`: the body of a monitor update, encoded once
  and sent by every connection subscribed to the PV;
- :func:`encode_monitor_raw`: a monitor update around such a body
  (:meth:`pva.ServerVirtualCircuit.send_update`).
"""
from __future__ import annotations

import struct
from typing import Any, List, Optional

from ._bitset import BitSet, encode_bitset
from ._errors import LocalProtocolError
from ._framing import frame
from ._header import MAGIC, PROTOCOL_VERSION, ApplicationCommand, Direction
from ._introspection import FieldDesc, FieldType
from ._messages import OK_BYTE, MessageContext, Subcommand, write_type
from ._partial import write_bits
from ._typecache import type_cache
from ._values import DataWithBitSet
from ._wire import Writer

__all__ = ["encode_reply_ok", "encode_monitor_update", "encode_update_body",
           "encode_monitor_raw"]

_IB = {o: struct.Struct(o + "IB") for o in "<>"}     # ioid, subcommand
#: header of a monitor update + its request id and subcommand
_MONITOR_HEAD = {o: struct.Struct(o + "BBBBIIB") for o in "<>"}
_SERVER_FLAGS = {o: (0x40 | (0x80 if o == ">" else 0)) for o in "<>"}
_MONITOR = int(ApplicationCommand.MONITOR)
_INIT = int(Subcommand.INIT)
_STATELESS_CTX = MessageContext(send_cache=False)


def encode_reply_ok(command: int, ioid: int, subcommand: int, byte_order: str,
                    ctx: MessageContext, desc: Optional[FieldDesc] = None,
                    data: Optional[DataWithBitSet] = None,
                    max_segment_size: Optional[int] = None, plans: Any = None) -> list:
    """A successful GET / PUT / PROCESS reply.

    The same bytes as encoding :class:`~pva.ChannelGetResponse` (or the PUT
    or PROCESS response) with an OK status: an INIT reply announces ``desc``
    (PROCESS: nothing); an execution reply carries ``data`` of type ``desc``
    (no data: a PUT or PROCESS reply).  ``plans``: ``desc``'s TypePlans if the
    caller holds them.
    """
    w = Writer(byte_order)
    w.buf += _IB[byte_order].pack(ioid, subcommand)
    w.buf.append(OK_BYTE)
    if subcommand & _INIT:
        if command != ApplicationCommand.PROCESS:
            write_type(w, desc, ctx)
    elif data is not None:
        if desc is None:
            raise LocalProtocolError(f"no type given for the data of request {ioid}")
        write_bits(w, type_cache.plans(desc) if plans is None else plans, data.data,
                   data.bitset, ctx.ectx)
    return frame(command, Direction.SERVER, byte_order,
                 w.buffers() if w.chunks else w.buf, max_segment_size)


def _cache_free(plans) -> bool:
    """True if values of the type never use the connection's type cache (no
    variant union anywhere in it: only those carry a type with the value)."""
    free = plans.cache_free
    if free is None:
        desc = plans.desc
        free = plans.cache_free = desc.field_type != FieldType.any and all(
            _cache_free(type_cache.plans(d)) for _, d in desc.fields)
    return free


def encode_monitor_update(desc: FieldDesc, data: DataWithBitSet,
                          overrun: Optional[BitSet], order: str,
                          plans: Any = None) -> Optional[tuple]:
    """The body of a monitor update (after request id and subcommand) that
    any connection can send as the ``raw`` of a :class:`~pva.ChannelMonitorResponse`.

    A server with many subscribers to one PV encodes each update once.
    ``None`` when the type holds a variant union: its values may use the
    connection's type cache, so they are encoded per connection.  ``plans``:
    ``desc``'s TypePlans if the caller holds them.
    """
    return encode_update_body(type_cache.plans(desc) if plans is None else plans, data.data,
                              data.bitset, overrun, order)


def encode_update_body(plans: Any, value: Any, bits: Any, overrun: Any,
                       order: str) -> Optional[tuple]:
    """:func:`encode_monitor_update` of ``value``'s fields ``bits`` (a BitSet or
    a mask) with the type's ``plans``."""
    free = plans.cache_free
    if not (free or free is None and _cache_free(plans)):
        return None
    w = Writer(order)
    write_bits(w, plans, value, bits, _STATELESS_CTX.ectx)
    if not overrun:
        w.buf.append(0)
    else:
        w.buf += encode_bitset(overrun.to_int() if isinstance(overrun, BitSet) else int(overrun),
                               order)
    return (w.buf,) if not w.chunks else tuple(w.buffers())


def encode_monitor_raw(ioid: int, raw: tuple, byte_order: str,
                       max_segment_size: Optional[int] = None) -> List:
    """A monitor update (subcommand 0) whose body came from
    :func:`encode_monitor_update`: the bytes of a ``ChannelMonitorResponse``
    with that ``raw``."""
    if max_segment_size is None:
        # one header with the request id and subcommand, then the shared body
        size = 5
        for b in raw:
            size += len(b)
        return [_MONITOR_HEAD[byte_order].pack(MAGIC, PROTOCOL_VERSION,
                                                _SERVER_FLAGS[byte_order], _MONITOR, size,
                                                ioid, 0), *raw]
    w = Writer(byte_order)
    w.buf += _IB[byte_order].pack(ioid, 0)
    for b in raw:
        w.add_buffer(b)
    return frame(ApplicationCommand.MONITOR, Direction.SERVER, byte_order, w.buffers(),
                 max_segment_size)
