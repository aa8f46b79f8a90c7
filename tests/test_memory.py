"""A worker running run after run does not keep the finished models: no memory growth."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import weakref

import mesa
import pandas as pd
import pytest

from softtarget.sim.loader import load_scenario
from softtarget.sim.model import SoftTargetModel, simulate
from softtarget.sim.runs import RunTask, run_seed

#: A festival run of a fraction of a second: few people, 20 simulated seconds.
SMALL = ["run.duration_s=20s", "crowd.initial_inside=200", "crowd.initial_queuing=20"]
#: Most the resident set may grow from run 10 to run 50 (each leaked model was ~3.4 MiB).
MAX_GROWTH_MIB = 8.0

#: Runs in one process as a worker of the local pool runs them (``execute_task``, one after
#: another), printing the resident set after runs 10 and 50.
WORKER = r"""
import json, os, sys
from softtarget.sim import batch, store as S
from softtarget.sim.loader import load_scenario
from softtarget.sim.runs import RunTask, run_seed

def rss_mib():
    try:
        import psutil
        return psutil.Process().memory_info().rss / 2**20
    except ImportError:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

out, overrides = sys.argv[1], json.loads(sys.argv[2])
store = S.ResultsStore(out)
store.create()
store.write_manifest({"package": "softtarget", "runs": []})
batch._worker_init(os.getppid())  # this process now behaves as a pool worker
loaded = load_scenario("festival", overrides)
sc = loaded.scenario
names = list(sc.configurations)
rss = {}
for i in range(1, 51):
    task = RunTask(sc, loaded.hash, names[i % len(names)], i, run_seed(sc.run.seed, i))
    ref = batch.execute_task(task, out)
    assert ref.status == S.RUN_OK, ref
    if i in (10, 50):
        rss[i] = rss_mib()
print(json.dumps(rss))
"""


def _can_measure() -> bool:
    try:
        import psutil  # noqa: F401

        return True
    except ImportError:
        return sys.platform.startswith("linux")


@pytest.mark.skipif(not _can_measure(), reason="needs psutil or Linux's /proc")
def test_fifty_runs_in_one_worker_do_not_grow_its_memory(tmp_path):
    out = subprocess.run(
        [sys.executable, "-c", WORKER, str(tmp_path / "out"), json.dumps(SMALL)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    rss = {int(k): v for k, v in json.loads(out.stdout.strip().splitlines()[-1]).items()}
    growth = rss[50] - rss[10]
    assert growth <= MAX_GROWTH_MIB, f"grew {growth:.1f} MiB from run 10 to run 50 ({rss})"


def _models_in_mesa() -> list[object]:
    return [m for m in mesa.Agent._ids if isinstance(m, SoftTargetModel)]


@pytest.fixture(scope="module")
def small():
    loaded = load_scenario("festival", SMALL)
    return loaded.scenario, loaded.hash


def test_a_closed_model_is_collected(small):
    scenario, _ = small
    model = SoftTargetModel(scenario, "public_private", 7)
    for _ in range(5):
        model.step()
    assert len(model.agents) > 0  # staff are Mesa agents: Mesa's registry knows the model
    ref = weakref.ref(model)
    model.close()
    model.close()  # twice does no harm
    assert len(model.agents) == 0
    del model
    gc.collect()
    assert ref() is None, [type(r).__name__ for r in gc.get_referrers(ref())]


def test_simulate_leaves_no_model_behind(small):
    scenario, digest = small
    before = len(_models_in_mesa())
    task = RunTask(scenario, digest, "public_private", 0, run_seed(scenario.run.seed, 0))
    row = simulate(task).row
    assert row["visitors"] > 0
    assert len(_models_in_mesa()) == before


def test_a_failing_run_leaves_no_model_behind(small, monkeypatch):
    scenario, digest = small

    def broken(self):
        raise RuntimeError("boom")

    monkeypatch.setattr(SoftTargetModel, "outcome", broken)
    before = len(_models_in_mesa())
    task = RunTask(scenario, digest, "public_only", 1, run_seed(scenario.run.seed, 1))
    with pytest.raises(RuntimeError, match="boom"):
        simulate(task)
    assert len(_models_in_mesa()) == before


def test_closing_does_not_change_the_results(small):
    """Two runs of one task in one process give the same row (ids restart per model)."""
    scenario, digest = small
    task = RunTask(scenario, digest, "public_private", 2, run_seed(scenario.run.seed, 2))
    a, b = simulate(task), simulate(task)
    row_a, row_b = (pd.Series(r.row).drop("wall_time_s") for r in (a, b))
    assert row_a.equals(row_b)
    assert a.events.equals(b.events)
    assert a.timeseries.equals(b.timeseries)
