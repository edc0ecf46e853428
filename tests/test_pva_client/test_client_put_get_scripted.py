"""PUT_GET against a scripted server (pvxs and QSRV 1 do not implement PUT_GET).

The peer is a minimal asyncio server built on the sans-I/O
:class:`~pva.ServerVirtualCircuit`: validation, channel creation and PUT_GET
with the put value echoed back (doubled) in the get structure.
"""
from __future__ import annotations

import asyncio

import pytest

from pva import BitSet, Status, nt
from pva._circuit import ServerVirtualCircuit
from pva._messages import (ChannelPutGetRequest, ChannelPutGetResponse,
                           ConnectionValidationResponse, CreateChannelRequest, Echo, EchoReply,
                           SearchRequest, SearchResponse, Subcommand)
from pva._values import DataWithBitSet
from pva.client import Context

pytestmark = pytest.mark.timeout(30)

NTD = nt.NTScalar("d").type


class ScriptedServer(asyncio.Protocol):
    seen: list = []

    def connection_made(self, transport):
        self.t = transport
        self.vc = ServerVirtualCircuit(("127.0.0.1", 0))
        self.value = nt.NTScalar("d").wrap(1.0)
        self._send(self.vc.set_byte_order("<"), self.vc.validate_connection())

    def _send(self, *msgs):
        self.t.write(b"".join(self.vc.send(*msgs)))

    def data_received(self, data):
        for msg in self.vc.recv(data):
            self.vc.process_command(msg)
            self.seen.append(type(msg).__name__)
            if isinstance(msg, ConnectionValidationResponse):
                self._send(self.vc.validated_connection())
            elif isinstance(msg, CreateChannelRequest):
                for cid, _ in msg.channels:
                    self._send(self.vc.channel_by_cid(cid).create())
            elif isinstance(msg, SearchRequest):   # we are a name server too
                ids = [c.id for c in msg.channels if c.channel_name == "pg:d"]
                if ids:
                    port = self.t.get_extra_info("sockname")[1]
                    self._send(SearchResponse(b"scripted-srv", msg.sequence_id,
                                              ("0.0.0.0", port), ids, found=True))
            elif isinstance(msg, Echo):
                self._send(EchoReply(msg.payload))
            elif isinstance(msg, ChannelPutGetRequest):
                if msg.subcommand & Subcommand.INIT:
                    self._send(ChannelPutGetResponse(msg.ioid, Status(), Subcommand.INIT, NTD, NTD))
                else:
                    self.value["value"] = 2 * msg.put_data.data["value"]
                    self._send(ChannelPutGetResponse(
                        msg.ioid, Status(), msg.subcommand, get_structure_if=NTD,
                        pv_data=DataWithBitSet(self.value, BitSet({0}))))


def test_put_get_through_name_server():
    async def main():
        loop = asyncio.get_running_loop()
        server = await loop.create_server(ScriptedServer, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        conf = {"EPICS_PVA_AUTO_ADDR_LIST": "NO", "EPICS_PVA_ADDR_LIST": "",
                "EPICS_PVA_NAME_SERVERS": f"127.0.0.1:{port}", "EPICS_PVA_BROADCAST_PORT": "0"}
        try:
            async with Context(conf=conf, useenv=False) as ctx:
                v = await ctx.put_get("pg:d", 21.0)
                # the name server connection carried the channel as well
                assert len(ctx.core.circuits) == 0 and len(ctx.core.name_server_circuits) == 1
                return v
        finally:
            server.close()
            await server.wait_closed()
    v = asyncio.run(main())
    assert v.value == 42.0 and v.type.type_id == NTD.type_id
    assert "ChannelPutGetRequest" in ScriptedServer.seen
