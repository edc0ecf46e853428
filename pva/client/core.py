"""The pvAccess client core: name resolution, circuits, channels, operations.

Theory of operation
-------------------
One :class:`ClientCore` holds everything a client context shares: the UDP
search state (a :class:`~pva.Broadcaster`), the TCP connections (one
:class:`Circuit` per server address, each wrapping a sans-I/O
:class:`~pva.ClientVirtualCircuit`), the channels (one :class:`Channel` per
PV name, shared by every operation on that name) and the operations.

The core does no I/O of its own and knows no event loop or thread.  The
adapter that creates it (:mod:`pva.client.aio`; the synchronous layer runs
that adapter on a background thread) supplies a *reactor*::

    reactor.time() -> float                   monotonic seconds
    reactor.call_later(delay, fn) -> handle   handle.cancel()
    reactor.connect_tcp(host, port, protocol) start connecting; then call
                                              protocol.connection_made(transport)
                                              or protocol.connection_lost(exc)

``protocol`` has the asyncio ``Protocol`` callbacks (``connection_made``,
``data_received``, ``connection_lost``) and those of ``BufferedProtocol``
(``get_buffer``, ``buffer_updated``: the asyncio adapter uses these), and
``transport`` needs ``write`` and ``close``.  UDP: the adapter opens a socket, passes its ``sendto`` to
:meth:`ClientCore.attach_udp` and feeds every datagram received on it
(search responses) to :meth:`ClientCore.datagram_received`; it also listens
on the broadcast port (shared with the servers of this host, see
:mod:`pva._forwarding`) and gives the beacons heard there to
:meth:`ClientCore.beacon_received`.

Everything is driven by those callbacks.  A channel is *searched* (UDP to
every address of the list, and over TCP to every name server) with a
per-channel backoff (``search_min`` doubling up to ``search_max``); a
response connects it to its server's circuit, which is validated (auth
``ca`` if offered, else ``anonymous``) before channels are created on it.
An operation waits until its channel is connected, then runs its request
(INIT, then one execution marked "last" so the server destroys it).
When a circuit is lost, every channel on it goes back to searching (with the
backoff reset), one-shot operations in progress fail with
:class:`Disconnected`, and monitors deliver a :class:`Disconnected` *value*
to their subscriber and re-subscribe when the channel reconnects.  A beacon
from a server not seen before resets the backoff of every unresolved name.

Results are delivered through callbacks given to the operation:
``callback(result, exception)`` for one-shot operations,
``on_event(item)`` for monitors, where ``item`` is a :class:`Value` or an
exception *instance* (:class:`Disconnected`, :class:`RemoteError`,
:class:`Finished`).
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

import numpy as np

from .. import nt as _nt
from .._bitset import BitSet
from .._broadcaster import Broadcaster
from .._circuit import ClientVirtualCircuit
from .._errors import PVAError, ProtocolError
from .._header import ControlMessage, EchoRequest
from .._introspection import FieldDesc, FieldType
from .._messages import (Beacon, ChannelArrayRequest, ChannelDestroyResponse,
                         ChannelFieldInfoResponse, ChannelGetRequest, ChannelMessage,
                         ChannelMonitorRequest, ChannelMonitorResponse, ChannelProcessRequest,
                         ChannelPutGetRequest, ChannelPutRequest,
                         ChannelRequestDestroy, ChannelRpcRequest, ConnectionValidatedResponse,
                         ConnectionValidationRequest, ConnectionValidationResponse,
                         CreateChannelResponse, Echo, SearchResponse, Subcommand)
from .._pvrequest import PVRequest
from .._values import DataWithBitSet, FieldDescAndData, Status, default_value, infer_field_desc
from .config import ClientConfig

__all__ = ["ClientCore", "Channel", "Circuit", "Value", "Disconnected", "RemoteError",
           "Finished", "Timeout", "Cancelled", "build_put", "parse_request", "array_action"]

log = logging.getLogger("pva.client")

#: names per search datagram
MAX_NAMES_PER_SEARCH = 64
#: names searched per tick: a larger burst is spread over ticks
#: SEARCH_BURST_INTERVAL apart, so the server's UDP receive buffer (about
#: 200 kB by default on Linux) does not overflow and drop searches
MAX_NAMES_PER_TICK = 64 * MAX_NAMES_PER_SEARCH
SEARCH_BURST_INTERVAL = 0.02
#: GET requests kept open per channel for re-use (one per pvRequest)
MAX_IDLE_GETS = 4
_LAST = int(Subcommand.DESTROY)
_INIT = int(Subcommand.INIT)
_INIT_OR_DESTROY = int(Subcommand.INIT | Subcommand.DESTROY)


# ---------------------------------------------------------------- errors
class Disconnected(PVAError):
    """The channel's server went away (a monitor event, or a failed operation)."""

    def __init__(self, name: str = ""):
        super().__init__(f"{name}: disconnected" if name else "disconnected")
        self.name = name


class RemoteError(PVAError):
    """The server answered with an error :class:`~pva.Status`."""

    def __init__(self, name: str, status: Any):
        msg = status.message if isinstance(status, Status) else str(status)
        super().__init__(f"{name}: {msg}" if name else msg)
        self.name = name
        self.status = status
        self.message = msg


class Finished(PVAError):
    """A monitor ended: the server finished it or it was closed."""

    def __init__(self, name: str = ""):
        super().__init__(f"{name}: subscription finished" if name else "subscription finished")
        self.name = name


class Timeout(PVAError, TimeoutError):
    """An operation did not complete in time."""

    def __init__(self, name: str, timeout: Optional[float], why: str = ""):
        what = f"{name}: timeout" + (f" after {timeout:g} s" if timeout is not None else "")
        super().__init__(what + (f" ({why})" if why else ""))
        self.name = name
        self.timeout = timeout


class Cancelled(PVAError):
    """The operation was cancelled (or its context closed)."""


# ---------------------------------------------------------------- values
class Value(dict):
    """A structure value: a ``dict`` with attribute access and its type.

    ``v['value']`` and ``v.value`` are the same; nested structures come back
    as :class:`Value` too.  ``v.type`` is the :class:`~pva.FieldDesc`,
    ``v.changed`` the :class:`~pva.BitSet` of fields this update carried
    (monitors) and :meth:`todict` a plain nested ``dict``.
    """

    __slots__ = ("type", "changed")

    def __init__(self, data: Any = (), type: Optional[FieldDesc] = None,
                 changed: Optional[BitSet] = None):
        dict.__init__(self, data)
        self.type = type
        self.changed = changed

    def __getattr__(self, name: str) -> Any:
        try:
            v = _dict_getitem(self, name)      # self[name] without the dotted-path test
        except KeyError:
            try:
                v = self[name]
            except KeyError:
                raise AttributeError(name) from None
        if type(v) is dict:
            return self._wrap(name, v)
        return v

    def _wrap(self, name: str, v: Any) -> Any:
        if type(v) is dict:
            sub = None
            if self.type is not None:
                sub = self.type.children.get(name)
            return Value(v, sub)
        return v

    def __getitem__(self, key: str) -> Any:
        if "." in key and not dict.__contains__(self, key):
            head, _, rest = key.partition(".")
            return Value._wrap(self, head, dict.__getitem__(self, head))[rest]
        return dict.__getitem__(self, key)

    def todict(self) -> Dict[str, Any]:
        """A plain nested ``dict`` (numpy arrays kept)."""
        return _plain(self)

    def unwrap(self) -> Any:
        """The normative-type payload (NTScalar -> its value, ...), else the dict."""
        if self.type is None:
            return self.todict()
        return _nt.unwrap(self.type, self.todict())

    @property
    def changed_fields(self) -> List[str]:
        """Names of the fields in :attr:`changed` (``''`` is the whole structure)."""
        if self.changed is None or self.type is None:
            return []
        bits = set(self.changed)
        out = [""] if 0 in bits else []
        out += [p for p, b in self.type.bit_of.items() if b in bits and p]
        return out

    def __repr__(self) -> str:
        tid = self.type.type_id if self.type is not None else ""
        return f"Value({tid!r}, {dict.__repr__(self)})" if tid else f"Value({dict.__repr__(self)})"

    def __reduce__(self):
        return (Value, (dict(self), self.type, self.changed))


_dict_getitem = dict.__getitem__
_dict_update = dict.update
_new_value = Value.__new__


def _plain(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    return v


def _copy(v: Any) -> Any:
    """Copy the dict structure (leaves shared: they are immutable or read-only views)."""
    if type(v) is dict or isinstance(v, Value):
        return {k: (_copy(x) if isinstance(x, dict) else x) for k, x in v.items()}
    return v


def _merged(current: dict, update: dict) -> dict:
    """A new dict: ``current`` with ``update`` merged in.

    Only the sub-structures the update touches are copied; the others are
    shared with ``current``, so successive monitor values cost what changed.
    """
    out = dict(current)
    for k, v in update.items():
        old = out.get(k)
        if type(v) is dict and type(old) is dict:
            out[k] = _merged(old, v)
        else:
            out[k] = v
    return out


def _merge(target: dict, update: dict) -> None:
    for k, v in update.items():
        old = target.get(k)
        if type(v) is dict and type(old) is dict:
            _merge(old, v)
        else:
            target[k] = v


def parse_request(request: Any) -> PVRequest:
    """A :class:`PVRequest` from a string (``PVRequestError`` with position) or one."""
    if isinstance(request, PVRequest):
        return request
    if request is None:
        request = ""
    return PVRequest.parse(str(request))


# ---------------------------------------------------------------- put values
_INT_RANGE = {
    FieldType.int8: (-2**7, 2**7 - 1), FieldType.int16: (-2**15, 2**15 - 1),
    FieldType.int32: (-2**31, 2**31 - 1), FieldType.int64: (-2**63, 2**63 - 1),
    FieldType.uint8: (0, 2**8 - 1), FieldType.uint16: (0, 2**16 - 1),
    FieldType.uint32: (0, 2**32 - 1), FieldType.uint64: (0, 2**64 - 1),
}


def _is_enum(desc: FieldDesc) -> bool:
    ch = desc.children if desc.field_type == FieldType.struct and not desc.is_array else {}
    return set(ch) == {"index", "choices"}


def _coerce_scalar(desc: FieldDesc, v: Any, path: str) -> Any:
    ft = desc.field_type
    bad = ValueError(f"cannot convert {v!r} to {ft.name} for field {path!r}")
    if isinstance(v, np.generic):
        v = v.item()
    if ft.is_string:
        if isinstance(v, (dict, list, tuple, np.ndarray)):
            raise bad
        return str(v)
    if ft == FieldType.boolean:
        if isinstance(v, str):
            s = v.strip().lower()
            if s in ("true", "1", "yes", "on"):
                return True
            if s in ("false", "0", "no", "off"):
                return False
            raise bad
        if isinstance(v, (bool, int, float)):
            return bool(v)
        raise bad
    if ft.is_floating:
        if isinstance(v, bool) or not isinstance(v, (int, float, str)):
            raise bad
        try:
            return float(v)
        except ValueError:
            raise bad from None
    if ft.is_integral:
        if isinstance(v, str):
            try:
                v = int(v.strip(), 0)
            except ValueError:
                try:
                    f = float(v)
                except ValueError:
                    raise bad from None
                if f != int(f):
                    raise bad from None
                v = int(f)
        elif isinstance(v, float):
            if v != v or v in (float("inf"), float("-inf")) or v != int(v):
                raise bad
            v = int(v)
        elif not isinstance(v, int):
            raise bad
        lo, hi = _INT_RANGE[ft]
        if not lo <= v <= hi:
            raise ValueError(f"{v} is out of range for {ft.name} field {path!r}")
        return int(v)
    raise bad


def _coerce_array(desc: FieldDesc, v: Any, path: str) -> Any:
    ft = desc.field_type
    if isinstance(v, str):
        import json
        s = v.strip()
        try:
            v = json.loads(s) if s.startswith("[") else [x for x in s.replace(",", " ").split()]
        except ValueError:
            raise ValueError(f"cannot parse {v!r} as an array for field {path!r}") from None
    if ft.is_string:
        if isinstance(v, (list, tuple, np.ndarray)):
            return [str(x) for x in v]
        raise ValueError(f"field {path!r} needs a list of strings, not {type(v).__name__}")
    if ft.is_numeric or ft == FieldType.boolean:
        if not isinstance(v, (list, tuple, np.ndarray)) and not np.isscalar(v):
            raise ValueError(f"field {path!r} needs a sequence of numbers, not {type(v).__name__}")
        try:
            seq = [_coerce_scalar(desc.element, x, path) for x in np.atleast_1d(v).tolist()]
            return np.asarray(seq, dtype=np.dtype(ft.struct_char))
        except (TypeError, OverflowError) as ex:
            raise ValueError(f"cannot convert {v!r} for array field {path!r}: {ex}") from None
    return v  # arrays of structures/unions: given as lists, checked by the encoder


def build_put(desc: FieldDesc, value: Any, current: Optional[dict] = None
              ) -> Tuple[Dict[str, Any], BitSet, bool]:
    """The put data for ``value`` on a structure of type ``desc``.

    ``value`` is a mapping (nested dicts or dotted keys; a :class:`Value`
    too) or a plain value for the ``value`` field.  Enum fields
    (``index``/``choices``) take an index or a choice name; a name needs
    ``current`` (the present value, for its choices).

    Returns ``(data, bitset, needs_current)``; when ``needs_current`` is
    true, call again with ``current``.

    Raises
    ------
    ValueError
        A field that does not exist or a value that does not fit its type.
    """
    data: Dict[str, Any] = default_value(desc) if current is None else _copy(current)
    bits: Set[int] = set()
    bit_of = desc.bit_of
    need = False

    def put(d: FieldDesc, v: Any, path: str) -> None:
        nonlocal need
        parent = path.rpartition(".")[0]
        tgt = data
        for part in path.split(".")[:-1]:
            tgt = tgt.setdefault(part, {})
        key = path.rpartition(".")[2]
        if d.field_type == FieldType.struct and not d.is_array:
            if isinstance(v, Mapping):
                for k, x in v.items():
                    sub = d.children.get(str(k).split(".")[0])
                    full = f"{path}.{k}"
                    if sub is None or full not in bit_of:
                        raise ValueError(f"structure {path!r} has no field {k!r}")
                    put(desc[full], x, full)
                return
            if _is_enum(d):
                if isinstance(v, str) and not v.strip().lstrip("-").isdigit():
                    if current is None:
                        need = True
                        return
                    choices = list(_lookup(current, path).get("choices", []))
                    if v not in choices:
                        raise ValueError(f"{v!r} is not one of the choices {choices} of {path!r}")
                    v = choices.index(v)
                put(d.children["index"], v, f"{path}.index")
                return
            raise ValueError(f"field {path!r} is a structure; give a dict, not {v!r}")
        del parent
        if d.is_array:
            tgt[key] = _coerce_array(d, v, path)
        elif d.field_type in (FieldType.union, FieldType.any):
            tgt[key] = v
        else:
            tgt[key] = _coerce_scalar(d, v, path)
        bits.add(bit_of[path])

    if isinstance(value, Mapping):
        for k, x in value.items():
            k = str(k)
            if k not in bit_of:
                raise ValueError(f"no field {k!r} in {desc.type_id or 'the structure'}")
            put(desc[k], x, k)
    else:
        if "value" not in bit_of:
            raise ValueError("a plain value needs a 'value' field; give a dict of fields")
        put(desc["value"], value, "value")
    if not bits and not need:
        raise ValueError("nothing to put")
    return data, BitSet(bits), need


def _lookup(d: dict, path: str) -> Any:
    for p in path.split("."):
        d = d[p]
    return d


def _rpc_argument(value: Any) -> FieldDescAndData:
    if isinstance(value, FieldDescAndData):
        return value
    if isinstance(value, Value) and value.type is not None:
        return FieldDescAndData(value.type, value.todict())
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], FieldDesc):
        return FieldDescAndData(value[0], value[1])
    if value is None:
        return FieldDescAndData(FieldDesc.struct([]), {})
    if hasattr(value, "_pva_struct_"):
        from .._dataclass import get_pv_structure
        return FieldDescAndData(get_pv_structure(value), value)
    if isinstance(value, Mapping):
        return FieldDescAndData(infer_field_desc(dict(value)), dict(value))
    raise TypeError(f"an RPC argument is a dict, Value or (FieldDesc, value), not "
                    f"{type(value).__name__}")


# ---------------------------------------------------------------- circuits
class Circuit:
    """One TCP connection to a server (the protocol object given to the reactor)."""

    def __init__(self, core: "ClientCore", address: Tuple[str, int], name_server: bool = False):
        self.core = core
        self.address = address
        self.name_server = name_server
        self.vc = ClientVirtualCircuit(address, identity=core.identity)
        self.transport = None
        self.state = "connecting"  # validating, connected, dead
        self.channels: Dict[int, "Channel"] = {}    # by cid
        self.waiting: Dict["Channel", None] = {}     # to create once validated (ordered)
        self.ops: Dict[int, "_Op"] = {}
        self.last_rx = core.reactor.time()
        self._echo_timer = None

    def __repr__(self) -> str:
        return f"<Circuit {self.address[0]}:{self.address[1]} {self.state}>"

    # ---- reactor protocol callbacks
    def connection_made(self, transport) -> None:
        if self.state == "dead":
            transport.close()
            return
        self.transport = transport
        self.state = "validating"
        self.last_rx = self.core.reactor.time()
        self._arm_echo()

    def data_received(self, data: bytes) -> None:
        self._received(self.vc.recv, data)

    # the BufferedProtocol form of data_received: large messages are received
    # straight into their final buffer (no copy of a big array in Python)
    def get_buffer(self, sizehint: int) -> memoryview:
        if self.state == "dead":
            return memoryview(bytearray(0x10000))      # discarded
        return self.vc.get_buffer(sizehint)

    def buffer_updated(self, nbytes: int) -> None:
        self._received(self.vc.buffer_updated, nbytes)

    def _received(self, parse, arg) -> None:
        if self.state == "dead":
            return
        self.last_rx = self.core.reactor.time()
        try:
            msgs = parse(arg)
        except PVAError as ex:
            log.warning("%s: protocol error from server: %s", self, ex)
            self.close()
            return
        self._handle(msgs)

    def _handle(self, msgs) -> None:
        vc = self.vc
        accept_update = vc.accept_update
        for msg in msgs:
            if self.state == "dead":
                return
            try:
                if accept_update(msg):      # a monitor update, checked in one step
                    op = self.ops.get(msg.ioid)
                    if op is not None:
                        op._on_message(msg)
                    continue
                if not vc.process_command(msg):
                    continue
                self._dispatch(msg)
            except ProtocolError as ex:
                log.warning("%s: protocol error: %s", self, ex)
                self.close()
                return

    def eof_received(self) -> bool:
        # The server closed its side: let the transport close, connection_lost follows.
        return False

    def connection_lost(self, exc: Optional[BaseException]) -> None:
        if self.state == "dead":
            return
        self.state = "dead"
        if exc is not None:
            log.debug("%s lost: %s", self, exc)
        self._teardown()

    # ---- internals
    def _arm_echo(self) -> None:
        tmo = self.core.config.conn_tmo
        self._echo_timer = self.core.reactor.call_later(tmo / 2, self._on_echo_timer)

    def _on_echo_timer(self) -> None:
        if self.state == "dead":
            return
        idle = self.core.reactor.time() - self.last_rx
        if idle > self.core.config.conn_tmo:
            log.info("%s: no traffic for %.1f s, closing", self, idle)
            self.close()
            return
        if self.state == "connected":
            try:
                self.send(Echo(b""))
            except PVAError:
                pass
        self._arm_echo()

    def send(self, *msgs) -> None:
        bufs = self.vc.send(*msgs)
        if self.transport is not None:
            self.transport.write(b"".join(bufs))

    def close(self) -> None:
        """Abort the connection; channels on it go back to searching."""
        if self.state == "dead":
            return
        self.state = "dead"
        if self.transport is not None:
            try:
                self.transport.close()
            except Exception:  # pragma: no cover - transport already gone
                pass
        self._teardown()

    def _teardown(self) -> None:
        if self._echo_timer is not None:
            self._echo_timer.cancel()
        self.vc.disconnect()
        self.core._circuit_lost(self)
        chans = list(self.channels.values()) + list(self.waiting)
        self.channels.clear()
        self.waiting = {}
        ops = list(self.ops.values())
        self.ops.clear()
        for op in ops:
            op._lost()
        seen = set()
        for ch in chans:
            if id(ch) not in seen:
                seen.add(id(ch))
                ch._lost(self)

    def add_channel(self, ch: "Channel") -> None:
        if self.state == "connected":
            ch._create_on(self)
        else:
            self.waiting[ch] = None

    def _dispatch(self, msg) -> None:
        if isinstance(msg, ControlMessage):
            if isinstance(msg, EchoRequest):
                self.send(self.vc.echo_response(msg))
            return
        t = type(msg)
        if t is ConnectionValidationRequest:
            methods = list(msg.auth_nz)
            if "ca" in methods or not methods:
                reply = self.vc.validate_connection(auth_nz="ca")
            else:
                reply = ConnectionValidationResponse(0x10000, 0x7FFF, 0, "anonymous", None)
            self.send(reply)
            if self.name_server:
                self.core._search_now()
        elif t is ConnectionValidatedResponse:
            if not msg.status.is_successful:
                log.warning("%s: validation refused: %s", self, msg.status.message)
                self.close()
                return
            self.state = "connected"
            waiting, self.waiting = self.waiting, {}
            for ch in waiting:
                if ch.state == "connecting" and ch.circuit is self:
                    ch._create_on(self)
        elif t is SearchResponse:
            self.core._on_search_response(msg, self.address)
        elif t is CreateChannelResponse:
            ch = self.channels.get(msg.client_chid)
            if ch is not None:
                ch._on_created(self, msg)
        elif t is ChannelDestroyResponse:
            ch = self.channels.pop(msg.client_chid, None)
            if ch is not None and ch.circuit is self:
                ch._lost(self)
        elif t is ChannelMessage:
            op = self.ops.get(msg.ioid)
            log.info("%s: server message (%d): %s", op.channel.name if op else "?",
                     msg.message_type, msg.message)
        else:
            ioid = getattr(msg, "ioid", None)
            if ioid is not None:
                op = self.ops.get(ioid)
                if op is not None:
                    op._on_message(msg)


# ---------------------------------------------------------------- channels
class Channel:
    """A PV name, shared by every operation of a context on it.

    ``state`` is ``'searching'``, ``'connecting'``, ``'connected'`` or
    ``'closed'``.  ``listeners`` are called ``fn(connected: bool)`` on changes.
    """

    def __init__(self, core: "ClientCore", name: str):
        self.core = core
        self.name = name
        self.state = "searching"
        self.circuit: Optional[Circuit] = None
        self.vch = None
        self.ops: Set["_Op"] = set()
        self.listeners: List[Callable[[bool], None]] = []
        self.search_delay = core.config.search_min
        self.search_due = core.reactor.time()
        self.searches = 0
        self.key: Any = name
        self.direct: Optional[Tuple[str, int]] = None
        #: pvRequest text -> (ioid, type) of an open, idle GET request
        self.idle_gets: Dict[str, Tuple[int, FieldDesc]] = {}
        self.error: Optional[str] = None

    def __repr__(self) -> str:
        return f"<Channel {self.name!r} {self.state}>"

    @property
    def connected(self) -> bool:
        return self.state == "connected"

    @property
    def server(self) -> Optional[Tuple[str, int]]:
        return self.circuit.address if self.circuit is not None else None

    def _notify(self, up: bool) -> None:
        for fn in list(self.listeners):
            try:
                fn(up)
            except Exception:  # a listener must not break the core
                log.exception("connection listener of %s failed", self.name)

    def _found(self, address: Tuple[str, int]) -> None:
        if self.state != "searching":
            return
        self.core._searching.discard(self)
        self.state = "connecting"
        circ = self.core._circuit_for(address)
        self.circuit = circ
        circ.add_channel(self)

    def _create_on(self, circ: Circuit) -> None:
        self.idle_gets.clear()
        vch = circ.vc.create_channel(self.name)
        circ.channels[vch.cid] = self
        self.vch = vch
        circ.send(vch.create())

    def _on_created(self, circ: Circuit, msg: CreateChannelResponse) -> None:
        if circ is not self.circuit:
            return
        if not msg.status.is_successful:
            self.error = msg.status.message
            log.info("%s: create refused: %s", self.name, msg.status.message)
            circ.channels.pop(msg.client_chid, None)
            self.circuit = None
            self.state = "searching"
            self.search_delay = self.core.config.search_max
            self.core._start_search(self, delay=self.core.config.search_max)
            return
        self.vch = circ.vc.channel_by_cid(msg.client_chid)
        self.state = "connected"
        self.error = None
        for op in list(self.ops):
            op._start()
        self._notify(True)

    def _lost(self, circ: Circuit) -> None:
        if self.circuit is not circ or self.state == "closed":
            return
        was = self.state == "connected"
        self.circuit = None
        self.vch = None
        self.idle_gets.clear()
        self.state = "searching"
        for op in list(self.ops):
            op._channel_lost()
        self.core._start_search(self)
        if was:
            self._notify(False)

    def _attach(self, op: "_Op") -> None:
        if self.state == "closed":
            op._fail(Cancelled(f"{self.name}: context closed"))
            return
        self.ops.add(op)
        if self.state == "connected":
            op._start()

    def close(self, destroy: bool = True) -> None:
        """Destroy the channel (its operations are cancelled)."""
        if self.state == "closed":
            return
        for op in list(self.ops):
            op._detach_request(destroy=destroy)
            if isinstance(op, _OneShot):   # a waiting caller learns why
                op._finish(None, Cancelled(f"{self.name}: cancelled (channel closed)"))
            op.cancel()
        circ = self.circuit
        if destroy and self.state == "connected" and circ is not None and circ.state == "connected":
            try:
                circ.send(self.vch.disconnect())
            except PVAError:
                pass
        if circ is not None:
            vch = self.vch
            if vch is not None and circ.channels.get(vch.cid) is self:
                del circ.channels[vch.cid]
            circ.waiting.pop(self, None)
        self.core._searching.discard(self)
        self.core.channels.pop(self.key, None)
        was = self.state == "connected"
        self.state = "closed"
        self.circuit = None
        if was:
            self._notify(False)


# ---------------------------------------------------------------- operations
class _Op:
    """One operation on a channel; runs (again) whenever the channel connects."""

    KIND = "op"

    def __init__(self, channel: Channel, request: Any = ""):
        self.channel = channel
        self.request = parse_request(request)
        self.ioid: Optional[int] = None
        self.circuit: Optional[Circuit] = None
        self.done = False

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.channel.name!r}>"

    @property
    def name(self) -> str:
        return self.channel.name

    def _start(self) -> None:
        if self.done or self.ioid is not None:
            return
        circ = self.channel.circuit
        self.circuit = circ
        self.ioid = circ.vc.new_ioid()
        circ.ops[self.ioid] = self
        try:
            circ.send(self._init_message())
        except PVAError as ex:
            self._detach_request()
            self._fail(ex)

    def _init_message(self):
        raise NotImplementedError

    def _sid(self) -> int:
        return self.channel.vch.sid

    def _send(self, msg) -> None:
        self.circuit.send(msg)

    def _detach_request(self, destroy: bool = False) -> None:
        circ, ioid = self.circuit, self.ioid
        self.circuit = self.ioid = None
        if circ is None or ioid is None:
            return
        circ.ops.pop(ioid, None)
        if destroy and circ.state == "connected" and self.channel.vch is not None:
            try:
                circ.send(ChannelRequestDestroy(self.channel.vch.sid, ioid))
            except PVAError:
                pass

    def _lost(self) -> None:
        """The circuit died under a started request."""
        self.circuit = self.ioid = None

    def _channel_lost(self) -> None:
        raise NotImplementedError

    def _on_message(self, msg) -> None:
        raise NotImplementedError

    def _fail(self, exc: BaseException) -> None:
        raise NotImplementedError

    def cancel(self) -> None:
        """Stop the operation (a request in progress is destroyed on the server)."""
        if self.done:
            return
        self.done = True
        self._detach_request(destroy=True)
        self.channel.ops.discard(self)


class _OneShot(_Op):
    """An operation with one result: ``callback(result, exception)``."""

    def __init__(self, channel: Channel, request: Any, callback: Callable[[Any, Optional[BaseException]], None]):
        super().__init__(channel, request)
        self.callback = callback

    def _finish(self, result: Any = None, exc: Optional[BaseException] = None) -> None:
        if self.done:
            return
        self.done = True
        self.channel.ops.discard(self)
        if self.circuit is not None and self.ioid is not None:
            self.circuit.ops.pop(self.ioid, None)
        try:
            self.callback(result, exc)
        except Exception:
            log.exception("callback of %r failed", self)

    def _fail(self, exc: BaseException) -> None:
        self._finish(None, exc)

    def _channel_lost(self) -> None:
        if self.ioid is not None or self.circuit is not None:
            self._finish(None, Disconnected(self.name))

    def _lost(self) -> None:
        super()._lost()
        self._finish(None, Disconnected(self.name))

    def _check(self, msg) -> bool:
        if not msg.status.is_successful:
            if msg.subcommand & Subcommand.INIT:
                self.circuit.ops.pop(self.ioid, None)   # the server destroyed it
                self.circuit = self.ioid = None
            else:
                self._detach_request(destroy=True)
            self._finish(None, RemoteError(self.name, msg.status))
            return False
        return True


class GetOp(_OneShot):
    """GET.  The request stays open on the server after its reply and the next
    GET with the same pvRequest on the channel re-executes it: one round trip
    instead of two (INIT + EXEC).  At most :data:`MAX_IDLE_GETS` per channel."""

    KIND = "get"

    def _init_message(self):
        return ChannelGetRequest(self._sid(), self.ioid, Subcommand.INIT, self.request)

    def _start(self) -> None:
        if self.done or self.ioid is not None:
            return
        self.key = str(self.request)
        idle = self.channel.idle_gets.pop(self.key, None)
        if idle is None:
            super()._start()
            return
        circ = self.circuit = self.channel.circuit
        self.ioid, self.desc = idle
        circ.ops[self.ioid] = self
        try:
            circ.send(ChannelGetRequest(self._sid(), self.ioid, Subcommand.DEFAULT))
        except PVAError as ex:
            self._detach_request(destroy=True)
            self._fail(ex)

    def _on_message(self, msg) -> None:
        if not self._check(msg):
            return
        if msg.subcommand & Subcommand.INIT:
            self.desc = msg.pv_structure_if
            self._send(ChannelGetRequest(self._sid(), self.ioid, Subcommand.DEFAULT))
            return
        desc = msg.pv_structure_if or self.desc
        data, bits = msg.pv_data.data, msg.pv_data.bitset
        if bits is None or 0 not in bits:     # some fields only: the rest as defaults
            full = default_value(desc)
            _merge(full, data)
            data = full
        value = Value(data, desc, bits)
        ch, circ = self.channel, self.circuit
        if (ch.circuit is circ and ch.connected and self.key not in ch.idle_gets
                and len(ch.idle_gets) < MAX_IDLE_GETS):
            circ.ops.pop(self.ioid, None)
            ch.idle_gets[self.key] = (self.ioid, desc)
            self.circuit = self.ioid = None
        else:
            self._detach_request(destroy=True)
        self._finish(value)


class PutOp(_OneShot):
    """PUT; with ``get=True`` a PUT_GET whose result is the value read back."""

    KIND = "put"

    def __init__(self, channel, request, value, callback, get: bool = False):
        super().__init__(channel, request, callback)
        self.value = value
        self.get = get

    def _init_message(self):
        cls = ChannelPutGetRequest if self.get else ChannelPutRequest
        return cls(self._sid(), self.ioid, Subcommand.INIT, self.request)

    def _build(self, current=None):
        try:
            return build_put(self.desc, self.value, current)
        except (ValueError, TypeError, KeyError) as ex:
            self._detach_request(destroy=True)
            self._finish(None, ValueError(f"{self.name}: {ex}"))
            return None

    def _put(self, data, bits) -> None:
        cls = ChannelPutGetRequest if self.get else ChannelPutRequest
        msg = cls(self._sid(), self.ioid, _LAST,
                  put_data=DataWithBitSet(data, bits, self.desc))
        try:
            self._send(msg)
        except PVAError as ex:
            self._detach_request(destroy=True)
            self._finish(None, ValueError(f"{self.name}: {ex}"))

    def _on_message(self, msg) -> None:
        if not self._check(msg):
            return
        if msg.subcommand & Subcommand.INIT:
            self.desc = msg.put_structure_if
            self.get_desc = getattr(msg, "get_structure_if", None)
            built = self._build()
            if built is None:
                return
            data, bits, need = built
            if need:  # enum choice by name: read the present value first
                if self.get:
                    self._send(ChannelPutGetRequest(self._sid(), self.ioid, Subcommand.GET_PUT))
                else:
                    self._send(ChannelPutRequest(self._sid(), self.ioid).to_get())
                return
            self._put(data, bits)
            return
        if msg.subcommand & (Subcommand.GET | Subcommand.GET_PUT):
            current = default_value(self.desc)
            _merge(current, msg.pv_data.data)
            built = self._build(current)
            if built is not None:
                self._put(built[0], built[1])
            return
        if self.get:
            desc = msg.get_structure_if or self.get_desc
            data = default_value(desc)
            _merge(data, msg.pv_data.data)
            self._finish(Value(data, desc, msg.pv_data.bitset))
        else:
            self._finish(None)


class RpcOp(_OneShot):
    KIND = "rpc"

    def __init__(self, channel, request, argument, callback):
        super().__init__(channel, request, callback)
        self.argument = _rpc_argument(argument)

    def _init_message(self):
        return ChannelRpcRequest(self._sid(), self.ioid, Subcommand.INIT, self.request)

    def _on_message(self, msg) -> None:
        if not self._check(msg):
            return
        if msg.subcommand & Subcommand.INIT:
            try:
                self._send(ChannelRpcRequest(self._sid(), self.ioid, _LAST,
                                             pv_data=self.argument))
            except PVAError as ex:
                self._detach_request(destroy=True)
                self._finish(None, ValueError(f"{self.name}: {ex}"))
            return
        resp = msg.pv_response
        if resp is None or resp.interface is None:
            self._finish(None)
        elif resp.interface.field_type == FieldType.struct and not resp.interface.is_array:
            self._finish(Value(resp.data, resp.interface))
        else:
            self._finish(resp.data)


class ProcessOp(_OneShot):
    """PROCESS: INIT, then one execution; the result is ``None``."""

    KIND = "process"

    def _init_message(self):
        return ChannelProcessRequest(self._sid(), self.ioid, Subcommand.INIT, self.request)

    def _on_message(self, msg) -> None:
        if not self._check(msg):
            return
        if msg.subcommand & Subcommand.INIT:
            self._send(ChannelProcessRequest(self._sid(), self.ioid, _LAST))
            return
        self._finish(None)


#: ARRAY executions: subcommand and the fields of the request
_ARRAY_SUB = {"get": int(Subcommand.GET), "put": 0, "set_length": int(Subcommand.GET_PUT),
              "length": int(Subcommand.PROCESS)}


def array_action(action: str, *, offset: int = 0, count: int = -1, stride: int = 1,
                 values: Any = None, length: int = 0) -> Dict[str, Any]:
    """Check the arguments of an ARRAY execution (``get``, ``put``,
    ``set_length`` or ``length``); returns them as sent (``count`` -1 -> 0).

    Raises
    ------
    ValueError
        A negative offset or length, a stride below 1, a count below -1 or 0.
    """
    if action not in _ARRAY_SUB:
        raise ValueError(f"unknown array action {action!r}")
    for name, v in (("offset", offset), ("count", count), ("stride", stride),
                    ("length", length)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"{name} must be an integer, not {type(v).__name__}")
    if offset < 0:
        raise ValueError(f"offset must not be negative, not {offset}")
    if stride < 1:
        raise ValueError(f"stride must be at least 1, not {stride}")
    if count == 0 or count < -1:
        raise ValueError(f"count must be positive (or -1 for all elements), not {count}")
    if length < 0:
        raise ValueError(f"length must not be negative, not {length}")
    if action == "put" and values is None:
        raise ValueError("an array put needs values")
    return {"action": action, "offset": int(offset), "count": max(0, int(count)),
            "stride": int(stride), "values": values, "length": int(length)}


class ArrayOp(_OneShot):
    """ARRAY: INIT (the request names one array field), then one execution.

    The result is the elements (``get``: numpy array or list), the length
    (``length``) or ``None`` (``put``, ``set_length``).
    """

    KIND = "array"

    def __init__(self, channel, request, action: Dict[str, Any], callback):
        super().__init__(channel, request, callback)
        self.action = action
        self.desc: Optional[FieldDesc] = None

    def _init_message(self):
        return ChannelArrayRequest(self._sid(), self.ioid, Subcommand.INIT, self.request)

    def _exec_message(self):
        a = self.action
        msg = ChannelArrayRequest(self._sid(), self.ioid, _ARRAY_SUB[a["action"]] | _LAST,
                                  offset=a["offset"], count=a["count"], stride=a["stride"],
                                  length=a["length"])
        if a["action"] == "put":
            desc = self.desc
            if desc is None or not desc.is_array:
                raise ValueError(f"the server's array type is {desc!r}, not an array")
            msg.array_data = _coerce_array(desc, a["values"], "array")
        return msg

    def _on_message(self, msg) -> None:
        if not self._check(msg):
            return
        if msg.subcommand & Subcommand.INIT:
            self.desc = msg.array_structure_if
            try:
                self._send(self._exec_message())
            except (PVAError, ValueError, TypeError) as ex:
                self._detach_request(destroy=True)
                self._finish(None, ValueError(f"{self.name}: {ex}"))
            return
        action = self.action["action"]
        if action == "get":
            self._finish(msg.array_data)
        elif action == "length":
            self._finish(msg.length)
        else:
            self._finish(None)


class InfoOp(_OneShot):
    """GET_FIELD: the result is the channel's :class:`~pva.FieldDesc`."""

    KIND = "info"

    def __init__(self, channel, sub_field, callback):
        super().__init__(channel, "", callback)
        self.sub_field = sub_field

    def _init_message(self):
        return self.channel.vch.read_interface(self.sub_field, ioid=self.ioid)

    def _on_message(self, msg) -> None:
        if not isinstance(msg, ChannelFieldInfoResponse):
            return
        self.circuit.ops.pop(self.ioid, None)
        self.circuit = self.ioid = None
        if not msg.status.is_successful:
            self._finish(None, RemoteError(self.name, msg.status))
        else:
            self._finish(msg.interface)


class MonitorOp(_Op):
    """A subscription: ``on_event(item)`` per update or event; re-subscribes itself.

    With ``record[pipeline=true]`` the server sends at most ``queueSize``
    updates (default 4) before the subscriber acknowledges them: call
    :meth:`ack` once per update consumed (adapters do).
    """

    KIND = "monitor"

    def __init__(self, channel: Channel, request: Any, on_event: Callable[[Any], None]):
        super().__init__(channel, request)
        self.on_event = on_event
        self.pipeline = self.request.bool_option("pipeline", False)
        self.queue_size = self.request.int_option("queueSize", 4) or 4
        self.desc: Optional[FieldDesc] = None
        self.current: Optional[dict] = None
        self.connected_once = False
        self._unacked = 0
        self._acked_ioid: Optional[int] = None

    def _init_message(self):
        qs = max(self.queue_size, 2) if self.pipeline else 0
        return ChannelMonitorRequest(self._sid(), self.ioid).to_init(self.request, qs)

    def _emit(self, item: Any) -> None:
        try:
            self.on_event(item)
        except Exception:
            log.exception("subscriber of %s failed", self.name)

    def _on_message(self, msg: ChannelMonitorResponse) -> None:
        sub = msg.subcommand
        if not sub & _INIT_OR_DESTROY:      # an update: the hot path
            data = msg.pv_data
            self.current = current = _merged(self.current, data.data)
            self.connected_once = True
            value = _new_value(Value)       # Value(current, desc, bits), inline
            _dict_update(value, current)
            value.type, value.changed = self.desc, data.bitset
            try:                            # _emit, inline
                self.on_event(value)
            except Exception:
                log.exception("subscriber of %s failed", self.name)
            return
        if sub & _INIT:
            if not msg.status.is_successful:
                self.circuit.ops.pop(self.ioid, None)
                self.circuit = self.ioid = None
                self._emit(RemoteError(self.name, msg.status))
                return
            self.desc = msg.pv_structure_if
            self.current = default_value(self.desc)
            self._unacked = 0
            self._send(ChannelMonitorRequest(self._sid(), self.ioid).to_start())
            return
        self.circuit.ops.pop(self.ioid, None)      # DESTROY
        self.circuit = self.ioid = None
        if not msg.status.is_successful:
            self._emit(RemoteError(self.name, msg.status))
        self.done = True
        self.channel.ops.discard(self)
        self._emit(Finished(self.name))

    def ack(self, n: int = 1) -> None:
        """``n`` updates were consumed (pipeline flow control)."""
        if not self.pipeline or self.done or self.ioid is None:
            return
        self._unacked += n
        if self._unacked >= max(1, self.queue_size // 2):
            n, self._unacked = self._unacked, 0
            try:
                # Interop: a pvxs server (1.5) only widens its window on an
                # ack and sends what it queued meanwhile on the next post or
                # START, so an idle PV would leave queued updates stuck.  A
                # START (legal while running) right after the ack makes it
                # send them; pvAccessCPP refuses ack and start combined in one
                # message, so they are two messages.
                self._send(ChannelMonitorRequest(self._sid(), self.ioid).to_pipeline(n))
                self._send(ChannelMonitorRequest(self._sid(), self.ioid).to_start())
            except PVAError:
                pass

    def _fail(self, exc: BaseException) -> None:
        self._emit(exc)

    def _lost(self) -> None:
        super()._lost()

    def _channel_lost(self) -> None:
        self.circuit = self.ioid = None
        if self.connected_once:
            self._emit(Disconnected(self.name))

    def cancel(self) -> None:
        if self.done:
            return
        super().cancel()

    close = cancel


# ---------------------------------------------------------------- the core
class ClientCore:
    """Shared client state: searches, circuits, channels (see the module doc)."""

    def __init__(self, reactor: Any, config: Optional[ClientConfig] = None,
                 identity: Tuple[str, str] = ("", "")):
        self.reactor = reactor
        #: ``(user, host)`` this client identifies with (looked up by the adapter)
        self.identity = identity
        self.config = config or ClientConfig.from_conf()
        self.broadcaster = Broadcaster("client")
        self.channels: Dict[str, Channel] = {}
        self.circuits: Dict[Tuple[str, int], Circuit] = {}
        self.name_server_circuits: Dict[Tuple[str, int], Circuit] = {}
        self._searching: Set[Channel] = set()
        self._search_timer = None
        self._search_at: Optional[float] = None
        self._udp_send: Optional[Callable[[bytes, Tuple[str, int]], None]] = None
        self._udp_port = 0
        self._servers_seen: Dict[bytes, Tuple[str, int]] = {}
        #: servers heard of (search responses, beacons): GUID -> (host, TCP port)
        self.servers: Dict[bytes, Tuple[str, int]] = {}
        self.closed = False
        self._ns_timers: Dict[Tuple[str, int], Any] = {}
        for addr in self.config.name_servers:
            self._connect_name_server(addr)

    # ---- public
    def channel(self, name: str, server: Optional[Tuple[str, int]] = None) -> Channel:
        """The (shared) channel of ``name``; searched for if new.

        With ``server``, the channel is created on that server directly, without
        searching (as pvxs's ``.server()``; used for the ``server`` PV of pvlist).
        """
        if self.closed:
            raise Cancelled("the client context is closed")
        key: Any = name if server is None else (name, tuple(server))
        ch = self.channels.get(key)
        if ch is None:
            ch = self.channels[key] = Channel(self, name)
            ch.key = key
            if server is None:
                self._start_search(ch, delay=0.0)
            else:
                ch.direct = tuple(server)
                ch._found(ch.direct)
        return ch

    def ping(self) -> None:
        """Ask every server of the address list to answer (empty search, reply required).

        Answers land in :attr:`servers`.
        """
        if self._udp_send is None:
            return
        for addr in self.config.addr_list:
            req = self.broadcaster.search([], reply_address=("0.0.0.0", self._udp_port),
                                          unicast=self.config.is_unicast(addr[0]),
                                          reply_required=True)
            try:
                self._udp_send(b"".join(self.broadcaster.send(req)), addr)
            except (OSError, PVAError):
                pass

    def get(self, name, request, callback) -> GetOp:
        op = GetOp(self.channel(name), request, callback)
        op.channel._attach(op)
        return op

    def put(self, name, value, request, callback, get: bool = False) -> PutOp:
        op = PutOp(self.channel(name), request, value, callback, get=get)
        op.channel._attach(op)
        return op

    def rpc(self, name, argument, request, callback, server=None) -> RpcOp:
        op = RpcOp(self.channel(name, server), request, argument, callback)
        op.channel._attach(op)
        return op

    def process(self, name, request, callback) -> ProcessOp:
        op = ProcessOp(self.channel(name), request, callback)
        op.channel._attach(op)
        return op

    def array(self, name, request, action: Dict[str, Any], callback) -> ArrayOp:
        """An ARRAY execution; ``action`` from :func:`array_action`."""
        op = ArrayOp(self.channel(name), request, action, callback)
        op.channel._attach(op)
        return op

    def info(self, name, sub_field, callback) -> InfoOp:
        op = InfoOp(self.channel(name), sub_field, callback)
        op.channel._attach(op)
        return op

    def monitor(self, name, request, on_event) -> MonitorOp:
        op = MonitorOp(self.channel(name), request, on_event)
        op.channel._attach(op)
        return op

    def attach_udp(self, sendto: Callable[[bytes, Tuple[str, int]], None], port: int = 0) -> None:
        """The adapter's UDP socket is ready (``port`` is its local port)."""
        self._udp_send = sendto
        self._udp_port = port
        self._search_now()

    def close(self) -> None:
        """Close every channel and connection."""
        if self.closed:
            return
        self.closed = True
        for ch in list(self.channels.values()):
            ch.close(destroy=False)  # closing the connections destroys them
        if self._search_timer is not None:
            self._search_timer.cancel()
        for t in self._ns_timers.values():
            t.cancel()
        for circ in list(self.circuits.values()) + list(self.name_server_circuits.values()):
            circ.close()

    # ---- UDP input
    def datagram_received(self, data: bytes, address: Tuple[str, int]) -> None:
        if self.closed:
            return
        try:
            msgs = self.broadcaster.recv(data, address)
        except PVAError:
            return
        for msg in msgs:
            if isinstance(msg, SearchResponse):
                self._on_search_response(msg, address)
            elif isinstance(msg, Beacon):
                self._on_beacon(msg, address)

    def beacon_received(self, msg: Beacon, address: Tuple[str, int]) -> None:
        """A beacon heard by the adapter's beacon listener (already decoded)."""
        if not self.closed:
            self._on_beacon(msg, address)

    def _on_search_response(self, msg: SearchResponse, address: Tuple[str, int]) -> None:
        host = msg.server_address
        if host in ("0.0.0.0", "::"):
            host = address[0]
        self.servers[msg.guid] = (host, msg.server_port)
        try:
            found = self.broadcaster.process_command(msg, address)
        except PVAError:
            return
        for name, server in found:
            ch = self.channels.get(name)
            if ch is not None:
                ch._found(server)

    def _on_beacon(self, msg: Beacon, address: Tuple[str, int]) -> None:
        host = msg.server_address
        if host in ("0.0.0.0", "::"):
            host = address[0]
        server = (host, msg.server_port)
        self.servers[msg.guid] = server
        if self._servers_seen.get(msg.guid) == server:
            return
        self._servers_seen[msg.guid] = server
        # a server (re)appeared: search again soon for everything unresolved
        for ch in self._searching:
            ch.search_delay = self.config.search_min
            ch.search_due = self.reactor.time()
        self._search_now()

    # ---- searching
    def _start_search(self, ch: Channel, delay: Optional[float] = None) -> None:
        if self.closed or ch.state == "closed":
            return
        if ch.direct is not None:   # no search: reconnect to the given server
            self.reactor.call_later(1.0 if delay is None else delay,
                                    lambda: ch._found(ch.direct))
            return
        now = self.reactor.time()
        ch.search_delay = self.config.search_min if delay is None else max(delay, self.config.search_min)
        ch.search_due = now + (0.0 if delay is None else delay)
        self._searching.add(ch)
        self._schedule_search(ch.search_due)

    def _search_now(self) -> None:
        self._schedule_search(self.reactor.time())

    def _schedule_search(self, when: float) -> None:
        if self.closed:
            return
        if self._search_timer is not None and self._search_at is not None and self._search_at <= when:
            return
        if self._search_timer is not None:
            self._search_timer.cancel()
        self._search_at = when
        self._search_timer = self.reactor.call_later(max(0.0, when - self.reactor.time()),
                                                     self._search_tick)

    def _search_tick(self) -> None:
        self._search_timer = None
        self._search_at = None
        if self.closed or not self._searching:
            return
        now = self.reactor.time()
        due = [ch for ch in self._searching if ch.search_due <= now + 1e-3]
        more = len(due) > MAX_NAMES_PER_TICK
        if more:    # a burst: the rest goes out in the next ticks
            due = due[:MAX_NAMES_PER_TICK]
        ns = [c for c in self.name_server_circuits.values()
              if c.state in ("validating", "connected") and c.vc.state.name in
              ("AWAIT_VALIDATED", "CONNECTED")]
        if due and (self._udp_send is not None or ns):
            for i in range(0, len(due), MAX_NAMES_PER_SEARCH):
                names = [ch.name for ch in due[i:i + MAX_NAMES_PER_SEARCH]]
                self._send_search(names, ns)
            for ch in due:
                ch.searches += 1
                ch.search_due = now + ch.search_delay
                ch.search_delay = min(ch.search_delay * 2, self.config.search_max)
        if more:
            self._schedule_search(now + SEARCH_BURST_INTERVAL)
        elif self._searching:
            self._schedule_search(min(ch.search_due for ch in self._searching))

    def _send_search(self, names: List[str], ns: List[Circuit]) -> None:
        if self._udp_send is not None and self.config.addr_list:
            for addr in self.config.addr_list:
                unicast = self.config.is_unicast(addr[0])
                req = self.broadcaster.search(names, reply_address=("0.0.0.0", self._udp_port),
                                              unicast=unicast)
                try:
                    data = b"".join(self.broadcaster.send(req))
                    self._udp_send(data, addr)
                except (OSError, PVAError) as ex:
                    log.debug("search to %s failed: %s", addr, ex)
        for circ in ns:
            req = self.broadcaster.search(names, reply_address=("0.0.0.0", 0), unicast=True)
            try:
                circ.send(req)
            except PVAError as ex:
                log.debug("search via name server %s failed: %s", circ, ex)

    # ---- circuits
    def _circuit_for(self, address: Tuple[str, int]) -> Circuit:
        circ = self.circuits.get(address)
        if circ is None or circ.state == "dead":
            ns = self.name_server_circuits.get(address)
            if ns is not None and ns.state != "dead":
                return ns
            circ = self.circuits[address] = Circuit(self, address)
            self.reactor.connect_tcp(address[0], address[1], circ)
        return circ

    def _connect_name_server(self, address: Tuple[str, int]) -> None:
        self._ns_timers.pop(address, None)
        if self.closed:
            return
        circ = self.name_server_circuits[address] = Circuit(self, address, name_server=True)
        self.reactor.connect_tcp(address[0], address[1], circ)

    def _circuit_lost(self, circ: Circuit) -> None:
        if self.circuits.get(circ.address) is circ:
            del self.circuits[circ.address]
        if self.name_server_circuits.get(circ.address) is circ and not self.closed:
            # reconnect to the name server after a while
            self._ns_timers[circ.address] = self.reactor.call_later(
                1.0, lambda a=circ.address: self._connect_name_server(a))
