"""One set of PVs served over Channel Access and pvAccess by one process.

>>> from caffi.server import PVGroup, pvproperty, run
>>> class Demo(PVGroup):
...     x = pvproperty(value=1.5, units="mm")
>>> run(Demo(prefix="demo:").pvdb, protocols=("ca", "pva"))   # doctest: +SKIP

Theory of operation
-------------------
Each PV has one owner holding its state; the other protocol sees it
through a mirror, so a change made through either protocol reaches the
monitors of both, with the same time stamp.

* A :class:`~caffi.protocol.ChannelData` (a ``PVGroup``'s PVs) is the
  owner of its PV.  Its pvAccess face is a :class:`ChannelDataWrapper`
  (a :class:`pva.server.DataWrapperBase`) holding the normative type of
  :mod:`.pvdata`.  The wrapper subscribes to the channel data like a CA
  subscription does: while it has pvAccess monitors, every post (a write
  from a CA client, a pvAccess put, the group's own ``write``, an alarm
  change) updates the pvData structure with the members the event changed
  and posts them to the monitors; without monitors the structure is
  brought up to date when it is read (or a first monitor starts).  A
  pvAccess put is a ``write`` of the channel data (putters, limits, access
  rights apply as to a CA write); its reply follows the monitor updates.
* A pvAccess data wrapper (a ``PVAGroup``'s PVs) with an NTScalar, an
  NTScalarArray or an NTEnum is the owner of its PV.  Its CA face is a ChannelData subclass
  made by :func:`pva_channel`: it subscribes to the wrapper like a
  pvAccess monitor; each post is stored in the channel data (value, time
  stamp, alarm, metadata) and published to the CA subscriptions.  A CA write
  is the wrapper's ``write`` (its putter) after its ``authorize``; a CA read
  runs the wrapper's ``read`` first if the pvaproperty has a getter.
* The fields of a ``pvproperty`` with ``record=`` (``NAME.EGU`` ...) are
  found by the pvAccess server as by the CA server, through the database
  of :mod:`.pvfields`; each field's pvAccess face is a
  :class:`ChannelDataWrapper` of the field's channel data.

:func:`serve` runs the asyncio servers of the protocols asked for
(each with its own environment: ``EPICS_CA*``/``EPICS_CAS*`` and
``EPICS_PVA*``/``EPICS_PVAS*``) on one event loop.
"""
import asyncio
import logging
from typing import Any, Dict, Iterable, Optional, Tuple

from pva import BitSet, DataWithBitSet, fill_dataclass, parse_pvrequest
from pva.server import AuthenticationError, AuthOperation, DataWrapperBase
from pva.server import Context as PvaContext
from pva.server import value_instance, wrap_pvdb

from ..protocol import (AccessRights, AlarmSeverity, AlarmStatus, ChannelAlarm, ChannelData,
                        ChannelEnum, Forbidden)
from ..protocol._data import DBE_ALARM, DBE_LOG, DBE_PROPERTY, DBE_VALUE
from .pvdata import (ca_state, channel_spec, nt_changes, nt_type, nt_value, pva_value,
                     value_from_put)

__all__ = ["ChannelDataWrapper", "pva_channel", "split_pvdb", "serve"]

log = logging.getLogger("caffi.server")

_ALL_EVENTS = DBE_VALUE | DBE_LOG | DBE_ALARM | DBE_PROPERTY
#: the least CA element count of a pvAccess array served over CA (see pva_channel)
DEFAULT_ARRAY_LENGTH = 1


class _ChannelListener:
    """Subscribed to a ChannelData like a CA subscription: hands its posts
    to the :class:`ChannelDataWrapper` while it has pvAccess monitors (its
    mask is 0 otherwise, so that CA traffic alone costs nothing more)."""

    @property
    def mask(self) -> int:
        return _ALL_EVENTS if self.wrapper._monitors else 0

    def __init__(self, wrapper: "ChannelDataWrapper"):
        self.wrapper = wrapper
        native = wrapper.channel.data_type
        self.data_type = native          # the cheapest read (what a native monitor reads)
        self.data_count = None

    def post(self, flags, data, metadata) -> None:
        self.wrapper._channel_posted(flags)

    def post_error(self, ex) -> None:
        self.wrapper._channel_posted(_ALL_EVENTS)


class ChannelDataWrapper(DataWrapperBase):
    """The pvAccess face of a :class:`~caffi.protocol.ChannelData`.

    Parameters
    ----------
    name : str
    channel : ChannelData
    access : callable, optional
        ``access(name, channel, host, user) -> AccessRights`` (the CA
        server's hook); by default ``channel.check_access(host, user)``.
    """

    def __init__(self, name: str, channel: ChannelData, *, access=None):
        self.channel = channel
        self._access = access
        super().__init__(name, value_instance(self._whole(), self._type()))
        self._monitors: set = set()
        self._listener = _ChannelListener(self)
        channel.add_subscriber(self._listener)

    def close(self) -> None:
        """Stop following the channel data."""
        self.channel.remove_subscriber(self._listener)

    # the normative type, its whole value and the members an event changed
    # (overridden by the record fields' wrappers of .pvfields)
    def _type(self):
        return nt_type(self.channel)

    def _whole(self) -> Dict[str, Any]:
        return nt_value(self.channel)

    def _changes(self, flags: int) -> Dict[str, Any]:
        return nt_changes(self.channel, flags)

    def _channel_posted(self, flags: int) -> None:
        self.post(fill_dataclass(self.data, self._changes(flags)))

    def _refresh(self) -> None:
        """Bring the structure up to date (not followed without monitors)."""
        fill_dataclass(self.data, self._whole())

    async def subscribe(self, queue, sub) -> Any:
        if not self._monitors:
            self._refresh()
        self._monitors.add(sub)
        return await super().subscribe(queue, sub)

    async def unsubscribe(self, queue, sub) -> None:
        self._monitors.discard(sub)
        await super().unsubscribe(queue, sub)

    def _rights(self, authorization: dict) -> AccessRights:
        host = str(authorization.get("host", ""))
        user = str(authorization.get("user", ""))
        if self._access is not None:
            return self._access(self.name, self.channel, host, user)
        return self.channel.check_access(host, user)

    async def authorize(self, operation: AuthOperation, *, authorization: dict,
                        request=None) -> Any:
        if operation is AuthOperation.call:
            raise NotImplementedError("%s does not support RPC" % self.name)
        need = AccessRights.WRITE if operation is AuthOperation.write else AccessRights.READ
        if need not in self._rights(authorization):
            raise AuthenticationError("%s: no %s access" % (self.name, need.name.lower()))
        return self.data

    async def read(self, request) -> Any:
        if self.channel.has_read_hook:      # a getter: its write posts the new value
            await self.channel.read(self.channel.data_type)
        if not self._monitors:
            self._refresh()
        return self.data

    async def write(self, update) -> None:
        await self.channel.write(value_from_put(self.channel, update.data or {}))

    async def process(self, request) -> None:
        """PROCESS writes the current value again (putter, new time stamp)."""
        await self.channel.write(self.channel.value)


# ------------------------------------------------------------------ pvAccess PVs over CA
class _WrapperListener:
    """Subscribed to a pvAccess data wrapper like a monitor: stores its posts
    in the mirroring channel data."""

    def __init__(self, channel: "ChannelData"):
        self.channel = channel

    def post(self, snap: Dict[str, Any], changed: BitSet) -> None:
        self.channel._mirror(snap)


class _PvaMirror:
    """Mixed into a ChannelData class: the CA face of a pvAccess data wrapper."""

    def __init__(self, wrapper: DataWrapperBase, **kwargs):
        self.pva_wrapper = wrapper
        self._mirroring = False
        self.pvname = wrapper.name
        super().__init__(**kwargs)
        self.listener = _WrapperListener(self)

    @property
    def has_read_hook(self) -> bool:
        """True if the pvaproperty has a getter (run before each CA read)."""
        hooks = getattr(getattr(self.pva_wrapper, "prop", None), "hooks", None)
        return getattr(hooks, "get", None) is not None

    async def read(self, data_type):
        if self.has_read_hook:          # its changes come back through the listener
            await self.pva_wrapper.read(parse_pvrequest(""))
        return await super().read(data_type)

    def check_access(self, hostname, username):
        if getattr(getattr(self.pva_wrapper, "prop", None), "read_only", False):
            return AccessRights.READ
        return AccessRights.READ | AccessRights.WRITE

    async def auth_write(self, hostname, username, data, data_type, metadata, *, flags=0,
                         user_address=None):
        authorization = {"method": "ca", "user": username, "host": hostname,
                         "peer": user_address}
        try:
            await self.pva_wrapper.authorize(AuthOperation.write,
                                             authorization=authorization)
        except AuthenticationError as ex:
            raise Forbidden(str(ex)) from None
        return await super().auth_write(hostname, username, data, data_type, metadata,
                                        flags=flags, user_address=user_address)

    async def write(self, value, *, flags=0, verify_value=True, update_fields=True,
                    **metadata):
        if self._mirroring:
            return await super().write(value, flags=flags, verify_value=False,
                                       update_fields=False, **metadata)
        # a write from CA (or the program): the pvAccess PV decides, its post
        # comes back through the listener
        desc = self.pva_wrapper.structure
        if isinstance(self, ChannelEnum):
            if isinstance(value, str):
                value = self.enum_strings.index(value)
            changes: Dict[str, Any] = {"value": {"index": int(value)}}
            bits = BitSet({desc.bit_of["value.index"]})
        else:
            changes = {"value": pva_value(desc, value)}
            bits = BitSet({desc.bit_of["value"]})
        await self.pva_wrapper.write(DataWithBitSet(changes, bits))

    def _mirror(self, snap: Dict[str, Any]) -> None:
        """Store a post of the pvAccess PV and publish it over CA."""
        state = ca_state(self.pva_wrapper.structure, snap)
        value = state.pop("value", self.value)
        if self.max_length > 1 and len(value) > self.max_length:
            value = value[:self.max_length]     # as a CA client of a waveform sees NELM
        state = {k: v for k, v in state.items()
                 if k in ("timestamp", "status", "severity") or k in self._data}
        self._mirroring = True
        try:
            _finish(self.write(value, **state))
        finally:
            self._mirroring = False


def _finish(coro) -> None:
    """Run a coroutine of channel data that awaits nothing (see caffi.protocol's
    ChannelData: its coroutines end at their first step without hooks)."""
    try:
        coro.send(None)
    except StopIteration:
        return
    coro.close()
    raise RuntimeError("a mirrored write awaited something")


_MIRROR_CLASSES: Dict[type, type] = {}


def _mirror_class(base: type) -> type:
    cls = _MIRROR_CLASSES.get(base)
    if cls is None:
        cls = _MIRROR_CLASSES[base] = type("Pva" + base.__name__, (_PvaMirror, base),
                                          {"__module__": __name__})
    return cls


def pva_channel(wrapper: DataWrapperBase, *,
                max_length: int = DEFAULT_ARRAY_LENGTH) -> Optional[ChannelData]:
    """The CA face of a pvAccess PV with an NTScalar, an NTScalarArray or an
    NTEnum, None for any other structure (see
    :func:`~caffi.server.pvdata.channel_spec` for the DBR types).  It
    follows the PV once ``await wrapper.subscribe(None, channel.listener)``
    has run (done by :func:`serve`).

    An array's CA element count (its NELM) is the larger of ``max_length``
    and the length of the array now; longer arrays posted later are seen
    truncated over CA."""
    desc = wrapper.structure
    spec = channel_spec(desc)
    if spec is None:
        return None
    base, kwargs = spec
    state = ca_state(desc, _nt_snapshot(wrapper))
    if desc.children["value"].is_array:
        kwargs["max_length"] = max(int(max_length), len(state.get("value", ())), 1)
    status = state.pop("status", AlarmStatus.NO_ALARM)
    severity = state.pop("severity", AlarmSeverity.NO_ALARM)
    kwargs.update(state)
    cls = _mirror_class(base)
    accepted = _accepted_keywords(base)
    kwargs = {k: v for k, v in kwargs.items() if k in accepted}
    return cls(wrapper, alarm=ChannelAlarm(status=status, severity=severity), **kwargs)


def _nt_snapshot(wrapper: DataWrapperBase) -> Dict[str, Any]:
    from pva.server.common import snapshot
    return snapshot(wrapper.structure, wrapper.data)


def _accepted_keywords(base: type) -> frozenset:
    import inspect
    names = set()
    for klass in base.__mro__:
        init = klass.__dict__.get("__init__")
        if init is not None:
            names.update(p for p in inspect.signature(init).parameters if p != "self")
    return frozenset(names)


# ------------------------------------------------------------------ the servers
def split_pvdb(pvdb: Dict[str, Any], protocols: Iterable[str] = ("ca", "pva"), *,
               access=None, array_length: int = DEFAULT_ARRAY_LENGTH
               ) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """``(CA pvdb, pvAccess pvdb)`` serving ``pvdb`` over ``protocols``.

    ``pvdb`` maps names to ChannelData (a ``PVGroup``'s ``pvdb``) and/or to
    pvAccess data (a ``PVAGroup``'s ``pvdb``, wrappers or pva dataclass
    instances).  Each is served over both protocols, but a pvAccess PV over
    CA only if it is an NTScalar, an NTScalarArray or an NTEnum (others are
    logged and served over pvAccess alone); ``array_length`` is the least
    CA element count of its arrays (see :func:`pva_channel`).
    """
    protocols = tuple(protocols)
    ca: Dict[str, Any] = {}
    pv: Dict[str, Any] = {}
    plain = {name: data for name, data in pvdb.items() if isinstance(data, ChannelData)}
    foreign = wrap_pvdb({name: data for name, data in pvdb.items() if name not in plain})
    for name, data in plain.items():
        if "ca" in protocols:
            ca[name] = data
        if "pva" in protocols:
            pv[name] = ChannelDataWrapper(name, data, access=access)
    for name, wrapper in foreign.items():
        if "pva" in protocols:
            pv[name] = wrapper
        if "ca" in protocols:
            channel = pva_channel(wrapper, max_length=array_length)
            if channel is None:
                log.warning("%s (%s) is not served over CA: only NTScalar, NTScalarArray "
                            "and NTEnum are", name, wrapper.structure.type_id or "structure")
            else:
                ca[name] = channel
    return ca, pv


async def serve(pvdb: Dict[str, Any], *, protocols=("ca", "pva"), interfaces=None,
                log_pv_names: bool = False, startup_hook=None, access=None, pva_conf=None,
                array_length: int = DEFAULT_ARRAY_LENGTH, **kwargs) -> None:
    """Serve ``pvdb`` over ``protocols`` until cancelled (see :func:`split_pvdb`).

    ``interfaces`` (default: each protocol's own ``*_INTF_ADDR_LIST``) apply
    to both; ``pva_conf`` holds ``EPICS_PVA*`` settings overriding the
    environment; ``array_length`` is passed to :func:`split_pvdb`; other
    keywords go to the CA server's :class:`~caffi.server.Context`.
    """
    from .aio import Context
    from .pvfields import FieldDatabase
    ca_db, pva_db = split_pvdb(pvdb, protocols, access=access, array_length=array_length)
    fields = FieldDatabase(pvdb, pva_db, access=access)
    runs = []
    for channel in ca_db.values():
        if isinstance(channel, _PvaMirror):
            await channel.pva_wrapper.subscribe(None, channel.listener)
    if "ca" in protocols:
        ca_ctx = Context(ca_db, interfaces, access=access, **kwargs)
        runs.append(ca_ctx.run(log_pv_names=log_pv_names, startup_hook=startup_hook))
        startup_hook = None
    if "pva" in protocols:
        if "ca" not in protocols:
            for wrapper in pva_db.values():
                if isinstance(wrapper, ChannelDataWrapper):
                    _run_channel_hooks(wrapper)
        pva_ctx = PvaContext(pva_db, interfaces=interfaces, conf=pva_conf)
        await pva_ctx.start()
        # names it does not hold are looked up as record fields
        pva_ctx.core.pvdb = fields
        runs.append(pva_ctx.run(log_pv_names=log_pv_names, startup_hook=startup_hook))
    try:
        await asyncio.gather(*runs)
    finally:
        fields.close()
        for wrapper in pva_db.values():
            if isinstance(wrapper, ChannelDataWrapper):
                wrapper.close()


def _run_channel_hooks(wrapper: ChannelDataWrapper) -> None:
    """Without the CA server, the pvAccess one runs the channel's startup,
    scan and shutdown hooks."""
    channel = wrapper.channel

    async def startup(async_lib):
        jobs = []
        if getattr(channel, "startup", None) is not None:
            jobs.append(channel.server_startup(async_lib))
        if getattr(channel, "scan", None) is not None:
            jobs.append(channel.server_scan(async_lib))
        await asyncio.gather(*jobs)

    async def shutdown(async_lib):
        if getattr(channel, "shutdown", None) is not None:
            await channel.server_shutdown(async_lib)
    wrapper.server_startup = startup
    wrapper.server_shutdown = shutdown

