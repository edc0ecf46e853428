"""pvAccess client: one core (:mod:`pva.client.core`) and its asyncio adapter.

The synchronous functions are in :mod:`pva.sync.client`.
"""
from __future__ import annotations

from .aio import ClientChannel, Context, Subscription
from .config import ClientConfig
from .core import Cancelled, Disconnected, Finished, RemoteError, Timeout, Value

__all__ = ["Context", "ClientChannel", "Subscription", "ClientConfig", "Value",
           "Disconnected", "RemoteError", "Finished", "Timeout", "Cancelled"]
