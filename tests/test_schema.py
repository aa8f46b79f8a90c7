"""Scenario loading and the schema's own checks: located errors, extends, --set, durations, docs."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from pydantic import ValidationError

from softtarget.sim.docs import schema_markdown
from softtarget.sim.errors import ScenarioError
from softtarget.sim.layout import lattice_grid, layout_for
from softtarget.sim.loader import load_scenario, parse_yaml, scenario_hash
from softtarget.sim.schema import POWERS, SCREEN_ROLES, Scenario, open_lanes

ROOT = Path(__file__).resolve().parent.parent

MINIMAL = """\
name: tiny
venue:
  width_m: 50
  height_m: 40
  perimeter: inner
  zones:
    inner: {kind: perimeter, rect: [0, 10, 50, 40]}
    gate: {kind: checkpoint, rect: [10, 4, 40, 10], lanes: 4}
    stage: {kind: attractor, rect: [10, 25, 40, 38]}
    out: {kind: exit, rect: [0, 20, 2, 26], width_m: 4}
threat:
  mix: {firearm: 1, blade: 1, pbied: 1}
configurations:
  base:
    staff:
      cops: {role: police, count: 2, post: gate}
  more:
    extends: base
    staff:
      guards: {role: security_guard, count: 4, post: gate}
run:
  seed: 7
  replications: 3
  duration_s: 2min
"""


def write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def problems(path: Path, overrides: tuple[str, ...] = ()) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        load_scenario(str(path), overrides)
    lines = [str(p) for p in info.value.problems]
    for line in lines:
        assert "\n" not in line and "Traceback" not in line
    return lines


def test_minimal_scenario_loads_with_defaults(tmp_path: Path) -> None:
    loaded = load_scenario(str(write(tmp_path, MINIMAL)))
    sc = loaded.scenario
    assert sc.run.duration_s == 120.0
    assert sc.crowd.speed.mean == pytest.approx(1.34)
    assert len(loaded.hash) == 64


def test_extends_merges_parent_and_child(tmp_path: Path) -> None:
    sc = load_scenario(str(write(tmp_path, MINIMAL))).scenario
    assert set(sc.configurations["more"].staff) == {"cops", "guards"}
    assert set(sc.configurations["base"].staff) == {"cops"}


def test_set_overrides_any_field_and_changes_hash(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL)
    plain = load_scenario(str(path))
    over = load_scenario(
        str(path), ["run.duration_s=15min", "configurations.more.staff.guards.count=9"]
    )
    assert over.scenario.run.duration_s == 900.0
    assert over.scenario.configurations["more"].staff["guards"].count == 9
    assert over.hash != plain.hash


def test_builtin_names_resolve() -> None:
    assert load_scenario("festival").scenario.name == "festival"


@pytest.mark.parametrize(
    ("edit", "line", "needle"),
    [
        (("  duration_s: 2min", "  duration_s: 12:30"), 24, "run.duration_s: '12:30' looks like"),
        (("count: 2, post", "count: -2, post"), 16, "staff.cops.count: -2 is out of range"),
        (("post: gate}\nrun", "post: nowhere}\nrun"), 20, "undefined zone 'nowhere'"),
        (("extends: base", "extends: missing"), 18, "extends unknown configuration 'missing'"),
        (("  seed: 7", "  seeed: 7"), 22, "run.seeed: unknown field 'seeed' (allowed: seed,"),
        (("kind: exit,", "kind: exitt,"), 10, "unknown value 'exitt' (allowed: entrance"),
        (("width_m: 50", "width_m: 500"), 4, None),  # valid: just a larger area
    ],
)
def test_bad_input_gives_located_one_line_message(
    tmp_path: Path, edit: tuple[str, str], line: int, needle: str | None
) -> None:
    text = MINIMAL.replace(*edit)
    assert text != MINIMAL
    path = write(tmp_path, text)
    if needle is None:
        load_scenario(str(path))
        return
    found = problems(path)
    assert len(found) == 1, found
    assert found[0].startswith(f"{path}:{line}: ")
    assert needle in found[0]


def test_every_error_is_reported_not_just_the_first(tmp_path: Path) -> None:
    text = MINIMAL.replace("count: 2, post", "count: -2, post").replace("  seed: 7", "  sed: 7")
    found = problems(write(tmp_path, text))
    assert len(found) == 2
    assert any(":16:" in f for f in found) and any(":22:" in f for f in found)


def test_extends_cycle_reported_once(tmp_path: Path) -> None:
    text = MINIMAL.replace("  base:\n    staff:", "  base:\n    extends: more\n    staff:")
    found = problems(write(tmp_path, text))
    assert len(found) == 1
    assert "extends cycle" in found[0]


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL.replace("  height_m: 40", "  height_m: [40"))
    found = problems(path)
    assert len(found) == 1
    assert found[0].startswith(f"{path}:") and "YAML syntax error" in found[0]


@pytest.mark.parametrize("content", ["", "   \n", "# only a comment\n"])
def test_empty_file(tmp_path: Path, content: str) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text(content)
    assert problems(path) == [f"{path}:1: the file is empty (allowed: a YAML mapping)"]


def test_not_a_mapping_and_duplicate_keys(tmp_path: Path) -> None:
    assert "expected a mapping" in problems(write(tmp_path, "- a\n- b\n"))[0]
    dup = MINIMAL.replace("  seed: 7", "  seed: 7\n  seed: 8")
    found = problems(write(tmp_path, dup))
    assert found == [f"{tmp_path / 's.yaml'}:23: seed: key given twice"]


def test_undefined_configuration_in_set_names_the_override(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL)
    found = problems(path, ("run.seed=abc",))
    assert found[0].startswith("--set run.seed=abc: run.seed:")


def test_yaml_12_scalars_no_sexagesimal_no_yes_no() -> None:
    data = parse_yaml("a: 12:30\nb: on\nc: no\nd: true\ne: 0x10\nf: 1e3\n", "x").data
    assert data == {"a": "12:30", "b": "on", "c": "no", "d": True, "e": 16, "f": 1000.0}


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("15min", 900), ("1h30min", 5400), ("2.5", 2.5)]
)
def test_durations(tmp_path: Path, text: str, seconds: float) -> None:
    path = write(tmp_path, MINIMAL.replace("duration_s: 2min", f"duration_s: {text}"))
    assert load_scenario(str(path)).scenario.run.duration_s == seconds


def test_hash_is_stable_and_content_based(tmp_path: Path) -> None:
    a = load_scenario(str(write(tmp_path, MINIMAL, "a.yaml")))
    b = load_scenario(str(write(tmp_path, "# same content\n" + MINIMAL, "b.yaml")))
    assert a.hash == b.hash == scenario_hash(a.scenario)


def test_non_utf8_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "latin.yaml"
    path.write_bytes(b"name: caf\xe9\n")
    assert "not valid UTF-8" in problems(path)[0]
    assert "no such file" in problems(tmp_path / "nope.yaml")[0]


def test_docs_are_current_with_the_models() -> None:
    doc = (ROOT / "docs" / "scenario-format.md").read_text()
    assert doc == schema_markdown(), "run: softtarget schema > docs/scenario-format.md"


# ------------------------------------------------ the schema validates on its own ---


def _data(text: str = MINIMAL) -> dict[str, Any]:
    return yaml.safe_load(text)


def _errors(data: dict[str, Any]) -> list[dict[str, Any]]:
    with pytest.raises(ValidationError) as info:
        Scenario.model_validate(data)
    return info.value.errors(include_url=False)


def test_model_validate_refuses_a_post_in_an_unknown_zone() -> None:
    data = _data(MINIMAL.replace("count: 4, post: gate}", "count: 4, post: nowhere}"))
    (err,) = _errors(data)
    assert err["loc"] == ("configurations", "more", "staff", "guards", "post")
    assert err["msg"] == "undefined zone 'nowhere' (allowed: control_room, inner, gate, stage, out)"
    assert err["ctx"]["allowed"] == "control_room, inner, gate, stage, out"


def test_model_validate_resolves_extends() -> None:
    sc = Scenario.model_validate(_data())
    assert set(sc.configurations["more"].staff) == {"cops", "guards"}
    assert set(sc.configurations["base"].staff) == {"cops"}
    assert sc.configurations["more"].extends == "base"
    # the resolved scenario validates again to the same
    assert Scenario.model_validate(sc.model_dump()) == sc


def test_model_validate_refuses_an_extends_cycle_and_an_unknown_parent() -> None:
    data = _data()
    data["configurations"]["base"]["extends"] = "more"
    (err,) = _errors(data)
    assert err["loc"][-1] == "extends" and err["type"] == "extends"
    assert err["msg"] in (
        "extends cycle: base -> more -> base",
        "extends cycle: more -> base -> more",
    )
    data = _data(MINIMAL.replace("extends: base", "extends: missing"))
    (err,) = _errors(data)
    assert err["loc"] == ("configurations", "more", "extends")
    assert err["msg"] == "extends unknown configuration 'missing' (allowed: base)"


@pytest.mark.parametrize(
    "edit",
    [
        ("count: 4, post: gate}", "count: 4, post: nowhere}"),
        ("kind: perimeter,", "kind: attractor,"),
        ("  mix: {firearm: 1, blade: 1, pbied: 1}", "  mix: {vehicle: 1}"),
        ("count: 4, post: gate}", "count: 4, post: gate}\n    screening: {lanes: {stage: 2}}"),
        ("count: 2, post: gate}", "count: 2, post: stage}"),
    ],
    ids=["post", "perimeter", "vehicle", "lanes", "screeners"],
)
def test_loader_and_model_validate_give_the_same_message(
    tmp_path: Path, edit: tuple[str, str]
) -> None:
    text = MINIMAL.replace(*edit)
    assert text != MINIMAL
    found = problems(write(tmp_path, text))
    errors = _errors(_data(text))
    assert len(found) == len(errors) >= 1
    for line, err in zip(found, errors, strict=True):
        path = ".".join(map(str, err["loc"]))
        assert line.endswith(f" {path}: {err['msg']}"), (line, err)


# ------------------------------------------------------- screeners at the lanes ---


def test_open_lanes_need_screeners_posted_at_the_checkpoint(tmp_path: Path) -> None:
    # the police go to the stage: base opens all 4 lanes (by default) with nobody to work them
    path = write(tmp_path, MINIMAL.replace("count: 2, post: gate}", "count: 2, post: stage}"))
    assert problems(path) == [
        f"{path}:14: configurations.base.screening: 4 lanes open at 'gate' (all it has) but no "
        "staff with the screen power posted there (allowed: post security_guard or police "
        "groups at 'gate', or set its lanes to 0)"
    ]
    # lanes written: the error is at them
    over = ("configurations.base.screening.lanes={gate: 2}",)
    (line,) = problems(path, over)
    assert line.startswith(
        "--set configurations.base.screening.lanes={gate: 2}: "
        "configurations.base.screening.lanes.gate: 2 lanes open at 'gate' but no staff"
    )
    # no lanes open, or a method that needs no screeners: nothing to staff
    for ok in ("lanes={gate: 0}", "method=visual", "method=none"):
        load_scenario(str(path), [f"configurations.base.screening.{ok}"])


def test_a_lane_needs_staff_per_lane_screeners(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL)
    over = "configurations.base.screening.staff_per_lane=3"
    (line,) = problems(path, (over,))
    assert "4 lanes open at 'gate' (all it has) but only 2 screeners posted there: a lane " in line
    assert "needs 3 (screening.staff_per_lane)" in line
    # 'more' adds 4 guards at the gate: 6 screeners work 2 lanes of 3
    sc = load_scenario(str(path), ["configurations.more.screening.staff_per_lane=3"]).scenario
    assert open_lanes(sc.configurations["more"], sc.venue, "gate") == 2
    assert open_lanes(sc.configurations["base"], sc.venue, "gate") == 2


def test_police_screen_and_stewards_do_not(tmp_path: Path) -> None:
    assert "screen" in POWERS["police"] and "screen" in POWERS["security_guard"]
    assert SCREEN_ROLES == ("security_guard", "police")
    text = MINIMAL.replace(
        "{role: police, count: 2, post: gate}", "{role: steward, count: 9, post: gate}"
    )
    found = problems(write(tmp_path, text))
    assert len(found) == 1 and "but no staff with the screen power posted there" in found[0]


# ------------------------------------------------- inherited problems, once and located ---


def test_a_problem_in_an_inherited_field_is_reported_once_where_it_is_written(
    tmp_path: Path,
) -> None:
    # written in base, inherited by more: reported once, on base's line
    path = write(tmp_path, MINIMAL.replace("count: 2, post: gate}", "count: 2, post: gat}"))
    found = problems(path)
    assert [f for f in found if "undefined zone 'gat'" in f] == [
        f"{path}:16: configurations.base.staff.cops.post: undefined zone 'gat' (allowed: "
        "control_room, inner, gate, stage, out)"
    ]


def test_an_inherited_field_wrong_only_in_the_child_is_still_reported(tmp_path: Path) -> None:
    """base's camera is watched by its operators; more makes them stewards."""
    text = MINIMAL.replace(
        "      cops: {role: police, count: 2, post: gate}\n",
        "      cops: {role: police, count: 2, post: gate}\n"
        "      ops: {role: cctv_operator, count: 1, post: control_room}\n"
        "    cameras:\n"
        "      cam: {at: [25, 20], watched_by: ops}\n",
    ).replace(
        "      guards: {role: security_guard, count: 4, post: gate}\n",
        "      guards: {role: security_guard, count: 4, post: gate}\n      ops: {role: steward}\n",
    )
    path = write(tmp_path, text)
    found = problems(path)
    assert found == [
        f"{path}:19: configurations.more.cameras.cam.watched_by: 'ops' is not a cctv_operator "
        "group of 'more' (allowed: none defined)"
    ]


# ------------------------------------------------------------------ geometry ---


def test_the_geometry_check_uses_the_models_lattice_with_the_fence() -> None:
    sc = Scenario.model_validate(_data())
    assert np.array_equal(lattice_grid(sc.venue).walkable, layout_for(sc.venue).grid.walkable)
    # the gate no longer reaches the fence: the field inside it cannot be reached
    data = _data(
        MINIMAL.replace("rect: [10, 4, 40, 10], lanes: 4", "rect: [10, 2, 40, 8], lanes: 4")
    )
    errors = _errors(data)
    assert [e["loc"] for e in errors] == [("venue", "zones", "stage"), ("venue", "zones", "out")]
    assert errors[0]["ctx"]["message"] == (
        "zone 'stage' cannot be reached from an entrance or checkpoint: walls or the fence "
        "close it off"
    )
    # without the fence it can
    data["venue"]["fence"] = False
    Scenario.model_validate(data)


# ------------------------------------------------------------------ defaults ---


def test_behavioural_numbers_default_to_the_former_constants() -> None:
    sc = Scenario.model_validate(_data())
    crowd, threat = sc.crowd, sc.threat
    assert (crowd.door_flow_pmps, crowd.flee_detour_m, crowd.sight_alarm_range_m) == (1.6, 200, 30)
    assert (crowd.occlusion_density_ppm2, crowd.max_reports_per_attacker) == (2.0, 10)
    assert (crowd.exposure_density_ppm2, crowd.queue_spacing_m, crowd.arrival_walk_m) == (
        5.5,
        0.6,
        10.0,
    )
    assert (threat.adaptive_threshold, threat.walk_speed_mps, threat.cell_spread_m) == (
        0.5,
        1.2,
        6.0,
    )
    lead = threat.reconnaissance_lead_s
    assert (lead.dist, lead.low, lead.high) == ("uniform", 0.0, 600.0)
    assert threat.vehicle.on_site_s == 10.0
    assert (threat.blade.chase_speed_mps, threat.blade.seek_range_m) == (2.0, 30.0)
    cops = sc.configurations["base"].staff["cops"]
    assert (cops.patrol_speed_mps, cops.intercept_range_m, cops.standoff_m) == (1.2, 3.0, 50.0)
    assert sc.configurations["base"].screening.staff_per_lane == 1
