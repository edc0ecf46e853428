"""The test servers themselves: environment isolation, repeater, IOC helper."""
import os
import socket
import sys

import pytest

import _ioc


def test_environment_isolated(ports):
    env = os.environ
    assert env["EPICS_CA_AUTO_ADDR_LIST"] == "NO"
    assert env["EPICS_CA_ADDR_LIST"].split()[0] == "127.0.0.1"
    for entry in env["EPICS_CA_ADDR_LIST"].split():
        assert entry.startswith("127.0.0.1")
    assert env["EPICS_CA_SERVER_PORT"] == str(ports.server)
    assert env["EPICS_CA_REPEATER_PORT"] == str(ports.repeater)
    assert env["EPICS_CAS_INTF_ADDR_LIST"] == "127.0.0.1"
    assert env["EPICS_CAS_BEACON_ADDR_LIST"] == "127.0.0.1"
    assert env["EPICS_CAS_AUTO_BEACON_ADDR_LIST"] == "NO"
    assert env["EPICS_CA_MAX_ARRAY_BYTES"] == "20000000"
    assert env["EPICS_PVA_AUTO_ADDR_LIST"] == "NO"
    assert env["EPICS_PVA_ADDR_LIST"] == "127.0.0.1"
    assert env["EPICS_PVAS_INTF_ADDR_LIST"] == "127.0.0.1"
    all_ports = {ports.server, ports.repeater, int(env["EPICS_PVA_SERVER_PORT"]),
                 int(env["EPICS_PVA_BROADCAST_PORT"])} | set(ports.private)
    assert len(all_ports) == 4 + len(ports.private)
    assert 5064 not in all_ports and 5065 not in all_ports


def test_repeater_running(ca_repeater, ports):
    assert ca_repeater.alive()
    assert os.path.dirname(ca_repeater.script) == os.path.dirname(sys.executable)
    # A second registration is confirmed too (the repeater serves many clients).
    assert _ioc.repeater_registered(ports.repeater, timeout=5.0)
    # The port is held by the repeater.
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        with pytest.raises(OSError):
            s.bind(("", ports.repeater))
    finally:
        s.close()


def test_ioc_console(ioc):
    assert ioc.alive()
    rc, out = ioc.run("dbgf %sai.EGU" % ioc.prefix)
    assert rc == 0
    assert '"mm"' in out
    ioc.dbpf(ioc.prefix + "scratch", 12.25)
    assert "12.25" in ioc.dbgf(ioc.prefix + "scratch")
    ioc.dbpf(ioc.prefix + "scratch", 0)
    rc, out = ioc.run("casr 1")
    assert rc == 0
    assert "127.0.0.1:%s" % os.environ["EPICS_CA_SERVER_PORT"] in out
    # Unknown commands report failure.
    rc, out = ioc.run("no_such_command_xyz")
    assert rc != 0
    # Plain Python in the console.
    result, out = ioc.py("__r = 6 * 7")
    assert result == "42"


def test_ioc_database_types(ioc):
    """The native field types the other tests rely on."""
    expected = {
        "ai": "DBF_DOUBLE", "ao": "DBF_DOUBLE", "longin": "DBF_LONG", "longout": "DBF_LONG",
        "stringin": "DBF_STRING", "stringout": "DBF_STRING", "short": "DBF_SHORT", "float": "DBF_FLOAT",
        "char": "DBF_UCHAR", "wf:string": "DBF_STRING", "wf:short": "DBF_SHORT",
        "wf:float": "DBF_FLOAT", "wf:char": "DBF_CHAR",
        "wf:uchar": "DBF_UCHAR", "wf:long": "DBF_LONG", "wf:double": "DBF_DOUBLE",
        "longstr": "DBF_CHAR", "big": "DBF_DOUBLE", "ai.PREC": "DBF_SHORT",
    }
    for suffix, dbf in expected.items():
        out = ioc.dbgf(ioc.prefix + suffix)
        assert out.startswith(dbf + ":") or out.startswith(dbf + "["), (suffix, out)
    # (dbgf shows ENUM fields as strings; their type is checked over CA.)


def test_counter_changes(ioc):
    first = ioc.dbgf(ioc.prefix + "counter")
    _ioc.wait_for(lambda: ioc.dbgf(ioc.prefix + "counter") != first, 5.0, "counter to change")


def test_private_ioc_stop_restart(private_ioc):
    server = private_ioc()
    pid = server.pid
    assert server.alive()
    port = server.ca_port
    rc, out = server.run("casr 1")
    assert "127.0.0.1:%d" % port in out
    server2 = server.restart()
    assert not server.alive()
    assert server.proc.returncode is not None
    assert server2.alive() and server2.pid != pid
    rc, out = server2.run("casr 1")
    assert "127.0.0.1:%d" % port in out


def test_private_ioc_access_security(private_ioc):
    server = private_ioc(acf=_ioc.TEST_ACF)
    rc, out = server.run("asprules")
    assert rc == 0
    assert "ASG(RO)" in out
    # asInit at run time re-reads the file.
    rc, out = server.run("asInit")
    assert rc == 0


def test_ioc_start_failure_is_clear(tmp_path):
    bad = tmp_path / "bad.db"
    bad.write_text('record(nosuchrecordtype, "x") {}\n')
    server = _ioc.IOC(str(bad), env=os.environ, start_timeout=20)
    with pytest.raises(_ioc.ServerError) as info:
        server.start()
    assert not server.alive()
    assert "bad.db" in str(info.value) or "nosuchrecordtype" in str(info.value)
