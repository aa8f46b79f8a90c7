"""Our cellular automaton side by side with JuPedSim on the same evacuation.

    .venv/bin/pip install jupedsim   # benchmark only, not a project dependency
    .venv/bin/python benchmarks/motion_jupedsim.py [--exits 0 1 2 3] [--n 1000]

Geometry: the validation room (softtarget.sim.motion.validation.evacuation_geometry): 25.6 m x 20 m,
a 0.4 m wall with a door in the middle of each side, 3.6 m of outside space, the sink strip
at its outer edge in front of each door.  Doors are 0.8 m wide here because 0.8 m is exactly
two 0.4 m cells (a nominal 1 m door is also represented as 0.8 m by the CA, see
docs/validation.md), so both models see the same width.  The same 1000 start positions
(cell centres, >= 0.4 m apart) and desired speeds are used in both.

JuPedSim: collision-free speed model, dt 0.01 s, radius 0.15 m, desired speeds from the same
N(1.34, 0.26) draw (REFERENCES.md: radius 0.15 m and v0 1.34 m/s give ~1.6 /(m·s) through a
1 m bottleneck; its defaults 0.2 m / 1.2 m/s give ~1.0 and can clog).  Each agent is sent to
the nearest open door (its journey's exit is the strip beyond that door).

Prints both evacuation times, per-door specific flows, and the wall-time ratio.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from softtarget.sim.motion import Lattice
from softtarget.sim.motion.validation import evacuation_geometry

W, H, T, S, DOOR = 25.6, 20.0, 0.4, 3.6, 0.8


def door_flows(times: np.ndarray) -> float:
    """Steady flow (persons/s) from passage times: 20th to 80th percentile slope."""
    t = np.sort(times)
    a, b = int(0.2 * t.size), int(0.8 * t.size)
    return (b - a) / (t[b] - t[a])


def run_ours(open_exits, n, seed):
    """Evacuate with the CA; return time, per-door exit times, start positions, speeds, wall."""
    _g, ff, room = evacuation_geometry(tuple(open_exits), door=DOOR)
    warm = Lattice(ff, capacity=1)  # load the compiled kernel before timing
    warm.fill_mask(room, 1, 0, np.random.default_rng(0))
    warm.step(np.random.default_rng(0))
    c = Lattice(ff, capacity=n)
    rng = np.random.default_rng(seed)
    c.fill_mask(room, n, 0, rng)
    x, y = c.positions()
    speeds = c.speed.copy()
    t_exit = np.full(n, np.nan)
    label = np.full(n, -1)
    t0 = time.perf_counter()
    while c.n_active and c.time < 3600:
        before = c.active.copy()
        cnt0 = c.counts.copy()
        c.step(rng)
        gone = before & ~c.active
        t_exit[gone] = c.time
        # attribute this step's removals to doors (counts are per door)
        d = np.repeat(np.arange(c.counts.size), c.counts - cnt0)
        label[np.flatnonzero(gone)] = d[: gone.sum()]
    wall = time.perf_counter() - t0
    return c.time, t_exit, label, x.copy(), y.copy(), speeds, wall


def run_jupedsim(open_exits, x, y, speeds, dt=0.01, max_time=1200.0):
    """Evacuate with JuPedSim's collision-free speed model on the same geometry."""
    import jupedsim as jps
    from shapely.geometry import box
    from shapely.ops import unary_union

    cx, cy = W / 2, H / 2
    h = DOOR / 2
    out = T + S
    room = box(0, 0, W, H)
    parts = [room]
    doors = {
        0: (box(-T, cy - h, 0, cy + h), box(-out, cy - 3, -T, cy + 3), (-out, -out + 0.8), "x"),
        1: (box(W, cy - h, W + T, cy + h), box(W + T, cy - 3, W + out, cy + 3),
            (W + out - 0.8, W + out), "x"),
        2: (box(cx - h, -T, cx + h, 0), box(cx - 3, -out, cx + 3, -T), (-out, -out + 0.8), "y"),
        3: (box(cx - h, H, cx + h, H + T), box(cx - 3, H + T, cx + 3, H + out),
            (H + out - 0.8, H + out), "y"),
    }  # fmt: skip
    exits = {}
    for k in open_exits:
        passage, apron, (a, b), ax = doors[k]
        parts += [passage, apron]
        if ax == "x":
            exits[k] = box(a, cy - 3, b, cy + 3)
        else:
            exits[k] = box(cx - 3, a, cx + 3, b)
    geometry = unary_union(parts)
    sim = jps.Simulation(model=jps.CollisionFreeSpeedModel(), geometry=geometry, dt=dt)
    journeys = {}
    for k, poly in exits.items():
        sid = sim.add_exit_stage(poly)
        journeys[k] = (sim.add_journey(jps.JourneyDescription([sid])), sid)
    centres = {0: (0, cy), 1: (W, cy), 2: (cx, 0), 3: (cx, H)}
    ids = {}
    for i in range(x.size):
        k = min(open_exits, key=lambda e: np.hypot(x[i] - centres[e][0], y[i] - centres[e][1]))
        jid, sid = journeys[k]
        aid = sim.add_agent(
            jps.CollisionFreeSpeedModelAgentParameters(
                journey_id=jid, stage_id=sid, position=(float(x[i]), float(y[i])),
                radius=0.15, desired_speed=float(speeds[i]),
            )
        )  # fmt: skip
        ids[aid] = k
    t_exit = {k: [] for k in open_exits}
    inside = set(ids)
    t0 = time.perf_counter()
    while sim.agent_count() > 0 and sim.elapsed_time() < max_time:
        sim.iterate()
        if sim.iteration_count() % 10 == 0:
            now = {a.id for a in sim.agents()}
            for a in inside - now:
                t_exit[ids[a]].append(sim.elapsed_time())
            inside = now
    left = sim.agent_count()
    wall = time.perf_counter() - t0
    return sim.elapsed_time(), {k: np.array(v) for k, v in t_exit.items()}, wall, left


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--exits", type=int, nargs="+", default=[0, 1, 2, 3])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--max-time", type=float, default=1200.0, help="JuPedSim cut-off (s)")
    args = ap.parse_args()
    ex = tuple(args.exits)
    t_ours, te, lab, x, y, v, wall_ours = run_ours(ex, args.n, args.seed)
    fl_ours = [door_flows(te[lab == k]) / DOOR for k in ex]
    print(f"open doors {ex}, {args.n} people, door width {DOOR} m")
    print(f"ours (CA, dt 0.3):      T_evac {t_ours:7.1f} s  wall {wall_ours:7.2f} s  "
          f"door specific flow {np.round(fl_ours, 2)} /(m s)")  # fmt: skip
    try:
        import jupedsim  # noqa: F401
    except ImportError:
        print("jupedsim not installed (pip install jupedsim): comparison skipped")
        return
    t_j, te_j, wall_j, left = run_jupedsim(ex, x, y, v, max_time=args.max_time)
    if left:
        print(f"JuPedSim: {left} agents still inside at {t_j:.0f} s (clogged?)")
    fl_j = [door_flows(te_j[k]) / DOOR for k in ex]
    print(f"JuPedSim (CFSM, dt .01): T_evac {t_j:7.1f} s  wall {wall_j:7.2f} s  "
          f"door specific flow {np.round(fl_j, 2)} /(m s)")  # fmt: skip
    print(
        f"evacuation time ours / JuPedSim: {t_ours / t_j:.3f}  "
        f"wall time JuPedSim / ours: {wall_j / wall_ours:.0f}x"
    )


if __name__ == "__main__":
    main()
