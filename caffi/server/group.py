"""``PVGroup`` and ``SubGroup``: a set of PVs declared as a class (caproto's API).

>>> from caffi.server import PVGroup, pvproperty
>>> class Demo(PVGroup):
...     temperature = pvproperty(value=21.5, precision=1, units="C")
...     @temperature.putter
...     async def temperature(self, instance, value):
...         return min(value, 100.0)
>>> sorted(Demo(prefix="demo:").pvdb)
['demo:temperature']

A :class:`PVGroup` subclass lists its PVs as :class:`~caffi.server.pvproperty`
attributes and its nested groups as :class:`SubGroup` attributes; an instance
has ``pvdb`` (full PV name -> ChannelData), which is what a server serves.
"""
import copy
import inspect
import logging
from collections import OrderedDict, defaultdict
from typing import Dict

from ..protocol import CaprotoValueError, ChannelAlarm, ChannelType
from .pvproperty import (PVSpec, _default_group_read, _default_group_write, expand_macros,
                         pvproperty, pvspec_type_map, pvspec_type_map_read_only)

__all__ = ["PVGroup", "PVGroupMeta", "SubGroup", "NestedPvproperty", "get_pv_pair_wrapper",
           "expand_macros"]

log = logging.getLogger("caffi.server")


class NestedPvproperty(pvproperty):
    """A pvproperty of a dict-defined SubGroup: its decorators return the SubGroup."""

    def getter(self, get):
        super().getter(get)
        return self.parent

    def putter(self, put):
        super().putter(put)
        return self.parent

    def startup(self, startup):
        super().startup(startup)
        return self.parent

    def shutdown(self, shutdown):
        super().shutdown(shutdown)
        return self.parent

    @classmethod
    def from_pvspec(cls, pvspec, parent=None, **kwargs):
        prop = super().from_pvspec(pvspec, **kwargs)
        prop.parent = parent
        return prop


class SubGroup:
    """A nested group: ``SubGroup(GroupClass, prefix='sub:')``, a dict of
    PVSpec keyword dicts, or ``@SubGroup(prefix=...)`` on a class."""

    def __init__(self, group=None, *, prefix=None, macros=None, attr_separator=None,
                 doc=None, base=None, **init_kwargs):
        self.attr_name = None
        self.group_cls = None
        self._group_dict = None
        self._class_dict = None
        self.prefix = prefix
        self.macros = macros if macros is not None else {}
        self.attr_separator = attr_separator
        self.base = (PVGroup,) if base is None else base
        self.__doc__ = doc
        self.init_kwargs = init_kwargs
        self.group = group

    @property
    def group(self):
        return self._group_dict, self.group_cls

    @group.setter
    def group(self, group):
        if isinstance(group, dict):
            self._group_dict = group
            self._class_dict = {}
            for attr, info in group.items():
                spec = self._pvspec_from_info(attr, info)
                self._class_dict[attr] = NestedPvproperty.from_pvspec(spec, self)
        elif group is not None:
            if not (inspect.isclass(group) and issubclass(group, PVGroup)):
                raise CaprotoValueError("SubGroup needs a PVGroup class or a dict, not %r"
                                        % (group,))
            self.group_cls = group

    @staticmethod
    def _pvspec_from_info(attr, info):
        if isinstance(info, dict):
            info = dict(info)
            info.setdefault("attr", attr)
            info.setdefault("name", attr)
            return PVSpec(**info)
        if isinstance(info, PVSpec):
            return info
        if isinstance(info, pvproperty):
            return info.pvspec
        raise CaprotoValueError("unknown PV specification %r" % (info,))

    def __call__(self, group=None, *, prefix=None, macros=None, doc=None):
        new = copy.copy(self)
        if prefix is not None:
            new.prefix = prefix
        if macros is not None:
            new.macros = macros
        if doc is not None:
            new.__doc__ = doc
        if group is not None:
            new.group = group
        return new

    def __set_name__(self, owner, name):
        self.attr_name = name
        if self.group_cls is None:
            self.group_cls = type(name, self.base, dict(self._class_dict or {}))
            if self.__doc__ is None:
                self.__doc__ = self.group_cls.__doc__
        if self.attr_separator is None:
            self.attr_separator = getattr(self.group_cls, "attr_separator", ":")
        if self.prefix is None:
            self.prefix = name + self.attr_separator

    def __get__(self, instance, owner):
        if instance is None:
            return self
        return instance.groups[self.attr_name]

    def __getattr__(self, attr):
        class_dict = self.__dict__.get("_class_dict")
        if class_dict and attr in class_dict:
            return class_dict[attr]
        raise AttributeError(attr)


class PVGroupMeta(type):
    """Collects the pvproperties and SubGroups of a PVGroup class (and its bases)."""

    def __new__(metacls, name, bases, dct):
        subgroups = OrderedDict()
        pvs = OrderedDict()
        for base in reversed(bases):
            subgroups.update(getattr(base, "_subgroups_", {}))
            pvs.update(getattr(base, "_pvs_", {}))
        dct["_subgroups_"] = subgroups
        dct["_pvs_"] = pvs
        cls = super().__new__(metacls, name, bases, dct)
        for attr, value in dct.items():
            if attr.startswith("_"):
                continue
            if isinstance(value, SubGroup):
                subgroups[attr] = value
                for sub_attr, sub in getattr(value.group_cls, "_subgroups_", {}).items():
                    subgroups["%s.%s" % (attr, sub_attr)] = sub
                for sub_attr, prop in value.group_cls._pvs_.items():
                    pvs["%s.%s" % (attr, sub_attr)] = prop
            elif isinstance(value, pvproperty):
                pvs[attr] = value
        return cls


class PVGroup(metaclass=PVGroupMeta):
    """A group of PVs for a server.

    Parameters
    ----------
    prefix : str
        Prefix of every PV name (may hold ``{macro}`` names).
    macros : dict, optional
        Macro values for the prefix and PV names.
    parent : PVGroup, optional
    name : str, optional
        Name of the group (the class name by default).

    Attributes
    ----------
    pvdb : dict
        Full PV name -> ChannelData, for :func:`~caffi.server.run`.
    attr_pvdb : dict
        Attribute name (dotted through SubGroups) -> ChannelData.
    groups : dict
        Attribute name -> SubGroup instance.
    """
    type_map = dict(pvspec_type_map)
    type_map_read_only = dict(pvspec_type_map_read_only)
    default_values = {str: "", int: 0, float: 0.0, bool: False, bytes: b"",
                      ChannelType.STRING: "", ChannelType.INT: 0, ChannelType.LONG: 0,
                      ChannelType.DOUBLE: 0.0, ChannelType.FLOAT: 0.0,
                      ChannelType.ENUM: 0, ChannelType.CHAR: ""}
    group_read = _default_group_read
    group_write = _default_group_write

    def __init__(self, prefix: str, *, macros=None, parent=None, name=None):
        self.parent = parent
        self.macros = dict(macros) if macros is not None else {}
        self.prefix = expand_macros(prefix, self.macros)
        self.alarms: Dict[str, ChannelAlarm] = defaultdict(ChannelAlarm)
        self.pvdb = OrderedDict()
        self.attr_pvdb = OrderedDict()
        self.attr_to_pvname = OrderedDict()
        self.groups = OrderedDict()
        self.name = type(self).__name__ if name is None else name
        base = parent.log.name if parent is not None else type(self).__module__
        self.log = logging.getLogger("%s.%s" % (base, type(self).__name__))
        self._create_pvdb()

    def _create_pvdb(self):
        for attr, subgroup in self._subgroups_.items():
            if attr in self.groups or "." in attr:
                continue
            macros = dict(self.macros)
            macros.update(subgroup.macros)
            inst = subgroup.group_cls(prefix=self.prefix + subgroup.prefix, macros=macros,
                                      parent=self, name="%s.%s" % (self.name, attr),
                                      **subgroup.init_kwargs)
            self.groups[attr] = inst
            for sub_attr, sub in inst.groups.items():
                self.groups["%s.%s" % (attr, sub_attr)] = sub
        for attr, prop in self._pvs_.items():
            if "." in attr:
                group_attr, sub_attr = attr.rsplit(".", 1)
                group = self.groups[group_attr]
                data = group.attr_pvdb[sub_attr]
                pvname = group.attr_to_pvname[sub_attr]
            else:
                data = prop.pvspec.create(self)
                pvname = data.pvname
            if pvname in self.pvdb:
                raise CaprotoValueError("%s defined twice (attributes %s and %s)"
                                        % (pvname, self._attr_of(pvname), attr))
            self.pvdb[pvname] = data
            self.attr_pvdb[attr] = data
            self.attr_to_pvname[attr] = pvname

    def _attr_of(self, pvname):
        for attr, name in self.attr_to_pvname.items():
            if name == pvname:
                return attr
        return "?"


def get_pv_pair_wrapper(setpoint_suffix: str = "", readback_suffix: str = "_RBV"):
    """A factory of SubGroups of a setpoint PV and its read-only readback
    (without a putter, a write to the setpoint is copied to the readback)."""
    def wrapped(*, get=None, put=None, startup=None, shutdown=None, name=None, dtype=None,
                value=None, max_length=None, alarm_group=None, doc=None, fields=None,
                scan=None, setpoint_kw=None, readback_kw=None, **cls_kwargs):
        if cls_kwargs.pop("read_only", None):
            raise CaprotoValueError("a setpoint/readback pair cannot be read-only")
        common = dict(dtype=dtype, value=value, max_length=max_length,
                      alarm_group=alarm_group, doc=doc, fields=fields, record=None)
        if put is None:
            async def put(group, instance, value):
                await group.readback.write(value)

        def kwargs(user, **init):
            init["cls_kwargs"] = dict(cls_kwargs)
            for key, v in (user or {}).items():
                if key in init:
                    init[key] = v
                else:
                    init["cls_kwargs"][key] = v
            return init
        setpoint = kwargs(setpoint_kw, name=setpoint_suffix, put=put, read_only=False,
                          **common)
        readback = kwargs(readback_kw, name=readback_suffix, get=get, read_only=True,
                          scan=scan, startup=startup, shutdown=shutdown, **common)
        return SubGroup(dict(setpoint=setpoint, readback=readback), attr_separator="",
                        doc=doc, prefix=name)
    return wrapped
