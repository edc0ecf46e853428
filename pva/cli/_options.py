"""Options shared by the tools, and running them."""
from __future__ import annotations

import argparse
import logging
import sys
from typing import Any, Callable, List, Optional

from .._errors import PVAError
from ..client.core import Value
from ..sync.client import Context
from ._format import format_json, format_nt, format_raw

__all__ = ["parser", "show", "run"]


def parser(prog: str, description: str, timeout: float = 5.0) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=description)
    p.add_argument("-w", "--timeout", type=float, default=timeout,
                   help=f"operation timeout in seconds (default {timeout:g})")
    p.add_argument("-r", "--request", default="", help="pvRequest, e.g. 'field(value)'")
    p.add_argument("-M", "--mode", choices=("nt", "raw", "json"), default="nt",
                   help="output: nt (one line for normative types), raw (tree), json")
    p.add_argument("-v", "--verbose", action="count", default=0,
                   help="raw output; -vv also debug logging")
    return p


def mode_of(args) -> str:
    return "raw" if args.verbose and args.mode == "nt" else args.mode


def show(value: Any, mode: str) -> str:
    """A value in the chosen mode (a :class:`Value` or a plain result)."""
    if isinstance(value, Value) and value.type is not None:
        if mode == "raw":
            return format_raw(value.type, value)
        if mode == "json":
            return format_json(value.type, value)
        return format_nt(value.type, value)
    return repr(value)


def run(main: Callable[[Any, Context], int], args) -> None:
    """Run ``main(args, ctx)`` with a context; exit with its status."""
    logging.basicConfig(level=logging.DEBUG if args.verbose > 1 else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    ctx = Context(timeout=args.timeout)
    try:
        status = main(args, ctx)
    except KeyboardInterrupt:
        status = 1
    except (PVAError, ValueError) as ex:
        print(f"Error: {ex}", file=sys.stderr)
        status = 1
    finally:
        ctx.close()
    sys.exit(status)


def error(name: str, ex: BaseException) -> None:
    print(f"{name} Error: {ex}", file=sys.stderr)


def parse_assignments(items: List[str]) -> Optional[dict]:
    """``['a=1', 'b.c=x']`` -> ``{'a': '1', 'b.c': 'x'}`` (JSON for values in {} or [])."""
    import json
    out = {}
    for item in items:
        k, sep, v = item.partition("=")
        if not sep or not k:
            return None
        if v[:1] in "{[":
            try:
                v = json.loads(v)
            except ValueError:
                pass
        out[k.strip()] = v
    return out
