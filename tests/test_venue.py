"""Venue templates and the plan drawing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from softtarget.sim.errors import ScenarioError
from softtarget.sim.loader import load_scenario
from softtarget.sim.model import SoftTargetModel
from softtarget.sim.plan import draw_plan
from softtarget.sim.sight import coverage_for
from softtarget.sim.templates import TEMPLATES


def scenario_file(tmp_path: Path, venue: str, extra: str = "") -> Path:
    path = tmp_path / "t.yaml"
    path.write_text(
        f"name: t\nvenue: {venue}\n{extra}threat: {{mix: {{firearm: 1}}}}\n"
        "configurations:\n  a:\n    screening: {method: none}\n"
        "    staff:\n      cops: {role: police, count: 2, patrol: []}\n"
        "run: {duration_s: 1min}\n"
    )
    return path


@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_each_template_validates_and_builds_a_model(tmp_path: Path, template: str) -> None:
    loaded = load_scenario(str(scenario_file(tmp_path, f"{{template: {template}}}")))
    venue = loaded.scenario.venue
    kinds = {z.kind for z in venue.zones.values()}
    assert {"attractor", "exit"} <= kinds
    if template != "station":
        assert venue.perimeter is not None and "checkpoint" in kinds
    model = SoftTargetModel(loaded.scenario, "a", 1)
    for _ in range(10):
        model.step()


def test_template_parameters_change_the_venue(tmp_path: Path) -> None:
    small = load_scenario(str(scenario_file(tmp_path, "{template: festival, gates: 1}")))
    big = load_scenario(str(scenario_file(tmp_path, "{template: festival, gates: 4, exits: 6}")))
    gates = [z for z in big.scenario.venue.zones.values() if z.kind == "checkpoint"]
    exits = [n for n in big.scenario.venue.zones if n.startswith("exit_")]
    assert len(gates) == 4 and len(exits) == 6
    assert small.hash != big.hash


def test_zones_written_beside_a_template_are_added(tmp_path: Path) -> None:
    venue = "{template: festival, zones: {merch: {kind: attractor, rect: [200, 40, 230, 60]}}}"
    sc = load_scenario(str(scenario_file(tmp_path, venue))).scenario
    assert "merch" in sc.venue.zones and "main_stage" in sc.venue.zones


def test_bad_template_parameters_are_located(tmp_path: Path) -> None:
    path = scenario_file(tmp_path, "{template: festival, gatez: 2, gates: 0}")
    with pytest.raises(ScenarioError) as info:
        load_scenario(str(path))
    lines = [str(p) for p in info.value.problems]
    assert any(line.startswith(f"{path}:2: venue.gatez: unknown field") for line in lines)
    assert any("venue.gates" in line for line in lines)
    path = scenario_file(tmp_path, "{template: castle}")
    with pytest.raises(ScenarioError, match="unknown template 'castle'"):
        load_scenario(str(path))


def test_plan_names_every_zone_and_staff_group() -> None:
    sc = load_scenario("festival").scenario
    fig = draw_plan(sc, "public_private")
    texts = " ".join(t.get_text() for t in fig.axes[0].texts)
    for name in sc.venue.zones:
        assert name in texts
    for group in sc.configurations["public_private"].staff:
        assert group in texts
    for camera in sc.configurations["public_private"].cameras:
        assert f"cam {camera}" in texts


def test_plan_shades_what_the_cameras_cover_and_not_their_blind_spots() -> None:
    sc = load_scenario("festival").scenario
    assert not draw_plan(sc, "public_only").axes[0].images  # no cameras, no coverage
    (image,) = draw_plan(sc, "public_private").axes[0].images
    shaded = np.isfinite(np.asarray(image.get_array(), dtype=float))
    cams = sc.configurations["public_private"].cameras
    assert shaded.any() and not shaded.all()
    assert shaded.sum() == sum(coverage_for(sc.venue, c) for c in cams.values()).astype(bool).sum()


WALLED = """\
name: walled
venue:
  width_m: 40
  height_m: 30
  zones:
    gate: {kind: entrance, rect: [0, 0, 5, 3]}
    stage: {kind: attractor, rect: [30, 20, 38, 28]}
    out: {kind: exit, rect: [0, 27, 3, 30]}
  walls:
    - rect: [25, 15, 40, 16]
    - rect: [25, 15, 26, 30]
threat: {mix: {firearm: 1}}
configurations: {a: {}}
"""


def test_walls_that_close_off_an_attractor_name_the_zone(tmp_path: Path) -> None:
    path = tmp_path / "walled.yaml"
    path.write_text(WALLED)
    with pytest.raises(ScenarioError) as info:
        load_scenario(str(path))
    (problem,) = info.value.problems
    assert str(problem).startswith(f"{path}:7: venue.zones.stage: zone 'stage' cannot be reached")
    # a door in the wall opens it again
    path.write_text(WALLED.replace("[25, 15, 26, 30]", "[25, 18, 26, 30]"))
    load_scenario(str(path))


def test_an_exit_inside_a_wall_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "w.yaml"
    path.write_text(
        WALLED.replace("    - rect: [25, 15, 40, 16]\n", "    - rect: [0, 26, 4, 30]\n")
    )
    with pytest.raises(ScenarioError, match="zone 'out' lies entirely inside walls"):
        load_scenario(str(path))


def test_doors_and_gates_keep_their_drawn_width():
    from softtarget.sim.layout import opening_widths

    for name in ("festival", "stadium", "station", "worship"):
        for o in opening_widths(load_scenario(name).scenario.venue):
            assert not o.differs, (name, o)


def test_validate_warns_where_an_opening_is_narrower_than_drawn():
    from click.testing import CliRunner

    from softtarget.cli import main

    # exit_west's zone runs 16 m along the west edge: a 30 m door cannot fit in it
    res = CliRunner().invoke(
        main, ["validate", "festival", "--set", "venue.zones.exit_west.width_m=30"]
    )
    assert res.exit_code == 0, res.output
    assert "warning: venue.zones.exit_west: opening drawn 30 m wide, represented 16.00 m" in (
        res.stderr if hasattr(res, "stderr") else res.output
    )
    ok = CliRunner().invoke(main, ["validate", "festival"])
    assert "warning" not in ok.output
