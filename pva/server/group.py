"""``PVAGroup`` / ``pvaproperty``: declare a server's PVs as a class (caproto.pva 0.8 API).

Example
-------
::

    from pva.server import PVAGroup, pvaproperty, ioc_arg_parser, run

    class Demo(PVAGroup):
        value = pvaproperty(value=1.5)

        @value.putter
        async def value(self, instance, update):
            update.accept('value')          # ignore changes to other fields

    ioc_options, run_options = ioc_arg_parser(default_prefix='demo:', desc='demo')
    run(Demo(**ioc_options).pvdb, **run_options)

Writing in a handler or a background loop goes through an *overlay* of the
dataclass that records the changes; they are applied and published to
monitors in one commit when the block ends::

    async with self.value as value:
        value.value = 2.0
        value.alarm.severity = 1
"""
from __future__ import annotations

import contextlib
import copy
import dataclasses
import inspect
import logging
import os
import socket
import time
import types
from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np

from .. import nt
from .._dataclass import (dataclass_from_field_desc, from_value, get_pv_structure,
                          is_pva_dataclass, is_pva_dataclass_instance, pva_dataclass)
from .._introspection import FieldType
from .._pvrequest import PVRequest
from .._values import DataWithBitSet, FieldDescAndData
from .common import (AuthenticationError, AuthOperation, DatabaseDefinitionError,
                     DataWrapperBase, timestamp_changes)
from .overlay import DataclassOverlayInstance, WriteUpdate, _prune

__all__ = ["PVAGroup", "PVAGroupMeta", "pvaproperty", "WriteUpdate", "GroupDataWrapper",
           "DataclassOverlayInstance", "ServerRPC", "SignatureDefinitionError",
           "verify_getter", "verify_putter", "verify_rpc_call", "verify_startup",
           "verify_shutdown", "verify_processor", "expand_macros", "NTURIArguments",
           "rpc_argument"]

module_logger = logging.getLogger(__name__)


class SignatureDefinitionError(DatabaseDefinitionError):
    """A hook with the wrong signature (or not ``async def``)."""


def expand_macros(pv: str, macros: Dict[str, str]) -> str:
    """Expand a PV name with Python ``{format-style}`` macros."""
    return pv.format(**macros)


def _verify(kind: str, args: Sequence[str]):
    def verify(attr: str, func: Callable, *, read_only: bool = False) -> Callable:
        if not inspect.iscoroutinefunction(func):
            raise SignatureDefinitionError(f"{attr}: the {kind} must be an async def")
        if read_only and kind in ("putter", "RPC call", "processor"):
            raise SignatureDefinitionError(f"{attr}: a read-only PV cannot have a {kind}")
        sig = inspect.signature(func)
        try:
            sig.bind(*args)
        except TypeError:
            raise SignatureDefinitionError(
                f"{attr}: invalid signature for the {kind} {func.__qualname__}{sig}; "
                f"expected ({', '.join(args)})") from None
        return func
    verify.__name__ = f"verify_{kind.split()[-1]}"
    verify.__doc__ = f"Check the signature of a {kind}: async def f({', '.join(args)})."
    return verify


verify_getter = _verify("getter", ("group", "instance", "request"))
verify_putter = _verify("putter", ("group", "instance", "write_update"))
verify_rpc_call = _verify("RPC call", ("group", "instance", "data"))
verify_startup = _verify("startup", ("group", "instance", "async_lib"))
verify_shutdown = _verify("shutdown", ("group", "instance", "async_lib"))
verify_processor = _verify("processor", ("group", "instance", "request"))


_overlays: ContextVar[Dict[str, List[DataclassOverlayInstance]]] = ContextVar("pva_overlays")


class GroupDataWrapper(DataWrapperBase):
    """A :class:`DataWrapperBase` whose operations call a group's hooks.

    ``async with group.prop as prop: ...`` or ``async with group.prop(changes={...})
    as prop: ...`` collect changes and commit them (one monitor update) at the end.
    """

    write_update_class = WriteUpdate

    def __init__(self, name: str, data: Any, *, group: "PVAGroup", prop: "pvaproperty"):
        super().__init__(name=name, data=data)
        self.group = group
        self.prop = prop
        hooks = prop.hooks
        self.user_read = (types.MethodType(hooks.get, group) if hooks.get
                          else group.group_read)
        self.user_write = (types.MethodType(hooks.put, group) if hooks.put
                           else group.group_write)
        self.user_call = types.MethodType(hooks.call, group) if hooks.call else None
        self.user_process = (types.MethodType(hooks.process, group) if hooks.process
                             else None)
        self.user_put = types.MethodType(hooks.put, group) if hooks.put else None
        if hooks.startup is not None:
            startup = types.MethodType(hooks.startup, group)
            self.server_startup = lambda async_lib: startup(self, async_lib)
        if hooks.shutdown is not None:
            shutdown = types.MethodType(hooks.shutdown, group)
            self.server_shutdown = lambda async_lib: shutdown(self, async_lib)

    @contextlib.asynccontextmanager
    async def __call__(self, *, changes: Optional[dict] = None):
        overlay = DataclassOverlayInstance(self.data, owner=self, changes=changes)
        yield overlay
        await self.commit(_prune(overlay._changes_))

    async def __aenter__(self) -> DataclassOverlayInstance:
        stacks = _overlays.get(None)
        if stacks is None:
            stacks = {}
            _overlays.set(stacks)
        overlay = DataclassOverlayInstance(self.data, owner=self)
        stacks.setdefault(self.name, []).append(overlay)
        return overlay

    async def __aexit__(self, exc_type, exc, tb) -> None:
        overlay = _overlays.get()[self.name].pop()
        if exc_type is None:
            await self.commit(_prune(overlay._changes_))

    async def authorize(self, operation: AuthOperation, *, authorization: dict,
                        request: Optional[PVRequest] = None) -> Any:
        if operation is AuthOperation.write and self.prop.read_only:  # put, process, ...
            raise AuthenticationError(f"{self.name} is read-only")
        if operation is AuthOperation.call and self.user_call is None:
            raise NotImplementedError(f"{self.name} does not support RPC")
        return self.data

    async def read(self, request: PVRequest) -> Any:
        async with self() as overlay:
            await self.user_read(overlay, request)
        return self.data

    async def write(self, update: DataWithBitSet) -> None:
        changes = update.data if update.data is not None else {}
        async with self(changes=changes) as overlay:
            wu = self.write_update_class(owner=self, overlay=overlay, changes=changes)
            await self.user_write(overlay, wu)

    async def process(self, request: PVRequest) -> None:
        """PROCESS: run the property's processor, else its putter with the
        current ``value`` (as a processed EPICS output record writes its value
        out), then commit with a fresh ``timeStamp``; without either hook, only
        the time stamp is refreshed and the value re-posted."""
        desc = self.structure
        stamp = timestamp_changes(desc)
        if self.user_process is None and self.user_put is None:
            await super().process(request)
            return
        changes: Dict[str, Any] = {}
        async with self(changes=changes) as overlay:
            if self.user_process is not None:
                await self.user_process(overlay, request)
            else:
                if "value" in desc.children:
                    changes["value"] = self.data.value
                wu = self.write_update_class(owner=self, overlay=overlay, changes=changes)
                await self.user_put(overlay, wu)
            for key, value in stamp.items():   # unless the hook set its own
                changes.setdefault(key, value)

    async def call(self, request: PVRequest, data: FieldDescAndData) -> Any:
        if self.user_call is None:
            raise NotImplementedError(f"{self.name} does not support RPC")
        arg = rpc_argument(data)
        async with self() as overlay:
            return await self.user_call(overlay, arg)


def rpc_argument(data: FieldDescAndData) -> Any:
    """The argument an RPC handler receives for a request's ``data``.

    A structure becomes an instance of its pva dataclass; an ``NTURI`` (what
    ``pvcall``, p4p's ``rpcproxy`` and pvxs send) becomes an
    :class:`NTURIArguments`, whose query arguments read as attributes.
    """
    arg = data.data
    desc = data.interface
    if desc is None or desc.field_type != FieldType.struct or not isinstance(arg, dict):
        return arg
    instance = from_value(dataclass_from_field_desc(desc), arg)
    if nt.builder_for(desc.type_id) is nt.NTURI and "query" in desc.children:
        return NTURIArguments(instance)
    return instance


class NTURIArguments(Mapping):
    """The arguments of an RPC call made with an ``epics:nt/NTURI`` request.

    ``args.x`` and ``args["x"]`` are the query argument ``x`` (as the client
    typed it: strings from ``pvcall``, numbers from p4p's ``rpcproxy``);
    ``args.scheme``, ``args.authority``, ``args.path`` and ``args.query`` are
    the NTURI's own fields (an argument named like one of them is read as an
    item).  As a mapping it holds the query arguments, so
    ``handler(**args)`` passes them as keywords, as p4p's ``NTURIDispatcher``
    does.
    """

    __slots__ = ("_uri",)
    _OWN = ("scheme", "authority", "path", "query")

    def __init__(self, uri: Any):
        object.__setattr__(self, "_uri", uri)

    def __getattr__(self, attr: str) -> Any:
        uri = object.__getattribute__(self, "_uri")
        if attr in NTURIArguments._OWN:
            return getattr(uri, attr, "" if attr != "query" else None)
        try:
            return self[attr]
        except KeyError:
            raise AttributeError(f"the RPC request has no argument {attr!r} "
                                 f"(arguments: {', '.join(self) or 'none'})") from None

    def __getitem__(self, key: str) -> Any:
        query = self._uri.query
        if isinstance(query, dict):
            return query[key]
        if key not in get_pv_structure(query).children:
            raise KeyError(key)
        return getattr(query, key)

    def __iter__(self):
        query = self._uri.query
        return iter(query if isinstance(query, dict) else get_pv_structure(query).children)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __repr__(self) -> str:
        return f"NTURIArguments(path={self.path!r}, {dict(self)!r})"


@dataclasses.dataclass
class PvapropertyHooks:
    get: Optional[Callable]
    put: Optional[Callable]
    startup: Optional[Callable]
    shutdown: Optional[Callable]
    call: Optional[Callable]
    process: Optional[Callable] = None


class pvaproperty:
    """A property-like descriptor for a PV of a :class:`PVAGroup`.

    Parameters
    ----------
    get, put, startup, shutdown, call, process : async callable, optional
        Hooks (usually set with the decorators ``getter``, ``putter``,
        ``startup``, ``shutdown``, ``call`` and ``processor``).
    value : pva dataclass (instance), or int/float/str/bool, or a list of one of those
        The initial value; plain Python values become NTScalar / NTScalarArray.
    name : str, optional
        The PV name suffix (defaults to the attribute name).
    read_only : bool, optional
        Refuse puts.
    doc : str, optional
    **cls_kwargs
        Keyword arguments for the dataclass.
    """

    def __init__(self, get=None, put=None, startup=None, shutdown=None, call=None, *,
                 value, name=None, alarm_group=None, doc=None, read_only=None, process=None,
                 **cls_kwargs):
        self.attr: Optional[str] = None
        self.__doc__ = doc if doc is not None else (get.__doc__ if get is not None else None)
        self._get, self._put, self._call = get, put, call
        self._process = process
        self._startup, self._shutdown = startup, shutdown
        self._name = name
        self._value = value
        self._alarm_group = alarm_group
        self._read_only = bool(read_only)
        self._cls_kwargs = cls_kwargs

    def __repr__(self) -> str:
        return f"<pvaproperty {self.attr} name={self._name!r}>"

    def __get__(self, instance, owner):
        if instance is None:
            return self
        return instance.attr_pvdb[self.attr]

    def __set__(self, instance, value) -> None:
        instance.attr_pvdb[self.attr] = value

    def __delete__(self, instance) -> None:
        del instance.attr_pvdb[self.attr]

    def __set_name__(self, owner, name: str) -> None:
        self.attr = name
        if self._name is None:
            self._name = name

    @property
    def name(self) -> str:
        """The PV name suffix."""
        return self._name

    @property
    def read_only(self) -> bool:
        return self._read_only

    @property
    def cls_kwargs(self) -> dict:
        return dict(self._cls_kwargs)

    @property
    def value(self) -> Any:
        return self._value

    def getter(self, get):
        self._get = verify_getter(self.attr, get)
        return self

    def putter(self, put):
        self._put = verify_putter(self.attr, put, read_only=self._read_only)
        return self

    def startup(self, startup):
        self._startup = verify_startup(self.attr, startup)
        return self

    def shutdown(self, shutdown):
        self._shutdown = verify_shutdown(self.attr, shutdown)
        return self

    def call(self, call):
        self._call = verify_rpc_call(self.attr, call, read_only=self._read_only)
        return self

    def processor(self, process):
        self._process = verify_processor(self.attr, process, read_only=self._read_only)
        return self

    @property
    def hooks(self) -> PvapropertyHooks:
        return PvapropertyHooks(self._get, self._put, self._startup, self._shutdown,
                                self._call, self._process)


class PVAGroupMeta(type):
    """Collects the :class:`pvaproperty` attributes of a group class (and its bases)."""

    @staticmethod
    def find_pvaproperties(dct):
        for attr, value in dct.items():
            if not attr.startswith("_") and isinstance(value, pvaproperty):
                yield attr, value

    def __new__(metacls, name, bases, dct):
        pvs: Dict[str, pvaproperty] = {}
        for base in reversed(bases):
            pvs.update(getattr(base, "_pvs_", {}))
        pvs.update(metacls.find_pvaproperties(dct))
        dct["_pvs_"] = pvs
        cls = super().__new__(metacls, name, bases, dct)
        verify_getter("group_read", cls.group_read)
        verify_putter("group_write", cls.group_write)
        return cls


#: numpy dtype (native order) -> NTScalarArray dataclass of that element type
_NT_ARRAY_BY_DTYPE = {np.dtype(ft.struct_char): getattr(nt, "NTScalarArray" + suffix)
                      for ft, suffix in nt._SUFFIX.items() if ft != FieldType.string}


class PVAGroup(metaclass=PVAGroupMeta):
    """Class which groups a set of PVs for a high-level server.

    Parameters
    ----------
    prefix : str
        Prefix of every PV name of the group.
    macros : dict, optional
        ``{name}`` macros expanded in the PV names.
    parent : PVAGroup, optional
    name : str, optional
        Defaults to the class name.
    """

    _wrapper_class_ = GroupDataWrapper

    type_map = {int: nt.NTScalarInt64, float: nt.NTScalarFloat64, str: nt.NTScalarString,
                bool: nt.NTScalarBoolean}
    array_type_map = {int: nt.NTScalarArrayInt64, float: nt.NTScalarArrayFloat64,
                      str: nt.NTScalarArrayString, bool: nt.NTScalarArrayBoolean}

    def __init__(self, prefix: str, *, macros: Optional[dict] = None, parent=None,
                 name: Optional[str] = None):
        self.parent = parent
        self.macros = dict(macros or {})
        self.prefix = prefix
        self.pvdb: Dict[str, GroupDataWrapper] = {}
        self.attr_pvdb: Dict[str, GroupDataWrapper] = {}
        self.attr_to_pvname: Dict[str, str] = {}
        self.groups: Dict[str, "PVAGroup"] = {}
        self.name = type(self).__name__ if name is None else name
        base = parent.log.name if parent is not None else type(self).__module__
        self.log = logging.getLogger(f"{base}.{type(self).__name__}")
        for attr, prop in self._pvs_.items():
            self._create_pv(attr, prop)

    def _instantiate_value_from_pvaproperty(self, attr: str, prop: pvaproperty) -> Any:
        value = prop.value
        if is_pva_dataclass_instance(value):
            return copy.deepcopy(value)
        if is_pva_dataclass(value):
            return value(**prop.cls_kwargs)
        if isinstance(value, np.ndarray):
            return self._array_instance(attr, value, prop)
        if isinstance(value, (list, tuple)):
            if not value:
                raise DatabaseDefinitionError(f"{attr}: an empty list has no element type")
            cls = self.array_type_map[type(value[0])]
            return cls(value=list(value), **prop.cls_kwargs)   # numpy: see DataWrapperBase
        try:
            cls = self.type_map[type(value)]
        except KeyError:
            raise DatabaseDefinitionError(
                f"{attr}: cannot serve a value of type {type(value).__name__}") from None
        return cls(value=value, **prop.cls_kwargs)

    def _array_instance(self, attr: str, value: np.ndarray, prop: pvaproperty) -> Any:
        """An NTScalarArray of the array's own element type (a copy of the array)."""
        native = value.dtype.newbyteorder("=")
        cls = _NT_ARRAY_BY_DTYPE.get(native)
        if cls is None or value.ndim != 1:
            what = f"dtype {value.dtype}" if cls is None else f"shape {value.shape}"
            raise DatabaseDefinitionError(
                f"{attr}: an NTScalarArray holds a one-dimensional numeric or bool array, "
                f"not {what} (images: nt.NTNDArray)")
        return cls(value=np.array(value, dtype=native), **prop.cls_kwargs)

    def _create_pv(self, attr: str, prop: pvaproperty) -> GroupDataWrapper:
        value = self._instantiate_value_from_pvaproperty(attr, prop)
        pvname = expand_macros(self.prefix + prop.name, self.macros)
        if pvname in self.pvdb:
            raise DatabaseDefinitionError(f"{pvname} defined twice (attribute {attr})")
        wrapped = self._wrapper_class_(name=pvname, data=value, group=self, prop=prop)
        self.pvdb[pvname] = wrapped
        self.attr_pvdb[attr] = wrapped
        self.attr_to_pvname[attr] = pvname
        return wrapped

    async def group_read(self, instance, request):
        """Read of a PV without a getter: nothing to do."""

    async def group_write(self, instance, update: WriteUpdate):
        """Put to a PV without a putter: every change is accepted."""
        self.log.debug("group_write: %s = %s", instance, update)


class ServerRPC(PVAGroup):
    """The ``server`` RPC PV (``pvlist``, ``pvinfo``-style introspection).

    ``op`` in the NTURI query: ``channels`` (sorted PV names), ``info``, ``help``.
    """

    @pva_dataclass
    class HelpInfo:
        value: str

    @pva_dataclass
    class ChannelListing:
        value: List[str]

    @pva_dataclass
    class ServerInfo:
        version: str
        implLang: str
        host: str
        process: str
        startTime: str

    server = pvaproperty(value=ServerInfo(), name="server")

    def __init__(self, *args, server_instance, **kwargs):
        super().__init__(*args, **kwargs)
        self.server_instance = server_instance
        self._start_time = time.strftime("%Y-%m-%dT%H:%M:%S")

    @server.call
    async def server(self, instance, data):
        query = getattr(data, "query", None)
        op = getattr(query, "op", None)
        if op is None and isinstance(query, dict):
            op = query.get("op")
        if op == "help":
            return self.HelpInfo(value="ops: channels, info, help")
        if op == "info":
            from .. import __name__ as pkg
            return self.ServerInfo(version=pkg, implLang="python", host=socket.gethostname(),
                                   process=str(os.getpid()), startTime=self._start_time)
        if op == "channels":
            names = sorted(self.server_instance.pvdb)
            return self.ChannelListing(value=[n for n in names if n != self.server.name])
        raise ValueError(f"malformed request (expected query.op in channels, info, help): "
                         f"{data!r}")
