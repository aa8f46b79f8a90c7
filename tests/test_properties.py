"""Property tests of the model: the invariants hold on small random scenarios; seeds decide.

Each generated case is tiny (a few hundred people, 1–3 simulated minutes, dt 0.5 s) and runs
with ``check_invariants=True``. The cases at the end provoke one invariant each (a double walk,
walls in the way of flight, a crowd converging on an exit) and must not break any.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from softtarget.sim import columns as C
from softtarget.sim.invariants import DENSITY, WALLS, InvariantChecker, InvariantError
from softtarget.sim.loader import load_scenario
from softtarget.sim.model import SoftTargetModel, simulate
from softtarget.sim.runs import RunTask, run_seed

from .test_schema import MINIMAL

PROPS = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    """A small venue: a secure field above a screening gate, a stage, one or two exits."""
    w = draw(st.integers(40, 120))
    h = draw(st.integers(30, 90))
    gate_h = 6
    mode = draw(st.sampled_from(["firearm", "blade", "pbied", "vehicle"]))
    zones: dict[str, Any] = {
        "inner": {"kind": "perimeter", "rect": [0, 10, w, h]},
        "gate": {"kind": "checkpoint", "rect": [w * 0.2, 4, w * 0.8, 4 + gate_h],
                 "lanes": draw(st.integers(1, 6))},
        "stage": {"kind": "attractor", "rect": [w * 0.2, h * 0.6, w * 0.8, h - 2]},
        "out": {"kind": "exit", "rect": [0, h * 0.5, 2, h * 0.5 + 6], "width_m": 4},
        "road": {"kind": "vehicle_approach", "rect": [w * 0.4, 0, w * 0.6, 3]},
    }  # fmt: skip
    if draw(st.booleans()):
        zones["out2"] = {"kind": "exit", "rect": [w - 2, h * 0.3, w, h * 0.3 + 6], "width_m": 3}
    area = (w * 0.6) * (h * 0.4 - 2)
    inside = draw(st.integers(0, int(min(300, area * 1.0))))
    staff: dict[str, Any] = {}
    if (police := draw(st.integers(0, 4))) > 0:
        staff["cops"] = {"role": "police", "count": police, "post": "stage", "armed": True}
    if (guards := draw(st.integers(0, 6))) > 0:
        staff["guards"] = {"role": "security_guard", "count": guards, "post": "gate"}
    return {
        "name": "prop",
        "venue": {"width_m": w, "height_m": h, "perimeter": "inner", "zones": zones},
        "crowd": {
            "initial_inside": inside,
            "initial_queuing": draw(st.integers(0, 60)),
            "arrivals": {"rate_per_min": draw(st.sampled_from([0, 10, 30, 60]))},
        },
        "threat": {
            "probability": draw(st.sampled_from([0.0, 1.0, 1.0])),
            "mix": {mode: 1},
            "attackers": {draw(st.integers(1, 2)): 1},
            "target": {draw(st.sampled_from(["densest", "queue", "random", "stage"])): 1},
            "start_s": draw(st.integers(10, 60)),
            "on_site_before_s": draw(st.integers(0, 60)),
        },
        "configurations": {
            "base": {
                "staff": staff,
                # guards work the lanes; with none, the gate is an open one (no search)
                "screening": {"method": "bag_check" if guards else "none"},
                "coordination": {
                    "joint_control_room": draw(st.booleans()),
                    "decision_delay_s": draw(st.integers(0, 60)),
                    "response": draw(st.sampled_from(["evacuate", "none"])),
                },
            }
        },
        "run": {"seed": draw(st.integers(0, 2**31)), "duration_s": draw(st.integers(60, 180)),
                "dt_s": 0.5},
    }  # fmt: skip


def _task(folder: Path, doc: dict[str, Any], *, check: bool = True) -> RunTask:
    path = folder / "prop.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    loaded = load_scenario(str(path))
    seed = run_seed(loaded.scenario.run.seed, 0)
    return RunTask(loaded.scenario, loaded.hash, "base", 0, seed, check_invariants=check)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("props")


@PROPS
@given(doc=scenarios())
def test_invariants_hold_and_runs_are_deterministic(folder: Path, doc: dict[str, Any]) -> None:
    task = _task(folder, doc)
    first = simulate(task)
    again = simulate(_task(folder, doc, check=False))
    for out in (first, again):
        out.row.pop(C.WALL_TIME_S)
    assert first.row.keys() == again.row.keys()
    for key, value in first.row.items():
        other = again.row[key]
        same = (isinstance(value, float) and math.isnan(value) and math.isnan(other)) or (
            value == other
        )
        assert same, (key, value, other)
    assert first.events.equals(again.events)
    assert first.timeseries.equals(again.timeseries)


# ------------------------------------------------------- known violations, pinned ---


def _run_checked(folder: Path, text: str, overrides: list[str], steps: int, invariant: str) -> None:
    """Run ``steps`` steps under the checker; any violation fails.

    ``invariant`` is the one the case is built to provoke, named in the failure.
    """
    path = folder / "known.yaml"
    path.write_text(text)
    sc = load_scenario(str(path), overrides).scenario
    model = SoftTargetModel(sc, "base", run_seed(sc.run.seed, 0))
    checker = InvariantChecker(model, "known")
    try:
        for _ in range(steps):
            model.step()
            checker.check()
    except InvariantError as exc:
        pytest.fail(f"{exc} (the case provokes '{invariant}')")


CROWD = "crowd:\n  initial_inside: 300\n  arrivals: {rate_per_min: 30}\nthreat:\n"


def test_arriving_people_who_flee_walk_once_per_step(folder: Path) -> None:
    """Regression: arriving people who started to flee used to walk twice in one step."""
    text = MINIMAL.replace("threat:\n", CROWD)
    path = folder / "once.yaml"
    path.write_text(text)
    sc = load_scenario(str(path), ["threat.mix={firearm: 1}", "threat.start_s=30"]).scenario
    model = SoftTargetModel(sc, "base", run_seed(sc.run.seed, 0))
    checker = InvariantChecker(model, "once")
    for _ in range(240):
        model.step()
        checker.check()


def test_nobody_walks_through_walls(folder: Path) -> None:
    """Walls are lattice cells nobody can enter; fleeing people go round them."""
    text = MINIMAL.replace("threat:\n", CROWD).replace(
        "  zones:\n", "  walls:\n    - {rect: [5, 15, 8, 35]}\n  zones:\n"
    )
    over = ["threat.mix={firearm: 1}", "threat.start_s=30", "run.seed=3"]
    _run_checked(folder, text, over, 240, WALLS)


def test_flight_never_packs_beyond_physical_density(folder: Path) -> None:
    """A fleeing crowd converging on an exit stays within the physical density."""
    text = MINIMAL.replace("threat:\n", "crowd:\n  initial_inside: 3000\nthreat:\n")
    _run_checked(folder, text, ["threat.mix={firearm: 1}", "threat.start_s=20"], 200, DENSITY)
