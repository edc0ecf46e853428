"""``caget``: read PVs and print them as EPICS base's caget does.

Example: ``caget -a -f8 my_channel another_channel``
"""
import sys
from typing import Optional, Sequence
import threading

from .. import _shared, ca
from .. import macros as _m
from ..constants import ECA
from . import (connect, default_timeout, parse_int, parse_int_option, parse_options,
               parse_timeout, version_line, wait_time)
from ._format import (Options, Printer, char_text, dbr2str, dbr_type_from_text,
                      val2str, values_of)

__all__ = ["main"]

TOOL = "caget"
SPEC = "taicnhsSVe:f:g:l:#:d:0:w:p:F:"
VALID_DOUBLE_DIGITS = 18

USAGE = """
Usage: caget [options] <PV name> ...

  -h: Help: this text
  -V: Version: EPICS and CA versions
Channel Access options:
  -w <sec>: Wait time (CA timeout), default %f second(s)
  -c: Asynchronous get (get with callback, wait for completion)
  -p <prio>: CA priority (0-%d, default 0=lowest)
Format options:
      Default output format is "name value"
  -t: Terse mode - the value only
  -a: Wide mode "name timestamp value stat sevr" (DBR_TIME_xxx)
  -d <type>: Request a DBR type, as name (DBR_ prefix optional) or number
Enum format:
  -n: Print DBF_ENUM values as number (default is the enum string)
Arrays: number of values, then the values
  -# <count>: Print the first <count> elements of an array
  -S:         Print an array of char as a string (long string)
Floating point format:
  Default: %%g
  -e <nr>: %%e format with <nr> digits
  -f <nr>: %%f format with <nr> digits
  -g <nr>: %%g format with <nr> digits
  -s:      Get the value as string (server-side precision)
  -lx, -lo, -lb: Round to long integer, print as hex, octal, binary
Integer number format:
  -0x, -0o, -0b: Print as hex, octal, binary
Output field separator:
  -F <ofs>: Use <ofs> as the output field separator

"""


class _Pv(object):
    __slots__ = ("name", "entry", "dbf", "dbr", "n_elems", "status", "value")

    def __init__(self, name, entry):
        self.name = name
        self.entry = entry
        self.dbf = -1
        self.dbr = -1
        self.n_elems = 0
        self.status = ECA.NORMAL
        self.value = None


def parse_float_format(opt, arg, opts):
    digits = parse_int(arg)
    if digits is None:
        sys.stderr.write("Invalid precision argument '%s' for option '-%s' - ignored.\n"
                         % (arg, opt))
    elif 0 <= digits <= VALID_DOUBLE_DIGITS:
        opts.double_format = "%%-.%d%s" % (digits, opt)
    else:
        sys.stderr.write("Precision %d for option '-%s' out of range - ignored.\n"
                         % (digits, opt))


def parse_int_format(opt, arg, opts):
    """-0x/-lx ...; returns True for a valid non-decimal choice."""
    kind = {"x": "hex", "b": "bin", "o": "oct"}.get(arg[:1])
    if kind is None:
        sys.stderr.write("Invalid argument '%s' for option '-%s' - ignored.\n" % (arg, opt))
        return False
    if opt == "0":
        opts.int_format = kind
    else:
        opts.float_int_format = kind
    return True


def _issue(pvs, form, dbr_type, req_elems, enum_as_number, float_as_string, callback):
    """Issue the reads; return (group or None, pending list, callback state)."""
    gid = None if callback else _shared.acquire_group()
    state = {"left": 0, "event": threading.Event(), "lock": threading.Lock()}
    for pv in pvs:
        chid = pv.entry.chid
        n_elems = ca.element_count(chid)
        pv.dbf = int(ca.field_type(chid))
        pv.dbr = dbr_type
        if form != "dbr":
            pv.dbr = _m.dbf_type_to_DBR_TIME(pv.dbf)
            if _m.dbr_type_is_ENUM(pv.dbr):
                pv.dbr = _m.DBR_TIME_INT if enum_as_number else _m.DBR_TIME_STRING
            elif float_as_string and (_m.dbr_type_is_FLOAT(pv.dbr)
                                      or _m.dbr_type_is_DOUBLE(pv.dbr)):
                pv.dbr = _m.DBR_TIME_STRING
        if ca.state(chid) != ca.ChannelState.CONN:
            pv.status = ECA.DISCONN
            continue
        if callback:
            count = min(req_elems, n_elems)

            def done(args, pv=pv):
                pv.status = args["status"]
                if args["status"] == ECA.NORMAL:
                    pv.value = args["value"]
                    pv.n_elems = args["count"]
                with state["lock"]:
                    state["left"] -= 1
                    if state["left"] == 0:
                        state["event"].set()
            with state["lock"]:
                state["left"] += 1
            status, _ = ca.get(chid, pv.dbr, count, callback=done)
            if status != ECA.NORMAL:
                with state["lock"]:
                    state["left"] -= 1
        else:
            pv.n_elems = req_elems if 0 < req_elems < n_elems else n_elems
            status, dbrvalue = ca.sg_get(gid, chid, pv.dbr, pv.n_elems, False)
            pv.value = dbrvalue
        pv.status = status
    if callback and state["left"] == 0:
        state["event"].set()
    return gid, state


def _read(pvs, timeout, form, dbr_type, req_elems, enum_as_number, float_as_string,
          callback):
    gid, state = _issue(pvs, form, dbr_type, req_elems, enum_as_number, float_as_string,
                        callback)
    ca.flush_io()
    if callback:
        if not state["event"].wait(wait_time(timeout)):
            sys.stderr.write("Read operation timed out: some PV data was not read.\n")
        return
    limit = wait_time(timeout)
    status = ca.sg_block(gid, 0 if limit is None else limit)
    while status == ECA.TIMEOUT and limit is None:
        status = ca.sg_block(gid, 1.0)
    completed = status == ECA.NORMAL
    if not completed:
        sys.stderr.write("Read operation timed out: some PV data was not read.\n")
        ca.sg_reset(gid)
    for pv in pvs:
        if pv.status == ECA.NORMAL:
            pv.value = pv.value.get() if completed else None
        else:
            pv.value = None
    _shared.release_group(gid, completed)


def _problem(pv):
    if pv.status == ECA.DISCONN:
        return "*** not connected"
    if pv.status == ECA.NORDACCESS:
        return "*** no read access"
    if pv.status != ECA.NORMAL:
        return "*** CA error %s" % ca.message(int(pv.status))
    if pv.value is None:
        return "*** no data available (timeout)"
    return None


def _value_text(pv, opts, req_elems, count_prefix):
    elements, meta = values_of(pv.value)
    sep = opts.separator
    if opts.char_as_string and _m.dbr_type_is_CHAR(pv.dbr) and (req_elems or pv.n_elems > 1):
        return char_text(elements, pv.n_elems)
    text = ""
    if count_prefix and (req_elems or pv.n_elems > 1):
        text = "%d%s" % (pv.n_elems, sep)
    return text + sep.join(val2str(e, pv.dbr, opts, meta) for e in elements[:pv.n_elems])


def print_pvs(pvs, form, opts, req_elems, out):
    sep = opts.separator
    printer = Printer(opts, out)
    for pv in pvs:
        if form in ("plain", "terse"):
            head = ""
            if form == "plain":
                head = ("%-30s" % pv.name if pv.n_elems <= 1 and sep == " " else pv.name) + sep
            problem = _problem(pv)
            out.write(head + (problem or _value_text(pv, opts, req_elems, True)) + "\n")
        elif form == "all":
            problem = None
            if pv.status != ECA.NORMAL:
                problem = pv.status
            out.write(printer.line(pv.name, pv.value, pv.dbr, req_elems, pv.n_elems,
                                   problem) + "\n")
        else:
            out.write(pv.name + "\n")
            problem = _problem(pv)
            if pv.status != ECA.NORMAL:
                out.write("    " + problem + "\n")
                continue
            out.write("    Native data type: %s\n" % _m.dbf_type_to_text(pv.dbf))
            out.write("    Request type:     %s\n" % _m.dbr_type_to_text(pv.dbr))
            if pv.value is None:
                out.write("    " + problem + "\n")
                continue
            if pv.dbr == _m.DBR_CLASS_NAME:
                out.write("    Class Name:       %s\n" % values_of(pv.value)[0][0])
                continue
            out.write("    Element count:    %d\n    Value:            " % pv.n_elems)
            out.write(_value_text(pv, opts, req_elems, False) + "\n")
            if pv.dbr > _m.DBR_DOUBLE:
                out.write(dbr2str(pv.value, pv.dbr) + "\n")


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run caget with *argv* (default ``sys.argv[1:]``); return the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    opts = Options()
    timeout = default_timeout()
    form = "plain"
    callback = False
    count = 0
    dbr_type = -1
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
        if opt in "tad":
            if form != "plain":
                sys.stderr.write("Options t,d,a are mutually exclusive. "
                                 "('caget -h' for help.)\n")
            form = {"t": "terse", "a": "all", "d": "dbr"}[opt]
            if opt == "d":
                dbr_type = dbr_type_from_text(arg)
                if dbr_type < _m.DBR_STRING or dbr_type > _m.DBR_CLASS_NAME or \
                        dbr_type in (_m.DBR_PUT_ACKT, _m.DBR_PUT_ACKS):
                    sys.stderr.write("Requested dbr type out of range or invalid - ignored. "
                                     "('caget -h' for help.)\n")
                    form = "plain"
        elif opt == "c":
            callback = True
        elif opt == "n":
            opts.enum_as_number = True
        elif opt == "w":
            timeout = parse_timeout(TOOL, arg, timeout)
        elif opt == "#":
            count = parse_int_option(TOOL, arg, "array element count") or 0
        elif opt == "p":
            parse_int_option(TOOL, arg, "CA priority")
        elif opt == "s":
            float_as_string = True
        elif opt == "S":
            opts.char_as_string = True
        elif opt in "efg":
            parse_float_format(opt, arg, opts)
        elif opt in "l0":
            if parse_int_format(opt, arg, opts) and opt == "0":
                dbr_type = _m.DBR_LONG
        elif opt == "F":
            opts.separator = arg[:1] if arg else "\0"
    if not names:
        sys.stderr.write("No pv name specified. ('caget -h' for help.)\n")
        return 1
    entries, failed = connect(names, timeout)
    if failed:
        return 1
    pvs = [_Pv(name, entry) for name, entry in zip(names, entries)]
    count = max(count, 0)
    _read(pvs, timeout, form, dbr_type, count, opts.enum_as_number, float_as_string,
          callback)
    print_pvs(pvs, form, opts, count, sys.stdout)
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
