"""The enums of caffi.ca / caffi.constants / caffi.dbr (caffi 1.0 names and values)."""
import enum

import pytest

from caffi import ca


# Values documented by caffi 1.0 (and fixed by the CA protocol / headers).
ECA_VALUES = {
    "ADDFAIL": 168, "ALLOCMEM": 48, "BADCHID": 410, "BADCOUNT": 176, "BADPRIORITY": 450,
    "BADSTR": 186, "BADSYNCGRP": 354, "BADTYPE": 114, "DBLCHNL": 200, "DISCONN": 192,
    "DISCONNCHID": 106, "EVDISALLOW": 210, "GETFAIL": 152, "IODONE": 339,
    "IOINPROGRESS": 347, "ISATTACHED": 424, "NORMAL": 1, "NOTTHREADED": 458,
    "NOWTACCESS": 376, "PUTFAIL": 160, "STRTOBIG": 96, "TIMEOUT": 80, "TOLARGE": 72,
    "UNAVAILINSERV": 432, "NORDACCESS": 368, "BADMONID": 242, "BADFUNCPTR": 418,
    "BADMASK": 330, "NOCONVERT": 400, "CHANDESTROY": 440,
}


@pytest.mark.parametrize("name,value", sorted(ECA_VALUES.items()))
def test_eca_values(name, value):
    member = getattr(ca.ECA, name)
    assert int(member) == value
    assert isinstance(member, enum.IntEnum)
    assert ca.ECA(value) is member


def test_eca_special_names():
    # ECA_16KARRAYCLIENT cannot be an identifier.
    assert hasattr(ca.ECA, "ARRAY16KCLIENT")
    assert int(ca.ECA.ARRAY16KCLIENT) == 464


def test_eca_message():
    assert ca.ECA.NORMAL.message() == "Normal successful completion"
    assert ca.ECA.BADCHID.message() == "Invalid channel identifier"
    assert ca.ECA.TIMEOUT.message() == "User specified timeout on IO operation expired"
    assert ca.message(ca.ECA.BADCOUNT) == "Invalid element count requested"
    assert ca.message(176) == ca.ECA.BADCOUNT.message()
    for member in ca.ECA:
        text = member.message()
        assert isinstance(text, str) and text


def test_dbe():
    assert (int(ca.DBE.VALUE), int(ca.DBE.ARCHIVE), int(ca.DBE.ALARM), int(ca.DBE.PROPERTY)) \
        == (1, 2, 4, 8)
    assert ca.DBE.VALUE | ca.DBE.ALARM == 5


def test_dbf():
    assert int(ca.DBF.INVALID) == -1
    assert [int(ca.DBF[n]) for n in ("STRING", "SHORT", "FLOAT", "ENUM", "CHAR", "LONG", "DOUBLE")] \
        == list(range(7))
    assert ca.DBF.INT is ca.DBF.SHORT


@pytest.mark.parametrize("dbf", ["STRING", "SHORT", "FLOAT", "ENUM", "CHAR", "LONG", "DOUBLE"])
def test_dbf_conversions(dbf):
    member = ca.DBF[dbf]
    assert member.toSTS() is ca.DBR["STS_" + dbf]
    assert member.toTIME() is ca.DBR["TIME_" + dbf]
    assert member.toGR() is ca.DBR["GR_" + dbf]
    # Deliberate fix over caffi 1.0.4, which returned the GR type here.
    assert member.toCTRL() is ca.DBR["CTRL_" + dbf]
    assert isinstance(member.toSTS(), ca.DBR)


def test_dbr_values():
    expected = {
        "INVALID": -1, "STRING": 0, "SHORT": 1, "INT": 1, "FLOAT": 2, "ENUM": 3, "CHAR": 4,
        "LONG": 5, "DOUBLE": 6, "STS_STRING": 7, "STS_DOUBLE": 13, "TIME_STRING": 14,
        "TIME_DOUBLE": 20, "GR_STRING": 21, "GR_DOUBLE": 27, "CTRL_STRING": 28,
        "CTRL_DOUBLE": 34, "PUT_ACKT": 35, "PUT_ACKS": 36, "STSACK_STRING": 37, "CLASS_NAME": 38,
    }
    for name, value in expected.items():
        assert int(ca.DBR[name]) == value, name
    assert ca.DBR.TIME_INT is ca.DBR.TIME_SHORT
    assert ca.DBR.CTRL_INT is ca.DBR.CTRL_SHORT


_KINDS = ["STRING", "SHORT", "FLOAT", "ENUM", "CHAR", "LONG", "DOUBLE"]
_GROUPS = ["", "STS_", "TIME_", "GR_", "CTRL_"]


@pytest.mark.parametrize("group", _GROUPS)
@pytest.mark.parametrize("kind", _KINDS)
def test_dbr_predicates(group, kind):
    member = ca.DBR[group + kind]
    for k in _KINDS:
        assert getattr(member, "is" + k)() == (k == kind), (member, k)
    assert member.isPlain() == (group == "")
    assert member.isSTS() == (group == "STS_")
    assert member.isTIME() == (group == "TIME_")
    assert member.isGR() == (group == "GR_")
    assert member.isCTRL() == (group == "CTRL_")


def test_dbr_special_predicates():
    for name in ("PUT_ACKT", "PUT_ACKS", "STSACK_STRING", "CLASS_NAME"):
        member = ca.DBR[name]
        assert not member.isPlain() and not member.isSTS() and not member.isTIME()
        assert not member.isGR() and not member.isCTRL()


def test_ca_op():
    assert [int(ca.CA_OP[n]) for n in ("GET", "PUT", "CREATE_CHANNEL", "ADD_EVENT", "CLEAR_EVENT",
                                       "OTHER", "CONN_UP", "CONN_DOWN")] == list(range(8))


def test_channel_state():
    assert [int(ca.ChannelState[n]) for n in ("NEVER_CONN", "PREV_CONN", "CONN", "CLOSED",
                                              "NEVER_SEARCH")] == list(range(5))


def test_priority():
    assert int(ca.CA_PRIORITY.MIN) == 0
    assert int(ca.CA_PRIORITY.MAX) == 99
    assert int(ca.CA_PRIORITY.DEFAULT) == 0


def test_alarm_enums():
    assert [int(ca.AlarmSeverity[n]) for n in ("No", "Minor", "Major", "Invalid")] == [0, 1, 2, 3]
    names = ["No", "Read", "Write", "HiHi", "High", "LoLo", "Low", "State"]
    assert [int(ca.AlarmCondition[n]) for n in names] == list(range(8))
    assert int(ca.AlarmCondition.UDF) == 17
    assert int(ca.AlarmCondition.WriteAccess) == 21
    assert len(ca.AlarmCondition) == 22


def test_enums_exported_from_constants_and_dbr():
    from caffi import constants, dbr
    for name in ("ECA", "DBE", "CA_OP", "ChannelState", "CA_PRIORITY", "AlarmSeverity",
                 "AlarmCondition"):
        assert getattr(constants, name) is getattr(ca, name)
    assert dbr.DBR is ca.DBR
    assert dbr.DBF is ca.DBF
    assert dbr.DBRValue is ca.DBRValue
