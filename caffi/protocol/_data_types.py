"""The ChannelData classes of each native type (caproto's names).

``ChannelDouble``/``ChannelFloat``/``ChannelInteger``/``ChannelShort`` hold
numbers with units, limits (display, alarm, warning, control) and, for the
floating point ones, a precision; a write outside the control limits is
refused (:class:`~caffi.protocol.CannotExceedLimits`) and the alarm and
warning limits set the alarm as an ai record does.  ``ChannelEnum`` holds
one of its enum strings, ``ChannelString`` strings of up to 39 characters,
``ChannelChar`` a text sent as a CHAR array (or as one STRING with
``report_as_string``), ``ChannelByte`` raw bytes sent as a CHAR array.
"""
import math
import operator
from typing import Iterable

import numpy as np

from ._constants import AlarmSeverity, AlarmStatus, ChannelType
from ._convert import NativeMetadata
from ._data import (DBE_LOG, DBE_VALUE, STANDARD_NATIVE_METADATA, CannotExceedLimits,
                    ChannelData, _validate_enum_strings)
from ._dbr import DBR_LAYOUTS
from ._errors import CaprotoValueError

__all__ = ["ChannelNumeric", "ChannelShort", "ChannelInteger", "ChannelFloat",
           "ChannelDouble", "ChannelInt64", "ChannelEnum", "ChannelString", "ChannelChar",
           "ChannelByte"]

_T = ChannelType
_LIMITS = ("upper_disp_limit", "lower_disp_limit", "upper_alarm_limit",
           "upper_warning_limit", "lower_warning_limit", "lower_alarm_limit",
           "upper_ctrl_limit", "lower_ctrl_limit")


def _encode(text, encoding) -> bytes:
    if isinstance(text, (bytes, bytearray, memoryview)):
        return bytes(text)
    return str(text).encode(encoding or "latin-1")


def _decode(raw, encoding) -> str:
    raw = bytes(raw)
    nul = raw.find(b"\x00")
    if nul >= 0:
        raw = raw[:nul]
    return raw.decode(encoding or "latin-1")


_NUMBERS = (int, float)
#: (low limit, high limit, low status, high status, low and high severity
#: fields, default severity): the alarm then the warning limits, as an ai
_ALARM_RULES = (
    ("lower_alarm_limit", "upper_alarm_limit", AlarmStatus.LOLO, AlarmStatus.HIHI,
     "lolo_severity", "hihi_severity", AlarmSeverity.MAJOR_ALARM),
    ("lower_warning_limit", "upper_warning_limit", AlarmStatus.LOW, AlarmStatus.HIGH,
     "low_severity", "high_severity", AlarmSeverity.MINOR_ALARM))


def _ro(key, doc=None):
    return property(lambda self: self._data[key], doc=doc or "Read-only: use write_metadata")


class ChannelNumeric(ChannelData):
    """Numbers (one or an array) with units and limits.

    ``value_atol`` and ``log_atol`` are the deadbands of DBE_VALUE and
    DBE_LOG updates (a record's MDEL and ADEL).
    """

    def __init__(self, *, value, units="", upper_disp_limit=0, lower_disp_limit=0,
                 upper_alarm_limit=0, upper_warning_limit=0, lower_warning_limit=0,
                 lower_alarm_limit=0, upper_ctrl_limit=0, lower_ctrl_limit=0,
                 value_atol=0.0, log_atol=0.0, **kwargs):
        super().__init__(value=value, **kwargs)
        data = self._data
        data["units"] = units
        for name, v in zip(_LIMITS, (upper_disp_limit, lower_disp_limit, upper_alarm_limit,
                                     upper_warning_limit, lower_warning_limit,
                                     lower_alarm_limit, upper_ctrl_limit, lower_ctrl_limit)):
            data[name] = v
        self.value_atol = value_atol
        self.log_atol = log_atol

    units = _ro("units")
    upper_disp_limit = _ro("upper_disp_limit")
    lower_disp_limit = _ro("lower_disp_limit")
    upper_alarm_limit = _ro("upper_alarm_limit")
    lower_alarm_limit = _ro("lower_alarm_limit")
    upper_warning_limit = _ro("upper_warning_limit")
    lower_warning_limit = _ro("lower_warning_limit")
    upper_ctrl_limit = _ro("upper_ctrl_limit")
    lower_ctrl_limit = _ro("lower_ctrl_limit")

    def native_metadata(self) -> NativeMetadata:
        md = super().native_metadata()
        data = self._data
        md.units = _encode(data["units"], self.string_encoding)
        md.precision = data.get("precision", 0)
        for name in _LIMITS:
            setattr(md, name, float(data[name]))
        return md

    def _alarm_severity(self, name, default) -> AlarmSeverity:
        """The severity of a limit: the record's HHSV/HSV/LSV/LLSV field if any."""
        fields = getattr(self, "field_inst", None)
        sev = getattr(fields, name, None) if fields is not None else None
        if sev is None:
            return AlarmSeverity(default)
        v = sev.value
        if isinstance(v, str):
            try:
                return AlarmSeverity(sev.enum_strings.index(v))
            except ValueError:
                return AlarmSeverity(default)
        return AlarmSeverity(int(v))

    #: a write outside the control limits: ``"refuse"`` it (caproto's rule),
    #: ``"clamp"`` it to them, as an output record's DRVH and DRVL do (when
    #: DRVH > DRVL; NaN passes), or take it as it is (``"none"``: an input
    #: record, whose control limits are only its display range)
    write_limits = "refuse"
    #: a NaN value raises the undefined-value alarm (UDF, INVALID) of an
    #: analog record instead of being checked against the alarm limits
    nan_is_undefined = False

    async def verify_value(self, data):
        sequence = False
        if type(data) in _NUMBERS:
            val = data
        elif isinstance(data, Iterable) and not isinstance(data, (str, bytes)):
            if len(data) != 1:
                return data             # arrays: limits do not apply
            (val,) = data
            sequence = True
        else:
            val = data
        values = self._data
        lo, hi = values["lower_ctrl_limit"], values["upper_ctrl_limit"]
        if lo != hi and not lo <= val <= hi:
            rule = self.write_limits
            if rule == "refuse":
                raise CannotExceedLimits("Cannot write data %r. Limits are set to %r and %r."
                                         % (val, lo, hi))
            if rule == "clamp" and lo < hi and val == val:
                val = hi if val > hi else lo
                data = [val] if sequence else val
        if self.nan_is_undefined and val != val:
            self._status, self._severity = AlarmStatus.UDF, AlarmSeverity.INVALID_ALARM
            return data
        status, severity = AlarmStatus.NO_ALARM, AlarmSeverity.NO_ALARM
        for lo_name, hi_name, lo_sts, hi_sts, lo_sev, hi_sev, default in _ALARM_RULES:
            lo, hi = values[lo_name], values[hi_name]
            if lo == hi:
                continue
            if val >= hi:
                sev = self._alarm_severity(hi_sev, default)
                if sev:
                    status, severity = hi_sts, sev
                    break
            elif val <= lo:
                sev = self._alarm_severity(lo_sev, default)
                if sev:
                    status, severity = lo_sts, sev
                    break
        self._status = status
        self._severity = severity
        return data


# units and limits only: the compiled encoders (plain, STS, TIME) still apply
STANDARD_NATIVE_METADATA.add(ChannelNumeric.native_metadata)


class ChannelShort(ChannelNumeric):
    """16-bit SHORT integer data and metadata which can be sent over a channel."""
    data_type = _T.INT
    default_value = 0


class ChannelInteger(ChannelNumeric):
    """32-bit LONG integer data and metadata which can be sent over a channel."""
    data_type = _T.LONG
    default_value = 0


class _Precision:
    def __init__(self, *, precision=0, **kwargs):
        super().__init__(**kwargs)
        self._data["precision"] = precision

    precision = _ro("precision")


class ChannelFloat(_Precision, ChannelNumeric):
    """32-bit floating point data and metadata which can be sent over a channel."""
    data_type = _T.FLOAT
    default_value = 0.0


class ChannelDouble(_Precision, ChannelNumeric):
    """64-bit floating point data and metadata which can be sent over a channel."""
    data_type = _T.DOUBLE
    default_value = 0.0


class ChannelInt64(ChannelDouble):
    """A 64-bit integer (an ``int64in``/``int64out`` record's value), held as
    a Python int.  CA has no 64-bit integer: rsrv serves an INT64 field as
    DOUBLE, and so does this class; a number written is truncated to an
    integer as the IOC converts it.  NaN, infinities and integers beyond 64
    bits are refused (CaprotoValueError) rather than stored wrong."""
    default_value = 0

    def preprocess_value(self, value):
        value = super().preprocess_value(value)
        if self._max_length == 1:
            return _int64(value)
        return [_int64(v) for v in value]

    def _native_for(self, data_type):
        # as the IOC reads an INT64 field as another type: the integer types
        # take its low bits (a C cast), STRING its decimal digits; floating
        # point types go through the double as for any DOUBLE channel
        data_type = int(data_type)
        native = DBR_LAYOUTS[data_type].native if 0 <= data_type < 35 else _T.DOUBLE
        if native in (_T.DOUBLE, _T.FLOAT) or self._max_length != 1:
            return self.native()
        value = self._data["value"]
        if native is _T.STRING:
            return _T.STRING, [b"%d" % value]
        return _T.LONG, [(value + (1 << 31)) % (1 << 32) - (1 << 31)]


def _int64(value) -> int:
    if isinstance(value, (float, np.floating)):
        if not math.isfinite(value):
            raise CaprotoValueError("a 64-bit integer cannot hold %r" % (value,))
        value = math.trunc(value)
    try:
        value = operator.index(value)
    except TypeError:
        raise CaprotoValueError("a 64-bit integer cannot hold %r" % (value,)) from None
    if not -(1 << 63) <= value < (1 << 63):
        raise CaprotoValueError("%d is beyond a 64-bit integer" % value)
    return value


class ChannelEnum(ChannelData):
    """ENUM data: one of ``enum_strings`` (the value is the string; an
    integer index is accepted on writes)."""
    data_type = _T.ENUM
    default_value = 0

    def __init__(self, *, enum_strings=None, **kwargs):
        self._data = {"enum_strings": _validate_enum_strings(enum_strings or ())}
        super().__init__(**kwargs)
        self._data["enum_strings"] = _validate_enum_strings(enum_strings or ())

    enum_strings = _ro("enum_strings")
    #: the states of the record: a state of these without a string reads as
    #: an empty string, one beyond them as ``illegal_string`` (an mbbi/mbbo
    #: has 16 states; a bi/bo 2, and says "Illegal_Value")
    enum_states = 16
    illegal_string = "Illegal Value"
    #: the alarm a state beyond ``enum_states`` raises (an mbbi/mbbo's SOFT,
    #: INVALID), or None
    illegal_state_alarm = None
    #: (lower, upper) control limits of a DBR_CTRL read: an unsigned short's
    #: range, as a bo (recGblGetControlDouble); a bi or mbbi/mbbo has none
    #: (0, 0)
    control_range = (0.0, 65535.0)

    def preprocess_value(self, value):
        value = super().preprocess_value(value)
        strings = self._data.get("enum_strings", ())
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool) \
                and 0 <= value < len(strings):
            return strings[value]
        if isinstance(value, bool) and len(strings) > int(value):
            return strings[int(value)]
        return value

    def get_raw_value(self, value):
        """The index of ``value`` in the enum strings (None if not one)."""
        try:
            return self.enum_strings.index(value)
        except ValueError:
            return None

    @property
    def raw_value(self):
        return self.get_raw_value(self.value)

    def native(self):
        value = self.value
        index = self.get_raw_value(value)
        if index is None:
            index = int(value) if isinstance(value, (int, np.integer)) else 0
        return self.data_type, [index]

    def native_metadata(self) -> NativeMetadata:
        md = super().native_metadata()
        # an IOC's ENUM fields: no alarm limits (NaN), the control range of
        # the record type
        nan = float("nan")
        md.upper_alarm_limit = md.upper_warning_limit = nan
        md.lower_warning_limit = md.lower_alarm_limit = nan
        md.lower_ctrl_limit, md.upper_ctrl_limit = self.control_range
        md.enum_strings = tuple(_encode(s, self.string_encoding) for s in self.enum_strings)
        md.enum_states = self.enum_states
        md.illegal_string = _encode(self.illegal_string, self.string_encoding)
        return md

    def _enum_bytes(self):
        return tuple(_encode(s, self.string_encoding) for s in self.enum_strings)

    def _from_native(self, values):
        index = int(np.asarray(values).reshape(-1)[0])
        strings = self.enum_strings
        return strings[index] if index < len(strings) else index

    async def verify_value(self, data):
        if self.illegal_state_alarm is not None:
            index = self.get_raw_value(data)
            if index is None:
                index = int(data) if isinstance(data, (int, np.integer)) else 0
            if index >= self.enum_states:
                self._status, self._severity = self.illegal_state_alarm
            else:
                self._status, self._severity = AlarmStatus.NO_ALARM, AlarmSeverity.NO_ALARM
        if isinstance(data, (int, np.integer)) and 0 <= data < len(self.enum_strings):
            return self.enum_strings[data]
        return data

    def _value_flags(self):
        return DBE_VALUE | DBE_LOG


class ChannelString(ChannelData):
    """Strings (up to 39 characters each) and metadata which can be sent over a channel."""
    data_type = _T.STRING
    default_value = ""

    def __init__(self, *, long_string_max_length=81, **kwargs):
        super().__init__(**kwargs)
        self._long_string_max_length = long_string_max_length

    @property
    def long_string_max_length(self):
        return self._long_string_max_length

    def native(self):
        enc = self.string_encoding
        value = self.value
        if isinstance(value, (list, tuple, np.ndarray)):
            return self.data_type, [_encode(v, enc) for v in value]
        return self.data_type, [_encode(value, enc)]

    def _from_native(self, values):
        strings = [_decode(v, self.string_encoding) for v in values]
        return strings[0] if self._max_length == 1 and len(strings) == 1 else strings


class _CharBase(ChannelData):
    data_type = _T.CHAR

    def calculate_length(self, value):
        if isinstance(value, (str, bytes, bytearray)):
            return len(value)
        return super().calculate_length(value)

    def _join(self, value):
        """A list/array of byte values as bytes."""
        if isinstance(value, np.ndarray):
            return value.astype(np.uint8).tobytes()
        if isinstance(value, (list, tuple)):
            return bytes(bytearray(int(v) & 0xFF for v in value))
        return value


class ChannelChar(_CharBase):
    """Text sent as a CHAR array (or, with ``report_as_string``, as one STRING)."""
    default_value = ""

    def __init__(self, *, report_as_string=False, **kwargs):
        self.report_as_string = bool(report_as_string)
        super().__init__(**kwargs)
        if report_as_string:
            self.data_type = _T.STRING

    @property
    def long_string_max_length(self):
        return self._max_length

    @property
    def max_length(self):
        return 1 if self.report_as_string else self._max_length

    def preprocess_value(self, value):
        value = self._join(value)
        if isinstance(value, (int, np.integer)):
            value = bytes([int(value) & 0xFF])
        if isinstance(value, (bytes, bytearray, memoryview)):
            value = _decode(value, self.string_encoding)
        if not isinstance(value, str):
            raise CaprotoValueError("Invalid string %r" % (value,))
        if len(value.encode(self.string_encoding)) > self._max_length:
            raise CaprotoValueError("%r is longer than %d characters"
                                    % (value, self._max_length))
        return value

    def native(self):
        raw = _encode(self.value, self.string_encoding)
        if self.report_as_string:
            return _T.STRING, [raw[:39]]
        return _T.CHAR, np.frombuffer(raw, dtype=np.uint8)

    def _from_native(self, values):
        if self.report_as_string:
            return _decode(values[0], self.string_encoding)
        return _decode(np.asarray(values, dtype=np.uint8).tobytes(), self.string_encoding)

    def _value_flags(self):
        return DBE_VALUE | DBE_LOG


class ChannelByte(_CharBase, ChannelNumeric):
    """Raw bytes sent as a CHAR array."""
    default_value = b""

    def __init__(self, *, string_encoding=None, strip_null_terminator=True, **kwargs):
        if string_encoding is not None:
            raise CaprotoValueError("ChannelByte cannot have a string encoding")
        self.strip_null_terminator = strip_null_terminator
        super().__init__(string_encoding=None, **kwargs)

    def preprocess_value(self, value):
        if self._max_length == 1 and isinstance(value, (int, np.integer)):
            return int(value) & 0xFF
        value = self._join(value)
        if isinstance(value, str):
            raise CaprotoValueError("ChannelByte does not accept decoded strings")
        value = bytes(value)
        if len(value) > self._max_length:
            raise CaprotoValueError("%d bytes do not fit max_length=%d"
                                    % (len(value), self._max_length))
        if self.strip_null_terminator:
            value = value.rstrip(b"\x00")
        if self._max_length == 1:
            return value[0] if value else 0
        return value

    def native(self):
        value = self.value
        if isinstance(value, int):
            return _T.CHAR, [value]
        return _T.CHAR, np.frombuffer(value, dtype=np.uint8)

    def _from_native(self, values):
        raw = np.asarray(values, dtype=np.uint8).tobytes()
        if self._max_length == 1:
            return raw[0] if raw else 0
        return raw

    async def verify_value(self, data):
        return data

    def _value_flags(self):
        return DBE_VALUE | DBE_LOG
