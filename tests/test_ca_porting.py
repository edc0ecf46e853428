"""What C programs ported line by line need: SEVCHK, severities, printable
statuses, the information functions and the db_access.h tables."""
import logging

import pytest

from caffi import CAError, ca

from _ioc import ca_get


def test_statuses_print_their_names_on_every_python():
    # caffi 1.0.4 printed names (IntEnum before Python 3.11); C's
    # printf("%d") is the number.
    assert str(ca.ECA.TIMEOUT) == "ECA.TIMEOUT"
    assert "%s" % ca.ECA.TIMEOUT == "ECA.TIMEOUT"
    assert f"{ca.ECA.TIMEOUT}" == "ECA.TIMEOUT"
    assert f"{ca.ECA.TIMEOUT:d}" == "80" and "%d" % ca.ECA.TIMEOUT == "80"
    assert f"{ca.ECA.TIMEOUT:>5}" == "   80"
    assert repr(ca.ECA.TIMEOUT) == "<ECA.TIMEOUT: 80>"
    assert str(ca.DBR.TIME_DOUBLE) == "DBR.TIME_DOUBLE"
    assert str(ca.DBF.ENUM) == "DBF.ENUM"
    assert str(ca.AlarmSeverity.Major) == "AlarmSeverity.Major"
    assert str(ca.ChannelState.CONN) == "ChannelState.CONN"
    assert ca.ECA.TIMEOUT == 80 and int(ca.ECA.TIMEOUT) == 80


@pytest.mark.parametrize("status", list(ca.ECA))
def test_severity_is_ca_k(status):
    severity = status.severity()
    assert type(severity) is ca.CA_K
    assert severity == (int(status) & 7)


def test_severities_of_some_statuses():
    assert ca.ECA.NORMAL.severity() is ca.CA_K.SUCCESS
    assert ca.ECA.TIMEOUT.severity() is ca.CA_K.WARNING
    assert ca.ECA.BADCHID.severity() is ca.CA_K.ERROR
    assert ca.ECA.IODONE.severity() is ca.CA_K.INFO
    assert ca.ECA.ALLOCMEM.severity() is ca.CA_K.WARNING
    assert ca.ECA.INTERNAL.severity() is ca.CA_K.FATAL


def test_sevchk(caplog):
    assert ca.SEVCHK(ca.ECA.NORMAL, "never shown") is ca.ECA.NORMAL
    assert ca.SEVCHK(1) is ca.ECA.NORMAL
    with caplog.at_level(logging.WARNING, logger="caffi"):
        assert ca.SEVCHK(ca.ECA.TIMEOUT, "pend_io") is ca.ECA.TIMEOUT
    assert "User specified timeout on IO operation expired" in caplog.text
    assert "pend_io" in caplog.text
    with pytest.raises(CAError) as info:
        ca.SEVCHK(ca.ECA.BADCHID, "Unable to read")
    assert info.value.status is ca.ECA.BADCHID
    assert str(info.value) == "Unable to read: Invalid channel identifier"
    with pytest.raises(CAError) as info:
        ca.SEVCHK(int(ca.ECA.INTERNAL))
    assert info.value.status is ca.ECA.INTERNAL
    # ca_signal reports even a success; it returns what does not fail.
    assert ca.signal(ca.ECA.IODONE) is ca.ECA.IODONE
    with pytest.raises(CAError):
        ca.signal(ca.ECA.BADTYPE, "put")


def test_ca_example_port(ctx, ioc):
    """EPICS base's caExample.c, line by line."""
    SEVCHK = ca.SEVCHK
    SEVCHK(ca.create_context(False), "ca_context_create")  # NOTTHREADED is a warning
    status, chid = ca.create_channel(ioc.prefix + "ai")
    SEVCHK(status, "ca_create_channel failure")
    SEVCHK(ca.pend_io(5.0), "ca_pend_io failure")
    status, data = ca.get(chid, ca.DBR.DOUBLE)
    SEVCHK(status, "ca_get failure")
    SEVCHK(ca.pend_io(5.0), "ca_pend_io failure")
    assert isinstance(data.get(), float)
    SEVCHK(ca.clear_channel(chid), "ca_clear_channel")


def test_information_functions(connect):
    chid = connect("ai")
    assert ca.get_ioc_connection_count() >= 1
    assert ca.search_attempts(chid) >= 1
    assert isinstance(ca.beacon_period(chid), float)
    assert ca.receive_watchdog_delay(chid) >= 0.0
    assert ca.beacon_anomaly_count() >= 0
    with pytest.raises(TypeError):
        ca.search_attempts("ai")


def test_db_access_tables():
    # Sizes from db_access.h's structures on this (LP64) platform.
    assert ca.dbr_size[ca.DBR_STRING] == 40
    assert ca.dbr_size[ca.DBR_DOUBLE] == 8
    assert ca.dbr_size[ca.DBR_TIME_DOUBLE] == 24
    assert ca.dbr_size[ca.DBR_CTRL_DOUBLE] == 88
    assert ca.dbr_value_size[ca.DBR_TIME_DOUBLE] == 8
    assert ca.dbr_value_size[ca.DBR_CTRL_STRING] == 40
    assert ca.dbr_value_offset[ca.DBR_TIME_DOUBLE] == 16
    assert ca.dbr_value_offset[ca.DBR_DOUBLE] == 0
    assert ca.dbr_size_n(ca.DBR_TIME_DOUBLE, 10) == 24 + 9 * 8
    assert ca.dbr_value_class[ca.DBR_DOUBLE] == ca.dbr_class_float
    assert ca.dbr_value_class[ca.DBR_TIME_LONG] == ca.dbr_class_int
    assert ca.dbr_value_class[ca.DBR_CTRL_STRING] == ca.dbr_class_string
    assert (ca.dbr_class_int, ca.dbr_class_float, ca.dbr_class_string) == (0, 1, 2)
    assert len(ca.dbr_size) == ca.LAST_BUFFER_TYPE + 1
    assert ca.dbr_type_to_text(ca.DBR_TIME_DOUBLE) == "DBR_TIME_DOUBLE"
    assert ca.dbr_type_to_text(-5) == ca.dbr_text_invalid == "DBR_invalid"
    assert ca.dbf_type_to_text(ca.DBF_ENUM) == "DBF_ENUM"
    assert ca.dbf_type_to_text(99) == ca.dbf_text_invalid == "DBF_invalid"
    assert ca.dbr_text_to_type("DBR_CTRL_LONG") == ca.DBR_CTRL_LONG
    assert ca.dbf_text_to_type("DBF_CHAR") == ca.DBF_CHAR


def test_get_with_a_type_reads_the_native_count(connect):
    """Unlike C's ca_get (one element), ca.get(chid, DBR.DOUBLE) reads the
    element count: count=None means the native count for every type."""
    chid = connect("wf:double")
    assert len(ca_get(chid, chtype=ca.DBR.DOUBLE)) == ca.element_count(chid) == 16
    assert ca_get(chid, chtype=ca.DBR.DOUBLE, count=1) == ca_get(chid, count=1)
