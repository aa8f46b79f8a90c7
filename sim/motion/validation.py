"""Validation scenarios of the movement engine (used by tests/motion, benchmarks and docs).

Each function builds its geometry, runs the cellular automaton with a seeded generator and
returns the measured quantity. People are calm walkers, as in the experiments, who stop at
the crowd's jam density (``jam_ppm2``, the scenario default; None: no limit).
References: Weidmann (1993) for free speed and the fundamental diagram; Seyfried et al.
and Kretz et al. (2006) for bottleneck flows (see REFERENCES.md, Crowd).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from softtarget.sim.motion.fields import build_fields, periodic_x_field
from softtarget.sim.motion.grid import Rect, build_grid, open_width
from softtarget.sim.motion.lattice import JAM_DENSITY_PPM2, Lattice, MotionParams

WEIDMANN_V0 = 1.34
WEIDMANN_GAMMA = 1.913
WEIDMANN_RHO_MAX = 5.4


def weidmann_speed(rho: np.ndarray | float) -> np.ndarray:
    """Weidmann's v(ρ) = v0 (1 − exp(−γ (1/ρ − 1/ρmax))) in m/s."""
    rho = np.asarray(rho, dtype=float)
    x = -WEIDMANN_GAMMA * (1.0 / rho - 1.0 / WEIDMANN_RHO_MAX)
    return WEIDMANN_V0 * (1.0 - np.vectorize(math.exp, otypes=[float])(x))  # the C library's


def free_walk_time(
    speed: float = 1.33, length: float = 40.0, width: float = 2.0, seed: int = 0
) -> float:
    """Time (s) one person at ``speed`` needs to walk a ``width`` x ``length`` corridor.

    Starts in the first cell column, arrives on entering the last one.
    """
    g = build_grid((0.0, 0.0, length, width))
    tgt = g.rect_mask((length - g.cell, 0.0, length, width))
    ff = build_fields(g, [tgt])
    c = Lattice(ff, capacity=1)
    rng = np.random.default_rng(seed)
    c.add([g.cell / 2], [width / 2], 0, rng, speed=np.array([speed], np.float32))
    c.budget[:] = 0.0
    while c.n_active and c.time < 10 * length / speed:
        c.step(rng)
    return c.time


def fundamental_diagram(
    densities: tuple[float, ...] = (0.5, 1.0, 2.0, 3.0, 4.0),
    length: float = 20.0,
    width: float = 4.0,
    warmup: float = 20.0,
    measure: float = 40.0,
    seed: int = 1,
    params: MotionParams | None = None,
    jam_ppm2: float | None = JAM_DENSITY_PPM2,
) -> np.ndarray:
    """Mean speed (m/s) in a corridor periodic in x at each global density (persons/m²).

    Agents are placed on random cells with desired speeds drawn from N(1.34, 0.26); the speed
    is the mean progress over ``measure`` seconds after ``warmup`` seconds.
    """
    out = []
    for rho in densities:
        g = build_grid((0.0, 0.0, length, width))
        ff = periodic_x_field(g)
        n = round(rho * length * width)
        c = Lattice(ff, capacity=n, params=params or MotionParams(), periodic_x=True)
        c.set_jam(jam_ppm2, seed)
        rng = np.random.default_rng(seed)
        c.fill_mask(g.walkable, n, 0, rng)
        c.run(rng, warmup)
        start = c.odometer.copy()
        c.run(rng, measure)
        out.append(float(np.mean(c.odometer - start) / measure))
    return np.array(out)


@dataclass
class BottleneckResult:
    """Outcome of :func:`bottleneck_flow`."""

    nominal_width: float
    effective_width: float
    flow: float
    """persons/s through the opening in steady state."""

    @property
    def specific_flow_effective(self) -> float:
        """persons/(m·s) per represented width."""
        return self.flow / self.effective_width

    @property
    def specific_flow_nominal(self) -> float:
        """persons/(m·s) per nominal width."""
        return self.flow / self.nominal_width


def bottleneck_geometry(
    lo: float, hi: float, room: float = 10.0, height: float = 10.0, cell: float = 0.4
) -> tuple:
    """Room, 0.4 m wall with an opening, 3.2 m of free space and a sink strip.

    The room is ``room`` x ``height`` m, the wall at x = ``room`` has an opening [lo, hi] in
    y at its drawn width (cells its edges cut are partly open), the sink is the last 0.8 m.
    Returns (grid, fields, room_mask, line across the wall).
    """
    area = (0.0, 0.0, room + 4.0, height)
    walls: list[Rect] = [(room, 0.0, room + 0.4, lo), (room, hi, room + 0.4, height)]
    g = build_grid(area, walls, cell=cell).with_openings([((room, lo, room + 0.4, hi), False)])
    ff = build_fields(g, [g.rect_mask((room + 3.2, 0.0, room + 4.0, height))])
    return g, ff, g.rect_mask((0.0, 0.0, room, height)), g.rect_mask((room, 0, room + 0.4, height))


def _steady_flow(times: list[float]) -> float:
    """Steady flow, persons/s, from everyone's passage times.

    The slope of cumulative passages between the 20th and 80th percentile (the queue persists
    all along).
    """
    t = np.sort(np.asarray(times))
    a, b = int(0.2 * len(t)), int(0.8 * len(t))
    return float((b - a) / (t[b] - t[a]))


def bottleneck_flow(
    lo: float,
    hi: float,
    n: int = 300,
    seed: int = 2,
    room: float = 10.0,
    height: float = 10.0,
    params: MotionParams | None = None,
    jam_ppm2: float | None = JAM_DENSITY_PPM2,
) -> BottleneckResult:
    """Steady-state flow through an opening from ``lo`` to ``hi`` (m) in a wall.

    ``n`` people start at random in the room; the flow is the slope of cumulative passages
    between the 20th and 80th percentile of the passage times (the queue persists all along).
    """
    g, ff, room_mask, line = bottleneck_geometry(lo, hi, room, height)
    c = Lattice(ff, capacity=n, params=params or MotionParams())
    c.set_jam(jam_ppm2, seed)
    rng = np.random.default_rng(seed)
    c.fill_mask(room_mask, n, 0, rng)
    passed = np.zeros(n, dtype=bool)
    times: list[float] = []
    x_out = room + 0.4
    while c.n_active and c.time < 2000:
        c.step(rng)
        x, _ = c.positions()
        new = ~passed & ((x > x_out) | ~c.active)
        times += [c.time] * int(new.sum())
        passed |= new
    return BottleneckResult(hi - lo, open_width(g, line), _steady_flow(times))


def evacuation_geometry(
    open_exits: tuple[int, ...] = (0, 1, 2, 3),
    size: tuple[float, float] = (25.6, 20.0),
    door: float = 1.0,
) -> tuple:
    """A room with four doors of nominal width ``door``, one in the middle of each wall.

    With the default 25.6 m x 20 m room the door centres lie on lattice lines, so a 1.0 m
    (or 0.8 m) door is represented by 2 cells (0.8 m), see :mod:`softtarget.sim.motion.grid`.

    The room ``[0, W] x [0, H]`` is surrounded by a 0.4 m wall and 3.6 m of outside space;
    the outermost 0.8 m in front of each door is that exit's target (label = exit number:
    0 west, 1 east, 2 south, 3 north).  Closed doors are walled up.  The sink sits ~3 m beyond
    the door on purpose: a sink right behind a door removes people the moment they pass, so
    the next one sees an empty way ahead and the door's flow is overestimated (~+80 %).
    Returns (grid, fields, room_mask).
    """
    w, h = size
    t, s = 0.4, 3.6
    area = (-t - s, -t - s, w + t + s, h + t + s)
    cx, cy = w / 2, h / 2
    walls: list[Rect] = []
    half = door / 2
    for k, (is_open, horiz) in enumerate(
        ((0 in open_exits, False), (1 in open_exits, False), (2 in open_exits, True),
         (3 in open_exits, True))
    ):  # fmt: skip
        c0 = cx if horiz else cy
        lo, hi = (c0 - half, c0 + half) if is_open else (c0, c0)
        if not horiz:
            x0 = -t if k == 0 else w
            walls += [(x0, -t, x0 + t, lo), (x0, hi, x0 + t, h + t)]
        else:
            y0 = -t if k == 2 else h
            walls += [(-t, y0, lo, y0 + t), (hi, y0, w + t, y0 + t)]
    g = build_grid(area, walls)
    tg = [
        g.rect_mask((area[0], cy - 3.0, area[0] + 0.8, cy + 3.0)),
        g.rect_mask((area[2] - 0.8, cy - 3.0, area[2], cy + 3.0)),
        g.rect_mask((cx - 3.0, area[1], cx + 3.0, area[1] + 0.8)),
        g.rect_mask((cx - 3.0, area[3] - 0.8, cx + 3.0, area[3])),
    ]
    ff = build_fields(g, tg, destinations=[list(open_exits)])
    room = g.rect_mask((0.0, 0.0, w, h))
    return g, ff, room


def evacuation_time(
    open_exits: tuple[int, ...] = (0, 1, 2, 3),
    n: int = 1000,
    seed: int = 3,
    params: MotionParams | None = None,
    door: float = 1.0,
    jam_ppm2: float | None = JAM_DENSITY_PPM2,
) -> tuple[float, np.ndarray]:
    """Time (s) until all ``n`` people leave the room; also the per-exit counts."""
    _g, ff, room = evacuation_geometry(open_exits, door=door)
    c = Lattice(ff, capacity=n, params=params or MotionParams())
    c.set_jam(jam_ppm2, seed)
    rng = np.random.default_rng(seed)
    c.fill_mask(room, n, 0, rng)
    while c.n_active and c.time < 3600:
        c.step(rng)
    return c.time, c.counts.copy()


def corridor_geometry(
    width: float, shape: str = "straight", approach: float = 16.0, outflow: float = 16.0
) -> tuple:
    """A corridor ``width`` m wide, straight or L-shaped, fed at one end, a sink at the other.

    ``"L"``: ``inflow = approach + width`` m along x (``approach`` m up to the corner square),
    then a left turn into ``outflow`` m along y past the inner corner at ``(approach, width)``.
    ``"straight"``: ``inflow + outflow`` m along x, the same length along the centre line.
    The source is the first 1.2 m of the corridor, the sink its last 0.8 m.
    Returns (grid, fields, source mask, progress past the turn (m) as a function of (x, y)):
    the turn is the inner corner's line across the L's second leg, or ``inflow`` m along the
    straight corridor (the same distance from the source along the centre line).
    """
    inflow = approach + width
    if shape == "straight":
        g = build_grid((0.0, 0.0, inflow + outflow, width))
        sink = g.rect_mask((inflow + outflow - 0.8, 0.0, inflow + outflow, width))

        def progress(x: np.ndarray, y: np.ndarray) -> np.ndarray:
            return x - inflow

    elif shape == "L":
        g = build_grid((0.0, 0.0, inflow, width + outflow), [(0.0, width, approach, 1e3)])
        sink = g.rect_mask((inflow - width, width + outflow - 0.8, inflow, width + outflow))

        def progress(x: np.ndarray, y: np.ndarray) -> np.ndarray:
            return y - width

    else:
        raise ValueError(f"Unknown corridor shape: {shape!r} (allowed: 'straight', 'L')")
    source = g.rect_mask((0.0, 0.0, 1.2, width)) & g.walkable
    return g, build_fields(g, [sink]), source, progress


def corridor_flow(
    width: float,
    shape: str = "straight",
    seed: int = 0,
    line: float = 4.0,
    warmup: float | None = None,
    measure: float = 60.0,
    params: MotionParams | None = None,
    jam_ppm2: float | None = JAM_DENSITY_PPM2,
) -> float:
    """Steady flow (persons/s) along a corridor, straight or round an L's corner.

    The source (the corridor's first 1.2 m) is refilled every step, so demand exceeds what the
    corridor carries; the flow is the number of people crossing a line ``line`` m past the
    turn (the same distance along the straight one) during ``measure`` seconds after
    ``warmup`` seconds (default ``60 + 8 * width``: the queue before an L's corner takes
    longer to settle in a wider corridor, ~80 s at 8 m, ~160 s at 20 m).  See
    :func:`corridor_geometry`.
    """
    if warmup is None:
        warmup = 60.0 + 8.0 * width
    g, ff, source, progress = corridor_geometry(width, shape)
    dur = warmup + measure
    cap = int(g.walkable.sum() + 3.0 * width * dur) + 100
    c = Lattice(ff, capacity=cap, params=params or MotionParams())
    c.set_jam(jam_ppm2, seed)
    rng = np.random.default_rng(seed)
    passed = np.zeros(cap, dtype=bool)
    n = 0
    while c.time < dur - 1e-9:
        free = int(np.count_nonzero(source & (c.occ == -1)))
        if free:
            c.fill_mask(source, free, 0, rng)
        c.step(rng)
        x, y = c.positions()
        new = ~passed & (c.ix >= 0) & ((progress(x, y) > line) | ~c.active)
        passed |= new
        if c.time > warmup + 1e-9:
            n += int(np.count_nonzero(new))
    return n / measure


def corridor_table(
    widths: tuple[float, ...] = (2.4, 4.0, 8.0),
    seeds: tuple[int, ...] = (0, 1, 2),
    params: MotionParams | None = None,
) -> list[dict]:
    """Straight vs L corridor flows (persons/s) at each width, mean and range over ``seeds``."""
    rows = []
    for w in widths:
        row: dict = {"width": w}
        for shape in ("straight", "L"):
            f = np.array([corridor_flow(w, shape, s, params=params) for s in seeds])
            row[shape] = f
        row["ratio"] = float(row["L"].mean() / row["straight"].mean())
        rows.append(row)
    return rows


@dataclass
class RimeaTwelve:
    """Outcome of :func:`rimea_12`: where the crowd waits and what each opening passes."""

    waiting_corridor: float
    """Mean number of people in the 2 m x 3 m in front of the corridor's entry."""
    waiting_exit: float
    """Mean number of people in the 2 m x 3 m in front of the final exit."""
    most_waiting_exit: int
    """The most people there at any step."""
    flow_corridor: float
    """persons/s out of the corridor (20th to 80th percentile of passages)."""
    flow_exit: float
    """persons/s through the final exit (the same)."""
    time: float
    """Until the last person is out (s)."""


def rimea_12(
    n: int = 150,
    seed: int = 0,
    width: float = 1.0,
    jam_ppm2: float | None = JAM_DENSITY_PPM2,
) -> RimeaTwelve:
    """RiMEA test 12 (effect of bottlenecks): two rooms joined by a corridor, one exit.

    Room A 10 m x 10 m holds ``n`` people; a corridor ``width`` (1 m) wide and 5 m long leads
    to room B (10 m x 10 m), whose far wall has an exit as wide in line with the corridor (the
    RiMEA 3.0 geometry). The corridor limits the flow, so the crowd jams at its entry; room
    B's exit, as wide, receives no more than it passes and no jam forms in front of it. The
    waiting counts are averaged over the steps while someone is still in room A.
    """
    area = (0.0, 0.0, 29.4, 10.0)
    lo, hi = 5.0 - width / 2, 5.0 + width / 2
    walls: list[Rect] = [
        (10.0, 0.0, 15.0, lo), (10.0, hi, 15.0, 10.0), (25.0, 0.0, 25.4, lo),
        (25.0, hi, 25.4, 10.0),
    ]  # fmt: skip
    g = build_grid(area, walls).with_openings(
        [((10.0, lo, 15.0, hi), False), ((25.0, lo, 25.4, hi), False)]
    )
    ff = build_fields(g, [g.rect_mask((28.6, 0.0, 29.4, 10.0))])
    c = Lattice(ff, capacity=n, params=MotionParams())
    c.set_jam(jam_ppm2, seed)
    rng = np.random.default_rng(seed)
    c.fill_mask(g.rect_mask((0.0, 0.0, 10.0, 10.0)), n, 0, rng)
    before_corridor = g.rect_mask((8.0, 3.5, 10.0, 6.5))
    before_exit = g.rect_mask((23.0, 3.5, 25.0, 6.5))
    room_a = g.rect_mask((0.0, 0.0, 10.0, 10.0))
    out_corridor = np.zeros(n, dtype=bool)
    out_exit = np.zeros(n, dtype=bool)
    t_corridor: list[float] = []
    t_exit: list[float] = []
    wait_c: list[int] = []
    wait_e: list[int] = []
    while c.n_active and c.time < 1200.0:
        c.step(rng)
        x, _ = c.positions()
        on = c.active
        new = ~out_corridor & ((x > 15.0) | ~on)
        t_corridor += [c.time] * int(new.sum())
        out_corridor |= new
        new = ~out_exit & ((x > 25.4) | ~on)
        t_exit += [c.time] * int(new.sum())
        out_exit |= new
        occupied = c.occ >= 0
        if (occupied & room_a).any():
            wait_c.append(int((occupied & before_corridor).sum()))
            wait_e.append(int((occupied & before_exit).sum()))
    return RimeaTwelve(
        waiting_corridor=float(np.mean(wait_c)),
        waiting_exit=float(np.mean(wait_e)),
        most_waiting_exit=int(max(wait_e)),
        flow_corridor=_steady_flow(t_corridor),
        flow_exit=_steady_flow(t_exit),
        time=c.time,
    )
