"""Unit tests of the grid, floor fields and crowd state."""

import numpy as np
import pytest

from softtarget.sim.motion import Lattice, build_fields, build_grid, open_width
from softtarget.sim.motion.lattice import FREE_SPEED_RANGE, MotionParams, draw_speeds
from softtarget.sim.motion.validation import evacuation_geometry


def test_point_cell_roundtrip():
    g = build_grid((-2.0, 1.0, 10.0, 7.0), cell=0.4)
    assert g.shape == (15, 30)
    ix, iy = g.cell_of([-2.0, 0.1, 9.99], [1.0, 3.3, 6.99])
    assert list(ix) == [0, 5, 29] and list(iy) == [0, 5, 14]
    x, y = g.centre(ix, iy)
    ix2, iy2 = g.cell_of(x, y)
    assert np.array_equal(ix, ix2) and np.array_equal(iy, iy2)


def test_walls_and_openings_rasterise():
    walls = [(4.0, 0.0, 4.4, 4.0), (4.0, 6.0, 4.4, 10.0), (8.0, 0.0, 8.1, 10.0)]
    g = build_grid((0, 0, 10, 10), walls)
    assert open_width(g, g.rect_mask((4.0, 0, 4.4, 10))) == pytest.approx(2.0)
    assert open_width(g, g.rect_mask((8.0, 0, 8.4, 10))) == 0.0  # thin wall still blocks
    poly = build_grid((0, 0, 4, 4), polygons=[[(1.1, 1.1), (2.9, 1.1), (2.9, 2.9), (1.1, 2.9)]])
    assert (~poly.walkable).sum() == 16  # centres 1.4 .. 2.6 in each axis


def test_floor_field_goes_around_wall():
    # a wall with a gap at the top: the field must route through the gap
    g = build_grid((0, 0, 10, 10), [(4.8, 0, 5.2, 8.0)])
    ff = build_fields(g, [g.rect_mask((9.2, 0, 10, 0.8))])
    f = ff.fields[0]
    ix, iy = g.cell_of(4.4, 0.4)
    # straight line 5.2 m; around the wall's end at (5, 8): ~7.6 + 9.0 m
    assert 15.5 < f[iy, ix] < 18.0
    assert np.isinf(f[~g.walkable]).all()


def test_speeds_drawn_and_clipped():
    v = draw_speeds(np.random.default_rng(0), 20000)
    assert v.min() >= FREE_SPEED_RANGE[0] and v.max() <= FREE_SPEED_RANGE[1]
    assert v.mean() == pytest.approx(1.34, abs=0.01)


def _run_evac(seed):
    _g, ff, room = evacuation_geometry((0, 1))
    c = Lattice(ff, capacity=300)
    rng = np.random.default_rng(seed)
    c.fill_mask(room, 300, 0, rng)
    for _ in range(200):
        c.step(rng)
    return c


def test_deterministic_given_generator():
    a, b, c = _run_evac(5), _run_evac(5), _run_evac(6)
    assert np.array_equal(a.ix, b.ix) and np.array_equal(a.iy, b.iy)
    assert np.array_equal(a.counts, b.counts)
    assert not np.array_equal(a.ix, c.ix)


def test_corner_nobody_crosses_a_wall():
    # L-shaped 2 m corridor: east along y in [0, 2], then north along x in [10, 12]
    walls = [(0, 2, 10, 14)]
    g = build_grid((0, 0, 12, 14), walls)
    ff = build_fields(g, [g.rect_mask((10, 13.2, 12, 14))])
    c = Lattice(ff, capacity=20)
    rng = np.random.default_rng(11)
    c.fill_mask(g.rect_mask((0, 0, 4, 2)), 20, 0, rng)
    walk = g.walkable
    for _ in range(400):
        px, py = c.ix.copy(), c.iy.copy()
        was = c.active.copy()
        c.step(rng)
        m = was & c.active
        assert walk[c.iy[m], c.ix[m]].all()
        dx, dy = c.ix[m] - px[m], c.iy[m] - py[m]
        # moves of up to max_moves cells per step
        assert np.abs(dx).max(initial=0) <= MotionParams().max_moves
        assert np.abs(dy).max(initial=0) <= MotionParams().max_moves
        occ = c.occ
        assert (occ[c.iy[c.active], c.ix[c.active]] == np.flatnonzero(c.active)).all()
        assert np.count_nonzero(occ >= 0) == c.n_active
        if not c.n_active:
            break
    assert c.counts.sum() == 20


def test_no_corner_cutting_single_steps():
    # a one-cell-per-step run: every move is to a Moore neighbour and diagonal moves never
    # pass between two wall cells' corners
    walls = [(0, 2, 10, 14)]
    g = build_grid((0, 0, 12, 14), walls)
    ff = build_fields(g, [g.rect_mask((10, 13.2, 12, 14))])
    c = Lattice(ff, capacity=20, params=MotionParams(max_moves=1))
    rng = np.random.default_rng(12)
    c.fill_mask(g.rect_mask((0, 0, 4, 2)), 20, 0, rng)
    walk = g.walkable
    while c.n_active:
        px, py = c.ix.copy(), c.iy.copy()
        was = c.active.copy()
        c.step(rng)
        m = was & c.active
        dx, dy = c.ix[m] - px[m], c.iy[m] - py[m]
        assert np.abs(dx).max(initial=0) <= 1 and np.abs(dy).max(initial=0) <= 1
        diag = (dx != 0) & (dy != 0)
        assert walk[py[m][diag], c.ix[m][diag]].all() and walk[c.iy[m][diag], px[m][diag]].all()
        assert c.time < 200
    assert c.counts.sum() == 20


def test_density_field():
    g = build_grid((0, 0, 4, 4))
    ff = build_fields(g, [g.rect_mask((3.6, 0, 4, 4))], sink=[False])
    c = Lattice(ff, capacity=9)
    rng = np.random.default_rng(0)
    # a full 3x3 block of cells: centre density = 9 / 1.44 m² = 6.25 /m²
    x, y = g.centre(np.repeat([3, 4, 5], 3), np.tile([3, 4, 5], 3))
    c.add(x, y, 0, rng)
    d = c.density()
    assert d[4, 4] == pytest.approx(6.25)
    assert c.peak_density() == pytest.approx(6.25)
    assert d.sum() * 0.16 == pytest.approx(9 * 9 / 9)


def test_removal_counts_per_exit_and_capacity():
    _g, ff, room = evacuation_geometry((0, 1, 2, 3))
    c = Lattice(ff, capacity=100)
    rng = np.random.default_rng(1)
    c.fill_mask(room, 100, 0, rng)
    removed = c.run(rng, 120.0)
    assert removed == 100 == c.counts.sum()
    assert c.n_active == 0 and (c.occ >= 0).sum() == 0
    with pytest.raises(ValueError):
        c.fill_mask(room, 1, 0, rng)


def test_remove_and_swap_fields():
    _g, ff, room = evacuation_geometry((0, 1, 2, 3))
    c = Lattice(ff, capacity=50)
    rng = np.random.default_rng(2)
    idx = c.fill_mask(room, 50, 0, rng)
    c.remove(idx[:10])
    assert c.n_active == 40 and (c.occ >= 0).sum() == 40
    assert c.density_at_agents()[idx[:10]].sum() == 0
    # close two exits mid-run: everyone still leaves, only through the open ones
    _g2, ff2, _ = evacuation_geometry((0, 1))
    c.set_fields(ff2)
    c.run(rng, 200.0)
    assert c.n_active == 0 and c.counts[2] == 0 and c.counts[3] == 0 and c.counts.sum() == 40
    with pytest.raises(ValueError):
        c.set_fields(build_fields(build_grid((0, 0, 4, 4)), [np.ones((10, 10), bool)]))


def _pile_up(jam_ppm2: float | None) -> tuple[float, float]:
    """180 walkers heading for a wall (a target that does not remove them) for 60 s: the
    highest local density around anyone at any step (as a run measures its peak) and the
    mean distance left to the wall at the end.

    They start on every other cell of the room's first 10 m (at most 5 in a window)."""
    g = build_grid((0, 0, 16, 6))
    ff = build_fields(g, [g.rect_mask((15.6, 0, 16, 6))], sink=[False])
    c = Lattice(ff, capacity=180)
    c.set_jam(jam_ppm2, seed=4)
    rng = np.random.default_rng(4)
    iy, ix = np.mgrid[0 : g.ny, 0:25]
    start = ((ix + iy) % 2 == 0).ravel()
    x, y = g.centre(ix.ravel()[start][:180], iy.ravel()[start][:180])
    c.add(x, y, 0, rng)
    assert c.peak_density() <= 5 / 1.44 + 1e-4
    peak = 0.0
    while c.time < 60.0:
        c.step(rng)
        peak = max(peak, float(c.density_of(np.flatnonzero(c.active)).max()))
    return peak, float(ff.fields[0][c.iy, c.ix].mean())


def test_calm_walkers_stop_at_jam_density():
    # Weidmann's 5.4 /m² as whole people in a 1.2 m window: 7 or 8, so never 9 (6.25 /m²)
    peak, left = _pile_up(5.4)
    assert peak == pytest.approx(8 / 1.44)
    packed_peak, packed_left = _pile_up(None)  # no limit: the crowd packs whole windows
    assert packed_peak == pytest.approx(9 / 1.44)
    assert packed_left < left < packed_left + 1.0  # the crowd is a little deeper, that is all
    assert _pile_up(4.0)[0] == pytest.approx(6 / 1.44)  # 4 /m²: 5 or 6 people in a window
