"""Channel data <-> pvData normative types, as qsrv maps IOC records.

>>> from caffi.protocol import ChannelDouble
>>> from caffi.server.pvdata import nt_type, nt_value
>>> data = ChannelDouble(value=1.5, units="mm", precision=3)
>>> nt_type(data).type_id, nt_value(data)["display"]["units"]
('epics:nt/NTScalar:1.0', 'mm')

Theory of operation
-------------------
Loop-free functions between a :class:`~caffi.protocol.ChannelData` (what
the CA server holds) and the pvData structure a pvAccess client of the same
PV sees.  The layout is the one the IOC's qsrv gives a record, member for
member and type id for type id:

* numbers and strings: ``epics:nt/NTScalar:1.0`` (``NTScalarArray`` when
  ``max_length`` > 1, as qsrv does for NELM > 1) with ``value``, ``alarm``
  (``alarm_t``), ``timeStamp``, ``display`` (limits, description, units,
  precision, ``form``), ``control`` (``control_t``) and, for numbers,
  ``valueAlarm`` (``valueAlarm_t``: the alarm and warning limits, NaN for
  an array without any, as for a waveform record; qsrv reports ``active``
  false, severities 0, hysteresis 0, and so do we);
* enums: ``epics:nt/NTEnum:1.0`` with ``value`` (``enum_t``), ``alarm``,
  ``timeStamp``.

Value types follow the native DBR type (DOUBLE -> double, FLOAT -> float,
LONG -> int, SHORT -> short, CHAR bytes (``ChannelByte``, a waveform of
FTVL=UCHAR) -> ubyte, STRING -> string).  ``ChannelChar`` is text sent as a
CHAR array over CA, the long string of a waveform of FTVL=CHAR: over
pvAccess it is what qsrv gives such a record, an ``NTScalarArray`` of
``byte`` (signed) holding the encoded text (a ``pvput`` of a byte array
writes the text up to its first NUL); with ``report_as_string`` it is one
``string``.  Alarm status maps to the pvData status codes as qsrv maps it
(HIHI ... HWLIMIT: DEVICE, COMM/TIMEOUT/UDF: DRIVER, CALC ... BAD_SUB:
RECORD, DISABLE ... WRITE_ACCESS: DB) and the message is the CA status name.
``timeStamp`` is the CA time stamp moved to the POSIX epoch: the same
instant on both protocols.

:func:`nt_changes` gives the members an event of the CA data (DBE flags)
changes, :func:`value_from_put` the CA value of a pvAccess put.  The other
way round, :func:`channel_spec` describes, for an NTScalar, NTScalarArray
or NTEnum structure (of a ``PVAGroup``), the ChannelData class and keyword
arguments that serve it over CA, and :func:`ca_state` the value, time
stamp, alarm and metadata of one of its values.
"""
from typing import Any, Dict, Optional, Tuple

import numpy as np
from pva import FieldDesc, FieldType

from ..protocol import (AlarmSeverity, AlarmStatus, ChannelByte, ChannelChar, ChannelDouble,
                        ChannelEnum, ChannelFloat, ChannelInt64, ChannelInteger, ChannelShort,
                        ChannelString, ChannelType)
from ..protocol._constants import EPICS2UNIX_EPOCH
from ..protocol._data import DBE_ALARM, DBE_LOG, DBE_PROPERTY, DBE_VALUE

__all__ = ["nt_type", "nt_value", "nt_changes", "value_from_put", "channel_spec", "ca_state",
           "ca_value", "pva_value", "alarm_status", "FORM_CHOICES", "NTSCALAR",
           "NTSCALARARRAY", "NTENUM"]

NTSCALAR = "epics:nt/NTScalar:1.0"
NTSCALARARRAY = "epics:nt/NTScalarArray:1.0"
NTENUM = "epics:nt/NTEnum:1.0"
#: display.form.choices of qsrv
FORM_CHOICES = ("Default", "String", "Binary", "Decimal", "Hex", "Exponential", "Engineering")

_F, _T = FieldDesc, FieldType
_ALARM_T = _F.struct([("severity", _F(_T.int32)), ("status", _F(_T.int32)),
                      ("message", _F(_T.string))], "alarm_t")
_TIME = _F.struct([("secondsPastEpoch", _F(_T.int64)), ("nanoseconds", _F(_T.int32)),
                   ("userTag", _F(_T.int32))])
_ENUM_T = _F.struct([("index", _F(_T.int32)), ("choices", _F.array(_T.string))], "enum_t")
_D = _F(_T.float64)
_DISPLAY = _F.struct([("limitLow", _D), ("limitHigh", _D), ("description", _F(_T.string)),
                      ("units", _F(_T.string)), ("precision", _F(_T.int32)),
                      ("form", _ENUM_T)])
_CONTROL = _F.struct([("limitLow", _D), ("limitHigh", _D), ("minStep", _D)], "control_t")
_I = _F(_T.int32)
_VALUE_ALARM = _F.struct([("active", _F(_T.boolean)), ("lowAlarmLimit", _D),
                          ("lowWarningLimit", _D), ("highWarningLimit", _D),
                          ("highAlarmLimit", _D), ("lowAlarmSeverity", _I),
                          ("lowWarningSeverity", _I), ("highWarningSeverity", _I),
                          ("highAlarmSeverity", _I), ("hysteresis", _F(_T.int8))],
                         "valueAlarm_t")

#: native DBR type -> pvData scalar type (ChannelChar, text, is a string)
_FIELD_TYPES = {ChannelType.DOUBLE: _T.float64, ChannelType.FLOAT: _T.float32,
                ChannelType.LONG: _T.int32, ChannelType.INT: _T.int16,
                ChannelType.CHAR: _T.uint8, ChannelType.STRING: _T.string}

#: CA alarm status -> pvData alarm status (0 none, 1 device, 2 driver,
#: 3 record, 4 db, 6 undefined), as qsrv maps it
_S = AlarmStatus
_STATUS = {_S.NO_ALARM: 0, _S.UDF: 2, _S.COMM: 2, _S.TIMEOUT: 2}
_STATUS.update(dict.fromkeys((_S.READ, _S.WRITE, _S.HIHI, _S.HIGH, _S.LOLO, _S.LOW, _S.STATE,
                              _S.COS, _S.HWLIMIT), 1))
_STATUS.update(dict.fromkeys((_S.CALC, _S.SCAN, _S.LINK, _S.SOFT, _S.BAD_SUB), 3))
_STATUS.update(dict.fromkeys((_S.DISABLE, _S.SIMM, _S.READ_ACCESS, _S.WRITE_ACCESS), 4))

_VALUE_EVENTS = DBE_VALUE | DBE_LOG
_NO_VALUE_ALARM = {"active": False, "lowAlarmSeverity": 0, "lowWarningSeverity": 0,
                   "highWarningSeverity": 0, "highAlarmSeverity": 0, "hysteresis": 0}


def alarm_status(status: int) -> int:
    """The pvData alarm status code of a CA alarm status."""
    return _STATUS.get(status, 6)


def _is_text(data) -> bool:
    """True for text served as one pvData string."""
    return isinstance(data, ChannelChar) and data.report_as_string


def _is_char_text(data) -> bool:
    """True for text served as a byte array (a waveform of FTVL=CHAR)."""
    return isinstance(data, ChannelChar) and not data.report_as_string


def nt_type(data) -> FieldDesc:
    """The normative type serving ``data`` over pvAccess (qsrv's layout)."""
    if isinstance(data, ChannelEnum):
        return _F.struct([("value", _ENUM_T), ("alarm", _ALARM_T), ("timeStamp", _TIME)],
                         NTENUM)
    if _is_text(data):
        ft, array = _T.string, False
    elif _is_char_text(data):
        ft, array = _T.int8, data.max_length > 1
    elif isinstance(data, ChannelInt64):
        ft, array = _T.int64, data.max_length > 1         # qsrv: an INT64 field
    else:
        try:
            ft = _FIELD_TYPES[ChannelType(data.data_type)]
        except (KeyError, ValueError):
            raise TypeError("%s cannot be served over pvAccess" % type(data).__name__) \
                from None
        array = data.max_length > 1
    members = [("value", _F.array(ft) if array else _F(ft)), ("alarm", _ALARM_T),
               ("timeStamp", _TIME), ("display", _DISPLAY), ("control", _CONTROL)]
    if ft != _T.string:
        members.append(("valueAlarm", _VALUE_ALARM))
    return _F.struct(members, NTSCALARARRAY if array else NTSCALAR)


def _time_stamp(data) -> Dict[str, int]:
    sec, nsec = data.epics_timestamp
    return {"secondsPastEpoch": int(sec) + EPICS2UNIX_EPOCH, "nanoseconds": int(nsec),
            "userTag": 0}


def _alarm(data) -> Dict[str, Any]:
    status = AlarmStatus(data.alarm.status)
    return {"severity": int(data.alarm.severity), "status": alarm_status(status),
            "message": status.name}


def _value(data) -> Any:
    if isinstance(data, ChannelEnum):
        return {"index": int(data.native()[1][0]), "choices": list(data.enum_strings)}
    value = data.value
    if _is_text(data):
        return value if isinstance(value, str) else bytes(value).decode(
            data.string_encoding or "latin-1")
    if _is_char_text(data):
        raw = np.frombuffer(value.encode(data.string_encoding or "latin-1"), dtype=np.int8)
        return raw if data.max_length > 1 else (int(raw[0]) if len(raw) else 0)
    if isinstance(data, ChannelByte) and isinstance(value, (bytes, bytearray)):
        value = np.frombuffer(value, dtype=np.uint8)
    if isinstance(value, tuple):
        value = list(value)
    if data.max_length == 1 and isinstance(value, (list, np.ndarray)):
        return value[0]
    if data.max_length > 1 and not isinstance(value, (list, np.ndarray)):
        return [value]
    return value


def _description(data) -> str:
    fields = getattr(data, "field_inst", None)
    desc = getattr(fields, "description", None) if fields is not None else None
    return str(desc.value) if desc is not None else ""


def _metadata(data) -> Dict[str, Any]:
    if isinstance(data, ChannelEnum):
        return {}
    d = getattr(data, "_data", {})

    def get(key):
        return float(d.get(key, 0.0) or 0.0)
    out = {"display": {"limitLow": get("lower_disp_limit"),
                       "limitHigh": get("upper_disp_limit"),
                       "description": _description(data),
                       "units": str(d.get("units", "") or ""),
                       "precision": int(d.get("precision", 0) or 0),
                       "form": {"index": 0, "choices": list(FORM_CHOICES)}},
           "control": {"limitLow": get("lower_ctrl_limit"),
                       "limitHigh": get("upper_ctrl_limit"), "minStep": 0.0}}
    limits = ("lower_alarm_limit", "lower_warning_limit", "upper_warning_limit",
              "upper_alarm_limit")
    if _is_char_text(data) or (data.max_length > 1 and not any(get(k) for k in limits)):
        # a waveform has no alarm limits: NaN, as qsrv gives them
        nan = float("nan")
        out["valueAlarm"] = dict(_NO_VALUE_ALARM, lowAlarmLimit=nan, lowWarningLimit=nan,
                                 highWarningLimit=nan, highAlarmLimit=nan)
    elif "upper_alarm_limit" in d and not _is_text(data):
        out["valueAlarm"] = dict(_NO_VALUE_ALARM, lowAlarmLimit=get("lower_alarm_limit"),
                                 lowWarningLimit=get("lower_warning_limit"),
                                 highWarningLimit=get("upper_warning_limit"),
                                 highAlarmLimit=get("upper_alarm_limit"))
    return out


def nt_value(data) -> Dict[str, Any]:
    """The whole structure value of ``data`` (see :func:`nt_type`)."""
    out = {"value": _value(data), "alarm": _alarm(data), "timeStamp": _time_stamp(data)}
    out.update(_metadata(data))
    return out


def nt_changes(data, flags: int) -> Dict[str, Any]:
    """The members an event with DBE ``flags`` changed (``timeStamp`` always:
    the instant of the change as the CA side has it)."""
    out: Dict[str, Any] = {"timeStamp": _time_stamp(data)}
    if flags & _VALUE_EVENTS:
        out["value"] = _value(data)
    if flags & DBE_ALARM:
        out["alarm"] = _alarm(data)
    if flags & DBE_PROPERTY:
        out.update(_metadata(data))
        if isinstance(data, ChannelEnum):
            out["value"] = _value(data)
    return out


def value_from_put(data, changes: Dict[str, Any]) -> Any:
    """The value to write to ``data`` for a pvAccess put of ``changes``.

    Only ``value`` (of an NTEnum: ``value.index``) may be written; anything
    else raises ValueError, as the fields a record derives are not writable.
    """
    extra = sorted(set(changes) - {"value"})
    if extra or "value" not in changes:
        raise ValueError("only 'value' can be written, not %s" % (", ".join(extra) or
                                                                  "nothing"))
    value = changes["value"]
    if isinstance(data, ChannelEnum):
        if not isinstance(value, dict) or set(value) != {"index"}:
            raise ValueError("an enum is written by value.index")
        return int(value["index"])
    if isinstance(data, (ChannelByte, ChannelChar)) and isinstance(value, (np.ndarray, list)):
        return np.asarray(value).astype(np.uint8).tobytes()
    return value


# ---------------------------------------------------------------- the other way
#: pvData scalar type -> the ChannelData serving it over CA: the DBR type
#: rsrv gives a record field of that type (CA has no 64-bit nor unsigned
#: 32-bit integer: an int64in, a ULONG field are DOUBLE over CA; a USHORT
#: is LONG; signed and unsigned bytes are CHAR)
_CLASSES = {_T.float64: ChannelDouble, _T.float32: ChannelFloat, _T.int64: ChannelDouble,
            _T.uint64: ChannelDouble, _T.uint32: ChannelDouble, _T.int32: ChannelInteger,
            _T.uint16: ChannelInteger, _T.int16: ChannelShort, _T.uint8: ChannelByte,
            _T.int8: ChannelByte, _T.string: ChannelString}
_INTEGERS = {_T.int8: np.int8, _T.uint8: np.uint8, _T.int16: np.int16,
             _T.uint16: np.uint16, _T.int32: np.int32, _T.uint32: np.uint32,
             _T.int64: np.int64, _T.uint64: np.uint64}


def channel_spec(desc: FieldDesc) -> Optional[Tuple[type, Dict[str, Any]]]:
    """``(ChannelData class, keyword arguments)`` serving a structure of type
    ``desc`` over CA, or None if it is not an NTScalar/NTScalarArray of a
    type CA can carry (see ``_CLASSES``), nor an NTEnum."""
    type_id = desc.type_id or ""
    value = desc.children.get("value") if desc.field_type == _T.struct else None
    if value is None:
        return None
    if type_id.startswith("epics:nt/NTEnum:"):
        return ChannelEnum, {}
    if not type_id.startswith(("epics:nt/NTScalar:", "epics:nt/NTScalarArray:")):
        return None
    if value.field_type not in _CLASSES or value.is_array != type_id.startswith(
            "epics:nt/NTScalarArray:"):
        return None
    return _CLASSES[value.field_type], {}


def ca_value(desc: FieldDesc, value: Any) -> Any:
    """The CA value of the ``value`` member of an NTScalar/NTScalarArray of
    type ``desc`` (bytes for byte arrays, a list of strings, an array or a
    number)."""
    ft = desc.children["value"].field_type
    if desc.children["value"].is_array:
        if ft == _T.string:
            return [str(v) for v in value]
        arr = np.asarray(value)
        if ft in (_T.int8, _T.uint8):
            return arr.astype(np.uint8).tobytes()
        return arr.astype(np.float64) if _CLASSES.get(ft) is ChannelDouble else arr
    if ft in (_T.int8, _T.uint8):
        return int(value) & 0xFF
    if _CLASSES.get(ft) is ChannelDouble:
        return float(value)
    return value


def pva_value(desc: FieldDesc, value: Any) -> Any:
    """A value written over CA as the ``value`` member of an NTScalar or
    NTScalarArray of type ``desc``: converted as the IOC converts a CA put
    to a field of that type (floating point to integer truncates; out of
    range integers wrap)."""
    member = desc.children["value"]
    ft = member.field_type
    if isinstance(value, (bytes, bytearray)):
        value = np.frombuffer(bytes(value), dtype=np.uint8)
    if member.is_array:
        if ft == _T.string:
            return [v if isinstance(v, str) else bytes(v).decode("latin-1")
                    for v in np.atleast_1d(np.asarray(value, dtype=object))]
        arr = np.atleast_1d(np.asarray(value))
        if ft in _INTEGERS:
            return arr.astype(np.int64).astype(_INTEGERS[ft])
        return arr.astype(np.float32 if ft == _T.float32 else np.float64)
    if isinstance(value, (np.ndarray, list, tuple)):
        value = np.asarray(value).reshape(-1)[0]
    if ft in _INTEGERS:
        bits = np.dtype(_INTEGERS[ft]).itemsize * 8
        v = int(value) % (1 << bits)
        return v - (1 << bits) if np.issubdtype(_INTEGERS[ft], np.signedinteger) and \
            v >= 1 << (bits - 1) else v
    if ft == _T.string:
        return value if isinstance(value, str) else str(value)
    return float(value)


def ca_state(desc: FieldDesc, value: Dict[str, Any]) -> Dict[str, Any]:
    """``value`` (a structure of type ``desc``, all or some of its members)
    as ChannelData keywords: ``value``, ``timestamp`` (POSIX), ``status``,
    ``severity``, ``enum_strings`` and the metadata of ``display``,
    ``control`` and ``valueAlarm``."""
    out: Dict[str, Any] = {}
    if "value" in value:
        v = value["value"]
        if isinstance(v, dict):               # enum_t
            if "choices" in v:
                out["enum_strings"] = tuple(v["choices"])
            if "index" in v:
                out["value"] = int(v["index"])
        else:
            out["value"] = ca_value(desc, v)
    ts = value.get("timeStamp")
    if isinstance(ts, dict) and "secondsPastEpoch" in ts:
        out["timestamp"] = (int(ts["secondsPastEpoch"]) - EPICS2UNIX_EPOCH,
                            int(ts.get("nanoseconds", 0)))
    alarm = value.get("alarm")
    if isinstance(alarm, dict) and "severity" in alarm:
        severity = int(alarm["severity"])
        out["severity"] = AlarmSeverity(min(max(severity, 0), 3))
        out["status"] = _ca_status(alarm.get("message", ""), severity)
    _meta(out, value.get("display"), {"limitLow": "lower_disp_limit",
                                      "limitHigh": "upper_disp_limit", "units": "units",
                                      "precision": "precision"})
    _meta(out, value.get("control"), {"limitLow": "lower_ctrl_limit",
                                      "limitHigh": "upper_ctrl_limit"})
    _meta(out, value.get("valueAlarm"), {"lowAlarmLimit": "lower_alarm_limit",
                                         "lowWarningLimit": "lower_warning_limit",
                                         "highWarningLimit": "upper_warning_limit",
                                         "highAlarmLimit": "upper_alarm_limit"})
    return out


def _ca_status(message: str, severity: int) -> AlarmStatus:
    """A CA status for a pvData alarm: the one its message names, else SOFT
    for an alarm and NO_ALARM for none."""
    try:
        return AlarmStatus[str(message)]
    except KeyError:
        return AlarmStatus.SOFT if severity else AlarmStatus.NO_ALARM


def _meta(out: Dict[str, Any], member: Any, names: Dict[str, str]) -> None:
    if not isinstance(member, dict):
        return
    for key, name in names.items():
        if key in member:
            v = member[key]
            out[name] = v if isinstance(v, str) else (int(v) if name == "precision"
                                                      else float(v))
