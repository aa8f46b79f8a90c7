"""Where the CPU of one festival run goes: the share of each mechanism.

Two views of one run of the built-in festival (default: ``public_private``, replicate 0, the
scenario's full duration), each in a fresh process after a short warm-up run (compiled
kernels loaded, venue caches filled, as in a worker after its first run):

* **cProfile, grouped by module.** Each function's own time goes to the mechanism of its
  module (``sim/crowd.py`` to crowd, ``sim/motion/`` to the lattice kernel, ...). Time spent
  in libraries (numpy, pandas, Mesa) goes to the softtarget function that called them, shared
  out by the profiler's caller records. The numba kernels show under their own names
  (``sim/motion/_kernels.py``). The profiler slows Python-heavy code more than the kernels, so
  read the shares as approximate.
* **Timers around each phase of a step** (no profiler): the CPU seconds of each call
  ``SoftTargetModel.step`` makes, in the order of ``docs/architecture.md``; a phase includes
  what it calls in other mechanisms.

Usage::

    .venv/bin/python benchmarks/profile_run.py                # full run, public_private
    .venv/bin/python benchmarks/profile_run.py --quick        # 5 simulated minutes
    .venv/bin/python benchmarks/profile_run.py --config public_only --replicate 3
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

CHILD = r"""
import cProfile, json, os, pstats, sys, time
from softtarget.sim.loader import load_scenario
from softtarget.sim.model import SoftTargetModel, simulate
from softtarget.sim.runs import RunTask, run_seed

mode, config, replicate, overrides = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
loaded = load_scenario("festival", overrides)
sc = loaded.scenario
warm = load_scenario("festival", [*overrides, "run.duration_s=10s"])
simulate(RunTask(warm.scenario, warm.hash, config, replicate, 1))  # warm-up
task = RunTask(sc, loaded.hash, config, replicate, run_seed(sc.run.seed, replicate))

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(sys.modules["softtarget.sim"].__file__)))

if mode == "profile":
    prof = cProfile.Profile()
    c0 = time.process_time()
    prof.enable()
    simulate(task)
    prof.disable()
    cpu = time.process_time() - c0
    stats = pstats.Stats(prof).stats  # func -> (cc, nc, tt, ct, callers)

    def ours(func):
        path = os.path.abspath(func[0])
        return path.startswith(os.path.join(ROOT, "sim") + os.sep)

    def key(func):
        rel = os.path.relpath(os.path.abspath(func[0]), ROOT).replace(os.sep, "/")
        return f"{rel}:{func[2]}"

    OUTSIDE = ("(outside the model)", 0, "")
    shares = {}  # library function -> {softtarget function: fraction of its time}

    def share(func, seen=()):
        if func in shares:
            return shares[func]
        entry = stats.get(func)
        callers = entry[4] if entry else {}
        total = sum(c[3] for c in callers.values())
        if not callers or total <= 0 or func in seen:
            return {OUTSIDE: 1.0}
        out = {}
        for caller, c in callers.items():
            part = {caller: 1.0} if ours(caller) else share(caller, (*seen, func))
            for target, f in part.items():
                out[target] = out.get(target, 0.0) + f * c[3] / total
        shares[func] = out
        return out

    own = {}
    def add(func, amount):
        name = OUTSIDE[0] if func == OUTSIDE else key(func)
        own[name] = own.get(name, 0.0) + amount

    for func, (cc, nc, tt, ct, callers) in stats.items():
        if ours(func) or not callers:
            add(func, tt) if ours(func) else add(OUTSIDE, tt)
            continue
        for caller, c in callers.items():  # library time: to the softtarget code that called
            part = {caller: 1.0} if ours(caller) else share(caller)
            for target, f in part.items():
                add(target, c[2] * f)
    print(json.dumps({"cpu_s": cpu, "own": own}))
else:
    phases = {}
    original = SoftTargetModel.__init__

    def timed(name, fn):
        def call(*a, **kw):
            c0 = time.process_time()
            try:
                return fn(*a, **kw)
            finally:
                phases[name] = phases.get(name, 0.0) + time.process_time() - c0
        return call

    def init(self, *a, **kw):
        c0 = time.process_time()
        original(self, *a, **kw)
        phases["build the model"] = time.process_time() - c0
        for mech, method in [("crowd", "arrive"), ("screening", "step"),
                             ("crowd", "board_trains"), ("chain", "deliver"),
                             ("threat", "step"), ("detection", "step"),
                             ("staff", "raise_false_alarms"), ("response", "step"),
                             ("staff", "step"), ("staff", "engage"), ("crowd", "step"),
                             ("density", "step"), ("crowd", "counts")]:
            obj = getattr(self, mech)
            setattr(obj, method, timed(f"{mech}.{method}", getattr(obj, method)))
        self._sample = timed("data collection", self._sample)

    SoftTargetModel.__init__ = init
    c0 = time.process_time()
    simulate(task)
    print(json.dumps({"cpu_s": time.process_time() - c0, "phases": phases}))
"""

#: Mechanism of a module (first match of a path prefix, relative to the repository).
GROUPS = [
    ("sim/motion/", "crowd: lattice kernel (sim/motion)"),
    ("sim/crowd.py", "crowd: arrivals, reactions, leaving (crowd, people, exits)"),
    ("sim/people.py", "crowd: arrivals, reactions, leaving (crowd, people, exits)"),
    ("sim/exits.py", "crowd: arrivals, reactions, leaving (crowd, people, exits)"),
    ("sim/screening.py", "screening"),
    ("sim/staff.py", "staff"),
    ("sim/detection.py", "detection (detection, sight)"),
    ("sim/sight.py", "detection (detection, sight)"),
    ("sim/coordination.py", "coordination"),
    ("sim/response.py", "response"),
    ("sim/density.py", "density"),
    ("sim/threat/", "threat"),
    ("sim/model.py:<lambda>", "data collection"),
    ("sim/model.py:_sample", "data collection"),
    ("sim/model.py:simulate", "output tables (simulate)"),
    ("sim/model.py:outcome", "outcome row"),
    ("sim/model.py", "model step and build"),
    ("sim/layout.py", "venue and lattice build (layout, venue, geometry)"),
    ("sim/venue.py", "venue and lattice build (layout, venue, geometry)"),
    ("sim/geometry.py", "venue and lattice build (layout, venue, geometry)"),
]


def group(key: str) -> str:
    for prefix, name in GROUPS:
        if key.startswith(prefix):
            return name
    return "other" if key.startswith("sim/") else key


def child(mode: str, args: argparse.Namespace, overrides: list[str]) -> dict:
    env = dict(os.environ, NUMBA_NUM_THREADS="1")
    out = subprocess.run(
        [sys.executable, "-c", CHILD, mode, args.config, str(args.replicate), *overrides],
        capture_output=True, text=True, check=False, env=env,
    )  # fmt: skip
    if out.returncode:
        sys.exit(f"the {mode} run failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="public_private")
    ap.add_argument("--replicate", type=int, default=0)
    ap.add_argument("--duration", default=None, help="run.duration_s (default: the scenario's)")
    ap.add_argument("--quick", action="store_true", help="5 simulated minutes")
    ap.add_argument("--top", type=int, default=12, help="functions listed under the table")
    args = ap.parse_args()
    duration = args.duration or ("5min" if args.quick else None)
    overrides = [f"run.duration_s={duration}"] if duration else []
    load0 = os.getloadavg()[0]
    print(
        f"festival, {args.config}, replicate {args.replicate},"
        f" {duration or 'the scenario duration'}; load average {load0:.2f} before"
    )

    prof = child("profile", args, overrides)
    groups: dict[str, float] = {}
    for key, seconds in prof["own"].items():
        groups[group(key)] = groups.get(group(key), 0.0) + seconds
    total = sum(groups.values())
    print(f"\ncProfile, grouped by module (CPU {prof['cpu_s']:.1f} s under the profiler)")
    print(f"{'mechanism':<58} {'s':>7} {'share':>6}")
    for name, seconds in sorted(groups.items(), key=lambda kv: -kv[1]):
        print(f"{name:<58} {seconds:>7.2f} {seconds / total:>6.1%}")
    print(f"\ntop {args.top} functions (own time, library calls included)")
    for key, seconds in sorted(prof["own"].items(), key=lambda kv: -kv[1])[: args.top]:
        print(f"  {key:<70} {seconds:>7.2f} {seconds / total:>6.1%}")

    timed = child("phases", args, overrides)
    phases = timed["phases"]
    cpu = timed["cpu_s"]
    print(f"\nphases of a step, timed without the profiler (CPU {cpu:.1f} s for the run)")
    print(f"{'phase':<32} {'s':>7} {'share':>6}")
    for name, seconds in phases.items():
        print(f"{name:<32} {seconds:>7.2f} {seconds / cpu:>6.1%}")
    rest = cpu - sum(phases.values())
    print(f"{'rest (step loop, output tables)':<32} {rest:>7.2f} {rest / cpu:>6.1%}")
    print(f"\nload average {os.getloadavg()[0]:.2f} after")


if __name__ == "__main__":
    main()
