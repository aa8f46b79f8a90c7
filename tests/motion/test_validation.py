"""Validation of the crowd movement engine against reference pedestrian data.

Tolerances are those of the design brief; they are fixed, a wrong model fails them.
"""

import numpy as np
import pytest

from softtarget.sim.motion.validation import (
    bottleneck_flow,
    evacuation_time,
    free_walk_time,
    fundamental_diagram,
    weidmann_speed,
)

DENSITIES = (0.5, 1.0, 2.0, 3.0, 4.0)


def test_free_walk_corridor():
    # one person, 2 m x 40 m corridor, 1.33 m/s: 26-34 s (40 m / 1.33 m/s = 30 s)
    t = free_walk_time(speed=1.33, length=40.0, width=2.0)
    assert 26.0 <= t <= 34.0


@pytest.mark.parametrize("seed", [1, 7])
def test_fundamental_diagram_weidmann(seed):
    v = fundamental_diagram(DENSITIES, seed=seed)
    ref = weidmann_speed(DENSITIES)
    assert np.all(np.diff(v) < 0), v  # speed decreases with density
    assert np.all(np.abs(v - ref) <= 0.25), (v, ref)


def test_bottleneck_specific_flow_and_width():
    # 1 m door (lattice-aligned so that it is represented by 2 cells = 0.8 m, the
    # half-coverage rule rounds ties towards the wall), 1.2 m (3 cells) and 2 m (5 cells).
    one = bottleneck_flow(4.4, 5.4)
    wide12 = bottleneck_flow(4.4, 5.6)
    two = bottleneck_flow(4.0, 6.0)
    assert one.effective_width == pytest.approx(0.8)
    assert wide12.effective_width == pytest.approx(1.2)
    assert two.effective_width == pytest.approx(2.0)
    # honest for the 1 m door: in the band per nominal AND per represented width
    assert 1.3 <= one.specific_flow_nominal <= 2.0
    assert 1.3 <= one.specific_flow_effective <= 2.0
    assert 1.3 <= wide12.specific_flow_effective <= 2.0
    assert 1.3 <= two.specific_flow_nominal <= 2.0
    # total flow grows with width
    assert one.flow < wide12.flow < two.flow


def test_bottleneck_flow_is_steady():
    # a bigger room (more people, longer queue) gives the same flow within 10 %
    small = bottleneck_flow(4.0, 6.0)
    big = bottleneck_flow(4.0, 6.0, n=600, room=20.0)
    assert big.flow == pytest.approx(small.flow, rel=0.1)


def test_evacuation_four_vs_two_exits():
    t4, c4 = evacuation_time((0, 1, 2, 3), n=1000)
    t2, c2 = evacuation_time((0, 1), n=1000)
    assert c4.sum() == 1000 and c2.sum() == 1000
    assert c2[2] == 0 and c2[3] == 0  # closed exits stay closed
    assert np.all(c4 > 150)  # all four exits are used
    assert 1.6 <= t2 / t4 <= 2.4, (t4, t2)
