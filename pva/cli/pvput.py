"""pvput: write a PV, as pvxs's ``pvxput``.

``pvput name value`` writes the ``value`` field (a JSON map, ``{...}``, writes
the whole structure); ``pvput name fld=value ...`` writes fields (dotted
names).  Values in ``[...]``, ``{...}`` or ``"..."`` are JSON; an enum
takes an index or a choice.  Several bare values write an array (a
convenience pvxs does not have).  Nothing is printed unless ``-v`` (the
fields written); errors go to stderr with exit code 1.
"""
from __future__ import annotations

import json
import sys

from ._format import format_delta
from ._options import EXIT_ERROR, parse_assignments, parser, run

__all__ = ["main"]


def _json_or_text(v: str):
    if v[:1] in ('{', '[', '"'):
        try:
            return json.loads(v)
        except ValueError:
            pass
    return v


def value_from_args(values):
    """The value to put from the command line's words (None: malformed)."""
    if len(values) == 1 and "=" not in values[0]:
        text = values[0]
        return _json_or_text(text) if text[:1] in ('{', '[', '"') else text
    fields = parse_assignments(values)
    if fields is not None and all(not k[:1].isdigit() and not k.startswith("-") for k in fields):
        return {k: (_json_or_text(v) if isinstance(v, str) else v) for k, v in fields.items()}
    if all("=" not in v for v in values):
        return list(values)
    return None


def _put(args, ctx) -> int:
    value = value_from_args(args.values)
    if value is None:
        bad = next(v for v in args.values if "=" not in v)
        print(f"Error: expected <fld>=<value> not \"{bad}\"", file=sys.stderr)
        return EXIT_ERROR
    ctx.put(args.name, value, args.request, args.timeout)
    if args.verbose:
        new = ctx.get(args.name, args.request, args.timeout)
        print("Writing fields:")
        sys.stdout.write(format_delta(new.type, new, new.changed))
    return 0


def main(argv=None) -> None:
    p = parser("pvput", "Write a value to a PV.")
    p.add_argument("name")
    p.add_argument("values", nargs="+", metavar="value")
    run(_put, p.parse_args(argv))


if __name__ == "__main__":
    main(sys.argv[1:])
