"""Every public name of caffi 1.0.4's modules exists in ours.

``tests/data/caffi104_public_names.json`` was recorded from caffi 1.0.4
installed from PyPI into its own virtual environment::

    python -c "import json, caffi, caffi.ca, caffi.dbr, caffi.constants, caffi.macros;
    json.dump({m.__name__: sorted(n for n in dir(m) if not n.startswith('_'))
               for m in (caffi, caffi.ca, caffi.dbr, caffi.constants, caffi.macros)},
              open('caffi104_public_names.json', 'w'))"
"""
import importlib
import json
import os

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))

with open(os.path.join(HERE, "data", "caffi104_public_names.json")) as f:
    NAMES = json.load(f)

# Module imports of caffi 1.0.4 itself (Python 2 compatibility), not API.
NOT_API = {"absolute_import", "print_function", "Sequence", "sys"}


@pytest.mark.parametrize("module", sorted(NAMES))
def test_public_names_exist(module):
    mod = importlib.import_module(module)
    missing = [name for name in NAMES[module] if name not in NOT_API and not hasattr(mod, name)]
    assert missing == []


def test_dir_of_ca_shows_the_api_and_hides_helpers():
    from caffi import ca
    shown = dir(ca)
    missing = [name for name in NAMES["caffi.ca"] if name not in NOT_API and name not in shown]
    assert missing == []
    for name in ("create_channel", "SEVCHK", "signal", "search_attempts", "DBR_TIME_DOUBLE",
                 "dbr_size", "dbr_value_class"):
        assert name in shown
    for name in ("allocate", "atexit", "lib", "prepare_put", "clear_registry", "unregister",
                 "current", "Channel", "Context", "PutRefused", "eca_enum", "in_callback",
                 "logger", "threading"):
        assert name not in shown, name
    assert all(hasattr(ca, name) for name in shown)


def test_star_import_binds_what_104_bound():
    namespace = {}
    exec("from caffi import *", namespace)
    missing = [name for name in NAMES["caffi"]
               if name not in NOT_API and name not in namespace]
    assert missing == []
    import caffi
    for name in ("ca", "compat", "constants", "dbr", "macros"):
        assert namespace[name] is getattr(caffi, name)


def test_same_values_for_macros_everywhere():
    from caffi import ca, constants, dbr, macros
    for name in macros.__all__:
        value = getattr(macros, name)
        for mod in (ca, dbr, constants):
            assert getattr(mod, name) is value, (mod.__name__, name)


def test_compat_helpers():
    from caffi import ca, dbr
    assert ca.to_bytes("µ") == "µ".encode()
    assert ca.to_string(b"abc") == "abc"
    assert ca.DBR_TYPE_STRING[ca.DBR.DOUBLE] == "dbr_double_t"
    buf = ca.ffi.new("dbr_double_t[3]", [1.0, 2.0, 3.0])
    assert dbr.format_plain_value("dbr_double_t", 3, buf, False) == [1.0, 2.0, 3.0]
    assert list(dbr.format_plain_value("dbr_double_t", 3, buf, True)) == [1.0, 2.0, 3.0]
    strings = ca.ffi.new("dbr_string_t[2]", [b"ab", b"cd"])
    assert dbr.format_string_value(2, strings) == ["ab", "cd"]
    s = ca.ffi.new("struct dbr_time_double *")
    s.status, s.severity, s.stamp.secPastEpoch, s.stamp.nsec = 3, 1, 10, 500
    out = {}
    dbr.format_dbr_sts(s, out)
    dbr.format_dbr_time(s, out)
    assert out == {"status": ca.AlarmCondition.HiHi, "severity": ca.AlarmSeverity.Minor,
                   "stamp": {"seconds": 10 + ca.POSIX_TIME_AT_EPICS_EPOCH,
                             "nanoseconds": 500,
                             "timestamp": 10 + ca.POSIX_TIME_AT_EPICS_EPOCH + 5e-7}}
    assert int(ca.ffi.cast("uintptr_t", dbr.dbr_value_ptr(s, ca.DBR.TIME_DOUBLE))) == \
        int(ca.ffi.cast("uintptr_t", s)) + ca.ffi.offsetof("struct dbr_time_double", "value")
