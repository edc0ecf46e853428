"""What a putter sees of a put: the overlay of the PV's data and the changes.

:class:`DataclassOverlayInstance` is a view of a dataclass instance (or of a
structure held as a dict) that records attribute writes as nested changes
instead of applying them; :class:`WriteUpdate` holds the changes a client's
put asks for, which a putter may narrow (``accept``/``reject``) before the
group commits them (:mod:`pva.server.group`).
"""
from __future__ import annotations

import copy
from typing import Any, Dict, Optional

from .._dataclass import get_pv_structure, is_pva_dataclass_instance
from .._introspection import FieldDesc, FieldType

__all__ = ["DataclassOverlayInstance", "WriteUpdate"]


class DataclassOverlayInstance:
    """A view of a dataclass instance that records attribute writes as changes.

    Reads return the pending change if there is one, else the instance's value;
    sub-structures are overlays too, their changes nested dicts.  Members read
    and write as attributes or as items (``instance.control.limitLow`` or
    ``instance.control["limitLow"]``); a sub-structure held as a plain dict
    is read the same way.
    """

    __slots__ = ("_instance_", "_struct_", "_changes_", "_subs_", "_owner_")

    def __init__(self, instance: Any, *, owner: Any = None, changes: Optional[dict] = None,
                 struct: Optional[FieldDesc] = None):
        object.__setattr__(self, "_instance_", instance)
        object.__setattr__(self, "_struct_",
                           struct if struct is not None else get_pv_structure(instance))
        object.__setattr__(self, "_changes_", {} if changes is None else changes)
        object.__setattr__(self, "_subs_", {})
        object.__setattr__(self, "_owner_", owner)

    def __repr__(self) -> str:
        return f"<overlay of {self._instance_!r} changes={self._changes_!r}>"

    def __dir__(self):
        return list(self._struct_.children)

    def _current(self, attr: str) -> Any:
        inst = self._instance_
        if isinstance(inst, dict):
            try:
                return inst[attr]
            except KeyError:
                raise AttributeError(attr) from None
        return getattr(inst, attr)

    def __getattr__(self, attr: str) -> Any:
        children = self._struct_.children
        child = children.get(attr)
        if child is not None and child.field_type == FieldType.struct and not child.is_array:
            pending = self._changes_.get(attr)
            if pending is None or isinstance(pending, dict):
                sub = self._subs_.get(attr)
                if sub is None or sub._changes_ is not pending and pending is not None:
                    changes = pending if pending is not None else {}
                    sub = DataclassOverlayInstance(self._current(attr), owner=self._owner_,
                                                   changes=changes, struct=child)
                    self._subs_[attr] = sub
                    if pending is None:
                        self._changes_[attr] = changes
                return sub
        if attr in self._changes_:
            return self._changes_[attr]
        return self._current(attr)

    def __setattr__(self, attr: str, value: Any) -> None:
        if attr in self._struct_.children:
            self._subs_.pop(attr, None)
            if isinstance(value, DataclassOverlayInstance):
                value = value._changes_
            elif is_pva_dataclass_instance(value):
                value = _as_dict(value)
            self._changes_[attr] = value
        elif isinstance(self._instance_, dict):
            raise AttributeError(f"{attr!r} is not a member of this structure")
        else:
            setattr(self._instance_, attr, value)

    def __delattr__(self, attr: str) -> None:
        self._subs_.pop(attr, None)
        self._changes_.pop(attr, None)

    def _member_name(self, key: str) -> str:
        if key not in self._struct_.children:
            raise KeyError(key)
        return key

    def __getitem__(self, key: str) -> Any:
        return getattr(self, self._member_name(key))

    def __setitem__(self, key: str, value: Any) -> None:
        setattr(self, self._member_name(key), value)

    def __contains__(self, key: str) -> bool:
        return key in self._struct_.children


def _as_dict(obj: Any) -> Dict[str, Any]:
    desc = get_pv_structure(obj)
    out = {}
    for name, child in desc.fields:
        v = getattr(obj, name)
        if child.field_type == FieldType.struct and not child.is_array:
            if is_pva_dataclass_instance(v):
                v = _as_dict(v)
            elif isinstance(v, dict):
                v = copy.deepcopy(v)
        out[name] = v
    return out


def _prune(changes: dict) -> dict:
    """Drop empty sub-dicts (structures only read through the overlay)."""
    for k in [k for k, v in changes.items() if isinstance(v, dict)]:
        _prune(changes[k])
        if not changes[k]:
            del changes[k]
    return changes


class WriteUpdate:
    """The changes a client's put asks for; a putter may narrow them.

    ``update.instance`` is the overlay (read the new values from it), ``'a.b'
    in update`` tests for a change, :meth:`accept` / :meth:`reject` select
    what is committed after the putter returns.
    """

    def __init__(self, owner: Any, overlay: DataclassOverlayInstance, changes: dict):
        self._cls = type(owner.data)
        self._owner = owner
        self.instance = overlay
        self._changes = changes

    def __repr__(self) -> str:
        return f"<WriteUpdate for {self._cls.__name__} changes={self._changes}>"

    @property
    def changes(self) -> dict:
        """A copy of the (remaining) changes."""
        return copy.deepcopy(self._changes)

    def __contains__(self, key: str) -> bool:
        d: Any = self._changes
        for part in key.split("."):
            if not isinstance(d, dict) or part not in d:
                return False
            d = d[part]
        return True

    def _set(self, changes: dict) -> None:
        self._changes.clear()
        self._changes.update(changes)
        self.instance._subs_.clear()

    def accept(self, *keys: str) -> None:
        """Accept only the given (dotted) keys; ``accept()`` accepts nothing."""
        kept: dict = {}
        for key in keys:
            src: Any = self._changes
            dst = kept
            parts = key.split(".")
            for i, part in enumerate(parts):
                if not isinstance(src, dict) or part not in src:
                    break
                if i == len(parts) - 1:
                    dst[part] = src[part]
                else:
                    src = src[part]
                    dst = dst.setdefault(part, {})
        self._set(_prune(kept))

    def reject(self, *keys: str) -> None:
        """Reject the given (dotted) keys, accept the rest; ``reject()`` rejects all."""
        if not keys:
            self._set({})
            return
        changes = copy.copy(self._changes)
        for key in keys:
            d: Any = changes
            parts = key.split(".")
            for part in parts[:-1]:
                if not isinstance(d, dict) or part not in d:
                    d = None
                    break
                d[part] = dict(d[part]) if isinstance(d[part], dict) else d[part]
                d = d[part]
            if isinstance(d, dict):
                d.pop(parts[-1], None)
        self._set(_prune(changes))
