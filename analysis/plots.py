"""Seaborn figures of a results folder, one consistent colour per configuration.

Every ``plot_*`` function takes DataFrames (as returned by :mod:`softtarget.analysis.results`) and
returns a :class:`matplotlib.figure.Figure` built on the Agg canvas without touching pyplot's
global state, so nothing accumulates in long sessions; :func:`plot_results` draws them all for
a results folder, writes them to files and releases them.

Colours come from seaborn's colour-blind-safe ``colorblind`` palette, assigned once from the
configuration order (:func:`configuration_palette`), so a configuration has the same colour in
every figure.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib import MatplotlibDeprecationWarning
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from softtarget.analysis import stats as S
from softtarget.sim import columns as C

__all__ = [
    "DISTRIBUTION_OUTCOMES",
    "LABELS",
    "RESPONSE_STAGES",
    "TIMESERIES_LABELS",
    "TIMESERIES_VARIABLES",
    "configuration_palette",
    "make_figures",
    "plot_attack_ends",
    "plot_cost_effectiveness",
    "plot_distributions",
    "plot_ecdfs",
    "plot_response_timeline",
    "plot_results",
    "plot_timeseries",
]

Color = tuple[float, float, float]
Palette = dict[str, Color]

#: Axis labels with units, by column.
LABELS: Final[dict[str, str]] = {
    C.KILLED: "killed (persons)",
    C.INJURED: "injured (persons)",
    C.CRUSH_INJURED: "crush injuries (persons)",
    C.KILLED_OUTSIDE: "killed outside the perimeter (persons)",
    C.INJURED_OUTSIDE: "injured outside the perimeter (persons)",
    C.CRUSH_INJURED_OUTSIDE: "crush-injured outside the perimeter (persons)",
    C.KILLED_IN_QUEUE: "killed in a screening queue (persons)",
    C.INJURED_IN_QUEUE: "injured in a screening queue (persons)",
    C.KILLED_BEFORE_ARMED: "killed before armed police on scene (persons)",
    C.INJURED_BEFORE_ARMED: "injured before armed police on scene (persons)",
    C.CRUSH_INJURED_IN_EVACUATION: "crush-injured after an evacuation order (persons)",
    C.T_DETECT_S: "time to detection (s from attack start)",
    C.T_POLICE_ALERTED_S: "time to police alert (s from attack start)",
    C.T_NEUTRALISED_S: "time to neutralisation (s from attack start)",
    C.ATTACK_DURATION_S: "attack duration (s from its start to its last attacker's end)",
    C.EVAC_TIME_S: "evacuation time (s)",
    C.PEAK_DENSITY: "peak density (persons/m²)",
    C.DENSITY_EXPOSURE: "exposure above 5.5 persons/m² (person·s)",
    C.MEAN_SCREENING_WAIT_S: "mean screening wait (s)",
    C.MAX_QUEUE_LEN: "longest queue (persons)",
    C.FALSE_ALARMS: "false alarms (count)",
    C.STAFF_COST_EUR: "staff cost (EUR)",
}

#: Axis labels with units for ``timeseries.parquet`` (some names coincide with run columns).
TIMESERIES_LABELS: Final[dict[str, str]] = {
    C.T_S: "simulated time (s)",
    C.N_INSIDE: "inside the venue (persons)",
    C.QUEUE_LEN: "queue length (persons)",
    C.LOCAL_PEAK_DENSITY: "peak local density (persons/m²)",
    C.N_EVACUATED: "evacuated (persons)",
    C.N_ARRIVING: "arriving (persons)",
    C.N_QUEUING: "queuing (persons)",
    C.N_FLEEING: "fleeing (persons)",
    C.N_SHELTERING: "sheltering (persons)",
    C.N_INJURED: "injured so far (persons)",
    C.N_KILLED: "killed so far (persons)",
}

#: The main outcomes drawn as distributions.
DISTRIBUTION_OUTCOMES: Final = (
    C.KILLED,
    C.INJURED,
    C.CRUSH_INJURED,
    C.T_NEUTRALISED_S,
    C.EVAC_TIME_S,
    C.PEAK_DENSITY,
    C.MEAN_SCREENING_WAIT_S,
    C.MAX_QUEUE_LEN,
)

#: The time-series variables drawn as envelopes.
TIMESERIES_VARIABLES: Final = (C.N_INSIDE, C.QUEUE_LEN, C.LOCAL_PEAK_DENSITY, C.N_EVACUATED)

#: Detection → police alerted → neutralised, with their display names.
RESPONSE_STAGES: Final = (
    (C.T_DETECT_S, "detected"),
    (C.T_POLICE_ALERTED_S, "police alerted"),
    (C.T_NEUTRALISED_S, "neutralised"),
)

_NO_DATA = "no runs with a value"


@contextmanager
def _quiet_seaborn() -> Iterator[None]:
    """Silence matplotlib's deprecation notices about seaborn 0.13's calls (not ours)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=MatplotlibDeprecationWarning)
        yield


def _label(column: str) -> str:
    return LABELS.get(column, column)


def _order(df: pd.DataFrame) -> list[str]:
    col = df[C.CONFIGURATION]
    if isinstance(col.dtype, pd.CategoricalDtype):
        return [str(c) for c in col.cat.categories]
    return [str(c) for c in pd.unique(col.astype(str))]


def configuration_palette(configurations: Sequence[str]) -> Palette:
    """One colour per configuration from the ``colorblind`` palette, in the given order."""
    colours = sns.color_palette("colorblind", n_colors=max(len(configurations), 1))
    return {name: tuple(colours[i]) for i, name in enumerate(configurations)}  # type: ignore[misc]


def _new_figure(nrows: int, ncols: int, width: float, height: float) -> tuple[Figure, np.ndarray]:
    with sns.axes_style("whitegrid"):
        fig = Figure(figsize=(width, height), layout="constrained")
        FigureCanvasAgg(fig)
        axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def _no_data(ax: Axes, text: str = _NO_DATA) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.4")


def _legend(fig: Figure, order: Sequence[str], palette: Palette) -> None:
    handles = [Line2D([], [], color=palette[c], marker="o", lw=2, label=c) for c in order]
    fig.legend(handles=handles, loc="outside lower center", ncols=min(len(order), 4))


def _prepare(df: pd.DataFrame, palette: Palette | None) -> tuple[list[str], Palette, pd.DataFrame]:
    order = _order(df)
    palette = palette or configuration_palette(order)
    data = df.assign(**{C.CONFIGURATION: df[C.CONFIGURATION].astype(str)})
    return order, palette, data


def _numeric(series: pd.Series) -> pd.Series:
    return series.astype("Float64").astype("float64")


def _outcome_panels(
    data: pd.DataFrame, outcomes: Sequence[str] | None, row_h: float, extra_h: float
) -> tuple[list[str], Figure, Any]:
    """The outcomes present in ``data`` and a grid of panels (up to 4 per row) for them."""
    outcomes = [o for o in (outcomes or DISTRIBUTION_OUTCOMES) if o in data.columns]
    ncols = min(4, max(len(outcomes), 1))
    nrows = max(1, -(-len(outcomes) // ncols))
    fig, axes = _new_figure(nrows, ncols, 3.6 * ncols, row_h * nrows + extra_h)
    return outcomes, fig, axes


def plot_distributions(
    df: pd.DataFrame,
    *,
    outcomes: Sequence[str] | None = None,
    palette: Palette | None = None,
) -> Figure:
    """Box plots with every run as a point, one panel per outcome, one box per configuration."""
    order, palette, data = _prepare(df, palette)
    outcomes, fig, axes = _outcome_panels(data, outcomes, 3.4, 0.6)
    for ax, outcome in zip(axes.flat, outcomes, strict=False):
        sub = data[[C.CONFIGURATION]].assign(value=_numeric(data[outcome])).dropna()
        if sub.empty:
            _no_data(ax)
        else:
            kw = {"x": C.CONFIGURATION, "y": "value", "order": order, "ax": ax}
            with _quiet_seaborn():
                sns.boxplot(
                    data=sub, **kw, hue=C.CONFIGURATION, hue_order=order, palette=palette,
                    legend=False, showfliers=False, fill=False, linewidth=1.4,
                )  # fmt: skip
                sns.stripplot(
                    data=sub, **kw, hue=C.CONFIGURATION, hue_order=order, palette=palette,
                    legend=False, size=3, alpha=0.55, jitter=0.25,
                )  # fmt: skip
        ax.set_xlabel("")
        ax.set_ylabel(_label(outcome))
        ax.tick_params(axis="x", labelrotation=20)
    for ax in list(axes.flat)[len(outcomes) :]:
        ax.set_visible(False)
    fig.suptitle("Outcomes per run, by configuration (box: quartiles; points: runs)")
    return fig


def _ecdf_per_configuration(
    ax: Axes, data: pd.DataFrame, column: str, order: Sequence[str], palette: Palette
) -> bool:
    """One ECDF curve of ``column`` per configuration on ``ax``; whether any was drawn."""
    values = _numeric(data[column])
    drew = False
    for name in order:
        v = values[data[C.CONFIGURATION] == name].dropna()
        if v.empty:
            continue
        with _quiet_seaborn():
            sns.ecdfplot(x=v.to_numpy(), ax=ax, color=palette[name], lw=1.6)
        drew = True
    return drew


def plot_ecdfs(
    df: pd.DataFrame,
    *,
    outcomes: Sequence[str] | None = None,
    palette: Palette | None = None,
) -> Figure:
    """Empirical cumulative distribution of each outcome, one curve per configuration."""
    order, palette, data = _prepare(df, palette)
    outcomes, fig, axes = _outcome_panels(data, outcomes, 3.2, 1.0)
    for ax, outcome in zip(axes.flat, outcomes, strict=False):
        if not _ecdf_per_configuration(ax, data, outcome, order, palette):
            _no_data(ax)
        ax.set_xlabel(_label(outcome))
        ax.set_ylabel("share of runs ≤ x")
    for ax in list(axes.flat)[len(outcomes) :]:
        ax.set_visible(False)
    _legend(fig, order, palette)
    fig.suptitle("Empirical cumulative distributions, by configuration")
    return fig


def plot_cost_effectiveness(
    df: pd.DataFrame,
    *,
    palette: Palette | None = None,
    confidence: float = 0.95,
    n_resamples: int = 1999,
    seed: int = 0,
) -> Figure:
    """Mean staff cost against mean harm (killed + injured) per configuration, with intervals.

    Each configuration is a point at (mean ``staff_cost_eur``, mean ``killed + injured`` per
    run); the error bars are ``confidence`` bootstrap intervals of both means.
    """
    order, palette, data = _prepare(df, palette)
    fig, axes = _new_figure(1, 1, 6.5, 4.8)
    ax = axes[0, 0]
    harm = _numeric(data[C.KILLED]) + _numeric(data[C.INJURED])
    cost = _numeric(data[C.STAFF_COST_EUR])
    drew = False
    for i, name in enumerate(order):
        mask = (data[C.CONFIGURATION] == name).to_numpy()
        if not mask.any():
            continue
        x = S.bootstrap_ci(cost[mask], confidence=confidence, n_resamples=n_resamples, rng=seed + i)
        y = S.bootstrap_ci(harm[mask], confidence=confidence, n_resamples=n_resamples, rng=seed + i)
        if np.isnan(x.estimate) or np.isnan(y.estimate):
            continue
        xerr = [[x.estimate - x.low], [x.high - x.estimate]] if not np.isnan(x.low) else None
        yerr = [[y.estimate - y.low], [y.high - y.estimate]] if not np.isnan(y.low) else None
        ax.errorbar(
            x.estimate, y.estimate, xerr=xerr, yerr=yerr, fmt="o", ms=8, capsize=4,
            color=palette[name], label=f"{name} (n={y.n})",
        )  # fmt: skip
        ax.annotate(name, (x.estimate, y.estimate), textcoords="offset points", xytext=(6, 6))
        drew = True
    if not drew:
        _no_data(ax)
    else:
        ax.legend(loc="best", fontsize="small")
    ax.set_xlabel("mean staff cost per run (EUR)")
    ax.set_ylabel("mean killed + injured per run (persons)")
    ax.set_title(f"Cost and harm per configuration ({100 * confidence:g}% bootstrap intervals)")
    return fig


def plot_timeseries(
    ts: pd.DataFrame,
    *,
    variables: Sequence[str] = TIMESERIES_VARIABLES,
    palette: Palette | None = None,
    band: tuple[float, float] = (0.05, 0.95),
) -> Figure:
    """Median over runs and a quantile band (default 5–95 %) against time, per configuration.

    Quantiles are taken over the runs sampled at each ``t_s`` (runs share the sampling grid).
    """
    order, palette, data = _prepare(ts, palette)
    variables = [v for v in variables if v in data.columns]
    ncols = min(2, max(len(variables), 1))
    nrows = max(1, -(-len(variables) // ncols))
    fig, axes = _new_figure(nrows, ncols, 6.0 * ncols, 3.4 * nrows + 1.0)
    lo, hi = band
    for ax, var in zip(axes.flat, variables, strict=False):
        if data.empty:
            _no_data(ax, "no time series")
        else:
            q = (
                data.assign(_v=_numeric(data[var]))
                .groupby([C.CONFIGURATION, C.T_S], sort=True)["_v"]
                .quantile([lo, 0.5, hi])
                .unstack()
            )
            for name in order:
                if name not in q.index.get_level_values(0):
                    continue
                qq = q.xs(name, level=0)
                t = qq.index.to_numpy(dtype=float)
                ax.fill_between(t, qq[lo], qq[hi], color=palette[name], alpha=0.2, lw=0)
                ax.plot(t, qq[0.5], color=palette[name], lw=1.8)
        ax.set_xlabel(TIMESERIES_LABELS[C.T_S])
        ax.set_ylabel(TIMESERIES_LABELS.get(var, var))
    for ax in list(axes.flat)[len(variables) :]:
        ax.set_visible(False)
    _legend(fig, order, palette)
    fig.suptitle(f"Median over runs (line) and {100 * lo:g}–{100 * hi:g}% band, by configuration")
    return fig


def plot_response_timeline(
    df: pd.DataFrame,
    *,
    palette: Palette | None = None,
    confidence: float = 0.95,
    n_resamples: int = 1999,
    seed: int = 0,
) -> Figure:
    """Draw detection → police alerted → neutralised: median time of each stage, per configuration.

    Points are medians over the runs where the stage happened (``n`` in the labels), bars
    their ``confidence`` bootstrap intervals; times are seconds from the attack's start.
    """
    order, palette, data = _prepare(df, palette)
    stages = [(c, name) for c, name in RESPONSE_STAGES if c in data.columns]
    fig, axes = _new_figure(1, 1, 7.5, 1.2 + 1.1 * len(stages) + 0.25 * len(order))
    ax = axes[0, 0]
    k = max(len(order), 1)
    offsets = np.linspace(-0.3, 0.3, k) if k > 1 else np.zeros(1)
    drew = False
    for si, (column, _) in enumerate(stages):
        values = _numeric(data[column])
        for ci, name in enumerate(order):
            v = values[(data[C.CONFIGURATION] == name).to_numpy()].dropna().to_numpy()
            if v.size == 0:
                continue
            med = S.bootstrap_ci(
                v, np.median, confidence=confidence, n_resamples=n_resamples, rng=seed + ci
            )
            y = si + offsets[ci]
            if not np.isnan(med.low):
                ax.hlines(y, med.low, med.high, color=palette[name], lw=2.2)
            ax.plot(med.estimate, y, "o", color=palette[name], ms=7)
            ax.annotate(
                f"n={v.size}", (med.estimate, y), textcoords="offset points", xytext=(5, 3),
                fontsize="x-small", color="0.3",
            )  # fmt: skip
            drew = True
    if not drew:
        _no_data(ax, "no run reached any response stage")
    ax.set_yticks(range(len(stages)), [name for _, name in stages])
    ax.invert_yaxis()
    ax.set_xlabel("median time from attack start (s)")
    ax.set_title(f"Response timeline (median, {100 * confidence:g}% bootstrap interval)")
    _legend(fig, order, palette)
    return fig


def plot_attack_ends(df: pd.DataFrame, *, palette: Palette | None = None) -> Figure:
    """How attacks ended and how long they lasted, per configuration.

    Left: the share of runs with an attack that ended each way (``attack_end``: prevented,
    neutralised, suicide, spent, ...), one bar per configuration, ends stacked in the order
    of their overall frequency. Right: the empirical distribution of ``attack_duration_s``
    over the attacks that began and ended within the run.
    """
    order, palette, data = _prepare(df, palette)
    fig, axes = _new_figure(1, 2, 12.0, 4.6)
    left, right = axes[0, 0], axes[0, 1]
    ends = data[C.ATTACK_END].astype("string") if C.ATTACK_END in data.columns else None
    if ends is None or ends.dropna().empty:
        _no_data(left, "no run had an attack")
    else:
        shares = pd.crosstab(data[C.CONFIGURATION], ends, normalize="index")
        shares = shares.reindex(index=[c for c in order if c in shares.index])
        kinds = list(ends.value_counts().index)
        colours = sns.color_palette("colorblind", len(kinds))
        bottom = np.zeros(len(shares))
        for kind, colour in zip(kinds, colours, strict=True):
            v = shares[kind].to_numpy() if kind in shares else np.zeros(len(shares))
            left.barh(shares.index, v, left=bottom, color=colour, label=str(kind))
            bottom += v
        left.invert_yaxis()
        left.set_xlim(0, 1)
        left.set_xlabel("share of runs with an attack")
        left.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small", frameon=False)
    left.set_title("How the attack ended")
    drew = C.ATTACK_DURATION_S in data.columns and _ecdf_per_configuration(
        right, data, C.ATTACK_DURATION_S, order, palette
    )
    if not drew:
        _no_data(right, "no attack began and ended")
    right.set_xlabel(_label(C.ATTACK_DURATION_S))
    right.set_ylabel("share of attacks ≤ x")
    right.set_title("How long it lasted")
    _legend(fig, order, palette)
    return fig


def make_figures(
    runs: pd.DataFrame,
    timeseries: pd.DataFrame | None = None,
    *,
    palette: Palette | None = None,
) -> dict[str, Figure]:
    """Every standard figure, by file stem, with one palette shared by all of them."""
    palette = palette or configuration_palette(_order(runs))
    figures = {
        "distributions": plot_distributions(runs, palette=palette),
        "ecdf": plot_ecdfs(runs, palette=palette),
        "cost_effectiveness": plot_cost_effectiveness(runs, palette=palette),
        "response_timeline": plot_response_timeline(runs, palette=palette),
        "attack_ends": plot_attack_ends(runs, palette=palette),
    }
    if timeseries is not None and not timeseries.empty:
        extra = [c for c in _order(timeseries) if c not in palette]
        if extra:  # a configuration only in the time series: colour it after the others
            palette = configuration_palette([*palette, *extra])
        figures["timeseries"] = plot_timeseries(timeseries, palette=palette)
    return figures


def plot_results(
    results_dir: str | Path,
    out_dir: str | Path | None = None,
    formats: Iterable[str] = ("png",),
) -> list[Path]:
    """Draw the standard figures of a results folder and write them as files.

    ``out_dir`` defaults to ``<results_dir>/figures``; one file per figure and format
    (``png``, ``svg``, ``pdf``). The time-series figure is skipped when the folder has no
    ``timeseries.parquet``; the organisation graph (:func:`softtarget.analysis.chain.
    plot_organisations`) is drawn from the manifest's scenario. Returns the paths written.
    """
    from softtarget.analysis.chain import configurations_of, plot_organisations
    from softtarget.analysis.results import load, load_manifest, load_messages, load_timeseries

    runs = load(results_dir)
    timeseries = load_timeseries(results_dir, missing_ok=True)
    out = Path(out_dir) if out_dir is not None else Path(results_dir) / "figures"
    out.mkdir(parents=True, exist_ok=True)
    formats = [f.lower().lstrip(".") for f in formats]
    written: list[Path] = []
    figures = make_figures(runs, timeseries)
    configurations = configurations_of(load_manifest(results_dir))
    if configurations:
        messages = load_messages(results_dir, missing_ok=True)
        figures["organisations"] = plot_organisations(configurations, messages)
    try:
        for stem, fig in figures.items():
            for fmt in formats:
                path = out / f"{stem}.{fmt}"
                fig.savefig(path, dpi=150 if fmt == "png" else "figure", format=fmt)
                written.append(path)
    finally:
        for fig in figures.values():
            fig.clear()
    return written
