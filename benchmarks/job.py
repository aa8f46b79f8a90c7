"""The headline job, measured: what the festival comparison costs from the command line.

Prints, for the built-in festival:

* **CPU seconds per run** at the scenario's duration, per configuration (``public_only``,
  ``public_private``): ``--runs`` runs each, in one fresh process after a short warm-up run
  (compiled kernels loaded, as in a batch worker after its first run);
* **runs per minute** of the real batch path, ``softtarget batch festival --reps N --workers W
  --out TMP``, with 1 and 2 workers (wall time of the whole command: start-up, pool, runs,
  consolidation and the table at the end), and the scaling efficiency
  ``rpm(2) / (2 x rpm(1))``;
* the wall time of a **1-run batch** (``--reps 1 --config public_only --set
  run.duration_s=10s``): the fixed cost of a batch;
* the wall time of ``softtarget --help``;
* the **projected wall time of the 200-run comparison** ``softtarget batch festival --reps 100
  --workers 2``: the 1-run batch's fixed cost plus 200 times the time per run that the
  2-worker batch took beyond that fixed cost;
* the load average before and after (the cores may be shared: figures then look worse).

Usage::

    .venv/bin/python benchmarks/job.py            # 3 runs per configuration, --reps 4 batches
    .venv/bin/python benchmarks/job.py --quick    # 1 run per configuration, --reps 2 batches
    .venv/bin/python benchmarks/job.py --cpu-only # only the CPU per run
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import json, sys, time
from softtarget.sim.loader import load_scenario
from softtarget.sim.model import simulate
from softtarget.sim.runs import RunTask, run_seed

runs = int(sys.argv[1])
loaded = load_scenario("festival")
sc = loaded.scenario
warm = load_scenario("festival", ["run.duration_s=10s"])
simulate(RunTask(warm.scenario, warm.hash, next(iter(sc.configurations)), 0, 1))
out = {}
for config in ("public_only", "public_private"):  # the headline comparison
    cpu, wall = [], []
    for replicate in range(runs):
        task = RunTask(sc, loaded.hash, config, replicate, run_seed(sc.run.seed, replicate))
        c0, t0 = time.process_time(), time.perf_counter()
        simulate(task)
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - t0)
    out[config] = {"cpu": cpu, "wall": wall}
print(json.dumps({"duration_s": sc.run.duration_s, "runs": out}))
"""

#: The comparison whose wall time is projected.
PROJECTED_REPS, PROJECTED_WORKERS = 100, 2


def softtarget_command() -> list[str]:
    exe = Path(sys.executable).with_name("softtarget")
    return [str(exe)] if exe.is_file() else [sys.executable, "-m", "softtarget"]


def timed(cmd: list[str], *, env: dict[str, str] | None = None) -> float:
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - t0
    if out.returncode:
        sys.exit(f"{' '.join(cmd)} failed ({out.returncode}):\n{out.stderr}")
    return wall


def batch(tmp: Path, label: str, reps: int, workers: int, *extra: str) -> dict:
    out = tmp / label
    configs = ["--config", "public_only", "--config", "public_private"]
    cmd = [*softtarget_command(), "batch", "festival", "--reps", str(reps), "--workers",
           str(workers), "--out", str(out), *(extra or configs)]  # fmt: skip
    wall = timed(cmd)
    import pyarrow.parquet as pq

    runs = pq.read_table(out / "runs.parquet", columns=["wall_time_s"]).column(0).to_pylist()
    shutil.rmtree(out, ignore_errors=True)
    return {"wall_s": wall, "runs": len(runs), "mean_run_s": sum(runs) / len(runs)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3, help="runs per configuration for CPU/run")
    ap.add_argument("--reps", type=int, default=4, help="--reps of the throughput batches")
    ap.add_argument("--quick", action="store_true", help="--runs 1 --reps 2")
    ap.add_argument(
        "--cpu-only", action="store_true", help="only the CPU per run (e.g. before/after a change)"
    )
    args = ap.parse_args()
    if args.quick:
        args.runs, args.reps = 1, 2
    load0 = os.getloadavg()
    print(
        f"festival; {os.cpu_count()} cores; load average {load0[0]:.2f} {load0[1]:.2f}"
        f" {load0[2]:.2f} (1, 5, 15 min) before"
    )

    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(args.runs)], capture_output=True, text=True, check=False
    )
    if out.returncode:
        sys.exit(f"the CPU-per-run measurement failed:\n{out.stderr}")
    res = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"\nCPU per run ({res['duration_s'] / 60:g} simulated min, {args.runs} runs each)")
    print(f"{'configuration':<16} {'CPU s mean':>10} {'min':>6} {'max':>6} {'wall s mean':>11}")
    cpu_all = []
    for config, r in res["runs"].items():
        cpu, wall = r["cpu"], r["wall"]
        cpu_all += cpu
        print(
            f"{config:<16} {sum(cpu) / len(cpu):>10.2f} {min(cpu):>6.2f} {max(cpu):>6.2f}"
            f" {sum(wall) / len(wall):>11.2f}"
        )
    print(f"all {len(cpu_all)} runs: {sum(cpu_all):.1f} s CPU")
    if args.cpu_only:
        return

    with tempfile.TemporaryDirectory(prefix="job-") as d:
        tmp = Path(d)
        one = batch(tmp, "one", 1, 1, "--config", "public_only", "--set", "run.duration_s=10s")
        rows = [(w, batch(tmp, f"w{w}", args.reps, w)) for w in (1, 2)]
    help_s = min(timed([*softtarget_command(), "--help"]) for _ in range(5))

    print(f"\nsofttarget batch festival --reps {args.reps} --workers W (the whole command)")
    print(f"{'workers':>7} {'runs':>5} {'wall s':>7} {'runs/min':>9} {'run s mean':>10}")
    rpm = {}
    for w, r in rows:
        rpm[w] = r["runs"] / r["wall_s"] * 60
        print(f"{w:>7} {r['runs']:>5} {r['wall_s']:>7.1f} {rpm[w]:>9.2f} {r['mean_run_s']:>10.2f}")
    print(f"scaling efficiency, 2 workers: {rpm[2] / (2 * rpm[1]):.0%}")
    print(
        f"\n1-run batch (--reps 1 --config public_only --set run.duration_s=10s):"
        f" {one['wall_s']:.2f} s wall (its run {one['mean_run_s']:.2f} s)"
    )
    print(f"softtarget --help: {help_s:.3f} s wall (best of 5)")

    n = 2 * PROJECTED_REPS
    w2 = dict(rows)[2]
    per_run = max(0.0, w2["wall_s"] - one["wall_s"]) / w2["runs"]
    projected = one["wall_s"] + n * per_run
    print(
        f"\nprojected: softtarget batch festival --reps {PROJECTED_REPS} --workers"
        f" {PROJECTED_WORKERS} ({n} runs): {projected / 60:.1f} min"
        f" ({one['wall_s']:.1f} s fixed + {n} x {per_run:.2f} s);"
        f" at the measured {rpm[2]:.1f} runs/min: {n / rpm[2]:.1f} min"
    )
    load1 = os.getloadavg()
    print(f"load average {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f} after")


if __name__ == "__main__":
    main()
