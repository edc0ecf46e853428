"""add_exception_event and errors raised by user callbacks."""
import logging

import pytest

from caffi import ca

import _ioc
from _ioc import Collector, ca_get, ca_get_cb, ca_put

EXCEPTION_KEYS = {"chid", "type", "count", "addr", "stat", "op", "ctx", "file", "lineNo"}


@pytest.fixture
def exceptions(ctx):
    handler = Collector("exception")
    assert ca.add_exception_event(handler) == ca.ECA.NORMAL
    try:
        yield handler
    finally:
        # Back to the default handler (releases ours).
        assert ca.add_exception_event(None) == ca.ECA.NORMAL


def test_server_exception_from_put(exceptions, connect):
    chid = connect("scratch")
    assert ca_put(chid, 1.0)["status"] == ca.ECA.NORMAL
    # A string the server cannot convert to DOUBLE, without put callback:
    # the failure comes back as an exception message.
    assert ca.put(chid, "off", chtype=ca.DBR.STRING) == ca.ECA.NORMAL
    ca.flush_io()
    (arg,) = exceptions.wait(1, 5)
    assert set(arg) == EXCEPTION_KEYS
    assert isinstance(arg["stat"], ca.ECA)
    assert arg["stat"] in (ca.ECA.PUTFAIL, ca.ECA.BADTYPE, ca.ECA.NOCONVERT)
    assert isinstance(arg["op"], ca.CA_OP)
    assert arg["op"] == ca.CA_OP.PUT
    assert isinstance(arg["ctx"], str) and arg["ctx"]
    assert isinstance(arg["file"], str)
    assert isinstance(arg["lineNo"], int)
    assert arg["chid"] is None or arg["chid"] == chid
    assert arg["type"] == ca.DBR.STRING
    assert arg["count"] == 1
    # the value is unchanged
    assert ca_get(chid) == 1.0


def test_server_failure_with_put_callback_goes_to_callback(exceptions, connect):
    chid = connect("scratch")
    arg = ca_put(chid, "off", chtype=ca.DBR.STRING)
    assert arg["status"] != ca.ECA.NORMAL
    ca.pend_event(0.1)
    assert exceptions.n == 0


def test_replace_exception_handler(ctx, connect):
    first = Collector("first")
    second = Collector("second")
    chid = connect("scratch")
    assert ca.add_exception_event(first) == ca.ECA.NORMAL
    try:
        assert ca.add_exception_event(second) == ca.ECA.NORMAL
        assert ca.put(chid, "off", chtype=ca.DBR.STRING) == ca.ECA.NORMAL
        ca.flush_io()
        second.wait(1, 5)
        assert first.n == 0
    finally:
        assert ca.add_exception_event(None) == ca.ECA.NORMAL


def test_default_exception_handler_logs_with_the_pv_name(ctx, connect, caplog):
    """caffi's default handler logs libca's exceptions (libca's own prints
    them to stderr, and aborts the program for an error status)."""
    chid = connect("scratch")
    assert ca.add_exception_event() == ca.ECA.NORMAL
    with caplog.at_level(logging.WARNING, logger="caffi"):
        assert ca.put(chid, "off", chtype=ca.DBR.STRING) == ca.ECA.NORMAL
        ca.flush_io()
        _ioc.wait_for(lambda: any("CA exception" in r.getMessage() for r in caplog.records),
                      10, "the logged exception")
    record = next(r for r in caplog.records if "CA exception" in r.getMessage())
    assert ca.name(chid) in record.getMessage()
    assert "op put" in record.getMessage()


def test_exception_handler_that_raises(ctx, connect, caplog):
    chid = connect("scratch")
    calls = []

    def bad(arg):
        calls.append(arg)
        raise RuntimeError("boom in exception handler")

    caplog.set_level(logging.ERROR, logger="caffi")
    assert ca.add_exception_event(bad) == ca.ECA.NORMAL
    try:
        for _ in range(2):
            assert ca.put(chid, "off", chtype=ca.DBR.STRING) == ca.ECA.NORMAL
        ca.flush_io()
        from _ioc import wait_for
        wait_for(lambda: len(calls) >= 2, 5, "two exception callbacks")
        wait_for(lambda: any("boom in exception handler" in r.getMessage() or
                             (r.exc_info and "boom" in str(r.exc_info[1]))
                             for r in caplog.records if r.name.startswith("caffi")), 5, "log")
    finally:
        assert ca.add_exception_event(None) == ca.ECA.NORMAL


def _logged(caplog, text):
    for r in caplog.records:
        if not r.name.startswith("caffi"):
            continue
        if text in r.getMessage():
            return True
        if r.exc_info and text in str(r.exc_info[1]):
            return True
        if r.exc_text and text in r.exc_text:
            return True
    return False


def test_get_callback_that_raises(connect, caplog):
    caplog.set_level(logging.ERROR, logger="caffi")
    chid = connect("ai")

    def bad(arg):
        raise ValueError("boom in get callback")

    status, _ = ca.get(chid, callback=bad)
    assert status == ca.ECA.NORMAL
    ca.flush_io()
    from _ioc import wait_for
    wait_for(lambda: _logged(caplog, "boom in get callback"), 5, "the error to be logged")
    # later callbacks still work
    assert isinstance(ca_get_cb(chid)["value"], float)


def test_subscription_callback_that_raises(connect, caplog):
    caplog.set_level(logging.ERROR, logger="caffi")
    chid = connect("counter")
    calls = []

    def bad(arg):
        calls.append(arg)
        raise KeyError("boom in monitor")

    status, evid = ca.create_subscription(chid, bad)
    assert status == ca.ECA.NORMAL
    ca.flush_io()
    try:
        from _ioc import wait_for
        wait_for(lambda: len(calls) >= 3, 5, "three updates despite errors")
        assert _logged(caplog, "boom in monitor")
    finally:
        assert ca.clear_subscription(evid) == ca.ECA.NORMAL


def test_put_and_connection_callbacks_that_raise(ctx, ioc, caplog):
    caplog.set_level(logging.ERROR, logger="caffi")

    def bad_conn(arg):
        raise RuntimeError("boom in connection callback")

    status, chid = ca.create_channel(ioc.prefix + "scratch", callback=bad_conn)
    assert status == ca.ECA.NORMAL
    try:
        from _ioc import wait_for
        wait_for(lambda: ca.state(chid) == ca.ChannelState.CONN, 5, "connection")
        wait_for(lambda: _logged(caplog, "boom in connection callback"), 5, "log")

        def bad_put(arg):
            raise RuntimeError("boom in put callback")

        assert ca.put(chid, 2.0, callback=bad_put) == ca.ECA.NORMAL
        ca.flush_io()
        wait_for(lambda: _logged(caplog, "boom in put callback"), 5, "log")
        assert ca_put(chid, 3.0)["status"] == ca.ECA.NORMAL
    finally:
        assert ca.clear_channel(chid) == ca.ECA.NORMAL


def test_callback_raising_base_exceptions(connect, caplog):
    """SystemExit/KeyboardInterrupt in a callback must not kill libca's thread."""
    caplog.set_level(logging.ERROR, logger="caffi")
    chid = connect("ai")

    def bad(arg):
        raise SystemExit(3)

    status, _ = ca.get(chid, callback=bad)
    assert status == ca.ECA.NORMAL
    ca.flush_io()
    from _ioc import wait_for
    wait_for(lambda: any(r.name.startswith("caffi") for r in caplog.records), 5, "log")
    assert isinstance(ca_get_cb(chid)["value"], float)
