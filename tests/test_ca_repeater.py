"""The ``caRepeater`` console script that libca starts does not hold its parent's stdio.

libca starts ``caRepeater`` from PATH when no repeater listens on its port.
The repeater outlives the program; if it kept the program's stdout/stderr, a
captured run (``subprocess.run(..., capture_output=True)``) would wait for
it for ever.
"""
import os
import signal
import subprocess
import sys
import textwrap

import pytest

import _ioc

SCRIPT = textwrap.dedent("""
    import sys
    from caffi import caget
    print("value", caget(sys.argv[1], timeout=10))
""")


def _repeaters_on(port):
    """PIDs of caRepeater processes whose environment names repeater *port*."""
    wanted = ("EPICS_CA_REPEATER_PORT=%d" % port).encode()
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as f:
                cmdline = f.read().split(b"\0")
            with open("/proc/%s/environ" % entry, "rb") as f:
                environ = f.read().split(b"\0")
        except OSError:
            continue
        if any(arg.endswith(b"caRepeater") for arg in cmdline[:2]) and wanted in environ:
            pids.append(int(entry))
    return pids


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_captured_run_of_a_script_ends(tmp_path, ioc, ports):
    port, = _ioc.pick_free_ports(1, exclude=(ports.server, ports.repeater) + ports.private)
    script = tmp_path / "script.py"
    script.write_text(SCRIPT)
    env = dict(os.environ)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    env["EPICS_CA_REPEATER_PORT"] = str(port)
    assert _repeaters_on(port) == []
    try:
        proc = subprocess.run([sys.executable, str(script), ioc.prefix + "ai"],
                              capture_output=True, timeout=30, env=env, cwd=str(tmp_path))
        assert proc.returncode == 0, proc.stderr.decode()
        assert proc.stdout.decode().startswith("value ")
        # The run exercised the case: libca did start a repeater, which
        # runs on after the script (detached from its pipes).
        _ioc.wait_for(lambda: _repeaters_on(port), 10, "the repeater libca started")
    finally:
        for pid in _repeaters_on(port):
            os.kill(pid, signal.SIGTERM)
        _ioc.wait_for(lambda: not _repeaters_on(port), 10, "the repeater to stop")


def test_repeater_options():
    script = os.path.join(os.path.dirname(sys.executable), "caRepeater")
    out = subprocess.run([script, "-h"], capture_output=True, timeout=30)
    assert out.returncode == 0 and b"-v" in out.stdout
    out = subprocess.run([script, "-x"], capture_output=True, timeout=30)
    assert out.returncode == 1 and b"unknown argument" in out.stderr
