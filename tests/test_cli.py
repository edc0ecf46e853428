"""The caget/caput/camonitor/cainfo tools: options, output formats and exit codes
of EPICS base's tools of the same names (modules/ca/src/tools)."""
import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

import _ioc
from caffi.cli import caget as caget_tool
from caffi.cli import cainfo as cainfo_tool
from caffi.cli import camonitor as camonitor_tool
from caffi.cli import caput as caput_tool
from caffi.simple import caput

STAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}"


# "alarm" leaves and re-enters its HIHI alarm, so the alarm is unacknowledged
# (ACKS MAJOR) even after another module acknowledged it with DBR_PUT_ACKS.
BASELINE = (("longin", 42), ("stringin", "hello"), ("bi", 1), ("mbbi", 2), ("alarm", 0),
            ("alarm", 95),
            ("ai", 1.5), ("ao", 2.25), ("mbbo", 1), ("longout", 7), ("stringout", "world"))

pytestmark = pytest.mark.usefixtures("record_baseline", "shared_cache")


@pytest.fixture
def run(capsys):
    """``run(tool, *args)`` -> (exit code, stdout, stderr) of an in-process run."""
    tools = {"caget": caget_tool, "caput": caput_tool, "cainfo": cainfo_tool,
             "camonitor": camonitor_tool}

    def call(tool, *args):
        capsys.readouterr()
        code = tools[tool].main([str(a) for a in args])
        out, err = capsys.readouterr()
        return code, out, err

    return call


@pytest.fixture
def p(ioc):
    return lambda suffix: ioc.prefix + suffix


def _script(tool):
    """The installed console script (next to this interpreter), as users run it."""
    path = os.path.join(os.path.dirname(sys.executable), tool)
    assert os.path.exists(path), "console script %s is not installed" % tool
    return path


def _subprocess(tool, *args, timeout=30):
    proc = subprocess.run([_script(tool)] + [str(a) for a in args],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ),
                          timeout=timeout)
    return proc.returncode, proc.stdout.decode(), proc.stderr.decode()


# caget ----------------------------------------------------------------------------
def test_caget_plain(run, p):
    caput(p("ai"), 1.5, wait=True)
    code, out, err = run("caget", p("ai"), p("stringin"), p("mbbi"))
    assert code == 0 and err == ""
    assert out == ("%-30s 1.5\n%-30s hello\n%-30s two\n"
                   % (p("ai"), p("stringin"), p("mbbi")))


def test_caget_terse_and_array(run, p, ioc):
    ioc.dbpf_array(p("wf:long"), [1, -2, 3])
    code, out, _ = run("caget", "-t", p("longin"), p("wf:long"))
    assert out == "42\n16 1 -2 3" + " 0" * 13 + "\n"
    code, out, _ = run("caget", p("wf:long"))
    assert out == "%s 16 1 -2 3%s\n" % (p("wf:long"), " 0" * 13)


def test_caget_count(run, p, ioc):
    ioc.dbpf_array(p("wf:long"), [1, -2, 3])
    code, out, _ = run("caget", "-#", 2, p("wf:long"))
    assert out == "%s 2 1 -2\n" % p("wf:long")
    # A count for a scalar prints the count too, as in EPICS base.
    code, out, _ = run("caget", "-#", 1, p("longin"))
    assert out == "%-30s 1 42\n" % p("longin")


def test_caget_callback_reads_current_length(run, p, ioc):
    ioc.dbpf_array(p("wf:short"), [4, 5, 6])
    code, out, _ = run("caget", "-c", p("wf:short"))
    assert code == 0 and out == "%s 3 4 5 6\n" % p("wf:short")


def test_caget_wide(run, p):
    caput(p("ai"), 1.5, wait=True)
    code, out, _ = run("caget", "-a", p("ai"), p("alarm"))
    lines = out.splitlines()
    assert re.fullmatch(re.escape("%-30s " % p("ai")) + STAMP + " 1.5  ", lines[0]), lines[0]
    assert re.fullmatch(re.escape("%-30s " % p("alarm")) + STAMP + " 95 HIHI MAJOR",
                        lines[1]), lines[1]


def test_caget_dbr_ctrl_double(run, p):
    caput(p("ai"), 1.5, wait=True)
    code, out, _ = run("caget", "-d", "DBR_CTRL_DOUBLE", p("ai"))
    assert out == (
        "%s\n"
        "    Native data type: DBF_DOUBLE\n"
        "    Request type:     DBR_CTRL_DOUBLE\n"
        "    Element count:    1\n"
        "    Value:            1.5\n"
        "    Status:           NO_ALARM\n"
        "    Severity:         NO_ALARM\n"
        "    Units:            mm\n"
        "    Precision:        3\n"
        "    Lo disp limit:    -100\n"
        "    Hi disp limit:    100\n"
        "    Lo alarm limit:   -90\n"
        "    Lo warn limit:    -80\n"
        "    Hi warn limit:    80\n"
        "    Hi alarm limit:   90\n"
        "    Lo ctrl limit:    -100\n"
        "    Hi ctrl limit:    100\n" % p("ai"))


def test_caget_dbr_enum_and_long_types(run, p):
    caput(p("mbbo"), 1, wait=True)
    code, out, _ = run("caget", "-d", "CTRL_ENUM", p("mbbo"))
    assert out.endswith(
        "    Value:            one\n"
        "    Status:           NO_ALARM\n"
        "    Severity:         NO_ALARM\n"
        "    Enums:            ( 4)\n"
        "                      [ 0] zero\n"
        "                      [ 1] one\n"
        "                      [ 2] two\n"
        "                      [ 3] three\n")
    code, out, _ = run("caget", "-n", "-d", "31", p("mbbo"))
    assert "    Value:            1\n" in out
    code, out, _ = run("caget", "-d", "DBR_GR_LONG", p("longin"))
    assert "    Units:            cnt\n    Lo disp limit:       -1000\n" in out
    assert "    Hi alarm limit:        900\n" in out


def test_caget_dbr_gr_char_limits_are_signed(run, p):
    code, out, _ = run("caget", "-d", "GR_CHAR", p("char"))
    assert "    Hi disp limit:          -1\n" in out  # HOPR 255 as a C char


def test_caget_dbr_time_string_stsack_class(run, p):
    code, out, _ = run("caget", "-d", "14", p("stringin"))
    assert re.search(r"    Value:            hello\n    Timestamp:        " + STAMP +
                     r"\n    Status:           NO_ALARM\n    Severity:         NO_ALARM\n$",
                     out), out
    code, out, _ = run("caget", "-d", "STSACK_STRING", p("alarm"))
    assert out.endswith("    Status:           HIHI\n    Severity:         MAJOR\n"
                        "    Ack transient?:   YES\n    Ack severity:     MAJOR\n")
    code, out, _ = run("caget", "-d", "CLASS_NAME", p("ai"))
    assert out == ("%s\n    Native data type: DBF_DOUBLE\n    Request type:     "
                   "DBR_CLASS_NAME\n    Class Name:       ai\n" % p("ai"))


def test_caget_bad_dbr_type(run, p):
    code, out, err = run("caget", "-d", "NOTATYPE", p("longin"))
    assert code == 0
    assert err == ("Requested dbr type out of range or invalid - ignored. "
                   "('caget -h' for help.)\n")
    assert out == "%-30s 42\n" % p("longin")


def test_caget_enum_number_and_string_float(run, p):
    caput(p("mbbo"), 3, wait=True)
    caput(p("ai"), 1.5, wait=True)
    assert run("caget", "-n", p("mbbo"))[1] == "%-30s 3\n" % p("mbbo")
    assert run("caget", "-s", p("ai"))[1] == "%-30s 1.500\n" % p("ai")


@pytest.mark.parametrize("flag, expected", [
    ("-e2", "1.50e+00"), ("-f3", "1.500"), ("-g2", "1.5"), ("-f0", "2"),
    ("-lx", "0x2"), ("-lo", "0o2"), ("-lb", "10")])
def test_caget_float_formats(run, p, flag, expected):
    caput(p("ai"), 1.5, wait=True)
    assert run("caget", "-t", flag, p("ai"))[1] == expected + "\n"


@pytest.mark.parametrize("flag, value, expected", [
    ("-0x", 42, "0x2A"), ("-0o", 42, "0o52"), ("-0b", 42, "101010"), ("-0b", 0, "0"),
    ("-0x", -5, "0xFFFFFFFB")])
def test_caget_integer_formats(run, p, flag, value, expected):
    caput(p("longout"), value, wait=True)
    assert run("caget", "-t", flag, p("longout"))[1] == expected + "\n"


def test_caget_format_errors(run, p):
    code, out, err = run("caget", "-e", "x", "-0q", "-f", "40", "-t", p("longin"))
    assert out == "42\n"
    assert err == ("Invalid precision argument 'x' for option '-e' - ignored.\n"
                   "Invalid argument 'q' for option '-0' - ignored.\n"
                   "Precision 40 for option '-f' out of range - ignored.\n")


def test_caget_char_array_as_string_and_escapes(run, p):
    caput(p("longstr"), 'say "hi"\tnow', wait=True)
    code, out, _ = run("caget", "-S", p("longstr"))
    assert out == '%s say \\"hi\\"\\tnow\n' % p("longstr")
    code, out, _ = run("caget", "-S", "-a", p("longstr"))
    assert re.fullmatch(re.escape(p("longstr")) + " " + STAMP +
                        r' say \\"hi\\"\\tnow( UDF INVALID|  )\n', out), out
    caput(p("stringout"), "\u00e9t\u00e9", wait=True)
    assert run("caget", "-t", p("stringout"))[1] == "\\xc3\\xa9t\\xc3\\xa9\n"


def test_caget_char_is_signed(run, p):
    caput(p("wf:uchar"), [200, 1], wait=True)
    assert run("caget", "-t", "-#", 2, p("wf:uchar"))[1] == "2 -56 1\n"


def test_caget_separator(run, p, ioc):
    caput(p("ai"), 1.5, wait=True)
    ioc.dbpf_array(p("wf:short"), [1, 2])
    code, out, _ = run("caget", "-F,", p("ai"), p("wf:short"))
    assert out == "%s,1.5\n%s,16,1,2%s\n" % (p("ai"), p("wf:short"), ",0" * 14)
    code, out, _ = run("caget", "-a", "-F", "|", p("ai"))
    assert re.fullmatch(re.escape(p("ai") + "|") + STAMP + r"\|1\.5\|\|\n", out), out


def test_caget_missing_pv(run, p):
    start = time.monotonic()
    code, out, err = run("caget", "-w", "0.3", "caffi:no:such")
    assert code == 1 and out == ""
    assert err == "Channel connect timed out: 'caffi:no:such' not found.\n"
    assert time.monotonic() - start < 2.5
    code, out, err = run("caget", "-w", "0.3", p("ai"), "caffi:no:such")
    assert code == 1 and out == ""
    assert err == "Channel connect timed out: some PV(s) not found.\n"


def test_caget_usage_errors(run):
    assert run("caget") == (1, "", "No pv name specified. ('caget -h' for help.)\n")
    assert run("caget", "-z", "x") == (
        1, "", "Unrecognized option: '-z'. ('caget -h' for help.)\n")
    assert run("caget", "-w") == (
        1, "", "Option '-w' requires an argument. ('caget -h' for help.)\n")
    code, out, err = run("caget", "-h")
    assert code == 0 and err.startswith("\nUsage: caget [options] <PV name> ...")
    code, out, err = run("caget", "-t", "-a", "-w", "junk", "-w", "0.01", "caffi:no")
    assert err.startswith("Options t,d,a are mutually exclusive. ('caget -h' for help.)\n"
                          "'junk' is not a valid timeout value - ignored, using '1.0'.")


def test_caget_version_and_priority(run, p):
    code, out, err = run("caget", "-V")
    assert code == 0 and re.fullmatch(r"\nEPICS Version EPICS \S+, CA Protocol version 4\.\d+\n",
                                      out), out
    assert run("caget", "-p", 20, "-t", p("longin"))[1] == "42\n"
    code, out, err = run("caget", "-p", "x", "-t", p("longin"))
    assert (out, err) == ("42\n", "'x' is not a valid CA priority - ignored. "
                                   "('caget -h' for help.)\n")


def test_caget_timeout_from_environment(p, monkeypatch):
    monkeypatch.setenv("EPICS_CLI_TIMEOUT", "0.2")
    start = time.monotonic()
    code, out, err = _subprocess("caget", "caffi:no:such")
    assert code == 1 and "not found" in err
    assert time.monotonic() - start < 10


def test_caget_subprocess(p):
    code, out, err = _subprocess("caget", "-t", p("longin"), p("stringin"))
    assert (code, out, err) == (0, "42\nhello\n", "")
    code, out, err = _subprocess("caget", "-w", "0.2", "caffi:no:such")
    assert code == 1 and out == ""
    assert err == "Channel connect timed out: 'caffi:no:such' not found.\n"


# caput ----------------------------------------------------------------------------
def test_caput_plain_terse_long(run, p):
    caput(p("ao"), 2.25, wait=True)
    code, out, err = run("caput", p("ao"), "3.5")
    assert (code, err) == (0, "")
    assert out == "Old : %-30s 2.25\nNew : %-30s 3.5\n" % (p("ao"), p("ao"))
    assert run("caput", "-t", p("ao"), "4")[1] == "4\n"
    out = run("caput", "-l", p("ao"), "5")[1]
    old, new = out.splitlines()
    assert re.fullmatch("Old : " + re.escape("%-30s " % p("ao")) + STAMP + " 4  ", old), old
    assert re.fullmatch("New : " + re.escape("%-30s " % p("ao")) + STAMP + " 5  ", new), new


def test_caput_callback(run, p):
    code, out, err = run("caput", "-c", "-w", "5", p("scratch"), "-7.5")
    assert code == 0 and out.endswith("New : %-30s -7.5\n" % p("scratch"))


def test_caput_enum(run, p):
    caput(p("mbbo"), 0, wait=True)
    assert run("caput", "-t", p("mbbo"), "two")[1] == "two\n"
    assert run("caput", "-t", p("mbbo"), "3")[1] == "three\n"
    assert run("caput", "-t", "-n", p("mbbo"), "1")[1] == "1\n"
    code, out, err = run("caput", "-s", p("mbbo"), "1")
    assert (code, out, err) == (1, "", "Enum string value '1' invalid.\n")
    code, out, err = run("caput", "-n", p("mbbo"), "one")
    assert (code, out, err) == (1, "", "Enum index value 'one' is not a number.\n")
    code, out, err = run("caput", "-t", p("mbbo"), "9")
    assert err == "Warning: enum index value '9' may be too large.\n"


def test_caput_string_joins_arguments_and_truncates(run, p):
    assert run("caput", "-t", p("stringout"), "a", "b", "c")[1] == "a b c\n"
    assert run("caput", "-t", p("stringout"), "x" * 50)[1] == "x" * 39 + "\n"
    assert run("caput", "-t", p("stringout"), "tab\\there")[1] == "tab\\there\n"


def test_caput_array(run, p):
    code, out, err = run("caput", "-a", p("wf:double"), "3", "1", "2.5", "-3")
    assert code == 0
    assert out.endswith("New : %s 16 1 2.5 -3%s\n" % (p("wf:double"), " 0" * 13))
    code, out, err = run("caput", "-a", p("wf:double"), "20", *range(20))
    assert code == 1
    assert err == "ERROR from put operation: Invalid element count requested\n"


def test_caput_long_string(run, p):
    code, out, err = run("caput", "-S", p("longstr"), "a\\x41b")
    assert out.endswith("New : %s aAb\n" % p("longstr"))
    assert run("caget", "-t", "-S", p("longstr"))[1] == "aAb\n"


def test_caput_separator(run, p):
    code, out, err = run("caput", "-F,", p("ao"), "3")
    assert out == "Old : %s,2.25\nNew : %s,3\n" % (p("ao"), p("ao"))


def test_caput_errors(run, p):
    assert run("caput") == (1, "", "No pv name specified. ('caput -h' for help.)\n")
    assert run("caput", p("ao")) == (1, "", "No value specified. ('caput -h' for help.)\n")
    code, out, err = run("caput", "-w", "0.2", "caffi:no:such", "1")
    assert (code, out) == (1, "")
    assert err == "Channel connect timed out: 'caffi:no:such' not found.\n"


def test_caput_no_write_access(private_ioc):
    server = private_ioc(acf=_ioc.TEST_ACF)
    code, out, err = _subprocess("caput", "-c", "-w", "5", server.prefix + "ro", "9")
    assert code == 1
    assert out.startswith("Old : ")
    assert "ERROR from put operation: Write access denied" in err


# camonitor ------------------------------------------------------------------------
def _monitor(run_args, action=None, duration=1.0):
    """Run camonitor in-process in a thread for *duration* s; return its stdout."""
    stop = threading.Event()
    result = {}

    def body():
        result["code"] = camonitor_tool.main([str(a) for a in run_args], stop=stop)

    thread = threading.Thread(target=body)
    thread.start()
    try:
        time.sleep(duration / 2)
        if action is not None:
            action()
        time.sleep(duration / 2)
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()
    return result["code"]


def test_camonitor_updates_and_missing(capsys, p):
    capsys.readouterr()
    code = _monitor(["-w", "0.3", p("counter"), "caffi:no:such"], duration=1.2)
    out = capsys.readouterr().out
    assert code == 0
    lines = out.splitlines()
    assert "%-30s *** Not connected (PV not found)" % "caffi:no:such" in lines
    counter = [line for line in lines if line.startswith(p("counter"))]
    assert len(counter) >= 5
    for line in counter:
        assert re.fullmatch(re.escape("%-30s " % p("counter")) + STAMP + r" \d+  ", line), line
    values = [int(line.split()[-1]) for line in counter]
    assert values == sorted(values)


def test_camonitor_mask(capsys, p):
    caput(p("scratch"), 0, wait=True)
    capsys.readouterr()
    _monitor(["-m", "a", p("scratch")], lambda: caput(p("scratch"), 5, wait=True))
    assert len(capsys.readouterr().out.splitlines()) == 1  # initial value only
    _monitor(["-m", "va", p("scratch")], lambda: caput(p("scratch"), 6, wait=True))
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[-1] for line in lines] == ["5", "6"]


def test_camonitor_bad_mask_message(capsys, p):
    capsys.readouterr()
    _monitor(["-m", "vx", p("longin")], duration=0.4)
    captured = capsys.readouterr()
    assert captured.err == "Invalid argument 'vx' for option '-m' - ignored.\n"
    assert captured.out.split()[-1] == "42"


def test_camonitor_count_enum_timestamps(capsys, p, ioc):
    ioc.dbpf_array(p("wf:long"), [7, 8, 9])
    caput(p("mbbo"), 2, wait=True)
    capsys.readouterr()
    _monitor(["-#", 2, "-t", "n", "-n", p("wf:long"), p("mbbo")], duration=0.6)
    lines = sorted(capsys.readouterr().out.splitlines())
    # No time stamp: the separator after the name is followed by the count's.
    assert lines == sorted(["%s  2 7 8  " % p("wf:long"), "%-30s  1 2  " % p("mbbo")])


def test_camonitor_string_separator_long_string(capsys, p):
    caput(p("longstr"), "abc", wait=True)
    capsys.readouterr()
    _monitor(["-s", "-S", "-F,", p("ai"), p("longstr")], duration=0.6)
    lines = sorted(capsys.readouterr().out.splitlines())
    assert re.fullmatch(re.escape(p("ai") + ",") + STAMP + r",1\.500,,", lines[0]), lines
    assert re.fullmatch(re.escape(p("longstr") + ",") + STAMP + r",abc,(UDF,INVALID|,)",
                        lines[1]), lines


def test_camonitor_incremental_timestamps(capsys, p):
    capsys.readouterr()
    _monitor(["-t", "si", p("counter")], duration=1.0)
    lines = capsys.readouterr().out.splitlines()
    assert re.fullmatch(re.escape("%-30s " % p("counter")) + STAMP + r" \d+  ", lines[0])
    for line in lines[1:]:
        assert re.fullmatch(re.escape("%-30s " % p("counter")) + r" {17}\+0\.\d{6} \d+  ",
                            line), line


def test_camonitor_disconnect(capsys, private_ioc):
    server = private_ioc()
    name = server.prefix + "longin"
    capsys.readouterr()
    _monitor(["-w", "5", name], server.stop, duration=3.0)
    lines = capsys.readouterr().out.splitlines()
    assert re.fullmatch(re.escape("%-30s " % name) + STAMP + " 42  ", lines[0]), lines
    assert re.fullmatch(re.escape("%-30s " % name) + STAMP + r" \*\*\* disconnected",
                        lines[-1]), lines


def test_camonitor_subprocess_interrupt(p):
    # faulthandler: if it does not stop, SIGABRT makes it print every
    # thread's Python stack, shown in the failure
    proc = subprocess.Popen([_script("camonitor"), p("longin")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=dict(os.environ, PYTHONFAULTHANDLER="1"))
    try:
        line = proc.stdout.readline().decode()
        assert re.fullmatch(re.escape("%-30s " % p("longin")) + STAMP + " 42  \n", line)
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGABRT)
            proc.wait(10)
            pytest.fail("camonitor did not stop on SIGINT:\n" + proc.stderr.read().decode())
        assert code == 130
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()


def test_camonitor_usage(run):
    assert run("camonitor") == (1, "", "No pv name specified. ('camonitor -h' for help.)\n")


# cainfo ---------------------------------------------------------------------------
def test_cainfo(run, p, ioc):
    code, out, err = run("cainfo", p("ai"), p("wf:string"))
    assert (code, err) == (0, "")
    assert out == (
        "%s\n"
        "    State:            connected\n"
        "    Host:             %s\n"
        "    Access:           read, write\n"
        "    Native data type: DBF_DOUBLE\n"
        "    Request type:     DBR_DOUBLE\n"
        "    Element count:    1\n"
        "%s\n"
        "    State:            connected\n"
        "    Host:             %s\n"
        "    Access:           read, write\n"
        "    Native data type: DBF_STRING\n"
        "    Request type:     DBR_STRING\n"
        "    Element count:    16\n"
        % (p("ai"), _host(out), p("wf:string"), _host(out)))
    assert _host(out).endswith(":%d" % ioc.ca_port)


def _host(text):
    return re.search(r"Host:             (\S+)", text).group(1)


def test_cainfo_no_write_access(private_ioc):
    server = private_ioc(acf=_ioc.TEST_ACF)
    code, out, err = _subprocess("cainfo", "-w", "5", server.prefix + "ro")
    assert code == 0 and "    Access:           read, no write\n" in out


def test_cainfo_client_status(p):
    code, out, err = _subprocess("cainfo", "-s", 1, p("ai"))
    assert code == 0 and "Channel Access Client Context" in out
    assert "preemptive callback is enabled" in out


def test_cainfo_missing_and_usage(run):
    code, out, err = run("cainfo", "-w", "0.2", "caffi:no:such")
    assert (code, out) == (1, "")
    assert err == "Channel connect timed out: 'caffi:no:such' not found.\n"
    assert run("cainfo") == (1, "", "No pv name specified. ('cainfo -h' for help.)\n")
