"""Every built-in scenario validates and runs a short replication of each configuration."""

from __future__ import annotations

import pytest

from sim import columns as C
from sim.loader import builtin_names, load_scenario
from sim.model import simulate
from sim.runs import RunTask, run_seed


def test_the_four_built_ins_exist() -> None:
    assert set(builtin_names()) >= {"festival", "stadium", "station", "worship"}


@pytest.mark.parametrize("name", builtin_names())
def test_builtin_runs_every_configuration(name: str) -> None:
    loaded = load_scenario(name, ["run.duration_s=2min", "threat.start_s=60"])
    sc = loaded.scenario
    assert {"public_only", "public_private"} <= set(sc.configurations)
    for config in sc.configurations:
        task = RunTask(sc, loaded.hash, config, 0, run_seed(sc.run.seed, 0))
        row = simulate(task).row
        assert row[C.CONFIGURATION] == config
        assert row[C.VISITORS] > 0
        assert row[C.STAFF_COST_EUR] >= 0
