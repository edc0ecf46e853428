"""Put values: a user's value or dict of fields checked and converted to the
server's type (:func:`build_put`), before anything is sent."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Dict, Optional, Set, Tuple

import numpy as np

from .._bitset import BitSet
from .._introspection import FieldDesc, FieldType
from .._values import default_value
from .value import copy_tree

__all__ = ["build_put", "coerce_array"]


_INT_RANGE = {
    FieldType.int8: (-2**7, 2**7 - 1), FieldType.int16: (-2**15, 2**15 - 1),
    FieldType.int32: (-2**31, 2**31 - 1), FieldType.int64: (-2**63, 2**63 - 1),
    FieldType.uint8: (0, 2**8 - 1), FieldType.uint16: (0, 2**16 - 1),
    FieldType.uint32: (0, 2**32 - 1), FieldType.uint64: (0, 2**64 - 1),
}


def _is_enum(desc: FieldDesc) -> bool:
    ch = desc.children if desc.field_type == FieldType.struct and not desc.is_array else {}
    return set(ch) == {"index", "choices"}


def _coerce_scalar(desc: FieldDesc, v: Any, path: str) -> Any:
    ft = desc.field_type
    bad = ValueError(f"cannot convert {v!r} to {ft.name} for field {path!r}")
    if isinstance(v, np.generic):
        v = v.item()
    if ft.is_string:
        if isinstance(v, (dict, list, tuple, np.ndarray)):
            raise bad
        return str(v)
    if ft == FieldType.boolean:
        if isinstance(v, str):
            s = v.strip().lower()
            if s in ("true", "1", "yes", "on"):
                return True
            if s in ("false", "0", "no", "off"):
                return False
            raise bad
        if isinstance(v, (bool, int, float)):
            return bool(v)
        raise bad
    if ft.is_floating:
        if isinstance(v, bool) or not isinstance(v, (int, float, str)):
            raise bad
        try:
            return float(v)
        except ValueError:
            raise bad from None
    if ft.is_integral:
        if isinstance(v, str):
            try:
                v = int(v.strip(), 0)
            except ValueError:
                try:
                    f = float(v)
                except ValueError:
                    raise bad from None
                if f != int(f):
                    raise bad from None
                v = int(f)
        elif isinstance(v, float):
            if v != v or v in (float("inf"), float("-inf")) or v != int(v):
                raise bad
            v = int(v)
        elif not isinstance(v, int):
            raise bad
        lo, hi = _INT_RANGE[ft]
        if not lo <= v <= hi:
            raise ValueError(f"{v} is out of range for {ft.name} field {path!r}")
        return int(v)
    raise bad


def coerce_array(desc: FieldDesc, v: Any, path: str) -> Any:
    ft = desc.field_type
    if isinstance(v, str):
        import json
        s = v.strip()
        try:
            v = json.loads(s) if s.startswith("[") else [x for x in s.replace(",", " ").split()]
        except ValueError:
            raise ValueError(f"cannot parse {v!r} as an array for field {path!r}") from None
    if ft.is_string:
        if isinstance(v, (list, tuple, np.ndarray)):
            return [str(x) for x in v]
        raise ValueError(f"field {path!r} needs a list of strings, not {type(v).__name__}")
    if ft.is_numeric or ft == FieldType.boolean:
        if not isinstance(v, (list, tuple, np.ndarray)) and not np.isscalar(v):
            raise ValueError(f"field {path!r} needs a sequence of numbers, not {type(v).__name__}")
        try:
            seq = [_coerce_scalar(desc.element, x, path) for x in np.atleast_1d(v).tolist()]
            return np.asarray(seq, dtype=np.dtype(ft.struct_char))
        except (TypeError, OverflowError) as ex:
            raise ValueError(f"cannot convert {v!r} for array field {path!r}: {ex}") from None
    return v  # arrays of structures/unions: given as lists, checked by the encoder


def build_put(desc: FieldDesc, value: Any, current: Optional[dict] = None
              ) -> Tuple[Dict[str, Any], BitSet, bool]:
    """The put data for ``value`` on a structure of type ``desc``.

    ``value`` is a mapping (nested dicts or dotted keys; a :class:`Value`
    too) or a plain value for the ``value`` field.  Enum fields
    (``index``/``choices``) take an index or a choice name; a name needs
    ``current`` (the present value, for its choices).

    Returns ``(data, bitset, needs_current)``; when ``needs_current`` is
    true, call again with ``current``.

    Raises
    ------
    ValueError
        A field that does not exist or a value that does not fit its type.
    """
    data: Dict[str, Any] = default_value(desc) if current is None else copy_tree(current)
    bits: Set[int] = set()
    bit_of = desc.bit_of
    need = False

    def put(d: FieldDesc, v: Any, path: str) -> None:
        nonlocal need
        parent = path.rpartition(".")[0]
        tgt = data
        for part in path.split(".")[:-1]:
            tgt = tgt.setdefault(part, {})
        key = path.rpartition(".")[2]
        if d.field_type == FieldType.struct and not d.is_array:
            if isinstance(v, Mapping):
                for k, x in v.items():
                    sub = d.children.get(str(k).split(".")[0])
                    full = f"{path}.{k}"
                    if sub is None or full not in bit_of:
                        raise ValueError(f"structure {path!r} has no field {k!r}")
                    put(desc[full], x, full)
                return
            if _is_enum(d):
                if isinstance(v, str) and not v.strip().lstrip("-").isdigit():
                    if current is None:
                        need = True
                        return
                    choices = list(_lookup(current, path).get("choices", []))
                    if v not in choices:
                        raise ValueError(f"{v!r} is not one of the choices {choices} of {path!r}")
                    v = choices.index(v)
                put(d.children["index"], v, f"{path}.index")
                return
            raise ValueError(f"field {path!r} is a structure; give a dict, not {v!r}")
        del parent
        if d.is_array:
            tgt[key] = coerce_array(d, v, path)
        elif d.field_type in (FieldType.union, FieldType.any):
            tgt[key] = v
        else:
            tgt[key] = _coerce_scalar(d, v, path)
        bits.add(bit_of[path])

    if isinstance(value, Mapping):
        for k, x in value.items():
            k = str(k)
            if k not in bit_of:
                raise ValueError(f"no field {k!r} in {desc.type_id or 'the structure'}")
            put(desc[k], x, k)
    else:
        if "value" not in bit_of:
            raise ValueError("a plain value needs a 'value' field; give a dict of fields")
        put(desc["value"], value, "value")
    if not bits and not need:
        raise ValueError("nothing to put")
    return data, BitSet(bits), need


def _lookup(d: dict, path: str) -> Any:
    for p in path.split("."):
        d = d[p]
    return d
