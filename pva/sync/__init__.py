"""Synchronous (thread-backed) pvAccess client: see :mod:`pva.sync.client`."""
from __future__ import annotations

from . import client
from .client import Context

__all__ = ["client", "Context"]
