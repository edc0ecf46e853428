"""``pvproperty``: a PV declared in a :class:`~caffi.server.PVGroup` (caproto's API).

A ``pvproperty`` is a descriptor that holds a :class:`PVSpec` (an immutable
tuple: hooks, name, type, initial value, record type ...).  When a group is
instantiated each spec makes one :class:`PvpropertyData` (a
:class:`~caffi.protocol.ChannelData` subclass chosen from the type), bound
to the group: reading the attribute of the group instance gives it.

Hooks (all ``async``; ``group`` is the PVGroup instance, ``instance`` the
PvpropertyData)::

    getter(group, instance)              -> value to store before a read, or None
    putter(group, instance, value)       -> value to store (None: the value written);
                                            raise to refuse (the client gets an error)
    startup(group, instance, async_lib)  run once the server is up
    shutdown(group, instance, async_lib) run when it stops
    scan(group, instance, async_lib)     called every ``period`` seconds (``@prop.scan``)
"""
import enum
import inspect
import time
import typing
from collections import namedtuple
from types import MethodType
from typing import Any, Callable, Dict, Optional

import numpy as np

from ..protocol import (AccessRights, AlarmSeverity, AlarmStatus, CaprotoValueError,
                        ChannelAlarm, ChannelByte, ChannelChar, ChannelData, ChannelDouble,
                        ChannelEnum, ChannelFloat, ChannelInt64, ChannelInteger,
                        ChannelShort, ChannelString, ChannelType)

__all__ = [
    "PVSpec", "pvproperty", "PvpropertyData", "PvpropertyReadOnlyData", "FieldSpec",
    "FieldProxy", "scan_wrapper", "check_signature", "HookSignatureError",
    "PvpropertyChar", "PvpropertyByte", "PvpropertyShort", "PvpropertyInteger",
    "PvpropertyFloat", "PvpropertyDouble", "PvpropertyString", "PvpropertyEnum",
    "PvpropertyBoolEnum", "PvpropertyCharRO", "PvpropertyByteRO", "PvpropertyShortRO",
    "PvpropertyIntegerRO", "PvpropertyFloatRO", "PvpropertyDoubleRO", "PvpropertyStringRO",
    "PvpropertyEnumRO", "PvpropertyBoolEnumRO", "PvpropertyInt64", "PvpropertyInt64RO",
    "pvspec_type_map",
    "pvspec_type_map_read_only",
]


class HookSignatureError(TypeError):
    """A getter/putter/startup/shutdown/scan hook with the wrong signature."""


_HOOK_ARGS = {"get": ("group", "instance"), "put": ("group", "instance", "value"),
              "startup": ("group", "instance", "async_lib"),
              "shutdown": ("group", "instance", "async_lib"),
              "scan": ("group", "instance", "async_lib")}


def check_signature(kind: str, func: Optional[Callable], expect_method: bool = True) -> None:
    """Refuse a hook that is not ``async`` or cannot take its arguments."""
    if func is None:
        return
    args = _HOOK_ARGS[kind] if expect_method else _HOOK_ARGS[kind][1:]
    try:
        inspect.signature(func).bind(*args)
        ok = inspect.iscoroutinefunction(func)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise HookSignatureError("the %s hook %s must be callable as: async def %s(%s)"
                                 % (kind, getattr(func, "__name__", func),
                                    getattr(func, "__name__", "hook"), ", ".join(args)))


class PVSpec(namedtuple("PVSpec", "get put startup shutdown attr name dtype value max_length "
                                  "alarm_group read_only doc fields scan record cls_kwargs")):
    """Everything needed to make the ChannelData of one pvproperty."""
    __slots__ = ()

    def __new__(cls, get=None, put=None, startup=None, shutdown=None, attr=None, name=None,
                dtype=None, value=None, max_length=None, alarm_group=None, read_only=None,
                doc=None, fields=None, scan=None, record=None, cls_kwargs=None):
        if dtype is None:
            if value is None:
                dtype = int
            elif isinstance(value, (list, tuple)) or hasattr(value, "dtype"):
                dtype = _array_dtype(value)
            else:
                dtype = type(value)
        if put is not None and read_only:
            raise CaprotoValueError("a read-only pvproperty cannot have a putter")
        if name and "." in name and record:
            raise CaprotoValueError("cannot give record= to a PV whose name has a '.': %r"
                                    % name)
        return super().__new__(cls, get, put, startup, shutdown, attr, name, dtype, value,
                               max_length, alarm_group, read_only, doc, fields, scan, record,
                               cls_kwargs)

    def new_names(self, attr=None, name=None):
        return self._replace(attr=self.attr if attr is None else attr,
                             name=self.name if name is None else name)

    def get_data_class(self, group=None):
        type_map = group.type_map if group is not None else pvspec_type_map
        ro_map = group.type_map_read_only if group is not None else pvspec_type_map_read_only
        dtype = typing.get_origin(self.dtype) or self.dtype
        if inspect.isclass(dtype):
            if issubclass(dtype, enum.IntEnum):
                dtype = enum.IntEnum
            elif issubclass(dtype, ChannelData):
                return dtype
        if self.record in INT64_RECORDS and dtype in (int, np.int64):
            return PvpropertyInt64RO if self.read_only else PvpropertyInt64
        try:
            return (ro_map if self.read_only else type_map)[dtype]
        except KeyError:
            raise CaprotoValueError("no pvproperty class for dtype %r" % (dtype,)) from None

    def get_instantiation_info(self, group=None):
        if group is None:
            pvname = self.name
            alarm = self.alarm_group
        else:
            pvname = group.prefix + expand_macros(self.name, group.macros)
            alarm = group.alarms[self.alarm_group]
        cls = self.get_data_class(group)
        if alarm is not None and not isinstance(alarm, ChannelAlarm):
            raise CaprotoValueError("alarm_group of %r must be a ChannelAlarm" % pvname)
        kwargs = dict(self.cls_kwargs or {})
        value = self.value
        dtype = typing.get_origin(self.dtype) or self.dtype
        if inspect.isclass(dtype) and issubclass(dtype, enum.IntEnum) \
                and "enum_strings" not in kwargs:
            kwargs["enum_strings"] = tuple(m.name for m in dtype)
            if isinstance(value, enum.IntEnum):
                value = value.name
        if value is None:
            value = (group.default_values.get(self.dtype, cls.default_value)
                     if group is not None else cls.default_value)
        return cls, dict(group=group, pvspec=self, value=value, max_length=self.max_length,
                         alarm=alarm, pvname=pvname, record=self.record, **kwargs)

    def create(self, group=None):
        cls, kwargs = self.get_instantiation_info(group)
        try:
            inst = cls(**kwargs)
        except Exception as ex:
            raise CaprotoValueError("cannot make %s for %r: %s"
                                    % (cls.__name__, kwargs.get("pvname"), ex)) from ex
        inst.__doc__ = self.doc
        return inst


def _array_dtype(value):
    if hasattr(value, "dtype"):
        kind = value.dtype.kind
        return {"f": float, "i": int, "u": int, "b": bool, "S": bytes, "U": str}.get(kind, float)
    return type(value[0]) if len(value) else float


def expand_macros(pv: str, macros: Dict[str, str]) -> str:
    """Expand ``{name}`` macros of a PV name."""
    return pv.format(**macros)


#: (display limit, the control limit that follows it with control_is_display)
CONTROL_OF_DISPLAY = (("upper_disp_limit", "upper_ctrl_limit"),
                      ("lower_disp_limit", "lower_ctrl_limit"))


def control_follows_display(values: dict) -> None:
    """Set the control limits in ``values`` (a ChannelData's data, or
    metadata being written) to the display limits it holds."""
    for disp, ctrl in CONTROL_OF_DISPLAY:
        if values.get(disp) is not None:
            values[ctrl] = values[disp]


class PvpropertyData:
    """Mixed into a ChannelData class: the data of a pvproperty, bound to its group."""

    #: the control limits follow the display limits (an input record's: see
    #: caffi.server.records.RECORD_BEHAVIOUR)
    control_is_display = False

    def __init__(self, *, pvname, group, pvspec, doc=None, record=None, logger=None,
                 **kwargs):
        import logging
        self.pvname = pvname
        self.pvspec = pvspec
        self.group = group
        if group is not None:
            self.name = "%s.%s" % (group.name, pvspec.attr)
            self.log = group.log
            self.getter = MethodType(pvspec.get, group) if pvspec.get is not None else None
            self.putter = MethodType(pvspec.put, group) if pvspec.put is not None else None
            bind = (lambda f: MethodType(f, group) if f is not None else None)
        else:
            self.name = pvspec.attr or pvspec.name
            self.log = logger or logging.getLogger("caffi.server")
            self.getter, self.putter = pvspec.get, pvspec.put
            bind = (lambda f: f)
        self.startup = bind(pvspec.startup)
        self.shutdown = bind(pvspec.shutdown)
        self.scan = bind(pvspec.scan)
        if group is not None and self.getter is None and \
                type(group).group_read is not _default_group_read:
            self.getter = group.group_read
        if group is not None and self.putter is None and \
                type(group).group_write is not _default_group_write:
            self.putter = group.group_write
        if doc is not None:
            self.__doc__ = doc
        self.record_type = record
        kwargs.pop("reported_record_type", None)
        super().__init__(reported_record_type=_record_name(record) or "caproto", **kwargs)
        self._field_inst = None
        if record is not None:
            from .records import apply_behaviour
            apply_behaviour(self, _record_name(record))

    def _apply_metadata(self, metadata) -> int:
        if self.control_is_display:
            control_follows_display(metadata)
        return super()._apply_metadata(metadata)

    @property
    def has_read_hook(self) -> bool:
        """True if a read must run the getter (or a subclass's read) first."""
        return self.getter is not None or type(self).read is not PvpropertyData.read

    @property
    def field_inst(self):
        """The record's fields (a group of field PVs), made on first use."""
        if self._field_inst is None and self.record_type is not None:
            from .records import make_fields
            self._field_inst = make_fields(self)
        return self._field_inst

    @property
    def fields(self) -> Dict[str, ChannelData]:
        inst = self.field_inst
        return inst.pvdb if inst is not None else {}

    def get_field(self, field: str) -> ChannelData:
        """The PV of a record field (``'VAL'`` or ``''``: this one); KeyError if none."""
        if not field or field == "VAL":
            return self
        return self.fields[field]

    async def read(self, data_type):
        if self.getter is not None:
            value = await self.getter(self)
            if value is not None:
                await self.write(value)
        return await super().read(data_type)

    def verify_value(self, value):
        """The checks of the data class, then the putter (an awaitable, as
        ``ChannelData.verify_value``; without a putter the data class's own,
        one coroutine less per write)."""
        if self.putter is None:
            return super().verify_value(value)
        return self._verify_and_put(value)

    async def _verify_and_put(self, value):
        value = await super().verify_value(value)
        return await self.putter(self, value)

    async def update_fields(self, value):
        if self._field_inst is not None:
            await self._field_inst.value_write_hook(self, value)

    def _post(self, flags):
        super()._post(flags)
        if self._field_inst is not None:
            self._field_inst.parent_posted(flags)

    async def server_startup(self, async_lib):
        if self.startup is not None:
            await self.startup(self, async_lib)

    async def server_shutdown(self, async_lib):
        if self.shutdown is not None:
            await self.shutdown(self, async_lib)

    async def server_scan(self, async_lib):
        if self.scan is not None:
            await self.scan(self, async_lib)


async def _default_group_read(self, instance):
    """Generic read for PVs without a getter (nothing to do)."""


async def _default_group_write(self, instance, value):
    """Generic write for PVs without a putter: store the value."""
    return value


def _record_name(record):
    if record is None or isinstance(record, str):
        return record
    return getattr(record, "_record_type", None)


class PvpropertyReadOnlyData(PvpropertyData):
    """Read-only over Channel Access (the server's own writes still work)."""

    def check_access(self, hostname, username):
        return AccessRights.READ


def _make(name, base, ro=False, doc=""):
    bases = (PvpropertyReadOnlyData if ro else PvpropertyData, base)
    return type(name, bases, {"__doc__": doc, "__module__": __name__})


PvpropertyChar = _make("PvpropertyChar", ChannelChar, doc="Read-write text as CHAR.")
PvpropertyByte = _make("PvpropertyByte", ChannelByte, doc="Read-write bytes as CHAR.")
PvpropertyShort = _make("PvpropertyShort", ChannelShort, doc="Read-write SHORT (16 bits).")
PvpropertyInteger = _make("PvpropertyInteger", ChannelInteger, doc="Read-write LONG (32 bits).")
PvpropertyFloat = _make("PvpropertyFloat", ChannelFloat, doc="Read-write FLOAT (32 bits).")
PvpropertyDouble = _make("PvpropertyDouble", ChannelDouble, doc="Read-write DOUBLE (64 bits).")
PvpropertyString = _make("PvpropertyString", ChannelString, doc="Read-write STRING.")
PvpropertyEnum = _make("PvpropertyEnum", ChannelEnum, doc="Read-write ENUM.")
PvpropertyCharRO = _make("PvpropertyCharRO", ChannelChar, True, "Read-only text as CHAR.")
PvpropertyByteRO = _make("PvpropertyByteRO", ChannelByte, True, "Read-only bytes as CHAR.")
PvpropertyShortRO = _make("PvpropertyShortRO", ChannelShort, True, "Read-only SHORT.")
PvpropertyIntegerRO = _make("PvpropertyIntegerRO", ChannelInteger, True, "Read-only LONG.")
PvpropertyFloatRO = _make("PvpropertyFloatRO", ChannelFloat, True, "Read-only FLOAT.")
PvpropertyDoubleRO = _make("PvpropertyDoubleRO", ChannelDouble, True, "Read-only DOUBLE.")
PvpropertyStringRO = _make("PvpropertyStringRO", ChannelString, True, "Read-only STRING.")
PvpropertyEnumRO = _make("PvpropertyEnumRO", ChannelEnum, True, "Read-only ENUM.")
PvpropertyInt64 = _make("PvpropertyInt64", ChannelInt64,
                        doc="Read-write 64-bit integer (DOUBLE over CA, as an int64in's VAL).")
PvpropertyInt64RO = _make("PvpropertyInt64RO", ChannelInt64, True,
                          "Read-only 64-bit integer (DOUBLE over CA).")
#: record types whose integer value is 64 bits wide (their pvproperty with an
#: integer value: PvpropertyInt64)
INT64_RECORDS = ("int64in", "int64out")


class _BoolEnum:
    def __init__(self, *, enum_strings=None, **kwargs):
        super().__init__(enum_strings=enum_strings or ("Off", "On"), **kwargs)


PvpropertyBoolEnum = type("PvpropertyBoolEnum", (_BoolEnum, PvpropertyEnum),
                          {"__doc__": "Read-write ENUM with Off/On.", "__module__": __name__})
PvpropertyBoolEnumRO = type("PvpropertyBoolEnumRO", (_BoolEnum, PvpropertyEnumRO),
                            {"__doc__": "Read-only ENUM with Off/On.", "__module__": __name__})

pvspec_type_map = {
    str: PvpropertyChar, bytes: PvpropertyByte, int: PvpropertyInteger,
    float: PvpropertyDouble, bool: PvpropertyBoolEnum, enum.IntEnum: PvpropertyEnum,
    ChannelType.STRING: PvpropertyString, ChannelType.INT: PvpropertyShort,
    ChannelType.LONG: PvpropertyInteger, ChannelType.DOUBLE: PvpropertyDouble,
    ChannelType.FLOAT: PvpropertyFloat, ChannelType.ENUM: PvpropertyEnum,
    ChannelType.CHAR: PvpropertyChar,
}
_RO = {PvpropertyChar: PvpropertyCharRO, PvpropertyByte: PvpropertyByteRO,
       PvpropertyShort: PvpropertyShortRO, PvpropertyInteger: PvpropertyIntegerRO,
       PvpropertyFloat: PvpropertyFloatRO, PvpropertyDouble: PvpropertyDoubleRO,
       PvpropertyString: PvpropertyStringRO, PvpropertyEnum: PvpropertyEnumRO,
       PvpropertyBoolEnum: PvpropertyBoolEnumRO}
pvspec_type_map_read_only = {k: _RO[v] for k, v in pvspec_type_map.items()}
for _np_type in ("float64", "float32", "int32", "int16", "int64", "uint8"):
    _t = getattr(np, _np_type)
    _cls = {"f": PvpropertyDouble, "i": PvpropertyInteger, "u": PvpropertyByte}[
        np.dtype(_t).kind]
    if _np_type == "float32":
        _cls = PvpropertyFloat
    elif _np_type == "int16":
        _cls = PvpropertyShort
    pvspec_type_map[_t] = _cls
    pvspec_type_map_read_only[_t] = _RO[_cls]


def scan_wrapper(scan_function, period, *, subtract_elapsed=True, stop_on_error=False,
                 failure_severity=AlarmSeverity.MAJOR_ALARM, use_scan_field=False):
    """A startup hook calling ``scan_function(group, instance, async_lib)``
    every ``period`` seconds; an exception sets a SCAN alarm (and stops the
    scan with ``stop_on_error``), the next success clears it."""
    async def call(group, prop, async_lib):
        try:
            await scan_function(group, prop, async_lib)
        except Exception:
            prop.log.exception("scan of %s failed", prop.pvname)
            await prop.alarm.write(status=AlarmStatus.SCAN, severity=failure_severity)
            if stop_on_error:
                raise
        else:
            if (prop.alarm.status, prop.alarm.severity) == (AlarmStatus.SCAN,
                                                            failure_severity):
                await prop.alarm.write(status=AlarmStatus.NO_ALARM,
                                       severity=AlarmSeverity.NO_ALARM)

    async def scanned_startup(group, prop, async_lib):
        sleep = async_lib.library.sleep
        while True:
            t0 = time.monotonic()
            iter_time = period
            if use_scan_field and prop.field_inst is not None:
                iter_time = prop.field_inst.scan_rate_sec or period
            await call(group, prop, async_lib)
            elapsed = time.monotonic() - t0
            await sleep(max(0.0, iter_time - elapsed) if subtract_elapsed else iter_time)

    return scanned_startup


class FieldProxy:
    """``prop.fields.<name>``: decorators for the hooks of one record field."""

    def __init__(self, field_spec, field_name):
        self.field_spec = field_spec
        self.field_name = field_name

    def _hook(kind):
        def decorator(self, func):
            check_signature(kind, func)
            self.field_spec._update(self.field_name, kind, func)
            return self.field_spec._prop
        decorator.__name__ = {"get": "getter", "put": "putter"}.get(kind, kind)
        return decorator

    getter = _hook("get")
    putter = _hook("put")
    startup = _hook("startup")
    shutdown = _hook("shutdown")
    scan = _hook("scan")
    del _hook

    def __repr__(self):
        return "<FieldProxy %s>" % self.field_name


class FieldSpec:
    """``pvproperty.fields``: gives a :class:`FieldProxy` per record field
    (by attribute name such as ``description`` or by field name such as ``DESC``)."""

    def __init__(self, prop, *, record_type):
        self._prop = prop
        self._record_type = record_type
        self._fields: Dict[tuple, Callable] = {}

    @property
    def record_type(self):
        return self._record_type

    def __getattr__(self, attr) -> FieldProxy:
        if attr.startswith("_"):
            raise AttributeError(attr)
        from .records import field_attr
        return FieldProxy(self, field_attr(self._record_type, attr))

    @property
    def fields(self):
        return tuple(self._fields.items())

    def _update(self, field, kind, func):
        self._fields[(field, kind)] = func
        self._prop.pvspec = self._prop.pvspec._replace(fields=self.fields)


class pvproperty:
    """A property-like descriptor for a PV in a :class:`~caffi.server.PVGroup`.

    Parameters
    ----------
    get, put, startup, shutdown : async callable, optional
        Hooks (see the module doc).
    scan : async callable, optional
        A hook already wrapped by :func:`scan_wrapper` (or use ``@prop.scan(period)``).
    name : str, optional
        PV name after the group's prefix (default: the attribute name); may
        hold ``{macro}`` names.
    dtype : type, ChannelType or ChannelData subclass, optional
        Defaults to the type of ``value`` (int without one).
    value : optional
        Initial value.
    max_length : int, optional
        Largest array length (default: that of ``value``).
    alarm_group : str, optional
        PVs of a group with the same alarm_group share one alarm.
    read_only : bool, optional
        Read-only over Channel Access.
    doc : str, optional
    record : str, optional
        Record type to mimic (``ai``, ``ao``, ``bi``, ``mbbo``, ``waveform``
        ...): ``NAME.FIELD`` PVs (DESC, EGU, HOPR, SEVR ...) and RTYP.
    **cls_kwargs
        Passed to the ChannelData class (``precision``, ``units``,
        ``enum_strings``, ``upper_ctrl_limit``, ``report_as_string`` ...).
    """

    def __init__(self, get=None, put=None, startup=None, shutdown=None, *, scan=None,
                 name=None, dtype=None, value=None, max_length=None, alarm_group=None,
                 doc=None, read_only=None, field_spec=None, fields=None, record=None,
                 **cls_kwargs):
        self.attr_name = None
        if doc is None and get is not None:
            doc = get.__doc__
        for kind, func in (("get", get), ("put", put), ("startup", startup),
                           ("scan", scan), ("shutdown", shutdown)):
            check_signature(kind, func)
        record = _record_name(record)
        if record is not None:
            self.field_spec = FieldSpec(self, record_type=record)
        elif field_spec is not None:
            self.field_spec = field_spec
            record = field_spec.record_type
            fields = fields or field_spec.fields
        else:
            self.field_spec = None
        self.pvspec = PVSpec(get=get, put=put, startup=startup, shutdown=shutdown, name=name,
                             dtype=dtype, value=value, max_length=max_length,
                             alarm_group=alarm_group, read_only=read_only, doc=doc,
                             fields=fields, scan=scan, record=record, cls_kwargs=cls_kwargs)
        self.__doc__ = doc

    @property
    def record_type(self):
        return self.pvspec.record

    def __copy__(self):
        import copy
        field_spec = copy.deepcopy(self.field_spec) if self.field_spec else None
        new = type(self).from_pvspec(self.pvspec, field_spec=field_spec)
        new.__doc__ = self.__doc__
        if new.field_spec is not None:
            new.field_spec._prop = new
        return new

    def __get__(self, instance, owner):
        if instance is None:
            return self
        return instance.attr_pvdb[self.attr_name]

    def __set__(self, instance, value):
        instance.attr_pvdb[self.attr_name] = value

    def __delete__(self, instance):
        del instance.attr_pvdb[self.attr_name]

    def __set_name__(self, owner, name):
        if self.attr_name:
            return
        self.attr_name = name
        self.pvspec = self.pvspec._replace(
            attr=name, name=self.pvspec.name if self.pvspec.name is not None else name,
            fields=self.field_spec.fields if self.field_spec is not None else self.pvspec.fields)

    def _set_hook(self, kind, func):
        check_signature(kind, func)
        self.pvspec = self.pvspec._replace(**{kind: func})
        return self

    def getter(self, get):
        """Decorator: the getter hook."""
        return self._set_hook("get", get)

    def putter(self, put):
        """Decorator: the putter hook."""
        if self.pvspec.read_only:
            raise CaprotoValueError("a read-only pvproperty cannot have a putter")
        return self._set_hook("put", put)

    def startup(self, startup):
        """Decorator: the startup hook."""
        return self._set_hook("startup", startup)

    def shutdown(self, shutdown):
        """Decorator: the shutdown hook."""
        return self._set_hook("shutdown", shutdown)

    def scan(self, period, *, subtract_elapsed=True, stop_on_error=False,
             failure_severity=AlarmSeverity.MAJOR_ALARM, use_scan_field=False):
        """Decorator: call the function every ``period`` seconds."""
        if use_scan_field and not self.record_type:
            raise CaprotoValueError("use_scan_field=True needs record=")
        if not use_scan_field and period <= 0:
            raise CaprotoValueError("Scan period must be > 0")

        def wrapper(func):
            check_signature("scan", func)
            self.pvspec = self.pvspec._replace(scan=scan_wrapper(
                func, period, subtract_elapsed=subtract_elapsed,
                stop_on_error=stop_on_error, failure_severity=failure_severity,
                use_scan_field=use_scan_field))
            return self
        return wrapper

    def __call__(self, get, put=None, startup=None, shutdown=None, scan=None):
        spec = self.pvspec
        self.pvspec = spec._replace(get=get, put=put, startup=startup, shutdown=shutdown,
                                    scan=scan, doc=spec.doc or get.__doc__)
        if self.__doc__ is None:
            self.__doc__ = get.__doc__
        return self

    @classmethod
    def from_pvspec(cls, pvspec, **kwargs):
        prop = cls(**kwargs)
        prop.pvspec = pvspec
        return prop

    @property
    def fields(self) -> FieldSpec:
        if self.field_spec is None:
            raise AttributeError("this pvproperty has no record= (so no fields)")
        return self.field_spec
