"""Speed of the whole model (crowd, screening, staff, threat) on the built-in festival.

Prints, for a few crowd sizes, the wall time of one run on one core, the real-time factor,
simulated agent-seconds per wall-clock second and the peak resident memory of a fresh process.

    .venv/bin/python benchmarks/model_speed.py                  # 1,000 / 10,000 / 50,000
    .venv/bin/python benchmarks/model_speed.py --sizes 10000 --minutes 30
    .venv/bin/python benchmarks/model_speed.py --sizes 10000 --set crowd.jam_density_ppm2=100
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = r"""
import json, resource, sys, time
from softtarget.sim.loader import load_scenario
from softtarget.sim.model import simulate
from softtarget.sim.runs import RunTask, run_seed
size, minutes, config = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
over = [f"crowd.initial_inside={size}", "crowd.initial_queuing=0", "threat.probability=0",
        f"run.duration_s={minutes}min", *json.loads(sys.argv[4])]
loaded = load_scenario("festival", over)
sc = loaded.scenario
task = RunTask(sc, loaded.hash, config, 0, run_seed(sc.run.seed, 0))
simulate(task)  # warm-up: compiled kernels and floor fields
t0 = time.perf_counter()
row = simulate(task).row
wall = time.perf_counter() - t0
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"wall_s": wall, "visitors": row["visitors"], "rss_mib": rss}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--config", default="public_private")
    parser.add_argument(
        "--set", action="append", default=[], metavar="FIELD=VALUE", help="a scenario override"
    )
    args = parser.parse_args()
    print(f"festival, {args.config}, no attack, {args.minutes:g} simulated minutes, one core")
    if args.set:
        print("with " + ", ".join(args.set))
    print(f"{'visitors':>9} {'wall s':>8} {'x real time':>12} {'agent-s/s':>12} {'peak MiB':>9}")
    for size in [int(s) for s in args.sizes.split(",")]:
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(size), str(args.minutes), args.config,
             json.dumps(args.set)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        res = json.loads(out.stdout.strip().splitlines()[-1])
        sim_s = args.minutes * 60
        print(
            f"{res['visitors']:>9,} {res['wall_s']:>8.1f} {sim_s / res['wall_s']:>12.0f} "
            f"{res['visitors'] * sim_s / res['wall_s']:>12,.0f} {res['rss_mib']:>9.0f}"
        )


if __name__ == "__main__":
    main()
