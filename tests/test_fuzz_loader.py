"""Fuzzing the scenario loader: no document, however broken, produces a traceback.

Documents are the valid ``MINIMAL`` scenario mutated in type, range, key name, nesting, YAML
syntax and encoding. Each either validates, or ``load_scenario`` raises ``ScenarioError``
whose every problem is one line starting with the file path (and ``:LINE:`` where a line
applies); ``softtarget validate`` on the file exits 0 or 2, never 1. The profile is
derandomised so CI is reproducible; the three tests run 1,200 examples in all.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from softtarget.cli import main
from softtarget.sim.errors import ScenarioError
from softtarget.sim.loader import load_scenario

from .test_schema import MINIMAL

FUZZ = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)
BASE: dict[str, Any] = yaml.safe_load(MINIMAL)
RUNNER = CliRunner()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def check(folder: Path, raw: bytes) -> None:
    """``raw`` as a scenario file: valid, or located one-line problems; validate exits 0/2."""
    path = folder / "doc.yaml"
    path.write_bytes(raw)
    try:
        load_scenario(str(path))
    except ScenarioError as exc:
        assert exc.problems
        for problem in exc.problems:
            text = str(problem)
            assert len(text.splitlines()) == 1, text
            assert text.startswith(f"{path}:") or text == str(path), text
            if problem.line is not None:
                assert text.startswith(f"{path}:{problem.line}: "), text
    result = RUNNER.invoke(main, ["validate", str(path)])
    assert result.exit_code in (0, 2), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert "Traceback" not in result.output


# ----------------------------------------------------------------------- strategies ---

SPECIAL_NUMBERS = [0, -1, 1, 0.5, -0.0, 1e308, -1e308, math.inf, -math.inf, math.nan, 10**400]
scalars = st.one_of(
    st.sampled_from(SPECIAL_NUMBERS),
    st.integers(-500, 500),
    st.floats(-500, 500, allow_nan=False),
    st.booleans(),
    st.none(),
    st.text(max_size=12),
    st.sampled_from(["12:30", "15min", "1h30min", "abc", "", "firearm", "exitt", "base", "\n"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=8,
)
keys = st.one_of(
    st.text(max_size=10),
    st.sampled_from(["seed", "sed", "kind", "rect", "extends", "1", "<<", "dist", "venue"]),
    st.integers(-3, 3),
    st.none(),
    st.booleans(),
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


def _get(node: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        node = node[part]
    return node


@st.composite
def structured(draw: st.DrawFn) -> bytes:
    """MINIMAL with a few of its values, keys or nestings changed, dumped as YAML."""
    doc = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(doc) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent, last = _get(doc, path[:-1]), path[-1]
        op = draw(st.sampled_from(["value", "delete", "rename", "wrap", "add", "number"]))
        if op == "value":
            parent[last] = draw(values)
        elif op == "number":
            parent[last] = draw(st.sampled_from(SPECIAL_NUMBERS)) if draw(st.booleans()) else -5
        elif op == "delete":
            del parent[last]
        elif op == "rename" and isinstance(parent, dict):
            parent[draw(keys)] = parent.pop(last)
        elif op == "wrap":
            parent[last] = [parent[last]] if draw(st.booleans()) else {"x": parent[last]}
        elif op == "add" and isinstance(parent, dict):
            parent[draw(keys)] = draw(values)
    text = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
    return text.encode("utf-8", "surrogatepass")


@st.composite
def text_edits(draw: st.DrawFn) -> bytes:
    """MINIMAL's text with characters, lines or indentation broken."""
    text = MINIMAL
    for _ in range(draw(st.integers(1, 3))):
        pos = draw(st.integers(0, len(text)))
        op = draw(st.sampled_from(["insert", "delete", "dupline", "dropline", "indent", "yaml"]))
        lines = text.splitlines(keepends=True)
        k = draw(st.integers(0, len(lines) - 1))
        if op == "insert":
            text = text[:pos] + draw(st.text(max_size=5)) + text[pos:]
        elif op == "delete":
            text = text[:pos] + text[pos + draw(st.integers(1, 8)) :]
        elif op == "dupline":
            text = "".join([*lines[: k + 1], lines[k], *lines[k + 1 :]])
        elif op == "dropline":
            text = "".join([*lines[:k], *lines[k + 1 :]])
        elif op == "indent":
            text = "".join([*lines[:k], draw(st.sampled_from([" ", "\t", "   "])) + lines[k],
                            *lines[k + 1 :]])  # fmt: skip
        else:
            snippet = draw(
                st.sampled_from(
                    ["&a ", "*a", "*nope", "!!python/object:os.system ", "!!binary ", "? ",
                     "{", "[", "}", "]", ": ", "- ", "'", '"', "|\n", "&x [*x]", "<<: *a\n",
                     '"\\ud800"', '"\\x01"', "%YAML 1.1\n---\n", "---\n", "...\n", "#"]
                )
            )  # fmt: skip
            text = text[:pos] + snippet + text[pos:]
    return text.encode("utf-8", "surrogatepass")


@st.composite
def byte_edits(draw: st.DrawFn) -> bytes:
    """MINIMAL's bytes in another encoding, with a BOM, NULs or bytes that are not UTF-8."""
    raw = MINIMAL.encode()
    op = draw(st.sampled_from(["bom", "nul", "bytes", "utf16", "latin1", "truncate", "control"]))
    pos = draw(st.integers(0, len(raw)))
    if op == "bom":
        raw = b"\xef\xbb\xbf" + raw
    elif op == "nul":
        raw = raw[:pos] + b"\x00" + raw[pos:]
    elif op == "bytes":
        raw = raw[:pos] + draw(st.binary(min_size=1, max_size=6)) + raw[pos:]
    elif op == "utf16":
        raw = MINIMAL.encode(draw(st.sampled_from(["utf-16", "utf-16-le", "utf-32"])))
    elif op == "latin1":
        raw = MINIMAL.replace("tiny", "café").encode("latin-1")
    elif op == "truncate":
        raw = raw[:pos]
    else:
        raw = raw[:pos] + bytes([draw(st.integers(1, 31))]) + raw[pos:]
    return raw


# ---------------------------------------------------------------------------- tests ---


@settings(FUZZ, max_examples=500)
@given(doc=structured())
def test_structured_mutations_never_crash(folder: Path, doc: bytes) -> None:
    check(folder, doc)


@settings(FUZZ, max_examples=400)
@given(doc=text_edits())
def test_yaml_syntax_mutations_never_crash(folder: Path, doc: bytes) -> None:
    check(folder, doc)


@settings(FUZZ, max_examples=300)
@given(doc=byte_edits())
def test_encoding_mutations_never_crash(folder: Path, doc: bytes) -> None:
    check(folder, doc)


@pytest.mark.parametrize(
    "raw",
    [
        b"a: &x [*x]\n",  # an alias inside its own anchor
        b"name: &x {a: *x}\n",
        b"a: " + b"[" * 3000 + b"]" * 3000,  # deeper than the parser's recursion
        b"a: &a [x,x,x,x,x,x,x,x,x]\n"
        + b"".join(
            f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n".encode()
            for p, n in zip("abcdefg", "bcdefgh", strict=False)
        ),  # "billion laughs"
        MINIMAL.replace("width_m: 50", "width_m: 1" + "0" * 400).encode(),
        MINIMAL.replace("duration_s: 2min", "duration_s: " + "9" * 5000).encode(),
        MINIMAL.replace("width_m: 50", "width_m: 1e308").encode(),
        MINIMAL.replace("name: tiny", 'name: "\\ud800"').encode(),
        MINIMAL.replace("name: tiny", "name: ti\x01ny").encode(),
        MINIMAL.replace("stage:", '"st\\nage":', 1).encode(),
        MINIMAL.replace("  base:\n", "  1:\n").replace("extends: base", "extends: 2").encode(),
    ],
    ids=[
        "recursive-list",
        "recursive-map",
        "deep",
        "alias-bomb",
        "huge-int",
        "int-too-long",
        "huge-float",
        "surrogate",
        "control-char",
        "newline-in-key",
        "int-config-names",
    ],
)
def test_found_by_fuzzing(folder: Path, raw: bytes) -> None:
    """Inputs that crashed the loader before (each fixed in sim/loader, units or schema)."""
    check(folder, raw)
    with pytest.raises(ScenarioError):
        load_scenario(str(folder / "doc.yaml"))


def test_extending_a_configuration_that_is_not_a_mapping(folder: Path) -> None:
    """Found by fuzzing: a list-valued configuration extended by another crashed extends."""
    cops = "  base:\n    staff:\n      cops: {role: police, count: 2, post: gate}\n"
    text = MINIMAL.replace(cops, "  base: []\n")
    assert text != MINIMAL
    path = folder / "listcfg.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(str(path))
    assert all("\n" not in str(p) for p in info.value.problems)
    assert any("configurations.base" in str(p) for p in info.value.problems)
