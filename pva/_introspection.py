"""Type descriptions (introspection data) and the per-connection type cache.

Theory of operation
-------------------
A :class:`FieldDesc` is an immutable, hashable description of one pvData type:
a scalar, a scalar array (variable, bounded or fixed), a bounded string, a
structure (with its type id and ordered members), a union, a variant union
(``any``), or an array of structures/unions/variants.  Member *names* belong
to the parent (``FieldDesc.fields`` is a tuple of ``(name, FieldDesc)``), so
one description can be shared, hashed once, and used as the key under which
encoders and decoders are compiled (see :mod:`pva._values`).

On the wire a description starts with one type-code byte: bits 7-5 the kind,
bits 4-3 the array flavour, bits 2-0 kind specific.  :class:`FieldType` holds
the scalar codes exactly as pvxs spells them (``int32 = 0x22``,
``float64 = 0x43``, ``string = 0x60``, ``struct = 0x80`` ...) and
``FieldArrayType`` the array flavour, so ``code = field_type | array_type << 3``.

Their encoding and decoding, and the per-connection type cache, are in
:mod:`pva._typecodec`.  Type descriptions may be cached per connection and
direction (``IntrospectionCache``): ``0xFD id desc`` defines id and uses it,
``0xFE id`` reuses a definition, ``0xFF`` is "no type".  The id is a 16-bit
integer in the message byte order.  pvxs itself never sends cache references
but accepts them at any nesting level; so does this decoder.  When given a
cache, our encoder defines and reuses ids for every structure and union.

pvxs refuses bounded strings and fixed/bounded arrays; they are supported here
because the specification defines them, but should not be sent to pvxs peers.
"""
from __future__ import annotations

import dataclasses
import enum
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Mapping, Optional, Tuple, Union

from ._wire import Deserialized, deserialized

if TYPE_CHECKING:
    from ._typecodec import IntrospectionCache

__all__ = [
    "FieldType",
    "FieldArrayType",
    "TypeCode",
    "FieldDesc",
    "NAME_BYTES_PER_NODE",
]


class FieldType(enum.IntEnum):
    """Scalar type codes (bits 7-5 kind, bits 2-0 kind-specific)."""

    boolean = 0x00
    int8 = 0x20
    int16 = 0x21
    int32 = 0x22
    int64 = 0x23
    uint8 = 0x24
    uint16 = 0x25
    uint32 = 0x26
    uint64 = 0x27
    float32 = 0x42
    float64 = 0x43
    string = 0x60
    struct = 0x80
    union = 0x81
    any = 0x82
    bounded_string = 0x86

    @property
    def is_complex(self) -> bool:
        """Is this a structure, union or variant union?"""
        return self in (FieldType.struct, FieldType.union, FieldType.any)

    @property
    def is_integral(self) -> bool:
        """Is this a signed or unsigned integer type?"""
        return 0x20 <= self <= 0x27

    @property
    def is_floating(self) -> bool:
        """Is this a floating-point type?"""
        return self in (FieldType.float32, FieldType.float64)

    @property
    def is_numeric(self) -> bool:
        """Is this an integer or floating-point type?"""
        return self.is_integral or self.is_floating

    @property
    def is_string(self) -> bool:
        """Is this a (bounded) string?"""
        return self in (FieldType.string, FieldType.bounded_string)

    @property
    def struct_char(self) -> str:
        """:mod:`struct` / numpy format character of a boolean or numeric type."""
        return _STRUCT_CHARS[self]


_STRUCT_CHARS = {
    FieldType.boolean: "?",
    FieldType.int8: "b",
    FieldType.int16: "h",
    FieldType.int32: "i",
    FieldType.int64: "q",
    FieldType.uint8: "B",
    FieldType.uint16: "H",
    FieldType.uint32: "I",
    FieldType.uint64: "Q",
    FieldType.float32: "f",
    FieldType.float64: "d",
}

_TYPE_NAMES = {
    FieldType.boolean: "bool",
    FieldType.int8: "int8_t",
    FieldType.int16: "int16_t",
    FieldType.int32: "int32_t",
    FieldType.int64: "int64_t",
    FieldType.uint8: "uint8_t",
    FieldType.uint16: "uint16_t",
    FieldType.uint32: "uint32_t",
    FieldType.uint64: "uint64_t",
    FieldType.float32: "float",
    FieldType.float64: "double",
    FieldType.string: "string",
    FieldType.bounded_string: "string",
    FieldType.struct: "struct",
    FieldType.union: "union",
    FieldType.any: "any",
}


class FieldArrayType(enum.IntEnum):
    """Array flavour of a field (bits 4-3 of the type code)."""

    scalar = 0
    variable_array = 1
    bounded_array = 2
    fixed_array = 3

    @property
    def has_field_desc_size(self) -> bool:
        """Fixed and bounded arrays carry their size in the type description."""
        return self in (FieldArrayType.bounded_array, FieldArrayType.fixed_array)

    @property
    def has_serialization_size(self) -> bool:
        """Variable and bounded arrays carry their length with the value."""
        return self in (FieldArrayType.variable_array, FieldArrayType.bounded_array)


class TypeCode(enum.IntEnum):
    """Introspection-cache control codes."""

    NULL_TYPE_CODE = 0xFF
    ONLY_ID_TYPE_CODE = 0xFE
    FULL_WITH_ID_TYPE_CODE = 0xFD
    FULL_TAGGED_ID_TYPE_CODE = 0xFC


_VALID_CODES = frozenset(list(range(0x20, 0x28)) + [0x00, 0x42, 0x43, 0x60])

#: a member name or type id adds one node per this many bytes to a type's size
NAME_BYTES_PER_NODE = 32

Members = Union[Mapping[str, "FieldDesc"], Iterable[Tuple[str, "FieldDesc"]]]


def _same_desc(a: "FieldDesc", b: "FieldDesc") -> bool:
    """Structural equality of two descriptions, each pair of nodes compared once.

    Decoded descriptions share members (a cached type referred to many
    times is one object), so a member-by-member comparison of two such
    trees would walk their full expansion; pairs already compared are
    skipped instead, which bounds the work by the distinct nodes.
    """
    seen = set()
    stack = [(a, b)]
    while stack:
        x, y = stack.pop()
        if x is y:
            continue
        key = (id(x), id(y))
        if key in seen:
            continue
        seen.add(key)
        if (x._hash != y._hash or x.field_type != y.field_type or x.array_type != y.array_type
                or x.size != y.size or x.type_id != y.type_id or len(x.fields) != len(y.fields)):
            return False
        for (n1, d1), (n2, d2) in zip(x.fields, y.fields):
            if n1 != n2:
                return False
            stack.append((d1, d2))
    return True


@dataclasses.dataclass(frozen=True)
class FieldDesc:
    """Immutable description of a pvData type.

    Parameters
    ----------
    field_type : FieldType
        The scalar kind (for arrays, the element kind).
    array_type : FieldArrayType, optional
        Scalar or array flavour.
    size : int, optional
        Bound of a bounded array / bounded string, length of a fixed array.
    type_id : str, optional
        Structure or union type id, e.g. ``'epics:nt/NTScalar:1.0'``.
    fields : tuple of (str, FieldDesc), optional
        Members of a structure or union (of the element, for arrays).
    name : str, optional
        caproto.pva's member name: accepted and ignored (see ``fields``).

    Notes
    -----
    Use the constructors :meth:`scalar`, :meth:`array`, :meth:`struct`,
    :meth:`union`, :meth:`variant` for readability.  Bit numbering for partial
    updates (depth first, bit 0 = the whole structure) is given by
    :attr:`descendants` and :attr:`bit_of`.
    """

    field_type: FieldType
    array_type: FieldArrayType = FieldArrayType.scalar
    size: int = 0
    type_id: str = ""
    fields: Tuple[Tuple[str, "FieldDesc"], ...] = ()
    #: accepted for caproto.pva's ``FieldDesc(name=..., ...)`` and ignored: a
    #: member's name is the key its parent gives it in ``fields``
    name: dataclasses.InitVar[str] = ""
    _hash: int = dataclasses.field(default=0, init=False, repr=False, compare=False)
    _nodes: int = dataclasses.field(default=1, init=False, repr=False, compare=False)

    def __post_init__(self, name: str = "") -> None:
        ft = FieldType(self.field_type)
        at = FieldArrayType(self.array_type)
        object.__setattr__(self, "field_type", ft)
        object.__setattr__(self, "array_type", at)
        fields = tuple((str(n), d) for n, d in self.fields)
        object.__setattr__(self, "fields", fields)
        if ft in (FieldType.struct, FieldType.union):
            names = [n for n, _ in fields]
            if len(set(names)) != len(names):
                raise ValueError(f"duplicate member names in {names}")
            # the expanded size, bottom-up (see node_count)
            nodes = 1 + len(self.type_id) // NAME_BYTES_PER_NODE
            for n, d in fields:
                if not isinstance(d, FieldDesc):
                    raise TypeError(f"member {n!r} is not a FieldDesc: {d!r}")
                nodes += d._nodes + len(n) // NAME_BYTES_PER_NODE
            object.__setattr__(self, "_nodes", nodes)
        elif fields or self.type_id:
            raise ValueError(f"{ft.name} cannot have members or a type id")
        if ft.is_complex and at not in (FieldArrayType.scalar, FieldArrayType.variable_array):
            raise ValueError(f"{ft.name} arrays must be variable-size")
        if ft == FieldType.bounded_string and at != FieldArrayType.scalar:
            raise ValueError("arrays of bounded strings are not supported")
        if not (at.has_field_desc_size or ft == FieldType.bounded_string) and self.size:
            if self.size != 1:
                raise ValueError(
                    "size is only meaningful for bounded/fixed arrays and bounded strings")
            # caproto.pva gives scalars and variable arrays size=1 (one
            # element): no size on the wire, so none here
            object.__setattr__(self, "size", 0)
        object.__setattr__(
            self, "_hash", hash((ft, at, self.size, self.type_id, fields))
        )

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if other.__class__ is not FieldDesc:
            return NotImplemented
        if self._hash != other._hash:
            return False
        return _same_desc(self, other)

    # ---- constructors -------------------------------------------------
    @classmethod
    def scalar(cls, field_type: FieldType) -> "FieldDesc":
        """A scalar (boolean, integer, float, string)."""
        return cls(FieldType(field_type))

    @classmethod
    def array(
        cls,
        element: Union["FieldDesc", FieldType],
        array_type: FieldArrayType = FieldArrayType.variable_array,
        size: int = 0,
    ) -> "FieldDesc":
        """An array of ``element`` (a scalar type or a struct/union/any desc)."""
        if isinstance(element, FieldDesc):
            return dataclasses.replace(element, array_type=array_type, size=size)
        return cls(FieldType(element), array_type, size)

    @classmethod
    def struct(cls, fields: Members = (), type_id: str = "") -> "FieldDesc":
        """A structure; ``fields`` is a mapping or a sequence of (name, desc)."""
        items = fields.items() if isinstance(fields, Mapping) else fields
        return cls(FieldType.struct, type_id=type_id, fields=tuple(items))

    @classmethod
    def union(cls, fields: Members = (), type_id: str = "") -> "FieldDesc":
        """A (regular, discriminated) union."""
        items = fields.items() if isinstance(fields, Mapping) else fields
        return cls(FieldType.union, type_id=type_id, fields=tuple(items))

    @classmethod
    def variant(cls) -> "FieldDesc":
        """A variant union (``any``)."""
        return cls(FieldType.any)

    # ---- properties ---------------------------------------------------
    @property
    def code(self) -> int:
        """The type code byte."""
        return int(self.field_type) | (int(self.array_type) << 3)

    @property
    def is_array(self) -> bool:
        """Is this any kind of array?"""
        return self.array_type != FieldArrayType.scalar

    @property
    def element(self) -> "FieldDesc":
        """For an array, the description of one element; else ``self``."""
        if not self.is_array:
            return self
        return dataclasses.replace(self, array_type=FieldArrayType.scalar, size=0)

    @property
    def node_count(self) -> int:
        """Size of this type with every shared member counted where it appears.

        One per field (this one included, array elements counted once),
        plus one per :data:`NAME_BYTES_PER_NODE` bytes of each member name
        and type id.  Computed once, from the members' counts, when the
        description is made; decoders check it against
        :attr:`~pva.Limits.max_type_nodes` and
        :attr:`~pva.Limits.max_message_nodes` before building anything, so
        everything that walks a decoded type (:attr:`descendants`,
        :func:`~pva.default_value`, values, pvRequest parsing) is bounded by it.
        """
        return self._nodes

    @property
    def struct_name(self) -> str:
        """Alias of :attr:`type_id` (caproto.pva name)."""
        return self.type_id

    @property
    def children(self) -> Dict[str, "FieldDesc"]:
        """Members as a dict (name -> FieldDesc)."""
        try:
            return self.__dict__["_children"]
        except KeyError:
            d = dict(self.fields)
            object.__setattr__(self, "_children", d)
            return d

    @property
    def descendants(self) -> Tuple[Tuple[str, "FieldDesc"], ...]:
        """All nested structure members depth first, as (dotted name, desc).

        Bit ``i`` of a BitSet for this structure refers to
        ``descendants[i - 1]``; bit 0 is the structure itself.  Only plain
        sub-structures are descended into (not unions or arrays).
        """
        try:
            return self.__dict__["_descendants"]
        except KeyError:
            out: List[Tuple[str, FieldDesc]] = []
            if self.field_type == FieldType.struct and not self.is_array:
                for name, child in self.fields:
                    out.append((name, child))
                    for sub, d in child.descendants:
                        out.append((f"{name}.{sub}", d))
            res = tuple(out)
            object.__setattr__(self, "_descendants", res)
            return res

    @property
    def bit_of(self) -> Dict[str, int]:
        """Map dotted member name -> bit index (``''`` -> 0)."""
        try:
            return self.__dict__["_bit_of"]
        except KeyError:
            d = {"": 0}
            d.update((name, i) for i, (name, _) in enumerate(self.descendants, 1))
            object.__setattr__(self, "_bit_of", d)
            return d

    @property
    def spans(self) -> Tuple[int, ...]:
        """Per bit, how many bits its field spans (``spans[0]`` is :attr:`num_bits`)."""
        try:
            return self.__dict__["_spans"]
        except KeyError:
            res = (self.num_bits,) + tuple(d.num_bits for _, d in self.descendants)
            object.__setattr__(self, "_spans", res)
            return res

    @property
    def num_bits(self) -> int:
        """Number of BitSet bits this field spans (1 + descendants).

        Counted from the members' own counts, so a type that shares a member
        many times (a type-cache fan-out) is not walked member by member."""
        try:
            return self.__dict__["_num_bits"]
        except KeyError:
            n = 1
            if self.field_type == FieldType.struct and not self.is_array:
                n += sum(child.num_bits for _, child in self.fields)
            object.__setattr__(self, "_num_bits", n)
            return n

    def __getitem__(self, path: str) -> "FieldDesc":
        """Member by dotted name."""
        if path == "":
            return self
        desc: FieldDesc = self
        for part in path.split("."):
            desc = desc.children[part]
        return desc

    def serialize(self, endian: str = "<", cache: Optional["IntrospectionCache"] = None
                  ) -> List[bytes]:
        """caproto.pva's spelling of :func:`encode_field_desc` (a list of buffers)."""
        from ._typecodec import encode_field_desc
        return [encode_field_desc(self, endian, cache)]

    @classmethod
    def deserialize(cls, data: Any, *, endian: str = "<",
                    cache: Optional["IntrospectionCache"] = None) -> Deserialized:
        """caproto.pva's spelling of :func:`decode_field_desc`:
        ``(desc, rest, nbytes)``."""
        from ._typecodec import decode_field_desc
        return deserialized(decode_field_desc, data, endian, cache)

    def summary(self, name: str = "") -> str:
        """A multi-line description in caproto.pva's words (``struct
        TimeStamp``, ``int64 secondsPastEpoch``, ``float64[] value``); the type
        id is printed bare and the field types by :class:`FieldType` name.
        ``str()`` prints pvxs's tree instead (``struct "time_t"``,
        ``int64_t``, ``double``)."""
        return self._tree(name, 0, _caproto_type_name)

    def _tree(self, name: str, indent: int, type_name) -> str:
        tname = type_name(self, name)
        if self.array_type == FieldArrayType.variable_array:
            tname += "[]"
        elif self.array_type == FieldArrayType.bounded_array:
            tname += f"<{self.size}>"
        elif self.array_type == FieldArrayType.fixed_array:
            tname += f"[{self.size}]"
        elif self.field_type == FieldType.bounded_string:
            tname += f"<{self.size}>"
        line = " " * indent + (f"{tname} {name}" if name else tname)
        lines = [line.rstrip()]
        for cname, child in self.fields:
            lines.append(child._tree(cname, indent + 4, type_name))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self._tree("", 0, _pvxs_type_name)


def _pvxs_type_name(desc: FieldDesc, name: str) -> str:
    tname = _TYPE_NAMES[desc.field_type]
    return f'{tname} "{desc.type_id}"' if desc.type_id else tname


def _caproto_type_name(desc: FieldDesc, name: str) -> str:
    tname = desc.field_type.name
    if desc.type_id and desc.type_id != name:
        return f"{tname} {desc.type_id}"
    return tname
