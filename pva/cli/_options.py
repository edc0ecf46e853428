"""Options shared by the tools, their output layout, exit codes.

The flags are pvxs's tools' (``pvxget`` ...): ``-h``, ``-V`` (versions),
``-v`` (more noise: the effective configuration on stderr), ``-d`` (debug
logging of the ``pva`` loggers), ``-w <sec>``, ``-r <request>``, and for
``pvget``/``pvmonitor`` ``-# <count>`` (array elements shown, 0 = all) and
``-F delta|tree``.  Exit codes as pvxs's: 0 done, 1 error, timeout or usage
error, 2 interrupted (Ctrl-C).  ``-M nt|raw|json`` keeps the one-line
layout of p4p's command line (``name value``).
"""
from __future__ import annotations

import argparse
import logging
import platform
import sys
from typing import Any, Callable, List, NoReturn, Optional

from .._errors import PVAError
from ..client.core import Value
from ..sync.client import Context
from ._format import format_delta, format_json, format_nt, format_tree

__all__ = ["parser", "show", "run", "version_information", "EXIT_ERROR", "EXIT_INTERRUPTED"]

EXIT_ERROR = 1
EXIT_INTERRUPTED = 2

_FORMATS = ("delta", "tree", "nt", "json", "raw")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:     # pvxs: usage errors exit 1
        self.print_usage(sys.stderr)
        self.exit(EXIT_ERROR, f"\n{self.prog}: {message}\n")


def version_information() -> str:
    """What ``-V`` prints: the versions this tool runs with."""
    import numpy
    from importlib import metadata
    try:
        dist = metadata.version("caffi")
    except metadata.PackageNotFoundError:
        dist = "unknown"
    return (f"pva {dist} (pure Python pvAccess)\n"
            f"Python {platform.python_version()} ({platform.python_implementation()})\n"
            f"numpy {numpy.__version__}\n"
            f"Host: {platform.system()} {platform.machine()}\n")


class _Version(argparse.Action):
    def __init__(self, option_strings, dest, **kw):
        super().__init__(option_strings, dest, nargs=0, help="print version and exit")

    def __call__(self, parser, namespace, values, option_string=None):
        sys.stdout.write(version_information())
        parser.exit(0)


def parser(prog: str, description: str, timeout: Optional[float] = 5.0, request: bool = True,
           array_output: bool = False) -> argparse.ArgumentParser:
    """The tools' common options (``timeout=None``: no ``-w``)."""
    p = _Parser(prog=prog, description=description)
    p.add_argument("-V", "--version", action=_Version)
    p.add_argument("-v", "--verbose", action="count", default=0,
                   help="make more noise (the effective configuration on stderr)")
    p.add_argument("-d", "--debug", action="store_true",
                   help="debug logging of the pva loggers (a lot of noise)")
    if timeout is not None:
        p.add_argument("-w", "--timeout", type=float, default=timeout,
                       help=f"operation timeout in seconds (default {timeout:g})")
    if request:
        p.add_argument("-r", "--request", default="", help="pvRequest, e.g. 'field(value)'")
    if array_output:
        p.add_argument("-#", dest="limit", type=int, default=0, metavar="CNT",
                       help="array elements to print per field (0, the default: all)")
        p.add_argument("-F", dest="format", default="delta", metavar="FMT",
                       help="output format: delta (default), tree (as pvxs), nt, json")
    p.add_argument("-M", "--mode", choices=("nt", "raw", "json"), default=None,
                   help="one line per PV as p4p's command line prints it: nt, raw (tree), json")
    return p


def output_format(args) -> str:
    """The format the options select (an unknown ``-F`` is ignored with a warning)."""
    if args.mode is not None:
        return args.mode
    fmt = getattr(args, "format", "delta")
    if fmt not in _FORMATS:
        print(f"Warning: ignoring unknown format '{fmt}'", file=sys.stderr)
        fmt = "delta"
    return fmt


def show(name: str, value: Any, fmt: str, limit: int = 0, received: Any = None) -> str:
    """The text for PV ``name``: pvxs's layout (the name, then the value indented)
    for ``delta`` and ``tree``, ``name value`` on one line for the others.

    ``received``: the fields received so far (a monitor's updates together;
    default: this value's own), the others print as never received.
    """
    if not (isinstance(value, Value) and value.type is not None):
        return f"{name} {value!r}\n"
    if fmt == "delta":
        return f"{name}\n" + format_delta(value.type, value, value.changed, limit=limit)
    if fmt == "tree":
        return f"{name}\n" + format_tree(value.type, value, limit=limit, depth=1,
                                          changed=received if received is not None
                                          else value.changed)
    if fmt == "raw":
        return f"{name} " + format_tree(value.type, value) + "\n"
    if fmt == "json":
        return f"{name} {format_json(value.type, value)}\n"
    return f"{name} {format_nt(value.type, value)}\n"


def run(main: Callable[[Any, Context], int], args) -> NoReturn:
    """Run ``main(args, ctx)`` with a context; exit with its status (2 on Ctrl-C)."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.debug:
        logging.getLogger("pva").setLevel(logging.DEBUG)
    status = EXIT_ERROR
    ctx = None
    try:
        ctx = Context(timeout=getattr(args, "timeout", 5.0))
        if args.verbose:
            show_config(ctx)
        status = main(args, ctx)
    except KeyboardInterrupt:
        if args.verbose:
            print("Interrupted", file=sys.stderr)
        status = EXIT_INTERRUPTED
    except (PVAError, ValueError, TimeoutError) as ex:
        print(f"Error: {ex}", file=sys.stderr)
        status = EXIT_ERROR
    finally:
        if ctx is not None:
            try:
                ctx.close()
            except KeyboardInterrupt:
                status = EXIT_INTERRUPTED
    sys.stdout.flush()
    sys.exit(status)


def show_config(ctx: Context) -> None:
    """``-v``: the effective client configuration on stderr."""
    print("Effective config", file=sys.stderr)
    for key, value in sorted(ctx._ctx.config.to_conf().items()):
        print(f"{key}={value}", file=sys.stderr)


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
