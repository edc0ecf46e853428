"""The pvAccess server and its high-level API (caproto.pva 0.8 names).

>>> from pva.server import PVAGroup, pvaproperty, ioc_arg_parser, run

Layout: :mod:`.core` (what the connections share) and :mod:`.circuit` (one
client connection) are loop-free and run on :mod:`pva.io.driver`; the
operations are in :mod:`.ops`, one module each; :mod:`.aio` is the asyncio
server (:class:`Context`: sockets, hooks, run); :mod:`.common` the data
model, :mod:`.group` ``PVAGroup``/``pvaproperty``, :mod:`.overlay` what a
putter sees of a put (``WriteUpdate``), :mod:`.config` the
``EPICS_PVAS_*`` settings, :mod:`.cli` the command line.  Only :mod:`.aio`
and :mod:`.cli` import asyncio.
"""
from __future__ import annotations

from .cli import ioc_arg_parser, run, template_arg_parser
from .common import (AuthenticationError, AuthOperation, DatabaseDefinitionError,
                     DataWrapperBase, ServerStatus, value_instance, wrap_pvdb)
from .config import ServerConfig, ServerLimits
from .group import (DataclassOverlayInstance, GroupDataWrapper, NTURIArguments, PVAGroup,
                    PVAGroupMeta, ServerRPC, WriteUpdate, pvaproperty, verify_getter, verify_putter,
                    verify_processor, verify_rpc_call, verify_shutdown, verify_startup)
from .aio import AsyncioAsyncLayer, Context, start_server
from .circuit import ServerCircuit
from .._dataclass import pva_dataclass

__all__ = [
    "Context", "ServerCircuit", "start_server", "run", "AsyncioAsyncLayer",
    "ServerConfig", "ServerLimits",
    "AuthOperation", "AuthenticationError", "DatabaseDefinitionError", "DataWrapperBase",
    "ServerStatus", "wrap_pvdb", "value_instance",
    "PVAGroup", "PVAGroupMeta", "pvaproperty", "WriteUpdate", "GroupDataWrapper",
    "DataclassOverlayInstance", "NTURIArguments", "ServerRPC", "verify_getter", "verify_putter",
    "verify_rpc_call", "verify_startup", "verify_shutdown", "verify_processor",
    "ioc_arg_parser", "template_arg_parser", "pva_dataclass",
]
