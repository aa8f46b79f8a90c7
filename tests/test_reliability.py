"""The results store's promises (docs/reliability.md) and the bounds on hostile input.

Each test names the promise it holds: no writes outside the folder or through a link, resume
only of the same batch, one batch per folder (the lock), readable after a crash (kill -9,
SIGTERM, a corrupt part), and bounds on scenarios, files and command-line numbers.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from softtarget.analysis.report import _write_new
from softtarget.cli import main
from softtarget.sim import bounds as B
from softtarget.sim import columns as C
from softtarget.sim import store as S
from softtarget.sim.batch import plan_tasks, run_batch
from softtarget.sim.errors import ResultsError, ScenarioError
from softtarget.sim.loader import load_scenario
from softtarget.sim.runs import RunOutput, RunTask
from tests import runfns
from tests.test_schema import MINIMAL

ROOT = Path(__file__).resolve().parents[1]
HASH = "feedc0ffee123456"
SCENARIO = runfns.make_scenario(replications=4)
TASKS = plan_tasks(SCENARIO, HASH)


def padded_run(task: RunTask, delay_s: float = 0.0) -> RunOutput:
    """``tests.runfns.fake_run`` with every column the schema has now (nulls where unknown)."""
    if delay_s:
        time.sleep(delay_s)
    out = runfns.fake_run(task)
    row = {n: None for n in C.RUNS_SCHEMA.names if C.RUNS_SCHEMA.field(n).nullable}
    row.update(out.row)
    return RunOutput(row=row, timeseries=out.timeseries, events=out.events)


def batch(out: Path, *, tasks=TASKS, run_fn=padded_run, **kw):
    kw.setdefault("progress", False)
    with ThreadPoolExecutor(2) as ex:
        return run_batch(tasks, out, run_fn=run_fn, executor=ex, **kw)


def runs(out: Path) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", S.ResultsWarning)
        return S.read_runs(out).drop(columns=[C.WALL_TIME_S])


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "out"
    batch(out)
    return out


#: A child process that runs a slow batch of TASKS in ``sys.argv[1]`` (``resume`` if argv[2]).
CHILD = textwrap.dedent(
    """
    import os
    import sys
    from functools import partial
    from softtarget.sim.batch import Terminated, run_batch
    from tests.test_reliability import TASKS, padded_run
    try:
        run_batch(TASKS, sys.argv[1], workers=1, resume=len(sys.argv) > 2, progress=False,
                  run_fn=partial(padded_run, delay_s=float(os.environ.get("DELAY", "0.4"))),
                  command="softtarget batch fake")
    except Terminated:
        sys.exit(143)
    """
)


def start_child(out: Path, *extra: str, delay_s: float = 0.4) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(out), *extra],
        cwd=ROOT,
        env={**os.environ, "DELAY": str(delay_s)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def wait_for_parts(proc: subprocess.Popen[bytes], out: Path, n: int) -> None:
    deadline = time.monotonic() + 60
    parts = out / "parts" / "runs"
    while time.monotonic() < deadline:
        if parts.is_dir() and len(list(parts.glob("*.parquet"))) >= n:
            return
        if proc.poll() is not None:
            pytest.fail(f"the batch ended early: {proc.stderr.read().decode()[-2000:]}")
        time.sleep(0.05)
    pytest.fail("no parts appeared")


# --- 1. no writes outside the folder, never through a link --------------------------------------


def test_a_staging_link_is_refused_and_its_target_untouched(tmp_path, reference):
    out, victim = tmp_path / "out", tmp_path / "victim"
    shutil.copytree(reference, out)
    victim.mkdir()
    (victim / "precious").mkdir()
    (victim / "precious" / "data.txt").write_text("keep me")
    shutil.rmtree(out / ".staging")
    (out / ".staging").symlink_to(victim, target_is_directory=True)
    with pytest.raises(ResultsError, match=r"\.staging: is a symbolic link"):
        batch(out, resume=True)
    assert (victim / "precious" / "data.txt").read_text() == "keep me"


def test_a_parts_link_is_refused_before_any_write(tmp_path, reference):
    out, victim = tmp_path / "out", tmp_path / "victim"
    shutil.copytree(reference, out)
    victim.mkdir()
    shutil.rmtree(out / "parts" / "events")
    (out / "parts" / "events").symlink_to(victim, target_is_directory=True)
    store = S.ResultsStore(out)
    with pytest.raises(ResultsError, match="symbolic link"):
        store.write_parts("x", {S.EVENTS: C.EVENTS_SCHEMA.empty_table()})
    with pytest.raises(ResultsError, match="symbolic link"):
        store.consolidate()
    assert list(victim.iterdir()) == []


def test_a_table_link_is_not_written_through(tmp_path, reference):
    out, victim = tmp_path / "out", tmp_path / "victim.txt"
    shutil.copytree(reference, out)
    victim.write_text("keep me")
    (out / "runs.parquet").unlink()
    (out / "runs.parquet").symlink_to(victim)
    with pytest.raises(ResultsError, match="symbolic link"):
        S.ResultsStore(out).consolidate()
    assert victim.read_text() == "keep me"


def test_report_and_temp_files_never_follow_a_planted_link(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    out = tmp_path / "report.html"
    for name in ("report.html.tmp", ".report.html.tmp"):
        (tmp_path / name).symlink_to(victim)
    _write_new(out, "<html></html>")
    assert out.read_text() == "<html></html>" and victim.read_text() == "keep me"
    assert not out.is_symlink()
    # no fixed temporary name left in the files that write results
    for path in ("analysis/report.py", "sim/store.py"):
        text = (ROOT / path).read_text()
        assert 'name + ".tmp"' not in text and 'with_suffix(".tmp")' not in text


# --- 1. resume only of the same batch ------------------------------------------------------------


def test_resume_refuses_a_folder_that_is_not_ours_and_wipes_nothing(tmp_path):
    out = tmp_path / "out"
    (out / ".staging" / "mine").mkdir(parents=True)
    (out / ".staging" / "mine" / "work.txt").write_text("not softtarget's")
    (out / "notes.txt").write_text("hello")
    with pytest.raises(ResultsError, match="not a softtarget results folder"):
        batch(out, resume=True)
    assert (out / ".staging" / "mine" / "work.txt").read_text() == "not softtarget's"
    assert sorted(p.name for p in out.iterdir()) == [".staging", "notes.txt"]
    other = tmp_path / "other"
    other.mkdir()
    (other / "manifest.json").write_text(json.dumps({"package": "something-else"}))
    with pytest.raises(ResultsError, match="not the manifest of a softtarget results folder"):
        batch(other, resume=True)


def test_resume_refuses_another_task_set(tmp_path, reference):
    out = tmp_path / "out"
    shutil.copytree(reference, out)
    many = plan_tasks(SCENARIO, HASH, replications=100)
    with pytest.raises(ResultsError, match=r"planned 8 runs.*plans 200 runs") as err:
        batch(out, tasks=many, resume=True)
    assert "\n" not in str(err.value)
    checked = plan_tasks(SCENARIO, HASH, check_invariants=True)
    with pytest.raises(ResultsError, match="check-invariants"):
        batch(out, tasks=checked, resume=True)
    assert batch(out, resume=True).n_skipped == len(TASKS)  # the same set resumes


def test_the_manifest_keeps_the_full_command_and_the_hint_prints_it(tmp_path, monkeypatch):
    import softtarget.sim.batch as batch_module

    path = tmp_path / "s.yaml"
    path.write_text(MINIMAL)
    seen = {}

    def interrupted(tasks, out, **kw):
        seen.update(kw, n=len(tasks))
        raise KeyboardInterrupt

    monkeypatch.setattr(batch_module, "run_batch", interrupted)
    args = ["batch", str(path), "--reps", "2", "--config", "more", "--set", "run.seed=9"]
    res = CliRunner().invoke(main, [*args, "--quiet"])
    assert res.exit_code == 130, res.output
    hint = res.output.strip().splitlines()[-1]
    assert "--reps 2 --config more --set run.seed=9 --quiet --out results/tiny/" in hint
    assert hint.endswith("--resume") and seen["command"] in hint and seen["n"] == 2


# --- 2. one batch per folder: the lock ----------------------------------------------------------


def test_a_held_lock_refuses_a_second_batch_naming_it(tmp_path):
    out = tmp_path / "out"
    holder = S.ResultsStore(out)
    holder.create()
    holder.acquire_lock("softtarget batch festival --out out")
    try:
        with pytest.raises(S.FolderLocked, match=rf"pid {os.getpid()} on host .*festival"):
            batch(out, resume=True)
    finally:
        holder.release_lock()
    assert not holder.lock_path.exists()
    batch(out, resume=True)


def test_a_stale_lock_of_a_dead_process_is_taken_over(tmp_path):
    out = tmp_path / "out"
    S.ResultsStore(out).create()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], text=True,
                          capture_output=True, check=True)  # fmt: skip
    info = {"pid": int(dead.stdout), "host": os.uname().nodename, "started": "then"}
    (out / S.LOCK).write_text(json.dumps(info))
    assert S.ResultsStore(out).lock_holder() is None
    assert batch(out, resume=True).n_ok == len(TASKS)


def test_two_concurrent_resumes_one_runs_the_other_is_refused(tmp_path, reference):
    out = tmp_path / "out"
    first = start_child(out, delay_s=2.0)  # 16 s of runs: still running when the second starts
    try:
        wait_for_parts(first, out, 1)
        second = start_child(out, "resume")
        _, err = second.communicate(timeout=60)
        assert first.poll() is None, "the first batch ended before the second tried"
        assert second.returncode != 0
        assert b"in use by another softtarget batch (pid" in err and str(first.pid).encode() in err
        first.send_signal(signal.SIGTERM)  # then stop the first gracefully
        first.wait(timeout=30)
    finally:
        first.kill()
    assert first.returncode == 143
    batch(out, resume=True)
    pd.testing.assert_frame_equal(runs(out), runs(reference))


# --- 3. readable after a crash; SIGTERM; corrupt parts ------------------------------------------


def signal_child_after(out: Path, n_parts: int, signum: int) -> int:
    """Start a slow batch into ``out``, send ``signum`` once it has ``n_parts``; its exit code."""
    proc = start_child(out)
    try:
        wait_for_parts(proc, out, n_parts)
        proc.send_signal(signum)
        proc.wait(timeout=30)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    return proc.returncode


def test_kill_9_then_readers_then_resume(tmp_path, reference):
    out = tmp_path / "out"
    assert signal_child_after(out, 2, signal.SIGKILL) == -signal.SIGKILL
    store = S.ResultsStore(out)
    state = store.state()
    assert state["status"] == S.BATCH_ABANDONED and state["planned"] == len(TASKS)
    assert 2 <= state["ok"] < len(TASKS)
    with pytest.warns(S.ResultsWarning, match=rf"incomplete .*{state['ok']} of 8 runs done"):
        from softtarget.analysis.results import load

        assert len(load(out)) == state["ok"]
    summary = batch(out, resume=True)
    assert summary.n_ok == len(TASKS) and summary.n_skipped >= 2
    pd.testing.assert_frame_equal(runs(out), runs(reference))
    assert store.state()["status"] == S.BATCH_COMPLETE and store.incomplete_message() is None


def test_sigterm_stops_gracefully_like_ctrl_c(tmp_path, reference):
    out = tmp_path / "out"
    assert signal_child_after(out, 2, signal.SIGTERM) == 143
    store = S.ResultsStore(out)
    manifest = store.read_manifest()
    assert manifest["status"] == S.BATCH_INTERRUPTED and store.is_consolidated()
    assert manifest["command"] == "softtarget batch fake"
    assert not store.lock_path.exists()
    batch(out, resume=True)
    pd.testing.assert_frame_equal(runs(out), runs(reference))


def test_a_corrupt_part_is_skipped_by_readers_and_quarantined_on_resume(tmp_path, reference):
    out = tmp_path / "out"
    shutil.copytree(reference, out)
    for table in S.TABLES:
        (out / f"{table}.parquet").unlink()
    victim = out / "parts" / "runs" / f"{TASKS[3].run_id}.parquet"
    victim.write_bytes(victim.read_bytes()[:100])  # truncated
    with pytest.warns(S.ResultsWarning, match="cannot read Parquet"):
        assert len(S.read_runs(out)) == len(TASKS) - 1
    with pytest.warns(S.ResultsWarning, match="corrupt part file"):
        summary = batch(out, resume=True)
    assert summary.n_ok == len(TASKS) and summary.n_skipped == len(TASKS) - 1
    assert next(iter((out / "quarantine" / "runs").iterdir())).name.startswith(victim.name)
    pd.testing.assert_frame_equal(runs(out), runs(reference))


# --- 4. bounds ---------------------------------------------------------------------------------


def scenario_problems(tmp_path: Path, text: str, *overrides: str) -> list[str]:
    path = tmp_path / "s.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(str(path), overrides)
    return [str(p) for p in info.value.problems]


@pytest.mark.parametrize(
    ("override", "field", "allowed"),
    [
        ("crowd.initial_inside=20000", "crowd.initial_inside", "at most 6 persons/m²"),
        ("run.duration_s=25h", "run.duration_s", "at most 86,400 s"),
        ("run.dt_s=0.001", "run.dt_s", "at least 0.05 s"),
        ("configurations.base.staff.cops.count=20000", "configurations.base.staff",
         "at most 10,000 staff"),
        ("threat.attackers={50: 1}", "threat.attackers.50", "at most 20"),
        ("crowd.arrivals.rate_per_min=2000000", "crowd.arrivals.rate_per_min",
         "at most 2,000,000 visitors"),
        ("run.replications=2000000", "run.replications", "at most 1,000,000"),
        ("name=bad/name", "name", None),
        ('name="tiny\\n"', "name", None),
    ],
)  # fmt: skip
def test_bounds_are_located_problems(tmp_path, override, field, allowed):
    lines = scenario_problems(tmp_path, MINIMAL, override)
    assert 1 <= len(lines) <= 2, lines  # 2: the configuration that extends it breaks it too
    assert f": {field}:" in lines[0] and "\n" not in lines[0]
    if allowed:
        assert f"(allowed: {allowed}" in lines[0]


def test_a_venue_too_big_for_memory_and_a_flat_zone_fail_in_validate(tmp_path, monkeypatch):
    monkeypatch.setattr(B, "physical_memory", lambda: 8 * 2**30)
    lines = scenario_problems(tmp_path, MINIMAL, "venue.width_m=10000", "venue.height_m=10000")
    assert any("venue.width_m" in line and "GiB per run" in line for line in lines), lines
    flat = MINIMAL.replace(
        "    out: {kind: exit", "    flat: {kind: shelter, polygon: [[5, 15], [6, 16], [7, 17]]}\n"
        "    out: {kind: exit"
    )  # fmt: skip
    lines = scenario_problems(tmp_path, flat)
    assert any("venue.zones.flat.polygon" in line and "no area" in line for line in lines)


def test_hostile_input_files_are_refused_before_reading(tmp_path):
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    big = tmp_path / "big.yaml"
    big.write_bytes(b"# " + b"x" * (B.MAX_INPUT_BYTES + 10))
    t0 = time.monotonic()
    for path, why in [(fifo, "FIFO"), (Path("/dev/zero"), "device"), (big, "at most 10 MiB")]:
        with pytest.raises(ScenarioError, match=why):
            load_scenario(str(path))
    assert time.monotonic() - t0 < 5


#: Two of the festival's configurations: the counts below do not move when it gains plans.
PAIR = ["--config", "public_only", "--config", "public_private"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["batch", "festival", "--reps", "1000000000"], "1<=x<=1000000"),
        (["run", "festival", "--seed", "-1"], "0<=x"),
        (["run", "festival", "--replicate", "-3"], "0<=x"),
        (["batch", "festival", "--workers", "0"], "1<=x"),
        (["venue", "festival", "--out", "plan.exe"], "allowed: .png, .svg, .pdf"),
        (["batch", "festival", "--scheduler", "local:100000"], "at most 1024"),
        (["batch", "festival", *PAIR, "--reps", "600000"], "= 1,200,000 runs; at most 1,000,000"),
        (
            [
                "sweep",
                "festival",
                "--param",
                "crowd.initial_inside=100,200,300",
                *PAIR,
                "--reps",
                "400000",
            ],
            "× 3 points = 2,400,000 runs; at most 1,000,000 runs per sweep",
        ),
    ],
)
def test_command_line_numbers_are_checked(args, message, tmp_path):
    t0 = time.monotonic()
    res = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "o")] if "--out" not in args
                             and args[0] == "batch" else args)  # fmt: skip
    assert res.exit_code == 2, res.output
    assert message in res.output and "Traceback" not in res.output
    assert time.monotonic() - t0 < 10
    assert not (tmp_path / "o").exists()


def test_schema_prints_the_bounds():
    res = CliRunner().invoke(main, ["schema"])
    assert res.exit_code == 0
    assert "## Bounds" in res.output and "at most 6 per m²" in res.output


# --- 5. servers bind to loopback ---------------------------------------------------------------


def test_the_local_dask_cluster_binds_to_loopback():
    from softtarget.sim import engines

    assert engines.LOCAL_HOST == "127.0.0.1"
    source = (ROOT / "sim" / "engines.py").read_text()
    assert 'dashboard_address=":' not in source and "host=LOCAL_HOST" in source
