"""``caRepeater``: run libca's CA repeater in the foreground.

libca starts ``caRepeater`` from PATH when no repeater listens on
``EPICS_CA_REPEATER_PORT``; installing this console script with caffi keeps it
from warning that it cannot find one.
"""
import signal
import sys

from ._ffi import ffi, lib

__all__ = ["main"]


def main(argv=None):
    """Run the repeater until killed (it never returns on its own)."""
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in ("-h", "--help"):
        print("usage: caRepeater\n\nRelays CA beacons to the clients on this host; "
              "listens on EPICS_CA_REPEATER_PORT (default 5065).")
        return 0
    # The repeater blocks in C: let the default handlers end the process.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    lib.caRepeaterThread(ffi.NULL)
    return 0


if __name__ == "__main__":
    sys.exit(main())
