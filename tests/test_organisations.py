"""Organisations and the links between them: routing, sharing rules, liaison, rooms, errors.

The venue is the small one of ``tests/test_schema.py`` with a single configuration: three
stewards (skill 1, so they notice the attacker as soon as he arrives at 30 s) on the stage,
two police officers at the gate, no screening, a blade attack at 60 s. Delays are fixed so
that every expected time is exact.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from softtarget.sim import columns as C
from softtarget.sim.errors import ScenarioError
from softtarget.sim.loader import load_scenario
from softtarget.sim.model import SoftTargetModel, simulate
from softtarget.sim.organisations import Graph
from softtarget.sim.runs import RunTask, run_seed

from .test_schema import MINIMAL
from .test_security import CONSPICUOUS

TINY = MINIMAL[: MINIMAL.index("  more:")] + MINIMAL[MINIMAL.index("run:") :]
BASE = [
    *CONSPICUOUS,
    "configurations.base.staff={stewards: {role: steward, count: 3, post: stage, skill: 1, "
    "view_range_m: 100, false_alarms_per_h: 0}, cops: {role: police, count: 2, post: gate, "
    "skill: 0, escalate_probability: 1, false_alarms_per_h: 0}}",
    "configurations.base.coordination.staff_radio_to_control={delay_s: 0, loss: 0}",
    "run.dt_s=0.5",
]
#: Police and a security company, declared as the defaults would make them.
ORGS = (
    "configurations.base.organisations={police: {side: public, staff: [cops], powers: "
    "[dispatch, respond, emergency_calls]}, security: {side: private, staff: [stewards], "
    "powers: [respond]}}"
)


def _load(tmp_path: Path, overrides: list[str]):
    path = tmp_path / "s.yaml"
    path.write_text(TINY)
    return load_scenario(str(path), [*BASE, *overrides])


def _run(loaded, replicate: int = 0):
    seed = run_seed(loaded.scenario.run.seed, replicate)
    task = RunTask(loaded.scenario, loaded.hash, "base", replicate, seed, check_invariants=True)
    return simulate(task)


def _events(out, kind: str):
    ev = out.events
    return ev[ev[C.KIND] == kind]


def test_the_default_graph_is_the_coordination_s_chain() -> None:
    sc = load_scenario("festival").scenario
    public = Graph(sc.configurations["public_only"])
    assert list(public.parties) == ["police"] and public.ways == {}
    assert public.dispatch == public.emergency == "police"
    both = Graph(sc.configurations["public_private"])
    assert list(both.parties) == ["police", "security"]
    assert list(both.ways) == ["joint_to_police"]
    assert both.group_party["stewards_stage"] == "security"
    assert both.group_party["armed_unit"] == "police"
    assert both.next_way("security", "sighting").name == "joint_to_police"
    assert both.next_way("police", "alarm") is None


def test_declaring_the_default_graph_changes_nothing(tmp_path: Path) -> None:
    implicit = _load(tmp_path, [])
    explicit = _load(
        tmp_path,
        [
            ORGS,
            "configurations.base.links={private_to_police: {from: security, to: police, "
            "delay_s: {dist: lognormal, median: 300, sigma: 0.6}, loss: 0.2}}",
        ],
    )
    for replicate in range(3):
        a, b = _run(implicit, replicate).row, _run(explicit, replicate).row
        for key in (C.RUN_ID, C.WALL_TIME_S):
            a.pop(key), b.pop(key)
        assert a == pytest.approx(b, nan_ok=True)


def _link(**fields: str) -> str:
    body = ", ".join(f"{k}: {v}" for k, v in fields.items())
    return "{" + body + "}"


def test_a_sighting_that_may_not_be_shared_never_reaches_the_police(tmp_path: Path) -> None:
    only_alarms = _link(**{"from": "security", "to": "police", "delay_s": "0"}, carries="[alarm]")
    out = _run(_load(tmp_path, [ORGS, f"configurations.base.links={{to_police: {only_alarms}}}"]))
    row = out.row
    assert row[C.DETECTED_BEFORE_ATTACK]  # the stewards saw him before the attack ...
    assert row[C.T_POLICE_ALERTED_S] >= 0.0  # ... the police hear of the attack alone
    stuck = _events(out, "message_stuck")
    assert (stuck[C.T_S] < 60.0).any() and stuck[C.DETAIL].str.contains("sighting").all()
    shared = _link(**{"from": "security", "to": "police", "delay_s": "0"})
    row = _run(_load(tmp_path, [ORGS, f"configurations.base.links={{to_police: {shared}}}"])).row
    assert row[C.T_POLICE_ALERTED_S] == row[C.T_DETECT_S] < 0.0  # shared: at once


def test_a_liaison_cuts_the_private_to_police_delay_to_its_own_hop(tmp_path: Path) -> None:
    slow = _link(**{"from": "security", "to": "police", "delay_s": "300"})
    liaison = _link(**{"from": "security", "to": "police", "via": "liaison", "delay_s": "5"})
    links = f"configurations.base.links={{private_to_police: {slow}, liaison: {liaison}}}"
    for replicate in range(2):
        out = _run(_load(tmp_path, [ORGS, links]), replicate)
        assert out.row[C.T_POLICE_ALERTED_S] - out.row[C.T_DETECT_S] == pytest.approx(5.0)
        hops = _events(out, "message")[C.DETAIL]
        assert hops.str.startswith("liaison -> room:police").any()
        assert not hops.str.startswith("private_to_police").any()
        assert out.row[C.ALERT_PATH] == "security:radio > liaison"
        assert out.row[C.FIRST_TO_KNOW] == "security"
        assert out.row[C.T_FIRST_ROOM_S] == out.row[C.T_DETECT_S]
        _check_messages(out)


def _check_messages(out) -> None:
    """messages.parquet agrees with the events log and with itself."""
    msgs = out.messages
    assert list(msgs[C.MESSAGE_ID]) == list(range(len(msgs)))
    parents = msgs[C.PARENT]
    assert ((parents == -1) | ((parents >= 0) & (parents < msgs[C.MESSAGE_ID]))).all()
    arrived = msgs[C.T_ARRIVED_S].notna()
    assert (msgs.loc[arrived, C.T_ARRIVED_S] >= msgs.loc[arrived, C.T_SENT_S]).all()
    assert out.row[C.MESSAGES_LOST] == int(msgs[C.LOST].sum())
    assert msgs.loc[msgs[C.LOST], C.T_ARRIVED_S].isna().all()
    delivered = (msgs[C.HOP] != "in_room") & arrived
    assert delivered.sum() == len(_events(out, "message"))


def _reports_at_once(loaded, stewards: int | None = None) -> list[tuple]:
    """Events of 50 s after ``stewards`` (all by default) raise a false alarm at t = 0.

    Over a radio hop with no delay, the reports reach their room together at the first
    delivery (0.5 s): what a room or a link does with several messages at once.
    """
    sc = loaded.scenario
    model = SoftTargetModel(sc, "base", run_seed(sc.run.seed, 0))
    try:
        for s in [s for s in model.staff.members if s.group == "stewards"][:stewards]:
            model.chain.staff_report(s, -1, "false_alarm")
        for _ in range(100):
            model.step()
        return list(model.events)
    finally:
        model.close()


def test_a_full_control_room_delays_the_next_message(tmp_path: Path) -> None:
    room = ORGS.replace(
        "powers: [respond]}", "powers: [respond], room: {handles: 1, handle_s: 20}}"
    )
    loaded = _load(tmp_path, [room, "threat.probability=0"])
    handled = [e[0] for e in _reports_at_once(loaded, 2) if e[1] == "message_handled"]
    assert handled == [20.5, 40.5]  # taken up at the first delivery (0.5 s), one at a time


def test_a_link_with_capacity_one_carries_one_message_at_a_time(tmp_path: Path) -> None:
    line = _link(**{"from": "security", "to": "police", "delay_s": "10", "capacity": "1"})
    loaded = _load(
        tmp_path, [ORGS, f"configurations.base.links={{phone: {line}}}", "threat.probability=0"]
    )
    events = _reports_at_once(loaded)
    arrived = [e[0] for e in events if e[1] == "message" and e[3].startswith("phone")]
    assert arrived == [10.5, 20.5, 30.5]  # three stewards' reports, sent at 0.5 s


def test_an_informal_contact_reaches_the_police_when_the_room_does_not(tmp_path: Path) -> None:
    lost = _link(**{"from": "security", "to": "police", "delay_s": "0", "loss": "1"})
    knows = _link(**{"from": "stewards", "to": "cops", "via": "informal", "delay_s": "5"})
    links = f"configurations.base.links={{private_to_police: {lost}, knows: {knows}}}"
    out = _run(_load(tmp_path, [ORGS, links]))
    row = out.row
    # 5 s to an officer at the gate, then police_to_police (10 s) to the police room
    assert row[C.T_POLICE_ALERTED_S] - row[C.T_DETECT_S] == pytest.approx(15.0)
    assert _events(out, "message")[C.DETAIL].str.startswith("knows -> staff:").any()
    assert row[C.ALERT_PATH] == "knows > police:radio"
    assert row[C.MESSAGES_LOST] >= 1  # the room's report to the police
    _check_messages(out)
    no_contact = _run(_load(tmp_path, [ORGS, f"configurations.base.links={{x: {lost}}}"])).row
    assert math.isnan(no_contact[C.T_POLICE_ALERTED_S]) or no_contact[C.T_POLICE_ALERTED_S] >= 0


THREE = [
    "configurations.base.staff={stewards: {role: steward, count: 3, post: stage, skill: 1, "
    "view_range_m: 100}, cops: {role: police, count: 2, post: gate, skill: 0}, cctv: {role: "
    "cctv_operator, count: 1, post: control_room, skill: 1}, transit: {role: transit_staff, "
    "count: 2, post: gate, skill: 0}}",
    "configurations.base.cameras={stage_cam: {at: [25, 20], facing_deg: 90, fov_deg: 120, "
    "range_m: 30}}",
    "configurations.base.organisations={police: {side: public, staff: [cops], powers: "
    "[dispatch, emergency_calls]}, venue: {side: private, staff: [stewards, cctv], powers: "
    "[respond], room: {handles: 2, handle_s: 5}, cost_per_hour_eur: 60}, operator: {side: "
    "private, staff: [transit], powers: []}}",
    "configurations.base.links={liaison: {from: venue, to: police, via: liaison, delay_s: 20}, "
    "cctv_share: {from: venue, to: police, via: information_system, delay_s: 2, carries: "
    "[image]}, operator_phone: {from: operator, to: venue, via: phone, delay_s: 60}, "
    "knows: {from: stewards, to: cops, via: informal, delay_s: 10}}",
]


def test_three_organisations_with_a_liaison_a_shared_system_and_an_informal_link(
    tmp_path: Path,
) -> None:
    loaded = _load(tmp_path, THREE)
    cfg = loaded.scenario.configurations["base"]
    graph = Graph(cfg)
    assert graph.next_way("venue", "image").name == "cctv_share"  # 2 s: images go this way
    assert graph.next_way("venue", "sighting").name == "liaison"  # it may not carry these
    assert graph.next_way("operator", "alarm").name == "operator_phone"
    out = _run(loaded)
    hops = set(_events(out, "message")[C.DETAIL].str.split(" ").str[0])
    assert {"venue:radio", "knows", "liaison", "cctv_share"} <= hops
    assert not math.isnan(out.row[C.T_POLICE_ALERTED_S])
    plain = _run(_load(tmp_path, [THREE[0], THREE[1]])).row[C.STAFF_COST_EUR]
    assert out.row[C.STAFF_COST_EUR] == pytest.approx(plain + 60 * cfg.shift_h)


@pytest.mark.parametrize(
    ("overrides", "where", "what"),
    [
        (["configurations.base.links={x: {from: security, to: nowhere, delay_s: 1}}"],
         "configurations.base.links.x.to", "undefined organisation or staff group 'nowhere'"),
        ([ORGS.replace("staff: [stewards], ", "")],
         "configurations.base.organisations", "staff group 'stewards' belongs to no organisation"),
        ([ORGS.replace("staff: [cops]", "staff: [cops, stewards]")],
         "configurations.base.organisations.security.staff.0", "already belongs to 'police'"),
        ([ORGS.replace("dispatch, ", "")],
         "configurations.base.organisations", "exactly one organisation must hold the dispatch"),
        ([ORGS.replace("respond, ", "").replace("powers: [respond]", "powers: []")],
         "configurations.base.organisations", "no organisation may order the response"),
        ([ORGS.replace("powers: [respond]}", "powers: [respond]}, other: {side: private, "
                       "powers: [respond]}"),
          "configurations.base.links={a: {from: security, to: other, delay_s: 1}, b: {from: "
          "other, to: security, delay_s: 1}}"],
         "configurations.base.organisations.security", "can never reach 'police'"),
    ],
)  # fmt: skip
def test_bad_graphs_get_located_errors(
    tmp_path: Path, overrides: list[str], where: str, what: str
) -> None:
    with pytest.raises(ScenarioError) as info:
        _load(tmp_path, overrides)
    lines = [str(p) for p in info.value.problems]
    assert any(where in line and what in line for line in lines), lines


def test_an_app_takes_visitors_reports_straight_to_the_room(tmp_path: Path) -> None:
    seen = [
        "crowd.initial_inside=200",
        "crowd.notice_skill=1",
        "configurations.base.staff.stewards.skill=0",
        "threat.start_s=100",
    ]
    app = [
        "configurations.base.citizens={report_probability: 1, app_share: 1, app_to: security, "
        "app: {delay_s: 7}}",
    ]
    out = _run(_load(tmp_path, [ORGS, *seen, *app]))
    msgs = out.messages
    reports = msgs[msgs[C.SENDER] == "visitor"]
    assert len(reports) and (reports[C.HOP] == "app").all()  # every report goes by the app
    assert (reports[C.RECEIVER] == "room:security").all()
    assert (reports[C.T_ARRIVED_S] - reports[C.T_SENT_S] == 7.0).all()
    assert out.row[C.FIRST_TO_KNOW] == "security"
    without = _run(_load(tmp_path, [ORGS, *seen])).messages
    told = without[without[C.SENDER] == "visitor"]
    assert len(told) and (told[C.HOP] == "visitor_to_staff").all()


def test_an_app_needs_an_organisation_to_reach(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError) as info:
        _load(tmp_path, ["configurations.base.citizens={app_share: 0.5, app_to: nobody}"])
    assert any("citizens.app_to" in str(p) and "nobody" in str(p) for p in info.value.problems)


def test_a_room_s_handling_does_not_free_a_place_on_a_full_link(tmp_path: Path) -> None:
    """Messages from a link of capacity 1 into a busy room: the link still carries one at a time.

    The police room handles each message for 1 s; three reports set out together on a phone
    line of capacity 1 and 10 s, so they arrive at 10, 20 and 30 s after sending whatever the
    room does with them.
    """
    line = _link(**{"from": "security", "to": "police", "delay_s": "10", "capacity": "1"})
    police = "room: {handles: 1, handle_s: 1}, powers: [dispatch"
    orgs = ORGS.replace("powers: [dispatch", police, 1)
    loaded = _load(tmp_path, [orgs, f"configurations.base.links={{phone: {line}}}",
                              "threat.probability=0"])  # fmt: skip
    events = _reports_at_once(loaded)
    arrived = [e[0] for e in events if e[1] == "message" and e[3].startswith("phone")]
    handled = [e[0] for e in events if e[1] == "message_handled"]
    assert arrived == [10.5, 20.5, 30.5]
    assert handled == [11.5, 21.5, 31.5]


def test_a_staff_group_may_share_its_name_with_a_default_organisation(tmp_path: Path) -> None:
    """A plan without declared organisations whose guards are called "security" and whose
    officers are called "police" runs as if they had other names (the nodes are apart)."""
    renamed = [
        "configurations.base.staff={security: {role: steward, count: 3, post: stage, skill: 1, "
        "view_range_m: 100, false_alarms_per_h: 0}, police: {role: police, count: 2, post: "
        "gate, skill: 0, escalate_probability: 1, false_alarms_per_h: 0}}",
    ]
    same, other = _run(_load(tmp_path, renamed)).row, _run(_load(tmp_path, [])).row
    graph = Graph(_load(tmp_path, renamed).scenario.configurations["base"])
    assert graph.group_party == {"security": "security", "police": "police"}
    assert graph.contacts("security") == [] and graph.reaches("security", "alarm")
    for key in (C.RUN_ID, C.WALL_TIME_S):
        same.pop(key), other.pop(key)
    assert same == pytest.approx(other, nan_ok=True)
    with pytest.raises(ScenarioError) as info:  # declared, the two would be ambiguous
        _load(tmp_path, [*renamed, ORGS.replace("[cops]", "[police]").replace(
            "[stewards]", "[security]")])  # fmt: skip
    assert any("names both an organisation and a staff group" in str(p)
               for p in info.value.problems)  # fmt: skip
