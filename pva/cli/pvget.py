"""pvget: read PVs.  ``pvget [-w sec] [-r request] [-M nt|raw|json] [-v] name ...``"""
from __future__ import annotations

import sys

from ._options import error, mode_of, parser, run, show

__all__ = ["main"]


def _get(args, ctx) -> int:
    status = 0
    mode = mode_of(args)
    # all names at once (one round of searches, concurrent reads); errors per PV
    values = ctx.get(list(args.names), args.request, args.timeout, throw=False)
    for name, value in zip(args.names, values):
        if isinstance(value, BaseException):
            ex = value
            error(name, ex)
            status = 1
        else:
            print(name, show(value, mode))
    return status


def main(argv=None) -> None:
    p = parser("pvget", "Read the values of PVs.")
    p.add_argument("names", nargs="+", metavar="name")
    run(_get, p.parse_args(argv))


if __name__ == "__main__":
    main(sys.argv[1:])
