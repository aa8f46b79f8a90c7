"""The command line end to end, on the real model: batch, determinism, resume, errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from softtarget.cli import main
from softtarget.sim import columns as C
from softtarget.sim.store import read_runs

from .test_schema import MINIMAL

SMALL = MINIMAL.replace(
    "threat:\n", "crowd:\n  initial_inside: 300\n  arrivals: {rate_per_min: 30}\nthreat:\n"
).replace("duration_s: 2min", "duration_s: 4min")
#: ``--set`` options for batches that only need full rows, not long runs (tables compared,
#: batches killed part-way): every attack starts in the first 3 of the run's 4 minutes, so
#: the rows hold attacks, casualties and responses (~0.2 s a run on SMALL).
SHORT_RUNS = (
    "--set",
    "run.duration_s=4min",
    "--set",
    "threat.start_s={dist: uniform, low: 1min, high: 3min}",
)


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    path = tmp_path / "small.yaml"
    path.write_text(SMALL)
    return path


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "softtarget", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def runs_table(out: Path) -> pd.DataFrame:
    df = read_runs(out).drop(columns=[C.WALL_TIME_S])
    return df.sort_values(C.RUN_ID).reset_index(drop=True)


def test_validate_exit_codes(scenario: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(main, ["validate", str(scenario)])
    assert ok.exit_code == 0 and "ok" in ok.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(SMALL.replace("seed: 7", "seed: -7"))
    res = runner.invoke(main, ["validate", str(scenario), str(bad)])
    assert res.exit_code == 2
    assert f"{bad}:" in res.output and "run.seed" in res.output
    assert "Traceback" not in res.output


def test_run_and_batch_refuse_bad_input_before_work(scenario: Path, tmp_path: Path) -> None:
    out = tmp_path / "never"
    res = cli("batch", str(scenario), "--out", str(out), "--set", "run.replications=0")
    assert res.returncode == 2
    assert res.stderr.strip().startswith("--set run.replications=0: run.replications:")
    assert not out.exists()
    res = cli("run", str(tmp_path / "missing.yaml"))
    assert res.returncode == 2 and "no such file" in res.stderr


def test_every_verb_has_help_with_an_example() -> None:
    runner = CliRunner()
    verbs = ("validate", "schema", "scenarios", "run", "batch", "compare", "plot", "report")
    for verb in (*verbs, "venue", "sweep", "sensitivity", "animate"):
        res = runner.invoke(main, [verb, "--help"])
        assert res.exit_code == 0, verb
        assert "Example" in res.output or "softtarget " in res.output, verb


def test_run_prints_an_outcome_summary(scenario: Path) -> None:
    res = CliRunner().invoke(main, ["run", str(scenario), "--config", "more"])
    assert res.exit_code == 0, res.output
    assert "killed" in res.output and "staff_cost_eur" in res.output


def test_batch_same_table_with_one_and_two_workers(scenario: Path, tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    for out, workers in ((one, "1"), (two, "2")):
        args = ("--reps", "3", "--workers", workers, "--out", str(out), *SHORT_RUNS)
        res = cli("batch", str(scenario), *args)
        assert res.returncode == 0, res.stderr
        assert f"results: {out}" in res.stdout
    a, b = runs_table(one), runs_table(two)
    assert len(a) == 6
    pd.testing.assert_frame_equal(a, b)
    # and compare, plot and report read what batch wrote
    res = CliRunner().invoke(main, ["compare", str(one), "--baseline", "base"])
    assert res.exit_code == 0, res.output
    assert "more" in res.output
    res = CliRunner().invoke(main, ["plot", str(one), "--out", str(tmp_path / "fig")])
    assert res.exit_code == 0, res.output
    assert len(list((tmp_path / "fig").glob("*.png"))) >= 4
    res = CliRunner().invoke(main, ["report", str(one), "--out", str(tmp_path / "r.html")])
    assert res.exit_code == 0, res.output
    html = (tmp_path / "r.html").read_text()
    assert html.count("data:image/png;base64,") >= 4 and "base" in html


def test_killed_coordinator_then_resume_gives_the_same_table(
    scenario: Path, tmp_path: Path
) -> None:
    reference, broken = tmp_path / "reference", tmp_path / "broken"
    args = ["--reps", "8", *SHORT_RUNS, "--quiet"]
    res = cli("batch", str(scenario), "--workers", "2", "--out", str(reference), *args)
    assert res.returncode == 0, res.stderr

    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "softtarget",
            "batch",
            str(scenario),
            "--workers",
            "2",
            "--out",
            str(broken),
            *args,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    parts = broken / "parts" / "runs"
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            if parts.exists() and len(list(parts.glob("*.parquet"))) >= 3:
                break
            if proc.poll() is not None:
                pytest.fail("the batch finished before it could be killed")
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    done = len(list(parts.glob("*.parquet")))
    assert 3 <= done < 16

    res = cli("batch", str(scenario), "--workers", "2", "--out", str(broken), "--resume", *args)
    assert res.returncode == 0, res.stderr
    table = runs_table(broken)
    assert table[C.RUN_ID].is_unique and len(table) == 16
    pd.testing.assert_frame_equal(table, runs_table(reference))
