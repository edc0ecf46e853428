"""Command line of example IOCs: :func:`ioc_arg_parser` and :func:`run` (caproto.pva names)."""
from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from ..cli._iocargs import add_macros, ioc_parser, log_level

__all__ = ["ioc_arg_parser", "template_arg_parser", "run"]

_HELPS = {
    "quiet": "Suppress INFO log messages (still show WARNING or higher).",
    "verbose": "Show more log messages (-vv for even more).",
    "list_pvs": "At startup, log the list of PV names served.",
    "async_lib": "Asynchronous library (only asyncio is available).",
    "interfaces": "Interfaces to listen on (default: EPICS_PVAS_INTF_ADDR_LIST or 0.0.0.0).",
}


def _default_interfaces() -> List[str]:
    return os.environ.get("EPICS_PVAS_INTF_ADDR_LIST", "").split() or ["0.0.0.0"]


def template_arg_parser(*, desc: str, default_prefix: str, argv: Optional[Sequence[str]] = None,
                        macros: Optional[Mapping[str, Optional[str]]] = None,
                        supported_async_libs: Optional[Sequence[str]] = None
                        ) -> Tuple[argparse.ArgumentParser, Callable[[argparse.Namespace],
                                                                     Tuple[dict, dict]]]:
    """An argument parser for an IOC, and a function splitting its result.

    Returns
    -------
    parser : argparse.ArgumentParser
    split_args : callable
        ``split_args(namespace) -> (ioc_options, run_options)``; also sets up
        logging from ``-v``/``-q``.
    """
    macros = dict(macros or {})
    parser = ioc_parser(desc=desc, default_prefix=default_prefix, helps=_HELPS,
                        async_libs=tuple(supported_async_libs or ("asyncio",)),
                        interfaces=_default_interfaces())
    add_macros(parser, macros, "Macro substitution, optional")

    def split_args(args: argparse.Namespace) -> Tuple[Dict[str, Any], Dict[str, Any]]:
        level = log_level(args, 1)
        logging.basicConfig(level=level, format="%(asctime)s %(name)s %(levelname)s %(message)s")
        logging.getLogger("pva").setLevel(level)
        return (dict(prefix=args.prefix, macros={k: getattr(args, k) for k in macros}),
                dict(module_name=f"pva.server.{args.async_lib}",
                     log_pv_names=args.list_pvs, interfaces=args.interfaces))

    return parser, split_args


def ioc_arg_parser(*, desc: str, default_prefix: str, argv: Optional[Sequence[str]] = None,
                   macros: Optional[Mapping[str, Optional[str]]] = None,
                   supported_async_libs: Optional[Sequence[str]] = None
                   ) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """Parse an example IOC's command line.

    Returns
    -------
    ioc_options : dict
        ``prefix`` and ``macros`` for the group's constructor.
    run_options : dict
        Keyword arguments of :func:`run`.
    """
    parser, split_args = template_arg_parser(desc=desc, default_prefix=default_prefix,
                                             argv=argv, macros=macros,
                                             supported_async_libs=supported_async_libs)
    if argv is None:
        argv = sys.argv[1:]
    return split_args(parser.parse_args(list(argv)))


def run(pvdb: Mapping[str, Any], *, module_name: str = "pva.server.asyncio",
        interfaces: Optional[List[str]] = None, log_pv_names: bool = False,
        **kwargs: Any) -> None:
    """Serve ``pvdb`` with the asyncio server until interrupted."""
    from .aio import run as asyncio_run
    asyncio_run(pvdb, interfaces=interfaces, log_pv_names=log_pv_names, **kwargs)
