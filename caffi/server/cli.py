"""Command line of IOCs: ``ioc_arg_parser``, ``template_arg_parser``, ``run``.

>>> ioc_options, run_options = ioc_arg_parser(  # doctest: +SKIP
...     default_prefix="demo:", desc="A demo IOC")

Options: ``--prefix``, ``-q``/``-v``, ``--list-pvs``, ``--interfaces``,
``--protocols ca pva`` (the same PVs over Channel Access and/or pvAccess,
see :mod:`.both`) and one ``--NAME`` per macro.
"""
import argparse
import logging
import sys
from typing import Dict, List, Optional, Tuple

from pva.cli._iocargs import add_macros, ioc_parser, log_level

__all__ = ["ioc_arg_parser", "template_arg_parser", "run", "PROTOCOLS"]

#: what ``protocols=`` may name
PROTOCOLS = ("ca", "pva")
_HELPS = {
    "quiet": "Only log warnings and errors.",
    "verbose": "Log more (-vv: debug).",
    "list_pvs": "Log the PV names served at startup.",
    "async_lib": "Only asyncio is supported.",
    "interfaces": "Interfaces to listen on (default: EPICS_CAS_INTF_ADDR_LIST for CA, "
                  "EPICS_PVAS_INTF_ADDR_LIST for pvAccess, else all).",
}


def template_arg_parser(*, desc: str, default_prefix: str, argv: Optional[List[str]] = None,
                        macros: Optional[Dict[str, Optional[str]]] = None,
                        supported_async_libs=None) -> Tuple[argparse.ArgumentParser, object]:
    """An ArgumentParser with the standard IOC options, and a function that
    splits parsed arguments into ``(ioc_options, run_options)``."""
    macros = macros or {}
    parser = ioc_parser(desc=desc, default_prefix=default_prefix, helps=_HELPS,
                        async_libs=("asyncio",), interfaces=None)
    parser.add_argument("--protocols", nargs="+", default=["ca"], choices=PROTOCOLS,
                        help="Serve over Channel Access (ca), pvAccess (pva) or both "
                             "(ca pva): the same PVs, one state.")
    add_macros(parser, macros, "Macro substitution, default: {!r}")

    def split_args(args):
        try:
            check_protocols(args.protocols)
        except ValueError as ex:
            parser.error(str(ex))
        logging.basicConfig(level=log_level(args, 2), format="[%(levelname)s %(name)s] %(message)s")
        return ({"prefix": args.prefix, "macros": {k: getattr(args, k) for k in macros}},
                {"log_pv_names": args.list_pvs, "interfaces": args.interfaces,
                 "protocols": tuple(args.protocols)})
    return parser, split_args


def ioc_arg_parser(*, desc: str, default_prefix: str, argv: Optional[List[str]] = None,
                   macros=None, supported_async_libs=None):
    """Parse the standard IOC options: ``(ioc_options, run_options)``."""
    parser, split_args = template_arg_parser(desc=desc, default_prefix=default_prefix,
                                             argv=argv, macros=macros)
    return split_args(parser.parse_args(sys.argv[1:] if argv is None else argv))


def check_protocols(protocols) -> Tuple[str, ...]:
    """``protocols`` as a tuple (ValueError for an unknown name or none)."""
    protocols = (protocols,) if isinstance(protocols, str) else tuple(protocols)
    bad = [p for p in protocols if p not in PROTOCOLS]
    if bad or not protocols:
        raise ValueError("protocols must be among %s, not %r" % (PROTOCOLS, protocols))
    return tuple(dict.fromkeys(protocols))


def run(pvdb, *, module_name: Optional[str] = None, interfaces=None, log_pv_names=False,
        startup_hook=None, protocols=("ca",), **kwargs) -> None:
    """Serve ``pvdb`` (PV name -> ChannelData) until interrupted.

    ``protocols``: ``('ca',)``, ``('pva',)`` or ``('ca', 'pva')``: the same
    PVs over Channel Access and pvAccess (:mod:`.both`; ``pvdb`` may also
    hold a ``PVAGroup``'s PVs, whose NTScalar, NTScalarArray and NTEnum
    ones are then served over CA too; ``array_length=N`` among ``kwargs`` is
    the least CA element count of their arrays).  ``module_name`` is accepted for caproto compatibility
    (only asyncio is supported).  The objects of the process at that moment
    are taken out of the cyclic garbage collector's sight
    (``aio.freeze_startup_objects``).
    """
    import asyncio
    from ..protocol import ChannelData
    from .aio import freeze_startup_objects
    protocols = check_protocols(protocols)
    freeze_startup_objects()
    if protocols == ("ca",) and all(isinstance(data, ChannelData) for data in pvdb.values()):
        from .aio import start_server
        coro = start_server(pvdb, interfaces=interfaces, log_pv_names=log_pv_names,
                            startup_hook=startup_hook, **kwargs)
    else:
        from .both import serve
        coro = serve(pvdb, protocols=protocols, interfaces=interfaces,
                     log_pv_names=log_pv_names, startup_hook=startup_hook, **kwargs)
    try:
        asyncio.run(coro)
    except KeyboardInterrupt:
        pass
