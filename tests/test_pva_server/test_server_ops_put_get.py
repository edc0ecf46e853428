"""PUT_GET on our server: our client and the raw protocol; p4p reads the result."""
from __future__ import annotations


import pytest

import pva
from pva import BitSet, nt
from pva._messages import ChannelPutGetRequest, ChannelPutGetResponse, Subcommand
from pva.client import RemoteError
from pva.server import (AuthenticationError, AuthOperation, DataWrapperBase, PVAGroup,
                        pvaproperty, value_instance)

from server_helpers import run_client

pytestmark = pytest.mark.timeout(60)


class Limits(PVAGroup):
    """A putter doubling what it is given, a refusing putter, a read-only PV."""

    doubled = pvaproperty(value=1)
    picky = pvaproperty(value=1.0)
    fixed = pvaproperty(value=3, read_only=True)

    @doubled.putter
    async def doubled(self, instance, update):
        instance.value = 2 * update.instance.value

    @picky.putter
    async def picky(self, instance, update):
        if update.instance.value < 0:
            raise ValueError("must not be negative")


@pytest.fixture
def group_server(serve):
    return serve(Limits("pg:").pvdb)


def test_put_get_returns_what_the_putter_stored(group_server, p4p_client):
    v = run_client(group_server, lambda ctx: ctx.put_get("pg:doubled", 21))
    assert v.value == 42
    assert v.type.type_id.startswith("epics:nt/NTScalar")
    assert p4p_client(group_server).get("pg:doubled").value == 42


def test_put_get_field_selection_marks_the_get_part(serve):
    srv = serve({"x": nt.NTScalarFloat64(value=1.0)})
    v = run_client(srv, lambda ctx: ctx.put_get("x", {"value": 2.5, "alarm.severity": 2},
                                                 request="field(alarm)"))
    desc = v.type
    # the put wrote both fields; only the alarm was sent back
    assert desc.bit_of["alarm"] in v.changed and desc.bit_of["value"] not in v.changed
    assert v.alarm.severity == 2 and v.value == 0.0
    full = run_client(srv, lambda ctx: ctx.get("x"))
    assert full.value == 2.5 and full.alarm.severity == 2


@pytest.mark.parametrize("request_text", [
    "putField(value,alarm.severity)getField(alarm)",
    "field(value)getField(alarm)",          # getField wins over field for the read-back
])
def test_put_get_getfield_selects_the_read_back(serve, request_text):
    srv = serve({"x": nt.NTScalarFloat64(value=1.0)})
    v = run_client(srv, lambda ctx: ctx.put_get("x", {"value": 2.5, "alarm.severity": 2},
                                                 request=request_text))
    desc = v.type
    assert desc.bit_of["alarm"] in v.changed and desc.bit_of["value"] not in v.changed
    assert v.alarm.severity == 2 and v.value == 0.0
    assert run_client(srv, lambda ctx: ctx.get("x")).value == 2.5


def test_put_get_subcommands_raw(serve, raw_client):
    """Default: put then get; GET_GET (0x40): get only; GET_PUT (0x80): the put structure."""
    data = nt.NTScalarInt32(value=5)
    srv = serve({"x": data})
    c = raw_client(srv.port)
    ch, _ = c.create_channel("x")
    init = ch.read_write("field(value)")
    c.send(init)
    r = c.expect(ChannelPutGetResponse)
    assert r.status.is_successful
    # both structures are the PV's
    assert r.put_structure_if == r.get_structure_if == pva.get_pv_structure(data)
    desc = r.put_structure_if
    ioid, sid = init.ioid, ch.sid

    c.send(ChannelPutGetRequest(sid, ioid, Subcommand.GET))
    r = c.expect(ChannelPutGetResponse)
    assert r.subcommand == 0x40 and r.pv_data.data["value"] == 5
    assert set(r.pv_data.bitset) == {desc.bit_of["value"]}

    c.send(ChannelPutGetRequest(sid, ioid, Subcommand.DEFAULT,
                                put_data=pva.DataWithBitSet({"value": 9},
                                                            BitSet({desc.bit_of["value"]}))))
    r = c.expect(ChannelPutGetResponse)
    assert r.subcommand == 0 and r.pv_data.data["value"] == 9

    c.send(ChannelPutGetRequest(sid, ioid, Subcommand.GET_PUT))
    r = c.expect(ChannelPutGetResponse)
    assert r.subcommand == 0x80 and r.put_structure_if == desc
    assert r.pv_data.data["value"] == 9 and 0 in r.pv_data.bitset

    c.send(ChannelPutGetRequest(sid, ioid, Subcommand.GET | Subcommand.DESTROY))
    r = c.expect(ChannelPutGetResponse)
    assert r.pv_data.data["value"] == 9
    assert data.value == 9


def test_put_get_enum_by_choice_name(serve):
    """Our client reads the put structure (GET_PUT) to map a choice name."""
    te = nt.NTEnum()
    value = value_instance(te.wrap({"index": 0, "choices": ["zero", "one", "two"]}), te.type)
    srv = serve({"e": value})
    v = run_client(srv, lambda ctx: ctx.put_get("e", "two"))
    assert v.value.index == 2 and list(v.value.choices) == ["zero", "one", "two"]
    assert value.value.index == 2


def test_put_get_read_only_is_refused(group_server, p4p_client):
    with pytest.raises(RemoteError, match="read-only"):
        run_client(group_server, lambda ctx: ctx.put_get("pg:fixed", 4))
    assert p4p_client(group_server).get("pg:fixed").value == 3


def test_put_get_putter_error_reaches_the_client(group_server, p4p_client):
    with pytest.raises(RemoteError, match="ValueError: must not be negative"):
        run_client(group_server, lambda ctx: ctx.put_get("pg:picky", -1.0))
    v = run_client(group_server, lambda ctx: ctx.put_get("pg:picky", 4.0))
    assert v.value == 4.0
    assert p4p_client(group_server).get("pg:picky").value == 4.0


def test_put_get_authorize_hook_refusing(serve):
    seen = []

    class Guarded(DataWrapperBase):
        async def authorize(self, operation, *, authorization, request=None):
            seen.append(operation)
            if operation is AuthOperation.write:
                raise AuthenticationError("no writes for you")
            return self.data

    data = nt.NTScalarFloat64(value=1.0)
    srv = serve({"g": Guarded("g", data)})
    with pytest.raises(RemoteError, match="no writes for you"):
        run_client(srv, lambda ctx: ctx.put_get("g", 2.0))
    assert seen == [AuthOperation.write] and data.value == 1.0
    # reads still work
    assert run_client(srv, lambda ctx: ctx.get("g")).value == 1.0
