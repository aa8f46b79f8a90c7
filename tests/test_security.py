"""Staff, cameras, detection and the reporting chain on small venues with fixed seeds."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy import integrate, stats

from softtarget.sim import columns as C
from softtarget.sim.loader import load_scenario
from softtarget.sim.model import SoftTargetModel, simulate
from softtarget.sim.runs import RunTask, run_seed
from softtarget.sim.sight import coverage_for

from .test_schema import MINIMAL

#: An open venue (no perimeter, no screening) with nobody in it but staff and the attacker,
#: who comes in at the entrance (north) and walks to the stage; a yard lies in the south.
OPEN = """\
name: empty
venue:
  width_m: 50
  height_m: 40
  zones:
    entrance: {kind: entrance, rect: [10, 36, 20, 40]}
    stage: {kind: attractor, rect: [10, 24, 40, 34]}
    yard: {kind: attractor, rect: [10, 2, 40, 15]}
    out: {kind: exit, rect: [0, 26, 2, 32], width_m: 4}
crowd:
  arrivals: {profile: none}
threat:
  mix: {blade: 1}
  attackers: {1: 1}
  target: {stage: 1}
  start_s: 150
  on_site_before_s: 120
  reconnaissance_probability: 0
  conspicuousness: {reconnaissance: 1, approach: 1, attack: 1}
  indicator_probability: {reconnaissance: 1, approach: 1}
  conspicuousness_shape: 1000000
configurations:
  nobody: {}
run:
  seed: 11
  duration_s: 151
  dt_s: 0.5
"""
#: When OPEN's attacker arrives (start_s - on_site_before_s).
OPEN_ARRIVAL_S = 30.0
#: The same with a wall between the north part and the yard, with a gap at its east end.
EMPTY = OPEN.replace("  zones:\n", "  walls:\n    - {rect: [0, 19, 45, 20]}\n  zones:\n", 1)


def _load(tmp_path: Path, text: str, overrides: list[str]):
    path = tmp_path / "s.yaml"
    path.write_text(text)
    return load_scenario(str(path), overrides)


def _run(loaded, config: str, replicate: int, check: bool = True):
    seed = run_seed(loaded.scenario.run.seed, replicate)
    task = RunTask(loaded.scenario, loaded.hash, config, replicate, seed, check_invariants=check)
    return simulate(task)


# ------------------------------------------------------------------------- the chain ---

#: One blade attacker on MINIMAL's stage at 60 s, in sight and conspicuous from his arrival at
#: 30 s; visitors notice nothing, and nobody is screened.
CONSPICUOUS = [
    "threat.mix={blade: 1}",
    "threat.attackers={1: 1}",
    "threat.target={stage: 1}",
    "threat.start_s=60",
    "threat.on_site_before_s=30",
    "threat.reconnaissance_probability=0",
    "threat.conspicuousness={reconnaissance: 1, approach: 1, attack: 1}",
    "threat.indicator_probability={reconnaissance: 1, approach: 1}",
    "threat.conspicuousness_shape=1000000",
    "crowd.notice_skill=0",
    "configurations.base.screening.method=none",
]
CHAIN = [
    *CONSPICUOUS,
    "configurations.base.staff={stewards: {role: steward, count: 3, post: stage, skill: 1, "
    "view_range_m: 100}}",
    "configurations.base.coordination.staff_radio_to_control={delay_s: 0, loss: 0}",
]


def test_a_chain_without_delays_alerts_police_at_the_moment_of_detection(tmp_path: Path) -> None:
    loaded = _load(
        tmp_path,
        MINIMAL,
        [*CHAIN, "configurations.base.coordination.private_to_police={delay_s: 0, loss: 0}"],
    )
    for replicate in range(3):
        row = _run(loaded, "base", replicate).row
        assert not math.isnan(row[C.T_DETECT_S])
        assert row[C.T_POLICE_ALERTED_S] == row[C.T_DETECT_S]
        assert row[C.DETECTED_BEFORE_ATTACK]


def test_a_lost_private_to_police_hop_keeps_police_unaware(tmp_path: Path) -> None:
    loaded = _load(
        tmp_path,
        MINIMAL,
        [*CHAIN, "configurations.base.coordination.private_to_police={delay_s: 0, loss: 1}"],
    )
    for replicate in range(3):
        out = _run(loaded, "base", replicate)
        assert not math.isnan(out.row[C.T_DETECT_S])  # the stewards did see the attacker ...
        assert math.isnan(out.row[C.T_POLICE_ALERTED_S])  # ... but the police never learn
        messages = out.events[out.events[C.KIND] == "message"][C.DETAIL]
        assert messages.str.contains("-> room:security").any()
        assert not messages.str.contains("-> room:police").any()


# ----------------------------------------------------------------------------- cameras ---

CAMERA = [
    "configurations.nobody.staff={cctv: {role: cctv_operator, count: 1, post: control_room, "
    "skill: 1}}",
    "run.duration_s=100",
]


def test_an_attacker_in_a_cameras_blind_spot_is_never_detected_by_it(tmp_path: Path) -> None:
    """The camera in the yard sees through the gap in the wall, not the stage behind it."""
    behind = _load(
        tmp_path,
        EMPTY,
        [
            *CAMERA,
            "configurations.nobody.cameras={yard: {at: [25, 10], fov_deg: 360, range_m: 100}}",
        ],
    )
    cam = behind.scenario.configurations["nobody"].cameras["yard"]
    mask = coverage_for(behind.scenario.venue, cam)
    model = SoftTargetModel(behind.scenario, "nobody", 1)
    stage = model.geo.sample(model.geo.index("stage"), np.random.default_rng(0).random((500, 2)))
    assert not model.detection.sight.covered(mask, stage).any()  # the whole stage is a blind spot
    assert model.detection.sight.covered(mask, np.array([[25.0, 5.0], [49.5, 20.5]])).all()
    for replicate in range(5):
        out = _run(behind, "nobody", replicate)
        assert not (out.events[C.ACTOR] == "camera:yard").any()
    # the same camera on the stage side sees the attacker: the test can fail
    seen = _load(
        tmp_path,
        EMPTY,
        [
            *CAMERA,
            "configurations.nobody.cameras={yard: {at: [25, 22], fov_deg: 360, range_m: 100}}",
        ],
    )
    found = [_run(seen, "nobody", r).events for r in range(5)]
    assert all(((ev[C.KIND] == "detection") & (ev[C.ACTOR] == "camera:yard")).any() for ev in found)


def test_a_camera_looks_only_within_its_field_of_view(tmp_path: Path) -> None:
    loaded = _load(
        tmp_path,
        EMPTY,
        [
            "configurations.nobody.cameras={east: {at: [25, 10], facing_deg: 0, fov_deg: 90, "
            "range_m: 100}}"
        ],
    )
    cam = loaded.scenario.configurations["nobody"].cameras["east"]
    mask = coverage_for(loaded.scenario.venue, cam)
    model = SoftTargetModel(loaded.scenario, "nobody", 1)
    east, west, far = np.array([[40.0, 12.0]]), np.array([[10.0, 10.0]]), np.array([[49.0, 2.0]])
    assert (
        model.detection.sight.covered(mask, east)[0] and model.detection.sight.covered(mask, far)[0]
    )
    assert not model.detection.sight.covered(mask, west)[0]


# --------------------------------------------------------------------------- detection ---


def _shared_detection(p: float, k: int, t: float, q: float, shape: float) -> float:
    """P(k observers with per-second chance p × X notice within t s), X shared by all of them.

    X is 0 with chance 1 - q (the attacker shows nothing) and otherwise gamma-distributed
    with mean 1 and the given shape; given X the k observers are independent.
    """
    scale = 1.0 / shape

    def given(x: float) -> float:
        return (1.0 - (1.0 - min(1.0, p * x)) ** (k * t)) * stats.gamma.pdf(x, shape, scale=scale)

    return q * integrate.quad(given, 0.0, np.inf, limit=200)[0]


@pytest.mark.slow
@pytest.mark.parametrize("k", [1, 3, 30])
def test_detection_by_k_observers_matches_the_shared_formula(tmp_path: Path, k: int) -> None:
    """k stewards with per-second chance p × X watch the attacker for t = 30 s before the attack.

    X is the attacker's own conspicuousness for the phase, shared by every steward: 0 with
    chance 1 - q (no indicator shown), else exponential with mean 1. The share of runs with a
    detection before the attack must match q · E[1 - (1 - pX)^(k t)]: two-sided exact binomial
    test over 300 runs, rejected below 0.001. At k = 30 that is 0.44, where independent draws
    per observer and second at the same mean chance would give 1 - (1 - qp)^(k t) = 0.97 and
    fail; counting per step instead of per second (dt = 0.5 s) would double k t and fail at
    k = 1 (0.16 against 0.10). The attacker arrives 30 s into the run, as in OPEN.
    """
    p, t, n, q = 0.008, 30.0, 300, 0.5
    arrive = OPEN_ARRIVAL_S
    loaded = _load(
        tmp_path,
        OPEN,
        [
            f"configurations.nobody.staff={{watch: {{role: steward, count: {k}, post: stage, "
            f"skill: {p}, view_range_m: 500}}}}",
            f"threat.start_s={arrive + t}",
            f"threat.on_site_before_s={t}",
            f"threat.indicator_probability={{reconnaissance: 0, approach: {q}}}",
            "threat.conspicuousness_shape=1",
            f"run.duration_s={arrive + t + 1}",
        ],
    )
    plan = loaded.scenario.threat
    assert plan.start_s.mean - plan.on_site_before_s.mean == arrive  # on site for t seconds
    detected = sum(
        _run(loaded, "nobody", r, check=False).row[C.DETECTED_BEFORE_ATTACK] for r in range(n)
    )
    expected = _shared_detection(p, k, t, q, 1.0)
    assert stats.binomtest(int(detected), n, expected).pvalue > 0.001, (detected / n, expected)


# ---------------------------------------------------------------------- visitors' eyes ---

#: OPEN with 300 visitors and the attacker on site for 2 minutes, plainly showing an
#: indicator in the approach; nobody else watches.
VISITORS = [
    "crowd.initial_inside=300",
    "threat.start_s=150",
    "threat.on_site_before_s=120",
    "threat.indicator_probability={reconnaissance: 0, approach: 1}",
    "threat.conspicuousness={reconnaissance: 0, approach: 0.05, attack: 1}",
    "crowd.notice_skill=0.001",
]


def _alerted_before_attack(loaded, n: int) -> tuple[int, int]:
    """Of n runs: how many had a detection, and a police alert, before the attack began."""
    detected = alerted = 0
    for r in range(n):
        row = _run(loaded, "nobody", r, check=False).row
        detected += bool(row[C.DETECTED_BEFORE_ATTACK])
        alerted += bool(row[C.T_POLICE_ALERTED_S] < OPEN_ARRIVAL_S + 120)
    return detected, alerted


@pytest.mark.slow
def test_the_visitors_report_probability_moves_detection_and_the_police_alert(
    tmp_path: Path,
) -> None:
    """With no staff, visitors who notice and report are the only way the police learn early.

    Raising ``crowd.report_probability`` from 0.05 to 0.75 must raise both the share of runs
    detected before the attack and the share in which a call reached the police before it
    (one-sided Fisher exact tests over 40 runs each, rejected above 0.01).
    """
    shares = {}
    for rp in (0.05, 0.75):
        loaded = _load(tmp_path, OPEN, [*VISITORS, f"crowd.report_probability={rp}"])
        shares[rp] = _alerted_before_attack(loaded, 40)
    for i in (0, 1):
        low, high = shares[0.05][i], shares[0.75][i]
        table = [[high, 40 - high], [low, 40 - low]]
        assert stats.fisher_exact(table, alternative="greater").pvalue < 0.01, shares


@pytest.mark.parametrize(("role", "challenges"), [("security_guard", True), ("steward", False)])
def test_a_visitor_report_sends_staff_with_powers_to_detain_to_challenge(
    tmp_path: Path, role: str, challenges: bool
) -> None:
    """A guard who cannot see the attacker is told by a visitor and goes to challenge them.

    The guard stands in the yard behind the wall, blind (view range 1 m); visitors at the
    stage notice and report at once over a hop with no delay. A guard (power to detain)
    walks round the wall and stops the attacker; a steward only passes the report on.
    """
    loaded = _load(
        tmp_path,
        EMPTY,
        [
            *VISITORS,
            "crowd.notice_skill=0.1",
            "crowd.report_probability=1",
            f"configurations.nobody.staff={{g: {{role: {role}, count: 1, post: yard, "
            "skill: 0, view_range_m: 1, escalate_probability: 1}}",
            "configurations.nobody.coordination.visitor_to_staff={delay_s: 0, loss: 0}",
        ],
    )
    for replicate in range(3):
        out = _run(loaded, "nobody", replicate)
        ev = out.events
        told = ev[(ev[C.KIND] == "message") & ev[C.DETAIL].str.startswith("visitor_to_staff")]
        assert len(told), "the visitors did report to the member of staff"
        challenged = ev[ev[C.KIND] == "challenged"]
        assert (len(challenged) > 0) == challenges
        assert bool(out.row[C.ATTACK_PREVENTED]) == challenges
        if challenges:
            assert challenged[C.ACTOR].str.startswith("staff:").all()


def test_a_guard_who_dismisses_the_concern_neither_passes_it_on_nor_goes_to_look(
    tmp_path: Path,
) -> None:
    """The Manchester failure: told of a suspect, the member of staff does nothing with it."""
    loaded = _load(
        tmp_path,
        EMPTY,
        [
            *VISITORS,
            "crowd.notice_skill=0.1",
            "crowd.report_probability=1",
            "configurations.nobody.staff={g: {role: security_guard, count: 1, post: yard, "
            "skill: 0, view_range_m: 1, escalate_probability: 0}}",
            "configurations.nobody.coordination.visitor_to_staff={delay_s: 0, loss: 0}",
        ],
    )
    for replicate in range(3):
        out = _run(loaded, "nobody", replicate)
        kinds = out.events[C.KIND]
        assert (kinds == "concern_dismissed").sum() >= 1
        assert not (kinds == "challenged").any() and not out.row[C.ATTACK_PREVENTED]
        passed = out.events[C.DETAIL].astype(str).str.startswith("staff_")
        assert not ((kinds == "message") & passed).any()  # nothing went up the chain


# ---------------------------------------------------------------------------- response ---

ARMED = (
    MINIMAL[: MINIMAL.index("configurations:")].replace(
        "threat:\n", "crowd:\n  initial_inside: 400\n  arrivals: {profile: none}\nthreat:\n"
    )
    + """configurations:
  on_site:
    staff:
      armed: {role: police, count: 2, armed: true, post: stage}
      lanes: {role: security_guard, count: 4, post: gate, skill: 0}
  away:
    staff:
      armed: {role: armed_response, count: 2, armed: true, response_time_s: 10min}
      lanes: {role: security_guard, count: 4, post: gate, skill: 0}
run:
  seed: 7
"""
)


@pytest.mark.slow
def test_armed_police_on_site_lower_firearm_casualties(tmp_path: Path) -> None:
    """Paired runs (same crowd, same shooter): armed officers posted at the stage against
    the same officers 10 minutes away. One-sided Wilcoxon signed-rank test over 12 pairs."""
    loaded = _load(
        tmp_path,
        ARMED,
        [
            "threat.mix={firearm: 1}",
            "threat.attackers={1: 1}",
            "threat.target={densest: 1}",
            "threat.start_s=30",
            "threat.on_site_before_s=10",
            "run.duration_s=150",
        ],
    )
    on_site, away = [], []
    for replicate in range(12):
        for config, out in (("on_site", on_site), ("away", away)):
            row = _run(loaded, config, replicate, check=False).row
            out.append(row[C.KILLED] + row[C.INJURED])
    assert np.mean(on_site) < np.mean(away)
    assert stats.wilcoxon(on_site, away, alternative="less").pvalue < 0.01
