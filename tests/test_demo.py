"""``python3 run.py demo`` (demo/demo.py) runs to completion with its output captured.

The demo checks every step itself (its exit status is 0 only if all of
them did what they should); this runs it as a user would, with stdout and
stderr on pipes, which also shows that no child process it starts holds
them open after it ends.
"""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO = os.path.join(ROOT, "demo", "demo.py")


@pytest.mark.timeout(180)
def test_demo_completes():
    env = {k: v for k, v in os.environ.items() if not k.startswith("EPICS_")}
    proc = subprocess.run([sys.executable, DEMO], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=170)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    # each server took part: the soft IOC over CA and PVA, our pvAccess
    # server, our CA server over CA and pvAccess
    for heading in ("11. Monitor demo:counter through CA and PVA at once",
                    "12. Our Python CA server (caffi.server) over Channel Access",
                    "13. The same PVs over pvAccess: one group, two protocols"):
        assert heading in out
    assert "identical: one PV of a PVGroup, two protocols" in out
    assert "Demo completed" in out
