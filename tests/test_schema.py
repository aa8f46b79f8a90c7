"""Scenario loading: located one-line errors, extends, --set, durations, docs currency."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from sim.docs import schema_markdown
from sim.errors import ScenarioError
from sim.loader import load_scenario, parse_yaml, scenario_hash

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
      cops: {role: police, count: 2, post: stage}
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
        (("post: stage}", "post: nowhere}"), 16, "undefined zone 'nowhere'"),
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
