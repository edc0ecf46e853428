"""Command line tools ``caget``, ``caput``, ``camonitor`` and ``cainfo``.

They take the options and print the formats of EPICS base's tools of the
same names, and run in caffi's shared context (:mod:`caffi._shared`).  Run
them as console scripts or as ``python -m caffi.cli.caget ...``.

This module holds what the tools share besides formatting: option parsing
with C getopt's messages, the ``EPICS_CLI_TIMEOUT`` default and connecting.
"""
import getopt
import os
import sys
import time

from .. import _shared, ca
from ..constants import ECA

__all__ = ["parse_options", "default_timeout", "parse_timeout", "parse_int_option",
           "connect", "wait_time"]

DEFAULT_TIMEOUT = 1.0


def parse_options(tool, argv, spec, permute=True):
    """getopt over *argv*; ``(options, args)`` or an exit code after a message."""
    try:
        if permute:
            return getopt.gnu_getopt(argv, spec)
        return getopt.getopt(argv, spec)
    except getopt.GetoptError as exc:
        if "requires argument" in exc.msg:
            sys.stderr.write("Option '-%s' requires an argument. ('%s -h' for help.)\n"
                             % (exc.opt, tool))
        else:
            sys.stderr.write("Unrecognized option: '-%s'. ('%s -h' for help.)\n"
                             % (exc.opt, tool))
        return 1


def _scan_double(text):
    try:
        return float(text.strip())
    except ValueError:
        return None


def default_timeout():
    """``EPICS_CLI_TIMEOUT`` if set and valid, else 1 s."""
    text = os.environ.get("EPICS_CLI_TIMEOUT")
    if text is None:
        return DEFAULT_TIMEOUT
    value = _scan_double(text)
    if value is None:
        sys.stderr.write("'%s' is not a valid timeout value (from 'EPICS_CLI_TIMEOUT' in "
                         "the environment) - ignored. (use '-h' for help.)\n" % text)
        return DEFAULT_TIMEOUT
    return value


def parse_timeout(tool, text, current):
    """The ``-w`` argument, or *current* after a message."""
    value = _scan_double(text)
    if value is None:
        sys.stderr.write("'%s' is not a valid timeout value - ignored, using '%.1f'. "
                         "('%s -h' for help.)\n" % (text, current, tool))
        return current
    return value


def wait_time(timeout):
    """A CA timeout as a wait: 0 (or less) waits for ever, as ``ca_pend_io(0)``."""
    return None if timeout <= 0 else timeout


def connect(names, timeout, priority=0):
    """Connect the channels of *names*; ``(entries, 0)`` or ``(entries, 1)`` after
    the message of EPICS base's ``connect_pvs``."""
    _shared.context()
    entries = []
    failed = False
    for name in names:
        status, entry = _shared.channel(name)
        if status != ECA.NORMAL:
            sys.stderr.write("CA error %s occurred while trying to create channel '%s'.\n"
                             % (ca.message(int(status)), name))
            failed = True
        entries.append(entry)
    if failed:
        return entries, 1
    ca.flush_io()
    limit = wait_time(timeout)
    deadline = None if limit is None else time.monotonic() + limit
    for entry in entries:
        if deadline is None:
            entry.connected.wait()
            continue
        if not entry.connected.wait(max(0.0, deadline - time.monotonic())):
            if len(names) > 1:
                sys.stderr.write("Channel connect timed out: some PV(s) not found.\n")
            else:
                sys.stderr.write("Channel connect timed out: '%s' not found.\n" % names[0])
            return entries, 1
    return entries, 0


def parse_int(text):
    """C ``sscanf("%d")``: the leading integer of *text*, or None."""
    text = text.strip()
    digits = ""
    for i, ch in enumerate(text):
        if ch.isdigit() or (i == 0 and ch in "+-"):
            digits += ch
        else:
            break
    try:
        return int(digits)
    except ValueError:
        return None


def parse_int_option(tool, text, what, minimum=None):
    """An integer option argument, or None after base's "- ignored." message."""
    value = parse_int(text)
    if value is None or (minimum is not None and value < minimum):
        sys.stderr.write("'%s' is not a valid %s - ignored. ('%s -h' for help.)\n"
                         % (text, what, tool))
        return None
    return value


def version_line():
    """What ``-V`` prints."""
    import epicscorelibs.version as v
    # EPICS_VERSION_STRING is "EPICS <base version>".
    return "\nEPICS Version EPICS %s, CA Protocol version %s\n" % (
        getattr(v, "base_version", "?"), ca.version())
