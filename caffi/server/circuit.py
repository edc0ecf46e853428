"""One client connection of the CA server (loop-free, on :mod:`pva.io.driver`).

Theory of operation
-------------------
:class:`ServerCircuit` is the protocol object of a
:class:`pva.io.driver.Connection`: the driver frames the byte stream with
:meth:`ServerCircuit.message_length` (the 16-byte header, or 24 bytes when
the extended size follows) and hands complete messages over, in order.
The generic path decodes each (:func:`caffi.protocol.read_from_bytestream`),
checks it against the protocol with a :class:`caffi.protocol.VirtualCircuit`
in the SERVER role (transition tables, id bookkeeping, budgets) and handles
it; every reply goes through the same circuit before it is written.  A
peer's protocol violation closes the connection with the reason logged; an
exception of a PV's hook becomes an error status sent to that client
(ECA_GETFAIL, ECA_PUTFAIL), never a crashed server.

Fast paths (:mod:`caffi.server._fast`) take the messages that come by the
thousand -- a READ_NOTIFY, a WRITE of one number, a subscription update --
when the tables say that the generic path would accept them without
changing any state, and a CREATE_CHAN of a known PV (a client connecting
many channels) through the protocol circuit's one-step
:meth:`~caffi.protocol.VirtualCircuit.accept_channel`; their guards are
derived from those tables, and their bytes are tested against the generic
path's.  Messages are answered in the
order received: :meth:`frames_received` handles every message of a read,
fast or not, itself; what the circuit sends meanwhile is gathered and given
to the driver in one piece.

Hooks that have to wait (an async getter or putter that awaits something)
run as detached tasks: reads and writes with notification are answered
when they finish, by ioid, while the circuit goes on with the next
requests (as rsrv does with asynchronous records).  At most
``pending_per_circuit`` of them may be outstanding.

Subscriptions and their updates: :mod:`caffi.server.subscription`
(:class:`~caffi.server.subscription.SubscriptionHandling`, a base class of
:class:`ServerCircuit`).
"""
import logging
import struct
from typing import Dict, Optional

from ..protocol import (CLIENT, SERVER, AccessRights, CaprotoConversionError, CAStatus,
                        ChannelType, ClearChannelResponse, CreateChanResponse, EchoResponse,
                        ErrorResponse, MessageHeader, ReadNotifyResponse,
                        ReadResponse, ReadSyncResponse, RemoteProtocolError, SearchResponse,
                        VersionResponse, VirtualCircuit, WriteNotifyResponse, dbr_size_n,
                        read_from_bytestream)
from ..protocol._commands import AccessRightsResponse, NotFoundResponse
from ..protocol._data import Forbidden
from ..protocol._dbr import DBR_LAYOUTS
from . import _fast
from .subscription import Subscription, SubscriptionHandling, _zeros

__all__ = ["ServerCircuit", "Subscription"]

log = logging.getLogger("caffi.server")

_EXT = struct.Struct(">I")
_S = CAStatus
_READ = AccessRights.READ
#: the payload bytes written together with a large message's header
LARGE_HEAD = 0x10000
_WRITE = AccessRights.WRITE
_READ_BIT, _WRITE_BIT = int(_READ), int(_WRITE)
#: (may read, may write) by rights (a table of the four, not a cache)
_ALLOWS = {rights: (bool(rights & _READ), bool(rights & _WRITE))
           for rights in (AccessRights.NO_ACCESS, _READ, _WRITE, _READ | _WRITE)}
#: the largest DBR payload per element count: what a read may ask of a channel
_LARGEST = (max(DBR_LAYOUTS, key=lambda layout: layout.metadata_size).metadata_size,
            max(layout.value_size for layout in DBR_LAYOUTS))


class _Channel:
    """A channel of this circuit: its PV, the rights of this client, and the
    protocol circuit's channel (``vchan``, whose state the fast paths check)."""
    __slots__ = ("cid", "sid", "name", "data", "rights", "subs", "can_read", "can_write",
                 "sync_read", "readable", "max_size", "max_length", "native", "vchan")

    def __init__(self, cid, sid, name, data, rights, vchan, max_length):
        self.cid, self.sid, self.name, self.data, self.vchan = cid, sid, name, data, vchan
        self.subs: Dict[int, "Subscription"] = {}
        #: answered without awaiting a hook (see ChannelData.has_read_hook)
        self.sync_read = not data.has_read_hook
        self.set_rights(rights)
        self.max_length = max_length
        self.max_size = _LARGEST[0] + _LARGEST[1] * max_length
        self.native = int(data.data_type)

    def set_rights(self, rights) -> None:
        self.rights = rights
        allows = _ALLOWS.get(rights)
        if allows is None:
            bits = int(rights)
            allows = bool(bits & _READ_BIT), bool(bits & _WRITE_BIT)
        self.can_read, self.can_write = allows
        self.readable = allows[0] and self.sync_read


class ServerCircuit(SubscriptionHandling):
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
        self._high = 0
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
        #: what is sent while a received batch is handled (None otherwise)
        self._batch: Optional[list] = None
        #: the protocol circuit takes a client's channel request (client_open)
        #: and our answer (open): recomputed after every generic message
        self.client_open = self.open = False
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
        self._fast_read = _fast.reader(self)
        self._fast_write = _fast.writer(self)
        self._fast_create = _fast.creator(self)
        #: subscription updates by the fast path where its guard allows
        #: (False: every update through the generic path, for comparisons)
        self.fast_updates = True

    def __repr__(self):
        return "<ServerCircuit %s user=%r host=%r channels=%d>" % (
            self.conn.peer if self.conn else None, self.user, self.host, len(self.channels))

    # ================================================================ driver contract
    def message_length(self, buf, pos, avail) -> int:
        size = buf[pos + 2] << 8 | buf[pos + 3]
        if size < 0xFFFF and size <= self.max_payload:
            return 16 + size
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
        self._high = conn.high_water
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
        self.client_open, self.open = _fast.circuit_open(self.vc)
        timeout = core.limits.idle_circuit_timeout
        if timeout and timeout > 0:
            self._idle_timer = core.reactor.call_later(timeout, self._idle_check)

    def frames_received(self, frames):
        """Handle the messages of one read, in order; what they answer is
        written together (nothing is left for :meth:`dispatch`)."""
        batch = self._batch = []
        conn = self.conn
        fast_read, fast_write, fast_create = (self._fast_read, self._fast_write,
                                              self._fast_create)
        generic = self._generic
        try:
            for frame in frames:
                if frame[0] == 0:
                    command = frame[1]
                    if command == 15:
                        if fast_read(frame):
                            continue
                    elif command == 4:
                        if fast_write(frame):
                            continue
                    elif command == 18:
                        if fast_create(frame):
                            continue
                generic(frame)
                if conn.closing:
                    break
        finally:
            self._batch = None
            if batch:
                conn.send(batch)
        return ()

    def dispatch(self, frame) -> None:
        """One message (the driver's interface; :meth:`frames_received`
        handles every message itself, so this is not called by it)."""
        if self.conn is None or self.conn.closing:
            return None
        if frame[0] == 0:
            command = frame[1]
            if (command == 15 and self._fast_read(frame)) or (
                    command == 4 and self._fast_write(frame)) or (
                    command == 18 and self._fast_create(frame)):
                return None
        self._generic(frame)
        return None

    def _generic(self, frame) -> None:
        """The generic path of one message: decode, check, handle."""
        try:
            cmd, _ = read_from_bytestream(frame, CLIENT, self.max_payload, 0)
            self.vc.process_command(cmd)
        except RemoteProtocolError as ex:
            self.client_open = self.open = False
            self.core.refuse(self.conn.peer, "protocol violation: %s" % ex)
            self._close("protocol violation: %s" % ex)
            return
        try:
            self._handlers[type(cmd).__name__](cmd)
        except Exception as ex:     # a bug here closes this connection only
            log.exception("%r: handling %r failed", self, cmd)
            self._close("internal error: %s" % ex)
        finally:
            self.client_open, self.open = _fast.circuit_open(self.vc)

    def _close(self, reason: str) -> None:
        """Close after what was answered so far (the batch being gathered)."""
        batch = self._batch
        if batch:
            self.conn.send(list(batch))
            batch.clear()
        self.conn.close(reason)

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
    def _put(self, buffers) -> None:
        """Queue ``buffers`` for the client (in the batch being answered, if any)."""
        batch = self._batch
        if batch is not None:
            batch.extend(buffers)
        else:
            self.conn.send(buffers)

    def put_large(self, buffers) -> None:
        """Write a large message now, after what is queued: the transport sends
        straight from its buffers (the cached payload) what the socket takes,
        where a queued write would first be joined with the rest (a copy of
        the whole array before its first byte goes out).  The header goes
        out joined with the payload's first ``LARGE_HEAD`` bytes (a small
        copy, metadata included): a header alone in its own segment had cost the client a
        wake-up and the transfer about a tenth of its rate."""
        conn = self.conn
        if conn.closing:
            return
        batch = self._batch
        if batch:
            conn.send(list(batch))
            batch.clear()
        conn.flush()
        transport = conn.transport
        try:
            head, rest, room = [buffers[0]], [], LARGE_HEAD
            for b in buffers[1:]:
                view = memoryview(b).cast("B")
                if room > 0:
                    head.append(view[:room])
                    if len(view) > room:
                        rest.append(view[room:])
                    room -= len(view)
                else:
                    rest.append(view)
            transport.write(b"".join(head))
            for b in rest:
                transport.write(b)
        except Exception as ex:     # as the driver's own writes: this connection only
            log.warning("%r: write failed: %s", self, ex)
            conn.close("write failed: %s" % ex)

    def _send(self, *commands) -> None:
        if self.conn.closing:
            return
        for command in commands:
            self.vc._process(SERVER, command)
            self._put(command.buffers)

    def _idle_check(self) -> None:
        self._idle_timer = None
        if not self.channels and self.conn is not None and not self.conn.closing:
            self.core.refuse(self.conn.peer, "no channel created within %g s: closed"
                             % self.core.limits.idle_circuit_timeout)
            self.conn.close("idle")

    def _error(self, header, cid, status, text) -> None:
        self._send(ErrorResponse(header, cid, status, text))

    def _forget(self, chan: _Channel) -> None:
        for sub in list(chan.subs.values()):
            self._drop_subscription(sub)
        self.channels.pop(chan.sid, None)
        self.core.n_channels -= 1

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
                chan.set_rights(rights)
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
        data = self.creatable(cmd.name)
        if data is None:
            self._send(vchan.create_fail())
            return
        sid = self.new_sid()
        rights = core.rights(cmd.name, data, self.host, self.user)
        self.opened(cmd.cid, sid, cmd.name, data, rights, vchan)
        self._send(AccessRightsResponse(cmd.cid, rights),
                   CreateChanResponse(data.data_type, data.max_length, cmd.cid, sid))

    def creatable(self, name):
        """The PV a new channel ``name`` gets, or None (not found, or past the
        server's channel budget: refused and logged)."""
        core = self.core
        data = core.find(name)
        if data is not None and core.n_channels >= core.limits.channels_total:
            core.refuse(self.conn.peer, "server-wide channel budget (%d) exhausted"
                        % core.limits.channels_total)
            return None
        return data

    def new_sid(self) -> int:
        self._sids = sid = (self._sids + 1) & 0xFFFFFFFF
        while sid in self.channels or sid in self.vc.channels_sid:
            self._sids = sid = (sid + 1) & 0xFFFFFFFF
        return sid

    def opened(self, cid, sid, name, data, rights, vchan) -> None:
        """A channel was created (the answers are sent by the caller)."""
        self.channels[sid] = _Channel(cid, sid, name, data, rights, vchan, data.max_length)
        self.core.n_channels += 1
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None

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
        if not chan.rights & _READ:
            return self._read_failed(cmd, chan, notify, _S.ECA_NORDACCESS, "no read access")
        if not chan.sync_read:
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
            self._error(cmd.header, chan.cid, status, text)

    # ---------------------------------------------------------------- writes
    def _write(self, cmd) -> None:
        chan = self.channels[cmd.sid]
        notify = type(cmd).__name__ == "WriteNotifyRequest"
        if not chan.rights & _WRITE:
            return self._write_done(cmd.header, chan, notify, _S.ECA_NOWTACCESS,
                                    "no write access")
        self.core.detach(self._write_async(chan, cmd.data, cmd.data_type, cmd.metadata,
                                          cmd.header, notify))

    async def _write_async(self, chan, data, data_type, metadata, header, notify):
        """Store a client's write; answer it (``header``: the request's)."""
        try:
            await chan.data.write_from_dbr(data, data_type, metadata)
        except Forbidden as ex:
            self._write_done(header, chan, notify, _S.ECA_NOWTACCESS, str(ex))
        except Exception as ex:
            log.info("put to %s failed: %s: %s", chan.name, type(ex).__name__, ex)
            self._write_done(header, chan, notify, _S.ECA_PUTFAIL,
                             "%s: %s" % (type(ex).__name__, ex))
        else:
            if notify:      # a WRITE that succeeded is not answered
                self._write_done(header, chan, notify, _S.ECA_NORMAL, "")

    def _write_done(self, header, chan, notify, status, text) -> None:
        """Answer a write; ``header``: the request's header fields (a tuple)."""
        if self.conn.closing or chan.sid not in self.channels:
            return
        if notify:
            if self._dirty:
                # the updates this write caused go first: a client that reads
                # its monitor's value once the put completed sees the new one
                self._flush()
            self._send(WriteNotifyResponse(header[2], header[3], status, header[5]))
        elif status is not _S.ECA_NORMAL:
            self._error(MessageHeader(*header), chan.cid, status, text)


def _ignore(cmd) -> None:
    """Nothing to do (the VersionRequest's priority is in the circuit)."""
