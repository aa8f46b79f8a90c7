"""Speed and memory of the crowd movement engine on a festival-sized field (one core).

    .venv/bin/python benchmarks/motion_speed.py [--sizes 1000 10000 50000] [--seconds 60]

Field 200 m x 150 m (0.4 m cells), a stage 30 m wide at the north edge (attractor: people
stop when they reach its front strip and pile up behind), three exits (west, east, south
gates; sinks), bars and toilet blocks as obstacles.  90 % of the visitors walk to the stage,
10 % to the nearest exit.  Two timed phases of ``--seconds`` simulated seconds each:

* ``walking``: right after spawning everyone uniformly at random on the field (nearly all
  agents move every step: the worst case);
* ``gathered``: after 240 s more, when most are packed in front of the stage.

Prints simulated agent-seconds per wall-clock second, the real-time factor, the peak local
density and memory: the crowd's own arrays and the process's peak RSS (which includes
Python, NumPy, Numba and LLVM, ~200 MB before any agent exists).
"""

from __future__ import annotations

import argparse
import os
import resource
import time

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import numpy as np

from softtarget.sim.motion import Lattice, build_fields, build_grid


def festival():
    """Grid and floor fields of the benchmark festival field."""
    area = (0.0, 0.0, 200.0, 150.0)
    obstacles = [
        (60.0, 70.0, 66.0, 78.0),  # bar
        (134.0, 70.0, 140.0, 78.0),  # bar
        (20.0, 20.0, 30.0, 24.0),  # toilets
        (170.0, 20.0, 180.0, 24.0),  # toilets
        (85.0, 144.0, 115.0, 150.0),  # stage block
        (80.0, 100.0, 82.0, 102.0),  # mixing desk tower
    ]
    g = build_grid(area, obstacles)
    stage_front = g.rect_mask((85.0, 142.4, 115.0, 144.0))
    exits = [
        g.rect_mask((0.0, 60.0, 0.8, 80.0)),
        g.rect_mask((199.2, 60.0, 200.0, 80.0)),
        g.rect_mask((90.0, 0.0, 110.0, 0.8)),
    ]
    ff = build_fields(
        g, [stage_front, *exits], destinations=[[0], [1, 2, 3]], sink=[False, True],
        names=["stage", "exit"],
    )  # fmt: skip
    return g, ff


def run(n: int, seconds: float, seed: int = 0, jam: bool = True) -> dict:
    """Time the two phases for ``n`` visitors."""
    g, ff = festival()
    rng = np.random.default_rng(seed)
    c = Lattice(ff, capacity=n)
    if jam:
        c.set_jam(seed=seed)  # calm walkers stop at jam density, as the model's crowd does
    c.fill_mask(g.walkable, n, 0, rng)
    c.dest[rng.random(n) < 0.1] = 1
    c.step(rng)  # compile / warm caches
    out = {"n": n}
    for phase, gap in (("walking", 0.0), ("gathered", 240.0)):
        c.run(rng, gap)
        steps = round(seconds / c.params.dt)
        agent_steps = 0
        t0 = time.perf_counter()
        for _ in range(steps):
            agent_steps += c.n_active
            c.step(rng)
        wall = time.perf_counter() - t0
        agent_seconds = agent_steps * c.params.dt
        out[phase] = {
            "active": c.n_active,
            "rtf": seconds / wall,
            "agent_s_per_s": agent_seconds / wall,
            "ms_per_sim_s": 1e3 * wall / seconds,
            "peak_density": c.peak_density(),
        }
    arrays = [c.ix, c.iy, c.speed, c.dest, c.active, c.budget, c.odometer, c.occ, ff.fields]
    out["crowd_mib"] = sum(a.nbytes for a in arrays) / 2**20
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 50000])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--no-jam", action="store_true", help="no jam density (packed crowds)")
    args = ap.parse_args()
    print(f"{'people':>7} {'phase':>9} {'active':>7} {'agent-s/s':>11} {'x real time':>11} "
          f"{'ms/sim-s':>9} {'peak /m2':>8}")  # fmt: skip
    for n in args.sizes:
        r = run(n, args.seconds, jam=not args.no_jam)
        for phase in ("walking", "gathered"):
            p = r[phase]
            print(
                f"{n:>7} {phase:>9} {p['active']:>7} {p['agent_s_per_s'] / 1e6:>9.2f} M "
                f"{p['rtf']:>11.0f} {p['ms_per_sim_s']:>9.2f} {p['peak_density']:>8.2f}"
            )
        print(f"{'':>7} crowd arrays + fields: {r['crowd_mib']:.1f} MiB")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of the whole process: {rss:.0f} MiB")


if __name__ == "__main__":
    main()
