"""One client connection of the CA server (loop-free, on :mod:`pva.io.driver`).

Theory of operation
-------------------
:class:`ServerCircuit` is the protocol object of a
:class:`pva.io.driver.Connection`: the driver frames the byte stream with
:meth:`ServerCircuit.message_length` (the 16-byte header, or 24 bytes when
the extended size follows) and hands complete messages over; each is
decoded (:func:`caffi.protocol.read_from_bytestream`), checked against the
protocol by a :class:`caffi.protocol.VirtualCircuit` in the SERVER role
(transition tables, id bookkeeping, budgets), then handled here, in order.
A peer's protocol violation closes the connection with the reason logged;
an exception of a PV's hook becomes an error status sent to that client
(ECA_GETFAIL, ECA_PUTFAIL), never a crashed server.

Hooks that have to wait (an async getter or putter that awaits something)
run as detached tasks: reads and writes with notification are answered
when they finish, by ioid, while the circuit goes on with the next
requests (as rsrv does with asynchronous records).  At most
``pending_per_circuit`` of them may be outstanding.

Subscriptions: each has a queue bounded by its PV's
``max_subscription_backlog``; a post to a full queue replaces the newest
queued update, so the latest value is always delivered, as rsrv does.
Queues are written out at the end of the event-loop iteration, and only
while the transport takes data (TCP back-pressure holds them, where they
coalesce); EVENTS_OFF holds them too, until EVENTS_ON.
"""
import logging
import struct
from collections import deque
from typing import Any, Dict, Optional

from ..protocol import (CLIENT, SERVER, AccessRights, CaprotoConversionError, CAStatus,
                        ChannelType, ClearChannelResponse, CreateChanResponse,
                        CreateChFailResponse, EchoResponse, ErrorResponse, EventAddResponse,
                        EventCancelResponse, ReadNotifyResponse, ReadResponse,
                        ReadSyncResponse, RemoteProtocolError, SearchResponse,
                        ServerDisconnResponse, VersionResponse, VirtualCircuit,
                        WriteNotifyResponse, dbr_size_n, read_from_bytestream)
from ..protocol._commands import AccessRightsResponse, NotFoundResponse
from ..protocol._data import Forbidden

__all__ = ["ServerCircuit", "Subscription"]

log = logging.getLogger("caffi.server")

_SIZE = struct.Struct(">H")
_EXT = struct.Struct(">I")
_S = CAStatus


class _Channel:
    """A channel of this circuit: its PV and the rights of this client."""
    __slots__ = ("cid", "sid", "name", "data", "rights", "subs")

    def __init__(self, cid, sid, name, data, rights):
        self.cid, self.sid, self.name, self.data, self.rights = cid, sid, name, data, rights
        self.subs: Dict[int, "Subscription"] = {}


class Subscription:
    """One EVENT_ADD of a client: what it asked for, and its queue."""
    __slots__ = ("circuit", "chan", "subscriptionid", "data_type", "data_count", "mask",
                 "queue", "backlog", "dropped", "queued_bytes")

    def __init__(self, circuit, chan, subscriptionid, data_type, data_count, mask, backlog):
        self.circuit = circuit
        self.chan = chan
        self.subscriptionid = subscriptionid
        self.data_type = data_type
        self.data_count = data_count or None     # 0: the current length
        self.mask = mask
        self.queue: deque = deque()
        self.backlog = backlog
        self.dropped = 0
        self.queued_bytes = 0

    def post(self, flags, data, metadata) -> None:
        """A new value for the client (called by the ChannelData)."""
        if self.chan.rights & AccessRights.READ:
            self.circuit._enqueue(self, (data, metadata, _S.ECA_NORMAL))

    def post_error(self, ex) -> None:
        self.circuit._enqueue(self, (None, None, _S.ECA_GETFAIL))


class ServerCircuit:
    """The protocol object of one client connection (see the module doc)."""

    header_size = 16

    def __init__(self, core):
        self.core = core
        limits = core.limits
        self.vc = VirtualCircuit(SERVER, None, None, max_array_bytes=core.max_array_bytes,
                                 max_channels=limits.channels_per_circuit,
                                 max_subscriptions=limits.subscriptions_per_circuit,
                                 max_pending=limits.pending_per_circuit)
        self.max_payload = self.vc.max_payload
        #: rsrv refuses to answer more than EPICS_CA_MAX_ARRAY_BYTES
        self.max_answer = self.vc.max_payload
        self.conn = None
        self.host = ""
        self.user = ""
        self.channels: Dict[int, _Channel] = {}     # by sid
        self.subscriptions: Dict[int, Subscription] = {}
        self._sids = 0
        self._dirty: Dict[Subscription, None] = {}
        self._flush_scheduled = False
        self._events_on = True
        self._queued_bytes = 0
        self._idle_timer = None
        self._handlers = {
            "VersionRequest": _ignore, "HostNameRequest": self._host_name,
            "ClientNameRequest": self._client_name, "SearchRequest": self._search,
            "CreateChanRequest": self._create, "ReadNotifyRequest": self._read,
            "ReadRequest": self._read, "WriteRequest": self._write,
            "WriteNotifyRequest": self._write, "EventAddRequest": self._event_add,
            "EventCancelRequest": self._event_cancel, "EventsOffRequest": self._events_off,
            "EventsOnRequest": self._events_on_request, "ReadSyncRequest": self._read_sync,
            "EchoRequest": self._echo, "ClearChannelRequest": self._clear,
        }

    def __repr__(self):
        return "<ServerCircuit %s user=%r host=%r channels=%d>" % (
            self.conn.peer if self.conn else None, self.user, self.host, len(self.channels))

    # ================================================================ driver contract
    def message_length(self, buf, pos, avail) -> int:
        (size,) = _SIZE.unpack_from(buf, pos + 2)
        header = 16
        if size == 0xFFFF:
            if avail < 24:
                return 24
            (size,) = _EXT.unpack_from(buf, pos + 16)
            header = 24
        if size > self.max_payload:
            raise RemoteProtocolError("a message announces %d bytes (EPICS_CA_MAX_ARRAY_BYTES "
                                      "allows %d)" % (size, self.max_payload))
        return header + size

    def connection_made(self, conn) -> None:
        self.conn = conn
        core = self.core
        self.vc.address = conn.peer
        self.host = conn.peer[0]
        if len(core.circuits) >= core.limits.circuits_total:
            core.refuse(conn.peer, "more than %d connections: closed"
                        % core.limits.circuits_total)
            conn.close("too many connections")
            return
        core.circuits.add(self)
        # rsrv greets at once (and so accepts a client that waits for it)
        self._send(VersionResponse(13))
        timeout = core.limits.idle_circuit_timeout
        if timeout and timeout > 0:
            self._idle_timer = core.reactor.call_later(timeout, self._idle_check)

    def frames_received(self, frames):
        out = []
        max_payload = self.max_payload
        for frame in frames:
            cmd, _ = read_from_bytestream(frame, CLIENT, max_payload, 0)
            out.append(cmd)
        return out

    def dispatch(self, cmd) -> Optional[Any]:
        if self.conn is None or self.conn.closing:
            return None
        try:
            self.vc.process_command(cmd)
        except RemoteProtocolError as ex:
            self.core.refuse(self.conn.peer, "protocol violation: %s" % ex)
            self.conn.close("protocol violation: %s" % ex)
            return None
        self._handlers[type(cmd).__name__](cmd)
        return None

    def keepalive(self) -> None:
        """Servers do not send echoes."""

    def connection_lost(self, reason) -> None:
        core = self.core
        core.circuits.discard(self)
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        for chan in list(self.channels.values()):
            self._forget(chan)
        self._dirty.clear()
        if reason and reason.startswith(("malformed", "protocol")):
            core.refuse(self.conn.peer if self.conn else None, "closed: %s" % reason)
        elif reason:
            log.debug("%r closed: %s", self, reason)

    def close(self, reason: str) -> None:
        if self.conn is not None:
            self.conn.close(reason)

    # ================================================================ helpers
    def _send(self, *commands) -> None:
        conn = self.conn
        if conn.closing:
            return
        for command in commands:
            self.vc._process(SERVER, command)
            conn.send(command.buffers)

    def _idle_check(self) -> None:
        self._idle_timer = None
        if not self.channels and self.conn is not None and not self.conn.closing:
            self.core.refuse(self.conn.peer, "no channel created within %g s: closed"
                             % self.core.limits.idle_circuit_timeout)
            self.conn.close("idle")

    def _error(self, cmd, cid, status, text) -> None:
        self._send(ErrorResponse(cmd, cid, status, text))

    def _forget(self, chan: _Channel) -> None:
        for sub in list(chan.subs.values()):
            self._drop_subscription(sub)
        self.channels.pop(chan.sid, None)
        self.core.n_channels -= 1

    def _drop_subscription(self, sub: Subscription) -> None:
        sub.chan.data.remove_subscriber(sub)
        sub.chan.subs.pop(sub.subscriptionid, None)
        self.subscriptions.pop(sub.subscriptionid, None)
        self._dirty.pop(sub, None)
        self._queued_bytes -= sub.queued_bytes
        sub.queue.clear()
        self.core.n_subscriptions -= 1

    def drop_channels(self, match) -> None:
        """Disconnect the channels whose name ``match(name)`` (a PV removed)."""
        for chan in [c for c in self.channels.values() if match(c.name)]:
            self._forget(chan)
            vchan = self.vc.channels.get(chan.cid)
            if vchan is not None and not self.conn.closing:
                self._send(vchan.disconnect())

    # ================================================================ handlers
    def _host_name(self, cmd) -> None:
        self.host = cmd.name
        self._recheck_rights()

    def _client_name(self, cmd) -> None:
        self.user = cmd.name
        self._recheck_rights()

    def _recheck_rights(self) -> None:
        for chan in self.channels.values():
            rights = self.core.rights(chan.name, chan.data, self.host, self.user)
            if rights != chan.rights:
                chan.rights = rights
                self._send(AccessRightsResponse(chan.cid, rights))

    def _search(self, cmd) -> None:
        if self.core.find(cmd.name) is not None:
            # over TCP the address means "this connection"
            self._send(SearchResponse(self.core.tcp_port, "255.255.255.255", cmd.cid, 13))
        elif cmd.reply == 10:
            self._send(NotFoundResponse(13, cmd.cid))

    def _create(self, cmd) -> None:
        core = self.core
        vchan = self.vc.channels[cmd.cid]
        data = core.find(cmd.name)
        reason = None
        if data is None:
            reason = None
        elif core.n_channels >= core.limits.channels_total:
            reason = "server-wide channel budget (%d) exhausted" % core.limits.channels_total
            data = None
        if data is None:
            if reason:
                core.refuse(self.conn.peer, reason)
            self._send(vchan.create_fail())
            return
        self._sids = sid = (self._sids + 1) & 0xFFFFFFFF
        while sid in self.channels or sid in self.vc.channels_sid:
            self._sids = sid = (sid + 1) & 0xFFFFFFFF
        rights = core.rights(cmd.name, data, self.host, self.user)
        chan = _Channel(cmd.cid, sid, cmd.name, data, rights)
        self.channels[sid] = chan
        core.n_channels += 1
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        native_type, values = data.native()
        self._send(AccessRightsResponse(cmd.cid, rights),
                   CreateChanResponse(native_type, data.max_length, cmd.cid, sid))

    def _clear(self, cmd) -> None:
        chan = self.channels.get(cmd.sid)
        if chan is not None:
            self._forget(chan)
        self._send(ClearChannelResponse(cmd.sid, cmd.cid))

    def _echo(self, cmd) -> None:
        self._send(EchoResponse())

    def _read_sync(self, cmd) -> None:
        self._send(ReadSyncResponse())

    # ---------------------------------------------------------------- reads
    def _read(self, cmd) -> None:
        chan = self.channels[cmd.sid]
        notify = type(cmd).__name__ == "ReadNotifyRequest"
        data_type = cmd.data_type
        if not isinstance(data_type, ChannelType) or data_type in (
                ChannelType.PUT_ACKT, ChannelType.PUT_ACKS):
            return self._read_failed(cmd, chan, notify, _S.ECA_BADTYPE, "bad DBR type")
        if not chan.rights & AccessRights.READ:
            return self._read_failed(cmd, chan, notify, _S.ECA_NORDACCESS, "no read access")
        data = chan.data
        if getattr(data, "has_read_hook", False) or type(data).read is not _BASE_READ:
            self.core.detach(self._read_async(cmd, chan, notify))
            return
        self._answer_read(cmd, chan, notify)

    async def _read_async(self, cmd, chan, notify):
        try:
            await chan.data.read(cmd.data_type)
        except Exception as ex:
            log.exception("reading %s failed", chan.name)
            if not self.conn.closing and chan.sid in self.channels:
                self._read_failed(cmd, chan, notify, _S.ECA_GETFAIL, str(ex))
            return
        if not self.conn.closing and chan.sid in self.channels:
            self._answer_read(cmd, chan, notify)

    def _answer_read(self, cmd, chan, notify) -> None:
        count = cmd.data_count or None
        if dbr_size_n(cmd.data_type, count or chan.data.max_length) > self.max_answer:
            return self._read_failed(cmd, chan, notify, _S.ECA_TOLARGE,
                                     "the answer exceeds EPICS_CA_MAX_ARRAY_BYTES")
        try:
            values, metadata = chan.data.read_now(cmd.data_type, count)
        except CaprotoConversionError as ex:
            return self._read_failed(cmd, chan, notify, _S.ECA_GETFAIL, str(ex))
        vchan = self.vc.channels_sid[cmd.sid]
        if notify:
            self._send(ReadNotifyResponse(values, cmd.data_type, count, _S.ECA_NORMAL,
                                          cmd.ioid, metadata=metadata))
        else:
            self._send(ReadResponse(values, cmd.data_type, count, vchan.sid, cmd.ioid,
                                    metadata=metadata))

    def _read_failed(self, cmd, chan, notify, status, text) -> None:
        if notify and status not in (_S.ECA_BADTYPE, _S.ECA_TOLARGE):
            # rsrv answers with the status and a zeroed payload of the asked size
            count = cmd.data_count or chan.data.max_length
            self._send(ReadNotifyResponse(_zeros(cmd.data_type, count), cmd.data_type, count,
                                          status, cmd.ioid))
        else:
            self.vc._ioids.pop(cmd.ioid, None)
            self._error(cmd, chan.cid, status, text)

    # ---------------------------------------------------------------- writes
    def _write(self, cmd) -> None:
        chan = self.channels[cmd.sid]
        notify = type(cmd).__name__ == "WriteNotifyRequest"
        if not chan.rights & AccessRights.WRITE:
            return self._write_done(cmd, chan, notify, _S.ECA_NOWTACCESS, "no write access")
        self.core.detach(self._write_async(cmd, chan, notify))

    async def _write_async(self, cmd, chan, notify):
        data = chan.data
        try:
            await data.write_from_dbr(cmd.data, cmd.data_type, cmd.metadata)
        except Forbidden as ex:
            self._write_done(cmd, chan, notify, _S.ECA_NOWTACCESS, str(ex))
        except Exception as ex:
            log.info("put to %s failed: %s: %s", chan.name, type(ex).__name__, ex)
            self._write_done(cmd, chan, notify, _S.ECA_PUTFAIL,
                             "%s: %s" % (type(ex).__name__, ex))
        else:
            self._write_done(cmd, chan, notify, _S.ECA_NORMAL, "")

    def _write_done(self, cmd, chan, notify, status, text) -> None:
        if self.conn.closing or chan.sid not in self.channels:
            return
        if notify:
            if self._dirty:
                # the updates this write caused go first: a client that reads
                # its monitor's value once the put completed sees the new one
                self._flush()
            self._send(WriteNotifyResponse(cmd.data_type, cmd.data_count, status, cmd.ioid))
        elif status is not _S.ECA_NORMAL:
            self._error(cmd, chan.cid, status, text)

    # ---------------------------------------------------------------- subscriptions
    def _event_add(self, cmd) -> None:
        core = self.core
        chan = self.channels[cmd.sid]
        if not isinstance(cmd.data_type, ChannelType) or cmd.data_type in (
                ChannelType.PUT_ACKT, ChannelType.PUT_ACKS):
            self.vc.event_add_commands.pop(cmd.subscriptionid, None)
            return self._error(cmd, chan.cid, _S.ECA_BADTYPE, "bad DBR type")
        if core.n_subscriptions >= core.limits.subscriptions_total:
            self.vc.event_add_commands.pop(cmd.subscriptionid, None)
            core.refuse(self.conn.peer, "server-wide subscription budget (%d) exhausted"
                        % core.limits.subscriptions_total)
            return self._error(cmd, chan.cid, _S.ECA_ALLOCMEM, "too many subscriptions")
        data = chan.data
        sub = Subscription(self, chan, cmd.subscriptionid, cmd.data_type, cmd.data_count,
                           cmd.mask, getattr(data, "max_subscription_backlog", 100))
        chan.subs[cmd.subscriptionid] = sub
        self.subscriptions[cmd.subscriptionid] = sub
        core.n_subscriptions += 1
        data.add_subscriber(sub)
        # the current value at once, as rsrv sends it
        if chan.rights & AccessRights.READ:
            try:
                values, metadata = data.read_now(sub.data_type, sub.data_count)
            except CaprotoConversionError:
                self._enqueue(sub, (None, None, _S.ECA_GETFAIL))
            else:
                self._enqueue(sub, (values, metadata, _S.ECA_NORMAL))
        else:
            self._enqueue(sub, (None, None, _S.ECA_NORDACCESS))

    def _event_cancel(self, cmd) -> None:
        sub = self.subscriptions.get(cmd.subscriptionid)
        if sub is not None:
            self._drop_subscription(sub)
        vchan = self.vc.channels_sid[cmd.sid]
        self._send(vchan.unsubscribe(cmd.subscriptionid))

    def _events_off(self, cmd) -> None:
        self._events_on = False

    def _events_on_request(self, cmd) -> None:
        self._events_on = True
        self._schedule_flush()

    # ---------------------------------------------------------------- queues
    def _enqueue(self, sub: Subscription, item) -> None:
        q = sub.queue
        size = _item_size(item)
        if q and (len(q) >= sub.backlog
                  or self._queued_bytes + size > self.core.limits.max_queued_bytes):
            old = q[-1]
            q[-1] = item                # the newest replaces the last queued
            delta = size - _item_size(old)
            sub.dropped += 1
        else:
            q.append(item)
            delta = size
        sub.queued_bytes += delta
        self._queued_bytes += delta
        self._dirty[sub] = None
        self._schedule_flush()

    def _schedule_flush(self) -> None:
        if not self._flush_scheduled and self.conn is not None:
            self._flush_scheduled = True
            self.core.reactor.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        conn = self.conn
        if conn.closing or not self._events_on:
            return
        dirty = self._dirty
        high = conn.high_water
        send = conn.send
        process = self.vc._process
        while dirty:
            if conn.write_backlog() > high:
                conn.when_writable(self._schedule_flush)
                break
            sub = next(iter(dirty))
            q = sub.queue
            values, metadata, status = q.popleft()
            if not q:
                del dirty[sub]
            size = _item_size((values, metadata, status))
            sub.queued_bytes -= size
            self._queued_bytes -= size
            if values is None:
                count = sub.data_count or sub.chan.data.max_length
                values, metadata = _zeros(sub.data_type, count), None
            cmd = EventAddResponse(values, sub.data_type, sub.data_count, status,
                                   sub.subscriptionid, metadata=metadata)
            process(SERVER, cmd)
            send(cmd.buffers)
        conn.flush()


def _ignore(cmd) -> None:
    """Nothing to do (the VersionRequest's priority is in the circuit)."""


def _item_size(item) -> int:
    values = item[0]
    if values is None:
        return 64
    nbytes = getattr(values, "nbytes", None)
    return 64 + (nbytes if nbytes is not None else 40 * len(values))


def _zeros(data_type, count):
    from ..protocol._dbr import DBR_LAYOUTS
    layout = DBR_LAYOUTS[int(data_type)]
    if layout.native is ChannelType.STRING:
        return [b""] * count
    import numpy as np
    return np.zeros(count, dtype=layout.value_dtype)


from ..protocol._data import ChannelData as _CD  # noqa: E402
_BASE_READ = _CD.read
