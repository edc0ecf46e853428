"""pvinfo: the server and type of PVs.  ``pvinfo [-w sec] name ...``"""
from __future__ import annotations

import sys

from ._format import format_type
from ._options import error, parser, run

__all__ = ["main"]


def _info(args, ctx) -> int:
    status = 0
    for name in args.names:
        try:
            desc = ctx.info(name, args.timeout)
        except Exception as ex:
            error(name, ex)
            status = 1
            continue
        ch = ctx._ctx.core.channels.get(name)
        server = ch.server if ch is not None else None
        print(name)
        if server:
            print(f"Server: {server[0]}:{server[1]}")
        print("Type:")
        for line in format_type(desc).splitlines():
            print("    " + line)
    return status


def main(argv=None) -> None:
    p = parser("pvinfo", "Show the server and type of PVs.")
    p.add_argument("names", nargs="+", metavar="name")
    run(_info, p.parse_args(argv))


if __name__ == "__main__":
    main(sys.argv[1:])
