"""The only part of :mod:`caffi.protocol` that touches the operating system:
a UDP socket set up for broadcasting, and the interfaces' broadcast addresses.
"""
import socket
import sys

from pva.io.netif import broadcast_addresses

__all__ = ["bcast_socket", "broadcast_addresses"]


def bcast_socket(socket_module=socket):
    """A UDP socket with SO_BROADCAST (and address reuse) set.

    Parameters
    ----------
    socket_module : module, optional
        :mod:`socket` or anything with its interface.
    """
    sock = socket_module.socket(socket_module.AF_INET, socket_module.SOCK_DGRAM)
    try:
        sock.setsockopt(socket_module.SOL_SOCKET, socket_module.SO_REUSEADDR, 1)
        sock.setsockopt(socket_module.SOL_SOCKET, socket_module.SO_BROADCAST, 1)
        if sys.platform != "win32" and hasattr(socket_module, "SO_REUSEPORT"):
            sock.setsockopt(socket_module.SOL_SOCKET, socket_module.SO_REUSEPORT, 1)
    except BaseException:
        sock.close()
        raise
    return sock
