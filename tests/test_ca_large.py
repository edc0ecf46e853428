"""A 1,000,000-element DOUBLE waveform (EPICS_CA_MAX_ARRAY_BYTES=20000000)."""
import numpy

from caffi import ca

import _ioc
from _ioc import Collector, ca_get, ca_get_cb, ca_put

N = 1000000


def test_big_array_round_trip(connect, ioc):
    chid = connect("big")
    assert ca.element_count(chid) == N
    data = numpy.random.default_rng(1234).standard_normal(N)
    data[0] = 1e300
    data[-1] = -0.0
    assert ca_put(chid, data, timeout=30)["status"] == ca.ECA.NORMAL

    value = ca_get(chid, use_numpy=True, timeout=30)
    assert isinstance(value, numpy.ndarray)
    assert value.dtype == numpy.float64
    assert value.shape == (N,)
    assert numpy.array_equal(value, data)

    arg = ca_get_cb(chid, use_numpy=True, timeout=30)
    assert arg["status"] == ca.ECA.NORMAL
    assert arg["count"] == N
    assert numpy.array_equal(arg["value"], data)

    # part of it, dynamic count, as a list
    assert ca_get(chid, count=5) == list(data[:5])
    assert ca_get_cb(chid, count=0)["count"] == N

    # TIME type with metadata
    tm = ca_get(chid, chtype=ca.DBR.TIME_DOUBLE, use_numpy=True, timeout=30)
    assert numpy.array_equal(tm["value"], data)


def test_big_array_put_without_callback_and_list(connect):
    chid = connect("big")
    data = numpy.arange(N, dtype=numpy.float64)
    assert ca.put(chid, data) == ca.ECA.NORMAL
    value = ca_get(chid, use_numpy=True, timeout=30)
    assert numpy.array_equal(value, data)
    short = [1.0, 2.0, 3.0]
    assert ca_put(chid, short)["status"] == ca.ECA.NORMAL
    arg = ca_get_cb(chid, count=0)
    assert arg["count"] == 3 and arg["value"] == short


def test_big_array_subscription(connect):
    chid = connect("big")
    mon = Collector("monitor")
    status, evid = ca.create_subscription(chid, mon, use_numpy=True)
    assert status == ca.ECA.NORMAL
    ca.flush_io()
    try:
        mon.wait(1, 20)
        data = numpy.full(N, 7.5)
        assert ca_put(chid, data, timeout=30)["status"] == ca.ECA.NORMAL
        calls = mon.wait(1, 20, predicate=lambda c: c["count"] == N and c["value"][-1] == 7.5)
        assert numpy.array_equal(calls[0]["value"], data)
    finally:
        assert ca.clear_subscription(evid) == ca.ECA.NORMAL


def test_late_reply_after_pend_io_timeout_writes_nowhere(connect):
    """A get that pend_io gave up on may still be answered; the reply must not
    land in the buffer, which the caller may have dropped by then (libca's
    own ca_array_get would still copy it there)."""
    from caffi._ffi import lib
    chid = connect("big")
    assert ca_put(chid, numpy.full(N, 7.0), timeout=30)["status"] == ca.ECA.NORMAL
    status, value = ca.get(chid, use_numpy=True)
    assert status == ca.ECA.NORMAL
    # 8 MB do not arrive within a microsecond.
    assert ca.pend_io(1e-6) == ca.ECA.TIMEOUT
    assert chid.late_requests, "the forgotten get is kept with its channel"
    _ioc.wait_for(lambda: all(lib.caffi_request_done(r) for r in chid.late_requests),
                  30, "the late reply")
    assert not value.get().any(), "the late reply was copied into the buffer"
    # The channel still works, and the next pend_io does not wait for the old get.
    assert ca_get(chid, count=3) == [7.0, 7.0, 7.0]
