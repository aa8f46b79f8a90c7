"""Every scenario file shipped validates and runs a short replication of each configuration.

The built-ins (``scenarios/*.yaml``) and the worked examples (``scenarios/examples/*.yaml``)
are checked the same way: ``softtarget validate`` accepts them, and each configuration runs a
two-minute window with the attack drawn at one minute.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from softtarget.analysis.compare import compare_by
from softtarget.cli import main
from softtarget.sim import columns as C
from softtarget.sim.loader import BUILTIN_DIR, builtin_names, load_scenario
from softtarget.sim.model import simulate
from softtarget.sim.runs import RunTask, run_seed

EXAMPLES_DIR = BUILTIN_DIR / "examples"
SCENARIO_FILES = sorted(BUILTIN_DIR.glob("*.yaml")) + sorted(EXAMPLES_DIR.glob("*.yaml"))
SHORT = ["run.duration_s=2min", "threat.start_s=60"]


def _id(path: Path) -> str:
    return str(path.relative_to(BUILTIN_DIR))


def test_the_four_built_ins_and_an_example_exist() -> None:
    assert set(builtin_names()) >= {"festival", "stadium", "station", "worship"}
    assert (EXAMPLES_DIR / "my_venue.yaml") in SCENARIO_FILES
    # examples are files to copy, not built-ins addressed by name
    assert "my_venue" not in builtin_names()


def test_validate_accepts_every_scenario_file() -> None:
    res = CliRunner().invoke(main, ["validate", *map(str, SCENARIO_FILES)])
    assert res.exit_code == 0, res.output
    assert res.output.count(": ok (") == len(SCENARIO_FILES)


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=_id)
def test_scenario_file_runs_every_configuration(path: Path) -> None:
    loaded = load_scenario(str(path), SHORT)
    sc = loaded.scenario
    assert {"public_only", "public_private"} <= set(sc.configurations)
    assert sc.description.strip()
    rows = {}
    for config in sc.configurations:
        task = RunTask(sc, loaded.hash, config, 0, run_seed(sc.run.seed, 0))
        row = simulate(task).row
        assert row[C.CONFIGURATION] == config
        assert row[C.VISITORS] > 0
        assert row[C.STAFF_COST_EUR] >= 0
        assert row[C.ATTACK_START_S] == pytest.approx(60.0)
        rows[config] = row
    # private staff cost money on top of the police
    assert rows["public_private"][C.STAFF_COST_EUR] > rows["public_only"][C.STAFF_COST_EUR]
    # the comparison conditional on the mode of attack works on the scenario's own rows
    by_mode = compare_by(pd.DataFrame(list(rows.values())), C.ATTACK_MODE, n_resamples=99)
    assert set(by_mode[C.ATTACK_MODE]) == {rows["public_only"][C.ATTACK_MODE]}
    assert set(by_mode[C.CONFIGURATION].astype(str)) == set(sc.configurations)
