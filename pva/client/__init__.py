"""pvAccess client: one loop-free core (:mod:`pva.client.core`) and its
asyncio adapter (:mod:`pva.client.aio`).

The synchronous functions are in :mod:`pva.sync.client`.  This package may
import the protocol layer (``pva._*``) and :mod:`pva.io`; the core and the
operations (:mod:`pva.client.ops`) never import asyncio, only
:mod:`pva.client.aio` does.
"""
from __future__ import annotations

from .aio import PV, Context, Subscription
from .config import ClientConfig
from .errors import Cancelled, Disconnected, Finished, RemoteError, Timeout
from .value import Value

__all__ = ["Context", "PV", "Subscription", "ClientConfig", "Value",
           "Disconnected", "RemoteError", "Finished", "Timeout", "Cancelled"]
