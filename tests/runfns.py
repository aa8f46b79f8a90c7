"""Fake run functions and a stand-in scenario for the batch and store tests.

Everything here is top-level and importable (``tests.runfns``) so that spawned worker
processes can unpickle it. The outputs are plausible and depend only on the task's seed and
configuration, like the real model's.
"""

from __future__ import annotations

import os
import signal
import time
import zlib
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from softtarget.sim import columns as C
from softtarget.sim.errors import RunError
from softtarget.sim.runs import RunOutput, RunTask


class FakeRun(BaseModel):
    """Stand-in for the ``run`` section."""

    model_config = ConfigDict(frozen=True)
    seed: int = 20240601
    replications: int = 3
    duration_s: float = 60.0


class FakeScenario(BaseModel):
    """Stand-in for ``softtarget.sim.schema.Scenario``: only what the runner touches."""

    model_config = ConfigDict(frozen=True)
    name: str = "fake"
    run: FakeRun = FakeRun()
    configurations: dict[str, dict[str, Any]] = {
        "public_only": {"stewards": 0},
        "public_private": {"stewards": 30},
    }


MODES = ["firearm", "blade", "pbied", "vehicle"]


def make_scenario(replications: int = 3, seed: int = 20240601, **kw: Any) -> FakeScenario:
    return FakeScenario(run=FakeRun(seed=seed, replications=replications), **kw)


def fake_run(task: RunTask) -> RunOutput:
    """A deterministic output from the task's seed (shared by configurations) and config."""
    rng = np.random.default_rng([task.seed, zlib.crc32(task.configuration.encode())])
    attack = bool(rng.random() < 0.7)
    started = attack and bool(rng.random() < 0.8)
    killed = int(rng.poisson(3)) if started else 0
    nan = float("nan")
    row = {
        C.RUN_ID: task.run_id,
        C.SCENARIO: task.scenario.name,
        C.CONFIGURATION: task.configuration,
        C.REPLICATE: task.replicate,
        C.SEED: task.seed,
        C.ATTACK_MODE: str(rng.choice(["firearm", "blade", "pbied", "vehicle"]))
        if attack
        else None,
        C.ATTACKERS: int(rng.integers(1, 4)) if attack else 0,
        C.ATTACK_TARGET: "queue" if attack else None,
        C.ATTACK_START_S: float(rng.uniform(0, 600)) if attack else nan,
        C.ATTACK_STARTED: started,
        C.ATTACK_PREVENTED: attack and not started,
        C.DETECTED_BEFORE_ATTACK: bool(rng.random() < 0.3),
        C.T_DETECT_S: float(rng.exponential(30)) if started else nan,
        C.T_POLICE_ALERTED_S: float(rng.exponential(60)) if started else nan,
        C.T_NEUTRALISED_S: nan,
        C.T_FIRST_CALL_S: float(rng.exponential(50)) if started else nan,
        C.T_ARMED_ON_SCENE_S: nan,
        C.FIRST_TO_KNOW: None,
        C.T_FIRST_ROOM_S: nan,
        C.ALERT_PATH: None,
        C.ATTACK_END: ("spent" if started else "prevented") if attack else None,
        C.ATTACK_DURATION_S: float(rng.uniform(30, 300)) if started else nan,
        C.KILLED: killed,
        C.INJURED: int(rng.poisson(5)) if started else 0,
        C.CRUSH_INJURED: int(rng.poisson(1)),
        C.KILLED_OUTSIDE: 0,
        C.INJURED_OUTSIDE: 0,
        C.CRUSH_INJURED_OUTSIDE: 0,
        C.KILLED_IN_QUEUE: 0,
        C.INJURED_IN_QUEUE: 0,
        C.KILLED_BEFORE_ARMED: 0,
        C.INJURED_BEFORE_ARMED: 0,
        C.CRUSH_INJURED_IN_EVACUATION: 0,
        C.VISITORS: 5000,
        C.EVAC_TIME_S: float(rng.uniform(100, 400)) if started else nan,
        C.PEAK_DENSITY: float(rng.uniform(1, 6)),
        C.DENSITY_EXPOSURE: float(rng.uniform(0, 100)),
        C.MEAN_SCREENING_WAIT_S: float(rng.uniform(10, 200)),
        C.MAX_QUEUE_LEN: int(rng.integers(0, 400)),
        C.FALSE_ALARMS: int(rng.poisson(1)),
        C.MESSAGES_LOST: int(rng.poisson(1)),
        C.STAFF_COST_EUR: 1000.0
        + 35.0 * task.scenario.configurations[task.configuration].get("stewards", 0),
        C.WALL_TIME_S: 0.0,
    }
    t = np.arange(0.0, 60.0, 10.0)
    n = len(t)
    ts = pd.DataFrame(
        {
            C.T_S: t,
            C.N_ARRIVING: rng.integers(0, 100, n),
            C.N_QUEUING: rng.integers(0, 100, n),
            C.N_INSIDE: rng.integers(4000, 5000, n),
            C.N_FLEEING: np.zeros(n, dtype=np.int64),
            C.N_SHELTERING: np.zeros(n, dtype=np.int64),
            C.N_EVACUATED: np.zeros(n, dtype=np.int64),
            C.N_INJURED: np.zeros(n, dtype=np.int64),
            C.N_KILLED: np.zeros(n, dtype=np.int64),
            C.N_LEFT: np.zeros(n, dtype=np.int64),
            C.QUEUE_LEN: rng.integers(0, 400, n),
            C.LOCAL_PEAK_DENSITY: rng.uniform(0, 5, n),
        }
    )
    events = pd.DataFrame(
        {
            C.T_S: [0.0, float(rng.uniform(1, 59))],
            C.KIND: ["start", "alarm"],
            C.ACTOR: ["model", f"steward-{int(rng.integers(0, 30))}"],
            C.DETAIL: ["", "suspicious bag"],
        }
    )
    return RunOutput(row=row, timeseries=ts, events=events)


def raising_run(task: RunTask, fail_replicate: int = 1, stage: str | None = "threat") -> RunOutput:
    """Fail every configuration of ``fail_replicate`` (a ``RunError`` when ``stage``)."""
    if task.replicate == fail_replicate:
        if stage is None:
            raise ZeroDivisionError("division by zero in the fake model")
        raise RunError(stage, f"the fake model failed for replicate {task.replicate}")
    return fake_run(task)


def bad_output_run(task: RunTask, fail_replicate: int = 1) -> RunOutput:
    """Return a row with a misspelled column for ``fail_replicate`` (fails at stage write)."""
    out = fake_run(task)
    if task.replicate == fail_replicate:
        out.row["kiled"] = out.row.pop(C.KILLED)
    return out


def crashing_run(
    task: RunTask, crash_replicate: int = 1, crash_configuration: str = "public_only"
) -> RunOutput:
    """Kill the worker process (``os._exit``) on one run."""
    if task.replicate == crash_replicate and task.configuration == crash_configuration:
        os._exit(1)
    return fake_run(task)


def sigint_parent_run(task: RunTask, at_replicate: int = 1) -> RunOutput:
    """Press Ctrl-C in the coordinator (SIGINT to the parent) on the first run of a replicate."""
    if task.replicate == at_replicate:
        # The coordinator stops this worker. A signal landing while the coordinator runs a
        # finalizer is swallowed by Python ("Exception ignored in ..."), so press again, as a
        # user would, until it does.
        for _ in range(6):
            os.kill(os.getppid(), signal.SIGINT)
            time.sleep(5)
    return fake_run(task)


def interrupt_run(task: RunTask, at_replicate: int = 1) -> RunOutput:
    """Raise KeyboardInterrupt (in a thread executor it reaches the coordinator)."""
    if task.replicate == at_replicate:
        raise KeyboardInterrupt
    return fake_run(task)


def slow_run(task: RunTask, delay_s: float = 0.2) -> RunOutput:
    """The fake output after ``delay_s`` seconds (to kill or interrupt a batch part-way)."""
    time.sleep(delay_s)
    return fake_run(task)


def always_crashing_run(task: RunTask) -> RunOutput:
    """Kill the worker on every run (a model that cannot work at all)."""
    os._exit(3)


def exiting_run(task: RunTask, exit_replicate: int = 0) -> RunOutput:
    """Call ``sys.exit`` in one replicate (must be a failed run, not the end of the batch)."""
    if task.replicate == exit_replicate:
        raise SystemExit(2)
    return fake_run(task)
