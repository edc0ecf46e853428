"""The server guide's example runs as written: docs/ca-server.rst's code
block is saved as a script, served as an IOC, and asked by libca what the
page says it answers."""
import os
import re

import pytest

from caffi import ca

import _ioc
from _pyioc import PyIOC

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PAGE = os.path.join(ROOT, "docs", "ca-server.rst")
PREFIX = "caffidoc%d:" % os.getpid()


def code_blocks(path):
    """The ``.. code-block:: python`` blocks of a page, dedented."""
    with open(path) as f:
        text = f.read()
    blocks = []
    for match in re.finditer(r"^\.\. code-block:: python\n\n((?:   .*\n|\n)+)", text, re.M):
        lines = match.group(1).rstrip("\n").split("\n")
        blocks.append("\n".join(line[3:] for line in lines) + "\n")
    return blocks


@pytest.fixture(scope="module")
def guide_ioc(ports, tmp_path_factory):
    # the guide's first example (the thermometer; the both-protocols one follows)
    (block,) = [b for b in code_blocks(PAGE) if "ioc_arg_parser" in b and "readback" in b]
    script = tmp_path_factory.mktemp("guide") / "thermometer.py"
    script.write_text(block)
    ioc = PyIOC(PREFIX, ports.private[-1], script=str(script)).start()
    try:
        yield ioc
    finally:
        ioc.stop()


def test_guide_example_serves_what_the_page_says(ctx, guide_ioc):
    made = []
    try:
        for suffix in ("setpoint", "readback", "readback.EGU"):
            status, chid = ca.create_channel(PREFIX + suffix)
            assert status == ca.ECA.NORMAL
            made.append(chid)
        assert ca.pend_io(10.0) == ca.ECA.NORMAL
        setpoint, readback, egu = made
        # caput thermo:setpoint 25: the readback follows
        assert _ioc.ca_put(setpoint, 25.0)["status"] == ca.ECA.NORMAL
        assert _ioc.ca_get(readback) == 25.0
        assert _ioc.ca_get(egu) == "C"
        assert ca.write_access(readback) is False
        # the setpoint's control limits refuse a write beyond them
        assert _ioc.ca_put(setpoint, 150.0)["status"] != ca.ECA.NORMAL
        assert _ioc.ca_get(readback) == 25.0
    finally:
        for chid in made:
            ca.clear_channel(chid)
        ca.flush_io()


def test_every_python_block_of_the_guide_is_run():
    # the page has two examples: the thermometer (run above) and the one
    # under "Both protocols" (test_ca_server_both.py runs it); a new block
    # needs a test of its own
    blocks = code_blocks(PAGE)
    assert len(blocks) == 2
    assert "readback" in blocks[0] and "readback" not in blocks[1]
    with open(PAGE) as f:
        text = f.read()
    assert text.index(blocks[1].splitlines()[0]) > text.index("\nBoth protocols\n")
