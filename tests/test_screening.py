"""Screening lanes as a multi-server queue: validated against Erlang C."""

from __future__ import annotations

import math

import numpy as np
import pytest

from softtarget.sim.screening import Checkpoint
from softtarget.sim.units import Exponential


def erlang_c_mean_wait(c: int, lam: float, mu: float) -> float:
    """Mean wait in queue of M/M/c: P(wait) / (c mu - lambda), P(wait) by Erlang's C formula."""
    a = lam / mu
    rho = a / c
    tail = a**c / math.factorial(c) / (1 - rho)
    p_wait = tail / (sum(a**k / math.factorial(k) for k in range(c)) + tail)
    return p_wait / (c * mu - lam)


def simulated_mean_wait(c: int, rho: float, *, mean_s: float, n: int, seed: int) -> float:
    rng = np.random.default_rng(seed)
    lam = rho * c / mean_s
    arrivals = np.cumsum(rng.exponential(1 / lam, n))
    cp = Checkpoint(0, np.array([0.0, 0.0, 10.0, 2.0]), np.array([5.0, 50.0]), c, (10.0, 200.0))
    service = Exponential(dist="exponential", mean=mean_s)
    t, i, dt = 0.0, 0, 0.5
    while i < n:
        t += dt
        while i < n and arrivals[i] <= t:
            cp.join(i, float(arrivals[i]))
            i += 1
        cp.advance(t, service, rng, [])
    waits = np.array([cp.started[p] - cp.joined[p] for p in sorted(cp.started)])
    return float(waits[n // 10 :].mean())  # drop the warm-up


@pytest.mark.parametrize(("lanes", "load"), [(2, 0.6), (4, 0.75)])
def test_mean_wait_matches_erlang_c(lanes: int, load: float) -> None:
    mean_s = 10.0
    expected = erlang_c_mean_wait(lanes, load * lanes / mean_s, 1 / mean_s)
    got = np.mean(
        [simulated_mean_wait(lanes, load, mean_s=mean_s, n=40_000, seed=s) for s in range(4)]
    )
    assert got == pytest.approx(expected, rel=0.10)


def test_arrivals_join_the_shortest_lane() -> None:
    cp = Checkpoint(0, np.array([0.0, 0.0, 10.0, 2.0]), np.array([5.0, 50.0]), 3, (10.0, 200.0))
    for person in range(6):
        cp.join(person, 0.0)
    assert [len(lane.queue) for lane in cp.lanes] == [2, 2, 2]
    assert cp.queue_len() == 6


def test_long_lines_fold_inside_the_area() -> None:
    cp = Checkpoint(0, np.array([0.0, 20.0, 10.0, 30.0]), np.array([5.0, 100.0]), 1, (10.0, 100.0))
    for person in range(200):
        cp.join(person, 0.0)
    xy = np.zeros((200, 2))
    cp.positions(xy)
    assert (xy[:, 1] >= 0).all() and (xy[:, 1] <= 30).all()
    # at most one person per queue spot
    assert len({(round(x, 3), round(y, 3)) for x, y in xy}) == 200
