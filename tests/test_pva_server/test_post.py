"""DataWrapperBase.commit / post: the snapshots subscribers receive."""
from __future__ import annotations

import asyncio
import copy

import numpy as np

from pva import BitSet, nt
from pva.server import DataWrapperBase
from pva.server.common import snapshot


class _Recorder:
    """A subscriber keeping each snapshot and a deep copy of it made at post time."""

    def __init__(self, wrapper):
        self.wrapper = wrapper
        self.posts = []

    def post(self, snap, changed):
        # what the whole value is now, read independently of the post
        whole = snapshot(self.wrapper.structure, self.wrapper.data)
        self.posts.append((snap, copy.deepcopy(snap), whole, set(changed)))


def _same(a, b) -> bool:
    if isinstance(a, dict) or isinstance(b, dict):
        return isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys() and \
            all(_same(a[k], b[k]) for k in a)
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(a, b)
    return a == b


def test_each_post_hands_the_whole_value_as_of_then_and_never_changes_it():
    """A post's snapshot holds every member as it is at the post (not only the
    changed ones), and later commits (of other members, of the same ones, of a
    replaced data object) leave the snapshots already handed out as they were."""
    async def main():
        wrapper = DataWrapperBase("x", nt.NTScalarFloat64(value=0.0))
        rec = _Recorder(wrapper)
        await wrapper.subscribe(None, rec)
        ts = {"secondsPastEpoch": 10, "nanoseconds": 5}
        await wrapper.commit({"value": 1.0, "timeStamp": ts})
        await wrapper.commit({"alarm": {"severity": 2, "message": "high"}})
        await wrapper.commit({"value": 2.0})
        await wrapper.commit({"display": {"limitHigh": 9.0, "units": "mm"}})
        wrapper.data.control.limitLow = -3.0          # changed in place, then posted
        wrapper.post(BitSet({wrapper.structure.bit_of["control.limitLow"]}))
        await wrapper.commit({"alarm": {"severity": 0}, "value": 3.0})
        # a new data object: its members, not the last snapshot's
        fresh = nt.NTScalarFloat64(value=7.0)
        fresh.display.units = "V"
        wrapper.data = fresh
        await wrapper.commit({"value": 8.0})
        await wrapper.commit({"alarm": {"status": 1}})
        await wrapper.unsubscribe(None, rec)
        # changes while nobody listens, then a subscriber again
        await wrapper.commit({"display": {"units": "A"}})
        await wrapper.subscribe(None, rec)
        await wrapper.commit({"value": 9.0})
        return rec.posts

    posts = asyncio.run(main())
    assert len(posts) == 9
    for snap, at_post, whole, _ in posts:
        assert _same(at_post, whole)        # the whole value as of the post
        assert _same(snap, at_post)         # not changed since
    assert posts[4][2]["control"]["limitLow"] == -3.0
    assert posts[5][2]["alarm"]["message"] == "high"
    assert posts[6][2]["display"]["units"] == "V" and posts[6][2]["value"] == 8.0
    assert posts[8][2]["display"]["units"] == "A" and posts[8][2]["alarm"]["status"] == 1


def test_post_of_one_member_keeps_the_others_of_the_last_post():
    """Members a post does not name come from the value (through the last
    snapshot): a commit of ``value`` carries the ``alarm`` committed before."""
    async def main():
        wrapper = DataWrapperBase("x", nt.NTScalarInt32(value=0))
        rec = _Recorder(wrapper)
        await wrapper.subscribe(None, rec)
        for i in range(5):
            await wrapper.commit({"alarm": {"severity": i % 3}})
            await wrapper.commit({"value": i})
        return rec.posts

    posts = asyncio.run(main())
    for i in range(5):
        snap = posts[2 * i + 1][0]
        assert snap["value"] == i and snap["alarm"]["severity"] == i % 3


def test_queued_updates_are_sized_as_the_whole_snapshot_when_members_are_shared():
    """A monitor sizes a queued snapshot by its members that are not the last
    sized snapshot's; the sizes are those of sizing each snapshot whole, as
    strings and arrays of changed and of unchanged members grow and shrink."""
    from pva.server.ops.monitor import _size_of, snapshot_size

    async def main():
        wrapper = DataWrapperBase("x", nt.NTScalarArrayFloat64(value=[1.0] * 3))
        rec = _Recorder(wrapper)
        await wrapper.subscribe(None, rec)
        await wrapper.commit({"value": np.arange(1000.0)})
        await wrapper.commit({"alarm": {"message": "x" * 500}})
        await wrapper.commit({"value": [2.0]})
        await wrapper.commit({"display": {"units": "mm" * 300, "description": "d"}})
        await wrapper.commit({"alarm": {"message": ""}, "value": np.zeros(77)})
        wrapper.data = nt.NTScalarArrayFloat64(value=[5.0] * 9)   # a new object
        await wrapper.commit({"display": {"units": "V"}})
        await wrapper.commit({"value": []})
        return rec.posts

    posts = asyncio.run(main())
    sizes = [_size_of(snap) for snap, *_ in posts]
    assert sizes == [snapshot_size(snap) for snap, *_ in posts]
    assert len(set(sizes)) == len(sizes)        # every step changed the size
