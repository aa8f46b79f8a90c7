"""Isotropic flow: a corridor passes as much round a corner as straight on (issue 16).

With floor fields of shortest distance, everyone in a crowd rounding a corner heads for the
inner corner and queues there, so an L-shaped corridor passes about what a 1.2 m door does,
whatever its width.  The route fields (quickest path, :mod:`softtarget.sim.motion.route`)
must make the corner a non-limit: straight and L corridors of the same width within 15 %.
"""

import numpy as np
import pytest

from softtarget.sim.motion import Lattice, build_fields, build_grid
from softtarget.sim.motion.lattice import MotionParams
from softtarget.sim.motion.validation import corridor_flow

SEEDS = (0, 1)

# The shortest-path model this replaces: no route fields, moves within ~72° of the way.
SHORTEST_PATH = MotionParams(route_every=0.0, r_min=0.3)


def _ratio(width: float, params: MotionParams | None = None) -> tuple[float, float]:
    straight = np.mean([corridor_flow(width, "straight", s, params=params) for s in SEEDS])
    corner = np.mean([corridor_flow(width, "L", s, params=params) for s in SEEDS])
    return float(straight), float(corner)


@pytest.mark.parametrize("width", [2.4, 4.0, 8.0])
def test_corner_passes_what_the_corridor_does(width):
    straight, corner = _ratio(width)
    assert corner == pytest.approx(straight, rel=0.15), (width, straight, corner)
    # and the corridor carries about what its width allows (~1.1-1.3 /(m·s))
    assert 0.9 <= straight / width <= 1.5, (width, straight)


def test_shortest_path_model_throttles_the_corner():
    # the old model fails the test above: the corner passes a fixed ~2 persons/s
    straight, corner = _ratio(8.0, SHORTEST_PATH)
    assert corner < 0.5 * straight, (straight, corner)
    assert corner < 3.0


def test_route_is_the_floor_field_without_congestion():
    # four people can never crowd a 1.6 m block beyond the capacity density (1.75 /m²):
    # walking together through a gap they leave the route fields untouched
    g = build_grid((0.0, 0.0, 20.0, 10.0), [(9.8, 0.0, 10.2, 6.0)])
    ff = build_fields(g, [g.rect_mask((19.2, 0.0, 20.0, 10.0))])
    c = Lattice(ff, capacity=4)
    rng = np.random.default_rng(3)
    c.fill_mask(g.rect_mask((0.0, 4.0, 1.2, 6.0)), 4, 0, rng)
    for _ in range(100):
        c.step(rng)
        assert np.array_equal(c.route, ff.fields)


def test_route_delays_behind_a_queue_only():
    # a packed queue in front of a wall's gap delays the way from behind it; the other side
    # of the (thin) wall and the way beyond the gap keep their free distance
    g = build_grid((0.0, 0.0, 20.0, 10.0), [(9.9, 0.0, 10.1, 4.0), (9.9, 6.0, 10.1, 10.0)])
    ff = build_fields(g, [g.rect_mask((19.2, 0.0, 20.0, 10.0))])
    c = Lattice(ff, capacity=200)
    rng = np.random.default_rng(4)
    c.fill_mask(g.rect_mask((4.0, 2.0, 9.6, 8.0)), 200, 0, rng)
    c.update_routes()
    walk = g.walkable
    delay = np.zeros(g.shape)
    delay[walk] = c.route[0][walk] - ff.fields[0][walk]
    behind = g.rect_mask((0.0, 3.0, 3.0, 7.0))
    beyond = g.rect_mask((11.0, 0.0, 20.0, 10.0))
    assert np.all(delay[behind] > 2.0)
    assert np.all(delay[beyond] == 0.0)
    assert np.all(delay[walk] >= 0.0)
