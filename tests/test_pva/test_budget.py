"""The memory budgets of connections (pva.io.budget), without I/O.

The connections here are stand-ins with the attributes the budget reads
and keeps on a :class:`pva.io.driver.Connection`.
"""
from __future__ import annotations

import pytest

from pva.io.budget import MemoryBudget, MemoryLimits, OverBudget

KiB = 1024


class Conn:
    def __init__(self, validated: bool = True):
        self.held = self.reserved = 0
        self.validated = validated
        self.closing = self.closed = False


def opened(budget: MemoryBudget, n: int, validated: bool = True):
    conns = [Conn(validated) for _ in range(n)]
    for c in conns:
        budget.opened(c)
    return conns


def test_connections_are_bounded_by_total_over_their_cost():
    budget = MemoryBudget(MemoryLimits(total=100 * KiB, connection_cost=10 * KiB))
    opened(budget, 10)
    with pytest.raises(OverBudget, match="10 connections open"):
        budget.opened(Conn())
    assert budget.in_use == 100 * KiB and budget.connections == 10


def test_per_connection_limit_refuses_and_counts_nothing():
    budget = MemoryBudget(MemoryLimits(per_connection=50 * KiB, connection_cost=KiB))
    (c,) = opened(budget, 1)
    assert budget.charge(c, 40 * KiB)
    assert not budget.charge(c, 10 * KiB)
    assert c.held == 41 * KiB and budget.in_use == 41 * KiB and budget.refused == 1


def test_past_total_only_connections_within_an_equal_share_get_more():
    budget = MemoryBudget(MemoryLimits(total=400 * KiB, per_connection=400 * KiB,
                                       connection_cost=KiB))
    big, small = opened(budget, 2)
    while budget.charge(big, KiB):
        pass
    assert budget.in_use == 400 * KiB
    for _ in range(150):                    # within its share (200 KiB): served
        assert budget.charge(small, KiB)
    while budget.charge(small, KiB):
        pass
    assert small.held == 200 * KiB and not budget.charge(big, 1)
    assert budget.in_use < 2 * 400 * KiB
    budget.credit(small, 100 * KiB)
    assert not budget.charge(big, 1)        # still over its share


def test_before_validation_a_message_and_all_buffers_are_small():
    limits = MemoryLimits(unvalidated_message=64 * KiB, unvalidated_total=100 * KiB)
    budget = MemoryBudget(limits)
    a, b = opened(budget, 2, validated=False)
    with pytest.raises(OverBudget, match="before validation"):
        budget.reserve(a, 64 * KiB + 1)
    budget.reserve(a, 64 * KiB)
    with pytest.raises(OverBudget, match="unvalidated_total"):
        budget.reserve(b, 40 * KiB)
    budget.reserve(a, 0)                    # a's message complete
    budget.reserve(b, 40 * KiB)
    b.validated = True
    budget.validated(b)
    assert budget.unvalidated == 0
    budget.reserve(b, 1 << 20)              # validated: only the total counts


def test_release_gives_everything_back_at_once():
    budget = MemoryBudget(MemoryLimits(connection_cost=KiB))
    (c,) = opened(budget, 1, validated=False)
    budget.charge(c, 5 * KiB)
    budget.reserve(c, 30 * KiB)
    budget.released(c)
    c.closed = True
    budget.credit(c, 5 * KiB)               # an operation dropped afterwards
    assert budget.in_use == 0 and budget.unvalidated == 0 and budget.connections == 0
