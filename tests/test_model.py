"""The model's mechanisms on a small venue: conservation, screening, harm and the chain."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from softtarget.sim import columns as C
from softtarget.sim.loader import load_scenario
from softtarget.sim.model import SoftTargetModel, simulate
from softtarget.sim.people import State
from softtarget.sim.runs import RunTask, run_seed

from .test_schema import MINIMAL


@pytest.fixture
def tiny(tmp_path: Path):
    path = tmp_path / "tiny.yaml"
    text = MINIMAL.replace(
        "threat:\n", "crowd:\n  initial_inside: 300\n  arrivals: {rate_per_min: 30}\nthreat:\n"
    )
    path.write_text(text)
    return path


def _task(path: Path, config: str = "base", replicate: int = 0, overrides=()) -> RunTask:
    loaded = load_scenario(str(path), overrides)
    seed = run_seed(loaded.scenario.run.seed, replicate)
    return RunTask(loaded.scenario, loaded.hash, config, replicate, seed, check_invariants=True)


def test_same_seed_same_run(tiny: Path) -> None:
    a, b = simulate(_task(tiny)), simulate(_task(tiny))
    a.row.pop(C.WALL_TIME_S)
    b.row.pop(C.WALL_TIME_S)
    assert a.row == b.row
    assert a.timeseries.equals(b.timeseries)
    assert a.events.equals(b.events)


def test_configurations_share_visitors_and_attacker(tiny: Path) -> None:
    """Common random numbers: same people and same threat draws in every configuration."""
    base = SoftTargetModel(_task(tiny).scenario, "base", 123)
    more = SoftTargetModel(_task(tiny).scenario, "more", 123)
    assert np.array_equal(base.crowd.speed, more.crowd.speed)
    assert np.array_equal(base.crowd.arrive_at, more.crowd.arrive_at)
    assert base.threat.plan.mode == more.threat.plan.mode
    assert base.threat.plan.attackers == more.threat.plan.attackers
    assert base.threat.plan.start_s == more.threat.plan.start_s


def test_people_are_conserved_every_step(tiny: Path) -> None:
    task = _task(tiny, overrides=["threat.mix={firearm: 1}", "threat.start_s=30"])
    model = SoftTargetModel(task.scenario, "base", task.seed)
    n = model.crowd.n
    for _ in range(240):
        model.step()
        counts = model.crowd.counts()
        assert counts.sum() == n
        planned = int((model.crowd.arrive_at > model.t).sum())
        assert counts[State.PLANNED] == planned
    assert model.threat.began


def test_no_attack_means_no_harm_and_no_detection(tiny: Path) -> None:
    out = simulate(_task(tiny, overrides=["threat.probability=0"]))
    row = out.row
    assert row[C.ATTACK_MODE] is None and row[C.ATTACKERS] == 0
    for key in (C.KILLED, C.INJURED, C.CRUSH_INJURED, C.KILLED_OUTSIDE):
        assert row[key] == 0
    assert not row[C.DETECTED_BEFORE_ATTACK] and not row[C.ATTACK_STARTED]
    assert math.isnan(row[C.T_DETECT_S]) and math.isnan(row[C.T_POLICE_ALERTED_S])
    assert not (out.events[C.KIND] == "detection").any()


def test_firearm_casualties_never_exceed_rounds(tiny: Path) -> None:
    over = [
        "threat.mix={firearm: 1}",
        "threat.attackers={1: 1}",
        "threat.start_s=20",
        "threat.firearm.magazine=5",
        "threat.firearm.magazines=2",
        "threat.firearm.accuracy=1",
        "threat.firearm.p_death_given_hit=1",
        "configurations.base.staff={lanes: {role: security_guard, count: 4, post: gate, skill: 0}}",
    ]
    out = simulate(_task(tiny, overrides=over))
    shots = int((out.events[C.KIND] == "shot").sum())
    assert shots == 10
    assert 0 < out.row[C.KILLED] + out.row[C.INJURED] <= shots


def test_screening_catch_probability_one_stops_every_inside_attack(tiny: Path) -> None:
    over = [
        "threat.mix={firearm: 1}",
        "threat.target={densest: 1}",
        "threat.adaptive_probability=0",
        "threat.start_s=90",
        "threat.on_site_before_s=60",
        "threat.cell.stagger_s=0",  # a member on their own comes at the same time
        "configurations.base.screening.detection={firearm: 1}",
        "configurations.base.staff={lanes: {role: security_guard, count: 4, post: gate, skill: 0}}",
    ]
    for replicate in range(3):
        out = simulate(_task(tiny, replicate=replicate, overrides=over))
        assert out.row[C.ATTACK_PREVENTED] and not out.row[C.ATTACK_STARTED]
        assert out.row[C.KILLED] == 0
        assert out.row[C.DETECTED_BEFORE_ATTACK]


def test_police_never_alerted_before_detection(tiny: Path) -> None:
    for replicate in range(4):
        row = simulate(_task(tiny, config="more", replicate=replicate)).row
        if not math.isnan(row[C.T_POLICE_ALERTED_S]):
            assert not math.isnan(row[C.T_DETECT_S])
            assert row[C.T_POLICE_ALERTED_S] >= row[C.T_DETECT_S]


QUEUE = ["crowd.arrivals.rate_per_min=90", "threat.probability=0", "run.duration_s=4min"]


def test_more_lanes_shorten_the_queue(tiny: Path) -> None:
    over = [*QUEUE, "configurations.base.staff.cops.count=4"]  # enough police for 4 lanes
    few = simulate(_task(tiny, overrides=[*over, "configurations.base.screening.lanes={gate: 1}"]))
    many = simulate(_task(tiny, overrides=[*over, "configurations.base.screening.lanes={gate: 4}"]))
    assert many.row[C.MAX_QUEUE_LEN] < few.row[C.MAX_QUEUE_LEN]
    assert many.row[C.MEAN_SCREENING_WAIT_S] < few.row[C.MEAN_SCREENING_WAIT_S]


def test_lanes_open_only_as_far_as_screeners_are_posted(tiny: Path) -> None:
    """Four lanes built and opened; 1, 2 or 4 police at the gate work 1, 2 or 4 of them."""
    rows, events = {}, {}
    for cops in (1, 2, 4):
        over = [*QUEUE, "configurations.base.screening.lanes={gate: 4}",
                f"configurations.base.staff.cops.count={cops}"]  # fmt: skip
        out = simulate(_task(tiny, overrides=over))
        rows[cops] = out.row
        events[cops] = out.events[out.events[C.KIND] == "screening_lanes"][C.DETAIL].tolist()
    assert events == {n: [f"{n} of 4 lanes staffed"] for n in (1, 2, 4)}
    queues = [rows[n][C.MAX_QUEUE_LEN] for n in (1, 2, 4)]
    assert queues[0] > queues[1] > queues[2]
    assert rows[4][C.MEAN_SCREENING_WAIT_S] < rows[1][C.MEAN_SCREENING_WAIT_S]
    # the police who screen are paid police hours: cost grows with the screeners
    assert rows[4][C.STAFF_COST_EUR] == pytest.approx(4 * rows[1][C.STAFF_COST_EUR])


def test_a_second_screener_per_lane_halves_the_lanes(tiny: Path) -> None:
    over = [*QUEUE, "configurations.base.screening.lanes={gate: 4}",
            "configurations.base.staff.cops.count=4"]  # fmt: skip
    one = simulate(_task(tiny, overrides=over))
    two = simulate(_task(tiny, overrides=[*over, "configurations.base.screening.staff_per_lane=2"]))
    lanes = [
        out.events[out.events[C.KIND] == "screening_lanes"][C.DETAIL].iloc[0] for out in (one, two)
    ]
    assert lanes == ["4 of 4 lanes staffed", "2 of 4 lanes staffed"]
    assert two.row[C.MAX_QUEUE_LEN] > one.row[C.MAX_QUEUE_LEN]


def test_staff_cost_from_hours_and_rates(tiny: Path) -> None:
    row = simulate(_task(tiny, config="more", overrides=["threat.probability=0"])).row
    # 2 police + 4 guards, default 40 EUR/h, 8 h shift
    assert row[C.STAFF_COST_EUR] == pytest.approx(6 * 40 * 8)


def test_timeseries_and_events_follow_the_pinned_schemas(tiny: Path) -> None:
    out = simulate(_task(tiny))
    assert list(out.timeseries.columns) == [f.name for f in C.TIMESERIES_SCHEMA]
    assert list(out.events.columns) == [f.name for f in C.EVENTS_SCHEMA]
    assert out.timeseries[C.T_S].is_monotonic_increasing


TWO_EXITS = (
    MINIMAL.replace(
        "    out: {kind: exit, rect: [0, 20, 2, 26], width_m: 4}\n",
        "    out: {kind: exit, rect: [0, 30, 2, 36], width_m: 2}\n"
        "    out2: {kind: exit, rect: [48, 14, 50, 20], width_m: 2}\n",
    )
    .replace("threat:\n", "crowd:\n  initial_inside: 600\nthreat:\n")
    .replace(
        "stage: {kind: attractor, rect: [10, 25, 40, 38]}",
        "stage: {kind: attractor, rect: [3, 22, 20, 38]}",
    )
)


#: Self-evacuees who all take the nearest exit: no spread in the choice, no second thoughts.
NEAREST = ["crowd.exit_choice.scale_s=0.001", "crowd.exit_choice.review_s=100000"]


def _evacuate(path: Path, guided: bool, more: tuple[str, ...] = ()) -> tuple[float, np.ndarray]:
    over = ["threat.probability=0", f"configurations.base.coordination.guided_evacuation={guided}"]
    sc = load_scenario(str(path), [*over, *more]).scenario
    model = SoftTargetModel(sc, "base", 11)
    model.response.pending_at = 0.0  # the venue orders an evacuation at once
    for _ in range(2000):
        model.step()
        if not (model.crowd.state == State.FLEEING).any() and model.t > 10:
            break
    return model.crowd.t_last_evacuated, model.crowd.lattice.counts.copy()


def test_stewards_guide_evacuees_to_less_crowded_exits(tmp_path: Path) -> None:
    path = tmp_path / "two.yaml"
    path.write_text(TWO_EXITS)
    t_nearest, _ = _evacuate(path, guided=False, more=tuple(NEAREST))
    t_own, _ = _evacuate(path, guided=False)
    t_guided, _ = _evacuate(path, guided=True)
    # the stage is nearer the west exit: everyone would queue there, taking the nearest
    assert t_guided < 0.85 * t_nearest
    assert t_own < 0.85 * t_nearest  # people who look at the queues spread out too ...
    assert t_guided <= 1.05 * t_own  # ... and stewards do not make it slower


def test_lockdown_stops_screening_and_movement(tiny: Path) -> None:
    over = [
        "threat.probability=0",
        "crowd.arrivals.rate_per_min=120",
        "configurations.base.coordination.response=lockdown",
    ]
    sc = load_scenario(str(tiny), over).scenario
    model = SoftTargetModel(sc, "base", 3)
    for _ in range(20):
        model.step()
    model.response.pending_at = model.t
    model.step()
    assert model.screening.locked
    inside = model.crowd.state == State.SHELTERING
    assert inside.sum() > 0 and not (model.crowd.state == State.INSIDE).any()
    served, xy = len(model.screening.waits), model.crowd.xy[inside].copy()
    for _ in range(40):
        model.step()
    assert len(model.screening.waits) == served  # nobody screened during the lockdown
    assert np.allclose(model.crowd.xy[inside], xy)  # nobody inside moves


def test_people_flee_away_from_the_threat(tmp_path: Path) -> None:
    """The west door is nearest for everyone, but a threat beside it sends people east."""
    path = tmp_path / "two.yaml"
    path.write_text(TWO_EXITS)
    sc = load_scenario(str(path), ["threat.probability=0"]).scenario
    model = SoftTargetModel(sc, "base", 11)
    west, east = (model.crowd.layout.dest[n] for n in ("out", "out2"))
    everyone = np.flatnonzero(model.crowd.state == State.INSIDE)
    assert (model.crowd.exits.nearest(everyone) == west).all()
    model.crowd.flee(np.array([3.0, 33.0]), radius=100.0)  # gunfire right by the west door
    for _ in range(10):
        model.step()
    fleeing = np.flatnonzero(model.crowd.state == State.FLEEING)
    assert len(fleeing) > 0.9 * len(everyone)
    assert (model.crowd.lattice.dest[fleeing] == east).mean() > 0.8


def _jammed(tmp_path: Path) -> SoftTargetModel:
    """2,000 people on a 390 m² stage (about 5/m²), one 4 m door, a high crush hazard."""
    path = tmp_path / "jam.yaml"
    path.write_text(MINIMAL.replace("threat:\n", "crowd:\n  initial_inside: 2000\nthreat:\n"))
    over = [
        "threat.probability=0",
        "crowd.crush_onset_s=1",
        "crowd.crush_hazard_per_s=0.5",
    ]
    return SoftTargetModel(load_scenario(str(path), over).scenario, "base", 5)


def test_a_standing_jammed_crowd_is_not_crushed(tmp_path: Path) -> None:
    model = _jammed(tmp_path)
    for _ in range(60):
        model.step()
    assert model.density.exposure > 0  # people do stand jammed ...
    assert model.density.crush_injured == 0  # ... but nobody pushes


@pytest.mark.parametrize("ordered", [False, True])
def test_a_fleeing_jammed_crowd_is_crushed(tmp_path: Path, ordered: bool) -> None:
    # everyone perceives a threat in the middle of the stage and runs for the one door; with
    # ``ordered`` the venue has also ordered an evacuation: the crush is then counted as one
    # in evacuation (``crush_injured_in_evacuation``), otherwise as one in flight
    model = _jammed(tmp_path)
    if ordered:
        model.response.pending_at = 0.0
    cw = model.crowd
    centre = cw.xy[cw.state == State.INSIDE].mean(axis=0)
    assert len(cw.flee(centre, 1e3)) > 1500
    for _ in range(60):
        model.step()
    assert model.density.crush_injured > 0
    assert (cw.state[cw.crushed] == State.INJURED).all()
    row = model.outcome()
    assert row[C.CRUSH_INJURED_IN_EVACUATION] == (row[C.CRUSH_INJURED] if ordered else 0)
    assert (cw.t_harmed[cw.crushed] <= model.t).all()


def test_an_ordered_calm_evacuation_of_the_jam_is_not_crushed(tmp_path: Path) -> None:
    # the same crowd and door, evacuated by an order with no threat perceived: it queues
    model = _jammed(tmp_path)
    model.response.pending_at = 0.0
    for _ in range(60):
        model.step()
    assert (model.crowd.state == State.FLEEING).sum() > 1000  # they do leave, and queue ...
    assert model.density.exposure > 0
    assert model.density.crush_injured == 0  # ... without pushing


@pytest.mark.parametrize("config", ["public_only", "public_private"])
def test_a_drill_evacuates_without_an_attack_or_crush(config: str) -> None:
    # an evacuation drill of a built-in venue: ordered by the clock, the site closed to new
    # arrivals, everyone present out, nobody pushed, no crush
    over = [
        "threat.probability=0",
        f"configurations.{config}.coordination.drill_at_s=60s",
        f"configurations.{config}.coordination.response=evacuate",
        "run.duration_s=600s",
    ]
    loaded = load_scenario("worship", over)
    task = RunTask(loaded.scenario, loaded.hash, config, 0, 11, check_invariants=True)
    res = simulate(task)
    row, ts = res.row, res.timeseries
    assert not row[C.ATTACK_STARTED]
    assert row[C.CRUSH_INJURED] == 0
    at_order = ts[ts[C.T_S] <= 60.0].iloc[-1]
    present = at_order[C.N_ARRIVING] + at_order[C.N_QUEUING] + at_order[C.N_INSIDE]
    assert present > 200
    end = ts.iloc[-1]
    assert end[C.N_EVACUATED] == row[C.VISITORS] >= present  # all out, nobody came in later
    assert end[C.N_INSIDE] == end[C.N_QUEUING] == end[C.N_ARRIVING] == 0
    assert 0 < row[C.EVAC_TIME_S] < 540, row[C.EVAC_TIME_S]
    ev = res.events
    orders = ev[ev[C.KIND] == C.Event.VENUE_RESPONSE]
    assert len(orders) == 1
    assert "drill" in orders[C.DETAIL].iloc[0] and orders[C.T_S].iloc[0] >= 60.0
    # without the drill nothing is ordered, and the arrivals go on
    quiet = load_scenario("worship", [over[0], over[3]])
    res0 = simulate(RunTask(quiet.scenario, quiet.hash, config, 0, 11))
    assert res0.timeseries[C.N_EVACUATED].iloc[-1] == 0
    assert res0.row[C.VISITORS] > row[C.VISITORS]
    assert math.isnan(res0.row[C.EVAC_TIME_S])


def _resting_density(over: list[str]) -> tuple[np.ndarray, np.ndarray, float]:
    """Five minutes of the built-in festival without an attack: for everyone then at rest at
    an attractor, the people in the 3 x 3 cells around them and the most they accept; and the
    run's peak density."""
    sc = load_scenario("festival", ["threat.probability=0", "run.duration_s=5min", *over])
    model = SoftTargetModel(sc.scenario, "public_only", 0)
    for _ in range(round(sc.scenario.run.duration_s / sc.scenario.run.dt_s)):
        model.step()
    cw, m = model.crowd, model.crowd.lattice
    rest = np.flatnonzero(m.active & cw.resting)
    around = np.rint(m.density_of(rest, half=1) * 1.44).astype(int)
    return around, m.room[rest].astype(int) + 1, model.density.peak


@pytest.mark.slow
def test_a_standing_audience_keeps_its_personal_space() -> None:
    # 12,000 people at the stages and ~1,000 arriving: those arriving stop where their
    # resting distance from the stage front is reached, which for the back rows is at the
    # audience's near edge; without personal space they pack whole cells there
    around, accepted, peak = _resting_density([])
    assert len(around) > 10_000
    assert (around > accepted).mean() < 0.01, np.bincount(around)
    assert around.max() <= 7  # 4.9 /m²: a walker squeezing through at most
    assert (around >= 6).mean() < 0.001  # 4.2 /m² and more: next to nobody
    # walkers stop at jam density: no window anywhere, at any step, fuller than 8 people
    assert peak == pytest.approx(8 / 1.44, abs=1e-4)  # 5.56 /m², not the lattice's 6.25
    # no personal space and no jam density: whole cells packed, windows full
    packed, _, packed_peak = _resting_density(
        ["crowd.standing_density_ppm2=100", "crowd.jam_density_ppm2=100"]
    )
    assert packed.max() >= 8  # 5.6 /m² and more, above Fruin's 5.55 /m² of dangerous forces
    assert packed_peak == pytest.approx(9 / 1.44, abs=1e-4)
