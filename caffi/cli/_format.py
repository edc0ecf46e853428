"""Output formatting shared by the CA command line tools (EPICS base's tool_lib).

The formats follow EPICS base's ``caget``/``caput``/``camonitor``: values of
the plain DBR types (``val2str``), the metadata block of ``caget -d``
(``dbr2str``), the wide ``name timestamp value stat sevr`` line, C escaping of
strings and C's ``printf`` number formats.  Number formats are C's, applied
through Python's ``%`` operator, which implements the same conversions.
"""
import sys
import time

from .. import macros as _m

__all__ = ["Options", "Printer", "escape", "raw_from_escaped", "val2str", "dbr2str",
           "format_stamp", "values_of", "char_text", "dbr_type_from_text",
           "CONDITION_TEXT", "SEVERITY_TEXT", "alarm_text"]

#: epicsAlarmConditionStrings / epicsAlarmSeverityStrings.
CONDITION_TEXT = ("NO_ALARM", "READ", "WRITE", "HIHI", "HIGH", "LOLO", "LOW", "STATE",
                  "COS", "COMM", "TIMEOUT", "HWLIMIT", "CALC", "SCAN", "LINK", "SOFT",
                  "BAD_SUB", "UDF", "DISABLE", "SIMM", "READ_ACCESS", "WRITE_ACCESS")
SEVERITY_TEXT = ("NO_ALARM", "MINOR", "MAJOR", "INVALID")

_EPICS_EPOCH = _m.POSIX_TIME_AT_EPICS_EPOCH
_ESCAPES = {7: "\\a", 8: "\\b", 12: "\\f", 10: "\\n", 13: "\\r", 9: "\\t", 11: "\\v",
            92: "\\\\", 39: "\\'", 34: '\\"', 0: "\\0"}
_UNESCAPES = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92,
              "'": 39, '"': 34, "0": 0}


def alarm_text(table, code):
    """Text of an alarm status or severity code, ``??`` if out of range."""
    code = int(code)
    return table[code] if 0 <= code < len(table) else "??"


def escape(raw):
    """C-escape *raw* bytes as ``epicsStrnEscapedFromRaw`` (C locale)."""
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    out = []
    for byte in bytearray(raw):
        text = _ESCAPES.get(byte)
        if text is None:
            text = chr(byte) if 32 <= byte < 127 else "\\x%02x" % byte
        out.append(text)
    return "".join(out)


def raw_from_escaped(text, limit=None):
    """Bytes of *text* with C escapes resolved (``epicsStrnRawFromEscaped``).

    A raw NUL ends the text; ``\\0`` gives a NUL byte.  *limit* caps the
    length (buffer size minus the terminating NUL).
    """
    src = text.encode("utf-8") if isinstance(text, str) else bytes(text)
    out = bytearray()
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        i += 1
        if c == 0:
            break
        if c != 92:  # backslash
            out.append(c)
            continue
        if i >= n:
            break
        c = chr(src[i])
        i += 1
        if c == "x":
            digits = ""
            while i < n and len(digits) < 2 and chr(src[i]) in "0123456789abcdefABCDEF":
                digits += chr(src[i])
                i += 1
            if digits:
                out.append(int(digits, 16))
            continue
        out.append(_UNESCAPES.get(c, ord(c)))
    if limit is not None:
        del out[limit:]
    return bytes(out)


def format_stamp(seconds, nanoseconds):
    """``%Y-%m-%d %H:%M:%S.%06f`` in local time, as ``epicsTimeToStrftime``.

    *seconds* is POSIX time; a zero EPICS stamp is ``<undefined>``.
    """
    if seconds == _EPICS_EPOCH and nanoseconds == 0:
        return "<undefined>"
    if nanoseconds >= 1000000000:
        return time.strftime("%Y-%m-%d %H:%M:%S.", time.localtime(seconds)) + "OVF"
    frac = min(nanoseconds + 500, 999999999) // 1000
    return time.strftime("%Y-%m-%d %H:%M:%S.", time.localtime(seconds)) + "%06d" % frac


def _now_stamp():
    now = time.time()
    seconds = int(now)
    return seconds, int((now - seconds) * 1e9)


class Options(object):
    """Formatting options of the tools (tool_lib's globals)."""

    def __init__(self):
        self.double_format = "%g"  # -e/-f/-g
        self.int_format = "dec"  # -0x/-0o/-0b: hex, oct, bin
        self.float_int_format = "dec"  # -lx/-lo/-lb
        self.enum_as_number = False  # -n
        self.char_as_string = False  # -S
        self.separator = " "  # -F
        self.ts_server = True  # camonitor -t
        self.ts_client = False
        self.ts_type = "absolute"  # relative, incremental, incrementalByChan


def _long(value, kind):
    if kind == "bin":
        if value == 0:
            return "0"
        return format(value & 0xFFFFFFFF, "b")
    if kind == "oct":
        return "0o%o" % (value & 0xFFFFFFFF)
    if kind == "hex":
        return "0x%X" % (value & 0xFFFFFFFF)
    return "%d" % value


def _round_long(value):
    value = value + 0.5 if value > 0.0 else value - 0.5
    value = int(value)  # C truncates toward zero
    return ((value + 0x80000000) & 0xFFFFFFFF) - 0x80000000


def val2str(value, dbrtype, opts, meta=None):
    """One element *value* of *dbrtype* as tool_lib's ``val2str``.

    *meta* is the converted dict of a GR/CTRL enum (for its labels).
    """
    vtype = dbrtype % (_m.LAST_TYPE + 1)
    if dbrtype in (_m.DBR_STSACK_STRING, _m.DBR_CLASS_NAME):
        vtype = _m.DBR_STRING
    if vtype == _m.DBR_STRING:
        return escape(value)
    if vtype in (_m.DBR_FLOAT, _m.DBR_DOUBLE):
        if opts.float_int_format == "dec":
            return opts.double_format % value
        return _long(_round_long(value), opts.float_int_format)
    if vtype == _m.DBR_CHAR:
        return "%d" % (value - 256 if value > 127 else value)  # C char is signed
    if vtype in (_m.DBR_SHORT, _m.DBR_LONG):
        return _long(int(value), opts.int_format)
    # DBR_ENUM
    if (_m.dbr_type_is_GR(dbrtype) or _m.dbr_type_is_CTRL(dbrtype)) \
            and not opts.enum_as_number and meta is not None:
        if value >= _m.MAX_ENUM_STATES:
            return "Illegal Value (%d)" % value
        if value >= meta["no_str"]:
            return "Enum Index Overflow (%d)" % value
        return meta["strs"][value]
    return "%d" % value


def values_of(converted):
    """``(list of elements, metadata dict or None)`` of a converted DBR."""
    if isinstance(converted, dict):
        value = converted["value"]
        meta = converted
    else:
        value, meta = converted, None
    if isinstance(value, (list, tuple)):
        return list(value), meta
    if hasattr(value, "tolist") and getattr(value, "ndim", 0):
        return value.tolist(), meta
    return [value], meta


def char_text(elements, limit=None):
    """Escaped text of a char array up to its first NUL (``-S``)."""
    raw = bytes(bytearray(int(x) & 0xFF for x in elements[:limit]))
    return escape(raw.split(b"\0", 1)[0])


def _sts_lines(meta):
    return ("    Status:           %s\n    Severity:         %s"
            % (alarm_text(CONDITION_TEXT, meta["status"]),
               alarm_text(SEVERITY_TEXT, meta["severity"])))


def _signed_char(value):
    value = int(value) & 0xFF
    return value - 256 if value > 127 else value


def dbr2str(meta, dbrtype):
    """The metadata block ``caget -d`` prints after the value (``dbr2str``)."""
    if dbrtype <= _m.DBR_DOUBLE:
        return ""
    if dbrtype == _m.DBR_STSACK_STRING:
        return _sts_lines(meta) + ("\n    Ack transient?:   %s\n    Ack severity:     %s"
                                   % ("YES" if meta["ackt"] else "NO",
                                      alarm_text(SEVERITY_TEXT, meta["acks"])))
    if _m.dbr_type_is_STS(dbrtype) or dbrtype in (_m.DBR_GR_STRING, _m.DBR_CTRL_STRING):
        return _sts_lines(meta)
    if _m.dbr_type_is_TIME(dbrtype):
        stamp = meta["stamp"]
        return ("    Timestamp:        %s\n"
                % format_stamp(stamp["seconds"], stamp["nanoseconds"])) + _sts_lines(meta)
    if _m.dbr_type_is_ENUM(dbrtype):
        text = _sts_lines(meta) + "\n    Enums:            (%2d)" % meta["no_str"]
        for i, label in enumerate(meta["strs"]):
            text += "\n                      [%2d] %s" % (i, label)
        return text
    vtype = dbrtype % (_m.LAST_TYPE + 1)
    if vtype in (_m.DBR_FLOAT, _m.DBR_DOUBLE):
        fmt = "%g"
        conv = float
    else:
        fmt = "%8d"
        conv = _signed_char if vtype == _m.DBR_CHAR else int
    lines = [_sts_lines(meta), "    Units:            %s" % meta["units"]]
    if vtype in (_m.DBR_FLOAT, _m.DBR_DOUBLE):
        lines.append("    Precision:        %d" % meta["precision"])
    for label, key in (("Lo disp limit:    ", "lower_disp_limit"),
                       ("Hi disp limit:    ", "upper_disp_limit"),
                       ("Lo alarm limit:   ", "lower_alarm_limit"),
                       ("Lo warn limit:    ", "lower_warning_limit"),
                       ("Hi warn limit:    ", "upper_warning_limit"),
                       ("Hi alarm limit:   ", "upper_alarm_limit")):
        lines.append("    " + label + fmt % conv(meta[key]))
    if _m.dbr_type_is_CTRL(dbrtype):
        lines.append("    Lo ctrl limit:    " + fmt % conv(meta["lower_ctrl_limit"]))
        lines.append("    Hi ctrl limit:    " + fmt % conv(meta["upper_ctrl_limit"]))
    return "\n".join(lines)


def _diff(new, ref):
    return (new[0] - ref[0]) + (new[1] - ref[1]) / 1e9


class Printer(object):
    """Prints the wide ``name timestamp value stat sevr`` lines (with state
    for camonitor's relative and incremental time stamps)."""

    def __init__(self, opts, out=None):
        self.opts = opts
        self.out = out or sys.stdout
        self.start = _now_stamp()
        self.first_server = None
        self.prev_client = None
        self.prev_server = None
        self.by_channel = {}
        self.printed = set()

    def line(self, name, converted=None, dbrtype=None, req_elems=0, n_elems=1,
             problem=None):
        """Text of one wide line (without the newline).

        *problem* is ``'never'`` (never connected), ``'disconnected'``, an ECA
        status, or None with a value in *converted*.
        """
        opts = self.opts
        sep = opts.separator
        parts = []
        if n_elems <= 1 and sep == " ":
            parts.append("%-30s" % name)
        else:
            parts.append(name)
        parts.append(sep)
        client = _now_stamp()
        now_text = format_stamp(*client)
        if problem == "never":
            return "".join(parts) + "*** Not connected (PV not found)"
        if problem == "disconnected":
            return "".join(parts) + "%s *** disconnected" % now_text
        if problem is not None:
            from .. import ca
            if int(problem) == _m.ECA_NORDACCESS:
                return "".join(parts) + "%s *** no read access" % now_text
            return "".join(parts) + "%s *** CA error %s" % (now_text, ca.message(int(problem)))
        if converted is None:
            return "".join(parts) + "%s *** no data available (timeout)" % now_text
        elements, meta = values_of(converted)
        stamp = meta["stamp"]
        server = (stamp["seconds"], stamp["nanoseconds"])
        if self.first_server is None:
            self.first_server = server
        print_abs = name not in self.printed
        kind = opts.ts_type
        if kind == "relative":
            ref_c, ref_s = self.start, self.first_server
        elif kind == "incremental":
            ref_c, ref_s = self.prev_client, self.prev_server
        elif kind == "incrementalByChan":
            ref_c, ref_s = self.by_channel.get(name, (None, None))
        else:
            print_abs = True
            ref_c = ref_s = None
        if print_abs or ref_s is None or ref_c is None:
            if opts.ts_server:
                parts.append(format_stamp(*server))
            if opts.ts_client:
                parts.append("(%s)" % now_text)
            self.printed.add(name)
        else:
            if opts.ts_server:
                parts.append("              %+12.6f" % _diff(server, ref_s))
            if opts.ts_client:
                parts.append("              (%+12.6f)" % _diff(client, ref_c))
        if kind == "incrementalByChan":
            self.by_channel[name] = (client, server)
        self.prev_client, self.prev_server = client, server
        if opts.char_as_string and _m.dbr_type_is_CHAR(dbrtype) and \
                (req_elems or n_elems > 1):
            limit = req_elems if req_elems and req_elems < n_elems else n_elems
            parts.append(sep + char_text(elements, limit))
        else:
            if req_elems or n_elems > 1:
                parts.append("%s%d" % (sep, n_elems))
            for element in elements[:n_elems]:
                parts.append(sep + val2str(element, dbrtype, opts, meta))
        if int(meta["status"]) or int(meta["severity"]):
            parts.append("%s%s%s%s" % (sep, alarm_text(CONDITION_TEXT, meta["status"]), sep,
                                       alarm_text(SEVERITY_TEXT, meta["severity"])))
        else:
            parts.append(sep + sep)
        return "".join(parts)


def dbr_type_from_text(text):
    """A ``-d`` argument (number, ``DBR_XXX`` or ``XXX``) as a DBR code, or -1."""
    try:
        return int(text.strip().split()[0]) if text.strip() else -1
    except ValueError:
        pass
    code = _m.dbr_text_to_type(text)
    if code == -1:
        code = _m.dbr_text_to_type("DBR_" + text[:25])
    return code

