"""Record fields over pvAccess: ``RECORD.FIELD`` PVs as qsrv serves them.

>>> from caffi.server import PVGroup, pvproperty
>>> from caffi.server.pvfields import FieldDatabase
>>> class Demo(PVGroup):
...     x = pvproperty(value=1.5, record="ai", units="mm")
>>> db = FieldDatabase(Demo(prefix="d:").pvdb, {})
>>> db.get("d:x.EGU").data.value
'mm'

Theory of operation
-------------------
A ``pvproperty`` with ``record=`` answers ``NAME.DESC``, ``NAME.EGU`` ...
over CA (:mod:`.records`, found by :func:`~caffi.server.core.find_pv`).  The
pvAccess server finds the same names through a :class:`FieldDatabase`: the
pvAccess server's database (a dict of the group's PVs) that, asked for a
name it does not hold, looks it up as the CA server does and makes a
:class:`FieldWrapper` for a record field.  Wrappers are made the first
time a field is searched for and kept (one per field: at most the number of
fields of the records served) until :meth:`FieldDatabase.close`.

A field's structure is the one qsrv gives a field of an IOC record (checked
against the soft IOC in the tests):

* the normative type of the field's own data (:mod:`.pvdata`): an NTEnum
  for a menu field (SCAN, STAT, SEVR, ACKT ...; STAT with the 22 choices of
  menuAlarmStat where CA has 16), an NTScalar of a string
  (NAME, DESC, EGU ...) or a number; a one-byte CHAR field (PROC, UDF) is a
  ``ubyte``, NELM/NORD a ``uint`` (DBF_UCHAR, DBF_ULONG in the IOC; a
  subArray's NORD an ``int``), the
  limits and deadbands of an int64in/int64out a ``long`` (DBF_INT64);
* ``alarm`` and ``timeStamp`` of the record;
* ``display.description`` the record's DESC; ``units`` and ``precision``
  the record's for a field of its value's type or of a floating point type
  (HOPR, MDEL ... of an ai), none otherwise (PREC itself);
* display and control limits: the record's display limits for its alarm
  limit fields (HIHI, HIGH, LOW, LOLO), 0 to NELM for NORD (0 to MALM for
  a subArray's NORD and NELM, whose control limits are 1 to MALM), otherwise the
  range of the field's type (+-1e300 for a double, the integer bounds);
  ``valueAlarm`` limits NaN.

A field's wrapper follows the field's data (a write to a linked field such
as EGU changes the record; a change of the record updates its linked
fields): pvAccess monitors of a field get its updates with the record's
alarm and time stamp, as the IOC posts a field.
"""
import logging
from typing import Any, Dict, Mapping, Optional

from pva import FieldDesc, FieldType

from ..protocol import (AlarmStatus, ChannelByte, ChannelChar, ChannelData, ChannelDouble,
                        ChannelFloat, ChannelInt64)
from .both import ChannelDataWrapper
from .core import find_pv
from .pvdata import (FORM_CHOICES, NTSCALAR, _NO_VALUE_ALARM, _alarm, _description,
                     _time_stamp, _value, nt_type)

__all__ = ["FieldDatabase", "FieldWrapper"]

log = logging.getLogger("caffi.server")

_T = FieldType
#: fields of an unsigned type in the IOC (CA carries them as signed ones)
_UNSIGNED = {"NELM": _T.uint32, "NORD": _T.uint32}
#: the fields of an int64in/int64out that are INT64 in the IOC
_INT64_FIELDS = frozenset(("HOPR", "LOPR", "HIHI", "HIGH", "LOW", "LOLO", "HYST", "MDEL",
                           "ADEL", "DRVH", "DRVL"))
#: the range of a type: the display and control limits of a field of that
#: type (the IOC's recGblGetGraphicDouble)
_RANGES = {_T.float64: (-1e300, 1e300), _T.float32: (-1e30, 1e30),
           _T.int8: (-128.0, 127.0), _T.uint8: (0.0, 255.0),
           _T.int16: (-32768.0, 32767.0), _T.uint16: (0.0, 65535.0),
           _T.int32: (-2147483648.0, 2147483647.0), _T.uint32: (0.0, 4294967295.0),
           _T.int64: (-9223372036854775808.0, 9223372036854775807.0)}
#: fields whose limits are the record's display limits
_ALARM_LIMITS = frozenset(("HIHI", "HIGH", "LOW", "LOLO"))
_NAN = float("nan")
#: the whole menuAlarmStat: the choices of STAT over pvAccess (CA's
#: DBR_GR_ENUM holds only the first 16)
_STAT_CHOICES = [s.name for s in AlarmStatus]


def _value_type(field: str, data: ChannelData, record: ChannelData) -> Optional[FieldType]:
    """The pvData type of a scalar field's value where it is not the one of
    :func:`~caffi.server.pvdata.nt_type`, else None."""
    if field in _UNSIGNED and isinstance(data, ChannelDouble):
        return _UNSIGNED[field]  # DBF_ULONG (DOUBLE over CA); a subArray's NORD is LONG
    if field in _INT64_FIELDS and isinstance(record, ChannelInt64):
        return _T.int64          # DBF_INT64 (DOUBLE over CA)
    if isinstance(data, (ChannelChar, ChannelByte)) and data.max_length == 1:
        return _T.uint8          # DBF_UCHAR (PROC, UDF, TPRO)
    return None


class FieldWrapper(ChannelDataWrapper):
    """The pvAccess face of the field ``field`` (``"EGU"``) of ``record``
    (a pvproperty's data with ``record=``), its data being ``channel``."""

    def __init__(self, name: str, channel: ChannelData, record: ChannelData, field: str, *,
                 access=None):
        self.record = record
        self.field = field
        super().__init__(name, channel, access=access)

    def _type(self) -> FieldDesc:
        desc = nt_type(self.channel)
        ft = _value_type(self.field, self.channel, self.record)
        if ft is None:
            return desc
        members = [(name, FieldDesc(ft) if name == "value" else child)
                   for name, child in desc.children.items()]
        return FieldDesc.struct(members, NTSCALAR)

    def _value(self) -> Any:
        value = _value(self.channel)
        if self.field == "STAT":
            return {"index": int(self.record.alarm.status), "choices": _STAT_CHOICES}
        ft = _value_type(self.field, self.channel, self.record)
        if ft == _T.int64:
            return int(value)
        if ft is not None:
            return int(value) & (0xFF if self.field not in _UNSIGNED else 0xFFFFFFFF)
        return value

    def _limits(self, ft: FieldType):
        """``(display limits, control limits)`` of the field."""
        record = self.record._data
        if self.field in _ALARM_LIMITS:
            limits = (float(record.get("lower_disp_limit", 0) or 0),
                      float(record.get("upper_disp_limit", 0) or 0))
        elif self.field == "NORD":
            limits = 0.0, float(self.record.max_length)     # NELM (subArray: MALM)
        elif self.field == "NELM" and self.record.reported_record_type == "subArray":
            top = float(self.record.max_length)             # MALM; NELM is at least 1
            return (0.0, top), (1.0, top)
        else:
            limits = _RANGES.get(ft, (0.0, 0.0))
        return limits, limits

    def _metadata(self) -> Dict[str, Any]:
        desc = self.structure if "data" in self.__dict__ else self._type()
        if "display" not in desc.children:
            return {}                          # an NTEnum
        value_desc = desc.children["value"]
        ft = value_desc.field_type
        record = self.record._data
        # (NELM and NORD are unsigned integers in the IOC, doubles over CA)
        same_type = self.field not in _UNSIGNED and (
            self.channel.data_type == self.record.data_type
            or isinstance(self.channel, (ChannelDouble, ChannelFloat)))
        units = str(record.get("units", "") or "") if same_type and ft != _T.string else ""
        precision = (int(record.get("precision", 0) or 0)
                     if same_type and ft in (_T.float64, _T.float32) else 0)
        (low, high), (c_low, c_high) = (self._limits(ft) if ft != _T.string
                                        else ((0.0, 0.0), (0.0, 0.0)))
        out = {"display": {"limitLow": low, "limitHigh": high,
                           "description": _description(self.record), "units": units,
                           "precision": precision,
                           "form": {"index": 0, "choices": list(FORM_CHOICES)}},
               "control": {"limitLow": c_low, "limitHigh": c_high, "minStep": 0.0}}
        if "valueAlarm" in desc.children:
            out["valueAlarm"] = dict(_NO_VALUE_ALARM, lowAlarmLimit=_NAN,
                                     lowWarningLimit=_NAN, highWarningLimit=_NAN,
                                     highAlarmLimit=_NAN)
        return out

    def _changes(self, flags: int) -> Dict[str, Any]:
        # an update of a field carries its value and the record's alarm and
        # time stamp, whatever the event
        return {"value": self._value(), "alarm": _alarm(self.record),
                "timeStamp": _time_stamp(self.record)}

    def _whole(self) -> Dict[str, Any]:
        out = self._changes(0)
        out.update(self._metadata())
        return out


class FieldDatabase(dict):
    """The pvAccess server's database: ``wrappers`` (PV name -> data
    wrapper) and the fields of the records of ``pvdb`` (PV name ->
    ChannelData, a ``PVGroup``'s), found by name when asked for
    (``name in db``, ``db.get(name)``, ``db[name]``).

    ``access`` is the CA server's access hook (see
    :class:`ChannelDataWrapper`)."""

    def __init__(self, pvdb: Mapping[str, Any], wrappers: Mapping[str, Any], *,
                 access=None):
        super().__init__(wrappers)
        self._records = {name: data for name, data in pvdb.items()
                         if isinstance(data, ChannelData)}
        self._access = access
        #: name -> FieldWrapper, made on first use (bounded by the fields of
        #: the records served), closed by close()
        self.fields: Dict[str, FieldWrapper] = {}

    def _resolve(self, name: Any) -> Any:
        if not isinstance(name, str) or "." not in name or name.endswith("$"):
            return None
        wrapper = self.fields.get(name)
        if wrapper is not None:
            return wrapper
        record_name, _, field = name.rpartition(".")
        record = self._records.get(record_name)
        data = find_pv(self._records, name)
        if record is None or data is None:
            return None
        if data is record:                          # NAME.VAL, NAME.
            return dict.get(self, record_name)
        try:
            wrapper = FieldWrapper(name, data, record, field, access=self._access)
        except TypeError as ex:                      # a field pvAccess cannot carry
            log.warning("%s is not served over pvAccess: %s", name, ex)
            return None
        self.fields[name] = wrapper
        return wrapper

    def __contains__(self, name: Any) -> bool:
        return dict.__contains__(self, name) or self._resolve(name) is not None

    def get(self, name: Any, default: Any = None) -> Any:
        found = dict.get(self, name)
        if found is None:
            found = self._resolve(name)
        return default if found is None else found

    def __missing__(self, name: Any) -> Any:
        found = self._resolve(name)
        if found is None:
            raise KeyError(name)
        return found

    def close(self) -> None:
        """Stop the field wrappers following their data."""
        for wrapper in self.fields.values():
            wrapper.close()
        self.fields.clear()
