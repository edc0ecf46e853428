"""Text forms of values for the command-line tools.

* ``tree``: pvxs's tree form (``double value = 1.5``, ``int32_t[] value =
  {3}[0, 1, 2]``, ``struct "alarm_t" {...} alarm``), which is also what p4p
  prints for a ``Value``; without values it is the type (``pvinfo``);
* ``delta``: pvxs's delta form, one line per field the update carried
  (``value double = 1.5``, ``alarm.severity int32_t = 0``), pvxs's tools'
  default;
* ``nt``: one line for normative types (``<time> value``, as p4p's
  command line prints NTScalar), the tree for anything else;
* ``json``: the value as JSON.

Scalars print as C++ streams print them (``%g`` for floating point),
strings quoted and escaped byte by byte as pvxs does, arrays as
``{count}[a, b, ...]`` cut to ``limit`` elements (0: all).
"""
from __future__ import annotations

import json
import time
from typing import Any, Iterator, List, Optional, Set, Tuple

import numpy as np

from .._bitset import BitSet
from .._introspection import FieldDesc, FieldType
from .._values import Variant, default_value

__all__ = ["format_tree", "format_delta", "format_type", "format_raw", "format_nt",
           "format_json", "type_name"]

_NAMES = {
    FieldType.boolean: "bool", FieldType.int8: "int8_t", FieldType.int16: "int16_t",
    FieldType.int32: "int32_t", FieldType.int64: "int64_t", FieldType.uint8: "uint8_t",
    FieldType.uint16: "uint16_t", FieldType.uint32: "uint32_t", FieldType.uint64: "uint64_t",
    FieldType.float32: "float", FieldType.float64: "double", FieldType.string: "string",
    FieldType.bounded_string: "string", FieldType.struct: "struct", FieldType.union: "union",
    FieldType.any: "any",
}
_COMPOUND = (FieldType.struct, FieldType.union, FieldType.any)
_ESCAPES = {0x07: "\\a", 0x08: "\\b", 0x0c: "\\f", 0x0a: "\\n", 0x0d: "\\r", 0x09: "\\t",
            0x0b: "\\v", 0x5c: "\\\\", 0x27: "\\'", 0x22: '\\"'}
_PAD = "    "


def type_name(desc: FieldDesc) -> str:
    n = _NAMES[desc.field_type]
    return n + "[]" if desc.is_array else n


def escape(text: str) -> str:
    """pvxs's escaping: printable ASCII as is, the rest ``\\xNN`` per UTF-8 byte."""
    out = []
    for b in text.encode("utf-8", "surrogateescape"):
        e = _ESCAPES.get(b)
        if e is not None:
            out.append(e)
        elif 0x20 <= b <= 0x7e:
            out.append(chr(b))
        else:
            out.append(f"\\x{b:02x}")
    return "".join(out)


def _scalar(ft: FieldType, v: Any, in_array: bool = False) -> str:
    if isinstance(v, np.generic):
        v = v.item()
    if ft == FieldType.boolean:
        if in_array:                    # pvxs streams array bools without boolalpha
            return "1" if v else "0"
        return "true" if v else "false"
    if ft.is_floating:
        return "%g" % float(v)
    if ft.is_string:
        return '"' + escape(str(v)) + '"'
    return str(int(v))


def _array(desc: FieldDesc, v: Any, limit: int) -> str:
    if v is None:
        return "{?}[]"
    ft = desc.field_type
    items = v.tolist() if isinstance(v, np.ndarray) else list(v)
    shown = []
    for i, x in enumerate(items):
        if limit and i >= limit:
            shown.append("...")
            break
        shown.append(_scalar(ft, x, in_array=True))
    return "{%d}[%s]" % (len(items), ", ".join(shown))


def _inner(desc: FieldDesc, v: Any) -> Tuple[Optional[str], Optional[FieldDesc], Any]:
    """(selected member, its type, its value) of a union or variant value."""
    if v is None:
        return None, None, None
    if desc.field_type == FieldType.any:
        if isinstance(v, Variant):
            return None, v.desc, v.value
        return None, None, None
    member, val = v
    return member, desc.element.children[member], val


def _element_id(desc: FieldDesc) -> str:
    """The id pvxs prints after a type name (an array of structures has none)."""
    if desc.is_array or desc.field_type not in (FieldType.struct, FieldType.union):
        return ""
    return desc.type_id


# ---- tree -----------------------------------------------------------------
def _tree(desc: Optional[FieldDesc], v: Any, member: str, depth: int, show: bool,
          limit: int, out: List[str], path: str = "", missing: frozenset = frozenset()) -> None:
    """One field (its indentation already written); emits whole lines.

    ``missing``: paths of fields the update did not carry, shown as pvxs
    shows fields it never received (arrays ``{?}[]``, unions null, zeros).
    """
    if desc is None:
        out.append("null\n")
        return
    if path in missing:
        v = None if desc.is_array or desc.field_type in _COMPOUND else default_value(desc)
    ft = desc.field_type
    out.append(type_name(desc))
    tid = _element_id(desc)
    if tid:
        out.append(f' "{tid}"')
    label = " " + member if member else ""
    if ft not in _COMPOUND:
        out.append(label)
        if show:
            out.append(" = " + (_array(desc, v, limit) if desc.is_array else _scalar(ft, v)))
        out.append("\n")
        return
    is_array = desc.is_array
    if (ft == FieldType.any and not is_array) or (not show and ft == FieldType.any) or \
            (show and ft == FieldType.union and not is_array):
        out.append(label)
        if show:
            name, idesc, ival = _inner(desc, v)
            if ft == FieldType.union and idesc is not None:
                out.append("." + name)
            out.append(" ")
            _tree(idesc, ival, "", depth, True, limit, out)
        else:
            out.append("\n")
        return
    if not is_array or not show:
        # struct "id" { members } NAME  (a union's or array element's members without values)
        out.append(" {")
        first = True
        elem = desc.element
        for name, child in elem.fields:
            if first:
                out.append("\n")
            out.append(_PAD * (depth + 1))
            cv = v.get(name) if show and isinstance(v, dict) else None
            cpath = (path + "." + name if path else name) if not is_array else None
            _tree(child, cv, name, depth + 1, show, limit, out, cpath, missing)
            first = False
        if not first:
            out.append(_PAD * depth)
        out.append("}" + label + "\n")
        return
    # struct[] NAME = {N}[ elements ]
    items = list(v or [])
    out.append(label + " = {%d}[" % len(items))
    elem = desc.element
    shown = 0
    for item in items:
        if not shown:
            out.append("\n")
        out.append(_PAD * (depth + 1))
        if limit and shown >= limit:
            out.append("...\n")
            break
        if ft == FieldType.struct:
            _tree(elem, item, "", depth + 1, True, limit, out)
        else:                   # an element of a union[] or any[] is its member's value
            _, idesc, ival = _inner(elem, item)
            _tree(idesc, ival, "", depth + 1, True, limit, out)
        shown += 1
    if shown:
        out.append(_PAD * depth)
    out.append("]\n")


def format_tree(desc: FieldDesc, value: Any, *, limit: int = 0, show_value: bool = True,
                depth: int = 0, changed: Optional[BitSet] = None) -> str:
    """pvxs's tree form of a value (``show_value=False``: of its type), at ``depth``.

    With ``changed`` (the BitSet the value came with), the fields it does not
    cover print as pvxs prints fields it did not receive.
    """
    missing = frozenset() if changed is None else _missing(desc, changed)
    out: List[str] = [_PAD * depth]
    _tree(desc, value, "", depth, show_value, limit, out, "", missing)
    return "".join(out)


def _missing(desc: FieldDesc, changed: BitSet) -> frozenset:
    """Paths of the fields (not sub-structures) a BitSet leaves out."""
    covered = BitSet(changed).expand(desc)
    return frozenset(path for i, (path, d) in enumerate(desc.descendants, 1)
                     if i not in covered and (d.field_type != FieldType.struct or d.is_array))


def format_type(desc: FieldDesc) -> str:
    """pvxs's tree form of a type (what ``pvinfo`` prints)."""
    return format_tree(desc, None, show_value=False)


def format_raw(desc: FieldDesc, value: Any) -> str:
    """The tree form (the text p4p prints for a value)."""
    return format_tree(desc, value)


# ---- delta ----------------------------------------------------------------
def _marked_members(desc: FieldDesc, marked: Set[int]) -> Iterator[Tuple[str, FieldDesc]]:
    """Marked descendants in order; a marked structure brings all its members."""
    descendants = desc.descendants
    i = 1
    while i <= len(descendants):
        path, d = descendants[i - 1]
        if i in marked:
            span = d.num_bits if d.field_type == FieldType.struct and not d.is_array else 1
            for j in range(i, i + span):
                yield descendants[j - 1]
            i += span
        else:
            i += 1


def _lookup(v: Any, path: str) -> Any:
    for part in path.split("."):
        v = v.get(part) if isinstance(v, dict) else None
    return v


def _delta_field(prefix: str, desc: FieldDesc, v: Any, top: bool, limit: int, pad: str,
                 out: List[str]) -> None:
    ft = desc.field_type
    line = pad + prefix + ("" if top else " ") + type_name(desc)
    if ft == FieldType.struct and not desc.is_array and desc.type_id:
        line += ' "' + escape(desc.type_id) + '"'
    if ft not in _COMPOUND:
        line += " = " + (_array(desc, v, limit) if desc.is_array else _scalar(ft, v))
    out.append(line + "\n")
    if ft in (FieldType.union, FieldType.any) and not desc.is_array:
        name, idesc, ival = _inner(desc, v)
        _delta_top(prefix + "->" + (name or ""), idesc, ival, False, None, limit, pad, out)
    elif ft in _COMPOUND and desc.is_array and v is not None:
        elem = desc.element
        for i, item in enumerate(v):
            if ft != FieldType.struct:      # an element of a union[] or any[]: its member
                _, elem, item = _inner(desc.element, item)
            _delta_top(f"{prefix}[{i}]", elem, item, False, None, limit, pad, out)


def _delta_top(prefix: str, desc: Optional[FieldDesc], v: Any, top: bool,
               changed: Optional[BitSet], limit: int, pad: str, out: List[str]) -> None:
    if desc is None or (v is None and desc.field_type in (FieldType.struct,)):
        out.append(pad + prefix + ("" if top else " ") + "null\n")
        return
    if desc.field_type != FieldType.struct or desc.is_array:
        _delta_field(prefix, desc, v, top, limit, pad, out)
        return
    if changed is None:     # a structure inside a union or an array: all its members
        marked = BitSet({0}).marked(desc) - {0}
    else:
        marked = BitSet(changed).marked(desc)
    if not top or 0 in marked:      # the top structure's own line only if its bit is set
        _delta_field(prefix, desc, v, top, limit, pad, out)
    for path, d in _marked_members(desc, marked):
        name = path if top else prefix + "." + path
        _delta_field(name, d, _lookup(v, path), False, limit, pad, out)


def format_delta(desc: FieldDesc, value: Any, changed: Optional[BitSet], *, limit: int = 0,
                 depth: int = 1) -> str:
    """pvxs's delta form: the fields ``changed`` marks, one per line, at ``depth``.

    As pvxs: a set bit marks its field, and the members of a structure that
    are not structures themselves; the top structure's own line shows only if
    its bit is set; a marked structure shows with all its members.
    """
    out: List[str] = []
    _delta_top("", desc, value, True, changed if changed is not None else BitSet({0}),
               limit, _PAD * depth, out)
    return "".join(out)


# ---- one line per PV (p4p's command line) --------------------------------
def _time(v: dict) -> str:
    ts = v.get("timeStamp") if isinstance(v, dict) else None
    if not isinstance(ts, dict):
        return ""
    return time.ctime(ts.get("secondsPastEpoch", 0) + ts.get("nanoseconds", 0) * 1e-9)


def _py(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, dict):
        return {k: _py(x) for k, x in v.items()}
    if isinstance(v, Variant):
        return _py(v.value)
    if isinstance(v, (list, tuple)):
        return [_py(x) for x in v]
    return v


def format_nt(desc: FieldDesc, value: Any) -> str:
    """One line for NTScalar/NTScalarArray/NTEnum values, else the tree (no name)."""
    tid = desc.type_id
    if tid.startswith("epics:nt/NTScalar:") or tid.startswith("epics:nt/NTScalarArray:"):
        v = value["value"]
        vdesc = desc.children["value"]
        if vdesc.field_type.is_string and not vdesc.is_array:
            shown = repr(v)
        elif isinstance(v, (np.ndarray, list)):
            shown = repr(_py(v))
        else:
            shown = _scalar(vdesc.field_type, v)
        t = _time(value)
        return f"{t} {shown}" if t else shown
    if tid.startswith("epics:nt/NTEnum:"):
        e = value["value"]
        choices = list(e.get("choices", []))
        idx = e.get("index", 0)
        return choices[idx] if 0 <= idx < len(choices) else str(idx)
    return format_tree(desc, value)


def format_json(desc: FieldDesc, value: Any) -> str:
    return json.dumps(_py(value))
