"""Synchronous groups: sg_create/sg_delete/sg_get/sg_put/sg_block/sg_test/sg_reset."""
import numpy
import pytest

from caffi import ca

import _ioc
from _ioc import ca_get, ca_put


@pytest.fixture
def group(ctx):
    status, gid = ca.sg_create()
    assert status == ca.ECA.NORMAL
    assert gid is not None
    yield gid
    ca.sg_delete(gid)


def test_sg_create_delete(ctx):
    status, gid = ca.sg_create()
    assert status == ca.ECA.NORMAL
    status2, gid2 = ca.sg_create()
    assert status2 == ca.ECA.NORMAL
    assert gid != gid2
    assert ca.sg_test(gid) == ca.ECA.IODONE
    assert ca.sg_delete(gid) == ca.ECA.NORMAL
    assert ca.sg_delete(gid2) == ca.ECA.NORMAL
    # deleted: every function refuses it
    assert ca.sg_delete(gid) == ca.ECA.BADSYNCGRP
    assert ca.sg_block(gid, 1.0) == ca.ECA.BADSYNCGRP
    assert ca.sg_reset(gid) == ca.ECA.BADSYNCGRP
    assert ca.sg_test(gid) == ca.ECA.BADSYNCGRP


def test_sg_get(group, connect, ioc):
    ioc.dbpf(ioc.prefix + "longin", 4321)
    ioc.dbpf(ioc.prefix + "stringin", "sg text")
    ioc.dbpf_array(ioc.prefix + "wf:short", [7, 8, 9])
    a = connect("longin")
    b = connect("stringin")
    c = connect("wf:short")
    results = []
    for chid, kwargs in ((a, {}), (b, {}), (c, {"count": 3}),
                         (c, {"count": 3, "use_numpy": True}),
                         (a, {"chtype": ca.DBR.TIME_DOUBLE})):
        status, value = ca.sg_get(group, chid, **kwargs)
        assert status == ca.ECA.NORMAL
        assert isinstance(value, ca.DBRValue)
        results.append(value)
    # nothing sent yet
    assert ca.sg_test(group) == ca.ECA.IOINPROGRESS
    assert ca.sg_block(group, 5.0) == ca.ECA.NORMAL
    assert ca.sg_test(group) == ca.ECA.IODONE
    values = [r.get() for r in results]
    assert values[0] == 4321
    assert values[1] == "sg text"
    assert values[2] == [7, 8, 9]
    assert isinstance(values[3], numpy.ndarray) and values[3].dtype == numpy.int16
    assert list(values[3]) == [7, 8, 9]
    assert values[4]["value"] == 4321.0
    assert "stamp" in values[4]
    # no outstanding requests: returns at once
    assert ca.sg_block(group, 5.0) == ca.ECA.NORMAL


def test_sg_put(group, connect):
    a = connect("scratch")
    b = connect("wf:long")
    c = connect("mbbo")
    d = connect("stringout")
    assert ca.sg_put(group, a, 11.5) == ca.ECA.NORMAL
    assert ca.sg_put(group, b, [3, 2, 1]) == ca.ECA.NORMAL
    assert ca.sg_put(group, b, numpy.array([4, 5, 6, 7], dtype=numpy.int32)) == ca.ECA.NORMAL
    assert ca.sg_put(group, c, "one") == ca.ECA.NORMAL
    assert ca.sg_put(group, d, "sg put") == ca.ECA.NORMAL
    assert ca.sg_block(group, 5.0) == ca.ECA.NORMAL
    assert ca_get(a) == 11.5
    assert ca_get(b, count=4) == [4, 5, 6, 7]
    assert ca_get(c) == 1
    assert ca_get(d) == "sg put"


def test_sg_put_get_mixed(group, connect):
    chid = connect("scratch")
    assert ca.sg_put(group, chid, 21.0) == ca.ECA.NORMAL
    status, value = ca.sg_get(group, chid)
    assert status == ca.ECA.NORMAL
    assert ca.sg_block(group, 5.0) == ca.ECA.NORMAL
    assert value.get() == 21.0


def test_sg_reset(group, connect):
    """Deliberate difference: sg_reset works (calls ca_sg_reset)."""
    chid = connect("longin")
    status, value = ca.sg_get(group, chid)
    assert status == ca.ECA.NORMAL
    assert ca.sg_test(group) == ca.ECA.IOINPROGRESS
    assert ca.sg_reset(group) == ca.ECA.NORMAL
    assert ca.sg_test(group) == ca.ECA.IODONE
    # still usable afterwards
    status, value = ca.sg_get(group, chid)
    assert status == ca.ECA.NORMAL
    assert ca.sg_block(group, 5.0) == ca.ECA.NORMAL
    assert isinstance(value.get(), int)


def test_sg_block_timeout_then_reuse(group, connect, ioc):
    """A timed-out group get must not write into freed memory later."""
    chid = connect("big")
    status, value = ca.sg_get(group, chid, use_numpy=True)
    assert status == ca.ECA.NORMAL
    status = ca.sg_block(group, 1e-6)
    assert status in (ca.ECA.TIMEOUT, ca.ECA.NORMAL)
    ca.sg_reset(group)
    del value
    # the late reply arrives while we do more work
    small = connect("longin")
    for _ in range(5):
        status, v = ca.sg_get(group, small)
        assert status == ca.ECA.NORMAL
        assert ca.sg_block(group, 10.0) == ca.ECA.NORMAL
        assert isinstance(v.get(), int)
    ca.pend_event(0.2)


def test_sg_counts(group, connect):
    """As caffi 1.0.4: a count above the element count is clamped to it."""
    chid = connect("wf:double")
    assert ca.sg_put(group, chid, [7.0] * 17, count=17) == ca.ECA.NORMAL
    assert ca.sg_block(group, 5.0) == ca.ECA.NORMAL
    status, value = ca.sg_get(group, chid, count=17)
    assert status == ca.ECA.NORMAL
    assert ca.sg_block(group, 5.0) == ca.ECA.NORMAL
    assert list(value.get()) == [7.0] * 16
    status, value = ca.sg_get(group, chid, count=2)
    assert status == ca.ECA.NORMAL
    assert ca.sg_block(group, 5.0) == ca.ECA.NORMAL
    assert len(value.get()) == 2


def test_sg_string_too_long(group, connect):
    chid = connect("stringout")
    assert ca.sg_put(group, chid, "x" * 40) == ca.ECA.STRTOBIG
    assert ca.sg_put(group, chid, "x" * 39) == ca.ECA.NORMAL
    assert ca.sg_block(group, 5.0) == ca.ECA.NORMAL
    assert ca_get(chid) == "x" * 39


@pytest.mark.parametrize("bad", [123456789, -1])
def test_sg_bad_gid(ctx, connect, bad):
    chid = connect("ai")
    try:
        assert ca.sg_block(bad, 0.1) == ca.ECA.BADSYNCGRP
        assert ca.sg_test(bad) == ca.ECA.BADSYNCGRP
        assert ca.sg_reset(bad) == ca.ECA.BADSYNCGRP
        assert ca.sg_delete(bad) == ca.ECA.BADSYNCGRP
        status, value = ca.sg_get(bad, chid)
        assert status == ca.ECA.BADSYNCGRP and value is None
        assert ca.sg_put(bad, chid, 1.0) == ca.ECA.BADSYNCGRP
    except TypeError:
        pytest.fail("an int gid must be accepted and checked, not raise TypeError")


@pytest.mark.parametrize("bad", [None, "gid", 1.5, object()])
def test_sg_wrong_gid_type(ctx, bad):
    try:
        status = ca.sg_block(bad, 0.1)
    except TypeError:
        return
    assert status == ca.ECA.BADSYNCGRP


def test_sg_put_callback_style_values(group, connect):
    chid = connect("longstr")
    assert ca.sg_put(group, chid, "text into char array") == ca.ECA.NORMAL
    assert ca.sg_block(group, 5.0) == ca.ECA.NORMAL
    from _ioc import ca_get_cb
    data = bytes(ca_get_cb(chid, count=0)["value"]).rstrip(b"\0")
    assert data == b"text into char array"
    assert ca_put(chid, "")["status"] == ca.ECA.NORMAL


SG_TEST_WHILE_REPLIES_ARRIVE = """
import time
from caffi import ca
assert ca.create_context(True) == ca.ECA.NORMAL
chids = [ca.create_channel(%r + name)[1] for name in ("wf:double", "ai", "wf:short")]
assert ca.pend_io(10) == ca.ECA.NORMAL
status, gid = ca.sg_create()
for _ in range(30):
    for _ in range(700):
        for chid in chids:
            assert ca.sg_get(gid, chid)[0] == ca.ECA.NORMAL
    ca.flush_io()
    deadline = time.monotonic() + 10
    while ca.sg_test(gid) != ca.ECA.IODONE:
        assert time.monotonic() < deadline, "group did not complete"
    assert ca.sg_block(gid, 1) == ca.ECA.NORMAL
print("ok")
"""


def test_sg_test_polled_while_replies_arrive(ioc):
    """libca's ca_sg_test locks in the reverse order of its receive threads
    (a deadlock, or an abort with its priority-inheriting mutexes): caffi's
    groups can be polled while replies arrive.  In a child process, so that
    a crash is a failure and not the end of the test run."""
    code, out, err = _ioc.run_python(SG_TEST_WHILE_REPLIES_ARRIVE % ioc.prefix, timeout=120)
    assert (code, out) == (0, "ok\n"), err[-3000:]
