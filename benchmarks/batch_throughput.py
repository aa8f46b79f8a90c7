"""Batch throughput: runs per minute of the festival scenario on each engine, and scaling.

Engines measured, each on the same batch (every configuration x ``--reps`` replicates):

* the local process pool with 1 and with 2 workers (the default engine),
* a Dask ``LocalCluster`` of 2 one-thread worker processes (``--scheduler local:2``),
* a real ``dask scheduler`` with 2 ``dask worker`` processes on 127.0.0.1
  (``--scheduler tcp://127.0.0.1:PORT``).

"batch" is the wall time of ``run_batch`` (for the local pool it includes starting the pool;
for Dask the cluster is up before, its start-up is shown apart). Runs per minute count the
batch time only; scaling efficiency is ``rpm(2 workers) / (2 x rpm(1 worker of the pool))``.
Every engine must give the same runs table (checked; ``wall_time_s`` aside).

Usage::

    .venv/bin/python benchmarks/batch_throughput.py [--reps 8] [--duration 5min]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from softtarget.sim import columns as C  # noqa: E402
from softtarget.sim import store as S  # noqa: E402
from softtarget.sim.batch import plan_tasks, run_batch  # noqa: E402
from softtarget.sim.engines import open_engine  # noqa: E402
from softtarget.sim.loader import load_scenario  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def real_cluster(n_workers: int, tmp: Path) -> Iterator[str]:
    """``dask scheduler`` + ``n_workers`` ``dask worker`` processes on 127.0.0.1."""
    dask = str(Path(sys.executable).with_name("dask"))
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs = []

    def start(args: list[str], log: str) -> None:
        with open(tmp / log, "wb") as out:
            procs.append(
                subprocess.Popen(
                    args,
                    cwd=ROOT,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            )

    try:
        start(
            [dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
            "scheduler.log",
        )
        for i in range(n_workers):
            start(
                [
                    dask,
                    "worker",
                    address,
                    "--nthreads",
                    "1",
                    "--nworkers",
                    "1",
                    "--host",
                    "127.0.0.1",
                    "--no-dashboard",
                    "--local-directory",
                    str(tmp / f"w{i}"),
                ],
                f"w{i}.log",
            )
        yield address
    finally:
        for p in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=10)


def measure(label: str, scheduler: str | None, workers: int | None, args, tmp: Path) -> dict:
    loaded = load_scenario("festival", [f"run.duration_s={args.duration}"])
    tasks = plan_tasks(loaded.scenario, loaded.hash, replications=args.reps)
    out = tmp / label.replace(" ", "_").replace(":", "")
    t0 = time.perf_counter()
    with open_engine(scheduler, workers=workers, wait_for_workers_s=120) as engine:
        if engine.executor is not None:  # wait for every worker of the cluster
            client = engine.executor.client
            client.wait_for_workers(args.workers_dask, timeout=120)
            engine.workers = workers or sum(client.nthreads().values())
        startup = time.perf_counter() - t0
        summary = run_batch(
            tasks,
            out,
            scenario=loaded.scenario,
            scenario_hash=loaded.hash,
            workers=engine.workers,
            executor=engine.executor,
            progress=False,
        )
    assert summary.n_ok == len(tasks), summary
    batch = summary.wall_time_s
    rpm = len(tasks) / batch * 60
    table = S.read_runs(out).drop(columns=[C.WALL_TIME_S]).sort_values(C.RUN_ID)
    cpu = float(S.read_runs(out)[C.WALL_TIME_S].mean())
    return {
        "engine": label,
        "runs": len(tasks),
        "startup_s": round(startup if engine.executor is not None else 0.0, 1),
        "batch_s": round(batch, 1),
        "mean_run_s": round(cpu, 2),
        "runs_per_min": round(rpm, 1),
        "_table": table.reset_index(drop=True),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=8, help="replicates per configuration")
    ap.add_argument("--duration", default="5min", help="run.duration_s of the festival")
    ap.add_argument("--workers-dask", type=int, default=2, help="workers of the Dask clusters")
    args = ap.parse_args()
    n_conf = len(load_scenario("festival").scenario.configurations)
    print(
        f"festival, --set run.duration_s={args.duration}, {args.reps} reps x {n_conf}"
        f" configurations = {args.reps * n_conf} runs; {os.cpu_count()} cores on this machine,"
        f" load average {os.getloadavg()[0]:.1f} before"
    )
    rows = []
    with tempfile.TemporaryDirectory(prefix="throughput-") as d:
        tmp = Path(d)
        rows.append(measure("local pool, 1 worker", None, 1, args, tmp))
        rows.append(measure("local pool, 2 workers", None, 2, args, tmp))
        n = args.workers_dask
        rows.append(measure(f"dask local:{n}", f"local:{n}", None, args, tmp))
        with real_cluster(n, tmp) as address:
            rows.append(measure(f"dask scheduler + {n} workers", address, None, args, tmp))
    base = rows[0]["runs_per_min"]
    for r in rows:
        k = 1 if r is rows[0] else args.workers_dask if "dask" in r["engine"] else 2
        r["efficiency"] = f"{r['runs_per_min'] / (k * base):.0%}"
    ref = rows[0].pop("_table")
    for r in rows[1:]:
        pd.testing.assert_frame_equal(r.pop("_table"), ref)
    print(pd.DataFrame(rows).to_string(index=False))
    print(f"load average {os.getloadavg()[0]:.1f} after (mean_run_s grows when cores are shared)")
    print("runs tables: identical on every engine (wall_time_s aside)")


if __name__ == "__main__":
    main()
