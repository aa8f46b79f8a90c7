"""The batch runner: planning, determinism, failures, worker crashes, interrupt and resume."""

from __future__ import annotations

import errno
import json
import re
import shutil
import signal
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import pandas as pd
import pytest

from softtarget.sim import columns as C
from softtarget.sim import store as S
from softtarget.sim.batch import plan_tasks, run_batch
from softtarget.sim.errors import ResultsError, ScenarioError
from softtarget.sim.runs import make_run_id, run_seed
from tests import runfns
from tests.runfns import fake_run, make_scenario

HASH = "feedc0ffee123456"
SCENARIO = make_scenario(replications=4)
TASKS = plan_tasks(SCENARIO, HASH)


def batch(out, *, run_fn=fake_run, threads: int | None = 2, tasks=TASKS, **kw):
    """Run a batch quietly; on ``threads`` threads (fast) or, with ``threads=None``, processes."""
    kw.setdefault("progress", False)
    if threads is None:
        return run_batch(tasks, out, scenario=SCENARIO, scenario_hash=HASH, run_fn=run_fn, **kw)
    with ThreadPoolExecutor(threads) as ex:
        return run_batch(
            tasks, out, scenario=SCENARIO, scenario_hash=HASH, run_fn=run_fn, executor=ex, **kw
        )


def runs_without_time(out) -> pd.DataFrame:
    return S.read_runs(out).drop(columns=[C.WALL_TIME_S])


def only(df: pd.DataFrame, tasks) -> pd.DataFrame:
    ids = {t.run_id for t in tasks}
    return df[df[C.RUN_ID].isin(ids)].reset_index(drop=True)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted batch of TASKS."""
    out = tmp_path_factory.mktemp("ref") / "out"
    batch(out)
    return out


# --- planning ----------------------------------------------------------------------------------


def test_plan_pairs_configurations_on_common_seeds():
    assert len(TASKS) == 8
    by_rep: dict[int, set[int]] = {}
    for t in TASKS:
        by_rep.setdefault(t.replicate, set()).add(t.seed)
        assert t.seed == run_seed(SCENARIO.run.seed, t.replicate)
        assert t.run_id == make_run_id(HASH, t.configuration, t.replicate)
    assert all(len(seeds) == 1 for seeds in by_rep.values())  # same seed across configurations
    assert len({s for seeds in by_rep.values() for s in seeds}) == 4  # differs across reps
    assert [(t.replicate, t.configuration) for t in TASKS[:2]] == [
        (0, "public_only"),
        (0, "public_private"),
    ]


def test_plan_options():
    tasks = plan_tasks(
        SCENARIO, HASH, configurations=["public_private"], replications=2, check_invariants=True
    )
    assert [(t.configuration, t.replicate) for t in tasks] == [
        ("public_private", 0),
        ("public_private", 1),
    ]
    assert all(t.check_invariants for t in tasks)
    with pytest.raises(
        ScenarioError, match=r"no configuration named 'hybrid'.*allowed: public_only"
    ):
        plan_tasks(SCENARIO, HASH, configurations=["hybrid"])
    with pytest.raises(ValueError, match="at least 1"):
        plan_tasks(SCENARIO, HASH, replications=0)


# --- a complete batch --------------------------------------------------------------------------


def test_complete_batch_and_manifest(reference):
    runs = S.read_runs(reference)
    assert list(runs[C.RUN_ID]) == sorted(t.run_id for t in TASKS)
    assert runs.columns.tolist() == C.RUNS_SCHEMA.names
    assert (runs[C.WALL_TIME_S] >= 0).all()
    assert len(S.read_failures(reference)) == 0
    assert len(S.read_timeseries(reference)) == 6 * len(TASKS)
    for table in S.TABLES:
        assert (reference / f"{table}.parquet").is_file()
    m = S.read_manifest(reference)
    assert m["status"] == "complete"
    assert m["schema_version"] == C.SCHEMA_VERSION
    assert m["scenario_hash"] == HASH
    assert m["scenario_seed"] == SCENARIO.run.seed
    assert m["scenario"] == SCENARIO.model_dump(mode="json")
    assert m["package_version"]
    assert m["engine"].endswith("ThreadPoolExecutor")
    assert m["workers"] == 2
    entries = {e["run_id"]: e for e in m["runs"]}
    assert set(entries) == {t.run_id for t in TASKS}
    e = entries[TASKS[3].run_id]
    assert (e["status"], e["attempts"], e["replicate"], e["seed"]) == ("ok", 1, 1, TASKS[3].seed)
    assert e["wall_time_s"] is not None and e["started"] and e["finished"]


def test_same_results_with_one_and_two_worker_processes(tmp_path, reference):
    one = run_batch(
        TASKS[:6], tmp_path / "one", scenario=SCENARIO, scenario_hash=HASH, workers=1,
        run_fn=fake_run, progress=False,
    )  # fmt: skip
    two = run_batch(
        TASKS[:6], tmp_path / "two", scenario=SCENARIO, scenario_hash=HASH, workers=2,
        run_fn=fake_run, progress=False,
    )  # fmt: skip
    assert (one.n_ok, two.n_ok, one.engine) == (6, 6, "local-process-pool")
    a, b = runs_without_time(tmp_path / "one"), runs_without_time(tmp_path / "two")
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(a, only(runs_without_time(reference), TASKS[:6]))
    pd.testing.assert_frame_equal(
        S.read_timeseries(tmp_path / "one"), S.read_timeseries(tmp_path / "two")
    )


# --- failures ----------------------------------------------------------------------------------


def test_a_raising_run_is_a_failure_record_and_the_rest_complete(tmp_path, reference):
    summary = batch(tmp_path / "out", run_fn=partial(runfns.raising_run, fail_replicate=1))
    assert (summary.status, summary.n_ok, summary.n_failed) == ("complete", 6, 2)
    failed = {t.run_id for t in TASKS if t.replicate == 1}
    assert set(summary.failed_run_ids) == failed
    fails = S.read_failures(tmp_path / "out")
    assert set(fails[C.RUN_ID]) == failed
    assert set(fails[C.STAGE]) == {"threat"}  # RunError names its stage
    assert fails[C.ERROR].str.contains("the fake model failed").all()
    assert fails[C.TRACEBACK].str.contains("raising_run").all()
    runs = runs_without_time(tmp_path / "out")
    expected = runs_without_time(reference)
    pd.testing.assert_frame_equal(
        runs, expected[~expected[C.RUN_ID].isin(failed)].reset_index(drop=True)
    )
    m = S.read_manifest(tmp_path / "out")
    statuses = {e["run_id"]: (e["status"], e["stage"]) for e in m["runs"]}
    assert all(statuses[r] == ("failed", "threat") for r in failed)


def test_failure_stages_simulate_and_write(tmp_path):
    batch(tmp_path / "a", run_fn=partial(runfns.raising_run, fail_replicate=0, stage=None))
    fails = S.read_failures(tmp_path / "a")
    assert set(fails[C.STAGE]) == {"simulate"}
    assert fails[C.ERROR].str.startswith("ZeroDivisionError").all()
    batch(tmp_path / "b", run_fn=partial(runfns.bad_output_run, fail_replicate=2))
    fails = S.read_failures(tmp_path / "b")
    assert set(fails[C.STAGE]) == {"write"}
    assert fails[C.ERROR].str.contains("unknown columns \\['kiled'\\]").all()


def test_a_crashing_worker_is_survived_and_the_run_recorded(tmp_path, reference):
    crash = partial(runfns.crashing_run, crash_replicate=1, crash_configuration="public_only")
    summary = run_batch(
        TASKS[:6], tmp_path / "out", scenario=SCENARIO, scenario_hash=HASH, workers=2,
        run_fn=crash, max_attempts=2, progress=False,
    )  # fmt: skip
    culprit = make_run_id(HASH, "public_only", 1)
    assert summary.failed_run_ids == (culprit,)
    assert summary.n_ok == 5
    fails = S.read_failures(tmp_path / "out")
    assert list(fails[C.RUN_ID]) == [culprit]
    assert list(fails[C.STAGE]) == ["worker-crash"]
    runs = runs_without_time(tmp_path / "out")
    expected = only(runs_without_time(reference), [t for t in TASKS[:6] if t.run_id != culprit])
    pd.testing.assert_frame_equal(runs, expected)
    entry = {e["run_id"]: e for e in S.read_manifest(tmp_path / "out")["runs"]}[culprit]
    assert entry["worker_crashes"] == 2
    assert entry["status"] == "failed"


def test_full_disk_stops_the_batch_with_the_path_and_keeps_parts(tmp_path, monkeypatch):
    out = tmp_path / "out"
    real = S.pq.write_table
    calls = {"n": 0}

    def filling(table, where, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 15:  # three complete runs (5 parts each), then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(table, where, *args, **kwargs)

    monkeypatch.setattr(S.pq, "write_table", filling)
    with pytest.raises(
        ResultsError, match=rf"cannot write {re.escape(str(out))}.*no space left on device"
    ):
        batch(out, threads=1)
    monkeypatch.undo()
    assert S.read_manifest(out)["status"] == "failed"
    runs = S.read_runs(out)  # from the parts: consolidation could not be written
    assert list(runs[C.RUN_ID]) == sorted(t.run_id for t in TASKS[:3])
    # and the folder completes on resume once there is space again
    batch(out, resume=True)
    assert len(S.read_runs(out)) == len(TASKS)


# --- refusing to overwrite, resuming -----------------------------------------------------------


def test_existing_results_are_not_overwritten(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(ResultsError, match="not empty; pass --resume"):
        batch(out)
    assert (out / "notes.txt").read_text() == "mine"
    with pytest.raises(ResultsError, match=r"manifest\.json: missing"):
        (out / "x.parquet").write_text("")
        batch(out, resume=True)


def test_resume_refuses_another_scenario(tmp_path):
    out = tmp_path / "out"
    batch(out, tasks=TASKS[:2])
    other = plan_tasks(SCENARIO, "0ther0ther0ther0")
    with pytest.raises(ResultsError) as err:
        run_batch(
            other, out, scenario=SCENARIO, scenario_hash="0ther0ther0ther0", resume=True,
            run_fn=fake_run, progress=False,
        )  # fmt: skip
    msg = str(err.value)
    assert str(out / "manifest.json") in msg
    assert HASH in msg and "0ther0ther0ther0" in msg


def test_resume_on_a_new_folder_just_runs(tmp_path, reference):
    batch(tmp_path / "out", resume=True)
    pd.testing.assert_frame_equal(runs_without_time(tmp_path / "out"), runs_without_time(reference))


def test_resume_after_a_kill_gives_the_same_tables(tmp_path, reference):
    """A coordinator killed mid-batch: some parts, no consolidated tables, manifest 'running'."""
    out = tmp_path / "out"
    shutil.copytree(reference, out)
    for table in S.TABLES:
        (out / f"{table}.parquet").unlink()
    lost = [t.run_id for t in TASKS[2:5]]
    for rid in lost:
        (out / "parts" / "runs" / f"{rid}.parquet").unlink()
    (out / "parts" / "events" / f"{lost[0]}.parquet").unlink()  # killed mid-write
    (out / ".staging" / "deadbeef").mkdir(parents=True)  # leftovers of a killed worker
    m = json.loads((out / "manifest.json").read_text())
    m["status"] = "running"
    (out / "manifest.json").write_text(json.dumps(m))
    # readable as it is, from the parts
    assert len(S.read_runs(out)) == len(TASKS) - 3
    summary = batch(out, resume=True)
    assert (summary.n_skipped, summary.n_ok, summary.n_failed) == (5, 8, 0)
    pd.testing.assert_frame_equal(runs_without_time(out), runs_without_time(reference))
    pd.testing.assert_frame_equal(S.read_events(out), S.read_events(reference))
    m = S.read_manifest(out)
    assert m["status"] == "complete"
    assert len(m["sessions"]) == 2
    assert {e["run_id"]: e["attempts"] for e in m["runs"]}[lost[0]] == 2
    assert not any((out / ".staging").iterdir())


def test_resume_retries_failed_runs(tmp_path, reference):
    out = tmp_path / "out"
    batch(out, run_fn=partial(runfns.raising_run, fail_replicate=3))
    assert len(S.read_failures(out)) == 2
    summary = batch(out, resume=True)
    assert (summary.n_skipped, summary.n_ok, summary.n_failed) == (6, 8, 0)
    assert len(S.read_failures(out)) == 0
    pd.testing.assert_frame_equal(runs_without_time(out), runs_without_time(reference))


def test_ctrl_c_interrupts_cleanly_and_resume_completes(tmp_path, reference):
    """SIGINT reaches the coordinator while a worker process runs (as Ctrl-C in a terminal).

    The coordinator gets Python's default SIGINT handler, as a program started from a terminal
    has: in the suite's worker processes SIGINT was at times found ignored by then.
    """
    out = tmp_path / "out"
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            run_batch(
                TASKS, out, scenario=SCENARIO, scenario_hash=HASH, workers=1,
                run_fn=partial(runfns.sigint_parent_run, at_replicate=2), progress=False,
            )  # fmt: skip
    finally:
        signal.signal(signal.SIGINT, previous)
    m = S.read_manifest(out)
    assert m["status"] == "interrupted"
    done = S.read_runs(out)
    assert 2 <= len(done) < len(TASKS)  # replicates 0 and 1 at least were done
    assert (out / "runs.parquet").is_file() and S.ResultsStore(out).is_consolidated()
    summary = batch(out, resume=True)
    assert summary.n_ok == len(TASKS)
    runs = runs_without_time(out)
    assert runs[C.RUN_ID].is_unique
    pd.testing.assert_frame_equal(runs, runs_without_time(reference))
    assert S.read_manifest(out)["status"] == "complete"


def test_keyboard_interrupt_from_a_thread_engine(tmp_path, reference):
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        batch(out, threads=1, run_fn=partial(runfns.interrupt_run, at_replicate=1))
    assert S.read_manifest(out)["status"] == "interrupted"
    assert len(S.read_runs(out)) >= 2
    batch(out, resume=True)
    pd.testing.assert_frame_equal(runs_without_time(out), runs_without_time(reference))


# --- progress and misuse -----------------------------------------------------------------------


def test_quiet_progress_lines_when_not_a_terminal(tmp_path, capsys):
    batch(tmp_path / "out", progress=None, threads=1)
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[-1] == "8/8 runs (100%), 0 failed, done"
    assert 4 <= len(lines) <= 11
    assert "runs (" in lines[0] and "eta" in lines[0]


def test_unpicklable_run_function_is_refused_early(tmp_path):
    with pytest.raises(TypeError, match="must pickle"):
        run_batch(
            TASKS, tmp_path / "out", scenario=SCENARIO, scenario_hash=HASH, workers=1,
            run_fn=lambda task: fake_run(task), progress=False,
        )  # fmt: skip
    with pytest.raises(ValueError, match="scenario hash"):
        run_batch(TASKS, tmp_path / "o2", scenario=SCENARIO, scenario_hash="x" * 16)


def test_sys_exit_in_a_run_is_a_failed_run(tmp_path):
    summary = batch(tmp_path / "out", run_fn=partial(runfns.exiting_run, exit_replicate=0))
    assert (summary.n_ok, summary.n_failed) == (6, 2)
    assert S.read_failures(tmp_path / "out")[C.ERROR].str.startswith("SystemExit").all()


def test_workers_that_always_die_stop_the_batch(tmp_path):
    with pytest.raises(RuntimeError, match="die before finishing any run"):
        run_batch(
            TASKS, tmp_path / "out", scenario=SCENARIO, scenario_hash=HASH, workers=2,
            run_fn=runfns.always_crashing_run, max_attempts=1, progress=False,
        )  # fmt: skip
    assert S.read_manifest(tmp_path / "out")["status"] == "failed"
    assert len(S.read_failures(tmp_path / "out")) == 3
