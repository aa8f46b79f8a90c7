"""Batches on a real Dask cluster on 127.0.0.1: same table as the local pool, and faults survived.

A ``dask scheduler`` and two ``dask worker`` processes (nanny + one one-thread worker each) are
started once for the module, on free ports, and killed (whole process groups) at the end. The
batches run the real model on a tiny scenario (``SHORT_RUNS``: 4 simulated minutes, an attack in
each), ~0.2-0.5 s a run, so that kills land part-way.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from softtarget.cli import main
from softtarget.sim import columns as C
from softtarget.sim import store as S
from softtarget.sim.batch import execute_task, plan_tasks, run_batch
from softtarget.sim.engines import (
    ENGINE_DASK,
    ENGINE_DASK_LOCAL,
    ENGINE_LOCAL,
    EngineSpec,
    open_engine,
    parse_scheduler,
)
from softtarget.sim.errors import EngineError
from softtarget.sim.loader import load_scenario
from softtarget.sim.runs import RunOutput, RunTask, make_run_id
from tests import runfns

from .test_cli import SHORT_RUNS, SMALL

distributed = pytest.importorskip("distributed")

ROOT = Path(__file__).resolve().parent.parent
DASK = Path(sys.executable).with_name("dask")
REPS = 6  # x 2 configurations = 12 runs
ARGS = ("--reps", str(REPS), *SHORT_RUNS, "--quiet")
START_TIMEOUT_S = 60.0
BATCH_TIMEOUT_S = 120.0


# --- processes ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def env(**extra: str) -> dict[str, str]:
    """Scheduler and workers must import softtarget and this test module (as on any cluster)."""
    e = dict(os.environ)
    e["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), e.get("PYTHONPATH")]))
    e.update(extra)
    return e


@dataclass
class Proc:
    """A subprocess in its own process group, with its output in a log file."""

    popen: subprocess.Popen[bytes]
    log: Path

    def kill(self) -> None:
        """SIGKILL the whole group (nanny and worker) and reap the leader."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=10)

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""


def spawn(args: list[str], log: Path, **extra: str) -> Proc:
    out = log.open("wb")
    popen = subprocess.Popen(
        args,
        cwd=ROOT,
        env=env(**extra),
        stdin=subprocess.DEVNULL,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    out.close()
    return Proc(popen, log)


class Cluster:
    """A scheduler and its workers; :meth:`close` kills them all."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.procs: list[Proc] = []
        self.workers: dict[str, Proc] = {}
        port = free_port()
        self.address = f"tcp://127.0.0.1:{port}"
        args = [str(DASK), "scheduler", "--host", "127.0.0.1", "--port", str(port)]
        args += ["--no-dashboard", "--idle-timeout", "600"]
        # a task may run on two workers that die before it is given up (KilledWorker)
        failures = {"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "1"}
        sched = spawn(args, tmp / "scheduler.log", **failures)
        self.procs.append(sched)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            if sched.popen.poll() is not None or time.monotonic() > deadline:
                self.close()
                pytest.fail(f"the scheduler did not start:\n{sched.tail()}")
            time.sleep(0.1)

    def add_worker(self, name: str) -> Proc:
        args = [str(DASK), "worker", self.address, "--name", name, "--host", "127.0.0.1"]
        args += ["--nthreads", "1", "--nworkers", "1", "--no-dashboard", "--death-timeout", "60"]
        args += ["--local-directory", str(self.tmp / name)]
        proc = spawn(args, self.tmp / f"{name}.log")
        self.procs.append(proc)
        self.workers[name] = proc
        return proc

    def wait_for(self, names: set[str]) -> None:
        """Wait until exactly the workers ``names`` are connected."""
        with distributed.Client(self.address, timeout=30, set_as_default=False) as client:
            deadline = time.monotonic() + START_TIMEOUT_S
            while True:
                info = client.scheduler_info(n_workers=-1)["workers"].values()
                if {w["name"] for w in info} == names:
                    return
                if time.monotonic() > deadline:
                    logs = "\n".join(self.workers[n].tail() for n in names if n in self.workers)
                    pytest.fail(f"workers {names} did not join: {info}\n{logs}")
                time.sleep(0.2)

    def close(self) -> None:
        for proc in reversed(self.procs):
            proc.kill()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = Cluster(tmp_path_factory.mktemp("cluster"))
    try:
        c.add_worker("w1")
        c.add_worker("w2")
        c.wait_for({"w1", "w2"})
        yield c
    finally:
        c.close()


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("scenario") / "small.yaml"
    path.write_text(SMALL)
    return path


def batch_cmd(scenario: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "softtarget", "batch", str(scenario), "--out", str(out), *ARGS]


def cli(scenario: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*batch_cmd(scenario, out), *extra],
        cwd=ROOT,
        env=env(),
        capture_output=True,
        text=True,
        timeout=BATCH_TIMEOUT_S,
    )


def runs_table(out: Path) -> pd.DataFrame:
    df = S.read_runs(out).drop(columns=[C.WALL_TIME_S])
    return df.sort_values(C.RUN_ID).reset_index(drop=True)


@pytest.fixture(scope="module")
def reference(scenario: Path, tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """The local process pool's table (2 workers)."""
    out = tmp_path_factory.mktemp("reference") / "out"
    res = cli(scenario, out, "--workers", "2")
    assert res.returncode == 0, res.stderr
    table = runs_table(out)
    fails = S.read_failures(out)
    assert fails.empty, f"the model fails: {fails[C.ERROR].iloc[0]}"
    assert len(table) == 2 * REPS and table[C.RUN_ID].is_unique
    return table


def start_batch(scenario: Path, out: Path, *extra: str) -> Proc:
    return spawn([*batch_cmd(scenario, out), *extra], out.with_suffix(".log"))


def wait_parts(proc: Proc, out: Path, n: int) -> int:
    """Wait until ``n`` runs are committed; fail if the batch ends first."""
    parts = out / "parts" / "runs"
    deadline = time.monotonic() + BATCH_TIMEOUT_S
    while time.monotonic() < deadline:
        done = len(list(parts.glob("*.parquet"))) if parts.is_dir() else 0
        if done >= n:
            return done
        if proc.popen.poll() is not None:
            pytest.fail(f"the batch ended before {n} runs were done:\n{proc.tail()}")
        time.sleep(0.05)
    pytest.fail(f"fewer than {n} runs done in {BATCH_TIMEOUT_S} s:\n{proc.tail()}")


def finish(proc: Proc) -> int:
    try:
        return proc.popen.wait(timeout=BATCH_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail(f"the batch did not finish in {BATCH_TIMEOUT_S} s:\n{proc.tail()}")


# --- choosing the engine (no cluster) ----------------------------------------------------------


def test_scheduler_values() -> None:
    assert parse_scheduler(None).kind == ENGINE_LOCAL
    assert parse_scheduler("local") == EngineSpec(ENGINE_DASK_LOCAL)
    assert parse_scheduler("local:3").n_workers == 3
    assert parse_scheduler("tcp://10.0.0.5:8786").address == "tcp://10.0.0.5:8786"
    assert parse_scheduler("node7:8786").address == "tcp://node7:8786"
    assert parse_scheduler("tcp://h:1").kind == ENGINE_DASK
    for bad in ("local:0", "nowhere", "missing.json"):
        with pytest.raises(ValueError, match="--scheduler"):
            parse_scheduler(bad)
    res = CliRunner().invoke(main, ["batch", "festival", "--scheduler", "local:x"])
    assert res.exit_code == 2 and "expected local, local:N" in res.output


def test_missing_dask_says_how_to_install(
    monkeypatch: pytest.MonkeyPatch, scenario: Path, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    with (
        pytest.raises(EngineError, match=r"pip install 'softtarget\[dask\]'"),
        open_engine("tcp://127.0.0.1:1"),
    ):
        pass
    out = tmp_path / "out"
    res = CliRunner().invoke(
        main, ["batch", str(scenario), "--out", str(out), "--scheduler", "local:2", "--quiet"]
    )
    assert res.exit_code == 1
    assert "needs the optional dependency dask[distributed]" in res.output
    assert "pip install 'softtarget[dask]'" in res.output and "Traceback" not in res.output
    assert not out.exists()
    with open_engine(None, workers=3) as engine:  # the local pool needs no Dask
        assert (engine.executor, engine.workers) == (None, 3)


def test_unreachable_scheduler_is_a_clear_error(tmp_path: Path) -> None:
    with (
        pytest.raises(EngineError, match=r"cannot reach the Dask scheduler.*dask scheduler"),
        open_engine(f"tcp://127.0.0.1:{free_port()}", connect_timeout_s=1),
    ):
        pass


def test_a_worker_without_the_shared_folder_stops_the_batch(tmp_path: Path) -> None:
    """A worker that does not see the results folder must not write a private copy of it."""
    scenario = runfns.make_scenario()
    task = plan_tasks(scenario, "feedc0ffee123456")[0]
    ref = execute_task(task, str(tmp_path / "elsewhere"), runfns.fake_run)
    assert ref.fatal and "does not see the results folder" in (ref.error or "")
    assert "same path" in (ref.error or "")
    assert not (tmp_path / "elsewhere").exists()


# --- on the cluster ----------------------------------------------------------------------------


def test_same_table_as_the_local_pool(
    cluster: Cluster, scenario: Path, reference: pd.DataFrame, tmp_path: Path
) -> None:
    out = tmp_path / "dask"
    res = cli(scenario, out, "--scheduler", cluster.address)
    assert res.returncode == 0, res.stderr
    assert f"engine: Dask: {cluster.address}, 2 worker threads" in res.stderr
    pd.testing.assert_frame_equal(runs_table(out), reference)
    m = S.read_manifest(out)
    assert (m["status"], m["workers"]) == ("complete", 2)
    assert m["engine"] == f"dask {cluster.address}"
    # one run at a time on the same cluster: the same table again
    one = tmp_path / "one"
    res = cli(scenario, one, "--scheduler", cluster.address, "--workers", "1")
    assert res.returncode == 0, res.stderr
    pd.testing.assert_frame_equal(runs_table(one), reference)


def test_a_worker_killed_mid_batch(
    cluster: Cluster, scenario: Path, reference: pd.DataFrame, tmp_path: Path
) -> None:
    """SIGKILL a worker (nanny and all) part-way: Dask reruns its run on the others."""
    victim = cluster.add_worker("victim")
    cluster.wait_for({"w1", "w2", "victim"})
    out = tmp_path / "out"
    proc = start_batch(scenario, out, "--scheduler", cluster.address)
    try:
        wait_parts(proc, out, 3)
        victim.kill()
        assert finish(proc) == 0, proc.tail()
    finally:
        proc.kill()
    assert "3 worker threads" in proc.tail()
    table = runs_table(out)
    assert table[C.RUN_ID].is_unique
    pd.testing.assert_frame_equal(table, reference)
    assert len(S.read_failures(out)) == 0
    cluster.wait_for({"w1", "w2"})


def test_a_killed_coordinator_then_resume(
    cluster: Cluster, scenario: Path, reference: pd.DataFrame, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    proc = start_batch(scenario, out, "--scheduler", cluster.address)
    try:
        wait_parts(proc, out, 3)
    finally:
        proc.kill()  # SIGKILL: no clean-up at all
    assert S.read_manifest(out)["status"] == "running"
    assert 3 <= len(S.read_runs(out)) < 2 * REPS  # readable from the parts as it is
    res = cli(scenario, out, "--scheduler", cluster.address, "--resume")
    assert res.returncode == 0, res.stderr
    table = runs_table(out)
    assert table[C.RUN_ID].is_unique
    pd.testing.assert_frame_equal(table, reference)
    m = S.read_manifest(out)
    assert m["status"] == "complete" and len(m["sessions"]) == 2


def test_a_folder_that_becomes_unwritable(
    cluster: Cluster, scenario: Path, reference: pd.DataFrame, tmp_path: Path
) -> None:
    """The staging folder replaced by a file part-way (root ignores chmod): a clear error."""
    out = tmp_path / "out"
    proc = start_batch(scenario, out, "--scheduler", cluster.address)
    try:
        wait_parts(proc, out, 3)
        staging = out / ".staging"
        staging.rename(out / "staging-moved")
        staging.write_text("not a folder")
        assert finish(proc) == 2
    finally:
        proc.kill()
    log = proc.tail()
    assert re.search(rf"error: cannot (create the folder|write) {re.escape(str(out))}/", log), log
    assert "Traceback" not in log
    assert S.read_manifest(out)["status"] == "failed"
    done = runs_table(out)  # what was written before stays readable
    assert len(done) >= 3 and done[C.RUN_ID].is_unique
    expected = reference[reference[C.RUN_ID].isin(done[C.RUN_ID])].reset_index(drop=True)
    pd.testing.assert_frame_equal(done, expected)
    # once writable again, --resume completes it
    staging.unlink()
    shutil.rmtree(out / "staging-moved")
    res = cli(scenario, out, "--scheduler", cluster.address, "--resume")
    assert res.returncode == 0, res.stderr
    pd.testing.assert_frame_equal(runs_table(out), reference)


def crash_on(task: RunTask, replicate: int = 1, configuration: str = "base") -> RunOutput:
    """The real model, except that one run kills its worker process every time."""
    if (task.replicate, task.configuration) == (replicate, configuration):
        os._exit(1)
    from softtarget.sim.model import simulate

    return simulate(task)


def test_a_run_that_kills_its_workers_is_recorded_and_the_rest_complete(
    cluster: Cluster, scenario: Path, tmp_path: Path
) -> None:
    """Each attempt kills its worker (the nannies restart them); no retry forever."""
    loaded = load_scenario(str(scenario), ["run.duration_s=2min"])
    tasks = plan_tasks(loaded.scenario, loaded.hash, replications=3)
    culprit = make_run_id(loaded.hash, "base", 1)
    out = tmp_path / "out"
    with open_engine(cluster.address) as engine:
        summary = run_batch(
            tasks, out, scenario=loaded.scenario, scenario_hash=loaded.hash,
            executor=engine.executor, workers=engine.workers, run_fn=crash_on, progress=False,
        )  # fmt: skip
    assert summary.failed_run_ids == (culprit,) and summary.n_ok == len(tasks) - 1
    fails = S.read_failures(out)
    assert list(fails[C.STAGE]) == ["worker-crash"]
    assert "each died while running it" in fails[C.ERROR].iloc[0]
    runs = S.read_runs(out)
    assert runs[C.RUN_ID].is_unique and culprit not in set(runs[C.RUN_ID])
    entry = {e["run_id"]: e for e in S.read_manifest(out)["runs"]}[culprit]
    assert entry["status"] == "failed" and entry["worker_crashes"] >= 1
    cluster.wait_for({"w1", "w2"})  # the nannies brought them back


def test_local_cluster_with_its_dashboard(
    scenario: Path, reference: pd.DataFrame, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    res = cli(scenario, out, "--scheduler", "local:2")
    assert res.returncode == 0, res.stderr
    assert "engine: Dask: a local Dask cluster of 2 workers" in res.stderr
    assert "Dask dashboard: http://127.0.0.1:" in res.stderr  # loopback only
    pd.testing.assert_frame_equal(runs_table(out), reference)
    assert S.read_manifest(out)["engine"] == "dask-local-cluster:2"
