"""Sweeps and sensitivity end to end on the real model, with a tiny, short scenario."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from softtarget.analysis.sweep import load_sweep
from softtarget.cli_analysis import plot_command
from softtarget.cli_sweep import sensitivity_command, sweep_command

from .test_cli import SMALL

FAST = ["--set", "run.duration_s=1min", "--set", "crowd.initial_inside=20", "--workers", "1"]


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    path = tmp_path / "small.yaml"
    path.write_text(SMALL)
    return path


def test_two_point_sweep_loads_plots_and_resumes(scenario: Path, tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    args = [str(scenario), "--param", "crowd.arrivals.rate_per_min=5,20", "--reps", "2"]
    res = CliRunner().invoke(sweep_command, [*args, *FAST, "--out", str(out), "--quiet"])
    assert res.exit_code == 0, res.output
    index = json.loads((out / "sweep.json").read_text())
    assert index["params"] == ["crowd.arrivals.rate_per_min"]
    assert [p["folder"] for p in index["points"]] == ["point_000", "point_001"]

    df = load_sweep(out)
    assert len(df) == 2 * 2 * 2  # points x configurations x replicates
    assert pd.api.types.is_numeric_dtype(df["crowd.arrivals.rate_per_min"])
    assert sorted(df["crowd.arrivals.rate_per_min"].unique()) == [5.0, 20.0]
    # common random numbers: the same seeds at both points
    seeds = df.groupby("point")["seed"].apply(lambda s: sorted(s.unique()))
    assert seeds.iloc[0] == seeds.iloc[1]

    res = CliRunner().invoke(plot_command, [str(out)])
    assert res.exit_code == 0, res.output
    assert (out / "figures" / "sweep_crowd_arrivals_rate_per_min.png").stat().st_size > 0

    again = CliRunner().invoke(sweep_command, [*args, *FAST, "--out", str(out), "--resume"])
    assert again.exit_code == 0, again.output
    assert again.output.count("already complete") == 2


def test_bad_param_exits_2_with_a_located_message_before_work(
    scenario: Path, tmp_path: Path
) -> None:
    out = tmp_path / "never"
    runner = CliRunner()
    res = runner.invoke(
        sweep_command,
        [str(scenario), "--param", "crowd.initial_inside=10,abc", "--out", str(out), *FAST],
    )
    assert res.exit_code == 2
    lines = res.output.strip().splitlines()
    assert lines == [
        "--param crowd.initial_inside=10,abc: crowd.initial_inside: Input should be a valid"
        " integer, unable to parse string as an integer"
    ]
    assert not out.exists()
    res = runner.invoke(sweep_command, [str(scenario), "--param", "crowd.bogus=1", *FAST])
    assert res.exit_code == 2 and res.output.startswith("--param crowd.bogus=1: crowd.bogus:")
    res = runner.invoke(sweep_command, [str(scenario), "--param", "crowd.initial_inside", *FAST])
    assert res.exit_code == 2 and "expected PATH=V1,V2" in res.output


def test_morris_sensitivity_writes_one_row_per_parameter(scenario: Path, tmp_path: Path) -> None:
    out = tmp_path / "sa"
    res = CliRunner().invoke(
        sensitivity_command,
        [
            str(scenario),
            "--params",
            "crowd.initial_inside:5:40,crowd.arrivals.rate_per_min:5:30",
            "--method",
            "morris",
            "--samples",
            "2",
            "--config",
            "more",
            "--outcome",
            "max_queue_len",
            "--out",
            str(out),
            "--quiet",
            *FAST,
        ],
    )
    assert res.exit_code == 0, res.output
    table = pd.read_csv(out / "sensitivity.csv")
    assert sorted(table["parameter"]) == ["crowd.arrivals.rate_per_min", "crowd.initial_inside"]
    assert {"mu_star", "sigma", "mu_star_conf"} <= set(table.columns)
    assert (out / "sensitivity.png").stat().st_size > 0
    index = json.loads((out / "sweep.json").read_text())
    assert len(index["points"]) == 2 * 3  # trajectories x (parameters + 1)
    # the count is rounded before --set
    assert all(isinstance(p["values"]["crowd.initial_inside"], int) for p in index["points"])


def test_sensitivity_rejects_bad_ranges(scenario: Path) -> None:
    res = CliRunner().invoke(
        sensitivity_command, [str(scenario), "--params", "crowd.initial_inside:9:1"]
    )
    assert res.exit_code == 2
    assert res.output.startswith("--params crowd.initial_inside:9:1: crowd.initial_inside:")


def test_help_has_examples() -> None:
    for command in (sweep_command, sensitivity_command):
        res = CliRunner().invoke(command, ["--help"])
        assert res.exit_code == 0 and "Example" in res.output
