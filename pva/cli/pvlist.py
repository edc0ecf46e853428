"""pvlist: list servers, or the PVs of servers.

``pvlist`` asks every server of the address list to answer (and listens for
beacons) for ``-w`` seconds and prints one ``host:port`` per server;
``pvlist host:port ...`` prints the PV names those servers have (their
``server`` RPC, ``op=channels``).
"""
from __future__ import annotations

import asyncio
import sys

from .. import nt
from ..client.config import parse_addr_list
from ._options import error, parser, run

__all__ = ["main"]


def _list(args, ctx) -> int:
    if not args.servers:
        return _discover(args, ctx)
    status = 0
    uri = nt.NTURI([("op", "s")])
    for text in args.servers:
        addrs = parse_addr_list(text, ctx._ctx.config.server_port)
        if not addrs:
            error(text, ValueError("not an address"))
            status = 1
            continue
        try:
            result = ctx._call(ctx._ctx.rpc("server", (uri.type, uri.wrap("server", {"op": "channels"})),
                                            "", args.timeout, server=addrs[0]), args.timeout)
        except Exception as ex:
            error(text, ex)
            status = 1
            continue
        for name in result["value"]:
            print(name)
    return status


def _discover(args, ctx) -> int:
    async def listen():
        core = ctx._ctx.core
        end = asyncio.get_running_loop().time() + args.timeout
        await asyncio.sleep(0.05)   # the UDP socket opens
        while True:
            core.ping()
            left = end - asyncio.get_running_loop().time()
            if left <= 0:
                break
            await asyncio.sleep(min(1.0, left))
        return sorted(set(core.servers.values()))
    for host, port in ctx._call(listen(), args.timeout):
        print(f"{host}:{port}")
    return 0


def main(argv=None) -> None:
    p = parser("pvlist", "List servers, or the PVs of the given servers.", timeout=2.0)
    p.add_argument("servers", nargs="*", metavar="host:port")
    run(_list, p.parse_args(argv))


if __name__ == "__main__":
    main(sys.argv[1:])
