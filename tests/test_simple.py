"""caffi.simple: caget/caput/camonitor/cainfo and the _many forms, on the shared context."""
import threading
import time

import numpy
import pytest

import _ioc
from caffi import _shared, ca
from caffi.constants import ECA, AlarmCondition, AlarmSeverity, ChannelState
from caffi.dbr import DBF
from caffi.simple import (CAError, ChannelInfo, Monitor, caget, caget_many, cainfo,
                          camonitor, caput, caput_many)


pytestmark = pytest.mark.usefixtures("record_baseline", "shared_cache")


def _witness(name, changes=3):
    """Monitor ``name`` with a new camonitor until it has seen ``changes``
    updates after its first: the record changed that often since, so a
    monitor still alive would have been called too."""
    witness = _ioc.Collector("witness")
    monitor = camonitor(name, lambda name, value: witness(value))
    try:
        witness.wait(1 + changes, timeout=5)
    finally:
        monitor.close()


@pytest.fixture
def pv(ioc):
    return lambda suffix: ioc.prefix + suffix


# Reading --------------------------------------------------------------------------
@pytest.mark.parametrize("suffix, expected", [
    ("longin", 42), ("stringin", "hello"), ("bi", 1), ("mbbi", 2)])
def test_caget_scalars(pv, suffix, expected):
    value = caget(pv(suffix))
    assert value == expected
    assert type(value) is type(expected)


def test_caget_double(pv):
    caput(pv("ao"), 2.25, wait=True)
    assert caget(pv("ao")) == 2.25


def test_caget_enum_as_string(pv):
    caput(pv("mbbo"), 1, wait=True)
    assert caget(pv("mbbo")) == 1
    assert caget(pv("mbbo"), as_string=True) == "one"


def test_caget_number_as_string_honours_precision(pv):
    caput(pv("ao"), 2.25, wait=True)
    assert caget(pv("ao"), as_string=True) == "2.25"  # PREC 2
    caput(pv("ai"), 1.5, wait=True)
    assert caget(pv("ai"), as_string=True) == "1.500"  # PREC 3


def test_caget_array_numpy_and_list(pv, ioc):
    ioc.dbpf_array(pv("wf:double"), [1.5, 2.5, 3.5])
    value = caget(pv("wf:double"))
    assert isinstance(value, numpy.ndarray) and value.dtype == numpy.float64
    assert value.shape == (16,)
    assert list(value[:3]) == [1.5, 2.5, 3.5]
    as_list = caget(pv("wf:double"), as_numpy=False)
    assert isinstance(as_list, list) and as_list[:3] == [1.5, 2.5, 3.5]
    assert list(caget(pv("wf:double"), count=2)) == [1.5, 2.5]


def test_caget_time_form(pv):
    caput(pv("ai"), 1.5, wait=True)
    before = time.time()
    reading = caget(pv("ai"), form="time")
    assert reading["value"] == 1.5
    assert reading["severity"] == AlarmSeverity.No
    assert reading["status"] == AlarmCondition.No
    assert abs(reading["stamp"]["timestamp"] - before) < 60


def test_caget_time_form_alarm(pv):
    reading = caget(pv("alarm"), form="time")
    assert reading["severity"] == AlarmSeverity.Major
    assert reading["status"] == AlarmCondition.HiHi


def test_caget_ctrl_form(pv):
    meta = caget(pv("ai"), form="ctrl")
    assert meta["units"] == "mm" and meta["precision"] == 3
    assert meta["upper_disp_limit"] == 100 and meta["lower_alarm_limit"] == -90
    enum = caget(pv("mbbo"), form="ctrl")
    assert enum["strs"] == ("zero", "one", "two", "three")


def test_caget_char_array_as_string(pv):
    caput(pv("longstr"), "hello there", wait=True)
    assert caget(pv("longstr"), as_string=True) == "hello there"
    raw = caget(pv("longstr"))
    assert raw.dtype == numpy.uint8 and bytes(raw[:5]) == b"hello"
    timed = caget(pv("longstr"), as_string=True, form="time")
    assert timed["value"] == "hello there"


def test_caget_bad_form(pv):
    with pytest.raises(ValueError):
        caget(pv("ai"), form="bogus")


def test_caget_missing_pv_times_out():
    start = time.monotonic()
    with pytest.raises(TimeoutError) as info:
        caget("caffi:no:such:pv", timeout=0.3)
    elapsed = time.monotonic() - start
    assert "caffi:no:such:pv" in str(info.value)
    assert 0.25 <= elapsed < 2.0


def test_channels_are_cached(pv):
    caget(pv("ai"))
    caget(pv("ai"))
    caget_many([pv("ai"), pv("ao")])
    assert sorted(_shared.cached_names()) == sorted([pv("ai"), pv("ao")])
    status, first = _shared.channel(pv("ai"))
    status, again = _shared.channel(pv("ai"))
    assert first is again
    chid = first.chid
    _shared.reset()
    assert _shared.cached_names() == []
    assert ca.state(chid) == ChannelState.CLOSED and not first.alive


# Writing --------------------------------------------------------------------------
def test_caput_wait_and_read_back(pv):
    caput(pv("scratch"), 12.5, wait=True)
    assert caget(pv("scratch")) == 12.5
    caput(pv("scratch"), 13)
    deadline = time.monotonic() + 5
    while caget(pv("scratch")) != 13 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert caget(pv("scratch")) == 13


def test_caput_enum_string(pv):
    caput(pv("mbbo"), "three", wait=True)
    assert caget(pv("mbbo")) == 3
    caput(pv("mbbo"), 0, wait=True)
    assert caget(pv("mbbo"), as_string=True) == "zero"


def test_caput_bad_enum_string_raises(pv):
    with pytest.raises(CAError) as info:
        caput(pv("mbbo"), "eleven", wait=True)
    assert info.value.pvname == pv("mbbo")
    assert info.value.status != ECA.NORMAL


@pytest.mark.parametrize("wait", [False, True])
def test_caput_unknown_enum_state_is_refused_before_sending(pv, wait, caplog):
    caput(pv("mbbo"), 2, wait=True)
    with pytest.raises(CAError) as info:
        caput(pv("mbbo"), "Bogus", wait=wait)
    assert info.value.status == ECA.BADSTR
    assert info.value.pvname == pv("mbbo")
    assert "'Bogus' is not one of its states 'zero', 'one', 'two', 'three'" in str(info.value)
    assert info.value.__context__ is None
    assert caget(pv("mbbo")) == 2  # nothing was sent
    assert "CA exception" not in caplog.text


def test_caput_enum_index_as_string(pv):
    caput(pv("mbbo"), "1", wait=True)
    assert caget(pv("mbbo")) == 1
    with pytest.raises(CAError):
        caput(pv("mbbo"), "4", wait=True)  # four states: 0..3


def test_caput_none_is_a_type_error(pv):
    with pytest.raises(TypeError) as info:
        caput(pv("scratch"), None)
    assert pv("scratch") in str(info.value)


def test_caput_conversion_errors_are_not_chained(pv):
    with pytest.raises(ValueError) as info:
        caput(pv("scratch"), "abc")
    assert pv("scratch") in str(info.value)
    assert info.value.__cause__ is None
    assert info.value.__context__ is None or info.value.__suppress_context__
    with pytest.raises(ValueError) as info:
        caput(pv("wf:long"), [[1], [1, 2]])  # numpy refuses the ragged list
    assert info.value.__cause__ is None and info.value.__suppress_context__


@pytest.mark.parametrize("name", ["", "   "])
def test_empty_pv_name(name):
    with pytest.raises(ValueError, match="must not be empty"):
        caget(name)
    with pytest.raises(ValueError, match="must not be empty"):
        caput(name, 1)


def test_caput_string_too_long_raises(pv):
    with pytest.raises(CAError) as info:
        caput(pv("stringout"), "x" * 50)
    assert info.value.status == ECA.STRTOBIG
    assert pv("stringout") in str(info.value)


def test_caput_array(pv):
    caput(pv("wf:long"), [1, 2, 3], wait=True)
    assert list(caget(pv("wf:long"), count=3)) == [1, 2, 3]


def test_caput_no_write_access(private_ioc):
    server = private_ioc(acf=_ioc.TEST_ACF)
    with pytest.raises(CAError) as info:
        caput(server.prefix + "ro", 5, wait=True, timeout=5)
    assert info.value.status == ECA.NOWTACCESS
    assert caget(server.prefix + "ro", timeout=5) == 3


def test_caput_missing_pv_times_out():
    with pytest.raises(TimeoutError):
        caput("caffi:no:such:pv", 1, timeout=0.2)


def test_caput_many(pv):
    caput_many([pv("scratch"), pv("ao"), pv("stringout")], [1.25, 3.5, "many"], wait=True)
    assert caget_many([pv("scratch"), pv("ao"), pv("stringout")]) == [1.25, 3.5, "many"]
    with pytest.raises(ValueError):
        caput_many([pv("ao")], [1, 2])


# Many -----------------------------------------------------------------------------
@pytest.fixture
def thousand(private_ioc, tmp_path):
    """A private IOC with 1,000 ao records r0..r999 whose values are their index."""
    dbfile = tmp_path / "thousand.db"
    dbfile.write_text("".join('record(ao, "$(P)r%d") {\n    field(VAL, "%d")\n'
                              '    field(PINI, "YES")\n}\n' % (i, i) for i in range(1000)))
    server = private_ioc(start=False)
    server.dbfile = str(dbfile)
    server.start()
    return ["%sr%d" % (server.prefix, i) for i in range(1000)]


def test_caget_many_thousand(thousand):
    values = caget_many(thousand, timeout=10)
    assert values == [float(i) for i in range(1000)]
    # Cached now: a second round is one group read.
    start = time.perf_counter()
    again = caget_many(thousand, timeout=10)
    elapsed = time.perf_counter() - start
    assert again == values
    assert elapsed < 2.0, elapsed
    timed = caget_many(thousand[:10], form="time")
    assert [t["value"] for t in timed] == [float(i) for i in range(10)]


def test_caput_many_thousand(thousand):
    caput_many(thousand, [i * 2.0 for i in range(1000)], wait=True, timeout=10)
    assert caget_many(thousand, timeout=10) == [i * 2.0 for i in range(1000)]


def test_caget_many_names_missing(pv):
    with pytest.raises(TimeoutError) as info:
        caget_many([pv("ai"), "caffi:missing:1", pv("ao"), "caffi:missing:2"],
                   timeout=0.3)
    assert "caffi:missing:1" in str(info.value) and "caffi:missing:2" in str(info.value)
    assert pv("ai") not in str(info.value)


def test_caget_many_empty():
    assert caget_many([]) == []


# Monitoring -----------------------------------------------------------------------
def test_camonitor_counter(pv):
    got = _ioc.Collector("camonitor")
    monitor = camonitor(pv("counter"), lambda name, value: got((name, value)))
    try:
        calls = got.wait(3, timeout=5)
        assert all(name == pv("counter") for name, _ in calls)
        values = [value for _, value in calls]
        assert values == sorted(values)
    finally:
        monitor.close()
    seen = len(got.calls)
    _witness(pv("counter"))
    assert len(got.calls) == seen
    assert isinstance(monitor, Monitor) and monitor.closed
    monitor.close()  # idempotent


def test_camonitor_time_form_and_put(pv):
    caput(pv("scratch"), 0, wait=True)
    got = _ioc.Collector("camonitor")
    with camonitor(pv("scratch"), lambda name, value: got(value), form="time"):
        got.wait(1)
        caput(pv("scratch"), 7.5, wait=True)
        (update,) = got.wait(1, predicate=lambda v: v["value"] == 7.5)
        assert "stamp" in update and update["severity"] == AlarmSeverity.No


def test_camonitor_enum_as_string(pv):
    caput(pv("mbbo"), 1, wait=True)
    got = _ioc.Collector("camonitor")
    with camonitor(pv("mbbo"), lambda name, value: got(value), as_string=True):
        got.wait(1, predicate=lambda v: v == "one")
        caput(pv("mbbo"), 2, wait=True)
        got.wait(1, predicate=lambda v: v == "two")


def test_camonitor_missing_pv():
    with pytest.raises(TimeoutError):
        camonitor("caffi:no:such:pv", lambda name, value: None, timeout=0.2)


def test_camonitor_subscribes_on_later_connection(private_ioc):
    server = private_ioc(start=False)
    name = server.prefix + "ai"
    got = _ioc.Collector("camonitor")
    monitor = camonitor(name, lambda n, value: got(value), timeout=None)
    try:
        server.start()
        assert got.wait(1, timeout=15)[0] == 1.5
    finally:
        monitor.close()


# Information ----------------------------------------------------------------------
def test_cainfo(pv, ioc):
    info = cainfo(pv("wf:char"))
    assert isinstance(info, ChannelInfo)
    assert info.name == pv("wf:char")
    assert info.state == ChannelState.CONN
    assert info.field_type == DBF.CHAR and info.count == 16
    assert info.read_access and info.write_access
    assert info.host.endswith(":%d" % ioc.ca_port)
    text = str(info)
    assert text == (
        "%s\n"
        "    State:            connected\n"
        "    Host:             %s\n"
        "    Access:           read, write\n"
        "    Native data type: DBF_CHAR\n"
        "    Request type:     DBR_CHAR\n"
        "    Element count:    16\n" % (pv("wf:char"), info.host))


def test_caerror_carries_code_and_name():
    err = CAError(ECA.NORDACCESS, "X:ai", "read failed")
    assert err.status == ECA.NORDACCESS and err.pvname == "X:ai"
    assert str(err).startswith("X:ai: read failed: ")


# Threads --------------------------------------------------------------------------
def test_threads_share_one_context(pv):
    caget(pv("ai"))
    main_context = ca.current_context()
    errors = []
    contexts = []
    barrier = threading.Barrier(8)

    def worker(i):
        try:
            barrier.wait(5)
            for n in range(30):
                assert caget(pv("longin")) == 42
                assert caget_many([pv("stringin"), pv("bi")]) == ["hello", 1]
                caput(pv("stringout"), "t%d" % i)
            contexts.append(ca.current_context())
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert len(contexts) == 8 and all(c is main_context for c in contexts)


def test_thread_in_foreign_context_is_refused(pv):
    def body():
        assert ca.create_context(False) == ECA.NORMAL
        try:
            with pytest.raises(RuntimeError):
                caget(pv("ai"))
        finally:
            ca.destroy_context()
    _ioc.run_in_thread(body)


def test_reset_kills_monitors(pv):
    got = _ioc.Collector("camonitor")
    monitor = camonitor(pv("counter"), lambda name, value: got(value))
    got.wait(1)
    _shared.reset()
    seen = len(got.calls)
    _witness(pv("counter"))
    assert len(got.calls) == seen
    monitor.close()


def test_caput_unconvertible_value_names_pv(pv):
    with pytest.raises(ValueError) as info:
        caput(pv("ao"), "not a number")
    assert pv("ao") in str(info.value)
