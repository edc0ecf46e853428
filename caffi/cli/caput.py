"""``caput``: write a PV and print the old and new values as EPICS base's caput.

Example: ``caput my_channel 1.2``; ``caput -a my_array 3 1 2 3``
"""
import sys
from typing import Optional, Sequence
import threading

import numpy

from .. import _shared, ca
from .. import macros as _m
from ..constants import ECA
from . import (connect, default_timeout, parse_int_option, parse_options, parse_timeout,
               version_line, wait_time)
from ._format import Options, Printer, char_text, raw_from_escaped, val2str, values_of

__all__ = ["main"]

TOOL = "caput"
SPEC = "cnlhatsVS#:w:p:F:"

USAGE = """
Usage: caput [options] <PV name> <PV value> ...
       caput -a [options] <PV name> <no of values> <PV value> ...

  -h: Help: this text
  -V: Version: EPICS and CA versions
Channel Access options:
  -w <sec>:  Wait time (CA timeout), default %f second(s)
  -c: Asynchronous put (put with callback, wait for completion)
  -p <prio>: CA priority (0-%d, default 0=lowest)
Format options:
  -t: Terse mode - the written value only, without name
  -l: Long mode "name timestamp value stat sevr" (DBR_TIME_xxx)
Enum format:
  Default: try the value as an enum string, then as an index
  -n: Values are numbers
  -s: Values are strings
Arrays:
  Default: put a scalar (all value arguments joined with spaces)
  -S: Put a string as an array of chars (long string)
  -a: Put an array: number of values, then the values
Output field separator:
  -F <ofs>: Use <ofs> as the output field separator

"""

_EPICS_STRING = _m.MAX_STRING_SIZE


def _error(text):
    label = "\033[31;1mERROR\033[0m" if sys.stderr.isatty() else "ERROR"
    sys.stderr.write("%s %s\n" % (label, text))


def _strtod(text):
    """C ``strtod`` of the whole leading number, or None if none."""
    text = text.strip()
    for end in range(len(text), 0, -1):
        try:
            return float(text[:end])
        except ValueError:
            continue
    return None


def _read_back(entry, name, fmt, opts, timeout, printer, out):
    """Print the current value as caput's internal caget does."""
    chid = entry.chid
    n_elems = ca.element_count(chid)
    dbf = int(ca.field_type(chid))
    dbr = _m.dbf_type_to_DBR_TIME(dbf)
    if _m.dbr_type_is_ENUM(dbr):
        dbr = _m.DBR_TIME_INT if opts.enum_as_number else _m.DBR_TIME_STRING
    gid = _shared.acquire_group()
    status, dbrvalue = ca.sg_get(gid, chid, dbr, n_elems, False)
    value = None
    completed = False
    if status == ECA.NORMAL:
        limit = wait_time(timeout)
        result = ca.sg_block(gid, 0 if limit is None else limit)
        while result == ECA.TIMEOUT and limit is None:
            result = ca.sg_block(gid, 1.0)
        if result == ECA.NORMAL:
            completed = True
            value = dbrvalue.get()
        else:
            sys.stderr.write("Read operation timed out: PV data was not read.\n")
            ca.sg_reset(gid)
    _shared.release_group(gid, completed)
    sep = opts.separator
    if fmt == "all":
        problem = None if status == ECA.NORMAL else status
        out.write(printer.line(name, value, dbr, 0, n_elems, problem) + "\n")
        return
    head = ""
    if fmt == "plain":
        head = ("%-30s" % name if n_elems <= 1 and sep == " " else name) + sep
    if status == ECA.NORDACCESS:
        text = "*** no read access"
    elif status != ECA.NORMAL:
        text = "*** CA error %s" % ca.message(int(status))
    elif value is None:
        text = "*** no data available (timeout)"
    else:
        elements, meta = values_of(value)
        if opts.char_as_string and _m.dbr_type_is_CHAR(dbr) and n_elems > 1:
            text = char_text(elements, n_elems)
        else:
            text = "%d%s" % (n_elems, sep) if n_elems > 1 else ""
            text += sep.join(val2str(e, dbr, opts, meta) for e in elements[:n_elems])
    out.write(head + text + "\n")


def _enum_values(entry, args, enum_as_number, enum_as_string, timeout):
    """Values for an ENUM channel: ``(dbrtype, values)`` or None after a message."""
    gid = _shared.acquire_group()
    status, dbrvalue = ca.sg_get(gid, entry.chid, _m.DBR_GR_ENUM, 1, False)
    limit = wait_time(timeout)
    result = ca.sg_block(gid, 0 if limit is None else limit) if status == ECA.NORMAL \
        else status
    if result != ECA.NORMAL:
        ca.sg_reset(gid)
        _shared.release_group(gid, False)
        sys.stderr.write("Read operation timed out: ENUM data was not read.\n")
        return None
    _shared.release_group(gid, True)
    labels = dbrvalue.get()["strs"]
    if enum_as_number:
        numbers = []
        for arg in args:
            number = _strtod(arg)
            if number is None:
                sys.stderr.write("Enum index value '%s' is not a number.\n" % arg)
                return None
            if number >= len(labels):
                sys.stderr.write("Warning: enum index value '%s' may be too large.\n" % arg)
            numbers.append(number)
        return _m.DBR_DOUBLE, numbers
    strings = [raw_from_escaped(arg, _EPICS_STRING - 1) for arg in args]
    dbrtype = _m.DBR_STRING
    numbers = []
    for raw in strings:
        text = raw.decode("utf-8", "replace")
        if text in labels:
            numbers.append(float(labels.index(text)))
            continue
        number = _strtod(text)
        if number is None or enum_as_string:
            sys.stderr.write("Enum string value '%s' invalid.\n" % text)
            return None
        if number >= len(labels):
            sys.stderr.write("Warning: enum index value '%s' may be too large.\n" % text)
        numbers.append(number)
        dbrtype = _m.DBR_DOUBLE
    if dbrtype == _m.DBR_DOUBLE:
        return dbrtype, numbers
    return dbrtype, strings


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run caput with *argv* (default ``sys.argv[1:]``); return the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    opts = Options()
    timeout = default_timeout()
    fmt = "plain"
    callback = False
    is_array = False
    enum_as_string = False
    parsed = parse_options(TOOL, argv, SPEC, permute=False)
    if parsed == 1:
        return 1
    options, args = parsed
    for opt, arg in options:
        opt = opt[1:]
        if opt == "h":
            sys.stderr.write(USAGE % (1.0, _m.CA_PRIORITY_MAX))
            return 0
        if opt == "V":
            sys.stdout.write(version_line())
            return 0
        if opt == "n":
            opts.enum_as_number, enum_as_string = True, False
        elif opt == "s":
            opts.enum_as_number, enum_as_string = False, True
        elif opt == "S":
            opts.char_as_string, is_array = True, False
        elif opt == "t":
            fmt = "terse"
        elif opt == "l":
            fmt = "all"
        elif opt == "a":
            is_array, opts.char_as_string = True, False
        elif opt == "c":
            callback = True
        elif opt == "w":
            timeout = parse_timeout(TOOL, arg, timeout)
        elif opt == "#":
            parse_int_option(TOOL, arg, "array element count")
        elif opt == "p":
            parse_int_option(TOOL, arg, "CA priority")
        elif opt == "F":
            opts.separator = arg[:1] if arg else "\0"
    if not args:
        sys.stderr.write("No pv name specified. ('caput -h' for help.)\n")
        return 1
    if len(args) == 1:
        sys.stderr.write("No value specified. ('caput -h' for help.)\n")
        return 1
    name = args[0]
    (entry,), failed = connect([name], timeout)
    if failed:
        return 1
    chid = entry.chid
    if is_array:
        values_text = args[2:]
    else:
        values_text = [" ".join(args[1:])]
    if int(ca.field_type(chid)) == _m.DBF_ENUM:
        result = _enum_values(entry, values_text, opts.enum_as_number, enum_as_string,
                              timeout)
        if result is None:
            return 1
        dbrtype, values = result
    elif opts.char_as_string:
        raw = raw_from_escaped(values_text[0])
        dbrtype, values = _m.DBR_CHAR, list(bytearray(raw + b"\0"))
    else:
        dbrtype = _m.DBR_STRING
        values = [raw_from_escaped(text, _EPICS_STRING - 1) for text in values_text]
    printer = Printer(opts, sys.stdout)
    if fmt != "terse":
        sys.stdout.write("Old : ")
        _read_back(entry, name, fmt, opts, timeout, printer, sys.stdout)
    count = len(values)
    if dbrtype == _m.DBR_CHAR:
        payload = numpy.array(values, dtype=numpy.uint8)
    elif dbrtype == _m.DBR_DOUBLE:
        payload = numpy.array(values, dtype=numpy.float64) if count > 1 else values[0]
    else:
        payload = values if count > 1 else values[0]
    if count > ca.element_count(chid):
        # What ca_array_put answers (caffi.ca.put clamps the count instead).
        _error("from put operation: %s" % ca.message(int(ECA.BADCOUNT)))
        return 1
    done = threading.Event()
    outcome = {}
    if callback:
        def finished(args):
            outcome["status"] = args["status"]
            done.set()
        status = ca.put(chid, payload, dbrtype, count, callback=finished)
    else:
        status = ca.put(chid, payload, dbrtype, count)
    if status != ECA.NORMAL:
        _error("from put operation: %s" % ca.message(int(status)))
        return 1
    ca.flush_io()
    if callback:
        if not done.wait(wait_time(timeout)):
            sys.stderr.write("Write callback operation timed out\n")
        status = outcome.get("status", ECA.NORMAL)
        if status != ECA.NORMAL:
            _error("occured writing data: %s" % ca.message(int(status)))
            return 1
    if fmt != "terse":
        sys.stdout.write("New : ")
    _read_back(entry, name, fmt, opts, timeout, printer, sys.stdout)
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
