"""Server-side data model: :class:`DataWrapperBase` and the authorization hooks.

A server's database (``pvdb``) maps PV names to *data wrappers*.  A wrapper
holds a :func:`~pva.pva_dataclass` instance and answers the operations the
server forwards to it (all ``async``)::

    authorize(operation, authorization=..., request=...)   raise to refuse
    read(request)         -> the value to send (a pva dataclass instance)
    write(update)         a DataWithBitSet with the changed fields (nested dict)
    call(request, data)   -> the RPC result (pva dataclass instance)
    process(request)      PROCESS: refresh the time stamp, re-post the value

and it publishes changes to the monitors subscribed to it with
:meth:`DataWrapperBase.commit` (a nested dict of changes) or
:meth:`DataWrapperBase.post` (bits of fields already changed in place).
Any exception raised by these methods becomes an error ``Status`` sent to
the client of that request; the server and the circuit go on.

The other operations are built on these: PUT_GET is a ``write`` then a
``read``, an ARRAY get reads the value and slices the selected array field,
an ARRAY put or set-length calls ``write`` with the whole new array (so putters,
read-only PVs and ``authorize`` apply to it as to any put).

Plain pva dataclass instances in a ``pvdb`` are wrapped in
:class:`DataWrapperBase` by the server (see :func:`wrap_pvdb`).
"""
from __future__ import annotations

import enum
import logging
import time
from collections.abc import Mapping as _Mapping
from typing import Any, Dict, Mapping, Optional

from .._bitset import BitSet, _bits_of, _trusted
from .._dataclass import (convert_arrays, dataclass_from_field_desc, fill_bits,
                          fill_dataclass, fill_mask, from_value, get_pv_structure,
                          is_pva_dataclass_instance, pva_dataclass)
from .._introspection import FieldDesc, FieldType
from .._pvrequest import PVRequest
from .._typecache import type_cache
from .._values import DataWithBitSet, FieldDescAndData, Status

__all__ = ["AuthOperation", "AuthenticationError", "DatabaseDefinitionError",
           "DataWrapperBase", "ServerStatus", "snapshot", "wrap_pvdb", "value_instance",
           "error_status", "log_handler_error", "timestamp_changes"]

log = logging.getLogger("pva.server")


class AuthenticationError(RuntimeError):
    """Raised by an ``authorize`` hook to refuse an operation or connection."""


class DatabaseDefinitionError(RuntimeError):
    """A PV database that cannot be served (e.g. a name defined twice)."""


class AuthOperation(enum.Enum):
    """Operations which allow for granular authorization on a per-PV basis.

    ``read``: GET, MONITOR, ARRAY (at INIT); ``write``: PUT, PUT_GET, PROCESS,
    and each ARRAY put or set-length; ``call``: RPC; ``read_interface``: GET_FIELD.
    """

    read = enum.auto()
    read_interface = enum.auto()
    write = enum.auto()
    call = enum.auto()


@pva_dataclass
class ServerStatus:
    running: bool = True
    version: str = "pva"


def error_status(ex: BaseException) -> Status:
    """The error :class:`~pva.Status` a client receives for a handler's exception."""
    text = str(ex)
    return Status.create_error(f"{type(ex).__name__}: {text}" if text else type(ex).__name__)


def log_handler_error(circuit: Any, what: str, name: str, ex: BaseException) -> None:
    """Log the exception a handler raised for ``what`` (``"put"``, ...) on PV ``name``.

    A refusal the server API defines (:class:`AuthenticationError`,
    ``NotImplementedError``) is logged at DEBUG level; anything else at
    WARNING with its traceback, so a failing putter or getter shows on the
    server and not only in the client's error message.
    """
    if isinstance(ex, (AuthenticationError, NotImplementedError)):
        log.debug("%s: %s of %s refused: %s", circuit, what, name, ex)
    else:
        log.warning("%s: %s of %s failed: %s", circuit, what, name, error_status(ex).message,
                    exc_info=ex)


def _time_stamp_plan(desc: FieldDesc) -> tuple:
    """``(timeStamp member or None, bits of timeStamp and its members)``:
    the member only if it is ``time_t``-like (kept in the type's plans,
    :mod:`pva._typecache`)."""
    plans = type_cache.plans(desc)
    plan = plans.time_stamp
    if plan is None:
        ts = desc.children.get("timeStamp") if desc.field_type == FieldType.struct else None
        if ts is None or ts.field_type != FieldType.struct or ts.is_array or \
                not {"secondsPastEpoch", "nanoseconds"} <= set(ts.children):
            ts = None
        bits = frozenset(bit for path, bit in desc.bit_of.items()
                         if path == "timeStamp" or path.startswith("timeStamp."))
        plan = plans.time_stamp = (ts, bits)
    return plan


def _time_stamp_of(desc: FieldDesc) -> Optional[FieldDesc]:
    """The ``timeStamp`` member of ``desc`` if it is ``time_t``-like, else None."""
    return _time_stamp_plan(desc)[0]


def timestamp_changes(desc: FieldDesc, when: Optional[float] = None) -> Dict[str, Any]:
    """``{'timeStamp': {...}}`` set to ``when`` (default now) if ``desc`` has a
    ``time_t``-like ``timeStamp`` field, else ``{}``."""
    if _time_stamp_of(desc) is None:
        return {}
    now = time.time() if when is None else when
    sec = int(now // 1)
    return {"timeStamp": {"secondsPastEpoch": sec,
                          "nanoseconds": min(int((now - sec) * 1e9), 999999999)}}


def _unset_time_stamp(data: Any) -> bool:
    ts = getattr(data, "timeStamp", None)
    if isinstance(ts, dict):
        return not ts.get("secondsPastEpoch") and not ts.get("nanoseconds")
    return not getattr(ts, "secondsPastEpoch", 1) and not getattr(ts, "nanoseconds", 1)


def snapshot(desc: FieldDesc, obj: Any) -> Dict[str, Any]:
    """A nested dict of ``obj``'s current field values (leaves by reference).

    Taken when a change is posted, so a monitor queue holds the value as it
    was then even if the dataclass is updated again before it is sent.
    Leaf values (numbers, strings, numpy arrays, lists) are not copied: the
    server's own updates replace them rather than mutate them.
    """
    return _snapshot(_snapshot_plan(desc), obj)


def _snapshot(plan: tuple, obj: Any) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    if type(obj) is dict or (not hasattr(obj, "__dataclass_fields__")
                             and isinstance(obj, _Mapping)):
        get = obj.get
        for name, sub in plan:
            v = get(name)
            out[name] = v if sub is None or v is None else _snapshot(sub, v)
    else:
        for name, sub in plan:
            v = getattr(obj, name, None)
            out[name] = v if sub is None or v is None else _snapshot(sub, v)
    return out


def _snapshot_plan(desc: FieldDesc) -> tuple:
    """``(name, the member's own plan if it is a structure, else None)`` per
    member (kept in the type's plans, :mod:`pva._typecache`)."""
    plans = type_cache.plans(desc)
    plan = plans.snapshot
    if plan is None:
        plan = plans.snapshot = tuple(
            (name, _snapshot_plan(child) if child.field_type == FieldType.struct
             and not child.is_array else None) for name, child in desc.fields)
    return plan


def _post_plan(plans: Any) -> tuple:
    """``(time_t-like timeStamp member or None, mask of timeStamp and its
    members, snapshot plan, per bit: (name, member plan, the bit past the
    member) of the top-level member holding it (None for bit 0))`` (kept in
    the type's plans, :mod:`pva._typecache`)."""
    plan = plans.post
    if plan is None:
        desc = plans.desc
        ts, ts_bits = _time_stamp_plan(desc)
        snap_plan = _snapshot_plan(desc)
        spans, bit_of = desc.spans, desc.bit_of
        members: list = [None] * len(spans)
        for name, sub in snap_plan:
            b = bit_of[name]
            entry = (name, sub, b + spans[b])
            members[b:b + spans[b]] = [entry] * spans[b]
        plan = plans.post = (ts, sum(1 << b for b in ts_bits), snap_plan, tuple(members))
    return plan


def _snapshot_after(plan: tuple, members: tuple, obj: Any, prev: Optional[dict],
                    mask: int) -> Dict[str, Any]:
    """:func:`snapshot` of ``obj`` after the change of the fields in ``mask``
    since the snapshot ``prev`` (None: unknown): the top-level members
    ``mask`` leaves alone are shared with ``prev`` (snapshots are never
    changed once taken), the others are taken anew."""
    if prev is None or mask & 1:
        return _snapshot(plan, obj)
    snap = prev.copy()
    n = len(members)
    mapping = type(obj) is dict or (not hasattr(obj, "__dataclass_fields__")
                                    and isinstance(obj, _Mapping))
    while mask:
        b = (mask & -mask).bit_length() - 1
        if b >= n:
            break
        name, sub, end = members[b]
        v = obj.get(name) if mapping else getattr(obj, name, None)
        snap[name] = v if sub is None or v is None else _snapshot(sub, v)
        mask = mask >> end << end
    return snap


def _time_stamp_bits(desc: FieldDesc) -> frozenset:
    """Bit numbers of ``timeStamp`` and its members."""
    return _time_stamp_plan(desc)[1]


def value_instance(value: Any, desc: Optional[FieldDesc] = None) -> Any:
    """A pva dataclass instance from an instance, or from ``desc`` + a dict."""
    if is_pva_dataclass_instance(value):
        return value
    if desc is None:
        raise TypeError(f"{value!r} is not a pva dataclass instance (give its FieldDesc)")
    return from_value(dataclass_from_field_desc(desc), value)


class DataWrapperBase:
    """A base class to wrap dataclasses and support the server API.

    Parameters
    ----------
    name : str
        The associated name of the data.
    data : pva dataclass instance
        The dataclass holding the data.  Lists in its numeric and boolean
        array fields are converted to numpy arrays here, and so are those
        of every later :meth:`commit`, so that reads send them as they are.
    """

    #: the object of ``data`` the last post was of, its type's plans, and the
    #: snapshot that post took (see :meth:`post`)
    _posted: Any = None
    _post_plans: Any = None
    _last_snap: Optional[Dict[str, Any]] = None

    def __init__(self, name: str, data: Any):
        self.name = name
        self.data = convert_arrays(data)    # lists to numpy arrays, once
        self._subscribers: set = set()
        if _time_stamp_of(self.structure) is not None and _unset_time_stamp(data):
            fill_dataclass(data, timestamp_changes(self.structure))   # served from now on

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}>"

    @property
    def structure(self) -> FieldDesc:
        """The type of the data (the full type every client sees)."""
        return get_pv_structure(self.data)

    async def authorize(self, operation: AuthOperation, *, authorization: dict,
                        request: Optional[PVRequest] = None) -> Any:
        """Authorize ``operation``; raise (e.g. :class:`AuthenticationError`) to refuse.

        ``authorization`` is the circuit's: ``{'method': 'ca' | 'anonymous',
        'user': str, 'host': str, 'peer': (host, port), 'data': ...}``.
        Returns the data (caproto.pva convention).
        """
        return self.data

    async def read(self, request: PVRequest) -> Any:
        """A bare ``read`` (``get``) implementation."""
        return self.data

    async def write(self, update: DataWithBitSet) -> None:
        """A bare ``write`` (``put``) implementation."""
        await self.commit(update.data)

    async def call(self, request: PVRequest, data: FieldDescAndData) -> Any:
        """A bare ``call`` (RPC) implementation: this PV does not support RPC."""
        raise NotImplementedError(f"{self.name} does not support RPC")

    async def process(self, request: PVRequest) -> None:
        """PROCESS: refresh ``timeStamp`` (if any) and re-post the value to monitors.

        Monitors receive ``value`` and ``timeStamp`` (the whole structure if
        it has neither).  Override to run a PV's own processing.
        """
        desc = self.structure
        stamp = timestamp_changes(desc)
        bits = fill_dataclass(self.data, stamp) if stamp else BitSet()
        if "value" in desc.children:
            bits.add(desc.bit_of["value"])
        self.post(bits or BitSet({0}))

    async def subscribe(self, queue: Any, sub: Any) -> Any:
        """Add a subscription (``sub.post(snapshot, changed_bits)`` receives updates)."""
        self._subscribers.add(sub)
        self._last_snap = None      # the next post snapshots the value whole
        return self.data

    async def unsubscribe(self, queue: Any, sub: Any) -> None:
        """Remove a subscription."""
        subs = self._subscribers
        subs.discard(sub)
        if not subs:
            self._subscribers = set()   # a set keeps its table: give back a flood's

    async def commit(self, changes: dict) -> None:
        """Apply a nested dict of ``changes`` to the data and publish them.

        Changes that do not set ``timeStamp`` (of a structure that has a
        ``time_t`` one) are stamped with the current time (see :meth:`post`).
        """
        self.post(fill_bits(self._plans_now(), self.data, changes))

    def _plans_now(self) -> Any:
        """The TypePlans of ``self.data``'s type (held until ``data`` is replaced)."""
        data = self.data
        if data is not self._posted:        # a new object: snapshot it whole
            self._post_plans = type_cache.plans(self.structure)
            self._posted = data
            self._last_snap = None
        return self._post_plans

    def post(self, changed_bitset: BitSet) -> None:
        """Publish fields of ``self.data`` already changed in place.

        If the changed fields leave out a ``time_t`` ``timeStamp``, it is set
        to the current time and published with them, as p4p's
        ``SharedPV.post`` of a normative type and a processed IOC record do.

        Subscribers receive a snapshot of the value as of this post.  Its
        members that ``changed_bitset`` leaves alone are those of the
        previous post's snapshot, so every change of ``self.data`` is to be
        posted (:meth:`commit` does that); a new ``self.data`` object is
        snapshot whole.
        """
        if not changed_bitset:
            return
        data = self.data
        plans = self._post_plans if data is self._posted else self._plans_now()
        ts, ts_mask, snap_plan, members = plans.post or _post_plan(plans)
        mask = (changed_bitset if type(changed_bitset) is BitSet
                else BitSet(changed_bitset)).to_int()
        if ts is not None and not mask & ts_mask and not mask & 1:
            mask |= fill_mask(data, timestamp_changes(plans.desc))
            changed_bitset = _trusted(_bits_of(mask))
        if not self._subscribers:
            self._last_snap = None          # the next post takes a whole snapshot
            return
        snap = self._last_snap = _snapshot_after(snap_plan, members, data, self._last_snap,
                                                 mask)
        for sub in list(self._subscribers):
            sub.post(snap, changed_bitset)


def wrap_pvdb(pvdb: Mapping[str, Any]) -> Dict[str, DataWrapperBase]:
    """Wrap plain pva dataclass values of ``pvdb`` in :class:`DataWrapperBase`."""
    out: Dict[str, DataWrapperBase] = {}
    for name, value in pvdb.items():
        if isinstance(value, DataWrapperBase):
            out[name] = value
        elif is_pva_dataclass_instance(value):
            out[name] = DataWrapperBase(name, value)
        else:
            raise DatabaseDefinitionError(
                f"{name}: {type(value).__name__} is neither a DataWrapperBase nor a "
                "pva dataclass instance")
    return out
