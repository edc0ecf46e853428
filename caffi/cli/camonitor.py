"""``camonitor``: print each change of PVs as EPICS base's camonitor does.

Example: ``camonitor -f8 my_channel another_channel`` (runs until interrupted)
"""
import sys
from typing import Optional, Sequence
import threading

from .. import _shared, ca
from .. import macros as _m
from ..constants import ECA
from . import (default_timeout, parse_int_option, parse_options, parse_timeout,
               version_line)
from ._format import Options, Printer
from .caget import parse_float_format, parse_int_format

__all__ = ["main", "Session"]

TOOL = "camonitor"
SPEC = "nhVm:sSe:f:g:l:#:0:w:t:p:F:"

USAGE = """
Usage: camonitor [options] <PV name> ...

  -h:       Help: this text
  -V:       Version: EPICS and CA versions
Channel Access options:
  -w <sec>: Wait time (CA timeout), default %f second(s)
  -m <msk>: CA event mask: any of 'v' (value), 'a' (alarm), 'l' (log/archive),
            'p' (property); default 'va'
  -p <pri>: CA priority (0-%d, default 0=lowest)
Timestamps:
  Default:  absolute server time stamps
  -t <key>: 's' server, 'c' client (in '()'), 'n' none, 'r' relative to the
            start, 'i' incremental, 'I' incremental per channel
Enum format:
  -n:       Print DBF_ENUM values as number (default is the enum string)
Arrays: number of elements, then the values
  -# <num>: Request and print up to <num> elements
  -S:       Print arrays of char as a string (long string)
Floating point format:
  -e/-f/-g <num>: %%e, %%f or %%g with <num> digits (default %%g)
  -s:       Get the value as string (server-side precision)
  -lx, -lo, -lb: Round to long integer, print as hex, octal, binary
Integer number format:
  -0x, -0o, -0b: Print as hex, octal, binary
Output field separator:
  -F <ofs>: Use <ofs> to separate fields

"""


class Session(object):
    """The monitored channels of one camonitor run and their printing."""

    def __init__(self, names, opts, mask, req_elems, float_as_string, out):
        self.names = names
        self.opts = opts
        self.mask = mask
        self.req_elems = req_elems
        self.float_as_string = float_as_string
        self.out = out
        self.printer = Printer(opts, out)
        self.lock = threading.Lock()
        self.entries = []
        self.state = {}  # name -> dict(evid, dbf, dbr, once)

    def start(self):
        _shared.context()
        for name in self.names:
            status, entry = _shared.channel(name)
            if status != ECA.NORMAL:
                sys.stderr.write("CA error %s occurred while trying to create channel "
                                 "'%s'.\n" % (ca.message(int(status)), name))
                return 1
            self.state[name] = {"evid": None, "dbf": None, "dbr": None, "once": False,
                                "n_elems": 0}
            self.entries.append(entry)
            entry.add_listener(self._on_connection)
            if entry.connected.is_set():
                self._on_connection(entry, True)
        ca.flush_io()
        return 0

    def _write(self, text):
        with self.lock:
            self.out.write(text + "\n")
            self.out.flush()

    def _on_connection(self, entry, up):
        state = self.state[entry.name]
        with self.lock:
            if not up:
                if state["once"]:
                    line = self.printer.line(entry.name, n_elems=state["n_elems"],
                                             problem="disconnected")
                    self.out.write(line + "\n")
                    self.out.flush()
                return
            chid = entry.chid
            dbf = int(ca.field_type(chid))
            if state["evid"] is not None and state["dbf"] == dbf:
                return
            old, state["evid"] = state["evid"], None
        if old is not None:
            # The native type changed: renew the subscription.  Not under the
            # lock: clearing waits for a running event callback, which takes it.
            ca.clear_subscription(old)
        with self.lock:
            if state["evid"] is not None:
                return
            state["once"] = True
            state["dbf"] = dbf
            dbr = _m.dbf_type_to_DBR_TIME(dbf)
            if _m.dbr_type_is_ENUM(dbr):
                dbr = _m.DBR_TIME_INT if self.opts.enum_as_number else _m.DBR_TIME_STRING
            elif self.float_as_string and (_m.dbr_type_is_FLOAT(dbr)
                                           or _m.dbr_type_is_DOUBLE(dbr)):
                dbr = _m.DBR_TIME_STRING
            state["dbr"] = dbr
            n_elems = ca.element_count(chid)
            state["n_elems"] = n_elems
            count = min(self.req_elems, n_elems)

            def on_event(args, name=entry.name):
                if args["status"] != ECA.NORMAL:
                    return
                with self.lock:
                    st = self.state[name]
                    st["n_elems"] = args["count"]
                    self.out.write(self.printer.line(name, args["value"], args["type"],
                                                     self.req_elems, args["count"]) + "\n")
                    self.out.flush()

            status, evid = ca.create_subscription(chid, on_event, dbr, count, self.mask)
            if status == ECA.NORMAL:
                state["evid"] = evid
        ca.flush_io()

    def report_unconnected(self):
        for entry in self.entries:
            if not self.state[entry.name]["once"]:
                self._write(self.printer.line(entry.name, n_elems=0, problem="never"))

    def close(self):
        for entry in self.entries:
            entry.remove_listener(self._on_connection)
            evid = self.state[entry.name]["evid"]
            if evid is not None and evid.ptr is not None:
                ca.clear_subscription(evid)
        ca.flush_io()


def parse_mask(arg):
    mask = 0
    for ch in arg:
        bit = {"v": _m.DBE_VALUE, "a": _m.DBE_ALARM, "l": _m.DBE_LOG,
               "p": _m.DBE_PROPERTY}.get(ch)
        if bit is None:
            sys.stderr.write("Invalid argument '%s' for option '-m' - ignored.\n" % arg)
            return _m.DBE_VALUE | _m.DBE_ALARM
        mask |= bit
    return mask


def parse_timestamps(arg, opts):
    opts.ts_server = opts.ts_client = False
    for ch in arg:
        if ch == "s":
            opts.ts_server = True
        elif ch == "c":
            opts.ts_client = True
        elif ch == "n":
            pass
        elif ch in "riI":
            opts.ts_type = {"r": "relative", "i": "incremental",
                            "I": "incrementalByChan"}[ch]
        else:
            sys.stderr.write("Invalid argument '%s' for option '-t' - ignored.\n" % ch)


def main(argv: Optional[Sequence[str]] = None,
         stop: Optional[threading.Event] = None) -> int:
    """Run camonitor with *argv*; it returns when *stop* (an Event) is set or on
    Ctrl-C.  Returns the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    opts = Options()
    timeout = default_timeout()
    mask = _m.DBE_VALUE | _m.DBE_ALARM
    req_elems = 0
    float_as_string = False
    parsed = parse_options(TOOL, argv, SPEC)
    if parsed == 1:
        return 1
    options, names = parsed
    for opt, arg in options:
        opt = opt[1:]
        if opt == "h":
            sys.stderr.write(USAGE % (1.0, _m.CA_PRIORITY_MAX))
            return 0
        if opt == "V":
            sys.stdout.write(version_line())
            return 0
        if opt == "n":
            opts.enum_as_number = True
        elif opt == "t":
            parse_timestamps(arg, opts)
        elif opt == "w":
            timeout = parse_timeout(TOOL, arg, timeout)
        elif opt == "#":
            req_elems = parse_int_option(TOOL, arg, "array element count", minimum=0) or 0
        elif opt == "p":
            parse_int_option(TOOL, arg, "CA priority")
        elif opt == "m":
            mask = parse_mask(arg)
        elif opt == "s":
            float_as_string = True
        elif opt == "S":
            opts.char_as_string = True
        elif opt in "efg":
            parse_float_format(opt, arg, opts)
        elif opt in "l0":
            parse_int_format(opt, arg, opts)
        elif opt == "F":
            opts.separator = arg[:1] if arg else "\0"
    if not names:
        sys.stderr.write("No pv name specified. ('camonitor -h' for help.)\n")
        return 1
    stop = stop or threading.Event()
    session = Session(names, opts, mask, req_elems, float_as_string, sys.stdout)
    try:
        if session.start():
            return 1
        if not stop.wait(timeout if timeout > 0 else None):
            session.report_unconnected()
            while not stop.wait(0.5):
                pass
    except KeyboardInterrupt:
        return 130
    finally:
        session.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
