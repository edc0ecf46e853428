"""Record fields of a pvproperty with ``record=``: ``NAME.FIELD`` PVs.

A ``pvproperty(record='ai')`` answers ``NAME.DESC``, ``NAME.EGU``,
``NAME.HOPR``, ``NAME.SEVR`` ... as an IOC's record would.  The fields are
made the first time they are used (a group of a thousand records costs
nothing until a client asks for a field), as one :class:`RecordFields` per
record holding a ChannelData per field.

Fields are of two kinds (the ``link`` column of the tables below):

* **linked** fields show a property of the record's own data: EGU is the
  units, HOPR/LOPR the display limits, HIHI/HIGH/LOW/LOLO the alarm and
  warning limits, DRVH/DRVL the control limits, PREC the precision,
  MDEL/ADEL the deadbands, STAT/SEVR/ACKS/ACKT the alarm, ZNAM/ONAM and
  ZRST..FFST the enum strings, NORD/NELM the lengths.  Writing one changes
  the record (and posts DBE_PROPERTY to its subscribers); a change of the
  record updates the field and posts to the field's subscribers.
* **plain** fields (DESC, SCAN, DISA, the severities HHSV/HSV/LSV/LLSV,
  ...) hold their own value; the severities are used by the alarm limits.

Every field is read with the record's alarm and time stamp (as an IOC's
dbGetField reads any field); what a field cached of them is dropped when
the record posts.

Field hooks (``@prop.fields.description.putter`` ...) are bound to the
:class:`RecordFields` (its ``parent`` is the record's data).
"""
import math
from typing import Dict, Tuple

from ..protocol import (DBE_LOG, DBE_VALUE, AlarmSeverity, AlarmStatus, CaprotoValueError,
                        ChannelType)
from .pvproperty import (PVSpec, _default_group_read, _default_group_write,
                         control_follows_display)

__all__ = ["RecordFields", "make_fields", "field_attr", "RECORD_TYPES", "RECORD_BEHAVIOUR",
           "apply_behaviour", "SEVERITY_STRINGS", "STATUS_STRINGS", "SCAN_STRINGS"]

SEVERITY_STRINGS = ("NO_ALARM", "MINOR", "MAJOR", "INVALID")
#: menuAlarmStat (the first 16: a DBR_GR_ENUM holds no more)
STATUS_STRINGS = ("NO_ALARM", "READ", "WRITE", "HIHI", "HIGH", "LOLO", "LOW", "STATE", "COS",
                  "COMM", "TIMEOUT", "HWLIMIT", "CALC", "SCAN", "LINK", "SOFT")
SCAN_STRINGS = ("Passive", "Event", "I/O Intr", "10 second", "5 second", "2 second",
                "1 second", ".5 second", ".2 second", ".1 second")
_SCAN_SECONDS = {"10 second": 10.0, "5 second": 5.0, "2 second": 2.0, "1 second": 1.0,
                 ".5 second": 0.5, ".2 second": 0.2, ".1 second": 0.1}
_YESNO = ("NO", "YES")
_ENUM_FIELDS = ("ZRST", "ONST", "TWST", "THST", "FRST", "FVST", "SXST", "SVST", "EIST",
                "NIST", "TEST", "ELST", "TVST", "TTST", "FTST", "FFST")
_ENUM_ATTRS = ("zero_string", "one_string", "two_string", "three_string", "four_string",
               "five_string", "six_string", "seven_string", "eight_string", "nine_string",
               "ten_string", "eleven_string", "twelve_string", "thirteen_string",
               "fourteen_string", "fifteen_string")

_S, _SH, _L, _D, _E, _C = (ChannelType.STRING, ChannelType.INT, ChannelType.LONG,
                           ChannelType.DOUBLE, ChannelType.ENUM, ChannelType.CHAR)

# (FIELD, attribute, dtype, link or None, extra class kwargs)
_COMMON = (
    ("NAME", "record_name", _S, "name", {"read_only": True}),
    ("RTYP", "record_type", _S, "rtyp", {"read_only": True}),
    ("DESC", "description", _S, None, {}),
    ("SCAN", "scan_rate", _E, None, {"enum_strings": SCAN_STRINGS}),
    ("PINI", "process_at_iocinit", _E, None, {"enum_strings": _YESNO}),
    ("DISA", "disable", _SH, None, {}),
    ("PROC", "process_record", _C, "proc", {}),
    ("UDF", "undefined", _C, None, {}),
    ("TPRO", "trace_processing", _C, None, {}),
    ("FLNK", "forward_link", _S, None, {}),
    ("ASG", "access_security_group", _S, None, {}),
    ("STAT", "alarm_status", _E, "status", {"enum_strings": STATUS_STRINGS,
                                            "read_only": True}),
    ("SEVR", "current_alarm_severity", _E, "severity", {"enum_strings": SEVERITY_STRINGS,
                                                         "read_only": True}),
    ("ACKS", "alarm_acknowledge_severity", _E, "acks", {"enum_strings": SEVERITY_STRINGS,
                                                         "read_only": True}),
    ("ACKT", "alarm_acknowledge_transient", _E, "ackt", {"enum_strings": _YESNO}),
)


def _limits(t):
    return (
        ("EGU", "engineering_units", _S, "units", {}),
        ("HOPR", "high_operating_range", t, "upper_disp_limit", {}),
        ("LOPR", "low_operating_range", t, "lower_disp_limit", {}),
        ("HIHI", "hihi_alarm_limit", t, "upper_alarm_limit", {}),
        ("HIGH", "high_alarm_limit", t, "upper_warning_limit", {}),
        ("LOW", "low_alarm_limit", t, "lower_warning_limit", {}),
        ("LOLO", "lolo_alarm_limit", t, "lower_alarm_limit", {}),
        ("HHSV", "hihi_severity", _E, None, {"enum_strings": SEVERITY_STRINGS, "value": 2}),
        ("HSV", "high_severity", _E, None, {"enum_strings": SEVERITY_STRINGS, "value": 1}),
        ("LSV", "low_severity", _E, None, {"enum_strings": SEVERITY_STRINGS, "value": 1}),
        ("LLSV", "lolo_severity", _E, None, {"enum_strings": SEVERITY_STRINGS, "value": 2}),
        ("HYST", "alarm_deadband", t, None, {}),
        ("MDEL", "monitor_deadband", t, "value_atol", {}),
        ("ADEL", "archive_deadband", t, "log_atol", {}),
    )


_PREC = (("PREC", "display_precision", _SH, "precision", {}),)
_DRIVE = (("DRVH", "drive_high", _D, "upper_ctrl_limit", {}),
          ("DRVL", "drive_low", _D, "lower_ctrl_limit", {}))
_DRIVE_L = (("DRVH", "drive_high", _L, "upper_ctrl_limit", {}),
            ("DRVL", "drive_low", _L, "lower_ctrl_limit", {}))
_BINARY = (("ZNAM", "zero_name", _S, "enum:0", {}), ("ONAM", "one_name", _S, "enum:1", {}))
_MULTI = tuple((f, a, _S, "enum:%d" % i, {}) for i, (f, a) in
               enumerate(zip(_ENUM_FIELDS, _ENUM_ATTRS)))
_ARRAY = (("NELM", "max_elements", _D, "nelm", {"read_only": True}),
          ("NORD", "number_elements_read", _D, "nord", {"read_only": True}),
          ("EGU", "engineering_units", _S, "units", {}),
          ("HOPR", "high_operating_range", _D, "upper_disp_limit", {}),
          ("LOPR", "low_operating_range", _D, "lower_disp_limit", {}),
          ("PREC", "display_precision", _SH, "precision", {}))

#: a subArray's NORD is a LONG (a waveform's, an aai's and an aao's a ULONG,
#: DOUBLE over CA)
_SUB_ARRAY = tuple(("NORD", a, _L, link, opts) if f == "NORD" else (f, a, t, link, opts)
                   for f, a, t, link, opts in _ARRAY)

#: record type -> its fields besides VAL
RECORD_TYPES: Dict[str, Tuple] = {
    "ai": _COMMON + _limits(_D) + _PREC,
    "ao": _COMMON + _limits(_D) + _PREC + _DRIVE,
    "calc": _COMMON + _limits(_D) + _PREC,
    "longin": _COMMON + _limits(_L),
    "longout": _COMMON + _limits(_L) + _DRIVE_L,
    "int64in": _COMMON + _limits(_D),
    "int64out": _COMMON + _limits(_D) + _DRIVE,
    "bi": _COMMON + _BINARY,
    "bo": _COMMON + _BINARY,
    "mbbi": _COMMON + _MULTI,
    "mbbo": _COMMON + _MULTI,
    "stringin": _COMMON,
    "stringout": _COMMON,
    "lsi": _COMMON,
    "lso": _COMMON,
    "waveform": _COMMON + _ARRAY,
    "aai": _COMMON + _ARRAY,
    "aao": _COMMON + _ARRAY,
    "subArray": _COMMON + _SUB_ARRAY,
}


#: how a record type's value behaves beyond its fields (attributes of its
#: ChannelData): output records clamp writes to DRVH/DRVL, input records take
#: any value, analog records raise UDF/INVALID for NaN, a bi/bo has two
#: states ("Illegal_Value" beyond), an mbbi/mbbo raises SOFT/INVALID for a
#: state beyond its 16; of the ENUM records only a bo reports control limits;
#: the control limits of an input record and of an array record (waveform,
#: aai, aao, subArray) are its display limits (HOPR/LOPR: the IOC's
#: get_control_double), whatever was given; an array record takes any value
_ANALOG_IN = {"write_limits": "none", "nan_is_undefined": True, "control_is_display": True}
_INPUT = {"write_limits": "none", "control_is_display": True}
_BINARY_STATES = {"enum_states": 2, "illegal_string": "Illegal_Value"}
_NO_CONTROL = (0.0, 0.0)
_MULTI_STATES = {"illegal_state_alarm": (AlarmStatus.SOFT, AlarmSeverity.INVALID_ALARM),
                 "control_range": _NO_CONTROL}
RECORD_BEHAVIOUR: Dict[str, Dict[str, object]] = {
    "ai": _ANALOG_IN,
    "calc": _ANALOG_IN,
    "ao": {"write_limits": "clamp", "nan_is_undefined": True},
    "longin": _INPUT,
    "int64in": _INPUT,
    "waveform": _INPUT,
    "aai": _INPUT,
    "aao": _INPUT,
    "subArray": _INPUT,
    "longout": {"write_limits": "clamp"},
    "int64out": {"write_limits": "clamp"},
    "bi": dict(_BINARY_STATES, control_range=_NO_CONTROL),
    "bo": _BINARY_STATES,
    "mbbi": _MULTI_STATES,
    "mbbo": _MULTI_STATES,
}


def apply_behaviour(data, record_type) -> None:
    """Give ``data`` (a ChannelData) the behaviour of ``record_type``."""
    for attr, value in RECORD_BEHAVIOUR.get(record_type, {}).items():
        if hasattr(data, attr):
            setattr(data, attr, value)
    if getattr(data, "control_is_display", False):
        control_follows_display(data._data)


def _table(record_type: str):
    try:
        return RECORD_TYPES[record_type]
    except KeyError:
        raise CaprotoValueError("unknown record type %r (known: %s)"
                                % (record_type, ", ".join(sorted(RECORD_TYPES)))) from None


def field_attr(record_type: str, name: str) -> str:
    """The attribute name of a field given by attribute or field name."""
    for field, attr, *_ in _table(record_type):
        if name in (field, attr):
            return attr
    raise AttributeError("record type %s has no field %r" % (record_type, name))


class RecordFields:
    """The fields of one record (``instance.field_inst``); attributes by
    attribute name (``description``), ``pvdb`` by field name (``DESC``)."""
    group_read = _default_group_read
    group_write = _default_group_write

    def __init__(self, parent):
        self.parent = parent
        self.name = "%s.fields" % parent.name
        self.log = parent.log
        self.record_type = parent.record_type
        self.pvdb: Dict[str, object] = {}
        self._links: Dict[object, str] = {}
        #: fields whose cache holds the record's alarm and time stamp
        self._cached: set = set()
        self._scan_rate_sec = None

    def __getattr__(self, attr):
        attrs = self.__dict__.get("_attrs")
        if attrs and attr in attrs:
            return attrs[attr]
        raise AttributeError(attr)

    @property
    def scan_rate_sec(self):
        """The SCAN field as seconds (None: not periodic)."""
        scan = self.pvdb.get("SCAN")
        return _SCAN_SECONDS.get(scan.value) if scan is not None else self._scan_rate_sec

    # ---------------------------------------------------------------- links
    def _linked_value(self, link):
        p = self.parent
        if link == "name":
            return p.pvname
        if link == "rtyp":
            return p.reported_record_type
        if link == "status":
            return int(p.alarm.status)
        if link == "severity":
            return int(p.alarm.severity)
        if link == "acks":
            return int(p.alarm.severity_to_acknowledge)
        if link == "ackt":
            return int(p.alarm.must_acknowledge_transient)
        if link in ("value_atol", "log_atol"):
            return float(getattr(p, link) or 0.0)
        if link == "nelm":
            return p.max_length
        if link == "nord":
            return p.length
        if link == "proc":
            return 0
        if link.startswith("enum:"):
            i = int(link[5:])
            strings = p.enum_strings
            return strings[i] if i < len(strings) else ""
        return p._data.get(link, 0)

    async def _push(self, field, link, value):
        """A client wrote a linked field: change the record."""
        p = self.parent
        if link == "ackt":
            await p.alarm.write(must_acknowledge_transient=int(field.raw_value or 0))
        elif link in ("value_atol", "log_atol"):
            setattr(p, link, float(value))
        elif link == "proc":
            if p.getter is not None:
                await p.read(ChannelType.DOUBLE)
            await p.write(p.value, verify_value=False, update_fields=False)
        elif link.startswith("enum:"):
            i = int(link[5:])
            strings = list(p.enum_strings)
            strings += [""] * (i + 1 - len(strings))
            strings[i] = value
            while strings and not strings[-1]:
                strings.pop()
            await p.write_metadata(enum_strings=strings)
        elif link in p._data:
            await p.write_metadata(**{link: value})

    def parent_posted(self, flags):
        """The record posted ``flags``: refresh the linked fields that changed."""
        cached = self._cached
        if cached:
            for field in cached:
                field._cache.clear()
            cached.clear()
        for field, link in self._links.items():
            new = _typed(field.data_type, self._linked_value(link))
            if field.value != new:
                field._data["value"] = field.preprocess_value(new)
                field._post(DBE_VALUE | DBE_LOG)

    async def value_write_hook(self, instance, value):
        """Called before the record stores a new value (NORD follows it)."""


def _typed(dtype, value):
    """A linked value as a field of ``dtype`` holds it (MDEL of a longin:
    an integer, the record's deadband being a float)."""
    if dtype in (_L, _SH) and isinstance(value, float) and math.isfinite(value):
        return int(value)
    return value


def make_fields(parent) -> RecordFields:
    """The :class:`RecordFields` of ``parent`` (a PvpropertyData with ``record=``)."""
    fields = RecordFields(parent)
    hooks = {}
    for (field, kind), func in (parent.pvspec.fields or ()):
        hooks.setdefault(field, {})[kind] = func
    attrs = {}
    for field, attr, dtype, link, extra in _table(parent.record_type):
        kwargs = dict(extra)
        read_only = kwargs.pop("read_only", None)
        value = kwargs.pop("value", None)
        if link is not None:
            value = _typed(dtype, fields._linked_value(link))
        h = hooks.get(attr, {})
        spec = PVSpec(get=h.get("get"), put=h.get("put"), startup=h.get("startup"),
                      shutdown=h.get("shutdown"), scan=h.get("scan"), attr=attr, name=field,
                      dtype=dtype, value=value, read_only=read_only, cls_kwargs=kwargs,
                      max_length=1)
        cls, init = spec.get_instantiation_info(None)
        init.update(group=fields, pvname="%s.%s" % (parent.pvname, field), alarm=None)
        data = _field_class(cls, link is not None)(**init)
        data._record_fields = fields
        if link is not None:
            data._link = (fields, link)
            fields._links[data] = link
        fields.pvdb[field] = data
        attrs[attr] = data
    fields._attrs = attrs
    return fields


_FIELD_CLASSES: Dict[Tuple[type, bool], type] = {}


def _field_class(cls, linked):
    """``cls`` as a record's field: read with the record's alarm and time
    stamp (an IOC's dbGetField takes both from the record, whatever the
    field); with ``linked``, client writes also change the record and
    floating point fields print with the record's precision."""
    key = (cls, linked)
    field_cls = _FIELD_CLASSES.get(key)
    if field_cls is not None:
        return field_cls

    def native_metadata(self):
        md = cls.native_metadata(self)
        fields = self._record_fields
        record = fields.parent
        alarm = record.alarm
        md.status, md.severity = int(alarm.status), int(alarm.severity)
        md.ackt = int(alarm.must_acknowledge_transient)
        md.acks = int(alarm.severity_to_acknowledge)
        md.timestamp = tuple(record._data["timestamp"])
        if linked:
            md.precision = record._data.get("precision", md.precision)
        # what is cached from this is stale once the record changes
        fields._cached.add(self)
        return md

    attrs = {"native_metadata": native_metadata, "__module__": __name__}
    if linked:
        async def write(self, value, **kwargs):
            await cls.write(self, value, **kwargs)
            fields, link = self._link
            await fields._push(self, link, self.value)
        attrs["write"] = write
    field_cls = type(("Linked" if linked else "Field") + cls.__name__, (cls,), attrs)
    _FIELD_CLASSES[key] = field_cls
    return field_cls
