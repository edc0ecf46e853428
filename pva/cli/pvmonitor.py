"""pvmonitor: print updates until interrupted.

``pvmonitor [-r request] [-# cnt] [-F delta|tree] name ...``: each update is
the PV's name, then the fields it changed (pvxs's delta form) or the whole
value (``-F tree``), as pvxs's ``pvxmonitor`` prints them; connections and
disconnections are reported on stderr with their time.  Ends (exit 0) when
every subscription is finished, or with 2 on Ctrl-C.  ``-# cnt`` limits the
array elements shown (it counted updates before: use ``-c``).
"""
from __future__ import annotations

import queue
import sys
import time

from ..client.core import Disconnected, Finished, RemoteError
from ._options import EXIT_ERROR, output_format, parser, run, show

__all__ = ["main"]


def _stamp() -> str:
    now = time.time()
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now)) + \
        ".%09d" % int((now % 1) * 1e9)


def _monitor(args, ctx) -> int:
    fmt = output_format(args)
    q: "queue.Queue" = queue.Queue()
    subs = [ctx.monitor(name, lambda v, name=name: q.put((name, v)), args.request)
            for name in args.names]
    status = 0
    n = 0
    live = len(subs)
    connected = set()
    received = {}       # name -> the fields the updates have carried so far
    try:
        while live and (args.count is None or n < args.count):
            name, v = q.get()
            if isinstance(v, Disconnected):
                connected.discard(name)
                print(f"{_stamp()} {name} Disconnected", file=sys.stderr, flush=True)
            elif isinstance(v, RemoteError):
                print(f"{name} Error {type(v).__name__} : {v.message}", file=sys.stderr,
                      flush=True)
                status = EXIT_ERROR
            elif isinstance(v, Finished):
                live -= 1
            else:
                if name not in connected:
                    connected.add(name)
                    print(f"{_stamp()} {name} Connected{_peer(ctx, name)}", file=sys.stderr,
                          flush=True)
                if v.changed is not None:
                    received[name] = v.changed | received.get(name, ())
                sys.stdout.write(show(name, v, fmt, args.limit, received.get(name)))
                sys.stdout.flush()
                n += 1
    finally:
        for s in subs:
            s.close()
    return status


def _peer(ctx, name: str) -> str:
    ch = ctx._ctx.core.channels.get(name)
    server = getattr(ch, "server", None)
    return f" to {server[0]}:{server[1]}" if server else ""


def main(argv=None) -> None:
    p = parser("pvmonitor", "Print the updates of PVs until interrupted.", timeout=None,
               array_output=True)
    p.add_argument("-c", "--count", type=int, default=None,
                   help="stop after this many updates (all PVs together)")
    p.add_argument("names", nargs="+", metavar="name")
    run(_monitor, p.parse_args(argv))


if __name__ == "__main__":
    main(sys.argv[1:])
