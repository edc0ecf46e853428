"""Channel data: a value with its metadata, as a CA server holds it (caproto's names).

>>> import asyncio
>>> from caffi.protocol import ChannelDouble, ChannelType
>>> data = ChannelDouble(value=1.5, precision=3, units="mm")
>>> metadata, values = asyncio.run(data.read(ChannelType.CTRL_DOUBLE))
>>> float(values[0]), metadata.units, metadata.precision
(1.5, b'mm', 3)

Theory of operation
-------------------
A :class:`ChannelData` keeps one PV's value in Python form (a number, a
string, a list or numpy array) with its metadata (time stamp, units,
limits, precision, enum strings) and an alarm (:class:`ChannelAlarm`,
possibly shared by several PVs).  Nothing here needs an event loop: the
``async`` methods (caproto's API) never wait for anything but the hooks a
subclass adds, so a coroutine of a plain instance finishes at its first
``send``.

Reads go through :func:`~caffi.protocol.read_dbr`: the value is handed over in
its native type (:meth:`ChannelData.native`) and converted to the requested
DBR type as an IOC does.  Writes from a client go through
:func:`~caffi.protocol.write_value` (:meth:`ChannelData.write_from_dbr`), then
:meth:`ChannelData.write`: ``preprocess_value`` (shape), ``verify_value`` (a
hook that may change or refuse the value), ``update_fields`` (record
fields), then the value is stored and published.

Publishing: subscribers (the server's subscriptions, anything with
``mask``, ``data_type``, ``data_count`` and ``post(flags, data, metadata)``)
are registered with :meth:`ChannelData.add_subscriber`.  A change is posted
with event flags (``SubscriptionType`` bits): DBE_VALUE and DBE_LOG when the
value moved past the deadbands ``value_atol``/``log_atol`` of numeric data
(MDEL/ADEL; 0 posts every write, as caproto does), DBE_ALARM when the alarm
changed, DBE_PROPERTY when metadata changed.  A subscriber receives the
update if its mask has one of the flags; the conversion to each requested
``(data_type, data_count)`` is done once per post, whatever the number of
subscribers.
"""
import copy
import time
import weakref
from typing import Any, Dict, Optional, Tuple

import numpy as np

from ._constants import (MAX_ENUM_STATES, MAX_ENUM_STRING_SIZE, AccessRights, AlarmSeverity,
                         AlarmStatus, ChannelType, SubscriptionType)
from ._convert import NativeMetadata, read_dbr, write_value
from ._dbr import TimeStamp, timestamp_to_epics
from ._errors import CaprotoError, CaprotoValueError

__all__ = ["ChannelAlarm", "ChannelData", "ChannelEnum", "ChannelNumeric", "ChannelShort",
           "ChannelInteger", "ChannelFloat", "ChannelDouble", "ChannelByte", "ChannelChar",
           "ChannelString", "Forbidden", "CannotExceedLimits", "SkipWrite",
           "DBE_VALUE", "DBE_LOG", "DBE_ALARM", "DBE_PROPERTY"]

DBE_VALUE = int(SubscriptionType.DBE_VALUE)
DBE_LOG = int(SubscriptionType.DBE_LOG)
DBE_ALARM = int(SubscriptionType.DBE_ALARM)
DBE_PROPERTY = int(SubscriptionType.DBE_PROPERTY)
_T = ChannelType
_ARRAYS = (list, tuple, np.ndarray)


class Forbidden(CaprotoError):
    """The client may not do this (access rights)."""


class CannotExceedLimits(CaprotoValueError):
    """A value outside the control limits was written."""


class SkipWrite(Exception):
    """Raise from a putter (or return it) to leave the value unchanged."""


def _stamp(value) -> TimeStamp:
    """A :class:`TimeStamp` from a POSIX time, a TimeStamp or a 2-tuple."""
    if value is None:
        return TimeStamp(*timestamp_to_epics(time.time()))
    if isinstance(value, TimeStamp):
        return value
    if isinstance(value, (tuple, list)):
        return TimeStamp(int(value[0]), int(value[1]))
    return TimeStamp(*timestamp_to_epics(float(value)))


class ChannelAlarm:
    """Alarm state (status, severity, acknowledgement) shared by one or more PVs.

    ``must_acknowledge_transient`` is ACKT, ``severity_to_acknowledge`` ACKS:
    the highest severity not yet acknowledged.  As in an IOC, a severity
    rising above ACKS raises ACKS to it; with ACKT off ACKS also follows the
    severity down; writing ACKS at or above the current ACKS clears it.
    """

    def __init__(self, *, status=0, severity=0, must_acknowledge_transient=True,
                 severity_to_acknowledge=0, alarm_string="", string_encoding="latin-1"):
        self._channels = weakref.WeakSet()
        self.string_encoding = string_encoding
        self.status = AlarmStatus(status)
        self.severity = AlarmSeverity(severity)
        self.must_acknowledge_transient = bool(must_acknowledge_transient)
        self.severity_to_acknowledge = AlarmSeverity(severity_to_acknowledge)
        self.alarm_string = alarm_string

    def __repr__(self):
        return "<ChannelAlarm(status=%s, severity=%s)>" % (int(self.status), int(self.severity))

    def __eq__(self, other):
        if not isinstance(other, ChannelAlarm):
            return NotImplemented
        return self._state() == other._state()

    __hash__ = object.__hash__

    def _state(self):
        return (self.status, self.severity, self.must_acknowledge_transient,
                self.severity_to_acknowledge, self.alarm_string)

    def connect(self, channel_data) -> None:
        self._channels.add(channel_data)

    def disconnect(self, channel_data) -> None:
        self._channels.discard(channel_data)

    async def read(self, dbr=None):
        """``(status, severity, ackt, acks, alarm_string)``."""
        return (int(self.status), int(self.severity), int(self.must_acknowledge_transient),
                int(self.severity_to_acknowledge), self.alarm_string)

    def apply(self, *, status=None, severity=None, must_acknowledge_transient=None,
              severity_to_acknowledge=None, alarm_string=None) -> int:
        """Change the alarm without publishing; returns the event flags of
        the change (DBE_ALARM, or 0 when nothing changed)."""
        before = self._state()
        if status is not None:
            self.status = AlarmStatus(status)
        if severity is not None:
            self.severity = AlarmSeverity(severity)
            if not self.must_acknowledge_transient or self.severity > self.severity_to_acknowledge:
                self.severity_to_acknowledge = self.severity
        if must_acknowledge_transient is not None:
            self.must_acknowledge_transient = bool(must_acknowledge_transient)
            if not self.must_acknowledge_transient and \
                    self.severity_to_acknowledge > self.severity:
                self.severity_to_acknowledge = self.severity
        if severity_to_acknowledge is not None:
            if severity_to_acknowledge >= self.severity_to_acknowledge:
                self.severity_to_acknowledge = AlarmSeverity(0)
        if alarm_string is not None:
            self.alarm_string = alarm_string
        return DBE_ALARM if self._state() != before else 0

    async def write(self, *, status=None, severity=None, must_acknowledge_transient=None,
                    severity_to_acknowledge=None, alarm_string=None, flags=0, publish=True):
        """Change the alarm and (with ``publish``) post to every PV using it."""
        flags |= self.apply(status=status, severity=severity,
                            must_acknowledge_transient=must_acknowledge_transient,
                            severity_to_acknowledge=severity_to_acknowledge,
                            alarm_string=alarm_string)
        if publish and flags:
            await self.publish(flags)

    async def publish(self, flags, *, except_for=()):
        for channel in list(self._channels):
            if channel not in except_for:
                channel._alarm_changed(flags)


class ChannelData:
    """Base class holding data and metadata which can be sent across a channel.

    Parameters
    ----------
    value
        The initial value (of this class's ``data_type``).
    alarm : ChannelAlarm, optional
        A (possibly shared) alarm; a new one by default.
    timestamp : float, TimeStamp or (seconds, nanoseconds), optional
        Defaults to now.
    max_length : int, optional
        Largest number of elements (the native count); the initial length
        (at least 1) by default.
    string_encoding : str
        Encoding of string values.
    reported_record_type : str
        What a DBR_CLASS_NAME read (or ``.RTYP``) answers.
    max_subscription_backlog : int
        Updates a subscription may hold for a slow client before the newest
        replaces the last one queued (the latest value is always delivered).
    """
    data_type = _T.LONG
    default_value: Any = 0
    #: deadbands of numeric data (see the module doc)
    value_atol = 0.0
    log_atol = 0.0

    def __init__(self, *, alarm=None, value=None, timestamp=None, max_length=None,
                 string_encoding="latin-1", reported_record_type="caproto",
                 max_subscription_backlog: int = 100):
        if value is None:
            value = copy.copy(self.default_value)
        self._alarm = None
        self.alarm = alarm if alarm is not None else ChannelAlarm()
        self._status = self._severity = None
        self.string_encoding = string_encoding
        self.reported_record_type = reported_record_type
        self.max_subscription_backlog = max(1, int(max_subscription_backlog))
        self._max_length = max_length if max_length is not None else max(
            self.calculate_length(value), 1)
        self._data: Dict[str, Any] = {"value": self.preprocess_value(value),
                                      "timestamp": _stamp(timestamp)}
        self._subscribers: Dict[Any, None] = {}
        self._cache: Dict[Tuple[int, Optional[int]], tuple] = {}
        self._last_value = self._last_log = self._scalar_number()

    # ------------------------------------------------------------------ shape
    def calculate_length(self, value) -> int:
        """The number of elements of ``value``."""
        if isinstance(value, _ARRAYS):
            return len(value)
        return 1

    @property
    def length(self) -> int:
        return self.calculate_length(self.value)

    @property
    def max_length(self) -> int:
        return self._max_length

    def __len__(self):
        return self.length

    def preprocess_value(self, value):
        """Shape ``value``: a scalar for one element, a list (or array) else."""
        is_array = isinstance(value, _ARRAYS)
        if is_array and len(value) > self._max_length:
            raise CaprotoValueError("Value of length %d is too large for %s(max_length=%d)"
                                    % (len(value), type(self).__name__, self._max_length))
        if self._max_length == 1:
            if is_array:
                if not len(value):
                    raise CaprotoValueError("Cannot set a scalar to an empty array")
                return value[0]
            return value
        if not is_array:
            return [value]
        return value

    # ------------------------------------------------------------------ state
    @property
    def value(self):
        return self._data["value"]

    @property
    def timestamp(self) -> float:
        """POSIX time stamp of the value."""
        return self._data["timestamp"].timestamp

    @property
    def epics_timestamp(self) -> TimeStamp:
        return self._data["timestamp"]

    @property
    def alarm(self) -> ChannelAlarm:
        return self._alarm

    @alarm.setter
    def alarm(self, alarm):
        if self._alarm is alarm:
            return
        if self._alarm is not None:
            self._alarm.disconnect(self)
        self._alarm = alarm
        if alarm is not None:
            alarm.connect(self)

    @property
    def status(self):
        return self._alarm.status if self._status is None else self._status

    @status.setter
    def status(self, value):
        self._status = AlarmStatus(value)

    @property
    def severity(self):
        return self._alarm.severity if self._severity is None else self._severity

    @severity.setter
    def severity(self, value):
        self._severity = AlarmSeverity(value)

    def check_access(self, hostname: str, username: str) -> AccessRights:
        """Access rights of a client (read and write; override to restrict)."""
        return AccessRights.READ | AccessRights.WRITE

    # ------------------------------------------------------------------ native form
    def native(self):
        """``(native DBR type, values)``: the value as :func:`read_dbr` takes it."""
        value = self._data["value"]
        if self._max_length == 1 and not isinstance(value, _ARRAYS):
            return self.data_type, [value]
        return self.data_type, value

    def native_metadata(self) -> NativeMetadata:
        """The metadata in the form :func:`read_dbr` takes."""
        alarm = self._alarm
        return NativeMetadata(status=int(alarm.status), severity=int(alarm.severity),
                              timestamp=tuple(self._data["timestamp"]),
                              ackt=int(alarm.must_acknowledge_transient),
                              acks=int(alarm.severity_to_acknowledge),
                              class_name=self.reported_record_type.encode(
                                  "latin-1", "replace"))

    def read_now(self, data_type, data_count=None):
        """``(data, metadata)`` of the current value as ``data_type`` (cached
        until the next change; raises CaprotoConversionError where an IOC
        fails the read)."""
        key = (data_type, data_count)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        native_type, values = self.native()
        result = read_dbr(native_type, values, self.native_metadata(), data_type, data_count)
        if len(self._cache) > 64:
            self._cache.clear()
        self._cache[key] = result
        return result

    # ------------------------------------------------------------------ reads
    async def read(self, data_type):
        """``(metadata, values)`` as ``data_type`` (caproto's order)."""
        data, metadata = self.read_now(int(data_type))
        return metadata, data

    async def auth_read(self, hostname, username, data_type, *, user_address=None):
        if AccessRights.READ not in self.check_access(hostname, username):
            raise Forbidden("%s@%s cannot read" % (username, hostname))
        return await self.read(data_type)

    # ------------------------------------------------------------------ writes
    async def verify_value(self, data):
        """Check or change a value before it is stored (raise to refuse)."""
        return data

    async def update_fields(self, value):
        """Hook for record fields (called before the value is stored)."""

    async def auth_write(self, hostname, username, data, data_type, metadata, *, flags=0,
                         user_address=None):
        if AccessRights.WRITE not in self.check_access(hostname, username):
            raise Forbidden("%s@%s cannot write" % (username, hostname))
        return await self.write_from_dbr(data, data_type, metadata, flags=flags)

    def _from_native(self, values):
        """Native values written by a client -> this class's Python form."""
        if isinstance(values, np.ndarray):
            values = values.astype(values.dtype.newbyteorder("="))
            if self._max_length == 1 and len(values) == 1:
                return values[0].item()
            return values
        return list(values)

    async def write_from_dbr(self, data, data_type, metadata, *, flags=0):
        """Store a value written by a client as ``data_type``."""
        data_type = int(data_type)
        if data_type == _T.PUT_ACKS:
            await self.alarm.write(severity_to_acknowledge=int(np.asarray(data).reshape(-1)[0]))
            return
        if data_type == _T.PUT_ACKT:
            await self.alarm.write(
                must_acknowledge_transient=int(np.asarray(data).reshape(-1)[0]))
            return
        if data_type in (_T.STSACK_STRING, _T.CLASS_NAME):
            raise CaprotoValueError("DBR type %d cannot be written" % data_type)
        native = write_value(self.data_type, data_type, data,
                             enum_strings=self._enum_bytes(), scalar=self._max_length == 1)
        await self.write(self._from_native(native), flags=flags)

    def _enum_bytes(self):
        return None

    async def write(self, value, *, flags=0, verify_value=True, update_fields=True,
                    **metadata):
        """Store ``value`` (and metadata given as keywords) and publish it."""
        try:
            value = self.preprocess_value(value)
            modified = await self.verify_value(value) if verify_value else value
            if modified is SkipWrite:
                return
            if modified is not None:
                value = self.preprocess_value(modified)
            if update_fields:
                await self.update_fields(value)
        except SkipWrite:
            self._status = self._severity = None
            return
        except GeneratorExit:
            raise
        except Exception:
            self._status = self._severity = None
            self.alarm.apply(status=AlarmStatus.WRITE, severity=AlarmSeverity.MAJOR_ALARM)
            self._alarm_changed(DBE_ALARM)
            raise
        alarm = {}
        if self._status is not None:
            alarm["status"] = self._status
        if self._severity is not None:
            alarm["severity"] = self._severity
        self._status = self._severity = None
        for key in ("status", "severity"):
            if key in metadata:
                alarm[key] = metadata.pop(key)
        metadata.setdefault("timestamp", None)
        self._data["value"] = value
        flags |= self._value_flags()
        flags |= self._apply_metadata(metadata)
        changed = self.alarm.apply(**alarm) if alarm else 0
        self._post(flags | changed)
        if changed:
            await self.alarm.publish(changed, except_for=(self,))

    def _scalar_number(self):
        value = self._data["value"]
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        return None

    def _value_flags(self) -> int:
        """DBE_VALUE/DBE_LOG for the value just stored (deadbands of numbers)."""
        new = self._scalar_number()
        if new is None:
            return DBE_VALUE | DBE_LOG
        flags = 0
        if _past(self._last_value, new, self.value_atol):
            self._last_value = new
            flags |= DBE_VALUE
        if _past(self._last_log, new, self.log_atol):
            self._last_log = new
            flags |= DBE_LOG
        return flags

    _METADATA_KEYS = ("units", "precision", "upper_disp_limit", "lower_disp_limit",
                      "upper_alarm_limit", "upper_warning_limit", "lower_warning_limit",
                      "lower_alarm_limit", "upper_ctrl_limit", "lower_ctrl_limit",
                      "enum_strings")

    def _apply_metadata(self, metadata) -> int:
        """Store metadata keywords; DBE_PROPERTY if any property changed."""
        flags = 0
        data = self._data
        if "timestamp" in metadata:
            data["timestamp"] = _stamp(metadata.pop("timestamp"))
        for key, value in metadata.items():
            if value is None:
                continue
            if key not in self._METADATA_KEYS or key not in data:
                raise CaprotoValueError("%s has no metadata %r" % (type(self).__name__, key))
            if key == "enum_strings":
                value = _validate_enum_strings(value)
            elif isinstance(value, (list, tuple, np.ndarray)) and len(value) == 1:
                value = value[0]
            if data[key] != value:
                data[key] = value
                flags |= DBE_PROPERTY
        return flags

    async def write_metadata(self, publish=True, timestamp=None, status=None, severity=None,
                             **metadata):
        """Change metadata (units, limits, precision, ...); posts DBE_PROPERTY."""
        if timestamp is not None:
            metadata["timestamp"] = timestamp
        flags = self._apply_metadata(metadata)
        if status is not None or severity is not None:
            flags |= self.alarm.apply(status=status, severity=severity)
        self._cache.clear()
        if publish and flags:
            self._post(flags)
            if flags & DBE_ALARM:
                await self.alarm.publish(DBE_ALARM, except_for=(self,))

    # ------------------------------------------------------------------ publishing
    def add_subscriber(self, sub) -> None:
        """Register a subscriber (see the module doc)."""
        self._subscribers[sub] = None

    def remove_subscriber(self, sub) -> None:
        self._subscribers.pop(sub, None)

    @property
    def subscribers(self):
        return list(self._subscribers)

    async def publish(self, flags):
        """Post the current value to the subscribers with ``flags`` in their mask."""
        self._post(int(flags))

    def _alarm_changed(self, flags):
        self._post(flags)

    def _post(self, flags: int) -> None:
        self._cache.clear()
        if not self._subscribers or not flags:
            return
        for sub in list(self._subscribers):
            if sub.mask & flags:
                try:
                    data, metadata = self.read_now(sub.data_type, sub.data_count)
                except CaprotoError as ex:
                    sub.post_error(ex)
                    continue
                sub.post(flags, data, metadata)

    def __repr__(self):
        return "<%s value=%r>" % (type(self).__name__, self.value)


def _past(old, new, deadband) -> bool:
    """Whether ``new`` moved past ``deadband`` from ``old`` (recGblCheckDeadband;
    a deadband of 0 or less posts every write)."""
    if deadband is None or deadband <= 0 or old is None:
        return True
    if np.isfinite(old) and np.isfinite(new):
        return abs(old - new) > deadband
    return not (np.isnan(old) and np.isnan(new)) and old != new


def _validate_enum_strings(enum_strings) -> tuple:
    strings = tuple(enum_strings)
    for s in strings:
        if len(s) >= MAX_ENUM_STRING_SIZE:
            raise ValueError("enum string %r is longer than %d characters"
                             % (s, MAX_ENUM_STRING_SIZE - 1))
    if len(strings) > MAX_ENUM_STATES:
        raise ValueError("at most %d enum states, not %d" % (MAX_ENUM_STATES, len(strings)))
    return strings
