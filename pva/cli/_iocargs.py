"""The command line shape of example IOCs, shared by :mod:`pva.server.cli` and
:mod:`caffi.server.cli` (each keeps its own help texts, defaults and log format).

Options: ``--prefix``, ``-q``/``-v``, ``--list-pvs``, ``--async-lib``,
``--interfaces``, then what the caller adds, then one ``--NAME`` per macro.
"""
import argparse
import logging
from typing import Mapping, Optional, Sequence

__all__ = ["ioc_parser", "add_macros", "log_level"]


def ioc_parser(*, desc: str, default_prefix: str, helps: Mapping[str, str],
               async_libs: Sequence[str], interfaces: Optional[Sequence[str]]
               ) -> argparse.ArgumentParser:
    """An ArgumentParser with the standard IOC options.

    ``helps`` has the help texts of ``quiet``, ``verbose``, ``list_pvs``,
    ``async_lib`` and ``interfaces``; ``async_libs`` the choices of
    ``--async-lib`` (the first is the default); ``interfaces`` the default
    of ``--interfaces``.
    """
    parser = argparse.ArgumentParser(description=desc,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prefix", type=str, default=default_prefix)
    verbosity = parser.add_mutually_exclusive_group()
    verbosity.add_argument("-q", "--quiet", action="store_true", help=helps["quiet"])
    verbosity.add_argument("-v", "--verbose", action="count", help=helps["verbose"])
    parser.add_argument("--list-pvs", action="store_true", help=helps["list_pvs"])
    parser.add_argument("--async-lib", default=async_libs[0], choices=tuple(async_libs),
                        help=helps["async_lib"])
    parser.add_argument("--interfaces", nargs="+", default=interfaces,
                        help=helps["interfaces"])
    return parser


def add_macros(parser: argparse.ArgumentParser, macros: Mapping[str, Optional[str]],
               optional_help: str) -> None:
    """One ``--NAME`` option per macro: required where the default is None,
    else with ``optional_help.format(default)`` as help."""
    for name, default in macros.items():
        if default is None:
            parser.add_argument("--" + name, type=str, required=True,
                                help="Macro substitution required by this IOC")
        else:
            parser.add_argument("--" + name, type=str, default=default,
                                help=optional_help.format(default))


def log_level(args: argparse.Namespace, debug_verbosity: int) -> int:
    """The logging level of ``-q``/``-v``: DEBUG from ``debug_verbosity``
    times ``-v``, INFO below that and by default, WARNING with ``-q``."""
    if args.verbose:
        return logging.DEBUG if args.verbose >= debug_verbosity else logging.INFO
    if args.quiet:
        return logging.WARNING
    return logging.INFO
