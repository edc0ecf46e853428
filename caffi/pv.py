"""A process variable object for interactive sessions and long-running programs.

Example
-------
>>> from caffi import PV
>>> ai = PV('X:ai')
>>> ai.wait_for_connection(1.0)
True
>>> ai
<PV 'X:ai' 3.500 mm, NO_ALARM, connected>
>>> ai.value, ai.units, ai.severity
(3.5, 'mm', <AlarmSeverity.No: 0>)
>>> ai.add_callback(lambda pv, update: print(pv.name, update['value']))
0
>>> PV('X:ao').put(1.25, wait=True)

A PV keeps two subscriptions on the shared cached channel: the value with
time stamp and alarm (``DBR_TIME_xxx``, mask VALUE|ALARM) and the metadata
(``DBR_CTRL_xxx``, mask PROPERTY: units, limits, precision, enum labels).
Callbacks run in libca's threads.  :meth:`PV.close` cancels both.
"""
import threading
import time
from typing import Any, Callable, Dict, Optional, Tuple

import numpy

from . import _shared, ca
from . import macros as _m
from .constants import DBE, ECA, AlarmCondition, AlarmSeverity, ChannelState
from .cli._format import CONDITION_TEXT, SEVERITY_TEXT, alarm_text
from .simple import _entry, _wait_connected, read, write

__all__ = ["PV"]

_NORMAL = ECA.NORMAL


class PV(object):
    """A named process variable in the shared CA context.

    Parameters
    ----------
    name : str
        PV name.
    monitor : bool
        Keep the value up to date with a subscription (else :attr:`value`
        reads from the server each time).
    callback : callable or None
        First value callback, see :meth:`add_callback`.
    connection_callback : callable or None
        Called as ``connection_callback(pv, connected)`` on each change.
    timeout : float
        Default timeout of :meth:`get`, :meth:`put` and reads of :attr:`value`.
    as_numpy : bool
        Arrays as numpy arrays.
    """

    def __init__(self, name: str, *, monitor: bool = True,
                 callback: Optional[Callable[["PV", dict], None]] = None,
                 connection_callback: Optional[Callable[["PV", bool], None]] = None,
                 timeout: float = 1.0, as_numpy: bool = True) -> None:
        if not isinstance(name, str):
            raise TypeError("PV name must be str, got %r" % (name,))
        self.name = name
        self.timeout = timeout
        self.monitor = monitor
        self.as_numpy = as_numpy
        self._lock = threading.RLock()
        self._callbacks = {}
        self._next_index = 0
        self._connection_callbacks = []
        if connection_callback is not None:
            self._connection_callbacks.append(connection_callback)
        if callback is not None:
            self.add_callback(callback)
        self._update = None  # latest DBR_TIME dict
        self._meta = None  # latest DBR_CTRL dict
        self._evids = ()
        self._type = None
        self._closed = False
        self._meta_event = threading.Event()
        self._value_event = threading.Event()
        _shared.context()
        self._entry = _entry(name)
        self._entry.add_listener(self._on_connection)
        if self._entry.connected.is_set():
            self._subscribe()

    # Connection ---------------------------------------------------------------
    def _on_connection(self, entry, up):
        if up:
            self._subscribe()
        for callback in list(self._connection_callbacks):
            try:
                callback(self, up)
            except Exception:
                from ._callbacks import report_error
                report_error("PV connection", callback)

    def _subscribe(self):
        with self._lock:
            if self._closed or not self._entry.alive:
                return
            chid = self._entry.chid
            if ca.state(chid) != ChannelState.CONN:
                return
            native = ca.field_type(chid)
            if self._evids and native == self._type:
                return
            old, self._evids = self._evids, ()
            for evid in old:
                ca.clear_subscription(evid)
            self._type = native
            self._meta_event.clear()
            self._value_event.clear()
            evids = []
            status, evid = ca.create_subscription(
                chid, self._on_meta, _m.dbf_type_to_DBR_CTRL(native), 1, DBE.PROPERTY,
                False)
            if status == _NORMAL:
                evids.append(evid)
            if self.monitor:
                status, evid = ca.create_subscription(
                    chid, self._on_value, _m.dbf_type_to_DBR_TIME(native), 0,
                    DBE.VALUE | DBE.ALARM, self.as_numpy)
                if status == _NORMAL:
                    evids.append(evid)
            self._evids = tuple(evids)
        ca.flush_io()

    def _on_meta(self, args):
        if args["status"] == _NORMAL:
            self._meta = args["value"]
            self._meta_event.set()

    def _on_value(self, args):
        if args["status"] != _NORMAL or self._closed:
            return
        update = args["value"]
        self._update = update
        self._value_event.set()
        for index, callback in sorted(self._callbacks.items()):
            try:
                callback(self, update)
            except Exception:
                from ._callbacks import report_error
                report_error("PV value", callback)

    @property
    def connected(self) -> bool:
        """True while the channel is connected."""
        return self._entry.connected.is_set() and not self._closed

    def wait_for_connection(self, timeout: Optional[float] = None) -> bool:
        """Wait up to *timeout* s (default :attr:`timeout`); True if connected."""
        timeout = self.timeout if timeout is None else timeout
        if not self._entry.connected.wait(timeout):
            return False
        if self.monitor:  # first value and metadata follow the connection
            deadline = time.monotonic() + timeout
            self._value_event.wait(max(0.0, deadline - time.monotonic()))
            self._meta_event.wait(max(0.0, deadline - time.monotonic()))
        return True

    # Callbacks ----------------------------------------------------------------
    def add_callback(self, callback: Callable[["PV", dict], None]) -> int:
        """Call ``callback(pv, update)`` for each monitor update; return an index.

        *update* is the ``DBR_TIME`` dict: ``value``, ``status``, ``severity``,
        ``stamp``.
        """
        if not callable(callback):
            raise TypeError("callback must be callable, got %r" % (callback,))
        with self._lock:
            index = self._next_index
            self._next_index += 1
            callbacks = dict(self._callbacks)
            callbacks[index] = callback
            self._callbacks = callbacks
        return index

    def remove_callback(self, index: int) -> None:
        """Remove the callback *index* returned by :meth:`add_callback`."""
        with self._lock:
            callbacks = dict(self._callbacks)
            callbacks.pop(index, None)
            self._callbacks = callbacks

    def add_connection_callback(self, callback: Callable[["PV", bool], None]) -> None:
        """Call ``callback(pv, connected)`` on each connection change."""
        self._connection_callbacks.append(callback)

    # Reading ------------------------------------------------------------------
    def get(self, *, timeout: Optional[float] = None, form: str = "native",
            as_string: bool = False, count: Optional[int] = None) -> Any:
        """Read from the server (as :func:`caffi.caget`), not from the monitor."""
        timeout = self.timeout if timeout is None else timeout
        self._check_open()
        _shared.context()
        deadline = time.monotonic() + timeout
        _wait_connected((self._entry,), deadline)
        return read((self._entry,), deadline, form, as_string, count, self.as_numpy)[0]

    def _latest(self):
        if self.monitor and self._update is not None:
            return self._update
        return self.get(form="time")

    @property
    def value(self) -> Any:
        """The latest value (monitored, or read now without a monitor)."""
        return self._latest()["value"]

    @property
    def char_value(self) -> str:
        """The value as text: enum label, number with the record's precision."""
        return self._format_value(self._latest()["value"], self._meta or {})

    @property
    def timestamp(self) -> float:
        """POSIX time stamp of the latest value (float)."""
        return self._latest()["stamp"]["timestamp"]

    @property
    def severity(self) -> AlarmSeverity:
        """Alarm severity of the latest value (:class:`AlarmSeverity`)."""
        return self._latest()["severity"]

    @property
    def status(self) -> AlarmCondition:
        """Alarm condition of the latest value (:class:`AlarmCondition`)."""
        return self._latest()["status"]

    def _metadata(self):
        if self._meta is None:
            self._meta = self.get(form="ctrl")
        return self._meta

    @property
    def units(self) -> str:
        """Engineering units ('' for types without)."""
        return self._metadata().get("units", "")

    @property
    def precision(self) -> Optional[int]:
        """Display precision (None for non-floating types)."""
        return self._metadata().get("precision")

    @property
    def enum_strs(self) -> Optional[Tuple[str, ...]]:
        """Enum labels (None for non-enum PVs)."""
        return self._metadata().get("strs")

    @property
    def limits(self) -> Dict[str, float]:
        """Dict of display, alarm, warning and control limits present."""
        return {k: v for k, v in self._metadata().items() if k.endswith("_limit")}

    @property
    def field_type(self):
        """Native type (:class:`DBF`; ``DBF.INVALID`` while disconnected)."""
        return ca.field_type(self._entry.chid)

    @property
    def count(self) -> int:
        """Native element count."""
        return ca.element_count(self._entry.chid)

    @property
    def host(self) -> str:
        """``host:port`` of the server."""
        return ca.host_name(self._entry.chid)

    @property
    def read_access(self) -> bool:
        """True if the client may read the PV."""
        return ca.read_access(self._entry.chid)

    @property
    def write_access(self) -> bool:
        """True if the client may write the PV."""
        return ca.write_access(self._entry.chid)

    # Writing ------------------------------------------------------------------
    def put(self, value: Any, *, wait: bool = False, timeout: Optional[float] = None,
            callback: Optional[Callable[["PV", ECA], None]] = None) -> None:
        """Write *value*; with *wait* block until processing completed.

        *callback*, if given, is called as ``callback(pv, status)`` (an
        :class:`ECA`) on completion instead; the call then returns at once.
        Raises :class:`CAError` or :class:`TimeoutError` as :func:`caffi.caput`.
        """
        timeout = self.timeout if timeout is None else timeout
        self._check_open()
        _shared.context()
        deadline = time.monotonic() + timeout
        _wait_connected((self._entry,), deadline)
        done = None
        if callback is not None:
            def done(args):
                callback(self, args["status"])
            wait = False
        write((self._entry,), (value,), wait, deadline, callback=done)

    # Life ---------------------------------------------------------------------
    def _check_open(self):
        if self._closed:
            raise ValueError("PV %r is closed" % self.name)

    def close(self) -> None:
        """Cancel the subscriptions and callbacks (the cached channel stays)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            evids, self._evids = self._evids, ()
            self._callbacks = {}
        self._entry.remove_listener(self._on_connection)
        for evid in evids:
            if evid.ptr is not None:
                ca.clear_subscription(evid)
        ca.flush_io()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # Display ------------------------------------------------------------------
    @staticmethod
    def _format_value(value, meta):
        strs = meta.get("strs")
        if strs is not None and isinstance(value, (int, numpy.integer)):
            return strs[value] if 0 <= value < len(strs) else str(value)
        if isinstance(value, (float, numpy.floating)):
            precision = meta.get("precision")
            if precision is not None and 0 <= precision <= 17:
                return "%.*f" % (precision, value)
            return repr(float(value))
        if isinstance(value, str):
            return repr(value)
        if isinstance(value, numpy.ndarray):
            precision = meta.get("precision")
            formatter = None
            if value.dtype.kind == "f" and precision is not None and 0 <= precision <= 17:
                formatter = {"float_kind": lambda x: "%.*f" % (precision, x)}
            return numpy.array2string(value, threshold=6, edgeitems=2, separator=" ",
                                      formatter=formatter)
        return str(value)

    def __repr__(self):
        if self._closed:
            return "<PV %r closed>" % self.name
        if not self._entry.connected.is_set():
            return "<PV %r disconnected>" % self.name
        update, meta = self._update, self._meta or {}
        if update is None:
            return "<PV %r connected, no value yet>" % self.name
        text = self._format_value(update["value"], meta)
        units = meta.get("units")
        if units:
            text += " " + units
        severity, status = update["severity"], update["status"]
        alarm = alarm_text(SEVERITY_TEXT, severity)
        if severity != AlarmSeverity.No or status != AlarmCondition.No:
            alarm = "%s/%s" % (alarm_text(CONDITION_TEXT, status), alarm)
        return "<PV %r %s, %s, connected>" % (self.name, text, alarm)

