"""The I/O layer: sockets, event loop, clocks -- protocol-neutral.

Everything that touches the operating system or an event loop lives here,
so that the protocol cores (the ``pva._*`` modules, ``pva.client``'s and
``pva.server``'s circuits, and the Channel Access circuit of
``caffi.protocol``) stay sans-I/O: they receive bytes and a clock, and
return bytes.

Modules:

- :mod:`pva.io.driver` -- :class:`~pva.io.driver.Connection`, the one
  connection driver of every stream protocol (pvAccess client and server,
  the Channel Access server): receive buffer, dispatch loop, write
  batching, flow control, keep-alive, teardown.  The protocol object
  supplies framing, decoding and dispatch (the contract is in the module
  doc).  Loop-free: it runs on any :class:`~pva.io.driver.Reactor`.
- :mod:`pva.io.budget` -- memory accounting of connections: the hooks the
  driver calls (:class:`~pva.io.budget.Accounting`) and the byte budgets of
  a server or a client (:class:`~pva.io.budget.MemoryBudget`).
- :mod:`pva.io.aio` -- the asyncio adapter: :class:`~pva.io.aio.AsyncioReactor`
  (clock, timers, eager coroutines, TCP connect and listen) and the
  ``asyncio.BufferedProtocol`` face of a connection.
- :mod:`pva.io.testing` -- a fake reactor with a manual clock and in-memory
  transports, for deterministic protocol-timing tests.
- :mod:`pva.io.udp` -- UDP listeners: one port shared by the servers and
  clients of a host (destination addresses, local forwarding group), and
  the reader of a client's search socket.
- :mod:`pva.io.netif` -- the host's IPv4 interfaces and broadcast addresses.
- :mod:`pva.io.host` -- the user and host name a client identifies with.

What it may import: the standard library, numpy (receive buffers of large
messages) and :mod:`pva._stream` (the protocol-neutral splitting of a byte
stream into messages, pure Python).  Never a protocol module (``pva._header``,
``pva._messages``, ``pva.client``, ``pva.server``, ``caffi``): a protocol
plugs in through the contracts documented in :mod:`pva.io.driver` and
:mod:`pva.io.udp`.
"""
