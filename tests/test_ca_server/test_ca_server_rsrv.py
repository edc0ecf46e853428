"""The same questions to the soft IOC (rsrv) and to our server, answers compared.

Both run in child processes: a soft IOC with tests/ioc/test.db and an
access security file made for this run, and our test IOC (ioc_app.py) whose
access hook follows the same rules.  A libca client (caffi) asks both:
write statuses and what the records hold afterwards, and the access rights
of each access security group.
"""
import os
import pwd
import socket

import pytest

from caffi import ca

import _ioc
from _pyioc import PyIOC

PREFIX = "caffisrvcmp%d:" % os.getpid()
RSRV_PREFIX = "caffisrvcmprsrv%d:" % os.getpid()
#: what libca sends as its user name (getpwuid(getuid())) and its host name
USER = pwd.getpwuid(os.getuid()).pw_name
HOST = socket.gethostname()

ACF = """
UAG(ops) {%(user)s}
UAG(admins) {nobody_here}
HAG(here) {%(host)s}
HAG(far) {far.away}
ASG(DEFAULT) {
    RULE(1, READ)
    RULE(1, WRITE)
}
ASG(RO) {
    RULE(1, READ)
}
ASG(NONE) {
    RULE(1, READ) {UAG(admins)}
}
ASG(OPS) {
    RULE(1, READ)
    RULE(1, WRITE) {UAG(ops)}
}
ASG(ADMIN) {
    RULE(1, READ)
    RULE(1, WRITE) {UAG(admins)}
}
ASG(HERE) {
    RULE(1, READ)
    RULE(1, WRITE) {HAG(here)}
}
ASG(FAR) {
    RULE(1, READ)
    RULE(1, WRITE) {HAG(far)}
}
"""
GROUPS = ("DEFAULT", "RO", "NONE", "OPS", "ADMIN", "HERE", "FAR")


@pytest.fixture(scope="module")
def ours(ports):
    env = dict(os.environ, IOC_APP_OPS_USER=USER, IOC_APP_HOST=HOST)
    ioc = PyIOC(PREFIX, ports.private[-1], env=env).start()
    try:
        yield ioc
    finally:
        ioc.stop()


@pytest.fixture(scope="module")
def theirs(ca_repeater, ports, tmp_path_factory):
    # one soft IOC for the module: libca, which keeps its context, would see
    # a restarted server's port refuse datagrams for a while
    acf = tmp_path_factory.mktemp("acf") / "compare.acf"
    acf.write_text(ACF % {"user": USER, "host": HOST})
    server = _ioc.IOC(macros="P=%s" % RSRV_PREFIX, env=os.environ, ca_port=ports.private[-2],
                      acf=str(acf), name="comparison-ioc")
    server.prefix = RSRV_PREFIX
    server.start()
    try:
        yield server
    finally:
        server.stop()


class Channels:
    def __init__(self):
        self.made = []

    def __call__(self, name):
        status, chid = ca.create_channel(name)
        assert status == ca.ECA.NORMAL
        self.made.append(chid)
        assert ca.pend_io(10.0) == ca.ECA.NORMAL, "%s did not connect" % name
        return chid

    def clear(self):
        for chid in self.made:
            ca.clear_channel(chid)
        ca.flush_io()
        self.made.clear()


@pytest.fixture
def channels(ctx):
    made = Channels()
    yield made
    made.clear()


def _rights_case(chid):
    """What a libca client sees of a channel's access rights."""
    status, value = ca.get(chid)
    got = [ca.read_access(chid), ca.write_access(chid), status]
    if status == ca.ECA.NORMAL:
        got.append(ca.pend_io(5.0))
    done = _ioc.Collector("put")
    status = ca.put(chid, 1.0, callback=done)
    got.append(status)
    if status == ca.ECA.NORMAL:
        ca.flush_io()
        got.append(done.wait(1, 5.0)[0]["status"])
    return got


def test_access_rights_as_rsrv(ours, theirs, channels):
    rec = theirs.prefix + "scratch"
    differences = []
    for group in GROUPS:
        theirs.dbpf(rec + ".ASG", group)
        answers = [_rights_case(channels(rec)), _rights_case(channels(PREFIX + "acc_" + group))]
        channels.clear()
        if answers[0] != answers[1]:
            differences.append((group, answers))
    assert differences == [], differences
    # the cases are not all alike
    theirs.dbpf(rec + ".ASG", "OPS")
    assert _rights_case(channels(rec))[:2] == [True, True]
    theirs.dbpf(rec + ".ASG", "ADMIN")
    assert _rights_case(channels(rec))[:2] == [True, False]


_S = ca.DBR.STRING
#: (record, initial value as dbpf types it, [(value, DBR type or None), ...])
PUTS = [
    ("ai", "1.5", [(2.5, None), (200.0, None), (95.0, None), (float("nan"), None),
                   ("-1e3", _S)]),
    ("longin", "42", [(5000, None), ("850", _S), (-2 ** 31, None)]),
    ("ao", "2.25", [(1.5, None), (60.0, None), (-60.0, None), ("abc", _S), ("1e400", _S),
                    (" 7", _S), ("0x10", _S), (float("nan"), None), (45.5, None)]),
    ("longout", "7", [(12, None), (600, None), ("12abc", _S), ("x", _S), (3.9, ca.DBR.DOUBLE),
                      (-2 ** 31, None), ("077", _S)]),
    ("stringout", "world", [("x" * 39, None), ("", None), (5, ca.DBR.LONG),
                            (2.5, ca.DBR.DOUBLE)]),
    ("bo", "0", [(1, None), (2, None), ("On", _S), ("Maybe", _S), ("1", _S), (7.0, ca.DBR.DOUBLE)]),
    ("bi", "1", [(0, None), (2, None), ("High", _S), ("2", _S)]),
    ("mbbo", "1", [(3, None), (16, None), ("three", _S), ("four", _S), (15, None), ("2", _S)]),
]


def _put_case(chid, value, chtype):
    done = _ioc.Collector("put")
    status = ca.put(chid, value, chtype=chtype, callback=done)
    if status != ca.ECA.NORMAL:
        return [status]
    ca.flush_io()
    got = [done.wait(1, 5.0)[0]["status"]]
    for dbr in (ca.DBR.STRING, ca.DBR.STS_STRING):
        status, dbrvalue = ca.get(chid, chtype=dbr)
        assert ca.pend_io(5.0) == ca.ECA.NORMAL
        v = dbrvalue.get()
        got.append({k: v[k] for k in ("value", "status", "severity")} if isinstance(v, dict)
                   else v)
    return got


@pytest.mark.parametrize("record,initial,puts", PUTS, ids=[p[0] for p in PUTS])
def test_write_statuses_and_results_as_rsrv(ours, theirs, channels, record, initial, puts):
    theirs_chid = channels(theirs.prefix + record)
    ours_chid = channels(PREFIX + record)
    differences = []
    for value, chtype in puts:
        theirs.dbpf(theirs.prefix + record, initial)
        assert _ioc.ca_put(ours_chid, initial, chtype=_S)["status"] == ca.ECA.NORMAL
        answers = [_put_case(theirs_chid, value, chtype), _put_case(ours_chid, value, chtype)]
        if answers[0] != answers[1]:
            differences.append((value, chtype, answers))
    assert differences == [], "\n".join(map(repr, differences))


#: (our PV, the soft IOC's record of the same type)
FIELD_RECORDS = [("ai", "ai"), ("ao", "ao"), ("longin", "longin"), ("longout", "longout"),
                 ("stringin", "stringin"), ("stringout", "stringout"), ("bo", "bo"),
                 ("bi", "bi"), ("mbbo", "mbbo"), ("wf", "wf:double"), ("aai", "aai"),
                 ("aao", "aao"), ("subArray", "subArray")]


@pytest.mark.parametrize("ours_rec,theirs_rec", FIELD_RECORDS, ids=[r[0] for r in FIELD_RECORDS])
def test_record_fields_have_rsrv_types(ours, theirs, channels, ours_rec, theirs_rec):
    # every field our record serves, asked of both: its native DBR type and
    # element count as libca reports them (what rsrv makes of the IOC's DBF)
    from caffi.server.records import RECORD_TYPES
    rtyp = "waveform" if ours_rec == "wf" else ours_rec
    differences = []
    for field, *_ in RECORD_TYPES[rtyp]:
        answers = []
        for name in (theirs.prefix + theirs_rec, PREFIX + ours_rec):
            chid = channels("%s.%s" % (name, field))
            answers.append((ca.field_type(chid), ca.element_count(chid)))
        channels.clear()
        if answers[0] != answers[1]:
            differences.append((field, answers))
    assert differences == [], "\n".join(map(repr, differences))


def _stamped(chid, dbr):
    status, value = ca.get(chid, chtype=dbr)
    assert status == ca.ECA.NORMAL and ca.pend_io(5.0) == ca.ECA.NORMAL
    v = value.get()
    return v["status"], v["severity"], v["stamp"]


@pytest.mark.parametrize("field,dbr", [("EGU", ca.DBR.TIME_STRING), ("DESC", ca.DBR.TIME_STRING),
                                       ("PREC", ca.DBR.TIME_SHORT), ("HOPR", ca.DBR.TIME_DOUBLE),
                                       ("HHSV", ca.DBR.TIME_ENUM)])
def test_record_fields_carry_the_records_alarm_and_time(ours, theirs, channels, field, dbr):
    # rsrv answers a field with the record's alarm and time stamp (dbGetField
    # takes both from the record); so does our server
    got = []
    for rec, put in ((theirs.prefix + "ai", lambda v: theirs.dbpf(theirs.prefix + "ai", v)),
                     (PREFIX + "ai", lambda v: _ioc.ca_put(channels(PREFIX + "ai"), float(v)))):
        put("95")                                        # HIHI: MAJOR
        record = _stamped(channels(rec), ca.DBR.TIME_DOUBLE)
        on_field = _stamped(channels(rec + "." + field), dbr)
        put("1.5")                                       # back to no alarm
        cleared = _stamped(channels(rec + "." + field), dbr)
        channels.clear()
        assert on_field == record, rec
        got.append((record[:2], cleared[:2]))
    assert got[0] == got[1]
    assert got[1] == ((ca.AlarmCondition.HiHi, ca.AlarmSeverity.Major), (0, 0))


_LIMIT_KEYS = ("upper_disp_limit", "lower_disp_limit", "upper_ctrl_limit", "lower_ctrl_limit")


def _limits(chid):
    status, value = ca.get(chid, chtype=ca.DBR.CTRL_DOUBLE)
    assert status == ca.ECA.NORMAL and ca.pend_io(5.0) == ca.ECA.NORMAL
    v = value.get()
    return tuple(v[k] for k in _LIMIT_KEYS)


@pytest.mark.parametrize("record,hopr", [("ai", "100"), ("longin", "1000"), ("ao", "100"),
                                         ("aai", "100"), ("aao", "100"), ("subArray", "100")])
def test_control_limits_as_rsrv_reports_them(ours, theirs, channels, record, hopr):
    # an input record's control limits are its display limits (HOPR/LOPR),
    # also after a write to HOPR; an ao's are its DRVH/DRVL; the array
    # records' (aai, aao, subArray) are HOPR/LOPR too
    theirs_chid, ours_chid = channels(theirs.prefix + record), channels(PREFIX + record)
    assert _limits(ours_chid) == _limits(theirs_chid)
    try:
        theirs.dbpf(theirs.prefix + record + ".HOPR", "50")
        assert _ioc.ca_put(channels(PREFIX + record + ".HOPR"), 50.0)["status"] == \
            ca.ECA.NORMAL
        assert _limits(ours_chid) == _limits(theirs_chid)
    finally:
        theirs.dbpf(theirs.prefix + record + ".HOPR", hopr)
        _ioc.ca_put(channels(PREFIX + record + ".HOPR"), float(hopr))
