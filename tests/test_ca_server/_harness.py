"""A socket-free client/server pair: our server core on pva.io's fake reactor,
a caffi.protocol client circuit on the other side (h11's ConnectionPair idea)."""
from pva.io.testing import FakeReactor, FakeTransport

import caffi.protocol as ca
from caffi.server.core import ServerCore


class Transport(FakeTransport):
    """A fake transport whose write buffer can be made to look full
    (``backlog``: the bytes a client that stopped reading leaves in it)."""
    backlog = 0

    def get_write_buffer_size(self) -> int:
        return self.backlog


class Pair:
    def __init__(self, pvdb, *, peer=("127.0.0.1", 40000), **core_kwargs):
        self.reactor = FakeReactor()
        self.core = ServerCore(pvdb, self.reactor, **core_kwargs)
        self.conn = self.core.connection()
        self.transport = Transport(self.reactor, self.conn, peer, ("127.0.0.1", 5064))
        self.conn.connection_made(self.transport)
        self.client = ca.VirtualCircuit(ca.CLIENT, ("127.0.0.1", 5064), 0)
        self.reactor.run()

    @property
    def circuit(self):
        return self.conn.protocol

    def send_bytes(self, data: bytes) -> None:
        self.transport._deliver(data)
        self.reactor.run()

    def send(self, *commands) -> None:
        self.send_bytes(b"".join(bytes(b) for b in self.client.send(*commands)))

    def recv(self):
        data = b"".join(self.transport.written)
        self.transport.written.clear()
        commands, _ = self.client.recv(data)
        for command in commands:
            self.client.process_command(command)
        return list(commands)

    def handshake(self, host="testhost", user="tester"):
        self.send(ca.VersionRequest(priority=0, version=13), ca.HostNameRequest(host),
                  ca.ClientNameRequest(user))
        return self.recv()

    def connect(self, name):
        chan = ca.ClientChannel(name, self.client)
        self.send(chan.create())
        return chan, self.recv()

    def read(self, chan, data_type, count=None):
        self.send(chan.read(data_type=data_type, data_count=count))
        (answer,) = [c for c in self.recv() if type(c).__name__ in
                     ("ReadNotifyResponse", "ErrorResponse")]
        return answer

    def stall(self, stalled=True):
        """The client stops (or resumes) reading: the write buffer fills up."""
        if stalled:
            self.transport.backlog = 1 << 30
            self.conn.pause_writing()
        else:
            self.transport.backlog = 0
            self.conn.resume_writing()
        self.reactor.run()

    @property
    def closed(self):
        return self.conn.closing
