"""caffi.macros: the C macros of cadef.h, caerr.h, caeventmask.h, db_access.h, alarm.h."""
import pytest

from caffi import macros as m


def test_channel_states():
    assert (m.cs_never_conn, m.cs_prev_conn, m.cs_conn, m.cs_closed) == (0, 1, 2, 3)


def test_ca_op_and_priority():
    assert (m.CA_OP_GET, m.CA_OP_PUT, m.CA_OP_CREATE_CHANNEL, m.CA_OP_ADD_EVENT,
            m.CA_OP_CLEAR_EVENT, m.CA_OP_OTHER, m.CA_OP_CONN_UP, m.CA_OP_CONN_DOWN) == tuple(range(8))
    assert (m.CA_PRIORITY_MIN, m.CA_PRIORITY_MAX, m.CA_PRIORITY_DEFAULT) == (0, 99, 0)
    assert m.CA_PRIORITY_DB_LINKS == 80
    assert m.CA_PRIORITY_ARCHIVE == 20
    assert m.CA_PRIORITY_OPI == 0


def test_dbe():
    assert (m.DBE_VALUE, m.DBE_ARCHIVE, m.DBE_LOG, m.DBE_ALARM, m.DBE_PROPERTY) == (1, 2, 2, 4, 8)


def test_db_access_codes():
    assert m.TYPENOTCONN == -1
    assert (m.DBF_STRING, m.DBF_INT, m.DBF_SHORT, m.DBF_FLOAT, m.DBF_ENUM, m.DBF_CHAR,
            m.DBF_LONG, m.DBF_DOUBLE, m.DBF_NO_ACCESS) == (0, 1, 1, 2, 3, 4, 5, 6, 7)
    assert m.LAST_TYPE == m.DBF_DOUBLE
    assert m.DBR_STS_STRING == 7 and m.DBR_TIME_DOUBLE == 20 and m.DBR_CTRL_DOUBLE == 34
    assert (m.DBR_PUT_ACKT, m.DBR_PUT_ACKS, m.DBR_STSACK_STRING, m.DBR_CLASS_NAME) == (35, 36, 37, 38)
    assert m.LAST_BUFFER_TYPE == 38


def test_type_predicates():
    assert m.dbf_type_is_valid(0) and m.dbf_type_is_valid(6)
    assert not m.dbf_type_is_valid(7) and not m.dbf_type_is_valid(-1)
    assert m.dbr_type_is_valid(0) and m.dbr_type_is_valid(38)
    assert not m.dbr_type_is_valid(39) and not m.dbr_type_is_valid(-1)
    for t in range(0, 39):
        assert bool(m.dbr_type_is_plain(t)) == (0 <= t <= 6)
        assert bool(m.dbr_type_is_STS(t)) == (7 <= t <= 13)
        assert bool(m.dbr_type_is_TIME(t)) == (14 <= t <= 20)
        assert bool(m.dbr_type_is_GR(t)) == (21 <= t <= 27)
        assert bool(m.dbr_type_is_CTRL(t)) == (28 <= t <= 34)
        assert bool(m.dbr_type_is_DOUBLE(t)) == (t % 7 == 6)
        assert bool(m.dbr_type_is_STRING(t)) == (t % 7 == 0)
        assert bool(m.dbr_type_is_SHORT(t)) == (t % 7 == 1)
        assert bool(m.dbr_type_is_FLOAT(t)) == (t % 7 == 2)
        assert bool(m.dbr_type_is_ENUM(t)) == (t % 7 == 3)
        assert bool(m.dbr_type_is_CHAR(t)) == (t % 7 == 4)
        assert bool(m.dbr_type_is_LONG(t)) == (t % 7 == 5)
    assert not m.dbr_type_is_DOUBLE(-1) and not m.dbr_type_is_STRING(-7)


# Sizes of the C structures (db_access.h layout, fixed by the CA protocol).
SIZES = {
    m.DBR_STRING: 40, m.DBR_SHORT: 2, m.DBR_FLOAT: 4, m.DBR_ENUM: 2, m.DBR_CHAR: 1,
    m.DBR_LONG: 4, m.DBR_DOUBLE: 8,
    m.DBR_STS_STRING: 44, m.DBR_STS_SHORT: 6, m.DBR_STS_FLOAT: 8, m.DBR_STS_ENUM: 6,
    m.DBR_STS_CHAR: 6, m.DBR_STS_LONG: 8, m.DBR_STS_DOUBLE: 16,
    m.DBR_TIME_STRING: 52, m.DBR_TIME_SHORT: 16, m.DBR_TIME_FLOAT: 16, m.DBR_TIME_ENUM: 16,
    m.DBR_TIME_CHAR: 16, m.DBR_TIME_LONG: 16, m.DBR_TIME_DOUBLE: 24,
    m.DBR_GR_DOUBLE: 72, m.DBR_CTRL_DOUBLE: 88, m.DBR_GR_ENUM: 424, m.DBR_CTRL_ENUM: 424,
}
VALUE_SIZES = {
    m.DBR_STRING: 40, m.DBR_SHORT: 2, m.DBR_FLOAT: 4, m.DBR_ENUM: 2, m.DBR_CHAR: 1,
    m.DBR_LONG: 4, m.DBR_DOUBLE: 8, m.DBR_TIME_DOUBLE: 8, m.DBR_CTRL_DOUBLE: 8,
    m.DBR_TIME_STRING: 40, m.DBR_GR_ENUM: 2,
}


@pytest.mark.parametrize("dbrtype", sorted(SIZES))
def test_dbr_size_n(dbrtype):
    size = SIZES[dbrtype]
    assert m.dbr_size_n(dbrtype, 1) == size
    assert m.dbr_size_n(dbrtype, 0) == size
    if dbrtype in VALUE_SIZES:
        assert m.dbr_size_n(dbrtype, 10) == size + 9 * VALUE_SIZES[dbrtype]


def test_dbf_to_dbr():
    for dbf in range(7):
        assert m.dbf_type_to_DBR(dbf) == dbf
        assert m.dbf_type_to_DBR_STS(dbf) == dbf + 7
        assert m.dbf_type_to_DBR_TIME(dbf) == dbf + 14
        assert m.dbf_type_to_DBR_GR(dbf) == dbf + 21
        assert m.dbf_type_to_DBR_CTRL(dbf) == dbf + 28
    for bad in (-1, 7, 100):
        assert m.dbf_type_to_DBR(bad) == -1
        assert m.dbf_type_to_DBR_STS(bad) == -1
        assert m.dbf_type_to_DBR_TIME(bad) == -1
        assert m.dbf_type_to_DBR_GR(bad) == -1
        assert m.dbf_type_to_DBR_CTRL(bad) == -1


def test_text_conversions():
    assert m.dbf_type_to_text(m.DBF_DOUBLE) == "DBF_DOUBLE"
    assert m.dbf_type_to_text(m.DBF_STRING) == "DBF_STRING"
    assert m.dbf_type_to_text(-1) == "TYPENOTCONN"
    assert m.dbf_type_to_text(7) == "DBF_NO_ACCESS"
    assert m.dbf_type_to_text(100) == "DBF_invalid"
    assert m.dbf_text is m.dbf_type_to_text or m.dbf_text(6) == "DBF_DOUBLE"
    assert m.dbf_text_to_type("DBF_LONG") == m.DBF_LONG
    assert m.dbf_text_to_type(b"DBF_ENUM") == m.DBF_ENUM
    assert m.dbf_text_to_type("nonsense") == -1
    assert m.dbr_type_to_text(m.DBR_TIME_DOUBLE) == "DBR_TIME_DOUBLE"
    assert m.dbr_type_to_text(m.DBR_CLASS_NAME) == "DBR_CLASS_NAME"
    assert m.dbr_type_to_text(m.DBR_STSACK_STRING) == "DBR_STSACK_STRING"
    assert m.dbr_type_to_text(-1) == "DBR_invalid"
    assert m.dbr_type_to_text(39) == "DBR_invalid"
    assert m.dbr_text(m.DBR_GR_LONG) == "DBR_GR_LONG"
    assert m.dbr_text_to_type("DBR_CTRL_ENUM") == m.DBR_CTRL_ENUM
    assert m.dbr_text_to_type(b"DBR_STRING") == m.DBR_STRING
    assert m.dbr_text_to_type("DBR_NOPE") == -1
    for t in range(39):
        assert m.dbr_text_to_type(m.dbr_type_to_text(t)) == t


def test_status_code_fields():
    assert (m.CA_K_INFO, m.CA_K_ERROR, m.CA_K_SUCCESS, m.CA_K_WARNING, m.CA_K_SEVERE,
            m.CA_K_FATAL) == (3, 2, 1, 0, 4, 6)
    assert m.CA_EXTRACT_MSG_NO(m.ECA_BADCHID) == 51
    assert m.CA_EXTRACT_MSG_SEVERITY(m.ECA_BADCHID) == m.CA_K_ERROR
    assert m.CA_EXTRACT_MSG_SEVERITY(m.ECA_NORMAL) == m.CA_K_SUCCESS
    assert m.CA_EXTRACT_MSG_SEVERITY(m.ECA_IODONE) == m.CA_K_INFO
    assert m.CA_EXTRACT_MSG_NO(m.ECA_NORMAL) == 0


def test_eca_codes():
    assert m.ECA_NORMAL == 1
    assert m.ECA_TIMEOUT == 80
    assert m.ECA_BADCHID == 410
    assert m.ECA_BADCOUNT == 176
    assert m.ECA_STRTOBIG == 96
    assert m.ECA_NOTTHREADED == 458
    assert m.ECA_UNRESPTMO == 480
    assert m.ECA_CHIDNOTFOUND == 123


def test_epics_epoch():
    assert m.POSIX_TIME_AT_EPICS_EPOCH == 631152000


def test_alarm_macros_and_strings():
    assert (m.NO_ALARM, m.MINOR_ALARM, m.MAJOR_ALARM, m.INVALID_ALARM) == (0, 1, 2, 3)
    assert (m.READ_ALARM, m.HIHI_ALARM, m.UDF_ALARM, m.WRITE_ACCESS_ALARM) == (1, 3, 17, 21)
    assert m.epicsAlarmSeverityStrings(m.MAJOR_ALARM) == "MAJOR"
    assert m.alarmSeverityString(0) == "NO_ALARM"
    assert m.epicsAlarmConditionStrings(m.HIHI_ALARM) == "HIHI"
    assert m.alarmStatusString(m.UDF_ALARM) == "UDF"
    assert m.epicsAlarmConditionStrings(m.WRITE_ACCESS_ALARM) == "WRITE_ACCESS"
