"""``caRepeater``: run libca's CA repeater in the foreground.

libca starts ``caRepeater`` from PATH when no repeater listens on
``EPICS_CA_REPEATER_PORT``; installing this console script with caffi keeps it
from warning that it cannot find one.

Like EPICS base's ``caRepeater``, it replaces its standard input, output and
error with ``/dev/null`` and changes to ``/`` unless ``-v`` is given: the
process that libca starts outlives the program that started it, and must not
keep that program's pipes open (``subprocess.run(..., capture_output=True)``
of a script using caffi would wait for it for ever).
"""
import os
import signal
import sys

from ._ffi import ffi, lib

__all__ = ["main"]

USAGE = """usage: caRepeater [-hv]

Relays CA beacons to the clients on this host; listens on
EPICS_CA_REPEATER_PORT (default 5065).

  -h  print this message
  -v  keep standard input, output and error (default: /dev/null)
"""


def _detach_stdio():
    """Point file descriptors 0, 1 and 2 at /dev/null."""
    read_fd = os.open(os.devnull, os.O_RDONLY)
    write_fd = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(read_fd, 0)
        os.dup2(write_fd, 1)
        os.dup2(write_fd, 2)
    finally:
        for fd in (read_fd, write_fd):
            if fd > 2:
                os.close(fd)


def main(argv=None):
    """Run the repeater until killed (it never returns on its own)."""
    args = sys.argv[1:] if argv is None else argv
    detach = True
    for arg in args:
        if arg in ("-h", "--help"):
            sys.stdout.write(USAGE)
            return 0
        if arg == "-v":
            detach = False
        else:
            sys.stderr.write(USAGE + "\nunknown argument %r\n" % (arg,))
            return 1
    if detach and os.name == "posix":
        _detach_stdio()
        os.chdir("/")
    # The repeater blocks in C: let the default handlers end the process.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    lib.caRepeaterThread(ffi.NULL)
    return 0


if __name__ == "__main__":
    sys.exit(main())
