"""Sans-I/O UDP side of pvAccess: search requests and responses, beacons.

Theory of operation
-------------------
UDP carries whole messages, one or more per datagram (a forwarded search is
an ORIGIN_TAG followed by the SEARCH), never segmented and never control
messages (pvxs drops such datagrams; here they raise
:class:`~pva.DecodeError`).  Every header says its own byte order; pvxs
sends all UDP big endian, so :meth:`Broadcaster.send` defaults to ``'>'``.

A :class:`Broadcaster` in the client role numbers its searches: each
:meth:`~Broadcaster.search` takes a new sequence id and gives every name a
search instance id, and remembers ``sequence id -> {instance id: name}``
until answered names are :meth:`~Broadcaster.forget`-ten (a name may be
answered by several servers, and pvxs even answers one unicast search
twice, so answered searches are kept).  :meth:`~Broadcaster.process_command`
matches a response against that table and returns the names it resolves;
a response to a search never sent, or naming ids that search did not
contain, is a :class:`~pva.RemoteProtocolError` (the caller drops the
datagram; UDP has no connection to fail, so there is no ERROR state).

In the server role, :meth:`~Broadcaster.search_response` builds the answer
to a received request and :meth:`~Broadcaster.beacon` numbers beacons.
"""
from __future__ import annotations

import collections
import itertools
import os
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

from ._errors import DecodeError, LocalProtocolError, RemoteProtocolError
from ._framing import Deframer
from ._header import ControlMessage, Direction, normalize_byte_order
from ._messages import (Beacon, Message, MessageContext, OriginTag, SearchFlags,
                        SearchRequest, SearchResponse, decode_message, encode_message)
from ._values import FieldDescAndData
from ._wire import DEFAULT_LIMITS, Limits

__all__ = ["Broadcaster", "MAX_UDP_PAYLOAD"]

#: a datagram larger than this is refused before decoding
MAX_UDP_PAYLOAD = 0xFFFF
#: searches remembered (oldest forgotten first)
MAX_PENDING_SEARCHES = 4096


class Broadcaster:
    """Encode/decode search and beacon datagrams, and track our searches.

    Parameters
    ----------
    our_role : Direction or str
        ``CLIENT`` (sends searches, receives responses and beacons) or
        ``SERVER`` (receives searches, sends responses and beacons).
    guid : bytes, optional
        A server's 12-byte GUID (random if omitted).
    server_address : tuple, optional
        ``(host, tcp port)`` a server announces in responses and beacons.
    limits : Limits
        Decoding limits.
    """

    def __init__(self, our_role: Union[Direction, str], *, guid: Optional[bytes] = None,
                 server_address: Tuple[str, int] = ("0.0.0.0", 5075),
                 limits: Limits = DEFAULT_LIMITS):
        if isinstance(our_role, str):
            our_role = Direction[our_role.upper()]
        self.our_role = Direction(our_role)
        self.guid = os.urandom(12) if guid is None else bytes(guid)
        self.server_address = server_address
        self._ctx = MessageContext(limits=limits)
        self._seq = itertools.count(1)
        self._ids = itertools.count(1)
        self._beacon_seq = 0
        self.change_count = 0
        #: sequence id -> {search instance id: channel name}
        self.pending: "collections.OrderedDict[int, Dict[int, str]]" = collections.OrderedDict()
        #: search instance id -> channel name, for every pending search
        self._names: Dict[int, str] = {}

    # ------------------------------------------------------------- decoding
    def recv(self, data: bytes, address: Optional[Tuple[str, int]] = None) -> List[Message]:
        """All messages of one datagram.

        Raises
        ------
        DecodeError
            Truncated or malformed datagram, control or segmented messages.
        """
        if len(data) > MAX_UDP_PAYLOAD:
            raise DecodeError(f"datagram of {len(data)} bytes exceeds {MAX_UDP_PAYLOAD}")
        d = Deframer(max_message_size=MAX_UDP_PAYLOAD)
        items = d.feed(data)
        d.close()
        cache = self._ctx.cache
        if cache.received:
            # type-cache ids defined in a datagram mean nothing in the next
            # one (from any other sender): they are not kept
            cache.clear()
        out: List[Message] = []
        for it in items:
            if isinstance(it, ControlMessage) or it.flags & 0x30:
                raise DecodeError("control or segmented message in a datagram")
            out.append(decode_message(it.command, it.direction, it.payload, it.byte_order,
                                      self._ctx))
        return out

    def process_command(self, message: Message,
                        address: Optional[Tuple[str, int]] = None) -> List[Tuple[str, Tuple[str, int]]]:
        """Validate a received message.

        Returns
        -------
        list of (name, (host, port))
            For a client's search response: the names it resolves (empty
            when ``found`` is false).  Empty for anything else.
        """
        if self.our_role is Direction.CLIENT:
            if isinstance(message, SearchResponse):
                names = self.pending.get(message.sequence_id)
                ids = message.search_instance_ids
                if names is None or any(i not in names for i in ids):
                    # Interop: caproto 0.8's server answers with sequence id
                    # 0; pvxs resolves a response by its instance ids alone.
                    names = self._names
                    unknown = [i for i in ids if i not in names]
                    if unknown:
                        raise RemoteProtocolError(
                            f"search response (sequence id {message.sequence_id}) names "
                            f"ids {unknown} of no pending search")
                if not message.found:
                    return []
                host = message.server_address
                if host in ("0.0.0.0", "::") and address is not None:
                    host = address[0]  # "any": the datagram's source
                return [(names[i], (host, message.server_port))
                        for i in message.search_instance_ids]
            if isinstance(message, Beacon):
                return []
        else:
            if isinstance(message, (SearchRequest, OriginTag, Beacon)):
                return []
        raise RemoteProtocolError(f"{type(message).__name__} is not for a "
                                  f"{self.our_role.name.lower()} broadcaster")

    # ------------------------------------------------------------- encoding
    def send(self, *messages: Message, byte_order: str = ">") -> List[bytes]:
        """Buffers of one datagram holding ``messages``."""
        bo = normalize_byte_order(byte_order)
        out: List[bytes] = []
        for msg in messages:
            if not isinstance(msg, (SearchRequest, SearchResponse, Beacon, OriginTag)):
                raise LocalProtocolError(f"{type(msg).__name__} is not a UDP message")
            ours = {Direction.CLIENT: (SearchRequest, OriginTag),
                    Direction.SERVER: (SearchResponse, Beacon, OriginTag)}[self.our_role]
            if not isinstance(msg, ours):
                raise LocalProtocolError(f"a {self.our_role.name.lower()} does not send "
                                         f"{type(msg).__name__}")
            out.extend(bytes(b) for b in encode_message(msg, bo, self._ctx))
        if sum(len(b) for b in out) > MAX_UDP_PAYLOAD:
            raise LocalProtocolError("messages do not fit one datagram")
        return out

    # ------------------------------------------------------------- builders
    def search(self, names: Iterable[str], *, reply_address: Tuple[str, int] = ("0.0.0.0", 0),
               unicast: bool = False, reply_required: bool = False,
               sequence_id: Optional[int] = None) -> SearchRequest:
        """A search request for ``names`` (client role); remembered as pending."""
        if self.our_role is not Direction.CLIENT:
            raise LocalProtocolError("only clients search")
        names = list(names)
        if len(names) > 0xFFFF:
            raise LocalProtocolError("at most 65535 names per search")
        seq = next(self._seq) & 0xFFFFFFFF if sequence_id is None else sequence_id
        chans = [(next(self._ids) & 0xFFFFFFFF, n) for n in names]
        flags = (SearchFlags.UNICAST if unicast else 0) | (
            SearchFlags.REPLY_REQUIRED if reply_required else 0)
        self.forget(seq)
        self.pending[seq] = dict(chans)
        self._names.update(chans)
        while len(self.pending) > MAX_PENDING_SEARCHES:
            self.forget(next(iter(self.pending)))
        return SearchRequest(seq, reply_address, chans, flags=flags)

    def forget(self, sequence_id: int) -> None:
        """Stop accepting responses to a search."""
        names = self.pending.pop(sequence_id, None)
        if names:
            for i in names:
                self._names.pop(i, None)

    def search_response(self, request: SearchRequest, found_ids: Sequence[int], *,
                        found: bool = True) -> SearchResponse:
        """The server's answer to ``request`` for the instance ids it has."""
        if self.our_role is not Direction.SERVER:
            raise LocalProtocolError("only servers answer searches")
        known = {c.id for c in request.channels}
        bad = [i for i in found_ids if i not in known]
        if bad:
            raise LocalProtocolError(f"ids {bad} are not in the search request")
        return SearchResponse(self.guid, request.sequence_id, self.server_address,
                              list(found_ids), found=found)

    def beacon(self, server_status: Optional[FieldDescAndData] = None) -> Beacon:
        """The next beacon (server role); the sequence id wraps at 256."""
        if self.our_role is not Direction.SERVER:
            raise LocalProtocolError("only servers send beacons")
        seq = self._beacon_seq
        self._beacon_seq = (seq + 1) & 0xFF
        return Beacon(self.guid, seq, self.server_address, change_count=self.change_count,
                      server_status=server_status)
