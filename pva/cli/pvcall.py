"""pvcall: call an RPC service.  ``pvcall name [arg=value ...]``

The arguments go in an NTURI query as strings (as pvxs's and p4p's tools send them).
"""
from __future__ import annotations

import sys

from .. import nt
from ._options import mode_of, parse_assignments, parser, run, show

__all__ = ["main"]


def _call(args, ctx) -> int:
    kws = parse_assignments(args.args)
    if kws is None:
        print("arguments must be name=value", file=sys.stderr)
        return 2
    kws = {k: v if isinstance(v, str) else str(v) for k, v in kws.items()}
    uri = nt.NTURI([(k, "s") for k in kws])
    arg = (uri.type, uri.wrap(args.name, kws))
    result = ctx.rpc(args.name, arg, args.request, args.timeout)
    print(show(result, "raw" if mode_of(args) == "nt" and not _is_nt(result) else mode_of(args)))
    return 0


def _is_nt(v) -> bool:
    t = getattr(v, "type", None)
    return t is not None and t.type_id.startswith(("epics:nt/NTScalar", "epics:nt/NTEnum"))


def main(argv=None) -> None:
    p = parser("pvcall", "Call an RPC service with name=value arguments.")
    p.add_argument("name")
    p.add_argument("args", nargs="*", metavar="arg=value")
    run(_call, p.parse_args(argv))


if __name__ == "__main__":
    main(sys.argv[1:])
