"""docs/architecture.md is kept true: its modules exist and its step order is the code's."""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import textwrap
from pathlib import Path

import pytest

from softtarget.sim import model as model_module

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "architecture.md").read_text()

#: The modules of the model proper: each small enough to read at once.
MODEL_MODULES = [
    "crowd",
    "people",
    "exits",
    "screening",
    "staff",
    "detection",
    "coordination",
    "organisations",
    "response",
    "density",
    "model",
    "threat/__init__",
    "threat/plan",
    "threat/attacker",
    "threat/targets",
    "threat/firearm",
    "threat/blade",
    "threat/pbied",
    "threat/vehicle",
]


def _named_modules() -> list[str]:
    return sorted(set(re.findall(r"`(softtarget\.(?:sim|analysis)(?:\.\w+)+)`", DOC)))


def test_the_document_names_the_mechanisms():
    assert len(_named_modules()) >= 20


@pytest.mark.parametrize("name", _named_modules())
def test_every_module_the_document_names_imports(name):
    """A module, or a name in one (``softtarget.sim.runs.streams``)."""
    try:
        importlib.import_module(name)
    except ModuleNotFoundError:
        module, _, attr = name.rpartition(".")
        assert hasattr(importlib.import_module(module), attr), name


def test_the_step_order_in_the_document_is_the_code_s():
    written = re.findall(r"^\d+\. `(\w+\.\w+)`", DOC, flags=re.M)
    source = textwrap.dedent(inspect.getsource(model_module.SoftTargetModel.step))
    calls = []
    for statement in ast.walk(ast.parse(source)):  # calls made for what they do, not a value
        node = statement.value if isinstance(statement, ast.Expr) else None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            if (
                isinstance(owner, ast.Attribute)
                and isinstance(owner.value, ast.Name)
                and owner.value.id == "self"
            ):
                calls.append((node.lineno, f"{owner.attr}.{node.func.attr}"))
    assert written == [name for _, name in sorted(calls)]


def test_every_mechanism_in_the_table_is_a_model_attribute():
    rows = re.findall(r"^\| `(\w+)` \| `(softtarget\.sim\.[\w.]+)` \|", DOC, flags=re.M)
    assert {"crowd", "screening", "staff", "threat", "detection", "chain", "response"} <= {
        attr for attr, _ in rows
    }
    source = inspect.getsource(model_module.SoftTargetModel.__init__)
    for attr, _ in rows:
        assert f"self.{attr} = " in source, attr


@pytest.mark.parametrize("name", MODEL_MODULES)
def test_model_modules_are_small_and_so_are_their_functions(name):
    path = ROOT / "sim" / f"{name}.py"
    text = path.read_text()
    assert len(text.splitlines()) <= 400, f"{path.name}: {len(text.splitlines())} lines"
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = node.end_lineno - node.lineno + 1
            assert length <= 80, f"{name}.{node.name}: {length} lines"


#: numpy functions whose implementation numpy picks for the CPU and whose last bits differ
#: between them (measured: AVX-512 against AVX2). sin, cos, hypot and sqrt agree.
CPU_DEPENDENT = {
    "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "power", "float_power", "tan",
    "tanh", "arctan", "arctan2", "arcsin", "arccos", "cbrt",
}  # fmt: skip


def _compiled(node: ast.FunctionDef) -> bool:
    """Whether numba compiles ``node`` (its maths is LLVM's, the same on every CPU)."""
    for d in node.decorator_list:
        f = d.func if isinstance(d, ast.Call) else d
        if (isinstance(f, ast.Name) and f.id == "njit") or (
            isinstance(f, ast.Attribute) and f.attr == "njit"
        ):
            return True
    return False


def _cpu_dependent_calls(tree: ast.AST) -> list[str]:
    """Unstable sorts and CPU-dependent numpy maths outside numba-compiled functions."""
    found: list[str] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.FunctionDef) and _compiled(node):
            return
        numpy_name = isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
        if numpy_name and node.value.id == "np" and node.attr in CPU_DEPENDENT:
            found.append(f"line {node.lineno}: np.{node.attr}")
        call = isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
        method = node.func.attr if call else None
        if method in ("argsort", "argpartition"):  # a sort of values alone cannot differ
            stable = any(
                k.arg == "kind" and isinstance(k.value, ast.Constant) and k.value.value == "stable"
                for k in node.keywords
            )
            if not stable:
                found.append(f"line {node.lineno}: {method} without kind='stable'")
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


@pytest.mark.parametrize(
    "path", sorted((ROOT / "sim").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT))
)
def test_the_model_sorts_stably_and_computes_the_same_on_every_cpu(path):
    """No unstable sort and no CPU-dependent numpy maths in the model (see
    tests/test_cpu_independence.py); the C library's ``math`` functions instead."""
    assert _cpu_dependent_calls(ast.parse(path.read_text())) == []


def test_the_cpu_dependence_check_finds_what_it_should():
    source = textwrap.dedent(
        """
        a = np.argsort(x)[::-1]
        b = np.exp(-x)
        c = np.argsort(x, kind="stable")

        @njit(cache=True)
        def k(x):
            return np.exp(x)
        """
    )
    assert _cpu_dependent_calls(ast.parse(source)) == [
        "line 2: argsort without kind='stable'",
        "line 3: np.exp",
    ]
