"""Fixtures of the CA server tests that run our server as a child process."""
import pytest

from caffi import ca


@pytest.fixture
def chan(ctx, server, request):
    """``make(suffix, prefix=PREFIX)``: a caffi channel to the test module's
    ``server`` (its ``PREFIX`` by default), connected; cleared at teardown."""
    made = []

    def make(suffix, prefix=request.module.PREFIX):
        status, chid = ca.create_channel(prefix + suffix)
        assert status == ca.ECA.NORMAL
        made.append(chid)
        assert ca.pend_io(5.0) == ca.ECA.NORMAL, "%s did not connect" % suffix
        return chid
    yield make
    for chid in made:
        ca.clear_channel(chid)
    ca.flush_io()
