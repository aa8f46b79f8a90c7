"""Global sensitivity analysis with SALib: Morris elementary effects or Sobol indices.

:func:`sample` draws the parameter sets (each becomes a point of a sweep folder, run like a
batch), :func:`analyze` turns one outcome per point into indices: Morris ``mu_star`` (mean
absolute elementary effect, with its confidence) and ``sigma``; Sobol first-order ``S1`` and
total ``ST`` with their confidences. :func:`plot_sensitivity` ranks the parameters in a bar
chart. SALib is the ``[sensitivity]`` extra: ``pip install 'softtarget[sensitivity]'``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
import pandas as pd

from softtarget.sim.errors import Problem, ScenarioError

__all__ = [
    "METHODS",
    "Bound",
    "analyze",
    "format_value",
    "import_salib",
    "parse_bounds",
    "plot_sensitivity",
    "problem_of",
    "sample",
]

Method = Literal["morris", "sobol"]
METHODS: Final = ("morris", "sobol")

#: Levels of the Morris grid (SALib's default).
MORRIS_LEVELS: Final = 4


@dataclass(frozen=True)
class Bound:
    """One parameter of the analysis: dotted path, range, and whether values are integers."""

    path: str
    low: float
    high: float
    integer: bool = False


def import_salib() -> Any:
    """Import SALib or raise ``RuntimeError`` saying how to install it."""
    try:
        import SALib
    except ImportError:
        raise RuntimeError(
            "sensitivity analysis needs SALib: pip install 'softtarget[sensitivity]'"
        ) from None
    return SALib


def parse_bounds(text: str) -> list[Bound]:
    """Parse ``a.b:lo:hi,c.d:lo:hi``; raise :class:`ScenarioError` (``--params``) when malformed.

    A parameter whose two bounds are written as integers (``crowd.initial_inside:10:50``)
    is integer-valued (see also :func:`mark_integers`).
    """
    bounds: list[Bound] = []
    for item in (s.strip() for s in text.split(",")):
        where = f"--params {item}"
        parts = item.split(":")
        if len(parts) != 3 or not parts[0] or not all(parts[0].split(".")):
            raise ScenarioError([Problem(where, None, parts[0], "expected PATH:LOW:HIGH")])
        path, lo, hi = parts
        try:
            low, high = float(lo), float(hi)
        except ValueError:
            raise ScenarioError([Problem(where, None, path, "bounds must be numbers")]) from None
        if not (math.isfinite(low) and math.isfinite(high) and low < high):
            raise ScenarioError(
                [Problem(where, None, path, f"need finite LOW < HIGH, got {lo} and {hi}")]
            )
        integer = _is_int_text(lo) and _is_int_text(hi)
        bounds.append(Bound(path, low, high, integer))
    paths = [b.path for b in bounds]
    if len(set(paths)) != len(paths):
        raise ScenarioError([Problem(f"--params {text}", None, "", "a parameter is given twice")])
    if not bounds:
        raise ScenarioError([Problem("--params", None, "", "no parameter given")])
    return bounds


def _is_int_text(text: str) -> bool:
    try:
        int(text.strip())
    except ValueError:
        return False
    return True


def mark_integers(bounds: Sequence[Bound], scenario_data: dict[str, Any]) -> list[Bound]:
    """Mark as integer the parameters whose value in the scenario (``model_dump``) is an int."""
    from softtarget.sim.sweep import value_at

    out = []
    for b in bounds:
        try:
            current = value_at(scenario_data, b.path)
        except (KeyError, IndexError):
            current = None
        integer = b.integer
        if isinstance(current, float):
            integer = False
        elif isinstance(current, int) and not isinstance(current, bool):
            integer = True
        out.append(Bound(b.path, b.low, b.high, integer))
    return out


def problem_of(bounds: Sequence[Bound]) -> dict[str, Any]:
    """The SALib problem dictionary of ``bounds``."""
    return {
        "num_vars": len(bounds),
        "names": [b.path for b in bounds],
        "bounds": [[b.low, b.high] for b in bounds],
    }


def sample(bounds: Sequence[Bound], method: Method, n: int, seed: int = 0) -> np.ndarray:
    """Parameter sets, one row each, in the order SALib's ``analyze`` expects.

    Morris: ``n`` trajectories, ``n * (D + 1)`` rows; Sobol (Saltelli's scheme, first and
    total order): ``n * (D + 2)`` rows, ``n`` should be a power of two.
    """
    import_salib()
    problem = problem_of(bounds)
    if method == "morris":
        from SALib.sample import morris

        return morris.sample(problem, n, num_levels=MORRIS_LEVELS, seed=seed)
    if method == "sobol":
        from SALib.sample import sobol

        return sobol.sample(problem, n, calc_second_order=False, seed=seed)
    raise ValueError(f"unknown method {method!r} (allowed: {', '.join(METHODS)})")


def format_value(bound: Bound, value: float) -> str:
    """The ``--set`` text of one sampled value: rounded for integer parameters."""
    if bound.integer:
        return str(round(float(value)))
    return repr(float(value))


def analyze(
    bounds: Sequence[Bound], method: Method, x: np.ndarray, y: np.ndarray, seed: int = 0
) -> pd.DataFrame:
    """Indices per parameter, sorted by importance (``mu_star`` or ``ST``, largest first).

    Morris columns: ``parameter, mu, mu_star, mu_star_conf, sigma``; Sobol: ``parameter, S1,
    S1_conf, ST, ST_conf``. ``y`` must be finite (``ValueError`` otherwise).
    """
    import_salib()
    y = np.asarray(y, dtype=float)
    if not np.all(np.isfinite(y)):
        raise ValueError(
            f"{int((~np.isfinite(y)).sum())} of {y.size} samples have no value of the outcome"
            " (failed runs, or an outcome undefined there); choose another --outcome"
        )
    problem = problem_of(bounds)
    if method == "morris":
        from SALib.analyze import morris

        res = morris.analyze(problem, x, y, num_levels=MORRIS_LEVELS, seed=seed)
        cols = ["mu", "mu_star", "mu_star_conf", "sigma"]
        key = "mu_star"
    else:
        from SALib.analyze import sobol

        res = sobol.analyze(problem, y, calc_second_order=False, seed=seed)
        cols = ["S1", "S1_conf", "ST", "ST_conf"]
        key = "ST"
    table = pd.DataFrame({"parameter": problem["names"]})
    for col in cols:
        table[col] = np.asarray(res[col], dtype=float)
    return table.sort_values(key, ascending=False, kind="stable").reset_index(drop=True)


def plot_sensitivity(table: pd.DataFrame, path: str | Path, title: str | None = None) -> Path:
    """Bar chart ranking the parameters: Morris ``mu_star`` (+ ``sigma``) or Sobol S1 and ST."""
    from softtarget.analysis.plots import _new_figure

    path = Path(path)
    n = len(table)
    fig, axes = _new_figure(1, 1, 7.0, 1.2 + 0.45 * max(n, 1))
    ax = axes[0, 0]
    y = np.arange(n)
    if "mu_star" in table.columns:
        specs = [("mu_star", "mu_star_conf", "μ* (mean |elementary effect|)"), ("sigma", None, "σ")]
    else:
        specs = [("ST", "ST_conf", "total order ST"), ("S1", "S1_conf", "first order S1")]
    height = 0.38
    for i, (col, conf, label) in enumerate(specs):
        err = table[conf].to_numpy(dtype=float) if conf else None
        ax.barh(y + (i - 0.5) * height, table[col], height, xerr=err, capsize=3, label=label)
    ax.set_yticks(y, table["parameter"])
    ax.invert_yaxis()
    ax.axvline(0, color="0.3", lw=0.8)
    ax.legend(loc="lower right")
    ax.set_xlabel("sensitivity index (95% confidence)")
    if title:
        ax.set_title(title)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fig.savefig(path, dpi=150 if path.suffix == ".png" else "figure")
    finally:
        fig.clear()
    return path
