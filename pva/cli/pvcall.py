"""pvcall: call an RPC service.  ``pvcall name [arg=value ...]``

The arguments go in an NTURI query as strings (as pvxs's ``pvxcall`` and
p4p's tools send them); the result is printed in pvxs's tree form (``-M``
for one line).
"""
from __future__ import annotations

import sys

from .. import nt
from ._format import format_tree
from ._options import EXIT_ERROR, output_format, parser, run, show

__all__ = ["main"]


def _call(args, ctx) -> int:
    keys = []
    for item in args.args:
        k, sep, _ = item.partition("=")
        if not sep:
            print(f"Error: expected <fld>=<value> not \"{item}\"", file=sys.stderr)
            return EXIT_ERROR
        if k in keys:
            print(f"Error: duplicate argument name {k}", file=sys.stderr)
            return EXIT_ERROR
        keys.append(k)
    kws = dict(item.split("=", 1) for item in args.args)
    uri = nt.NTURI([(k, "s") for k in kws])
    result = ctx.rpc(args.name, (uri.type, uri.wrap(args.name, kws)), args.request,
                     args.timeout)
    if args.mode is not None:
        sys.stdout.write(show(args.name, result, output_format(args)))
    elif getattr(result, "type", None) is not None:
        sys.stdout.write(format_tree(result.type, result))
    elif result is not None:
        print(repr(result))
    return 0


def main(argv=None) -> None:
    p = parser("pvcall", "Call an RPC service with name=value arguments.")
    p.add_argument("name")
    p.add_argument("args", nargs="*", metavar="arg=value")
    run(_call, p.parse_args(argv))


if __name__ == "__main__":
    main(sys.argv[1:])
