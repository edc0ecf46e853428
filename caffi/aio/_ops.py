"""caget, caput, connect and cainfo: one call over one PV or a list of PVs.

Theory of operation
-------------------
A call is a :class:`_Batch`: one future for the whole call and one result
slot per PV, filled in the loop.  Each PV's request is started as soon as its
channel is connected (at once, or from the channel's connection event), and
all the requests started together go out with one ``ca_flush_io``.  libca's
completion callback converts the value in libca's thread and posts it to the
loop (:mod:`caffi.aio._bridge`); a completion for a call that is already
over (timed out, cancelled) is dropped there.  One timer per call enforces
the timeout.

Errors follow aioca.  With ``throw=True`` (the default) the first failure is
raised: :class:`CANothing` for a failed completion or a timeout (named
``"Multiple PVs"`` for a list), :class:`CAException` when libca refuses a
request, :class:`Disconnected` for a channel found disconnected.  With
``throw=False`` those become :class:`CANothing` values in the result, per
PV; other exceptions (a bad datatype, a bad argument) are always raised.
"""
from typing import Any, List, Sequence, Union

from .._ffi import ffi, lib
from . import _raw
from ._channels import cache
from ._convert import FORMAT_RAW, put_buffer
from ._errors import (CA_FAILURES, ECA_TIMEOUT, CAException, CANothing,
                      Disconnected, as_nothing, delay_of)
from .types import AugmentedValue, Count, Datatype, Format, Timeout

PVs = Union[str, Sequence[str]]

__all__ = ["caget", "caput", "connect", "cainfo", "CAInfo", "DEFAULT_TIMEOUT"]

#: seconds a call waits by default (connection and completion together)
DEFAULT_TIMEOUT = 5.0

_NORMAL = lib.ECA_NORMAL
_CS_CONN = lib.cs_conn
_ca_state = lib.ca_state
_flush_io = lib.ca_flush_io
_from_buffer = ffi.from_buffer
_UNSET = object()


def _is_list(pv):
    return isinstance(pv, (list, tuple))


class _Batch(object):
    """The results of one call, settled in the loop thread."""

    __slots__ = ("future", "names", "results", "remaining", "throw", "single", "start",
                 "params", "bridge")

    def __init__(self, future, names, throw, single, start, params, bridge):
        self.future = future
        self.names = names
        self.results = [_UNSET] * len(names)
        self.remaining = len(names)
        self.throw = throw
        self.single = single
        self.start = start
        self.params = params
        self.bridge = bridge

    def settle(self, index, value):
        future = self.future
        if future.done() or self.results[index] is not _UNSET:
            return
        if isinstance(value, BaseException) and not (type(value) is CANothing and value.ok):
            if self.throw or not isinstance(value, CA_FAILURES):
                future.set_exception(value)
                return
            value = as_nothing(value, self.names[index])
        self.results[index] = value
        self.remaining -= 1
        if not self.remaining:
            future.set_result(self.results)

    def posted(self, pair):
        self.settle(pair[0], pair[1])

    def begin(self, index, channel):
        """Start the request of PV *index* on its connected *channel*."""
        try:
            self.start(self, index, channel)
        except Exception as exc:
            self.settle(index, exc)

    def on_connect(self, key, channel):
        # A waiter of the channel (loop thread): connected, or a purge failure.
        if isinstance(channel, CANothing):
            self.settle(key[1], channel)
        elif not self.future.done():
            self.begin(key[1], channel)
            self.bridge.needs_flush = True

    def expire(self):
        future = self.future
        if future.done():
            return
        if self.throw:
            name = self.names[0] if self.single else "Multiple PVs"
            future.set_exception(CANothing(name, ECA_TIMEOUT))
            return
        results = self.results
        for index, value in enumerate(results):
            if value is _UNSET:
                results[index] = CANothing(self.names[index], ECA_TIMEOUT)
        future.set_result(results)


class _Completion(object):
    """libca's completion callback of one get or put (runs in libca's thread)."""

    __slots__ = ("batch", "index", "convert", "name")

    def __init__(self, batch, index, convert, name):
        self.batch = batch
        self.index = index
        self.convert = convert
        self.name = name

    def __call__(self, args):
        batch = self.batch
        if batch.future.done():
            return              # nothing waits any more (timed out, cancelled)
        if args.status != _NORMAL:
            value = CANothing(self.name, args.status)
        elif self.convert is None:
            value = CANothing(self.name)
        else:
            try:
                value = self.convert(args.dbr, args.type, args.count)
            except Exception as exc:
                value = exc
        batch.bridge.post(batch.posted, (self.index, value))

    def abandon(self, status):
        """The channel is being cleared: the request fails with *status*."""
        batch = self.batch
        batch.bridge.post(batch.posted, (self.index, CANothing(self.name, status)))


async def _execute(names, start, params, timeout, throw, single, wait=True):
    """Run *start* for each PV once connected; the list of results (see module doc)."""
    channels = cache()
    loop = channels.loop
    batch = _Batch(loop.create_future(), names, throw, single, start, params,
                   channels.bridge)
    waiting = []
    for index, name in enumerate(names):
        try:
            channel = channels.channel(name)
        except CA_FAILURES as exc:
            batch.settle(index, exc)
            continue
        if not wait or channel.connected:
            batch.begin(index, channel)
        else:
            key = (batch, index)
            channel.wait_connected(key, batch.on_connect)
            waiting.append((channel, key))
    _flush_io()     # the searches of new channels and the requests started
    future = batch.future
    if future.done():
        return future.result()
    delay = delay_of(timeout)
    timer = None if delay is None else loop.call_later(delay, batch.expire)
    try:
        return await future
    finally:
        if timer is not None:
            timer.cancel()
        for channel, key in waiting:
            channel.forget_waiter(key)


def _check_connected(channel):
    chid = channel.chid
    if chid is None or chid.ptr is None or _ca_state(chid.ptr) != _CS_CONN:
        raise Disconnected(channel.name)
    return chid


# caget ----------------------------------------------------------------------------
def _start_get(batch, index, channel):
    chid = _check_connected(channel)
    datatype, format, count = batch.params
    dbrcode, element_count, convert = channel.plan(datatype, format)
    if count < 0:
        count = element_count
    elif count > element_count:
        count = element_count
    status = _raw.get(chid, _Completion(batch, index, convert, channel.name), dbrcode,
                      count)
    if status != _NORMAL:
        raise CAException(status, "ca_array_get_callback")


async def caget(pv: PVs, datatype: Datatype = None, format: Format = FORMAT_RAW,
                count: Count = 0, *, timeout: Timeout = DEFAULT_TIMEOUT,
                throw: bool = True) -> Union[AugmentedValue, List[AugmentedValue]]:
    """Read one PV, or a list (or tuple) of PVs in parallel.

    Parameters
    ----------
    pv : str or list of str
    datatype : None, DBR code or type
        None reads the native type; a ``DBR_*`` code (``DBR_CHAR_STR``,
        ``DBR_ENUM_STR``, ...) or a Python or numpy type asks for another.
    format : FORMAT_RAW, FORMAT_TIME or FORMAT_CTRL
        Which fields augment the value.
    count : int
        Elements to read: 0 the server's current length, -1 all, n at most n.
    timeout : None, float or (float,)
        Seconds (connection and read together), an absolute ``time.time()``
        deadline in a 1-tuple, or None to wait for ever.
    throw : bool
        False returns failures as :class:`CANothing` values instead of raising.

    Returns
    -------
    augmented value, or a list of them in the order of *pv*
    """
    if type(pv) is str or not _is_list(pv):
        result = await _execute((pv,), _start_get, (datatype, format, count), timeout,
                                throw, True)
        return result[0]
    return await _execute(list(pv), _start_get, (datatype, format, count), timeout, throw,
                          False)


# caput ----------------------------------------------------------------------------
def _start_put(batch, index, channel):
    chid = _check_connected(channel)
    values, datatype, wait = batch.params
    dbrcode, count, array = put_buffer(channel.name, lib.ca_field_type(chid.ptr), datatype,
                                       values[index])
    if wait:
        status = _raw.put(chid, _Completion(batch, index, None, channel.name), dbrcode,
                          count, _from_buffer(array))
        if status != _NORMAL:
            raise CAException(status, "ca_array_put_callback")
    else:
        status = _raw.put(chid, None, dbrcode, count, _from_buffer(array))
        if status != _NORMAL:
            raise CAException(status, "ca_array_put")
        batch.settle(index, CANothing(channel.name))


def _values_for(pvs, values, repeat_value):
    if repeat_value or isinstance(values, (str, bytes)):
        return [values] * len(pvs)
    try:
        values = list(values)
    except TypeError:
        return [values] * len(pvs)
    if len(values) != len(pvs):
        raise ValueError("PV and value lists must match in length (%d PVs, %d values)"
                         % (len(pvs), len(values)))
    return values


async def caput(pv: PVs, value: Any, datatype: Datatype = None, wait: bool = False, *,
                repeat_value: bool = False, timeout: Timeout = DEFAULT_TIMEOUT,
                throw: bool = True) -> Union[CANothing, List[CANothing]]:
    """Write one PV, or a list of PVs in parallel.

    Parameters
    ----------
    pv : str or list of str
    value : object
        For a list of PVs: a sequence of as many values, or one value written
        to all (always so for a str, or with ``repeat_value=True``).
    datatype : None, DBR code or type
        Type to send; None sends strings as ``DBR_STRING`` (the server
        converts them) and anything else as the channel's native type.
    wait : bool
        Wait until the put and the processing it causes completed
        (``ca_array_put_callback``).
    timeout, throw
        As for :func:`caget`.

    Returns
    -------
    CANothing or list of CANothing
        ``ok`` values on success.
    """
    if type(pv) is str or not _is_list(pv):
        result = await _execute((pv,), _start_put, ((value,), datatype, wait), timeout,
                                throw, True)
        return result[0]
    pvs = list(pv)
    values = _values_for(pvs, value, repeat_value)
    return await _execute(pvs, _start_put, (values, datatype, wait), timeout, throw, False)


# connect and cainfo ------------------------------------------------------------------
def _start_connect(batch, index, channel):
    batch.settle(index, CANothing(channel.name))


def _start_info(batch, index, channel):
    batch.settle(index, CAInfo(channel.name, channel))


async def connect(pv: PVs, wait: bool = True, *, timeout: Timeout = DEFAULT_TIMEOUT,
                  throw: bool = True) -> Union[CANothing, List[CANothing]]:
    """Connect one PV or a list of PVs (optional: the other calls connect too).

    With ``wait=False`` the channels are created and the call returns at once.

    Returns
    -------
    CANothing or list of CANothing
    """
    if type(pv) is str or not _is_list(pv):
        return (await _execute((pv,), _start_connect, None, timeout, throw, True, wait))[0]
    return await _execute(list(pv), _start_connect, None, timeout, throw, False, wait)


async def cainfo(pv: PVs, wait: bool = True, *, timeout: Timeout = DEFAULT_TIMEOUT,
                 throw: bool = True) -> Union["CAInfo", List["CAInfo"]]:
    """:class:`CAInfo` of one PV or a list of PVs (``wait=False``: as they are now)."""
    if type(pv) is str or not _is_list(pv):
        return (await _execute((pv,), _start_info, None, timeout, throw, True, wait))[0]
    return await _execute(list(pv), _start_info, None, timeout, throw, False, wait)


class CAInfo(object):
    """Connection information of a channel, as :func:`cainfo` returns it.

    Attributes
    ----------
    ok : bool
        Always True (failures are :class:`CANothing`).
    name : str
    state : int
        Index into ``state_strings``.
    host : str
        ``host:port`` of the server, ``<disconnected>`` if none.
    read, write : bool
        Access rights.
    count : int
        Native element count (0 while disconnected).
    datatype : int
        Native DBR type, index into ``datatype_strings`` (7, "no access",
        while disconnected).
    """

    state_strings = ["never connected", "previously connected", "connected", "closed"]
    datatype_strings = ["string", "short", "float", "enum", "char", "long", "double",
                        "no access"]

    def __init__(self, pv, channel):
        chid = channel.chid
        ptr = chid.ptr if chid is not None else None
        self.ok = True
        self.name = pv
        if ptr is None:
            self.state, self.host, self.read, self.write = 3, "<disconnected>", False, False
        else:
            self.state = lib.ca_state(ptr)
            buf = ffi.new("char[]", 256)
            lib.ca_get_host_name(ptr, buf, 256)
            self.host = ffi.string(buf).decode("utf-8", "replace")
            self.read = lib.ca_read_access(ptr) == 1
            self.write = lib.ca_write_access(ptr) == 1
        if self.state == _CS_CONN:
            self.count = lib.ca_element_count(ptr)
            self.datatype = lib.ca_field_type(ptr)
        else:
            self.count = 0
            self.datatype = 7

    def __str__(self):
        return ("%s:\n    State: %s\n    Host: %s\n    Access: %s, %s\n"
                "    Data type: %s\n    Count: %d"
                % (self.name, self.state_strings[self.state], self.host, self.read,
                   self.write, self.datatype_strings[self.datatype], self.count))

