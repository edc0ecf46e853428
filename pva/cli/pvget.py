"""pvget: read PVs.  ``pvget [-w sec] [-r request] [-# cnt] [-F delta|tree] name ...``

Prints each PV's name, then its value indented, in pvxs's delta form (the
fields the server sent, one per line) or tree form (``-F tree``), as pvxs's
``pvxget`` does; ``-M nt|raw|json`` prints one line per PV instead.
"""
from __future__ import annotations

import sys

from ._options import EXIT_ERROR, error, output_format, parser, run, show

__all__ = ["main"]


def _get(args, ctx) -> int:
    status = 0
    fmt = output_format(args)
    # all names at once (one round of searches, concurrent reads); errors per PV
    values = ctx.get(list(args.names), args.request, args.timeout, throw=False)
    for name, value in zip(args.names, values):
        if isinstance(value, BaseException):
            error(name, value)
            status = EXIT_ERROR
        else:
            sys.stdout.write(show(name, value, fmt, args.limit))
    return status


def main(argv=None) -> None:
    p = parser("pvget", "Read the values of PVs.", array_output=True)
    p.add_argument("names", nargs="+", metavar="name")
    run(_get, p.parse_args(argv))


if __name__ == "__main__":
    main(sys.argv[1:])
