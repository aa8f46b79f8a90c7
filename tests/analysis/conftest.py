"""Synthetic results folders written with the pinned Arrow schemas."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import matplotlib
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from softtarget.sim import columns as C

matplotlib.use("Agg")

CONFIGS = ("public_only", "public_private", "joint_room")


def _table(rows: list[dict], schema: pa.Schema) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=schema)


def write_results(
    folder: Path,
    *,
    configurations: tuple[str, ...] = CONFIGS,
    replications: int = 12,
    n_failed: int = 1,
    seed: int = 7,
    with_timeseries: bool = True,
) -> Path:
    """A small results folder: paired replicates with a planted effect of public_private."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    scenario_hash = "abcdef0123456789"
    runs, failures, ts, events, manifest_runs = [], [], [], [], []
    failed = {(configurations[-1], 0)} if n_failed else set()
    # common random numbers: one draw per replicate, shared by every configuration
    base_killed = rng.poisson(4, replications)
    started = rng.random(replications) < 0.8
    detect = rng.exponential(60, replications)
    for ci, conf in enumerate(configurations):
        for r in range(replications):
            run_id = f"{scenario_hash[:8]}-{conf}-{r:05d}"
            seed_r = 1000 + r
            if (conf, r) in failed:
                failures.append(
                    {
                        C.RUN_ID: run_id,
                        C.SCENARIO: "synthetic",
                        C.CONFIGURATION: conf,
                        C.REPLICATE: r,
                        C.SEED: seed_r,
                        C.STAGE: "step",
                        C.ERROR: "ValueError: <boom> & co",
                        C.TRACEBACK: "Traceback (most recent call last):\n  ...",
                    }
                )
                manifest_runs.append(
                    {
                        "run_id": run_id,
                        "configuration": conf,
                        "replicate": r,
                        "seed": seed_r,
                        "status": "failed",
                        "wall_time_s": 0.1,
                    }
                )
                continue
            is_started = bool(started[r])
            killed = max(0, int(base_killed[r]) - ci * int(rng.integers(0, 3))) if is_started else 0
            t_det = float(detect[r] * (1 - 0.2 * ci)) if is_started and r % 4 else float("nan")
            runs.append(
                {
                    C.RUN_ID: run_id,
                    C.SCENARIO: "synthetic",
                    C.CONFIGURATION: conf,
                    C.REPLICATE: r,
                    C.SEED: seed_r,
                    C.ATTACK_MODE: "firearm" if is_started else None,
                    C.ATTACKERS: 1 if is_started else 0,
                    C.ATTACK_TARGET: "stage" if is_started else None,
                    C.ATTACK_START_S: 120.0 if is_started else None,
                    C.ATTACK_STARTED: is_started,
                    C.ATTACK_PREVENTED: (not is_started) and ci > 0,
                    C.DETECTED_BEFORE_ATTACK: bool(r % 3 == 0),
                    C.T_DETECT_S: t_det,
                    C.T_POLICE_ALERTED_S: t_det + 30 - 10 * ci if not np.isnan(t_det) else None,
                    C.T_NEUTRALISED_S: t_det + 300 - 40 * ci if not np.isnan(t_det) else None,
                    C.T_FIRST_CALL_S: 50.0 if is_started else None,
                    C.T_ARMED_ON_SCENE_S: t_det + 200 - 40 * ci if not np.isnan(t_det) else None,
                    C.FIRST_TO_KNOW: None if np.isnan(t_det) else ("police", "security")[ci % 2],
                    C.T_FIRST_ROOM_S: t_det + 5.0,
                    C.ALERT_PATH: None if np.isnan(t_det) else "security:radio > joint_to_police",
                    C.ATTACK_END: "neutralised" if is_started else None,
                    C.ATTACK_DURATION_S: t_det + 300 - 40 * ci if not np.isnan(t_det) else None,
                    C.KILLED: killed,
                    C.INJURED: 2 * killed + int(rng.integers(0, 2)),
                    C.CRUSH_INJURED: 0,
                    C.KILLED_OUTSIDE: 0,
                    C.INJURED_OUTSIDE: 0,
                    C.CRUSH_INJURED_OUTSIDE: 0,
                    C.KILLED_IN_QUEUE: 0,
                    C.INJURED_IN_QUEUE: 0,
                    C.KILLED_BEFORE_ARMED: 0,
                    C.INJURED_BEFORE_ARMED: 0,
                    C.CRUSH_INJURED_IN_EVACUATION: 0,
                    C.VISITORS: 5000,
                    C.EVAC_TIME_S: float(400 + rng.normal(0, 20)) if is_started else None,
                    C.PEAK_DENSITY: float(3 + rng.random()),
                    C.DENSITY_EXPOSURE: 0.0,
                    C.MEAN_SCREENING_WAIT_S: float(60 + 10 * ci + rng.normal(0, 2)),
                    C.MAX_QUEUE_LEN: int(100 + 10 * ci),
                    C.FALSE_ALARMS: int(rng.integers(0, 3)),
                    C.MESSAGES_LOST: int(rng.integers(0, 4)),
                    C.STAFF_COST_EUR: 10000.0 + 4000.0 * ci,
                    C.WALL_TIME_S: 1.5,
                }
            )
            manifest_runs.append(
                {
                    "run_id": run_id,
                    "configuration": conf,
                    "replicate": r,
                    "seed": seed_r,
                    "status": "ok",
                    "wall_time_s": 1.5,
                }
            )
            for k, t in enumerate(np.arange(0.0, 600.0, 60.0)):
                ts.append(
                    {
                        C.RUN_ID: run_id,
                        C.CONFIGURATION: conf,
                        C.REPLICATE: r,
                        C.T_S: float(t),
                        C.N_ARRIVING: 10,
                        C.N_QUEUING: 50,
                        C.N_INSIDE: int(5000 - 400 * k),
                        C.N_FLEEING: 0,
                        C.N_SHELTERING: 0,
                        C.N_EVACUATED: int(400 * k),
                        C.N_INJURED: 0,
                        C.N_KILLED: 0,
                        C.N_LEFT: 0,
                        C.QUEUE_LEN: int(50 + rng.integers(0, 20)),
                        C.LOCAL_PEAK_DENSITY: float(2 + rng.random()),
                    }
                )
            events.append(
                {
                    C.RUN_ID: run_id,
                    C.CONFIGURATION: conf,
                    C.REPLICATE: r,
                    C.T_S: 120.0,
                    C.KIND: "attack_start",
                    C.ACTOR: "attacker-0",
                    C.DETAIL: "{}",
                }
            )
    pq.write_table(_table(runs, C.RUNS_SCHEMA), folder / "runs.parquet")
    pq.write_table(_table(failures, C.FAILURES_SCHEMA), folder / "failures.parquet")
    if with_timeseries:
        pq.write_table(_table(ts, C.TIMESERIES_SCHEMA), folder / "timeseries.parquet")
    pq.write_table(_table(events, C.EVENTS_SCHEMA), folder / "events.parquet")
    manifest = {
        "scenario_hash": scenario_hash,
        "package_version": "0.1.0",
        "scenario": {
            "name": "synthetic <test>",
            "description": "A synthetic scenario for tests & checks.",
            "configurations": {c: {"stewards": 10 * i} for i, c in enumerate(configurations)},
            "run": {"seed": 42, "replications": replications, "duration_s": 600},
        },
        "runs": manifest_runs,
        "status": "complete",
        "created": "2025-01-01T12:00:00+00:00",
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return folder


@pytest.fixture
def results_dir(tmp_path: Path) -> Path:
    return write_results(tmp_path / "results")


@pytest.fixture
def make_results(tmp_path: Path) -> Callable[..., Path]:
    def make(name: str = "res", **kwargs) -> Path:
        return write_results(tmp_path / name, **kwargs)

    return make
