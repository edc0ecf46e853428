"""Who this process is: the user and host names a client identifies with.

pvAccess's ``ca`` authentication (and Channel Access's host/user messages)
send them to the server.  The protocol cores take them as arguments; the
I/O layer looks them up here, once per call.
"""
from __future__ import annotations

import getpass
import socket
from typing import Tuple

__all__ = ["user_name", "host_name", "identity"]


def user_name() -> str:
    """The login name, or ``''`` where the environment has none (a container
    without a passwd entry)."""
    try:
        return getpass.getuser()
    except Exception:  # KeyError, OSError, ImportError of pwd: no name known
        return ""


def host_name() -> str:
    """The host name as the system reports it."""
    try:
        return socket.gethostname()
    except OSError:
        return ""


def identity() -> Tuple[str, str]:
    """``(user, host)``."""
    return user_name(), host_name()
