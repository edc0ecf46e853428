"""pvmonitor: print updates.  ``pvmonitor [-# count] [-r request] name ...``"""
from __future__ import annotations

import queue
import sys

from ..client.core import Disconnected, Finished, RemoteError
from ._options import mode_of, parser, run, show

__all__ = ["main"]


def _monitor(args, ctx) -> int:
    mode = mode_of(args)
    q: "queue.Queue" = queue.Queue()
    subs = [ctx.monitor(name, lambda v, name=name: q.put((name, v)), args.request)
            for name in args.names]
    status = 0
    n = 0
    live = len(subs)
    try:
        while live and (args.count is None or n < args.count):
            name, v = q.get()
            if isinstance(v, Disconnected):
                print(name, "<Disconnect>", flush=True)
            elif isinstance(v, RemoteError):
                print(name, "Error:", v.message, flush=True)
                status = 1
            elif isinstance(v, Finished):
                live -= 1
            else:
                print(name, show(v, mode), flush=True)
                n += 1
    finally:
        for s in subs:
            s.close()
    return status


def main(argv=None) -> None:
    p = parser("pvmonitor", "Print the updates of PVs until interrupted.")
    p.add_argument("-#", "--count", type=int, default=None, dest="count",
                   help="stop after this many updates (all PVs together)")
    p.add_argument("names", nargs="+", metavar="name")
    run(_monitor, p.parse_args(argv))


if __name__ == "__main__":
    main(sys.argv[1:])
