"""pvput: write a PV.

``pvput name value`` writes the ``value`` field; ``pvput name fld=value ...``
writes fields (dotted names); ``pvput name '{"value": 1}'`` writes JSON;
several bare values make an array.  Old and new values are printed.
"""
from __future__ import annotations

import json
import sys

from ._options import mode_of, parse_assignments, parser, run, show

__all__ = ["main"]


def value_from_args(values):
    if len(values) == 1 and values[0][:1] in "{[":
        return json.loads(values[0])
    fields = parse_assignments(values)
    if fields is not None and all(not k[:1].isdigit() and not k.startswith("-") for k in fields):
        return fields
    if len(values) == 1:
        return values[0]
    return list(values)


def _put(args, ctx) -> int:
    mode = mode_of(args)
    value = value_from_args(args.values)
    old = ctx.get(args.name, "", args.timeout)
    ctx.put(args.name, value, args.request, args.timeout)
    new = ctx.get(args.name, "", args.timeout)
    print("Old :", args.name, show(old, mode))
    print("New :", args.name, show(new, mode))
    return 0


def main(argv=None) -> None:
    p = parser("pvput", "Write a value to a PV.")
    p.add_argument("name")
    p.add_argument("values", nargs="+", metavar="value")
    run(_put, p.parse_args(argv))


if __name__ == "__main__":
    main(sys.argv[1:])
