"""The threat: firearm rounds, vehicle barriers, blast and shielding, the adaptive attacker."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from softtarget.sim import columns as C
from softtarget.sim.loader import load_scenario
from softtarget.sim.model import SoftTargetModel, simulate
from softtarget.sim.people import State
from softtarget.sim.runs import RunOutput, RunTask, run_seed
from softtarget.sim.schema import Pbied
from softtarget.sim.sight import shielding_bodies
from softtarget.sim.threat import blast_risk

from .test_schema import MINIMAL

#: The small venue of the model tests, with 300 people at the stage and a road for vehicles.
VENUE = MINIMAL.replace(
    "threat:\n", "crowd:\n  initial_inside: 300\n  arrivals: {rate_per_min: 30}\nthreat:\n"
).replace(
    "    out: {kind: exit",
    "    road: {kind: vehicle_approach, rect: [22, 0, 28, 3]}\n    out: {kind: exit",
)
#: Nobody watches: the only staff are screeners at the lanes who notice nothing.
SCREENERS = "lanes: {role: security_guard, count: 4, post: gate, skill: 0}"
NO_STAFF = f"configurations.base.staff={{{SCREENERS}}}"


@pytest.fixture
def venue(tmp_path: Path) -> Path:
    path = tmp_path / "venue.yaml"
    path.write_text(VENUE)
    return path


def _run(path: Path, overrides: list[str], replicate: int = 0, config: str = "base"):
    loaded = load_scenario(str(path), overrides)
    seed = run_seed(loaded.scenario.run.seed, replicate)
    return simulate(
        RunTask(loaded.scenario, loaded.hash, config, replicate, seed, check_invariants=True)
    )


# ----------------------------------------------------------------------------- firearm ---


def test_a_sure_shot_hits_once_per_round_fired_at_people_in_view(venue: Path) -> None:
    """Hit probability 1, no response, all the time needed: casualties = rounds aimed."""
    over = [
        "threat.mix={firearm: 1}",
        "threat.attackers={1: 1}",
        "threat.start_s=20",
        "threat.firearm.magazine=6",
        "threat.firearm.magazines=3",
        "threat.firearm.accuracy=1",
        "threat.firearm.falloff=0",
        "configurations.base.coordination.response=none",
        NO_STAFF,
    ]
    for replicate in range(3):
        out = _run(venue, over, replicate)
        shots = out.events[out.events[C.KIND] == "shot"]
        aimed = int((shots[C.DETAIL] == "aimed").sum())
        assert len(shots) == 18  # every round of every magazine is fired
        assert (out.events[C.KIND] == "attacker_spent").sum() == 1
        assert out.row[C.KILLED] + out.row[C.INJURED] == aimed
        assert aimed > 0


def _shooter_behind_a_wall(tmp_path: Path, *extra: str) -> RunOutput:
    """A lone shooter at the gate, the crowd beyond a wall with a way round at its east end."""
    path = tmp_path / "wall.yaml"
    wall = "  walls:\n    - {rect: [0, 18, 45, 19]}\n  zones:\n"
    path.write_text(VENUE.replace("  zones:\n", wall))
    over = [
        "threat.mix={firearm: 1}",
        "threat.attackers={1: 1}",
        "threat.target={gate: 1}",
        "threat.start_s=20",
        "threat.on_site_before_s=5",
        "crowd.arrivals.rate_per_min=0",
        "crowd.initial_queuing=0",
        NO_STAFF,
        *extra,
    ]
    return _run(path, over)


def test_people_behind_a_wall_are_not_shot(tmp_path: Path) -> None:
    """No round until the shooter has walked round the wall.

    With nobody in view the shooter holds fire and walks towards the nearest person; the way
    round the wall's east end is over 10 m, so the first round comes seconds after the start.
    """
    out = _shooter_behind_a_wall(tmp_path)
    shots = out.events[out.events[C.KIND] == "shot"]
    start = out.events[out.events[C.KIND] == "attack_start"][C.T_S].iloc[0]
    assert len(shots) > 0 and (shots[C.DETAIL] == "aimed").all()  # never at nobody
    assert shots[C.T_S].min() >= start + 5.0


def test_a_shooter_with_nobody_within_reach_flees(tmp_path: Path) -> None:
    """Targets run out: nobody within seek range and none in view, the attack ends, unfired."""
    out = _shooter_behind_a_wall(tmp_path, "threat.firearm.seek_range_m=3")
    assert not (out.events[C.KIND] == "shot").any()
    assert out.row[C.ATTACK_END] == "fled" and out.row[C.ATTACK_DURATION_S] <= 1.0  # a step or two
    fled = out.events[out.events[C.KIND] == "attacker_fled"][C.DETAIL]
    assert list(fled) == ["firearm: nobody left within seek range"]  # the events say why


#: A lone shooter at the stage of the small venue, 20 s into the run.
SHOOTER_AT_STAGE = [
    "threat.mix={firearm: 1}",
    "threat.attackers={1: 1}",
    "threat.target={stage: 1}",
    "threat.start_s=20",
    "threat.on_site_before_s=5",
]
NOBODY_ON_DUTY = ["configurations.base.staff={}", "configurations.base.screening.method=none"]


def test_a_shooting_with_no_staff_is_reported_by_callers(venue: Path) -> None:
    """Nobody on duty: the police learn of the shooting from calls, after the calls hop."""
    out = _run(venue, [*SHOOTER_AT_STAGE, *NOBODY_ON_DUTY, "crowd.call_probability=0.2"])
    assert out.row[C.ATTACK_STARTED]
    call = out.row[C.T_FIRST_CALL_S]
    assert out.row[C.T_POLICE_ALERTED_S] == call  # the first call is how they learn
    assert 50.0 <= call <= 55.0  # visitor_to_police: 50 s, after the first shots are heard
    assert (out.events[C.KIND] == "call").any()
    # nobody calls: nobody tells the police
    silent = _run(venue, [*SHOOTER_AT_STAGE, *NOBODY_ON_DUTY, "crowd.call_probability=0"])
    assert silent.row[C.ATTACK_STARTED] and np.isnan(silent.row[C.T_POLICE_ALERTED_S])
    assert not (silent.events[C.KIND] == "call").any()


def test_armed_arrival_ends_the_shooting(venue: Path) -> None:
    """Armed police who cannot hit: the shooter ends it within seconds of their arrival."""
    over = [
        *SHOOTER_AT_STAGE,
        "threat.firearm.self_end_per_min=0",
        "threat.firearm.self_end_armed_per_min=600",
        "crowd.hearing_range_m=10",  # most of the crowd stays: the shooter has targets
        "crowd.call_probability=1",
        "configurations.base.staff={armed: {role: armed_response, count: 2, armed: true, "
        "hit_probability: 0, response_time_s: 1}, " + SCREENERS + "}",
    ]
    for replicate in range(2):
        row = _run(venue, over, replicate).row
        assert row[C.ATTACK_END] in ("suicide", "surrendered")
        assert row[C.T_ARMED_ON_SCENE_S] >= row[C.T_POLICE_ALERTED_S]  # they set out then
        assert row[C.ATTACK_DURATION_S] <= row[C.T_ARMED_ON_SCENE_S] + 5.0


def _harm_in_events(events, before: float) -> tuple[int, int]:
    """Killed and injured by the attack's events logged before model time ``before``."""
    harm = events[events[C.KIND].isin(["hit", "strike", "struck", "detonation"])]
    harm = harm[harm[C.T_S] < before]
    counts = harm[C.DETAIL].str.extract(r"killed=(\d+) injured=(\d+)").astype(int)
    return int(counts[0].sum()), int(counts[1].sum())


def test_casualties_before_armed_police_arrive_are_those_the_events_log_before(
    venue: Path,
) -> None:
    """Armed police who cannot hit and a shooter who goes on: harm on both sides of arrival."""
    over = [
        *SHOOTER_AT_STAGE,
        "threat.firearm.self_end_per_min=0",
        "threat.firearm.self_end_armed_per_min=0",
        "crowd.hearing_range_m=10",
        "crowd.call_probability=1",
        "configurations.base.staff={armed: {role: armed_response, count: 2, armed: true, "
        "hit_probability: 0, response_time_s: 1}, " + SCREENERS + "}",
    ]
    out = _run(venue, over)
    row, events = out.row, out.events
    arrival = events.loc[events[C.KIND] == "armed_on_scene", C.T_S]
    assert len(arrival) == 1
    killed, injured = _harm_in_events(events, float(arrival.iloc[0]))
    assert (row[C.KILLED_BEFORE_ARMED], row[C.INJURED_BEFORE_ARMED]) == (killed, injured)
    before, total = killed + injured, row[C.KILLED] + row[C.INJURED]
    assert 0 < before < total  # the shooting went on after they came
    # nobody armed comes: every casualty is one before armed police were on scene
    alone = _run(venue, [*SHOOTER_AT_STAGE, *NOBODY_ON_DUTY]).row
    assert alone[C.KILLED] > 0 and np.isnan(alone[C.T_ARMED_ON_SCENE_S])
    assert alone[C.KILLED_BEFORE_ARMED] == alone[C.KILLED]
    assert alone[C.INJURED_BEFORE_ARMED] == alone[C.INJURED]


# ----------------------------------------------------------------------------- vehicle ---


def test_a_vehicle_barrier_across_the_only_approach_stops_every_ramming(venue: Path) -> None:
    over = ["threat.mix={vehicle: 1}", "threat.target={densest: 1}", "threat.start_s=30", NO_STAFF]
    open_road, barred = [], []
    for replicate in range(4):
        open_road.append(_run(venue, over, replicate).row)
        out = _run(venue, [*over, "configurations.base.vehicle_barriers=true"], replicate)
        barred.append(out.row)
        # every vehicle that set off (a cell member on their own may start after the run)
        started = (out.events[C.KIND] == "attack_start").sum()
        assert started >= 1 and (out.events[C.KIND] == "attacker_barrier").sum() == started
    assert sum(r[C.KILLED] + r[C.INJURED] for r in barred) == 0
    assert sum(r[C.KILLED] + r[C.INJURED] for r in open_road) > 0  # the test can fail


def test_bodies_struck_slow_the_vehicle_until_it_is_stuck(venue: Path) -> None:
    """The same ramming into the stage crowd, with and without the slowing by bodies."""
    over = ["threat.mix={vehicle: 1}", "threat.target={stage: 1}", "threat.start_s=30", NO_STAFF]
    harmed, ends = {}, {}
    for slowdown in (0.0, 0.3):
        rows = [
            _run(venue, [*over, f"threat.vehicle.slowdown_per_struck={slowdown}"], r).row
            for r in range(2)
        ]
        harmed[slowdown] = sum(row[C.KILLED] + row[C.INJURED] for row in rows)
        ends[slowdown] = {row[C.ATTACK_END] for row in rows}
    assert harmed[0.3] < harmed[0.0]
    assert ends[0.3] == {"stopped_by_obstacle"}


def test_a_wall_stops_a_vehicle_and_shields_the_crowd_beyond(tmp_path: Path) -> None:
    """A wall across the vehicle's line: it stops there; nobody beyond the wall is struck."""
    path = tmp_path / "wall.yaml"
    wall = "  walls:\n    - {rect: [0, 15, 45, 16]}\n  zones:\n"  # a way round for walkers
    path.write_text(VENUE.replace("  zones:\n", wall))
    over = ["threat.mix={vehicle: 1}", "threat.target={stage: 1}", "threat.start_s=30", NO_STAFF]
    for replicate in range(2):
        loaded = load_scenario(str(path), over)
        model = SoftTargetModel(
            loaded.scenario, "base", run_seed(loaded.scenario.run.seed, replicate)
        )
        for _ in range(round(90 / model.dt)):
            model.step()
        harmed = np.isin(model.crowd.state, [State.KILLED, State.INJURED])
        assert (model.crowd.xy[harmed, 1] < 15.0).all()
        assert str(model.threat.attackers[0].end) == "stopped_by_obstacle"


# ----------------------------------------------------------------------------- explosive ---


def test_blast_risk_falls_with_distance() -> None:
    pb = Pbied()
    angles = np.linspace(0, 2 * np.pi, 12, endpoint=False)
    distances = np.array([1, 3, 5, 7, 10, 14, 18, 22, 26, 29.9, 31, 40], dtype=float)
    # one person per direction: nobody stands between another and the blast
    people = np.column_stack([distances * np.cos(angles), distances * np.sin(angles)])
    p_kill, p_hurt = blast_risk(np.zeros(2), people, people, pb)
    assert (p_kill[distances <= pb.lethal_radius_m] == 1).all()  # the blast wave
    out = (distances > pb.lethal_radius_m) & (distances <= pb.injury_radius_m)
    assert (np.diff(p_kill[out]) < 0).all() and (np.diff(p_hurt[out]) < 0).all()
    assert (p_kill[out] < p_hurt[out]).all() and (p_kill[out] > 0).all()
    assert (p_hurt[distances > pb.injury_radius_m] == 0).all()
    # further out, a hurt person is less often dead: fewer hits, each rarely lethal
    share = p_kill[out] / p_hurt[out]
    assert (np.diff(share) < 0).all()
    # the expected hits fall with the square of the distance (Poisson hits)
    hits = -np.log1p(-p_hurt[out])
    assert hits * distances[out] ** 2 == pytest.approx(
        pb.fragments * pb.body_area_m2 / (4 * np.pi), rel=1e-9
    )


def test_a_dense_ring_of_people_shields_the_victim_behind_it() -> None:
    pb = Pbied()
    victim = np.array([[10.0, 0.0]])
    ring = 5.0 * np.column_stack(
        [
            np.cos(np.linspace(0, 2 * np.pi, 80, endpoint=False)),
            np.sin(np.linspace(0, 2 * np.pi, 80, endpoint=False)),
        ]
    )
    alone_kill, alone_hurt = blast_risk(np.zeros(2), victim, victim, pb)
    bodies = np.vstack([victim, ring])
    ring_kill, ring_hurt = blast_risk(np.zeros(2), victim, bodies, pb)
    n = shielding_bodies(np.zeros(2), victim, bodies, pb.body_radius_m)[0]
    assert n >= 1
    # the bodies in the way take their share of the fragments ...
    keep = (1 - pb.shielding_per_body) ** n
    assert -np.log1p(-ring_hurt[0]) == pytest.approx(-np.log1p(-alone_hurt[0]) * keep)
    assert ring_hurt[0] < alone_hurt[0]
    # ... which turns deaths into injuries, not both down alike
    assert ring_kill[0] / ring_hurt[0] < alone_kill[0] / alone_hurt[0]
    # a body beside the line, not in it, does not shield
    beside = np.vstack([victim, [[5.0, 2.0]]])
    assert shielding_bodies(np.zeros(2), victim, beside, pb.body_radius_m)[0] == 0


@pytest.mark.parametrize("density", [1.0, 2.0])
def test_a_bomb_in_a_crowd_kills_and_injures_as_crowded_place_bombings_do(density) -> None:
    """Expected casualties of the default device in a crowd standing on the lattice.

    Manchester Arena 2017 (a crowd leaving through the foyer): 22 killed, about 240 physically
    injured, about 1 : 10. Measured here: at 1 /m² 21 killed and 220 hurt and alive (1 : 10.4),
    at 2 /m² 27 and 219 (1 : 8.0). A model that shielded deaths and injuries alike, or
    killed everyone within a fixed radius of metres, gives 1 : 2-3 (the defaults before).
    """
    rng = np.random.default_rng(0)
    radius = 40.0
    r = radius * np.sqrt(rng.random(rng.poisson(density * np.pi * radius**2)))
    a = 2 * np.pi * rng.random(len(r))
    cells = np.unique(np.round(np.column_stack([r * np.cos(a), r * np.sin(a)]) / 0.4), axis=0)
    people = cells[np.hypot(*cells.T) > 0] * 0.4  # one person per 0.4 m cell, as in the model
    p_kill, p_hurt = blast_risk(np.zeros(2), people, people, Pbied())
    killed, alive_hurt = p_kill.sum(), (p_hurt - p_kill).sum()
    assert 12 < killed < 40, killed
    assert 6 < alive_hurt / killed < 15, (killed, alive_hurt)


def test_casualties_of_a_detonation_fall_with_distance_in_a_run(venue: Path) -> None:
    """In the model: the share of people hurt is highest near the blast and nil beyond the
    fragments' reach (``injury_radius_m``)."""
    reach = Pbied().injury_radius_m
    over = ["threat.mix={pbied: 1}", "threat.attackers={1: 1}", "threat.start_s=30", NO_STAFF]
    near, mid, far = [0, 0], [0, 0], [0, 0]
    for replicate in range(3):
        loaded = load_scenario(str(venue), over)
        model = SoftTargetModel(loaded.scenario, "base", run_seed(7, replicate))
        before = None
        while not model.threat.began and model.t < 120:
            standing = np.flatnonzero(model.crowd.standing())
            before = (standing, model.crowd.xy[standing].copy())
            model.step()
        assert model.threat.began and before is not None
        idx, xy = before
        blast = model.threat.attackers[0].pos
        d = np.hypot(*(xy - blast).T)
        harmed = np.isin(model.crowd.state[idx], [State.KILLED, State.INJURED])
        for band, sel in ((near, d <= 6), (mid, (d > 6) & (d <= reach)), (far, d > reach + 1)):
            band[0] += int(harmed[sel].sum())
            band[1] += int(sel.sum())
    assert near[1] and mid[1]
    assert near[0] / near[1] > mid[0] / mid[1] > 0
    assert far[0] == 0


def test_a_bomber_caught_at_screening_may_detonate_at_the_gate(venue: Path) -> None:
    over = [
        "threat.mix={pbied: 1}",
        "threat.target={densest: 1}",
        "threat.adaptive_probability=0",
        "threat.pbied.detonate_if_challenged=1",
        "threat.start_s=40",
        "threat.on_site_before_s=10",
        "configurations.base.screening.detection={pbied: 1}",
        NO_STAFF,
    ]
    out = _run(venue, over)
    assert out.row[C.ATTACK_STARTED] and not out.row[C.ATTACK_PREVENTED]
    assert (out.events[C.KIND] == "bomber_challenged").any()
    harmed = out.row[C.KILLED] + out.row[C.INJURED]
    assert harmed > 0
    start = out.events[out.events[C.KIND] == "attack_start"][C.DETAIL]
    assert start.str.endswith("outside the perimeter").all()  # at the gate, not inside
    # the people in the line at the gate are among the harmed, all of them outside
    in_queue = out.row[C.KILLED_IN_QUEUE] + out.row[C.INJURED_IN_QUEUE]
    assert 0 < in_queue <= out.row[C.KILLED_OUTSIDE] + out.row[C.INJURED_OUTSIDE]
    never = _run(venue, [*over, "threat.pbied.detonate_if_challenged=0"])
    assert never.row[C.ATTACK_PREVENTED] and never.row[C.KILLED] == 0


# ----------------------------------------------------------------------------- adaptive ---


def test_an_adaptive_attacker_facing_sure_screening_never_attacks_inside(venue: Path) -> None:
    over = [
        "threat.mix={firearm: 1, blade: 1, pbied: 1}",
        "threat.target={densest: 1}",
        "threat.adaptive_probability=1",
        "threat.start_s=60",
        "threat.on_site_before_s=20",
        "configurations.base.screening.detection={firearm: 1, blade: 1, pbied: 1}",
        NO_STAFF,
    ]
    started = 0
    for replicate in range(6):
        out = _run(venue, over, replicate)
        starts = out.events[out.events[C.KIND] == "attack_start"]
        started += len(starts)
        assert starts[C.DETAIL].str.endswith("outside the perimeter").all()
        assert not out.events[C.KIND].isin(["screening_passed", "attacker_caught"]).any()
        assert (out.events[C.KIND] == "attacker_adapted").any()  # the cell changes plan
    assert started > 0


def test_a_cell_goes_on_when_one_member_is_questioned_during_reconnaissance(venue: Path) -> None:
    """Questioned and not put off, one member ends the cell's visit; the plan goes on."""
    over = [
        "threat.mix={blade: 1}",
        "threat.attackers={2: 1}",
        "threat.reconnaissance_probability=1",
        "threat.reconnaissance_s=100",
        "threat.deterred_if_questioned=0",
        "threat.conspicuousness={reconnaissance: 1, approach: 0, attack: 1}",
        "threat.indicator_probability={reconnaissance: 1, approach: 0}",
        "threat.conspicuousness_shape=1000000",
        "threat.start_s=110",
        "threat.on_site_before_s=5",
        "configurations.base.staff={cops: {role: police, count: 4, post: stage, skill: 1, "
        f"view_range_m: 60, speed_mps: 4}}, {SCREENERS}}}",
    ]
    out = _run(venue, over)
    kinds = out.events[C.KIND]
    assert (kinds == "questioned").sum() >= 1
    assert (kinds == "reconnaissance_end").sum() == 1  # the other member leaves with them
    assert (kinds == "attacker_arrived").sum() == 2  # and come back for the attack


# -------------------------------------------------------------------------------- cells ---


def test_cell_members_split_targets_timing_and_weapons_as_the_schema_says() -> None:
    """Over 4000 drawn plans of a cell of two: how often the second member goes on their own
    (binomial test), when and with what; one beside the first mirrors them."""
    from scipy import stats

    from softtarget.sim.threat.plan import ThreatPlan

    over = [
        "threat.attackers={2: 1}",
        "threat.mix={firearm: 1, blade: 1}",
        "threat.target={densest: 1, queue: 1}",
        "threat.cell.split_probability=0.4",
        "threat.cell.own_weapon_probability=0.5",
        "threat.cell.stagger_s={dist: uniform, low: 30, high: 90}",
    ]
    th = load_scenario("festival", over).scenario.threat
    n, split, other_weapon, other_target = 4000, 0, 0, 0
    for seed in range(n):
        plan = ThreatPlan.draw(th, *(np.random.default_rng([seed, k]) for k in range(3)))
        first, second = plan.members[:2]
        assert (first.team, first.mode, first.start_s) == (0, plan.mode, plan.start_s)
        assert plan.modes == (plan.mode if first.mode == second.mode else "mixed")
        if second.team == 0:
            assert (second.mode, second.target, second.start_s, second.arrive_s) == (
                first.mode, first.target, first.start_s, first.arrive_s)  # fmt: skip
            continue
        split += 1
        assert 30.0 <= second.start_s - first.start_s <= 90.0
        if first.arrive_s > 0:  # not clipped at the run's start: the same time on site
            lead = first.start_s - first.arrive_s
            assert second.arrive_s == pytest.approx(max(0.0, second.start_s - lead))
        other_weapon += second.mode != first.mode
        other_target += second.target != first.target
    assert stats.binomtest(split, n, 0.4).pvalue > 0.01
    # a weapon of their own comes from the mix of two: another weapon a quarter of the time
    assert stats.binomtest(other_weapon, split, 0.5 * 0.5).pvalue > 0.01
    assert stats.binomtest(other_target, split, 0.5).pvalue > 0.01  # a target of their own


def test_a_member_on_their_own_strikes_later(venue: Path) -> None:
    """Two shooters, the second on their own a minute after the first: two starts 60 s apart,
    both fire, and the attack lasts from the first start to the last member's end."""
    over = [
        *SHOOTER_AT_STAGE,
        "threat.attackers={2: 1}",
        "threat.cell.split_probability=1",
        "threat.cell.stagger_s=60",
        "threat.firearm.self_end_per_min=0",
        "threat.firearm.magazines=1",  # 15 rounds each: both are spent within the run
        "crowd.hearing_range_m=10",  # most of the crowd stays: both have targets
        *NOBODY_ON_DUTY,
    ]
    out = _run(venue, over)
    assert out.row[C.ATTACK_END] == "spent"
    ev = out.events
    starts = ev[ev[C.KIND] == "attack_start"]
    assert list(starts[C.ACTOR]) == ["attacker:0", "attacker:1"]
    assert float(starts[C.T_S].diff().iloc[1]) == pytest.approx(60.0, abs=0.6)
    shots = ev[ev[C.KIND] == "shot"][C.ACTOR].value_counts()
    assert shots.get("attacker:0", 0) > 0 and shots.get("attacker:1", 0) > 0
    assert out.row[C.ATTACK_DURATION_S] > 60.0
    assert out.row[C.ATTACK_MODE] == "firearm"
    # beside the first instead: both start together
    together = _run(venue, [*over, "threat.cell.split_probability=0"]).events
    assert together.loc[together[C.KIND] == "attack_start", C.T_S].nunique() == 1
