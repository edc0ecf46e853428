"""Normative types (NTScalar, NTScalarArray, NTEnum, NTTable, NTNDArray, NTURI).

Theory of operation
-------------------
Each normative type is a :class:`~pva.FieldDesc` built with exactly the member
names, order and type ids that pvxs/p4p use (``epics:nt/NTScalar:1.0`` with
``alarm_t`` / ``time_t`` sub-structures, optional ``display`` / ``control`` /
``valueAlarm`` with empty type ids, ...), so our encoding of them is
byte-for-byte what pvxs sends.  A builder object (:class:`NTScalar`, ...)
holds the ``.type`` and converts between plain Python values and the
structure dict: ``wrap(python) -> dict`` and ``unwrap(dict) -> python``.
:func:`unwrap` picks the builder from a structure's type id.

For caproto.pva users, ``NTScalarFloat64``, ``NTScalarArrayInt32`` ... (every
scalar type) are ``@pva_dataclass`` classes with the full p4p layout
(display, control, valueAlarm for numeric types), and ``...Base`` variants
with only value, alarm and timeStamp.

Type codes accepted where a value type is expected: a :class:`FieldType`, a
p4p code (``'d'``, ``'ai'``, ``'s'`` ...), or a dataclass annotation type
(``Float64`` ...).
"""
from __future__ import annotations

import time
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from ._dataclass import (Boolean, Float32, Float64, Int8, Int16, Int32, Int64,
                         String, UInt8, UInt16, UInt32, UInt64,
                         annotation_type_map, pva_dataclass)
from ._introspection import FieldDesc, FieldType
from ._values import default_value

__all__ = [
    "alarm_t", "time_t", "enum_t",
    "NTAlarm", "NTTimestamp",
    "NTScalar", "NTScalarArray", "NTEnum", "NTTable", "NTNDArray", "NTURI",
    "NormativeTypeName", "unwrap", "builder_for", "field_type_from_code",
    "NTScalarBase", "NTScalarArrayBase",
]

_P4P_CODES = {
    "?": FieldType.boolean, "b": FieldType.int8, "B": FieldType.uint8,
    "h": FieldType.int16, "H": FieldType.uint16, "i": FieldType.int32,
    "I": FieldType.uint32, "l": FieldType.int64, "L": FieldType.uint64,
    "f": FieldType.float32, "d": FieldType.float64, "s": FieldType.string,
}

TypeSpec = Union[FieldType, str, Any]


def field_type_from_code(spec: TypeSpec) -> Tuple[FieldType, bool]:
    """``(FieldType, is_array)`` from a FieldType, p4p code or annotation."""
    if isinstance(spec, FieldType):
        return spec, False
    if isinstance(spec, str):
        is_array = spec.startswith("a")
        code = spec[1:] if is_array else spec
        try:
            return _P4P_CODES[code], is_array
        except KeyError:
            raise ValueError(f"unknown type code {spec!r}") from None
    try:
        return annotation_type_map[spec], False
    except (KeyError, TypeError):
        raise ValueError(f"unknown value type {spec!r}") from None


F = FieldDesc
T = FieldType

alarm_t = F.struct([("severity", F(T.int32)), ("status", F(T.int32)), ("message", F(T.string))], "alarm_t")
time_t = F.struct([("secondsPastEpoch", F(T.int64)), ("nanoseconds", F(T.int32)), ("userTag", F(T.int32))], "time_t")
enum_t = F.struct([("index", F(T.int32)), ("choices", F.array(T.string))], "enum_t")


@pva_dataclass(name="alarm_t")
class NTAlarm:
    """``alarm_t``: severity, status, message."""

    severity: Int32
    status: Int32
    message: String


@pva_dataclass(name="time_t")
class NTTimestamp:
    """``time_t``: secondsPastEpoch, nanoseconds, userTag."""

    secondsPastEpoch: Int64
    nanoseconds: Int32
    userTag: Int32


class NormativeTypeName:
    """Split a type id such as ``epics:nt/NTScalar:1.0``."""

    def __init__(self, type_name: str, namespace: str = "epics:nt", version: str = "1.0"):
        self.type_name = type_name
        self.namespace = namespace
        self.version = version

    @property
    def struct_name(self) -> str:
        """The packed type id."""
        return f"{self.namespace}/{self.type_name}:{self.version}"

    @classmethod
    def from_struct_name(cls, struct_name: str) -> "NormativeTypeName":
        """Parse a type id; raises ValueError if it is not ``ns/Name:ver``."""
        namespace, rest = struct_name.split("/", 1)
        type_name, version = rest.rsplit(":", 1)
        return cls(type_name, namespace, version)

    def __repr__(self) -> str:
        return f"NormativeTypeName({self.struct_name!r})"


def _timestamp(value: Dict[str, Any], timestamp: Optional[float]) -> None:
    if timestamp is None:
        return
    sec = int(timestamp // 1)
    value["timeStamp"] = {"secondsPastEpoch": sec,
                          "nanoseconds": int(round((timestamp - sec) * 1e9)) % 1000000000,
                          "userTag": 0}


def _meta_fields(ft: FieldType, display: bool, control: bool, value_alarm: bool,
                 form: bool) -> List[Tuple[str, FieldDesc]]:
    numeric = ft.is_numeric
    v = F(ft)
    out: List[Tuple[str, FieldDesc]] = []
    if display and numeric:
        if form:
            members = [("limitLow", v), ("limitHigh", v), ("description", F(T.string)),
                       ("precision", F(T.int32)), ("form", enum_t), ("units", F(T.string))]
        else:
            members = [("limitLow", v), ("limitHigh", v), ("description", F(T.string)),
                       ("format", F(T.string)), ("units", F(T.string))]
        out.append(("display", F.struct(members)))
    elif display:
        out.append(("display", F.struct([("description", F(T.string)), ("units", F(T.string))])))
    if control and numeric:
        out.append(("control", F.struct([("limitLow", v), ("limitHigh", v), ("minStep", v)])))
    if value_alarm and numeric:
        out.append(("valueAlarm", F.struct(
            [("active", F(T.boolean)), ("lowAlarmLimit", v), ("lowWarningLimit", v),
             ("highWarningLimit", v), ("highAlarmLimit", v),
             ("lowAlarmSeverity", F(T.int32)), ("lowWarningSeverity", F(T.int32)),
             ("highWarningSeverity", F(T.int32)), ("highAlarmSeverity", F(T.int32)),
             ("hysteresis", F(T.float64))])))
    return out


class NTScalar:
    """``epics:nt/NTScalar:1.0`` (or NTScalarArray for array value types).

    Parameters
    ----------
    value_type : FieldType, str or annotation
        e.g. ``'d'``, ``'ai'``, ``FieldType.int32``, ``Float64``.
    display, control, valueAlarm, form : bool, optional
        Include the optional meta-data structures (as p4p does).

    Examples
    --------
    >>> nt = NTScalar('d')
    >>> nt.wrap(1.5, timestamp=0.0)['value']
    1.5
    """

    type_id = "epics:nt/NTScalar:1.0"

    def __init__(self, value_type: TypeSpec = "d", display: bool = False, control: bool = False,
                 valueAlarm: bool = False, form: bool = False, _array: bool = False):
        ft, is_array = field_type_from_code(value_type)
        is_array = is_array or _array
        value = F.array(ft) if is_array else F(ft)
        type_id = NTScalarArray.type_id if is_array else NTScalar.type_id
        members = [("value", value), ("alarm", alarm_t), ("timeStamp", time_t)]
        members += _meta_fields(ft, display, control, valueAlarm, form)
        self.type = F.struct(members, type_id)

    def wrap(self, value: Any, timestamp: Optional[float] = None,
             severity: Optional[int] = None, message: Optional[str] = None) -> Dict[str, Any]:
        """A full structure dict around ``value`` (a dict sets fields by name)."""
        out = default_value(self.type)
        if isinstance(value, dict):
            for key, v in value.items():
                _set_path(out, key, v)
        else:
            out["value"] = value
        if severity is not None:
            out["alarm"]["severity"] = severity
        if message is not None:
            out["alarm"]["message"] = message
        _timestamp(out, time.time() if timestamp is None else timestamp)
        return out

    @staticmethod
    def unwrap(value: Dict[str, Any]) -> Any:
        """The ``value`` member."""
        return value["value"]


class NTScalarArray(NTScalar):
    """``epics:nt/NTScalarArray:1.0``; same parameters as :class:`NTScalar`."""

    type_id = "epics:nt/NTScalarArray:1.0"

    def __init__(self, value_type: TypeSpec = "d", display: bool = False, control: bool = False,
                 valueAlarm: bool = False, form: bool = False):
        super().__init__(value_type, display, control, valueAlarm, form, _array=True)


class NTEnum:
    """``epics:nt/NTEnum:1.0``: value is ``enum_t`` {index, choices}."""

    type_id = "epics:nt/NTEnum:1.0"

    def __init__(self, display: bool = False, control: bool = False):
        members = [("value", enum_t), ("alarm", alarm_t), ("timeStamp", time_t)]
        if display:
            members.append(("display", F.struct([("description", F(T.string))])))
        self.type = F.struct(members, self.type_id)

    def wrap(self, value: Any, choices: Optional[Sequence[str]] = None,
             timestamp: Optional[float] = None) -> Dict[str, Any]:
        """From ``{'index': i, 'choices': [...]}`` or an index plus ``choices``."""
        out = default_value(self.type)
        if isinstance(value, dict):
            out["value"] = {"index": int(value.get("index", 0)), "choices": list(value.get("choices", []))}
        else:
            out["value"] = {"index": int(value), "choices": list(choices or [])}
        _timestamp(out, time.time() if timestamp is None else timestamp)
        return out

    @staticmethod
    def unwrap(value: Dict[str, Any]) -> Dict[str, Any]:
        """The ``enum_t`` dict."""
        return value["value"]


class NTTable:
    """``epics:nt/NTTable:1.0`` with the given columns.

    Parameters
    ----------
    columns : sequence of (name, type)
        Column names and scalar types (``'d'``, ``'s'``, FieldType ...).
    """

    type_id = "epics:nt/NTTable:1.0"

    def __init__(self, columns: Sequence[Tuple[str, TypeSpec]] = ()):
        cols = []
        for name, spec in columns:
            ft, _ = field_type_from_code(spec)
            cols.append((name, F.array(ft)))
        self.labels = [n for n, _ in cols]
        self.type = F.struct([("labels", F.array(T.string)), ("value", F.struct(cols)),
                              ("descriptor", F(T.string)), ("alarm", alarm_t), ("timeStamp", time_t)],
                             self.type_id)

    def wrap(self, value: Any, timestamp: Optional[float] = None) -> Dict[str, Any]:
        """From a list of row dicts or a dict of columns."""
        out = default_value(self.type)
        out["labels"] = list(self.labels)
        coldescs = self.type.children["value"].children
        if isinstance(value, dict):
            columns = {n: value.get(n, []) for n in self.labels}
        else:
            rows = list(value)
            columns = {n: [r[n] for r in rows] for n in self.labels}
        for n, vals in columns.items():
            d = coldescs[n]
            out["value"][n] = list(vals) if d.field_type == T.string else np.asarray(
                vals, dtype=np.dtype(d.field_type.struct_char))
        _timestamp(out, time.time() if timestamp is None else timestamp)
        return out

    @staticmethod
    def unwrap(value: Dict[str, Any]) -> Dict[str, Any]:
        """Dict of columns."""
        return dict(value["value"])


_ND_MEMBERS = [("booleanValue", T.boolean), ("byteValue", T.int8), ("shortValue", T.int16),
               ("intValue", T.int32), ("longValue", T.int64), ("ubyteValue", T.uint8),
               ("ushortValue", T.uint16), ("uintValue", T.uint32), ("ulongValue", T.uint64),
               ("floatValue", T.float32), ("doubleValue", T.float64)]
_ND_BY_CHAR = {np.dtype(ft.struct_char).str[1:]: name for name, ft in _ND_MEMBERS}


class NTNDArray:
    """``epics:nt/NTNDArray:1.0`` (areaDetector images)."""

    type_id = "epics:nt/NTNDArray:1.0"
    dimension_t = F.struct([("size", F(T.int32)), ("offset", F(T.int32)), ("fullSize", F(T.int32)),
                            ("binning", F(T.int32)), ("reverse", F(T.boolean))], "dimension_t")
    attribute_t = F.struct([("name", F(T.string)), ("value", F.variant()), ("tags", F.array(T.string)),
                            ("descriptor", F(T.string)), ("alarm", alarm_t), ("timeStamp", time_t),
                            ("sourceType", F(T.int32)), ("source", F(T.string))],
                           "epics:nt/NTAttribute:1.0")

    def __init__(self) -> None:
        self.type = F.struct([
            ("value", F.union([(n, F.array(ft)) for n, ft in _ND_MEMBERS])),
            ("codec", F.struct([("name", F(T.string)), ("parameters", F.variant())], "codec_t")),
            ("compressedSize", F(T.int64)), ("uncompressedSize", F(T.int64)),
            ("uniqueId", F(T.int32)), ("dataTimeStamp", time_t), ("alarm", alarm_t),
            ("timeStamp", time_t), ("dimension", F.array(self.dimension_t)),
            ("attribute", F.array(self.attribute_t)),
        ], self.type_id)

    def wrap(self, value: Any, attributes: Optional[Dict[str, Any]] = None,
             timestamp: Optional[float] = None) -> Dict[str, Any]:
        """From an N-d numpy array (dimensions sent innermost first, as p4p)."""
        arr = np.asarray(value)
        try:
            member = _ND_BY_CHAR[arr.dtype.str[1:]]
        except KeyError:
            raise ValueError(f"NTNDArray cannot hold dtype {arr.dtype}") from None
        out = default_value(self.type)
        out["value"] = (member, arr.reshape(-1))
        out["compressedSize"] = out["uncompressedSize"] = arr.nbytes
        out["dimension"] = [{"size": n, "offset": 0, "fullSize": n, "binning": 1, "reverse": False}
                            for n in reversed(arr.shape)]
        attrs = []
        for name, v in (attributes or {}).items():
            a = default_value(self.attribute_t)
            a["name"], a["value"] = name, v
            attrs.append(a)
        out["attribute"] = attrs
        _timestamp(out, time.time() if timestamp is None else timestamp)
        return out

    @staticmethod
    def unwrap(value: Dict[str, Any]) -> np.ndarray:
        """The image, reshaped from ``dimension`` (outermost first)."""
        sel = value["value"]
        if sel is None:
            return np.zeros(0)
        arr = sel[1]
        shape = [d["size"] for d in reversed(value.get("dimension") or [])]
        if shape and int(np.prod(shape)) == arr.size:
            return arr.reshape(shape)
        return arr


class NTURI:
    """``epics:nt/NTURI:1.0``: scheme, authority, path, query {args}."""

    type_id = "epics:nt/NTURI:1.0"

    def __init__(self, args: Sequence[Tuple[str, TypeSpec]] = ()):
        query = []
        for name, spec in args:
            ft, is_array = field_type_from_code(spec)
            query.append((name, F.array(ft) if is_array else F(ft)))
        self.type = F.struct([("scheme", F(T.string)), ("authority", F(T.string)),
                              ("path", F(T.string)), ("query", F.struct(query))], self.type_id)

    def wrap(self, path: str, kws: Optional[Dict[str, Any]] = None, scheme: str = "pva",
             authority: str = "") -> Dict[str, Any]:
        """An NTURI value for an RPC call to ``path`` with query ``kws``."""
        out = default_value(self.type)
        out.update(scheme=scheme, authority=authority, path=path)
        for k, v in (kws or {}).items():
            if k not in out["query"]:
                raise KeyError(f"{k!r} is not a query argument of this NTURI")
            out["query"][k] = v
        return out

    @staticmethod
    def unwrap(value: Dict[str, Any]) -> Dict[str, Any]:
        """The query arguments."""
        return dict(value["query"])


def _set_path(d: Dict[str, Any], path: str, v: Any) -> None:
    parts = path.split(".")
    for p in parts[:-1]:
        d = d[p]
    d[parts[-1]] = v


_BUILDERS = {
    "NTScalar": NTScalar, "NTScalarArray": NTScalarArray, "NTEnum": NTEnum,
    "NTTable": NTTable, "NTNDArray": NTNDArray, "NTURI": NTURI,
}


def builder_for(type_id: str) -> Optional[type]:
    """The builder class for a normative type id (any version), or None."""
    try:
        name = NormativeTypeName.from_struct_name(type_id)
    except ValueError:
        return None
    if name.namespace != "epics:nt":
        return None
    return _BUILDERS.get(name.type_name)


def unwrap(desc: FieldDesc, value: Dict[str, Any]) -> Any:
    """Unwrap a normative-type value according to its type id.

    Non-normative structures are returned unchanged.
    """
    cls = builder_for(desc.type_id)
    if cls is None:
        return value
    return cls.unwrap(value)


# ---- caproto.pva style dataclasses -------------------------------------
class _NTMeta(type):
    """isinstance/issubclass by type id and value type, like caproto.pva."""

    def __instancecheck__(cls, instance: Any) -> bool:
        return cls.__subclasscheck__(type(instance))

    def __subclasscheck__(cls, subclass: Any) -> bool:
        st = getattr(subclass, "_pva_struct_", None)
        if st is None or not st.type_id.startswith(f"epics:nt/{cls._base_type_name_}:"):
            return False
        value = st.children.get("value")
        if value is None:
            return False
        # NTScalar<Type>(Base): the value's element type must be <Type> too
        return cls._value_type_ is None or value.field_type == cls._value_type_


class NTScalarBase(metaclass=_NTMeta):
    """Matches every NTScalar pva dataclass (isinstance / issubclass)."""

    _base_type_name_ = "NTScalar"
    _value_type_: Optional[FieldType] = None


class NTScalarArrayBase(metaclass=_NTMeta):
    """Matches every NTScalarArray pva dataclass."""

    _base_type_name_ = "NTScalarArray"
    _value_type_: Optional[FieldType] = None


_ANNOTATIONS = {
    FieldType.boolean: Boolean, FieldType.int8: Int8, FieldType.int16: Int16,
    FieldType.int32: Int32, FieldType.int64: Int64, FieldType.uint8: UInt8,
    FieldType.uint16: UInt16, FieldType.uint32: UInt32, FieldType.uint64: UInt64,
    FieldType.float32: Float32, FieldType.float64: Float64, FieldType.string: String,
}


def _meta_dataclasses(suffix: str, ft: FieldType) -> Dict[str, type]:
    """Named dataclasses for the display / control / valueAlarm members of
    NTScalar(Array)<suffix> (their structures keep the empty type id)."""
    out: Dict[str, type] = {}
    for name, desc in _meta_fields(ft, True, True, True, False):
        cls_name = "NT" + name[0].upper() + name[1:] + suffix
        annotations = {m: _ANNOTATIONS.get(d.field_type, d) if not d.is_array else d
                       for m, d in desc.fields}
        cls = pva_dataclass(type(cls_name, (), {"__annotations__": annotations,
                                                "__doc__": f"``{name}`` of NTScalar{suffix}."}),
                            name="")
        cls.__module__ = __name__
        assert cls._pva_struct_ == desc
        out[name] = cls
    return out


def _make_nt_dataclasses(suffix: str, ft: FieldType, array: bool) -> Tuple[type, ...]:
    base_name = ("NTScalarArray" if array else "NTScalar") + suffix
    full_desc = NTScalar(ft, display=True, control=True, valueAlarm=True, _array=array).type
    meta = _META.setdefault(ft, _meta_dataclasses(suffix, ft))
    annotations: Dict[str, Any] = {}
    for name, desc in full_desc.fields:
        if name == "alarm":
            annotations[name] = NTAlarm
        elif name == "timeStamp":
            annotations[name] = NTTimestamp
        elif name == "value":
            annotations[name] = List[_ANNOTATIONS[ft]] if array else _ANNOTATIONS[ft]
        else:
            annotations[name] = meta[name]
    base_ann = {k: annotations[k] for k in ("value", "alarm", "timeStamp")}
    doc = (f"``{full_desc.type_id}`` of {_ANNOTATIONS[ft].__name__}"
           f"{' elements' if array else ''}: ")
    # as in caproto.pva, any NTScalar(Array) pva dataclass with a <Type> value
    # is an instance / subclass of NTScalar(Array)<Type> and its Base (_NTMeta)
    nt_name = "NTScalarArray" if array else "NTScalar"
    base = pva_dataclass(_NTMeta(base_name + "Base", (), {
        "__annotations__": base_ann, "__doc__": doc + "value, alarm, timeStamp.",
        "_base_type_name_": nt_name, "_value_type_": ft}),
        name=full_desc.type_id)
    full = pva_dataclass(_NTMeta(base_name, (), {
        "__annotations__": annotations,
        "__doc__": doc + ", ".join(annotations) + " (p4p's full layout).",
        "_base_type_name_": nt_name, "_value_type_": ft}),
        name=full_desc.type_id)
    assert full._pva_struct_ == full_desc
    base.__module__ = full.__module__ = __name__
    return (base, full) + tuple(c for c in meta.values() if c.__name__ not in globals())


_META: Dict[FieldType, Dict[str, type]] = {}


_SUFFIX = {
    FieldType.boolean: "Boolean", FieldType.int8: "Int8", FieldType.int16: "Int16",
    FieldType.int32: "Int32", FieldType.int64: "Int64", FieldType.uint8: "UInt8",
    FieldType.uint16: "UInt16", FieldType.uint32: "UInt32", FieldType.uint64: "UInt64",
    FieldType.float32: "Float32", FieldType.float64: "Float64", FieldType.string: "String",
}

for _ft, _suffix in _SUFFIX.items():
    for _array in (False, True):
        for _cls in _make_nt_dataclasses(_suffix, _ft, _array):
            globals()[_cls.__name__] = _cls
            __all__.append(_cls.__name__)
del _ft, _suffix, _array, _cls
