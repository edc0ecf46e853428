"""Every cache of the codec and the server, with its owner, bound and eviction.

Theory of operation
-------------------
A :class:`~pva.FieldDesc` is frozen and shared: a type decoded from the wire
is deduplicated by content (:data:`wire_types`), so every request of a type
uses the same object.  What is computed from a type -- the compiled value
codecs, the partial plans, the per-BitSet readers and writers, the server's
snapshot plan and time stamp members, field selections of pvRequests -- is kept in one
:class:`TypePlans` per type, and those live in one place, :data:`type_cache`.
Nothing else attaches state to a ``FieldDesc`` (its own lazily computed
``children``, ``descendants``, ``bit_of`` and ``spans`` are properties of
the type, not caches of other modules).

Every cache is an :class:`LRU`: a bounded mapping that evicts its least
recently used entry when full.  Evicting only costs recomputing the entry on
its next use; whoever holds a plan (an open request) keeps using it.

- :data:`type_cache`: FieldDesc -> :class:`TypePlans`; this module; 4096 types
- ``TypePlans.readers`` / ``writers``: per byte order, BitSet mask -> how
  that mask is read / written (:mod:`pva._partial`); per type; 256 each
- ``TypePlans.expands``: changed bits (mask) -> those bits with every
  member of their structures, as a server's monitor queues them; per type; 256
- ``TypePlans.compacts``: changed bits (mask) -> the compacted mask a
  server's monitor sends; per type; 256
- ``TypePlans.bit_lists``: changed bits (mask) -> the bit numbers of the
  BitSet :func:`~pva.fill_dataclass` returns; per type; 256
- ``TypePlans.updates``: the monitor updates of this type a server encoded
  last, shared by the subscribers that send the same one; per type; 16
- ``TypePlans.request_masks``: id(PVRequest) -> (request, selected fields)
  of a server's operation; per type; 64
- :data:`wire_types`: (byte order, limits, bytes) -> a type description
  decoded from the wire (inline only: no connection's type cache in it);
  this module; 512
- :data:`wire_requests`: (byte order, bytes) -> a decoded pvRequest; this
  module; 512

Beside these, :mod:`pva.server.ops.monitor` remembers one entry each of the
post it expanded last, the update it encoded last and the snapshot it sized
last (with its members' sizes): a post reaches every subscriber of a PV in
turn, so the next subscriber finds it there before looking in the LRUs
above.  Each entry is replaced by the next post (it holds that snapshot until
then).

"""
from __future__ import annotations

import collections
from typing import Any, Callable, Dict, Hashable, Optional

__all__ = ["LRU", "TypePlans", "TypeCache", "type_cache", "wire_types", "wire_requests"]


class LRU(collections.OrderedDict):
    """A mapping of at most ``maxsize`` entries that evicts its least recently
    used entry when one is added to it full.

    A use is a hit of ``get`` followed by ``move_to_end(key)`` (both C
    methods of :class:`collections.OrderedDict`; the hot paths that use these
    tables do both), or storing the entry.
    """

    __slots__ = ("maxsize",)

    def __init__(self, maxsize: int):
        super().__init__()
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.maxsize = maxsize

    def __reduce__(self):
        # OrderedDict's would call LRU() without its maxsize (copy, pickle)
        return type(self), (self.maxsize,), None, None, iter(self.items())

    def __setitem__(self, key: Hashable, value: Any,
                    _set: Callable = collections.OrderedDict.__setitem__) -> None:
        if key in self:
            self.move_to_end(key)       # a new key is added at the end
        _set(self, key, value)
        if len(self) > self.maxsize:
            self.popitem(last=False)

    def lookup(self, key: Hashable, default: Any = None) -> Any:
        """``get`` that counts as a use."""
        value = self.get(key, default)
        if value is not default:
            self.move_to_end(key)
        return value


class TypePlans:
    """What is computed once per type description (see the module doc).

    Attributes hold the plans as they are made (None until first use);
    the per-mask tables are :class:`LRU`\\ s.  Whoever uses a type often
    (an open request) keeps its TypePlans instead of looking it up each
    time; an evicted TypePlans stays valid for its holders.
    """

    __slots__ = ("desc", "decoders", "encoders", "rows", "readers", "writers", "compacts",
                 "updates", "request_masks", "snapshot", "cache_free", "nbits", "expand_masks",
                 "time_stamp", "fill", "post", "bit_lists", "expands")

    def __reduce__(self):
        # a copy (pickle, deepcopy) is the plans of its type in the one owner,
        # type_cache: compiled codecs are not copied
        return _plans_of, (self.desc,)

    def __init__(self, desc: Any):
        self.desc = desc
        #: byte order -> compiled full-value decoder / encoder (pva._values)
        self.decoders: Dict[str, Callable] = {}
        self.encoders: Dict[str, Callable] = {}
        #: (which, order) -> per-bit (parents, name, codec, span) rows (pva._partial)
        self.rows: Dict[Any, tuple] = {}
        #: byte order -> mask -> how a BitSet of that mask is read / written
        #: (pva._partial)
        self.readers = {"<": LRU(256), ">": LRU(256)}
        self.writers = {"<": LRU(256), ">": LRU(256)}
        #: changed bits (mask) -> the compacted mask a monitor sends (server)
        self.compacts = LRU(256)
        #: (id(snapshot), mask, overrun mask, byte order) -> (snapshot, encoded
        #: body): the last updates encoded, for the other subscribers (server)
        self.updates = LRU(16)
        #: per bit: the mask of its field and every member of it
        self.expand_masks: Optional[tuple] = None
        #: changed bits (mask) -> the mask with every member of its structures (server)
        self.expands = LRU(256)
        #: id(PVRequest) -> (request, the compacted selection of its fields) (server)
        self.request_masks = LRU(64)
        #: the member plan of a value snapshot (server)
        self.snapshot: Optional[tuple] = None
        #: values never use a connection's type cache (no variant union inside)
        self.cache_free: Optional[bool] = None
        self.nbits = desc.num_bits
        #: (the time_t-like ``timeStamp`` member or None, the bits of
        #: ``timeStamp`` and its members) (server)
        self.time_stamp: Optional[tuple] = None
        #: how a nested dict of changes is set on a value of the type (pva._dataclass)
        self.fill: Optional[tuple] = None
        #: what a post of a value of the type needs (server)
        self.post: Optional[tuple] = None
        #: changed bits (mask) -> its bit numbers (a tuple): the BitSets of
        #: changes set on values of the type (pva._dataclass)
        self.bit_lists = LRU(256)


class TypeCache:
    """The owner of every :class:`TypePlans` (one per type; LRU, ``maxsize`` types)."""

    def __init__(self, maxsize: int = 4096):
        self.maxsize = maxsize
        self._plans: "collections.OrderedDict[Any, TypePlans]" = collections.OrderedDict()
        self._get = self._plans.get
        self._touch = self._plans.move_to_end

    def plans(self, desc: Any) -> TypePlans:
        """The plans of ``desc`` (made on first use; it becomes the most
        recently used)."""
        plans = self._get(desc)
        if plans is None:
            plans = self._plans[desc] = TypePlans(desc)
            if len(self._plans) > self.maxsize:
                self._plans.popitem(last=False)
            return plans
        self._touch(desc)
        return plans

    def __len__(self) -> int:
        return len(self._plans)

    def clear(self) -> None:
        self._plans.clear()


#: the one owner of per-type plans
type_cache = TypeCache()
#: type descriptions decoded from the wire, by content (only inline ones, which
#: do not depend on a connection's type cache)
wire_types = LRU(512)
#: pvRequests decoded from INIT messages, by content
wire_requests = LRU(512)


def _plans_of(desc: Any) -> TypePlans:
    return type_cache.plans(desc)
