"""The invariant checker fires: each invariant broken on purpose is caught and named."""

from __future__ import annotations

import math
import pickle
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import softtarget.sim.model
from softtarget.cli import main
from softtarget.sim import invariants as inv
from softtarget.sim.errors import RunError, SofttargetError
from softtarget.sim.invariants import InvariantChecker, InvariantError
from softtarget.sim.loader import load_scenario
from softtarget.sim.model import SoftTargetModel, simulate
from softtarget.sim.people import State
from softtarget.sim.runs import RunTask, run_seed

from .test_schema import MINIMAL

CROWD = "crowd:\n  initial_inside: 300\n  initial_queuing: 40\n  arrivals: {rate_per_min: 30}\n"
WALL = "  walls:\n    - {rect: [44, 12, 48, 16]}\n  zones:\n"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("inv") / "tiny.yaml"
    path.write_text(MINIMAL.replace("threat:\n", CROWD + "threat:\n").replace("  zones:\n", WALL))
    return path


def _model(path: Path, overrides: tuple[str, ...] = (), steps: int = 20) -> SoftTargetModel:
    sc = load_scenario(str(path), overrides).scenario
    model = SoftTargetModel(sc, "base", run_seed(sc.run.seed, 0))
    for _ in range(steps):
        model.step()
    return model


@pytest.fixture
def quiet(tiny: Path) -> tuple[SoftTargetModel, InvariantChecker]:
    """A model with no attack, 10 s in, and its checker (which passes)."""
    model = _model(tiny, ("threat.probability=0",))
    checker = InvariantChecker(model, "run-x")
    model.step()
    checker.check()
    return model, checker


@pytest.fixture(scope="module")
def shot(tiny: Path) -> SoftTargetModel:
    """A model with a firearm attack that has killed somebody."""
    over = (
        "threat.mix={firearm: 1}",
        "threat.attackers={1: 1}",
        "threat.target={densest: 1}",
        "threat.start_s=5",
        "threat.on_site_before_s=0",
        "threat.firearm.accuracy=1",
        "threat.firearm.p_death_given_hit=1",
        "configurations.base.staff={lanes: {role: security_guard, count: 4, post: gate, skill: 0}}",
        "configurations.base.screening.detection={firearm: 0}",
        "crowd.arrivals.rate_per_min=0",  # no arrivals: none of the known double walk
        "crowd.initial_queuing=0",
    )
    model = _model(tiny, over, steps=0)
    checker = InvariantChecker(model, "run-shot")
    for _ in range(80):
        model.step()
        checker.check()
        if (model.crowd.state == State.KILLED).any():
            break
    assert (model.crowd.state == State.KILLED).any()
    return model


def _expect(
    model: SoftTargetModel,
    invariant: str,
    breaks: Callable[[SoftTargetModel], object],
    checker: InvariantChecker | None = None,
) -> InvariantError:
    checker = checker or InvariantChecker(model, "run-x")
    breaks(model)
    with pytest.raises(InvariantError) as info:
        checker.check()
    assert info.value.invariant == invariant, str(info.value)
    assert f"invariant '{invariant}'" in str(info.value)
    return info.value


def _inside(model: SoftTargetModel, k: int = 0) -> int:
    return int(np.flatnonzero(model.crowd.state == State.INSIDE)[k])


# --------------------------------------------------------------------------- people ---


def test_clean_run_passes_every_check(tiny: Path) -> None:
    model = _model(tiny, ("threat.probability=0",), steps=0)
    checker = InvariantChecker(model, "run-clean")
    for _ in range(120):
        model.step()
        checker.check()
    assert checker.step == 121


def test_person_outside_the_area(quiet: tuple[SoftTargetModel, InvariantChecker]) -> None:
    model, checker = quiet
    who = _inside(model)
    err = _expect(
        model, inv.VENUE_AREA, lambda m: m.crowd.xy.__setitem__(who, (-3.0, 5.0)), checker
    )
    assert who in err.agents


def test_nan_position_is_outside(quiet: tuple[SoftTargetModel, InvariantChecker]) -> None:
    model, checker = quiet
    who = _inside(model)
    _expect(model, inv.VENUE_AREA, lambda m: m.crowd.xy.__setitem__(who, (math.nan, 5.0)), checker)


def test_staff_outside_the_area(quiet: tuple[SoftTargetModel, InvariantChecker]) -> None:
    model, checker = quiet
    member = model.staff.members[0]
    err = _expect(
        model, inv.VENUE_AREA, lambda m: setattr(member, "pos", np.array([1e4, 0.0])), checker
    )
    assert f"staff:{member.unique_id}" in err.agents


def test_person_inside_a_wall(quiet: tuple[SoftTargetModel, InvariantChecker]) -> None:
    model, checker = quiet
    who = _inside(model)
    err = _expect(model, inv.WALLS, lambda m: m.crowd.xy.__setitem__(who, (46.0, 14.0)), checker)
    assert err.agents == [who] and "venue.walls[0]" in str(err)


def test_density_spike(quiet: tuple[SoftTargetModel, InvariantChecker]) -> None:
    model, checker = quiet
    crowd = np.flatnonzero(model.crowd.state == State.INSIDE)[:200]
    err = _expect(
        model, inv.DENSITY, lambda m: m.crowd.xy.__setitem__(crowd, (22.0, 30.0)), checker
    )
    assert len(err.agents) >= 200


def test_visitor_removed_from_the_arrays(quiet: tuple[SoftTargetModel, InvariantChecker]) -> None:
    model, checker = quiet

    def drop(m: SoftTargetModel) -> None:
        m.crowd.state = m.crowd.state[:-1]

    err = _expect(model, inv.CONSERVATION, drop, checker)
    assert "len(state)" in str(err)


def test_impossible_state(quiet: tuple[SoftTargetModel, InvariantChecker]) -> None:
    model, checker = quiet
    who = _inside(model)
    err = _expect(model, inv.CONSERVATION, lambda m: m.crowd.state.__setitem__(who, 42), checker)
    assert err.agents == [who]


def test_counts_that_disagree_with_the_people(
    quiet: tuple[SoftTargetModel, InvariantChecker],
) -> None:
    model, checker = quiet

    def lie(m: SoftTargetModel) -> None:
        m.counts = m.counts.copy()
        m.counts[State.INSIDE] += 1
        m.counts[State.EVACUATED] -= 1

    _expect(model, inv.CONSERVATION, lie, checker)


def test_queuing_person_in_no_lane(quiet: tuple[SoftTargetModel, InvariantChecker]) -> None:
    model, checker = quiet
    who = _inside(model)

    def queue(m: SoftTargetModel) -> None:
        m.crowd.state[who] = State.QUEUING
        m.crowd.lattice.remove(who)
        m.counts = m.crowd.counts()

    err = _expect(model, inv.CONSERVATION, queue, checker)
    assert err.agents == [who]


def test_arrival_before_time(quiet: tuple[SoftTargetModel, InvariantChecker]) -> None:
    model, checker = quiet
    who = int(np.flatnonzero(model.crowd.state == State.PLANNED)[-1])

    def early(m: SoftTargetModel) -> None:
        m.crowd.state[who] = State.INSIDE
        m.crowd.xy[who] = (25.0, 30.0)
        m.counts = m.crowd.counts()

    err = _expect(model, inv.ARRIVAL_TIME, early, checker)
    assert err.agents == [who]


def test_walking_too_fast(quiet: tuple[SoftTargetModel, InvariantChecker]) -> None:
    model, checker = quiet
    who = _inside(model)

    def jump(m: SoftTargetModel) -> None:
        m.crowd.xy[who] += np.sign(np.array([25.0, 25.0]) - m.crowd.xy[who]) * 2.0

    err = _expect(model, inv.MAX_SPEED, jump, checker)
    assert err.agents == [who] and "documented maximum speed 1.8 m/s walking" in str(err)


def test_queue_jump(quiet: tuple[SoftTargetModel, InvariantChecker]) -> None:
    model, checker = quiet
    lane = next(
        lane for cp in model.screening.checkpoints for lane in cp.lanes if len(lane.queue) > 2
    )
    who = lane.queue[1]
    err = _expect(
        model,
        inv.QUEUE_PLACEMENT,
        lambda m: m.crowd.xy.__setitem__(who, m.crowd.xy[who] + 1.0),
        checker,
    )
    assert err.agents == [who]


# ------------------------------------------------------------------- times and harm ---


def test_police_alerted_before_detection(quiet: tuple[SoftTargetModel, InvariantChecker]) -> None:
    model, checker = quiet
    err = _expect(
        model, inv.CAUSAL_ORDER, lambda m: setattr(m.response, "t_police_alerted", m.t), checker
    )
    assert "without an attack" in str(err)


def test_police_alerted_before_detection_with_attack(shot: SoftTargetModel) -> None:
    checker = InvariantChecker.__new__(InvariantChecker)
    _init_quietly(checker, shot)
    saved = shot.detection.t_first, shot.response.t_police_alerted
    shot.detection.t_first, shot.response.t_police_alerted = shot.t - 1.0, shot.t - 2.0
    try:
        with pytest.raises(InvariantError) as info:
            checker._causal_order()
    finally:
        shot.detection.t_first, shot.response.t_police_alerted = saved
    assert info.value.invariant == inv.CAUSAL_ORDER
    assert "before the first detection" in str(info.value)


def _init_quietly(checker: InvariantChecker, model: SoftTargetModel) -> None:
    """A checker of ``model`` as it is now, without the initial check."""
    checker.model, checker.run_id, checker.step = model, "run-shot", 7
    checker.milestones = {k: math.nan for k in ("t_first_detect", "t_police_alerted")}
    checker.milestones |= {"t_response_ordered": math.nan, "t_first_flight": math.nan}
    checker.n_events = len(model.events)


def test_detection_without_attacker(quiet: tuple[SoftTargetModel, InvariantChecker]) -> None:
    model, checker = quiet
    _expect(model, inv.CAUSAL_ORDER, lambda m: setattr(m.detection, "t_first", m.t), checker)


def test_neutralised_before_the_attack(shot: SoftTargetModel) -> None:
    checker = InvariantChecker.__new__(InvariantChecker)
    _init_quietly(checker, shot)
    a = shot.threat.attackers[0]
    saved = (a.end, a.ended_at)
    a.end, a.ended_at = "neutralised", a.start - 10.0
    try:
        with pytest.raises(InvariantError) as info:
            checker._causal_order()
    finally:
        a.end, a.ended_at = saved
    assert info.value.invariant == inv.CAUSAL_ORDER and "attacker:0" in info.value.agents


def test_killed_person_moves_or_revives(tiny: Path, shot: SoftTargetModel) -> None:
    dead = int(np.flatnonzero(shot.crowd.state == State.KILLED)[0])
    for breaks in (
        lambda m: m.crowd.xy.__setitem__(dead, m.crowd.xy[dead] + 0.1),
        lambda m: m.crowd.state.__setitem__(dead, State.INJURED),
    ):
        checker = InvariantChecker.__new__(InvariantChecker)
        _init_quietly(checker, shot)
        checker.prev_xy, checker.prev_state = shot.crowd.xy.copy(), shot.crowd.state.copy()
        saved = shot.crowd.xy.copy(), shot.crowd.state.copy()
        breaks(shot)
        try:
            with pytest.raises(InvariantError) as info:
                checker._killed_still()
        finally:
            shot.crowd.xy[:], shot.crowd.state[:] = saved
        assert info.value.invariant == inv.KILLED_STILL and info.value.agents == [dead]


def test_harm_without_attack(quiet: tuple[SoftTargetModel, InvariantChecker]) -> None:
    model, checker = quiet
    who = _inside(model)

    def kill(m: SoftTargetModel) -> None:
        m.crowd.state[who] = State.KILLED
        m.crowd.lattice.remove(who)
        m.counts = m.crowd.counts()

    err = _expect(model, inv.HARM, kill, checker)
    assert err.agents == [who]


def test_crush_count_disagrees(quiet: tuple[SoftTargetModel, InvariantChecker]) -> None:
    model, checker = quiet
    _expect(model, inv.HARM, lambda m: setattr(m.density, "crush_injured", 3), checker)


@pytest.mark.parametrize(
    ("owner", "attr", "field"),
    [
        ("staff", "cost", "staff_cost"),
        ("staff", "false_alarms", "false_alarms"),
        ("", "max_queue_len", "max_queue_len"),
        ("density", "peak", "peak_density"),
        ("density", "exposure", "density_exposure"),
    ],
)
def test_negative_costs_and_counts(
    quiet: tuple[SoftTargetModel, InvariantChecker], owner: str, attr: str, field: str
) -> None:
    model, checker = quiet
    err = _expect(
        model,
        inv.NON_NEGATIVE,
        lambda m: setattr(getattr(m, owner) if owner else m, attr, -1),
        checker,
    )
    assert field in str(err)


def test_negative_outcome_row(quiet: tuple[SoftTargetModel, InvariantChecker]) -> None:
    model, checker = quiet
    row = model.outcome()
    checker.check_row(row)  # a real row passes
    with pytest.raises(InvariantError, match="staff_cost_eur=-5"):
        checker.check_row({**row, "staff_cost_eur": -5.0})


# ---------------------------------------------------------------- error and wiring ---


def test_error_names_run_step_time_invariant_agents_and_pickles() -> None:
    err = InvariantError("abc-base-00001", 12, 6.0, inv.WALLS, "2 people inside", list(range(14)))
    text = str(err)
    assert text.startswith("run abc-base-00001 step 12 (t=6 s): invariant 'walls' violated")
    assert "agents: 0, 1, 2" in text and "(14 in all)" in text
    assert isinstance(err, RunError) and isinstance(err, SofttargetError)
    assert err.stage == "invariant"
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is InvariantError and str(back) == text and back.agents == err.agents


def test_simulate_checks_every_step_when_asked(tiny: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    class Counting(InvariantChecker):
        def check(self) -> None:
            calls.append("step")
            super().check()

        def check_row(self, row: dict[str, object]) -> None:
            calls.append("row")
            super().check_row(row)

    monkeypatch.setattr(softtarget.sim.model, "InvariantChecker", Counting)
    loaded = load_scenario(str(tiny), ["threat.probability=0", "run.duration_s=20"])
    task = RunTask(loaded.scenario, loaded.hash, "base", 0, 1, check_invariants=False)
    simulate(task)
    assert calls == []
    simulate(RunTask(loaded.scenario, loaded.hash, "base", 0, 1, check_invariants=True))
    steps = round(20 / loaded.scenario.run.dt_s)
    assert calls == ["step"] * (steps + 1) + ["row"]  # the initial state, every step, the row


def test_cli_run_check_invariants(tiny: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    args = ["run", str(tiny), "--set", "threat.probability=0", "--set", "run.duration_s=20"]
    ok = runner.invoke(main, [*args, "--check-invariants"])
    assert ok.exit_code == 0, ok.output
    assert "killed" in ok.output

    def broken(self: InvariantChecker) -> None:
        self.fail(inv.DENSITY, "made up", [1, 2])

    monkeypatch.setattr(InvariantChecker, "check", broken)
    bad = runner.invoke(main, [*args, "--check-invariants"])
    assert bad.exit_code == 1
    assert "invariant 'density' violated: made up; agents: 1, 2" in bad.output
    assert "Traceback" not in bad.output
    assert runner.invoke(main, args).exit_code == 0  # without the flag nothing is checked


def test_person_on_the_lattice_who_left(quiet: tuple[SoftTargetModel, InvariantChecker]) -> None:
    """Someone recorded as gone must not still occupy a lattice cell."""
    model, checker = quiet
    who = _inside(model)

    def ghost(m: SoftTargetModel) -> None:
        m.crowd.state[who] = State.LEFT
        m.counts = m.crowd.counts()

    err = _expect(model, inv.CONSERVATION, ghost, checker)
    assert err.agents == [who]
