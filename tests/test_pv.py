"""caffi.pv.PV: connection state, monitored value and metadata, put, repr."""
import time

import numpy
import pytest

import _ioc
from caffi import _callbacks
from caffi.constants import ECA, AlarmCondition, AlarmSeverity
from caffi.dbr import DBF
from caffi.pv import PV
from caffi.simple import CAError, caput

pytestmark = pytest.mark.usefixtures("record_baseline", "shared_cache")


@pytest.fixture
def make(ioc):
    """``make("ai")`` -> a connected PV of the session IOC, closed after the test."""
    made = []

    def factory(suffix, **kwargs):
        pv = PV(ioc.prefix + suffix, **kwargs)
        made.append(pv)
        return pv

    yield factory
    for pv in made:
        pv.close()


def test_repr_double(make):
    caput(make("ai").name, 3.5, wait=True)
    ai = make("ai")
    assert ai.wait_for_connection(5)
    _ioc.wait_for(lambda: ai.value == 3.5, 5, "ai to be 3.5")
    assert repr(ai) == "<PV %r 3.500 mm, NO_ALARM, connected>" % ai.name


def test_repr_enum_string_alarm_array(make, ioc):
    caput(ioc.prefix + "mbbo", 2, wait=True)
    mbbo = make("mbbo")
    stringin = make("stringin")
    alarm = make("alarm")
    ioc.dbpf_array(ioc.prefix + "wf:double", [1, 2, 3, 4, 5, 6, 7, 8])
    wf = make("wf:double")
    for pv in (mbbo, stringin, alarm, wf):
        assert pv.wait_for_connection(5)
    assert repr(mbbo) == "<PV %r two, NO_ALARM, connected>" % mbbo.name
    assert repr(stringin) == "<PV %r 'hello', NO_ALARM, connected>" % stringin.name
    assert repr(alarm) == "<PV %r 95, HIHI/MAJOR, connected>" % alarm.name
    text = repr(wf)
    assert text.startswith("<PV %r [1.00000 2.00000 ... " % wf.name) and " A, " in text


def test_disconnected_repr_and_wait():
    pv = PV("caffi:no:such:pv")
    try:
        start = time.monotonic()
        assert pv.wait_for_connection(0.2) is False
        assert time.monotonic() - start < 2
        assert not pv.connected
        assert repr(pv) == "<PV 'caffi:no:such:pv' disconnected>"
        with pytest.raises(TimeoutError):
            pv.get(timeout=0.1)
    finally:
        pv.close()
    assert repr(pv) == "<PV 'caffi:no:such:pv' closed>"


def test_metadata(make):
    ai = make("ai")
    assert ai.wait_for_connection(5)
    assert ai.units == "mm" and ai.precision == 3
    assert ai.limits["upper_alarm_limit"] == 90 and ai.limits["lower_disp_limit"] == -100
    assert ai.field_type == DBF.DOUBLE and ai.count == 1
    assert ai.read_access and ai.write_access and ":" in ai.host
    mbbo = make("mbbo")
    assert mbbo.wait_for_connection(5)
    assert mbbo.enum_strs == ("zero", "one", "two", "three")
    alarm = make("alarm")
    assert alarm.wait_for_connection(5)
    assert alarm.severity == AlarmSeverity.Major and alarm.status == AlarmCondition.HiHi
    assert abs(alarm.timestamp - time.time()) < 3600


def test_char_value(make):
    caput(make("mbbo").name, 1, wait=True)
    mbbo = make("mbbo")
    ao = make("ao")
    assert mbbo.wait_for_connection(5) and ao.wait_for_connection(5)
    _ioc.wait_for(lambda: mbbo.value == 1, 5, "mbbo to be 1")
    assert mbbo.char_value == "one"
    caput(ao.name, 2.25, wait=True)
    _ioc.wait_for(lambda: ao.value == 2.25, 5)
    assert ao.char_value == "2.25"


def test_monitor_callbacks_and_put(make):
    scratch = make("scratch")
    got = _ioc.Collector("PV callback")
    index = scratch.add_callback(lambda pv, update: got((pv, update)))
    assert scratch.wait_for_connection(5)
    scratch.put(4.5, wait=True)
    (pv, update), = got.wait(1, predicate=lambda c: c[1]["value"] == 4.5)
    assert pv is scratch and "stamp" in update and scratch.value == 4.5
    scratch.remove_callback(index)
    got.clear()
    scratch.put(5.5, wait=True)
    _ioc.wait_for(lambda: scratch.value == 5.5, 5)
    assert len(got.calls) == 0


def test_put_with_completion_callback(make):
    scratch = make("scratch")
    done = _ioc.Collector("put done")
    scratch.put(6.5, callback=lambda pv, status: done((pv, status)))
    (pv, status), = done.wait(1)
    assert pv is scratch and status == ECA.NORMAL
    assert scratch.get() == 6.5


def test_put_errors(make):
    stringout = make("stringout")
    with pytest.raises(CAError) as info:
        stringout.put("y" * 60)
    assert info.value.status == ECA.STRTOBIG


def test_get_forms(make):
    ai = make("ai")
    assert ai.get(form="ctrl")["units"] == "mm"
    assert isinstance(ai.get(form="time")["stamp"]["timestamp"], float)
    wf = make("wf:short")
    assert isinstance(wf.get(), numpy.ndarray)


def test_no_monitor_reads_each_time(make):
    scratch = make("scratch", monitor=False)
    scratch.put(8.5, wait=True)
    assert scratch.value == 8.5
    assert _callbacks.registry_counts()["subscriptions"] == 1  # metadata only


def test_close_cancels_subscriptions(make):
    ai = make("ai")
    assert ai.wait_for_connection(5)
    assert _callbacks.registry_counts()["subscriptions"] == 2
    ai.close()
    assert _callbacks.registry_counts()["subscriptions"] == 0
    with pytest.raises(ValueError):
        ai.put(1)


def test_two_pvs_share_one_channel(make):
    a, b = make("ai"), make("ai")
    assert a.wait_for_connection(5) and b.wait_for_connection(5)
    assert _callbacks.registry_counts()["channels"] == 1
    a.close()
    assert b.connected and b.get() == b.get()


def test_disconnect_and_reconnect(private_ioc):
    server = private_ioc()
    changes = _ioc.Collector("connection")
    pv = PV(server.prefix + "ai", connection_callback=lambda p, up: changes(up))
    try:
        assert pv.wait_for_connection(10)
        changes.wait(1, predicate=lambda up: up)
        server = server.restart()
        changes.wait(1, predicate=lambda up: not up, timeout=15)
        changes.wait(2, predicate=lambda up: up, timeout=30)
        _ioc.wait_for(lambda: pv.connected, 15, "reconnection")
        pv.put(9.5, wait=True, timeout=5)
        _ioc.wait_for(lambda: pv.value == 9.5, 5, "monitor after reconnection")
    finally:
        pv.close()


def test_context_manager(make, ioc):
    with PV(ioc.prefix + "longin") as pv:
        assert pv.wait_for_connection(5) and pv.value == 42
    assert not pv.connected
