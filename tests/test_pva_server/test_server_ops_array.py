"""ARRAY on our server: our client (element access) checked against p4p's reads."""
from __future__ import annotations

from typing import List

import numpy as np
import pytest

from pva import nt
from pva._messages import ChannelArrayRequest, ChannelArrayResponse, Subcommand
from pva.client import RemoteError
from pva.server import (AuthenticationError, AuthOperation, DataWrapperBase, PVAGroup,
                        pva_dataclass, pvaproperty, value_instance)
from pva.server.ops.array import get_elements, put_elements, resize

from server_helpers import run_client

pytestmark = pytest.mark.timeout(60)


@pva_dataclass
class Mixed:
    count: int
    samples: List[int]


class Arrays(PVAGroup):
    doubles = pvaproperty(value=[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0])
    names = pvaproperty(value=["a", "b", "c"])
    frozen = pvaproperty(value=[1, 2, 3], read_only=True)
    bounded = pvaproperty(value=[1, 2, 3])
    scalar = pvaproperty(value=1.5)
    puts = 0

    @bounded.putter
    async def bounded(self, instance, update):
        Arrays.puts += 1
        if len(update.instance.value) > 5:
            raise ValueError("at most 5 elements")


@pytest.fixture
def arrays(serve):
    Arrays.puts = 0
    group = Arrays("ar:")
    return serve(group.pvdb), group


@pytest.mark.parametrize("offset,count,stride", [
    (0, -1, 1), (3, -1, 1), (0, 4, 1), (2, 3, 2), (1, -1, 3), (9, -1, 1), (10, -1, 1),
    (0, 100, 1), (4, 2, 5)])
def test_array_get_matches_slicing(arrays, p4p_client, offset, count, stride):
    srv, _ = arrays
    got = run_client(srv, lambda ctx: ctx.array_get("ar:doubles", offset, count, stride))
    ref = p4p_client(srv).get("ar:doubles").value
    want = ref[offset::stride]
    if count != -1:
        want = want[:count]
    assert isinstance(got, np.ndarray) and got.dtype == np.float64
    assert got.tolist() == want.tolist()


def test_array_length_and_set_length(arrays, p4p_client):
    srv, _ = arrays

    async def ops(ctx):
        n0 = await ctx.array_length("ar:doubles")
        await ctx.array_set_length("ar:doubles", 4)
        n1 = await ctx.array_length("ar:doubles")
        await ctx.array_set_length("ar:doubles", 6)      # extended with zeros
        return n0, n1, await ctx.array_length("ar:doubles")
    assert run_client(srv, ops) == (10, 4, 6)
    assert p4p_client(srv).get("ar:doubles").value.tolist() == [0, 1, 2, 3, 0, 0]


def test_array_put_with_stride_grows_the_array(arrays, p4p_client):
    srv, _ = arrays
    ctxt = p4p_client(srv)
    run_client(srv, lambda ctx: ctx.array_put("ar:doubles", [-1, -2], offset=1, stride=3))
    assert ctxt.get("ar:doubles").value.tolist() == [0, -1, 2, 3, -2, 5, 6, 7, 8, 9]
    run_client(srv, lambda ctx: ctx.array_put("ar:doubles", [40, 41, 42], offset=9, stride=2))
    assert ctxt.get("ar:doubles").value.tolist() == \
        [0, -1, 2, 3, -2, 5, 6, 7, 8, 40, 0, 41, 0, 42]


def test_array_of_strings(arrays, p4p_client):
    srv, _ = arrays

    async def ops(ctx):
        await ctx.array_put("ar:names", ["z"], offset=4)
        return await ctx.array_get("ar:names", 1, -1, 1), await ctx.array_length("ar:names")
    got, n = run_client(srv, ops)
    assert list(got) == ["b", "c", "", "z"] and n == 5
    assert list(p4p_client(srv).get("ar:names").value) == ["a", "b", "c", "", "z"]


def test_array_put_notifies_monitors(arrays, p4p_client):
    srv, _ = arrays
    import queue
    q = queue.Queue()
    ctxt = p4p_client(srv)
    sub = ctxt.monitor("ar:doubles", q.put)
    try:
        assert q.get(timeout=5).value.tolist()[:2] == [0, 1]
        run_client(srv, lambda ctx: ctx.array_put("ar:doubles", [7.5], offset=0))
        assert q.get(timeout=5).value.tolist()[:2] == [7.5, 1]
    finally:
        sub.close()


def test_array_field_selection_in_a_structure(serve, p4p_client):
    data = Mixed(count=2, samples=[1, 2, 3])
    srv = serve({"m": data})

    async def ops(ctx):
        await ctx.array_put("m", [9], offset=1, request="field(samples)")
        return await ctx.array_get("m", request="field(samples)")
    assert run_client(srv, ops).tolist() == [1, 9, 3]
    assert p4p_client(srv).get("m").samples.tolist() == [1, 9, 3]
    # the default field is 'value', which this structure has not
    with pytest.raises(RemoteError, match="no field 'value'"):
        run_client(srv, lambda ctx: ctx.array_get("m"))


def test_array_on_a_non_array_field(arrays):
    srv, _ = arrays
    with pytest.raises(RemoteError, match="'value' is not an array"):
        run_client(srv, lambda ctx: ctx.array_get("ar:scalar"))
    with pytest.raises(RemoteError, match="not an array"):
        run_client(srv, lambda ctx: ctx.array_put("ar:doubles", [1], request="field(alarm)"))


def test_array_request_selecting_two_fields(arrays):
    srv, _ = arrays
    with pytest.raises(RemoteError, match="one array field, not 2"):
        run_client(srv, lambda ctx: ctx.array_get("ar:doubles", request="field(value,alarm)"))


def test_array_offset_past_the_end(arrays, p4p_client):
    srv, _ = arrays
    with pytest.raises(RemoteError, match="offset 11 is past the end of the array"):
        run_client(srv, lambda ctx: ctx.array_get("ar:doubles", offset=11))
    assert len(p4p_client(srv).get("ar:doubles").value) == 10
    # a put past the end grows the array, zero-filled
    run_client(srv, lambda ctx: ctx.array_put("ar:doubles", [1.5], offset=12))
    assert p4p_client(srv).get("ar:doubles").value.tolist()[9:] == [9, 0, 0, 1.5]


@pytest.mark.parametrize("kwargs,match", [
    ({"count": -2}, "count must be positive"), ({"count": 0}, "count must be positive"),
    ({"offset": -1}, "offset must not be negative"), ({"stride": 0}, "stride must be at least")])
def test_array_get_bad_arguments_are_refused_locally(arrays, kwargs, match):
    srv, _ = arrays
    with pytest.raises(ValueError, match=match):
        run_client(srv, lambda ctx: ctx.array_get("ar:doubles", **kwargs))


def test_array_put_bad_values(arrays, p4p_client):
    srv, _ = arrays
    with pytest.raises(ValueError, match="cannot convert"):
        run_client(srv, lambda ctx: ctx.array_put("ar:doubles", ["x"]))
    with pytest.raises(ValueError, match="length must not be negative"):
        run_client(srv, lambda ctx: ctx.array_set_length("ar:doubles", -1))
    assert p4p_client(srv).get("ar:doubles").value.tolist()[:2] == [0, 1]


def test_array_read_only_refuses_writes_not_reads(arrays, p4p_client):
    srv, _ = arrays
    with pytest.raises(RemoteError, match="read-only"):
        run_client(srv, lambda ctx: ctx.array_put("ar:frozen", [9]))
    with pytest.raises(RemoteError, match="read-only"):
        run_client(srv, lambda ctx: ctx.array_set_length("ar:frozen", 0))
    assert run_client(srv, lambda ctx: ctx.array_get("ar:frozen")).tolist() == [1, 2, 3]
    assert p4p_client(srv).get("ar:frozen").value.tolist() == [1, 2, 3]


def test_array_putter_sees_the_new_array_and_may_refuse(arrays, p4p_client):
    srv, _ = arrays
    run_client(srv, lambda ctx: ctx.array_put("ar:bounded", [4, 5], offset=3))
    with pytest.raises(RemoteError, match="ValueError: at most 5 elements"):
        run_client(srv, lambda ctx: ctx.array_put("ar:bounded", [6], offset=5))
    with pytest.raises(RemoteError, match="at most 5 elements"):
        run_client(srv, lambda ctx: ctx.array_set_length("ar:bounded", 6))
    assert Arrays.puts == 3
    assert p4p_client(srv).get("ar:bounded").value.tolist() == [1, 2, 3, 4, 5]


def test_array_authorize_hook(serve, p4p_client):
    seen = []

    class Guarded(DataWrapperBase):
        async def authorize(self, operation, *, authorization, request=None):
            seen.append(operation)
            if operation is AuthOperation.write:
                raise AuthenticationError("look, don't touch")
            return self.data

    ta = nt.NTScalar("ai")
    data = value_instance(ta.wrap(np.arange(4, dtype=np.int32)), ta.type)
    srv = serve({"g": Guarded("g", data)})
    with pytest.raises(RemoteError, match="look, don't touch"):
        run_client(srv, lambda ctx: ctx.array_put("g", [9]))
    assert run_client(srv, lambda ctx: ctx.array_get("g", 1, 2)).tolist() == [1, 2]
    assert seen == [AuthOperation.read, AuthOperation.write, AuthOperation.read]
    assert p4p_client(srv).get("g").value.tolist() == [0, 1, 2, 3]


def test_array_read_handler_error(serve):
    class Broken(DataWrapperBase):
        async def read(self, request):
            raise RuntimeError("sensor unplugged")

    ta = nt.NTScalar("ad")
    srv = serve({"b": Broken("b", value_instance(ta.wrap([1.0]), ta.type))})
    with pytest.raises(RemoteError, match="RuntimeError: sensor unplugged"):
        run_client(srv, lambda ctx: ctx.array_length("b"))


def test_array_request_kept_open_raw(arrays, raw_client):
    """One INIT, then several executions on the same request (as pvAccessCPP clients do)."""
    srv, group = arrays
    c = raw_client(srv.port)
    ch, _ = c.create_channel("ar:doubles")
    init = ch.array("field(value)")
    c.send(init)
    r = c.expect(ChannelArrayResponse)
    assert r.status.is_successful and r.array_structure_if.is_array
    sid, ioid = ch.sid, init.ioid
    c.send(ChannelArrayRequest(sid, ioid, Subcommand.PROCESS))          # get length
    assert c.expect(ChannelArrayResponse).length == 10
    c.send(ChannelArrayRequest(sid, ioid, 0, offset=0, stride=1, array_data=[5.0, 6.0]))
    assert c.expect(ChannelArrayResponse).status.is_successful
    c.send(ChannelArrayRequest(sid, ioid, Subcommand.GET, offset=0, count=3, stride=1))
    assert c.expect(ChannelArrayResponse).array_data.tolist() == [5, 6, 2]
    c.send(ChannelArrayRequest(sid, ioid, Subcommand.GET_PUT | Subcommand.DESTROY, length=2))
    assert c.expect(ChannelArrayResponse).status.is_successful
    assert group.doubles.data.value.tolist() == [5, 6]


def test_element_helpers():
    a = np.arange(6)
    assert get_elements(a, 1, 2, 2).tolist() == [1, 3]
    assert get_elements(a, 6, 0, 1).tolist() == []
    with pytest.raises(IndexError):
        get_elements(a, 7, 0, 1)
    ta = nt.NTScalar("al").type["value"]
    assert put_elements(ta, a, [9, 9], 5, 2).tolist() == [0, 1, 2, 3, 4, 9, 0, 9]
    assert put_elements(ta, a, [], 6, 1).tolist() == a.tolist()
    assert put_elements(ta, a, [7], 7, 1).tolist() == [0, 1, 2, 3, 4, 5, 0, 7]
    with pytest.raises(ValueError):
        put_elements(ta, a, [7], 0, 0)
    assert resize(ta, a, 2).tolist() == [0, 1] and resize(ta, a, 8).tolist()[6:] == [0, 0]
    ts = nt.NTScalar("as").type["value"]
    assert put_elements(ts, ["a"], ["c"], 2, 1) == ["a", "", "c"]
    assert resize(ts, ["a", "b"], 3) == ["a", "b", ""]
