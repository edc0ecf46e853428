"""Values the client hands out: :class:`Value` (a dict with attribute access
and its type), and how monitor updates are merged into the current value."""
from __future__ import annotations

from typing import Any, Dict, List, Optional

from .. import nt as _nt
from .._bitset import BitSet
from .._introspection import FieldDesc

__all__ = ["Value", "merged", "merge", "copy_tree"]


class Value(dict):
    """A structure value: a ``dict`` with attribute access and its type.

    ``v['value']`` and ``v.value`` are the same; nested structures come back
    as :class:`Value` too.  ``v.type`` is the :class:`~pva.FieldDesc`,
    ``v.changed`` the :class:`~pva.BitSet` of fields this update carried
    (monitors) and :meth:`todict` a plain nested ``dict``.
    """

    __slots__ = ("type", "changed")

    def __init__(self, data: Any = (), type: Optional[FieldDesc] = None,
                 changed: Optional[BitSet] = None):
        dict.__init__(self, data)
        self.type = type
        self.changed = changed

    def __getattr__(self, name: str) -> Any:
        try:
            v = _dict_getitem(self, name)      # self[name] without the dotted-path test
        except KeyError:
            try:
                v = self[name]
            except KeyError:
                raise AttributeError(name) from None
        if type(v) is dict:
            return self._wrap(name, v)
        return v

    def _wrap(self, name: str, v: Any) -> Any:
        if type(v) is dict:
            sub = None
            if self.type is not None:
                sub = self.type.children.get(name)
            return Value(v, sub)
        return v

    def __getitem__(self, key: str) -> Any:
        if "." in key and not dict.__contains__(self, key):
            head, _, rest = key.partition(".")
            return Value._wrap(self, head, dict.__getitem__(self, head))[rest]
        return dict.__getitem__(self, key)

    def todict(self) -> Dict[str, Any]:
        """A plain nested ``dict`` (numpy arrays kept)."""
        return _plain(self)

    def unwrap(self) -> Any:
        """The normative-type payload (NTScalar -> its value, ...), else the dict."""
        if self.type is None:
            return self.todict()
        return _nt.unwrap(self.type, self.todict())

    @property
    def changed_fields(self) -> List[str]:
        """Names of the fields this value carried, in order: each changed
        field, and every member of a changed structure (what p4p's
        ``changedSet()`` gives; a full value lists all its fields)."""
        if self.changed is None or self.type is None:
            return []
        marked = BitSet(self.changed).marked(self.type)
        return [p for p, b in self.type.bit_of.items() if b in marked and p]

    def __repr__(self) -> str:
        tid = self.type.type_id if self.type is not None else ""
        return f"Value({tid!r}, {dict.__repr__(self)})" if tid else f"Value({dict.__repr__(self)})"

    def __reduce__(self):
        return (Value, (dict(self), self.type, self.changed))


_dict_getitem = dict.__getitem__
_dict_update = dict.update
_new_value = Value.__new__


def _plain(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    return v


def copy_tree(v: Any) -> Any:
    """Copy the dict structure (leaves shared: they are immutable or read-only views)."""
    if type(v) is dict or isinstance(v, Value):
        return {k: (copy_tree(x) if isinstance(x, dict) else x) for k, x in v.items()}
    return v


def merged(current: dict, update: dict) -> dict:
    """A new dict: ``current`` with ``update`` merged in.

    Only the sub-structures the update touches are copied; the others are
    shared with ``current``, so successive monitor values cost what changed.
    """
    out = dict(current)
    for k, v in update.items():
        old = out.get(k)
        if type(v) is dict and type(old) is dict:
            out[k] = merged(old, v)
        else:
            out[k] = v
    return out


def merge(target: dict, update: dict) -> None:
    for k, v in update.items():
        old = target.get(k)
        if type(v) is dict and type(old) is dict:
            merge(old, v)
        else:
            target[k] = v
