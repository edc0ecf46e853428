"""``cainfo``: print connection information of PVs as EPICS base's cainfo does.

Example: ``cainfo my_channel another_channel``
"""
import sys
from typing import Optional, Sequence

from .. import ca
from .. import macros as _m
from ..simple import info
from . import (connect, default_timeout, parse_int_option, parse_options, parse_timeout,
               version_line)

__all__ = ["main"]

TOOL = "cainfo"
SPEC = "nhVw:s:p:"

USAGE = """
Usage: cainfo [options] <PV name> ...

  -h: Help: this text
  -V: Version: EPICS and CA versions
Channel Access options:
  -w <sec>:   Wait time (CA timeout), default %f second(s)
  -s <level>: Print the CA client status with this interest level
  -p <prio>:  CA priority (0-%d, default 0=lowest)

"""


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run cainfo with *argv* (default ``sys.argv[1:]``); return the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    timeout = default_timeout()
    level = 0
    parsed = parse_options(TOOL, argv, SPEC)
    if parsed == 1:
        return 1
    options, names = parsed
    for opt, arg in options:
        opt = opt[1:]
        if opt == "h":
            sys.stderr.write(USAGE % (1.0, _m.CA_PRIORITY_MAX))
            sys.stderr.write(version_line())
            return 0
        if opt == "V":
            sys.stdout.write(version_line())
            return 0
        if opt == "w":
            timeout = parse_timeout(TOOL, arg, timeout)
        elif opt == "s":
            level = parse_int_option(TOOL, arg, "interest level", minimum=0) or 0
        elif opt == "p":
            parse_int_option(TOOL, arg, "CA priority")
    if not level and not names:
        sys.stderr.write("No pv name specified. ('cainfo -h' for help.)\n")
        return 1
    entries, failed = connect(names, timeout)
    if failed:
        return 1
    sys.stdout.flush()
    if level:
        ca.show_context(level=level)
        return 0
    for entry in entries:
        sys.stdout.write(str(info(entry)))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
