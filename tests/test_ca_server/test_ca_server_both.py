"""One group over both protocols: our server (a child process, both_app.py)
serves a PVGroup and a PVAGroup over CA and pvAccess; caffi (libca), p4p
and our pva client read and write it, and the records of the same name are
compared with what the soft IOC's qsrv serves."""
import contextlib
import os
import queue
import time

import numpy as np
import pytest
from p4p.client.thread import Context as P4PContext

from caffi import ca

import _ioc
from _ioc import Collector, ca_get, ca_put
from _pyioc import PyIOC

HERE = os.path.dirname(os.path.abspath(__file__))
PREFIX = "caffiboth%d:" % os.getpid()
#: our records of the same name as tests/ioc/test.db's
RECORDS = ("ai", "longin", "stringin", "bo", "mbbi", "wf:double")


@pytest.fixture(scope="module")
def server(ports):
    pva_port, pva_udp = _ioc.pick_free_ports(2, exclude=(ports.server, ports.repeater)
                                             + ports.private)
    env = dict(os.environ, EPICS_PVA_SERVER_PORT=str(pva_port),
               EPICS_PVA_BROADCAST_PORT=str(pva_udp), EPICS_PVAS_INTF_ADDR_LIST="127.0.0.1",
               EPICS_PVAS_BEACON_ADDR_LIST="127.0.0.1", EPICS_PVAS_AUTO_BEACON_ADDR_LIST="NO")
    # the last private port of the suite's CA address list; no test of this
    # module starts a private soft IOC
    ioc = PyIOC(PREFIX, ports.private[-1], args=["--protocols", "ca", "pva", "-v"],
                script=os.path.join(HERE, "both_app.py"), env=env)
    ioc.start()
    try:
        if not any("pva server" in line and "listening" in line for line in ioc.log):
            ioc.wait_for("listening on TCP")
        ioc.pva_conf = {"EPICS_PVA_ADDR_LIST": "127.0.0.1:%d" % pva_udp,
                        "EPICS_PVA_AUTO_ADDR_LIST": "NO",
                        "EPICS_PVA_BROADCAST_PORT": str(pva_udp)}
        yield ioc
    finally:
        ioc.stop()


@pytest.fixture(scope="module")
def p4p(server):
    ctxt = P4PContext("pva", conf=server.pva_conf, useenv=False, nt=False)
    yield ctxt
    ctxt.close()


@pytest.fixture(scope="module")
def qsrv(ioc):
    """A p4p client of the session soft IOC (qsrv, on the suite's pvAccess ports)."""
    conf = {"EPICS_PVA_ADDR_LIST": "127.0.0.1:%s" % os.environ["EPICS_PVA_BROADCAST_PORT"],
            "EPICS_PVA_AUTO_ADDR_LIST": "NO",
            "EPICS_PVA_BROADCAST_PORT": os.environ["EPICS_PVA_BROADCAST_PORT"]}
    ctxt = P4PContext("pva", conf=conf, useenv=False, nt=False)
    yield ctxt
    ctxt.close()


def _meta(value):
    """The members of a structure but its time stamp, as plain Python."""
    out = value.todict()
    out.pop("timeStamp")
    return out


@pytest.mark.parametrize("record", RECORDS)
def test_same_normative_type_as_qsrv(server, p4p, qsrv, ioc, record):
    ours = p4p.get(PREFIX + record)
    if record != "wf:double":
        # the session's IOC may hold what another test wrote: give it our value
        value = ours.value
        qsrv.put(ioc.prefix + record, {"value.index": value.index} if record in ("bo", "mbbi")
                 else {"value": value})
    theirs = qsrv.get(ioc.prefix + record)
    # type ids and every member's name and type, nested
    assert ours.getID() == theirs.getID()
    assert ours.type().aspy() == theirs.type().aspy()
    if record != "wf:double":           # the IOC's waveform is UDF (INVALID) until written
        mine, other = _meta(ours), _meta(theirs)
        np.testing.assert_equal(mine, other)


def test_alarm_of_a_limit_as_qsrv_maps_it(server, p4p, qsrv, ioc, chan):
    # the soft IOC's "alarm" record is in HIHI/MAJOR from the start
    theirs = qsrv.get(ioc.prefix + "alarm").alarm.todict()
    assert theirs == {"severity": 2, "status": 1, "message": "HIHI"}
    chid = chan("ai")
    try:
        assert ca_put(chid, 95.0)["status"] == ca.ECA.NORMAL
        assert p4p.get(PREFIX + "ai").alarm.todict() == theirs
    finally:
        assert ca_put(chid, 1.5)["status"] == ca.ECA.NORMAL
    assert p4p.get(PREFIX + "ai").alarm.todict() == {"severity": 0, "status": 0,
                                                      "message": "NO_ALARM"}


def test_our_pva_client_reads_the_normative_types(server):
    from pva.sync import Context
    ctxt = Context("pva", conf=server.pva_conf, useenv=False)
    try:
        ai = ctxt.get(PREFIX + "ai")
        assert ai.value == 1.5
        assert ai.display.units == "mm" and ai.display.precision == 3
        assert (ai.control.limitLow, ai.control.limitHigh) == (-100.0, 100.0)
        assert ai.valueAlarm.highAlarmLimit == 90.0
        assert ai.alarm.message == "NO_ALARM"
        mbbi = ctxt.get(PREFIX + "mbbi")
        assert mbbi.value.index == 2 and list(mbbi.value.choices) == ["zero", "one", "two"]
        wf = ctxt.get(PREFIX + "wf:double")
        assert wf.display.units == "A" and len(wf.value) == 0
    finally:
        ctxt.close()


def _p4p_updates(p4p, name):
    updates = queue.Queue()
    sub = p4p.monitor(name, updates.put)
    first = updates.get(timeout=5)          # the current value
    assert not isinstance(first, Exception), first
    return sub, updates


def _wait_p4p(updates, predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while True:
        update = updates.get(timeout=max(deadline - time.monotonic(), 0.01))
        assert not isinstance(update, Exception), update
        if predicate(update):
            return update


@contextlib.contextmanager
def _monitors(p4p, chid, name, chtype, **kwargs):
    """A caffi subscription of ``chid`` and a p4p monitor of ``name`` (PREFIX
    + suffix), both past their first update: ``(collector, p4p queue)``."""
    got = Collector(name)
    status, evid = ca.create_subscription(chid, got, chtype=chtype, **kwargs)
    assert status == ca.ECA.NORMAL and ca.flush_io() == ca.ECA.NORMAL
    sub, updates = _p4p_updates(p4p, PREFIX + name)
    try:
        got.wait(1)
        yield got, updates
    finally:
        sub.close()
        assert ca.clear_subscription(evid) == ca.ECA.NORMAL


def test_caput_reaches_a_p4p_monitor_with_the_same_time_stamp(server, p4p, chan):
    chid = chan("ai")
    sub, updates = _p4p_updates(p4p, PREFIX + "ai")
    try:
        assert ca_put(chid, 7.25)["status"] == ca.ECA.NORMAL
        update = _wait_p4p(updates, lambda v: v.value == 7.25)
        stamp = ca_get(chid, chtype=ca.DBR.TIME_DOUBLE)["stamp"]
        assert (update.timeStamp.secondsPastEpoch, update.timeStamp.nanoseconds) == \
            (stamp["seconds"], stamp["nanoseconds"])
        # the waveform too, whole array
        wf = chan("wf:double")
        sub2, wf_updates = _p4p_updates(p4p, PREFIX + "wf:double")
        try:
            assert ca_put(wf, [1.0, 2.0, 3.0])["status"] == ca.ECA.NORMAL
            got = _wait_p4p(wf_updates, lambda v: len(v.value) == 3)
            assert list(got.value) == [1.0, 2.0, 3.0]
        finally:
            sub2.close()
    finally:
        sub.close()
        ca_put(chid, 1.5)


def test_p4p_put_reaches_a_caffi_monitor_with_the_same_time_stamp(server, p4p, chan):
    chid = chan("ai")
    got = Collector("ai")
    status, evid = ca.create_subscription(chid, got, chtype=ca.DBR.TIME_DOUBLE)
    assert status == ca.ECA.NORMAL and ca.flush_io() == ca.ECA.NORMAL
    try:
        got.wait(1)
        p4p.put(PREFIX + "ai", 3.25)
        (update,) = got.wait(predicate=lambda c: c["value"]["value"] == 3.25)
        stamp = update["value"]["stamp"]
        ts = p4p.get(PREFIX + "ai").timeStamp
        assert (stamp["seconds"], stamp["nanoseconds"]) == (ts.secondsPastEpoch,
                                                           ts.nanoseconds)
    finally:
        assert ca.clear_subscription(evid) == ca.ECA.NORMAL
        p4p.put(PREFIX + "ai", 1.5)


def test_enums_both_ways(server, p4p, chan):
    bo = chan("bo")
    p4p.put(PREFIX + "bo", {"value.index": 1})
    assert ca_get(bo, chtype=ca.DBR.STRING) == "On"
    assert p4p.get(PREFIX + "bo").value.index == 1
    assert ca_put(bo, "Off")["status"] == ca.ECA.NORMAL
    assert p4p.get(PREFIX + "bo").value.index == 0
    # only value.index can be written
    with pytest.raises(Exception, match="value"):
        p4p.put(PREFIX + "bo", {"value.choices": ["a", "b"]})


def test_putters_and_limits_apply_to_a_pva_put(server, p4p, chan):
    # control limits (-10, 10) refuse the value, as over CA
    with pytest.raises(Exception, match="[Ll]imits"):
        p4p.put(PREFIX + "setpoint", 500.0)
    assert p4p.get(PREFIX + "setpoint").value == 0.0
    p4p.put(PREFIX + "setpoint", 5.0)
    assert ca_get(chan("setpoint")) == 5.0
    with pytest.raises(Exception, match="this putter always fails"):
        p4p.put(PREFIX + "fails", 3)
    assert ca_get(chan("fails")) == 0


def test_pvagroup_ntscalar_and_ntenum_over_ca(server, p4p, chan):
    temp = chan("pva:temp")
    value = ca_get(temp, chtype=ca.DBR.CTRL_DOUBLE)
    assert value["value"] == 21.5
    assert value["units"] == "degC"
    assert (value["lower_disp_limit"], value["upper_disp_limit"]) == (0.0, 50.0)
    stamp = ca_get(temp, chtype=ca.DBR.TIME_DOUBLE)["stamp"]
    ts = p4p.get(PREFIX + "pva:temp").timeStamp
    assert (stamp["seconds"], stamp["nanoseconds"]) == (ts.secondsPastEpoch, ts.nanoseconds)
    mode = chan("pva:mode")
    assert ca.field_type(mode) == ca.DBF.ENUM
    assert ca_get(mode, chtype=ca.DBR.STRING) == "manual"
    ctrl = ca_get(mode, chtype=ca.DBR.CTRL_ENUM)
    assert list(ctrl["strs"]) == ["auto", "manual"]


def test_pvagroup_puts_cross_over(server, p4p, chan):
    temp = chan("pva:temp")
    with _monitors(p4p, temp, "pva:temp", ca.DBR.TIME_DOUBLE) as (got, updates):
        p4p.put(PREFIX + "pva:temp", 30.5)          # pvAccess put -> CA monitor
        got.wait(predicate=lambda c: c["value"]["value"] == 30.5)
        assert ca_put(temp, 12.0)["status"] == ca.ECA.NORMAL   # CA put -> pva monitor
        update = _wait_p4p(updates, lambda v: v.value == 12.0)
        stamp = ca_get(temp, chtype=ca.DBR.TIME_DOUBLE)["stamp"]
        assert (stamp["seconds"], stamp["nanoseconds"]) == \
            (update.timeStamp.secondsPastEpoch, update.timeStamp.nanoseconds)
        mode = chan("pva:mode")
        assert ca_put(mode, "auto")["status"] == ca.ECA.NORMAL
        assert p4p.get(PREFIX + "pva:mode").value.index == 0


def test_read_only_both_ways(server, p4p, chan):
    with pytest.raises(Exception, match="no write access"):
        p4p.put(PREFIX + "ro", 6)
    assert p4p.get(PREFIX + "ro").value == 5
    fixed = chan("pva:fixed")
    assert not ca.write_access(fixed)
    assert ca.put(fixed, 8.0) == ca.ECA.NOWTACCESS
    assert p4p.get(PREFIX + "pva:fixed").value == 7.0


def test_startup_hooks_run(server, p4p):
    assert p4p.get(PREFIX + "started").value == 1


def test_pvaccess_alone(ports, ctx, tmp_path):
    """--protocols pva: no CA server; the group's startup hooks still run."""
    pva_port, pva_udp = _ioc.pick_free_ports(2, exclude=(ports.server, ports.repeater)
                                             + ports.private)
    env = dict(os.environ, EPICS_PVA_SERVER_PORT=str(pva_port),
               EPICS_PVA_BROADCAST_PORT=str(pva_udp), EPICS_PVAS_INTF_ADDR_LIST="127.0.0.1")
    prefix = "pvaonly%d:" % os.getpid()
    ioc = PyIOC(prefix, ports.private[-2], args=["--protocols", "pva", "-v"],
                script=os.path.join(HERE, "both_app.py"), env=env,
                ready="listening on TCP").start()
    p4p = P4PContext("pva", conf={"EPICS_PVA_ADDR_LIST": "127.0.0.1:%d" % pva_udp,
                                  "EPICS_PVA_AUTO_ADDR_LIST": "NO"}, useenv=False, nt=False)
    try:
        assert p4p.get(prefix + "started").value == 1
        assert p4p.get(prefix + "pva:temp").value == 21.5
        assert p4p.get(prefix + "ai.EGU").value == "mm"       # record fields too
        assert not any("CA server on TCP port" in line for line in ioc.log)
        status, chid = ca.create_channel(prefix + "started")
        try:
            assert ca.pend_io(0.5) == ca.ECA.TIMEOUT
        finally:
            ca.clear_channel(chid)
    finally:
        p4p.close()
        ioc.stop()


def test_pvagroup_getter_runs_for_a_ca_read(server, chan):
    reads = chan("pva:reads")
    first = ca_get(reads)
    assert ca_get(reads) == first + 1


def test_pvagroup_arrays_over_ca(server, p4p, chan, ctx):
    table = chan("pva:table")                   # int64[]: DOUBLE, as rsrv serves it
    assert (ca.field_type(table), ca.element_count(table)) == (ca.DBF.DOUBLE, 3)
    assert list(ca_get(table)) == [1.0, 2.0, 3.0]
    raw = chan("pva:raw")                       # byte[]: CHAR
    assert ca.field_type(raw) == ca.DBF.CHAR
    assert list(ca_get(raw)) == [1, 254, 3]
    words = chan("pva:words")
    assert ca.field_type(words) == ca.DBF.STRING and list(ca_get(words)) == ["a", "b"]
    sub, updates = _p4p_updates(p4p, PREFIX + "pva:raw")
    try:
        assert ca_put(raw, [255, 7, 0])["status"] == ca.ECA.NORMAL
        update = _wait_p4p(updates, lambda v: list(v.value) == [-1, 7, 0])
        assert update.value.dtype == np.int8
    finally:
        sub.close()
        ca_put(raw, [1, 254, 3])
    p4p.put(PREFIX + "pva:words", ["x", "yz"])
    assert list(ca_get(words)) == ["x", "yz"]
    # an NTTable has no CA form
    status, chid = ca.create_channel(PREFIX + "pva:tree")
    try:
        assert ca.pend_io(0.5) == ca.ECA.TIMEOUT
    finally:
        ca.clear_channel(chid)
    assert any("pva:tree" in line and "not served over CA" in line for line in server.log)


def test_protocols_option_and_argument():
    from caffi.server import PVGroup, ioc_arg_parser, pvproperty, run
    from caffi.server.cli import check_protocols

    class One(PVGroup):
        x = pvproperty(value=1.0)
    with pytest.raises(ValueError, match="protocols must be among"):
        run(One(prefix="p:").pvdb, protocols=("http",))
    assert check_protocols("pva") == ("pva",)
    assert check_protocols(["ca", "pva", "ca"]) == ("ca", "pva")
    _, run_options = ioc_arg_parser(default_prefix="p:", desc="d",
                                    argv=["--protocols", "ca", "pva"])
    assert run_options["protocols"] == ("ca", "pva")
    _, run_options = ioc_arg_parser(default_prefix="p:", desc="d", argv=[])
    assert run_options["protocols"] == ("ca",) and run_options["interfaces"] is None


def _docs_example(title):
    """The first code block after the heading ``title`` of docs/ca-server.rst."""
    path = os.path.join(HERE, os.pardir, os.pardir, "docs", "ca-server.rst")
    text = open(path).read()
    after = text[text.index("\n%s\n%s\n" % (title, "-" * len(title))):]
    block = after[after.index(".. code-block:: python\n"):].split("\n")[2:]
    lines = []
    for line in block:
        if line and not line.startswith("   "):
            break
        lines.append(line[3:])
    return "\n".join(lines)


def test_docs_example_serves_both_protocols(ports, ctx, tmp_path):
    script = tmp_path / "stage.py"
    script.write_text(_docs_example("Both protocols"))
    pva_port, pva_udp = _ioc.pick_free_ports(2, exclude=(ports.server, ports.repeater)
                                             + ports.private)
    env = dict(os.environ, EPICS_PVA_SERVER_PORT=str(pva_port),
               EPICS_PVA_BROADCAST_PORT=str(pva_udp), EPICS_PVAS_INTF_ADDR_LIST="127.0.0.1")
    prefix = "docstage%d:" % os.getpid()
    # the module's server holds the last private port
    ioc = PyIOC(prefix, ports.private[-2], args=["--protocols", "ca", "pva", "-v"],
                script=str(script), env=env)
    ioc.start()
    p4p = P4PContext("pva", conf={"EPICS_PVA_ADDR_LIST": "127.0.0.1:%d" % pva_udp,
                                  "EPICS_PVA_AUTO_ADDR_LIST": "NO"}, useenv=False, nt=False)
    status, chid = ca.create_channel(prefix + "position")
    try:
        assert ca.pend_io(5.0) == ca.ECA.NORMAL
        position = p4p.get(prefix + "position")
        assert position.getID() == "epics:nt/NTScalar:1.0"
        assert position.display.units == "mm" and position.control.limitHigh == 50.0
        assert ca_put(chid, 12.5)["status"] == ca.ECA.NORMAL
        stamp = ca_get(chid, chtype=ca.DBR.TIME_DOUBLE)["stamp"]
        ts = p4p.get(prefix + "position").timeStamp
        assert (ts.secondsPastEpoch, ts.nanoseconds) == (stamp["seconds"],
                                                         stamp["nanoseconds"])
        status, temp = ca.create_channel(prefix + "temperature")
        try:
            assert ca.pend_io(5.0) == ca.ECA.NORMAL
            assert ca_get(temp) == 21.5
        finally:
            ca.clear_channel(temp)
    finally:
        ca.clear_channel(chid)
        p4p.close()
        ioc.stop()


#: record fields served by both (our records are set up as test.db's)
FIELDS = ("ai.EGU", "ai.PREC", "ai.HOPR", "ai.LOPR", "ai.HIHI", "ai.LOLO", "ai.SEVR",
          "ai.STAT", "ai.RTYP", "ai.DESC", "ai.SCAN", "ai.PROC", "ai.UDF", "ai.MDEL",
          "ai.ACKT", "ai.ACKS", "ai.DISA", "ai.NAME", "longin.HOPR", "longin.EGU",
          "longin.MDEL", "longin.HYST",
          "bo.ZNAM", "bo.ONAM", "mbbi.ONST", "stringin.DESC", "wf:double.NELM",
          "wf:double.NORD", "wf:double.EGU", "wf:double.PREC", "subArray.NORD",
          "subArray.NELM", "subArray.EGU", "ai.VAL")


@pytest.mark.parametrize("field", FIELDS)
def test_record_fields_as_qsrv_serves_them(server, p4p, qsrv, ioc, field):
    ours = p4p.get(PREFIX + field)
    theirs = qsrv.get(ioc.prefix + field)
    assert ours.getID() == theirs.getID()
    assert ours.type().aspy() == theirs.type().aspy()
    mine, other = _meta(ours), _meta(theirs)
    if field.endswith(".NAME"):
        assert (mine.pop("value"), other.pop("value")) == (PREFIX + "ai", ioc.prefix + "ai")
    if field.endswith(".ACKS"):
        # the highest severity not acknowledged: ours has been in alarm (another test)
        mine["value"].pop("index"), other["value"].pop("index")
    if field.startswith(("wf:", "subArray.")):
        # the IOC's array records are UDF (INVALID) until a test writes them
        other.pop("alarm"), mine.pop("alarm")
        if field.endswith("NORD"):
            record = field[:-len(".NORD")]
            assert other.pop("value") == len(qsrv.get(ioc.prefix + record).value)
            assert mine.pop("value") == len(p4p.get(PREFIX + record).value)
    np.testing.assert_equal(mine, other)


def test_record_field_puts_cross_over(server, p4p, chan):
    egu = chan("ai.EGU")
    try:
        with _monitors(p4p, egu, "ai.EGU", ca.DBR.STRING) as (got, updates):
            _field_puts(p4p, chan, egu, got, updates)
    finally:
        p4p.put(PREFIX + "ai.EGU", "mm")
        p4p.put(PREFIX + "ai.DESC", "")
    # a value written to the record reaches a monitor of a field it links
    sub, updates = _p4p_updates(p4p, PREFIX + "ai.SEVR")
    try:
        assert ca_put(chan("ai"), 95.0)["status"] == ca.ECA.NORMAL    # HIHI: MAJOR
        update = _wait_p4p(updates, lambda v: v.value.index == 2)
        assert update.alarm.message == "HIHI"
    finally:
        sub.close()
        ca_put(chan("ai"), 1.5)
    with pytest.raises(Exception, match="no write access"):
        p4p.put(PREFIX + "ai.SEVR", {"value.index": 0})
    with pytest.raises(Exception):
        p4p.get(PREFIX + "ai.NOPE", timeout=1.0)


def _field_puts(p4p, chan, egu, got, updates):
    assert ca_put(egu, "cm")["status"] == ca.ECA.NORMAL          # CA -> pvAccess
    assert _wait_p4p(updates, lambda v: v.value == "cm").value == "cm"
    assert p4p.get(PREFIX + "ai").display.units == "cm"           # the record's units
    assert p4p.get(PREFIX + "ai.HOPR").display.units == "cm"
    p4p.put(PREFIX + "ai.EGU", "mm")                               # pvAccess -> CA
    got.wait(predicate=lambda c: c["value"] == "mm")
    assert ca_get(chan("ai"), chtype=ca.DBR.CTRL_DOUBLE)["units"] == "mm"
    p4p.put(PREFIX + "ai.DESC", "a motor")
    assert ca_get(chan("ai.DESC")) == "a motor"
    assert p4p.get(PREFIX + "ai.PREC").display.description == "a motor"


@pytest.mark.parametrize("record, written", [("wf:char", [72, 105, -23]),
                                             ("wf:uchar", [200, 1, 0, 5])])
def test_char_waveforms_as_qsrv_serves_them(server, p4p, qsrv, ioc, chan, record, written):
    """Text in a CHAR array (a waveform of FTVL=CHAR) and bytes (FTVL=UCHAR)."""
    dtype = np.int8 if record == "wf:char" else np.uint8
    for ctxt, name in ((p4p, PREFIX + record), (qsrv, ioc.prefix + record)):
        ctxt.put(name, np.array(written, dtype=dtype))
    ours, theirs = p4p.get(PREFIX + record), qsrv.get(ioc.prefix + record)
    assert ours.getID() == theirs.getID() == "epics:nt/NTScalarArray:1.0"
    assert ours.type().aspy() == theirs.type().aspy()
    np.testing.assert_equal(_meta(ours), _meta(theirs))
    assert ours.value.dtype == dtype
    # over CA both are CHAR arrays of the same bytes
    status, theirs_ca = ca.create_channel(ioc.prefix + record)
    try:
        assert ca.pend_io(5.0) == ca.ECA.NORMAL
        mine = chan(record)
        assert ca.field_type(mine) == ca.field_type(theirs_ca) == ca.DBF.CHAR
        expected = list(np.array(written, dtype=dtype).astype(np.uint8))
        assert list(ca_get(mine, count=len(written))) == expected
        assert list(ca_get(theirs_ca, count=len(written))) == expected
    finally:
        ca.clear_channel(theirs_ca)
    # a put through either protocol reaches the monitors of the other
    with _monitors(p4p, chan(record), record, ca.DBR.CHAR, count=0) as (got, updates):
        p4p.put(PREFIX + record, np.array([65, 66], dtype=dtype))
        got.wait(predicate=lambda c: list(c["value"]) == [65, 66])
        assert ca_put(chan(record), [67, 68, 69])["status"] == ca.ECA.NORMAL
        update = _wait_p4p(updates, lambda v: list(v.value) == [67, 68, 69])
        assert update.value.dtype == dtype


INT64_DB = """
record(int64in, "$(P)i64") {
    field(EGU,  "cnt")
    field(HOPR, "1000")
    field(LOPR, "-1000")
    field(VAL,  "1099511627777")
    field(PINI, "YES")
}
record(int64out, "$(P)i64o") {
    field(EGU,  "cnt")
    field(HOPR, "1000")
    field(LOPR, "-1000")
    field(DRVH, "500")
    field(DRVL, "-500")
    field(VAL,  "7")
    field(PINI, "YES")
}
record(waveform, "$(P)wf:i64") {
    field(FTVL, "INT64")
    field(NELM, "3")
}
"""


@pytest.fixture(scope="module")
def int64_ioc(ports, tmp_path_factory):
    """A soft IOC with an int64in, an int64out and an INT64 waveform."""
    db = tmp_path_factory.mktemp("int64") / "int64.db"
    db.write_text(INT64_DB)
    pva_port, pva_udp = _ioc.pick_free_ports(2, exclude=(ports.server, ports.repeater)
                                             + ports.private)
    env = dict(os.environ, EPICS_PVA_SERVER_PORT=str(pva_port),
               EPICS_PVA_BROADCAST_PORT=str(pva_udp))
    prefix = "caffii64%d:" % os.getpid()
    # the first private port: this module's other servers hold the last two
    ioc = _ioc.IOC(dbfile=str(db), macros="P=" + prefix, env=env, ca_port=ports.private[0],
                   name="int64-ioc")
    ioc.prefix = prefix
    ioc.pva_conf = {"EPICS_PVA_ADDR_LIST": "127.0.0.1:%d" % pva_udp,
                    "EPICS_PVA_AUTO_ADDR_LIST": "NO", "EPICS_PVA_BROADCAST_PORT": str(pva_udp)}
    ioc.start()
    try:
        yield ioc
    finally:
        ioc.stop()


@pytest.fixture(scope="module")
def int64_qsrv(int64_ioc):
    """A p4p client of the int64 IOC's qsrv (its own ports)."""
    ctxt = P4PContext("pva", conf=int64_ioc.pva_conf, useenv=False, nt=False)
    try:
        yield ctxt
    finally:
        ctxt.close()


def _open(name):
    status, chid = ca.create_channel(name)
    assert status == ca.ECA.NORMAL
    assert ca.pend_io(5.0) == ca.ECA.NORMAL, "%s did not connect" % name
    return chid


def test_int64_over_ca_as_the_soft_ioc_serves_it(server, int64_ioc, p4p, chan, ctx):
    """A PVAGroup's int64 NTScalar/NTScalarArray and an int64in/INT64 waveform:
    the same DBR types, metadata, values and conversion of a CA put."""
    int64_ioc.dbpf_array(int64_ioc.prefix + "wf:i64", [1, 2, 3])
    theirs, their_wf = _open(int64_ioc.prefix + "i64"), _open(int64_ioc.prefix + "wf:i64")
    try:
        ours, our_wf = chan("pva:big"), chan("pva:table")
        assert ca.field_type(ours) == ca.field_type(theirs) == ca.DBF.DOUBLE
        assert ca.field_type(our_wf) == ca.field_type(their_wf) == ca.DBF.DOUBLE
        assert ca.element_count(our_wf) == ca.element_count(their_wf) == 3
        mine = ca_get(ours, chtype=ca.DBR.CTRL_DOUBLE)
        other = ca_get(theirs, chtype=ca.DBR.CTRL_DOUBLE)
        assert mine["value"] == 2 ** 40 + 1
        np.testing.assert_equal(mine, other)
        np.testing.assert_equal(ca_get(our_wf), ca_get(their_wf))
        # a CA put of a double: truncated to an integer by both
        for chid in (ours, theirs):
            assert ca_put(chid, -12.75)["status"] == ca.ECA.NORMAL
        assert ca_get(ours) == ca_get(theirs)
        assert p4p.get(PREFIX + "pva:big").value == int(ca_get(theirs))
        for chid in (our_wf, their_wf):
            assert ca_put(chid, [4.5, -5.5, 2.0 ** 40])["status"] == ca.ECA.NORMAL
        np.testing.assert_equal(ca_get(our_wf), ca_get(their_wf))
        assert list(p4p.get(PREFIX + "pva:table").value) == list(ca_get(their_wf))
    finally:
        ca.clear_channel(theirs)
        ca.clear_channel(their_wf)
        chid = chan("pva:big")
        ca_put(chid, 2.0 ** 40 + 1)
        ca_put(chan("pva:table"), [1, 2, 3])


def test_int64in_record_as_the_soft_ioc_serves_it(server, int64_ioc, int64_qsrv, p4p, chan):
    """``pvproperty(record="int64in")`` and the IOC's int64in: DOUBLE over CA
    with the same metadata and conversions (reads as other types, a CA put of
    a double truncated), int64 over pvAccess as qsrv serves it."""
    theirs = _open(int64_ioc.prefix + "i64")
    ours = chan("i64")
    try:
        assert ca_put(theirs, 2.0 ** 40 + 1)["status"] == ca.ECA.NORMAL   # as the db has it
        assert ca.field_type(ours) == ca.field_type(theirs) == ca.DBF.DOUBLE
        for dbr in (ca.DBR.CTRL_DOUBLE, ca.DBR.STRING, ca.DBR.CTRL_LONG, ca.DBR.LONG):
            np.testing.assert_equal(ca_get(ours, chtype=dbr), ca_get(theirs, chtype=dbr),
                                    err_msg=str(dbr))
        assert ca_get(ours) == 2 ** 40 + 1
        mine, other = p4p.get(PREFIX + "i64"), int64_qsrv.get(int64_ioc.prefix + "i64")
        assert mine.type()["value"] == other.type()["value"] == "l"
        assert mine.value == other.value == 2 ** 40 + 1
        for value in (-12.75, 3.5e9):
            for chid in (ours, theirs):
                assert ca_put(chid, value)["status"] == ca.ECA.NORMAL
            assert ca_get(ours) == ca_get(theirs)
            assert p4p.get(PREFIX + "i64").value == int64_qsrv.get(int64_ioc.prefix + "i64").value
    finally:
        ca_put(theirs, 2.0 ** 40 + 1)
        ca.clear_channel(theirs)
        ca_put(chan("i64"), 2.0 ** 40 + 1)


#: (record, field): the int64in's and the int64out's fields compared with qsrv
INT64_FIELDS = [("i64", f) for f in ("HOPR", "LOPR", "HIHI", "LOLO", "MDEL", "ADEL", "HYST",
                                     "EGU")] + [("i64o", f) for f in ("DRVH", "DRVL", "HOPR")]


@pytest.mark.parametrize("record,field", INT64_FIELDS, ids=["%s.%s" % rf for rf in INT64_FIELDS])
def test_int64_record_fields_as_qsrv_serves_them(server, int64_ioc, int64_qsrv, p4p, record,
                                                 field):
    ours = p4p.get(PREFIX + record + "." + field)
    theirs = int64_qsrv.get(int64_ioc.prefix + record + "." + field)
    assert ours.type().aspy() == theirs.type().aspy()
    mine, other = _meta(ours), _meta(theirs)
    mine.pop("alarm"), other.pop("alarm")       # the record's (ours: put in other tests)
    np.testing.assert_equal(mine, other)


def test_int64out_record_as_the_soft_ioc_serves_it(server, int64_ioc, int64_qsrv, p4p, chan):
    """``pvproperty(record="int64out")`` and the IOC's int64out: the control
    limits are DRVH/DRVL over CA, a write beyond them is clamped to them (its
    fields over pvAccess: test_int64_record_fields_as_qsrv_serves_them)."""
    theirs = _open(int64_ioc.prefix + "i64o")
    ours = chan("i64o")
    try:
        np.testing.assert_equal(ca_get(ours, chtype=ca.DBR.CTRL_DOUBLE),
                                ca_get(theirs, chtype=ca.DBR.CTRL_DOUBLE))
        for value in (2000.0, -2000.0, 123.0):
            for chid in (ours, theirs):
                assert ca_put(chid, value)["status"] == ca.ECA.NORMAL
            assert ca_get(ours) == ca_get(theirs) == max(-500, min(500, value))
            assert p4p.get(PREFIX + "i64o").value == \
                int64_qsrv.get(int64_ioc.prefix + "i64o").value
    finally:
        for chid in (ours, theirs):
            ca_put(chid, 7.0)
        ca.clear_channel(theirs)
