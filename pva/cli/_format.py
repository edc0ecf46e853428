"""Text forms of values for the command-line tools.

* ``raw``: the pvxs/p4p tree (``double value = 1.5``, ``int32_t[] value =
  {3}[0, 1, 2]``, ...), the same text p4p's ``--raw`` output shows;
* ``nt``: one line per PV for normative types (``name <time> value``, as
  p4p's CLI prints NTScalar), the tree for anything else;
* ``json``: the value as JSON.
"""
from __future__ import annotations

import json
import time
from typing import Any, List

import numpy as np

from .._introspection import FieldDesc, FieldType
from .._values import Variant

__all__ = ["format_raw", "format_nt", "format_json", "format_type", "type_name"]

_NAMES = {
    FieldType.boolean: "bool", FieldType.int8: "int8_t", FieldType.int16: "int16_t",
    FieldType.int32: "int32_t", FieldType.int64: "int64_t", FieldType.uint8: "uint8_t",
    FieldType.uint16: "uint16_t", FieldType.uint32: "uint32_t", FieldType.uint64: "uint64_t",
    FieldType.float32: "float", FieldType.float64: "double", FieldType.string: "string",
    FieldType.bounded_string: "string", FieldType.struct: "struct", FieldType.union: "union",
    FieldType.any: "any",
}


def type_name(desc: FieldDesc) -> str:
    n = _NAMES[desc.field_type]
    return n + "[]" if desc.is_array else n


def _scalar(ft: FieldType, v: Any) -> str:
    if isinstance(v, np.generic):
        v = v.item()
    if ft == FieldType.boolean:
        return "true" if v else "false"
    if ft.is_floating:
        return format(float(v), "g")
    if ft.is_string:
        return json.dumps(str(v), ensure_ascii=False)
    return str(int(v))


def _lines(desc: FieldDesc, v: Any, name: str, indent: int, out: List[str]) -> None:
    pad = " " * indent
    ft = desc.field_type
    if ft == FieldType.struct and not desc.is_array:
        head = "struct" + (f' "{desc.type_id}"' if desc.type_id else "")
        out.append(f"{pad}{head} {{")
        v = v if isinstance(v, dict) else {}
        for cname, child in desc.fields:
            _lines(child, v.get(cname), cname, indent + 4, out)
        out.append(f"{pad}}}" + (f" {name}" if name else ""))
        return
    label = f" {name}" if name else ""
    if desc.is_array and ft in (FieldType.struct, FieldType.union, FieldType.any):
        items = list(v or [])
        out.append(f"{pad}{type_name(desc)}{label} = {{{len(items)}}}[")
        elem = desc.element if ft != FieldType.any else None
        for item in items:
            if ft == FieldType.struct:
                _lines(elem, item, "", indent + 4, out)
            else:
                _union_line(elem, item, "", indent + 4, out)
        out.append(f"{pad}]")
        return
    if desc.is_array:
        items = [] if v is None else (v.tolist() if isinstance(v, np.ndarray) else list(v))
        count = str(len(items)) if items else "?"
        body = ", ".join(_scalar(ft, x) for x in items)
        out.append(f"{pad}{type_name(desc)}{label} = {{{count}}}[{body}]")
        return
    if ft in (FieldType.union, FieldType.any):
        _union_line(desc, v, name, indent, out)
        return
    out.append(f"{pad}{type_name(desc)}{label} = {_scalar(ft, v)}")


def _union_line(desc, v, name, indent, out) -> None:
    pad = " " * indent
    label = f" {name}" if name else ""
    if desc is None or desc.field_type == FieldType.any:
        if v is None or (isinstance(v, Variant) and v.desc is None):
            out.append(f"{pad}any{label} null")
            return
        inner, val = (v.desc, v.value) if isinstance(v, Variant) else (None, v)
        if inner is None:
            out.append(f"{pad}any{label} = {v!r}")
            return
        sub: List[str] = []
        _lines(inner, val, "", indent, sub)
        sub[0] = f"{pad}any{label} " + sub[0].lstrip()
        out.extend(sub)
        return
    if v is None:
        out.append(f"{pad}union{label} null")
        return
    member, val = v
    inner = desc.children[member]
    sub = []
    _lines(inner, val, "", indent, sub)
    sub[0] = f"{pad}union{label}.{member} " + sub[0].lstrip()
    out.extend(sub)


def format_raw(desc: FieldDesc, value: Any) -> str:
    """The pvxs tree form of a value (ends with a newline)."""
    out: List[str] = []
    _lines(desc, value, "", 0, out)
    return "\n".join(out) + "\n"


def format_type(desc: FieldDesc) -> str:
    """The pvxs tree form of a type."""
    def walk(d: FieldDesc, name: str, indent: int, out: List[str]) -> None:
        pad = " " * indent
        label = f" {name}" if name else ""
        if d.field_type in (FieldType.struct, FieldType.union) and d.fields:
            head = type_name(d) + (f' "{d.type_id}"' if d.type_id else "")
            out.append(f"{pad}{head} {{")
            for cname, child in d.fields:
                walk(child, cname, indent + 4, out)
            out.append(f"{pad}}}{label}")
        else:
            out.append(f"{pad}{type_name(d)}{label}")
    out: List[str] = []
    walk(desc, "", 0, out)
    return "\n".join(out) + "\n"


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
        if desc.children["value"].field_type.is_string and not desc.children["value"].is_array:
            shown = repr(v)
        else:
            shown = repr(_py(v)) if isinstance(v, (np.ndarray, list)) else _scalar(
                desc.children["value"].field_type, v)
        t = _time(value)
        return f"{t} {shown}" if t else shown
    if tid.startswith("epics:nt/NTEnum:"):
        e = value["value"]
        choices = list(e.get("choices", []))
        idx = e.get("index", 0)
        return choices[idx] if 0 <= idx < len(choices) else str(idx)
    return format_raw(desc, value)


def format_json(desc: FieldDesc, value: Any) -> str:
    return json.dumps(_py(value))
