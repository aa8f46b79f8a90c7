"""Reading and drawing parameter sweeps (folders written by ``softtarget sweep``).

:func:`load_sweep` concatenates the runs of every point with one column per swept parameter;
:func:`plot_sweep` draws each outcome's mean with its 95% interval against a swept parameter,
one line per configuration, in the colours of
:func:`softtarget.analysis.plots.configuration_palette`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
from scipy import stats

from softtarget.analysis.plots import (
    DISTRIBUTION_OUTCOMES,
    _label,
    _legend,
    _new_figure,
    _no_data,
    _numeric,
    _order,
    configuration_palette,
)
from softtarget.sim import columns as C
from softtarget.sim.errors import ResultsError
from softtarget.sim.sweep import read_index

__all__ = ["POINT", "load_sweep", "plot_sweep", "plot_sweep_folder", "sweep_params", "t_interval"]

#: Column of :func:`load_sweep` with the index of the point a run belongs to.
POINT: Final = "point"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def load_sweep(sweep_dir: str | Path) -> pd.DataFrame:
    """All runs of all points of a sweep folder, with a ``point`` column and one per parameter.

    A parameter column is numeric when every point's value is a number, else it holds the
    values as given. ``configuration`` is an ordered categorical (the first point's order).
    Points whose results folder is missing or not consolidated yet (a sweep still running or
    interrupted) are left out; ``ResultsError`` when no point has results.
    """
    from softtarget.analysis.results import load

    folder = Path(sweep_dir)
    index = read_index(folder)
    params: list[str] = list(index.get("params", []))
    frames: list[pd.DataFrame] = []
    order: list[str] = []
    for point in index.get("points", []):
        point_dir = folder / point["folder"]
        if not (point_dir / "runs.parquet").is_file():
            continue
        runs = load(point_dir)
        for name in _order(runs):
            if name not in order:
                order.append(name)
        runs = runs.assign(**{C.CONFIGURATION: runs[C.CONFIGURATION].astype(str)})
        runs.insert(0, POINT, int(point["index"]))
        for i, param in enumerate(params):
            runs.insert(1 + i, param, [point["values"].get(param)] * len(runs))
        frames.append(runs)
    if not frames:
        raise ResultsError(f"{folder}: no point of the sweep has results yet")
    df = pd.concat(frames, ignore_index=True)
    for param in params:
        if all(_is_number(v) for v in df[param]):
            df[param] = pd.to_numeric(df[param])
    df[C.CONFIGURATION] = pd.Categorical(df[C.CONFIGURATION], categories=order, ordered=True)
    return df


def sweep_params(sweep_dir: str | Path) -> list[str]:
    """The swept parameter names of a sweep folder, as listed in its ``sweep.json``."""
    return list(read_index(sweep_dir).get("params", []))


def t_interval(values: Iterable[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean and Student-t confidence interval of ``values`` (NaNs dropped); NaN bounds if n < 2."""
    a = np.asarray(list(values), dtype=float)
    a = a[~np.isnan(a)]
    if a.size == 0:
        return math.nan, math.nan, math.nan
    mean = float(a.mean())
    if a.size < 2:
        return mean, math.nan, math.nan
    half = float(stats.t.ppf(0.5 + confidence / 2, a.size - 1) * a.std(ddof=1) / math.sqrt(a.size))
    return mean, mean - half, mean + half


def _summary(df: pd.DataFrame, param: str, outcome: str) -> pd.DataFrame:
    """Mean and 95% t interval of ``outcome`` per configuration and value of ``param``."""
    rows = []
    data = df.assign(_y=_numeric(df[outcome].astype(float)))
    for (config, x), group in data.groupby([C.CONFIGURATION, param], observed=True, sort=False):
        mean, low, high = t_interval(group["_y"])
        rows.append({C.CONFIGURATION: str(config), "x": x, "mean": mean, "low": low, "high": high})
    return pd.DataFrame(rows, columns=[C.CONFIGURATION, "x", "mean", "low", "high"])


def plot_sweep(
    df: pd.DataFrame,
    params: Sequence[str],
    outcomes: Sequence[str] | None,
    out_dir: str | Path,
    formats: Iterable[str] = ("png",),
) -> list[Path]:
    """Draw every outcome against every swept parameter; write ``sweep_<param>.<fmt>`` files.

    One figure per parameter, one panel per outcome (default: the standard distribution
    outcomes present in ``df``; yes/no outcomes are drawn as shares), one line per
    configuration: the mean over the runs at each value, with its 95% t interval as a band
    (numeric values) or error bars (other values, drawn in order of appearance). With several
    parameters, the runs at all values of the other parameters are pooled. Returns the paths.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    formats = [f.lower().lstrip(".") for f in formats]
    chosen = [o for o in (outcomes or DISTRIBUTION_OUTCOMES) if o in df.columns]
    if not chosen:
        raise ValueError("none of the outcomes to plot is a column of the sweep's runs")
    order = _order(df)
    palette = configuration_palette(order)
    written: list[Path] = []
    for param in params:
        if param not in df.columns:
            raise ValueError(f"{param!r} is not a swept parameter of these runs")
        numeric = pd.api.types.is_numeric_dtype(df[param])
        categories = [str(v) for v in pd.unique(df[param])]
        ncols = min(4, len(chosen))
        nrows = -(-len(chosen) // ncols)
        fig, axes = _new_figure(nrows, ncols, 3.6 * ncols, 3.0 * nrows + 0.8)
        for ax, outcome in zip(axes.flat, chosen, strict=False):
            table = _summary(df, param, outcome)
            if table["mean"].isna().all():
                _no_data(ax)
            for config in order:
                part = table[table[C.CONFIGURATION] == config]
                if part.empty:
                    continue
                colour = palette[config]
                if numeric:
                    part = part.sort_values("x")
                    x = part["x"].to_numpy(dtype=float)
                    ax.plot(x, part["mean"], marker="o", color=colour, lw=1.8, label=config)
                    ax.fill_between(x, part["low"], part["high"], color=colour, alpha=0.2, lw=0)
                else:
                    x = np.array([categories.index(str(v)) for v in part["x"]], dtype=float)
                    err = np.vstack([part["mean"] - part["low"], part["high"] - part["mean"]])
                    ax.errorbar(
                        x, part["mean"], yerr=np.nan_to_num(err), color=colour, marker="o",
                        capsize=3, lw=1.8, label=config,
                    )  # fmt: skip
            if not numeric:
                ax.set_xticks(range(len(categories)), categories)
            ax.set_xlabel(param)
            ax.set_ylabel(("share " if df[outcome].dtype == bool else "mean ") + _label(outcome))
        for ax in list(axes.flat)[len(chosen) :]:
            ax.set_visible(False)
        fig.suptitle(f"outcomes against {param} (mean, 95% t interval)")
        _legend(fig, order, palette)
        stem = "sweep_" + param.replace(".", "_").replace("/", "_")
        try:
            for fmt in formats:
                path = out / f"{stem}.{fmt}"
                fig.savefig(path, dpi=150 if fmt == "png" else "figure", format=fmt)
                written.append(path)
        finally:
            fig.clear()
    return written


def plot_sweep_folder(
    sweep_dir: str | Path,
    out_dir: str | Path | None = None,
    formats: Iterable[str] = ("png",),
    outcomes: Sequence[str] | None = None,
) -> list[Path]:
    """Figures of a sweep folder (default ``<sweep_dir>/figures``); return the paths written.

    A sensitivity folder gets its index bar chart redrawn from ``sensitivity.csv``.
    """
    folder = Path(sweep_dir)
    out = Path(out_dir) if out_dir is not None else folder / "figures"
    index = read_index(folder)
    if index.get("kind") == "sensitivity":
        from softtarget.analysis.sensitivity import plot_sensitivity

        table = pd.read_csv(folder / "sensitivity.csv")
        out.mkdir(parents=True, exist_ok=True)
        paths = []
        for fmt in formats:
            paths.append(plot_sensitivity(table, out / f"sensitivity.{fmt.lstrip('.')}"))
        return paths
    df = load_sweep(folder)
    return plot_sweep(df, list(index.get("params", [])), outcomes, out, formats)
