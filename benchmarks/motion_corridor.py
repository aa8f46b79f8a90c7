"""Flow along a straight corridor and round the corner of an L-shaped one of the same width.

    .venv/bin/python benchmarks/motion_corridor.py                  # 2.4, 4, 8, 20 m, 3 seeds
    .venv/bin/python benchmarks/motion_corridor.py --widths 4 8 --seeds 0 1
    .venv/bin/python benchmarks/motion_corridor.py --shortest-path  # the model before issue 16

Each corridor is fed at its first 1.2 m, refilled every step (demand above what it carries),
and empties into a sink at its end; the flow is counted at a line 4 m past the turn (the
same distance along the straight one) over 60 s after 60 s of warm-up
(``softtarget.sim.motion.validation.corridor_flow``).  ``--shortest-path`` runs the lattice
without route fields and with the former minimum efficiency (0.3), i.e. everyone walks down
the shortest-distance field as before issue 16.  Prints persons/s (mean and range over the
seeds), the specific flow of the straight corridor and the ratio L / straight.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

from softtarget.sim.motion.lattice import MotionParams
from softtarget.sim.motion.validation import corridor_table


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--widths", type=float, nargs="+", default=[2.4, 4.0, 8.0, 20.0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--shortest-path", action="store_true")
    args = ap.parse_args()
    params = MotionParams(route_every=0.0, r_min=0.3) if args.shortest_path else MotionParams()
    t0 = time.perf_counter()
    rows = corridor_table(tuple(args.widths), tuple(args.seeds), params)
    print("| width (m) | straight /s | straight /(m·s) | L /s | L / straight |")
    print("|---|---|---|---|---|")
    for r in rows:
        s, lf = r["straight"], r["L"]
        print(
            f"| {r['width']:.1f} | {s.mean():.2f} ({s.min():.2f}–{s.max():.2f}) "
            f"| {s.mean() / r['width']:.2f} | {lf.mean():.2f} ({lf.min():.2f}–{lf.max():.2f}) "
            f"| {r['ratio']:.2f} |"
        )
    print(f"seeds {args.seeds}; {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
