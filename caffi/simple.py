"""One-line Channel Access: caget, caput, camonitor and cainfo.

Example
-------
>>> from caffi import caget, caput
>>> caput('X:ao', 2.5, wait=True)
>>> caget('X:ao')
2.5
>>> caget('X:ao', form='time')['severity']
<AlarmSeverity.No: 0>

Everything runs in the one shared preemptive context of :mod:`caffi._shared`
(any thread may call in) over cached channels.  Failures raise
:class:`CAError` (with the ECA code and the PV name) or :class:`TimeoutError`;
nothing returns a status code.

Value forms
-----------
``form='native'`` returns the value alone, ``'time'`` a dict with ``value``,
``status``, ``severity`` and ``stamp`` (``DBR_TIME_xxx``), ``'ctrl'`` a dict
with ``value``, alarm state, ``units``, limits, ``precision`` or enum ``strs``
(``DBR_CTRL_xxx``).  Scalars are Python numbers or str; arrays are numpy arrays
(lists with ``as_numpy=False``).  ``as_string=True`` asks the server for
strings (enum labels, numbers formatted with the record's precision); a char
array is then returned as the text up to its first NUL.
"""
import threading
import time
from typing import Any, Callable, List, Optional, Sequence

from . import _sg, _shared, ca
from . import macros as _m
from .constants import DBE, ECA, ChannelState
from ._ffi import lib
from ._errors import CAError
from .dbr import CONVERTERS, DBF, allocate, decode_text, eca_enum

__all__ = ["CAError", "caget", "caget_many", "caput", "caput_many", "camonitor",
           "cainfo", "Monitor", "ChannelInfo"]

_NORMAL = ECA.NORMAL
_NORMAL_CODE = int(ECA.NORMAL)
_IODONE_CODE = int(ECA.IODONE)
_TIMEOUT_CODE = int(ECA.TIMEOUT)
_FORMS = ("native", "time", "ctrl")


# Connecting ---------------------------------------------------------------------
def _entry(name):
    status, entry = _shared.channel(name)
    if status != _NORMAL:
        raise CAError(status, name, "cannot create channel")
    return entry


def _wait_connected(entries, deadline):
    """Wait until all *entries* are connected; TimeoutError names the others."""
    missing = [e for e in entries if not e.connected.is_set()]
    if not missing:
        return
    ca.flush_io()
    late = []
    for entry in missing:
        remaining = deadline - time.monotonic()
        if not entry.connected.wait(remaining if remaining > 0 else 0):
            late.append(entry.name)
    if late:
        if len(late) == 1:
            raise TimeoutError("channel connect timed out: %r not found" % late[0])
        raise TimeoutError("channel connect timed out: %d PVs not found: %s"
                           % (len(late), ", ".join(repr(n) for n in late[:10])
                              + (", ..." if len(late) > 10 else "")))


def _connect(names, timeout):
    """Cached, connected channels of *names* (one wait for all)."""
    _shared.context()
    deadline = time.monotonic() + timeout
    entries = [_entry(name) for name in names]
    _wait_connected(entries, deadline)
    return entries, deadline


def _check_name(pv):
    if not isinstance(pv, str):
        raise TypeError("PV name must be str, got %r" % (pv,))
    if not pv.strip():
        raise ValueError("PV name must not be empty, got %r" % (pv,))
    return pv


# Reading ------------------------------------------------------------------------
_DBF_CHAR = int(DBF.CHAR)
_DBF_STRING = int(DBF.STRING)
_DBF_ENUM = int(DBF.ENUM)
_TIME = _m.dbf_type_to_DBR_TIME
_CTRL = _m.dbf_type_to_DBR_CTRL


def _request(ptr, form, as_string, count):
    """``(dbrtype, count, char_as_string)`` of a read of the libca channel *ptr*."""
    native = lib.ca_field_type(ptr)
    nelm = lib.ca_element_count(ptr)
    if count is None or count <= 0 or count > nelm:
        count = nelm
    text = False
    if as_string:
        if native == _DBF_CHAR and nelm > 1:
            text = True  # long string: read the chars, return the text
        else:
            native = _DBF_STRING
    if form == "native":
        return native, count, text
    if form == "time":
        return _TIME(native), count, text
    return _CTRL(native), count, text


def _char_text(value):
    raw = bytes(bytearray(value if not isinstance(value, int) else [value]))
    return decode_text(raw.split(b"\0", 1)[0])


def _finish(value, text):
    if text:
        if isinstance(value, dict):
            value["value"] = _char_text(value["value"])
        else:
            value = _char_text(value)
    return value


def _check_form(form):
    if form not in _FORMS:
        raise ValueError("form must be one of %s, got %r" % (", ".join(_FORMS), form))


def read(entries, deadline, form="native", as_string=False, count=None, as_numpy=True):
    """Read connected cached channels in one synchronous group; list of values.

    This is the hot path of caget: one group request per channel (no Python
    runs per reply) and one wait for all, which Ctrl-C interrupts.
    """
    context = _shared.context()
    gid = _shared.acquire_group()
    group = context.groups[gid]
    completed = False
    try:
        pending = []
        for entry in entries:
            chid = entry.chid
            if chid is None or chid.ptr is None:
                raise CAError(ECA.BADCHID, entry.name, "read failed (channel cleared)")
            chtype, n, text = _request(chid.ptr, form, as_string, count)
            cvalue, owner = allocate(chtype, n, as_numpy)
            status = group.get(chid, chtype, n, cvalue, _m.dbr_size_n(chtype, n))
            if status != _NORMAL_CODE:
                raise CAError(eca_enum(status), entry.name, "read failed")
            pending.append((CONVERTERS[chtype], n, cvalue, owner, text))
        remaining = deadline - time.monotonic()
        lib.ca_flush_io()
        if not context.enter_wait():
            raise CAError(ECA.NOCACTX, None, "read failed")
        status = None
        try:
            status = group.wait(remaining if remaining > 0 else 0.0, context)
        finally:
            context.leave_wait(status)
        if status != _IODONE_CODE:
            if status != _TIMEOUT_CODE:
                raise CAError(eca_enum(status), None, "read failed")
            if len(entries) == 1:
                raise TimeoutError("read of %r timed out" % entries[0].name)
            raise TimeoutError("read of %d PVs timed out" % len(entries))
        completed = True
        return [_finish(convert(cvalue, n, as_numpy, owner), text)
                for convert, n, cvalue, owner, text in pending]
    finally:
        _sg.report_failures(context, group.reset())
        _shared.release_group(gid, completed)


def caget(pv: str, *, timeout: float = 1.0, as_string: bool = False,
          count: Optional[int] = None, form: str = "native", as_numpy: bool = True) -> Any:
    """Read one PV.

    Parameters
    ----------
    pv : str
        PV name.
    timeout : float
        Seconds for connecting and reading together.
    as_string : bool
        Read as string (enum labels, server-formatted numbers, char arrays as
        text).
    count : int or None
        Number of elements; default all.
    form : {'native', 'time', 'ctrl'}
        Value only, or a dict with the time stamp and alarm, or with the
        control metadata.
    as_numpy : bool
        Arrays as numpy arrays (else lists).

    Returns
    -------
    object
        The value, or a dict for ``form='time'``/``'ctrl'``.

    Raises
    ------
    TimeoutError
        The PV did not connect or answer within *timeout*.
    CAError
        The server or libca refused the read.
    """
    if form not in _FORMS:
        _check_form(form)
    _shared.context()
    deadline = time.monotonic() + timeout
    entry = _entry(_check_name(pv))
    if not entry.connected.is_set():
        _wait_connected((entry,), deadline)
    return read((entry,), deadline, form, as_string, count, as_numpy)[0]


def caget_many(pvs: Sequence[str], *, timeout: float = 1.0, as_string: bool = False,
               count: Optional[int] = None, form: str = "native",
               as_numpy: bool = True) -> List[Any]:
    """Read several PVs in parallel: connect all, then one wait for all reads.

    Parameters are those of :func:`caget`; *pvs* is a sequence of names.

    Returns
    -------
    list
        The values, in the order of *pvs*.
    """
    _check_form(form)
    names = [_check_name(pv) for pv in pvs]
    if not names:
        return []
    entries, deadline = _connect(names, timeout)
    return read(entries, deadline, form, as_string, count, as_numpy)


# Writing ------------------------------------------------------------------------
class _Completion(object):
    """Counts put callbacks of one call; remembers the first failure."""

    def __init__(self, expected):
        self.expected = expected
        self.done = 0
        self.failure = None
        self.event = threading.Event()
        self.lock = threading.Lock()

    def callback(self, args):
        with self.lock:
            self.done += 1
            if args["status"] != _NORMAL and self.failure is None:
                self.failure = (args["status"], args["chid"].name)
            if self.done >= self.expected:
                self.event.set()


def _checked(entry, value, deadline):
    """*value* as it will be put to *entry*, checked before anything is sent.

    As the caput tool, a string for an ENUM PV is looked up in its states
    (then taken as an index); what cannot be sent raises here instead of
    failing in the server later, where nobody would see it.
    """
    if value is None:
        raise TypeError("%s: cannot put None" % entry.name)
    if isinstance(value, (str, bytes)) and lib.ca_field_type(entry.chid.ptr) == _DBF_ENUM:
        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
        states = read((entry,), deadline, "ctrl")[0]["strs"]
        if text in states:
            return states.index(text)
        if text.strip().isdigit() and int(text) < max(len(states), 1):
            return int(text)
        raise CAError(ECA.BADSTR, entry.name, "%r is not one of its states %s"
                      % (text, ", ".join(repr(s) for s in states) or "(none)"))
    return value


def write(entries, values, wait, deadline, callback=None):
    """Put *values* to connected cached channels; wait for completion if *wait*.

    Every value is checked (:func:`_checked`, and converted as ``ca.put``
    does) before the first is sent.
    """
    values = [_checked(entry, value, deadline) for entry, value in zip(entries, values)]
    completion = _Completion(len(entries)) if wait else None
    for entry, value in zip(entries, values):
        if callback is not None:
            cb = callback
        elif completion is not None:
            cb = completion.callback
        else:
            cb = None
        try:
            status = ca.put(entry.chid, value, callback=cb)
        except (TypeError, ValueError) as exc:
            ca.flush_io()  # the puts issued before this one go out
            raise type(exc)("%s: %s" % (entry.name, exc)) from None
        if status != _NORMAL:
            ca.flush_io()
            raise CAError(status, entry.name, "put failed")
    ca.flush_io()
    if completion is None:
        return
    remaining = deadline - time.monotonic()
    if not completion.event.wait(remaining if remaining > 0 else 0):
        raise TimeoutError("put completion timed out (%d of %d done)"
                           % (completion.done, completion.expected))
    if completion.failure is not None:
        status, name = completion.failure
        raise CAError(status, name, "put failed")


def caput(pv: str, value: Any, *, wait: bool = False, timeout: float = 1.0) -> None:
    """Write one PV.

    Parameters
    ----------
    pv : str
        PV name.
    value : number, str, bytes, sequence or numpy array
        A str goes to enum PVs as the label, to char arrays as text.
    wait : bool
        Wait until the put and the processing it causes completed
        (``ca_put_callback``).
    timeout : float
        Seconds for connecting and, with *wait*, completing.

    Raises
    ------
    TimeoutError
        The PV did not connect, or the put did not complete, within *timeout*.
    CAError
        The put was refused (no write access, ...), or a str for an enum PV
        is neither one of its states nor an index (``ECA.BADSTR``; checked
        before anything is sent).
    TypeError, ValueError
        The value cannot be converted to the PV's type (None, a str that is
        not a number for a numeric PV, ...); nothing is sent.
    """
    entries, deadline = _connect((_check_name(pv),), timeout)
    write(entries, (value,), wait, deadline)


def caput_many(pvs: Sequence[str], values: Sequence[Any], *, wait: bool = False,
               timeout: float = 1.0) -> None:
    """Write several PVs in parallel (connect all, put all, one flush, one wait).

    *pvs* and *values* are sequences of the same length; other parameters
    as :func:`caput`.
    """
    names = [_check_name(pv) for pv in pvs]
    values = list(values)
    if len(names) != len(values):
        raise ValueError("caput_many: %d PVs but %d values" % (len(names), len(values)))
    if not names:
        return
    entries, deadline = _connect(names, timeout)
    write(entries, values, wait, deadline)


# Monitoring ---------------------------------------------------------------------
class Monitor(object):
    """A subscription made by :func:`camonitor`; :meth:`close` cancels it.

    It survives disconnections (libca renews it); if the PV comes back with
    another native type it is renewed with that type.
    """

    def __init__(self, entry, callback, form, as_string, count, mask, as_numpy):
        self.name = entry.name
        self._entry = entry
        self._callback = callback
        self._form = form
        self._as_string = as_string
        self._count = count
        self._mask = mask
        self._as_numpy = as_numpy
        self._lock = threading.Lock()
        self._evid = None
        self._type = None
        self._text = False
        self.closed = False
        entry.add_listener(self._on_connection)
        if entry.connected.is_set():
            self._subscribe()

    def _on_connection(self, entry, up):
        if up:
            self._subscribe()

    def _subscribe(self):
        with self._lock:
            if self.closed or not self._entry.alive:
                return
            chid = self._entry.chid
            if ca.state(chid) != ChannelState.CONN:
                return
            chtype, count, text = _request(chid.ptr, self._form, self._as_string,
                                           self._count)
            if self._evid is not None:
                if chtype == self._type:
                    return
                ca.clear_subscription(self._evid)
                self._evid = None
            if self._count is None:
                count = 0  # the server's current length
            status, evid = ca.create_subscription(chid, self._on_event, chtype, count,
                                                  self._mask, self._as_numpy)
            if status != _NORMAL:
                from ._callbacks import logger
                logger.error("camonitor %s: %s", self.name, ca.message(int(status)))
                return
            self._evid, self._type, self._text = evid, chtype, text
        ca.flush_io()

    def _on_event(self, args):
        if self.closed or args["status"] != _NORMAL:
            return
        self._callback(self.name, _finish(args["value"], self._text))

    def close(self) -> None:
        """Cancel the subscription (idempotent)."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
            evid, self._evid = self._evid, None
        self._entry.remove_listener(self._on_connection)
        if evid is not None and evid.ptr is not None:
            ca.clear_subscription(evid)
            ca.flush_io()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return "<Monitor %r %s>" % (self.name, "closed" if self.closed else "active")


def camonitor(pv: str, callback: Callable[[str, Any], None], *,
              timeout: Optional[float] = 1.0, form: str = "native", as_string: bool = False,
              count: Optional[int] = None, mask: Optional[int] = None,
              as_numpy: bool = True) -> "Monitor":
    """Call ``callback(pvname, value)`` with the current value and each change.

    Parameters
    ----------
    pv : str
        PV name.
    callback : callable
        Runs in a libca thread; *value* is as :func:`caget` returns it for
        the same *form*, *as_string* and *as_numpy*.
    timeout : float or None
        Wait this long for the first connection (TimeoutError after); None
        returns at once and subscribes when the PV connects.
    mask : DBE or int or None
        Event mask, default ``DBE.VALUE | DBE.ALARM``.
    count : int or None
        Elements per update; default the server's current length.

    Returns
    -------
    Monitor
        Call ``close()`` to stop (or use it as a context manager).
    """
    _check_form(form)
    if not callable(callback):
        raise TypeError("callback must be callable, got %r" % (callback,))
    _shared.context()
    entry = _entry(_check_name(pv))
    if mask is None:
        mask = DBE.VALUE | DBE.ALARM
    monitor = Monitor(entry, callback, form, as_string, count, int(mask), as_numpy)
    if timeout is not None:
        try:
            _wait_connected((entry,), time.monotonic() + timeout)
        except TimeoutError:
            monitor.close()
            raise
        monitor._subscribe()
    return monitor


# Information --------------------------------------------------------------------
_STATE_TEXT = {ChannelState.NEVER_CONN: "never connected",
               ChannelState.PREV_CONN: "previously connected",
               ChannelState.CONN: "connected", ChannelState.CLOSED: "closed"}


class ChannelInfo(tuple):
    """What :func:`cainfo` reports: ``(name, state, host, read_access,
    write_access, field_type, count)``; ``str()`` is the cainfo tool's text."""

    __slots__ = ()
    _fields = ("name", "state", "host", "read_access", "write_access", "field_type",
               "count")

    def __new__(cls, name, state, host, read_access, write_access, field_type, count):
        return tuple.__new__(cls, (name, state, host, read_access, write_access,
                                   field_type, count))

    name = property(lambda self: self[0])
    state = property(lambda self: self[1])
    host = property(lambda self: self[2])
    read_access = property(lambda self: self[3])
    write_access = property(lambda self: self[4])
    field_type = property(lambda self: self[5])
    count = property(lambda self: self[6])

    def __repr__(self):
        return "ChannelInfo(%s)" % ", ".join(
            "%s=%r" % (k, v) for k, v in zip(self._fields, self))

    def __str__(self):
        return ("%s\n"
                "    State:            %s\n"
                "    Host:             %s\n"
                "    Access:           %sread, %swrite\n"
                "    Native data type: %s\n"
                "    Request type:     %s\n"
                "    Element count:    %d\n"
                % (self.name, _STATE_TEXT.get(self.state, str(self.state)), self.host,
                   "" if self.read_access else "no ", "" if self.write_access else "no ",
                   _m.dbf_type_to_text(int(self.field_type)),
                   _m.dbr_type_to_text(_m.dbf_type_to_DBR(int(self.field_type))),
                   self.count))


def info(entry):
    """:class:`ChannelInfo` of a cached channel."""
    chid = entry.chid
    return ChannelInfo(entry.name, ca.state(chid), ca.host_name(chid),
                       ca.read_access(chid), ca.write_access(chid), ca.field_type(chid),
                       ca.element_count(chid))


def cainfo(pv: str, *, timeout: float = 1.0) -> "ChannelInfo":
    """Connection information of a PV: server, access rights, native type, count.

    Returns
    -------
    ChannelInfo
        ``print(cainfo(pv))`` shows it as the cainfo tool does.
    """
    entries, _ = _connect((_check_name(pv),), timeout)
    return info(entries[0])

