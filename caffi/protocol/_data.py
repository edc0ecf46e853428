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
subscribers.  A subscriber with a ``post_payload(flags, payload)`` method
receives the update already encoded (:meth:`ChannelData.payload`): one
encoding per post for all the subscribers asking for the same.

Caches: :meth:`ChannelData.read_now` results and :meth:`ChannelData.payload`
encodings are kept in the instance's one cache dict, keyed by request,
emptied on every post and metadata change and when it holds more than 64
entries.  The payload of a one-element INT/FLOAT/LONG/DOUBLE value read as
its own type in a plain, STS or TIME form is packed by a compiled struct
(:func:`scalar_encoder`); everything else goes through
:func:`~caffi.protocol.read_dbr` and :func:`~caffi.protocol.encode_payload`,
which the compiled form is tested against byte for byte.
"""
import copy
import math
import struct
import time
from typing import Any, Dict, Optional, Tuple

import numpy as np

from ._alarm import DBE_ALARM, DBE_LOG, DBE_PROPERTY, DBE_VALUE, ChannelAlarm
from ._constants import (EPICS2UNIX_EPOCH, MAX_ENUM_STATES, MAX_ENUM_STRING_SIZE,
                         AccessRights, AlarmSeverity, AlarmStatus, ChannelType)
from ._convert import NativeMetadata, read_dbr, write_value
from ._dbr import DBR_LAYOUTS, TimeStamp, encode_payload, timestamp_to_epics
from ._errors import CannotExceedLimits, CaprotoError, CaprotoValueError, Forbidden

__all__ = ["ChannelAlarm", "ChannelData", "ChannelEnum", "ChannelNumeric", "ChannelShort",
           "ChannelInteger", "ChannelFloat", "ChannelDouble", "ChannelByte", "ChannelChar",
           "ChannelString", "Forbidden", "CannotExceedLimits", "SkipWrite",
           "DBE_VALUE", "DBE_LOG", "DBE_ALARM", "DBE_PROPERTY"]

_T = ChannelType
_ARRAYS = (list, tuple, np.ndarray)
_NUMBERS = (int, float)
_READ_WRITE = AccessRights.READ | AccessRights.WRITE
_MAX_CACHED = 64
#: payloads up to this size are joined into one bytes object
_JOIN_BELOW = 4096


class SkipWrite(Exception):
    """Raise from a putter (or return it) to leave the value unchanged."""


def _now() -> TimeStamp:
    sec, nsec = divmod(time.time_ns(), 1000000000)
    return _new_stamp(TimeStamp, (sec - EPICS2UNIX_EPOCH, nsec))


#: a TimeStamp from a tuple of its two fields (no Python-level __new__)
_new_stamp = tuple.__new__


def _stamp(value) -> TimeStamp:
    """A :class:`TimeStamp` from a POSIX time, a TimeStamp or a 2-tuple."""
    if value is None:
        return _now()
    if isinstance(value, TimeStamp):
        return value
    if isinstance(value, (tuple, list)):
        return TimeStamp(int(value[0]), int(value[1]))
    return TimeStamp(*timestamp_to_epics(float(value)))


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
        #: subscriber -> True if it takes encoded payloads (post_payload)
        self._subscribers: Dict[Any, bool] = {}
        self._cache: Dict[tuple, tuple] = {}
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
        self._status = value if type(value) is AlarmStatus else AlarmStatus(value)

    @property
    def severity(self):
        return self._alarm.severity if self._severity is None else self._severity

    @severity.setter
    def severity(self, value):
        self._severity = value if type(value) is AlarmSeverity else AlarmSeverity(value)

    def check_access(self, hostname: str, username: str) -> AccessRights:
        """Access rights of a client (read and write; override to restrict)."""
        return _READ_WRITE

    # ------------------------------------------------------------------ native form
    def native(self):
        """``(native DBR type, values)``: the value as :func:`read_dbr` takes it."""
        value = self._data["value"]
        if self._max_length == 1 and not isinstance(value, _ARRAYS):
            return self.data_type, [value]
        return self.data_type, value

    def _native_for(self, data_type):
        """``(native DBR type, values)`` from which :meth:`read_now` makes
        ``data_type``: :meth:`native` (a type the IOC converts from its
        field differently, as an INT64 one, gives another source)."""
        return self.native()

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
        cache = self._cache
        hit = cache.get(key)
        if hit is not None:
            return hit
        native_type, values = self._native_for(data_type)
        result = read_dbr(native_type, values, self.native_metadata(), data_type, data_count)
        if len(cache) >= _MAX_CACHED:
            cache.clear()
        cache[key] = result
        return result

    def payload(self, data_type: int, data_count: Optional[int] = None):
        """The current value as ``data_type`` on the wire: ``(buffers, count,
        size)``, the padded DBR payload (one ``bytes`` for a small one), the
        element count and the byte size, as a ReadNotifyResponse or
        EventAddResponse of :meth:`read_now`'s result would carry them.

        Cached until the next change (see the module doc); raises
        CaprotoConversionError as :meth:`read_now` does.
        """
        key = (data_type, data_count, True)
        cache = self._cache
        hit = cache.get(key)
        if hit is not None:
            return hit
        result = None
        if data_count is None or data_count == 1:
            encode = _encoders.get((type(self), data_type), _UNKNOWN)
            if encode is _UNKNOWN:
                encode = scalar_encoder(type(self), data_type)
            if encode is not None and self._max_length == 1:
                value = self._data["value"]
                if type(value) in _NUMBERS:
                    try:
                        raw = encode(self, value)
                        result = ((raw,), 1, len(raw))
                    except (struct.error, OverflowError):
                        result = None   # the general path converts or refuses it
        if result is None:
            data, metadata = self.read_now(data_type, data_count)
            buffers, size, count = encode_payload(data_type, data, data_count, metadata)
            size = sum(len(b) for b in buffers)
            if len(buffers) > 1 and size < _JOIN_BELOW:
                buffers = [b"".join(buffers)]
            result = (tuple(buffers), count, size)
        if len(cache) >= _MAX_CACHED:
            cache.clear()
        cache[key] = result
        return result

    @property
    def has_read_hook(self) -> bool:
        """True if a read must await :meth:`read` (a subclass overrides it);
        else :meth:`read_now` (and :meth:`payload`) answer at once."""
        return type(self).read is not ChannelData.read

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
        if data_type == self.data_type and self._max_length == 1 and len(data) == 1 \
                and _writes_plainly(type(self)):
            # a number of the channel's own type: what write_value and
            # _from_native make of it, without the array round trip
            value = data[0]
            await self.write(value.item() if isinstance(value, np.generic) else value,
                             flags=flags)
            return
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
            if modified is not None and modified is not value:
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
        status, severity = self._status, self._severity
        self._status = self._severity = None
        if metadata:
            status = metadata.pop("status", status)
            severity = metadata.pop("severity", severity)
        data = self._data
        data["value"] = value
        flags |= self._value_flags()
        if metadata:
            metadata.setdefault("timestamp", None)
            flags |= self._apply_metadata(metadata)
        else:
            data["timestamp"] = _now()
        changed = 0
        if status is not None or severity is not None:
            changed = self.alarm.apply(status=status, severity=severity)
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
        self._subscribers[sub] = hasattr(sub, "post_payload")

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
        for sub, encoded in list(self._subscribers.items()):
            if sub.mask & flags:
                try:
                    if encoded:
                        sub.post_payload(flags, self.payload(sub.data_type, sub.data_count))
                        continue
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
    if math.isfinite(old) and math.isfinite(new):
        return abs(old - new) > deadband
    return not (math.isnan(old) and math.isnan(new)) and old != new


def _validate_enum_strings(enum_strings) -> tuple:
    strings = tuple(enum_strings)
    for s in strings:
        if len(s) >= MAX_ENUM_STRING_SIZE:
            raise ValueError("enum string %r is longer than %d characters"
                             % (s, MAX_ENUM_STRING_SIZE - 1))
    if len(strings) > MAX_ENUM_STATES:
        raise ValueError("at most %d enum states, not %d" % (MAX_ENUM_STATES, len(strings)))
    return strings


# --------------------------------------------------------------------------- #
# Compiled payload encoders and the classes they apply to

#: native_metadata implementations that take status, severity and time
#: stamp from the alarm and ``_data["timestamp"]`` (others may change them)
STANDARD_NATIVE_METADATA = {ChannelData.native_metadata}
_SCALAR_NATIVES = (_T.INT, _T.FLOAT, _T.LONG, _T.DOUBLE)
_encoders: Dict[tuple, Any] = {}
_UNKNOWN = object()
_plain_writers: Dict[type, bool] = {}


def _standard(cls) -> bool:
    return (cls.native is ChannelData.native and cls.data_type in _SCALAR_NATIVES
            and cls.native_metadata in STANDARD_NATIVE_METADATA)


def _writes_plainly(cls) -> bool:
    """Whether a write of the class's own type may skip write_value."""
    ok = _plain_writers.get(cls)
    if ok is None:
        ok = _plain_writers[cls] = (_standard(cls)
                                    and cls._from_native is ChannelData._from_native)
    return ok


def scalar_encoder(cls, data_type: int):
    """``encode(data, value) -> bytes`` for one number of ``cls`` read as
    ``data_type`` (plain, STS or TIME of the class's own native type), or
    None where the general path must be taken.  Memoized per class."""
    key = (cls, data_type)
    try:
        return _encoders[key]
    except KeyError:
        pass
    encode = None
    if _standard(cls) and 0 <= data_type < 21 and DBR_LAYOUTS[data_type].native is cls.data_type:
        layout = DBR_LAYOUTS[data_type]
        pack = layout._scalar.pack
        if data_type < 7:
            def encode(data, value):
                return pack(value)
        else:
            fields = layout.metadata_class._fields
            n_pads = len(fields) - (2 if data_type < 14 else 4)
            pads = (0,) * n_pads
            if data_type < 14:
                def encode(data, value):
                    alarm = data._alarm
                    return pack(int(alarm.status), int(alarm.severity), *pads, value)
            else:
                def encode(data, value):
                    alarm = data._alarm
                    sec, nsec = data._data["timestamp"]
                    return pack(int(alarm.status), int(alarm.severity), sec, nsec, *pads,
                                value)
    _encoders[key] = encode
    return encode
