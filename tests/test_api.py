"""The Python API (softtarget.api, docs/python-api.md): the documented example and each contract."""

from __future__ import annotations

import inspect
import json
import math
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
import pytest

import softtarget
from softtarget.sim.errors import ScenarioError

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "python-api.md"
SETS = ["run.duration_s=30"]  # tiny runs: the contracts, not the numbers, are tested here
PAIR = ("public_only", "public_private")  # the headline comparison of the festival's plans


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


@pytest.fixture(scope="module")
def scenario():
    return softtarget.load_scenario("festival", overrides=SETS)


@pytest.fixture(scope="module")
def batches(tmp_path_factory, scenario):
    """The same batch from a Scenario on one worker, and from name + overrides on two."""
    root = tmp_path_factory.mktemp("api")
    one = softtarget.run_experiments(
        scenario, replications=2, configurations=PAIR, workers=1, out=root / "one", progress=False
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)  # the default folder is results/<scenario>/<time> under the cwd
        two = softtarget.run_experiments(
            "festival", overrides=SETS, replications=2, configurations=PAIR, workers=2,
            progress=False, as_frame=True,
        )  # fmt: skip
        written = sorted((root / "results" / "festival").iterdir())
    return {"root": root, "one": one, "two": two, "written": written}


# --- the documentation ---------------------------------------------------------------------------


def test_the_documented_example_runs(tmp_path, monkeypatch):
    blocks = python_blocks(DOC.read_text(encoding="utf-8"))
    assert blocks, f"{DOC} has no ```python block"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # its mkdtemp() lands in tmp_path
    namespace: dict[str, object] = {"__name__": "python_api_doc"}
    exec(compile("\n".join(blocks), str(DOC), "exec"), namespace)
    folder = namespace["folder"]
    assert isinstance(folder, Path) and (folder / "runs.parquet").is_file()
    assert isinstance(namespace["table"], pd.DataFrame) and len(namespace["table"])


def test_the_docs_cover_every_public_name():
    text = DOC.read_text(encoding="utf-8")
    for name in softtarget.__all__:
        if name != "__version__":
            assert f"`{name}" in text, name


# --- the package -------------------------------------------------------------------------------


def test_public_names_and_version():
    from softtarget.sim.model import SoftTargetModel

    assert softtarget.Model is SoftTargetModel
    assert isinstance(softtarget.__version__, str) and softtarget.__version__
    for name in softtarget.__all__:
        assert getattr(softtarget, name) is not None
        assert name in dir(softtarget)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = softtarget.nope


def test_import_softtarget_stays_light():
    code = (
        "import sys, softtarget\n"
        "heavy = [m for m in ('pandas', 'numba', 'mesa', 'softtarget.sim.model', 'softtarget.api')"
        " if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == ""


@pytest.mark.parametrize(
    ("func", "positional"),
    [
        (softtarget.load_scenario, ("festival", SETS)),
        (softtarget.simulate, ("festival", "public_only")),
        (softtarget.run_experiments, ("festival", 2)),
        (softtarget.compare, ("results", "public_only")),
    ],
    ids=["load_scenario", "simulate", "run_experiments", "compare"],
)
def test_arguments_after_the_first_are_keyword_only(func, positional):
    params = list(inspect.signature(func).parameters.values())
    assert params[0].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params[1:])
    with pytest.raises(TypeError, match="positional"):
        func(*positional)


# --- load_scenario -----------------------------------------------------------------------------


def test_load_scenario_returns_the_validated_scenario(scenario, tmp_path):
    from softtarget.sim.loader import load_scenario as load_loaded
    from softtarget.sim.schema import Scenario

    assert isinstance(scenario, Scenario)
    assert scenario.run.duration_s == 30
    assert scenario == load_loaded("festival", SETS).scenario
    path = tmp_path / "mine.yaml"
    path.write_text((ROOT / "scenarios" / "festival.yaml").read_text(encoding="utf-8"))
    assert softtarget.load_scenario(path, overrides="run.duration_s=30") == scenario  # a Path


def test_bad_scenarios_raise_scenario_error(tmp_path):
    with pytest.raises(ScenarioError) as err:
        softtarget.load_scenario("no_such_scenario")
    assert "festival" in str(err.value)  # the message lists the built-ins
    with pytest.raises(ScenarioError, match=r"run\.duration_s"):
        softtarget.load_scenario("festival", overrides=["run.duration_s=-5"])
    with pytest.raises(ScenarioError):
        softtarget.simulate("no_such_scenario", configuration="public_only")
    with pytest.raises(ScenarioError):
        softtarget.run_experiments("no_such_scenario", out=tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()
    with pytest.raises(TypeError):
        softtarget.load_scenario(42)
    with pytest.raises(TypeError, match="replicate must be an integer"):
        softtarget.simulate("festival", configuration="public_only", replicate=1.5)


def test_unknown_configurations_raise_scenario_error(scenario, tmp_path):
    with pytest.raises(ScenarioError, match="no configuration named 'nope'") as err:
        softtarget.simulate(scenario, configuration="nope")
    assert "public_private" in str(err.value)
    with pytest.raises(ScenarioError, match="nope"):
        softtarget.run_experiments(scenario, configurations=["nope"], out=tmp_path / "o")
    assert not (tmp_path / "o").exists()


def test_run_experiments_refuses_bad_arguments_before_any_work(scenario, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(ValueError, match="overrides apply to a scenario name"):
        softtarget.run_experiments(scenario, overrides=SETS, out=out)
    with pytest.raises(ValueError, match="needs out"):
        softtarget.run_experiments(scenario, resume=True)
    with pytest.raises(ValueError, match="scheduler"):
        softtarget.run_experiments(scenario, scheduler="bogus", out=out)
    with pytest.raises(ValueError, match="replications"):
        softtarget.run_experiments(scenario, replications=0, out=out)
    with pytest.raises(ValueError, match="workers"):
        softtarget.run_experiments(scenario, workers=0, out=out)
    with pytest.raises(ValueError, match="configurations is empty"):
        softtarget.run_experiments(scenario, configurations=[], out=out)
    assert not out.exists()


# --- simulate and Model ------------------------------------------------------------------------


def test_model_steps_and_shows_its_state(scenario):
    from softtarget.sim.runs import run_seed

    model = softtarget.Model(scenario, "public_only", run_seed(scenario.run.seed, 0))
    for _ in range(4):
        model.step()
    assert model.t == pytest.approx(4 * scenario.run.dt_s)
    assert all(len(event) == 4 for event in model.events)
    assert "visitors" in model.outcome()
    assert len(model.datacollector.get_model_vars_dataframe()) >= 1


def test_simulate_returns_one_run(scenario):
    run = softtarget.simulate(scenario, configuration="public_private", replicate=1)
    assert isinstance(run, softtarget.RunResult)
    assert run.row["configuration"] == "public_private" and run.row["replicate"] == 1
    assert run.run_id == run.row["run_id"]
    assert {"t_s", "kind", "actor", "detail"} <= set(run.events.columns)
    assert len(run.timeseries) >= 3  # every sample_every_s of 30 s
    assert run.run_id in repr(run)
    same = softtarget.simulate(
        scenario, configuration="public_private", seed=run.row["seed"], replicate=1
    )
    assert same.row | {"wall_time_s": 0} == run.row | {"wall_time_s": 0}


# --- run_experiments, load_results, compare ----------------------------------------------------


def test_run_experiments_writes_a_results_folder(batches):
    folder = batches["one"]
    assert isinstance(folder, Path)
    for name in ("manifest.json", "runs.parquet", "timeseries.parquet", "events.parquet"):
        assert (folder / name).is_file(), name
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["workers"] == 1
    assert len(batches["written"]) == 1  # results/festival/<time> under the cwd
    assert (batches["written"][0] / "runs.parquet").is_file()


def test_as_frame_returns_one_row_per_run(batches, scenario):
    frame = batches["two"]
    assert isinstance(frame, pd.DataFrame)
    assert len(frame) == 2 * len(PAIR)
    assert frame["run_id"].is_unique
    assert sorted(frame["replicate"].unique()) == [0, 1]
    assert list(frame["configuration"].cat.categories) == list(scenario.configurations)


def test_the_table_does_not_depend_on_workers_or_how_the_scenario_came(batches):
    one = softtarget.load_results(batches["one"]).drop(columns=["wall_time_s"])
    two = batches["two"].drop(columns=["wall_time_s"])
    pd.testing.assert_frame_equal(one, two)


def test_common_random_numbers_pair_the_configurations(batches):
    runs = softtarget.load_results(batches["one"])
    seeds = runs.pivot(index="replicate", columns="configuration", values="seed")
    assert (seeds.nunique(axis=1) == 1).all()
    modes = runs.pivot(index="replicate", columns="configuration", values="attack_mode")
    assert (modes.nunique(axis=1) == 1).all()  # the same attacker in every configuration


def test_simulate_reproduces_a_row_of_the_batch(batches, scenario):
    runs = softtarget.load_results(batches["one"])
    want = runs[(runs["configuration"] == "public_private") & (runs["replicate"] == 1)].iloc[0]
    replicate = want["replicate"]  # a numpy integer, as a notebook would pass it
    got = softtarget.simulate(scenario, configuration="public_private", replicate=replicate).row
    for key, value in got.items():
        if key == "wall_time_s":
            continue
        if value is None or (isinstance(value, float) and math.isnan(value)):
            assert pd.isna(want[key]), key  # no attack: no mode, no end
        else:
            assert want[key] == value, key


def test_resume_completes_without_rerunning(batches, scenario):
    folder = batches["one"]
    before = softtarget.load_results(folder)
    again = softtarget.run_experiments(
        scenario,
        replications=2,  # the very same task set: a resume never does another batch
        configurations=PAIR,
        out=folder,
        resume=True,
        progress=False,
        as_frame=True,
    )
    pd.testing.assert_frame_equal(again, before)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["sessions"][-1]["submitted"] == 0


def test_resume_refuses_another_task_set(batches, scenario):
    from softtarget.sim.errors import ResultsError

    with pytest.raises(ResultsError, match=r"1 configurations \(public_only\)"):
        softtarget.run_experiments(
            scenario,
            replications=2,
            configurations="public_only",  # one string is one name, not its letters
            out=batches["one"],
            resume=True,
            progress=False,
        )


def test_compare_takes_a_folder_or_a_frame(batches):
    folder = batches["one"]
    metrics = ["killed", "max_queue_len", "detected_before_attack"]
    by_folder = softtarget.compare(folder, metrics=metrics, n_resamples=199)
    by_frame = softtarget.compare(softtarget.load_results(folder), metrics=metrics, n_resamples=199)
    pd.testing.assert_frame_equal(by_folder, by_frame)
    assert by_folder.attrs["baseline"] == "public_only"
    assert set(by_folder["outcome"]) == set(metrics)
    assert len(by_folder) == len(metrics) * 2
    other = by_folder[by_folder["configuration"] == "public_private"]
    assert other["n_pairs"].eq(2).all()
    single = softtarget.compare(folder, metrics="killed", baseline="public_private")
    assert single.attrs["baseline"] == "public_private" and set(single["outcome"]) == {"killed"}
    with pytest.raises(ValueError, match="unknown baseline"):
        softtarget.compare(folder, baseline="nope")
    with pytest.raises(ValueError, match="no successful runs"):
        softtarget.compare(softtarget.load_results(folder).iloc[:0])


def test_load_results_of_a_missing_folder_raises_results_error(tmp_path):
    from softtarget.sim.errors import ResultsError

    with pytest.raises(ResultsError, match="does not exist"):
        softtarget.load_results(tmp_path / "nothing")


def test_run_batch_takes_the_scenario_from_its_tasks(tmp_path):
    """Each fact once: the tasks carry the scenario and its hash (run_experiments relies on it)."""
    from concurrent.futures import ThreadPoolExecutor

    from softtarget.sim.batch import plan_tasks, run_batch
    from tests.runfns import fake_run, make_scenario

    fake = make_scenario(replications=2)
    tasks = plan_tasks(fake, "feedc0ffee123456")
    with ThreadPoolExecutor(2) as ex:
        summary = run_batch(tasks, tmp_path / "out", executor=ex, run_fn=fake_run, progress=False)
    assert summary.n_ok == len(tasks) == 4
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["scenario_hash"] == "feedc0ffee123456"
    assert manifest["scenario_name"] == fake.name and manifest["scenario"] == fake.model_dump()
    with pytest.raises(ValueError, match="no tasks"):
        run_batch([], tmp_path / "empty", run_fn=fake_run)
    with pytest.raises(ValueError, match="not the scenario of task"):
        run_batch(tasks, tmp_path / "o2", scenario=make_scenario(seed=1), run_fn=fake_run)
    assert not (tmp_path / "empty").exists() and not (tmp_path / "o2").exists()
