"""pvRequest: the string form users write and the structure sent on the wire.

Theory of operation
-------------------
A request such as ``field(value,alarm.severity)record[queueSize=4]`` selects
fields and sets options.  Grammar accepted (pvxs's grammar, plus the forms
pvDataCPP's ``createRequest`` accepts: ``a{b,c}``, per-field options
``a[k=v]`` and the ``getField``/``putField`` selections of a put-get)::

    request  := entry ((',')? entry)*
    entry    := PART '(' fields? ')' | 'record' '[' options? ']' | item
    PART     := 'field' | 'getField' | 'putField'
    fields   := item (',' item)*
    item     := NAME ('[' options? ']')? ('{' fields? '}')?
    options  := NAME '=' VALUE (',' NAME '=' VALUE)*
    NAME     := [A-Za-z0-9_.]+        VALUE := [^,\\]\\s]+

A bare ``item`` at top level is short for ``field(item)`` (``a{b{c}}`` is
``field(a{b{c}})``); ``a.b`` and ``a{b}`` are the same selection.  Spaces
between tokens are ignored; empty items and a repeated name are merged (as
pvxs does; pvDataCPP refuses a repeated name).  ``getField(...)`` and
``putField(...)`` select what a put-get reads back and writes; without
``getField`` the read-back is ``field(...)``'s selection.  Parse errors raise
:class:`~pva.PVRequestError` carrying the position.

On the wire the request is a structure (as built by pvxs)::

    struct {
        struct field { struct a {}  struct b { struct c {} } }
        struct record { struct _options { string queueSize } }
        struct getField { ... }     # only if given (pvDataCPP's put-get form)
        struct putField { ... }
    }

Record options are emitted sorted by name (pvxs keeps them in a
``std::map``); option values are strings.  :meth:`PVRequest.to_bitset` maps a
request onto a structure's BitSet the way pvxs's ``request2mask`` does.
"""
from __future__ import annotations

import functools
from typing import Any, Dict, Iterable, List, Optional, Tuple

from ._bitset import BitSet
from ._errors import LocalProtocolError, PVRequestError
from ._introspection import FieldDesc, FieldType
from ._typecodec import IntrospectionCache, decode_field_desc
from ._values import decode_value, encode_field_desc_and_data
from ._wire import DEFAULT_LIMITS

__all__ = ["PVRequest", "PVRequestStruct", "parse_pvrequest"]

_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.")
_PUNCT = frozenset("()[]{},=")

Tree = Dict[str, "Tree"]

#: the member of a pvRequest structure that holds options, never a field name
OPTIONS = "_options"
#: the longest field path (components) whose pvRequest structure, with options
#: at its end, decodes within the decoder's nesting limit
MAX_FIELD_DEPTH = DEFAULT_LIMITS.max_depth - 3


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.pos = 0

    def error(self, message: str, pos: Optional[int] = None) -> PVRequestError:
        return PVRequestError(message, self.text, self.pos if pos is None else pos)

    def skip_ws(self) -> None:
        t = self.text
        while self.pos < len(t) and t[self.pos].isspace():
            self.pos += 1

    def peek(self) -> str:
        self.skip_ws()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def expect(self, ch: str) -> None:
        if self.peek() != ch:
            found = repr(self.peek()) if self.peek() else "end of input"
            raise self.error(f"expected {ch!r}, found {found}")
        self.pos += 1

    def name(self, what: str = "a field name") -> str:
        self.skip_ws()
        start = self.pos
        t = self.text
        while self.pos < len(t) and t[self.pos] in _NAME_CHARS:
            self.pos += 1
        if start == self.pos:
            found = repr(t[start]) if start < len(t) else "end of input"
            raise self.error(f"expected {what}, found {found}")
        name = t[start:self.pos]
        if name.startswith(".") or name.endswith(".") or ".." in name:
            raise self.error(f"invalid field name {name!r}", start)
        return name

    def value(self) -> str:
        self.skip_ws()
        start = self.pos
        t = self.text
        while self.pos < len(t) and t[self.pos] not in ",]" and not t[self.pos].isspace():
            self.pos += 1
        if start == self.pos:
            raise self.error("expected an option value")
        return t[start:self.pos]

    def options(self, close: str) -> Dict[str, str]:
        opts: Dict[str, str] = {}
        if self.peek() == close:
            self.pos += 1
            return opts
        while True:
            key = self.name("an option name")
            self.expect("=")
            opts[key] = self.value()
            c = self.peek()
            if c == ",":
                self.pos += 1
                continue
            if c == close:
                self.pos += 1
                return opts
            raise self.error(f"expected ',' or {close!r}")

    def fields(self, req: "PVRequest", prefix: str, close: str) -> None:
        # empty items are skipped, as pvxs does: "field(a,,b,)" == "field(a,b)"
        if prefix:
            req._add_field(prefix)
        while True:
            c = self.peek()
            if c == ",":
                self.pos += 1
                continue
            if c == close:
                self.pos += 1
                return
            self.item(req, prefix, self.name())
            c = self.peek()
            if c != "," and c != close:
                found = repr(c) if c else "end of input"
                raise self.error(f"expected ',' or {close!r}, found {found}")

    def item(self, req: "PVRequest", prefix: str, name: str) -> None:
        """``name`` (already read), then its ``[options]`` and ``{members}``."""
        parts = name.split(".")
        if OPTIONS in parts:
            at = self.pos - len(name) + sum(len(p) + 1 for p in parts[:parts.index(OPTIONS)])
            raise self.error(f"{OPTIONS!r} is reserved for options ([key=value])", at)
        path = f"{prefix}.{name}" if prefix else name
        if path.count(".") >= MAX_FIELD_DEPTH:
            raise self.error(f"field path nested deeper than {MAX_FIELD_DEPTH}",
                             self.pos - len(name))
        req._add_field(path)
        if self.peek() == "[":
            self.pos += 1
            opts = self.options("]")
            if opts:                # "a[]" has none (and none on the wire)
                req.field_options.setdefault(path, {}).update(opts)
        if self.peek() == "{":
            self.pos += 1
            self.fields(req, path, "}")

    def parse(self) -> "PVRequest":
        req = PVRequest()
        while True:
            c = self.peek()
            if not c:
                return req
            if c in _PUNCT:
                raise self.error(f"unexpected {c!r}")
            word = self.name("'field(', 'record[' or a field name")
            if word in _PARTS and self.peek() == "(":
                self.pos += 1
                self.fields(req._part(word), "", ")")
            elif word == "record":
                if self.peek() != "[":
                    raise self.error("expected '[' after 'record'")
                self.pos += 1
                req.record_options.update(self.options("]"))
            elif word in _PARTS:
                raise self.error(f"expected '(' after {word!r}")
            else:
                self.item(req, "", word)
            if self.peek() == ",":
                self.pos += 1


#: the field selections of a request: its own, and a put-get's two (pvDataCPP)
_PARTS = ("field", "getField", "putField")


class PVRequest:
    """A parsed pvRequest.

    Parameters
    ----------
    fields : iterable of str, optional
        Dotted names of selected fields (empty = everything).
    record_options : dict, optional
        ``record[...]`` options, e.g. ``{'queueSize': '4'}``.
    field_options : dict, optional
        Per-field options (pvData form ``field(value[k=v])``), keyed by
        dotted field name.

    Attributes
    ----------
    get_field, put_field : PVRequest or None
        The ``getField(...)`` / ``putField(...)`` selections of a put-get
        request (pvDataCPP's form), as requests of their own; None if absent.

    Examples
    --------
    >>> req = PVRequest.parse("field(value,alarm)record[queueSize=4]")
    >>> str(req)
    'field(value,alarm)record[queueSize=4]'
    >>> req.int_option("queueSize")
    4
    """

    def __init__(
        self,
        fields: Iterable[str] = (),
        record_options: Optional[Dict[str, Any]] = None,
        field_options: Optional[Dict[str, Dict[str, Any]]] = None,
    ):
        self.tree: Tree = {}
        for f in fields:
            self._add_field(f)
        self.record_options: Dict[str, str] = {
            k: _option_str(v) for k, v in (record_options or {}).items()
        }
        self.field_options: Dict[str, Dict[str, str]] = {
            k: {kk: _option_str(vv) for kk, vv in v.items()} for k, v in (field_options or {}).items()
        }
        self.get_field: Optional[PVRequest] = None
        self.put_field: Optional[PVRequest] = None

    def _part(self, name: str) -> "PVRequest":
        """The request holding the selection ``name`` (``field``: this one)."""
        if name == "field":
            return self
        attr = "get_field" if name == "getField" else "put_field"
        part = getattr(self, attr)
        if part is None:
            part = PVRequest()
            setattr(self, attr, part)
        return part

    def for_get(self) -> "PVRequest":
        """The selection a put-get reads back: ``getField(...)``, else this request."""
        return self.get_field if self.get_field is not None else self

    # ---- construction -----------------------------------------------
    @classmethod
    def parse(cls, text: str) -> "PVRequest":
        """Parse the string form; raises :class:`~pva.PVRequestError`."""
        return _Parser(text).parse()

    from_string = parse

    def _add_field(self, path: str) -> None:
        node = self.tree
        parts = path.split(".")
        if len(parts) > MAX_FIELD_DEPTH:
            raise PVRequestError(f"field path nested deeper than {MAX_FIELD_DEPTH}", path, 0)
        for part in parts:
            if part == OPTIONS:     # the member that carries options when encoded
                raise PVRequestError(f"{OPTIONS!r} is reserved for options", path,
                                     path.index(OPTIONS))
            node = node.setdefault(part, {})

    # ---- queries ----------------------------------------------------
    @functools.cached_property
    def nodes(self) -> int:
        """How many field names and options this request holds, its
        ``getField``/``putField`` selections included (what a server's memory
        budget charges for it).  Counted once: a request is not changed once
        it is in use (a decoded one is shared by every INIT that sent the
        same bytes)."""
        nodes = len(self.record_options)
        for part in (self, self.get_field, self.put_field):
            if part is None:
                continue
            for opts in part.field_options.values():
                nodes += len(opts)
            stack = [part.tree]
            while stack:
                tree = stack.pop()
                nodes += len(tree)
                stack.extend(tree.values())
        return nodes

    @property
    def fields(self) -> List[str]:
        """Selected leaf paths (dotted), in request order."""
        out: List[str] = []

        def walk(node: Tree, prefix: str) -> None:
            for name, sub in node.items():
                path = f"{prefix}.{name}" if prefix else name
                if sub:
                    walk(sub, path)
                else:
                    out.append(path)
        walk(self.tree, "")
        return out

    def option(self, name: str, default: Optional[str] = None) -> Optional[str]:
        """A record option as a string (``default`` if absent)."""
        return self.record_options.get(name, default)

    def bool_option(self, name: str, default: bool = False) -> bool:
        """A record option read as a boolean (``true``/``false``/``1``/``0``)."""
        v = self.record_options.get(name)
        if v is None:
            return default
        low = v.lower()
        if low in ("true", "1", "yes"):
            return True
        if low in ("false", "0", "no"):
            return False
        raise LocalProtocolError(f"option {name}={v!r} is not a boolean")

    def int_option(self, name: str, default: Optional[int] = None) -> Optional[int]:
        """A record option read as an integer."""
        v = self.record_options.get(name)
        if v is None:
            return default
        try:
            return int(v)
        except ValueError:
            raise LocalProtocolError(f"option {name}={v!r} is not an integer") from None

    def __str__(self) -> str:
        def fmt(node: Tree, prefix: str) -> List[str]:
            out = []
            for name, sub in node.items():
                path = f"{prefix}.{name}" if prefix else name
                opts = self.field_options.get(path)
                item = path
                if opts:
                    item += "[" + ",".join(f"{k}={v}" for k, v in opts.items()) + "]"
                if sub and opts:
                    out.append(item)
                if sub:
                    out.extend(fmt(sub, path))
                else:
                    out.append(item)
            return out
        text = "field(" + ",".join(fmt(self.tree, "")) + ")"
        if self.record_options:
            text += "record[" + ",".join(f"{k}={v}" for k, v in self.record_options.items()) + "]"
        for name, part in (("getField", self.get_field), ("putField", self.put_field)):
            if part is not None:
                text += name + str(part)[len("field"):]
        return text

    def __repr__(self) -> str:
        return f"PVRequest({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PVRequest):
            return NotImplemented
        return (self.tree, self.record_options, self.field_options, self.get_field,
                self.put_field) == (other.tree, other.record_options, other.field_options,
                                    other.get_field, other.put_field)

    # ---- wire structure ---------------------------------------------
    def to_structure(self) -> Tuple[FieldDesc, Dict[str, Any]]:
        """The request as ``(FieldDesc, value)`` ready to be encoded."""
        fdesc, fvalue = self._selection_structure()
        members = [("field", fdesc)]
        value: Dict[str, Any] = {"field": fvalue}
        if self.record_options:
            od, ov = _options_struct(self.record_options)
            members.append(("record", FieldDesc.struct([(OPTIONS, od)])))
            value["record"] = {OPTIONS: ov}
        for name, part in (("getField", self.get_field), ("putField", self.put_field)):
            if part is not None:
                pdesc, pvalue = part._selection_structure()
                members.append((name, pdesc))
                value[name] = pvalue
        return FieldDesc.struct(members), value

    def _selection_structure(self) -> Tuple[FieldDesc, Dict[str, Any]]:
        """The ``field`` member: one empty structure per selected name."""
        def build(node: Tree, prefix: str) -> Tuple[FieldDesc, Dict[str, Any]]:
            members = []
            value: Dict[str, Any] = {}
            for name, sub in node.items():
                path = f"{prefix}.{name}" if prefix else name
                d, v = build(sub, path)
                opts = self.field_options.get(path)
                if opts:
                    od, ov = _options_struct(opts)
                    d = FieldDesc.struct(list(d.fields) + [(OPTIONS, od)])
                    v = dict(v, _options=ov)
                members.append((name, d))
                value[name] = v
            return FieldDesc.struct(members), value
        return build(self.tree, "")

    @classmethod
    def from_structure(cls, desc: Optional[FieldDesc], value: Optional[Dict[str, Any]]) -> "PVRequest":
        """Rebuild a request from its wire structure (lenient, like pvxs)."""
        req = cls()
        if desc is None or desc.field_type != FieldType.struct:
            return req
        value = value or {}
        for name in _PARTS:
            fdesc = desc.children.get(name)
            if fdesc is not None and fdesc.field_type == FieldType.struct and not fdesc.is_array:
                req._part(name)._read_selection(fdesc, value.get(name) or {})
        rdesc = desc.children.get("record")
        if rdesc is not None and rdesc.field_type == FieldType.struct:
            odesc = rdesc.children.get(OPTIONS)
            if odesc is not None and odesc.field_type == FieldType.struct:
                req.record_options = _options_from(odesc, (value.get("record") or {}).get(OPTIONS) or {})
        return req

    def _read_selection(self, fdesc: FieldDesc, fvalue: Dict[str, Any]) -> None:
        def walk(d: FieldDesc, v: Dict[str, Any], prefix: str) -> None:
            for name, child in d.fields:
                if child.field_type != FieldType.struct or child.is_array:
                    continue
                cv = v.get(name) or {}
                if name == OPTIONS:
                    self.field_options[prefix] = _options_from(child, cv)
                    continue
                path = f"{prefix}.{name}" if prefix else name
                self._add_field(path)
                walk(child, cv, path)
        walk(fdesc, fvalue, "")

    def encode(self, order: str = "<", cache: Optional[IntrospectionCache] = None) -> bytes:
        """Type description + value, as sent in an INIT request."""
        desc, value = self.to_structure()
        return encode_field_desc_and_data(desc, value, order, cache)

    @classmethod
    def decode(cls, buf: Any, offset: int = 0, order: str = "<",
               cache: Optional[IntrospectionCache] = None) -> Tuple["PVRequest", int]:
        """Decode type description + value; returns ``(PVRequest, new_offset)``."""
        mv = buf if isinstance(buf, memoryview) else memoryview(buf)
        desc, offset = decode_field_desc(mv, offset, order, cache)
        value = None
        if desc is not None:
            value, offset = decode_value(desc, mv, offset, order, cache)
        return cls.from_structure(desc, value), offset

    def to_bitset(self, desc: FieldDesc) -> BitSet:
        """The fields of ``desc`` this request selects (pvxs ``request2mask``).

        Bit 0 is always set.  A selected sub-structure with no sub-selection
        selects all its members.  Names absent from ``desc`` are ignored, but
        if nothing matches a :class:`~pva.LocalProtocolError` is raised.  A
        request selecting nothing (``field()``) selects everything.
        """
        bit_of = desc.bit_of
        bits = {0}
        found = not self.tree
        for path in _all_paths(self.tree):
            b = bit_of.get(path)
            if b is None:
                continue
            found = True
            bits.add(b)
            sub = desc[path]
            if _subtree(self.tree, path) == {} and sub.field_type == FieldType.struct and not sub.is_array:
                bits.update(range(b + 1, b + sub.num_bits))
        if not found:
            raise LocalProtocolError("pvRequest must select at least one field")
        if bits == {0}:
            bits = set(range(desc.num_bits))
        return BitSet(bits)


class PVRequestStruct:
    """caproto.pva's pvRequest structure builder.

    caproto.pva's ``PVRequestStruct`` is a structure type;
    :meth:`from_string` gives ours, a plain :class:`FieldDesc`
    (``PVRequest.parse(text).to_structure()[0]``; :class:`PVRequest` holds
    the parsed request and its value).
    """

    @staticmethod
    def from_string(request: str) -> FieldDesc:
        """The structure of the pvRequest ``request``.

        Raises
        ------
        PVRequestError
            ``request`` is not valid pvRequest syntax.
        """
        return PVRequest.parse(request).to_structure()[0]


def _all_paths(tree: Tree, prefix: str = "") -> Iterable[str]:
    for name, sub in tree.items():
        path = f"{prefix}.{name}" if prefix else name
        yield path
        yield from _all_paths(sub, path)


def _subtree(tree: Tree, path: str) -> Tree:
    for part in path.split("."):
        tree = tree[part]
    return tree


def _option_str(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _options_struct(opts: Dict[str, str]) -> Tuple[FieldDesc, Dict[str, str]]:
    names = sorted(opts)
    return (FieldDesc.struct([(n, FieldDesc(FieldType.string)) for n in names]),
            {n: opts[n] for n in names})


def _options_from(desc: FieldDesc, value: Dict[str, Any]) -> Dict[str, str]:
    out = {}
    for name, child in desc.fields:
        if child.field_type.is_complex or child.is_array:
            continue
        v = value.get(name)
        if v is not None:
            out[name] = _option_str(v)
    return out


def parse_pvrequest(text: str) -> PVRequest:
    """Parse a pvRequest string (same as :meth:`PVRequest.parse`)."""
    return PVRequest.parse(text)
