"""The comparison table: outcomes per configuration, and paired differences to a baseline.

Replicate ``r`` of every configuration ran on the same random numbers (common random
numbers), so rows with the same ``replicate`` are pairs; differences are taken pair by pair,
which removes the run-to-run noise the configurations share.
"""

from __future__ import annotations

import html
import io
import math
import zlib
from collections.abc import Sequence
from typing import Any, Final, Literal

import numpy as np
import pandas as pd

from softtarget.analysis import stats as S
from softtarget.sim import columns as C

__all__ = [
    "DEFAULT_BASELINE",
    "compare",
    "compare_by",
    "default_baseline",
    "format_comparison",
    "outcome_kind",
    "p_with_test",
    "with_ci",
]

DEFAULT_BASELINE: Final = "public_only"

# --- columns of the comparison table ------------------------------------------------------
OUTCOME: Final = "outcome"
KIND: Final = "kind"  # "share" (yes/no outcome) or "numeric"
N: Final = "n"
N_FAILED: Final = "n_failed"
MEAN: Final = "mean"  # for yes/no outcomes: the share of runs where it happened
MEAN_LOW: Final = "mean_low"
MEAN_HIGH: Final = "mean_high"
MEAN_CI: Final = "mean_ci"  # how the interval of the mean (or share) was computed
MEDIAN: Final = "median"
MEDIAN_LOW: Final = "median_low"
MEDIAN_HIGH: Final = "median_high"
BASELINE: Final = "baseline"
N_PAIRS: Final = "n_pairs"
DIFF: Final = "diff_mean"  # mean of (configuration - baseline) over pairs
DIFF_LOW: Final = "diff_low"
DIFF_HIGH: Final = "diff_high"
TEST: Final = "test"
P_VALUE: Final = "p_value"
P_HOLM: Final = "p_holm"
EFFECT: Final = "effect_rank_biserial"
CONFIDENCE: Final = "confidence"

TABLE_COLUMNS: Final = (
    OUTCOME,
    C.CONFIGURATION,
    KIND,
    N,
    N_FAILED,
    MEAN,
    MEAN_LOW,
    MEAN_HIGH,
    MEAN_CI,
    MEDIAN,
    MEDIAN_LOW,
    MEDIAN_HIGH,
    BASELINE,
    N_PAIRS,
    DIFF,
    DIFF_LOW,
    DIFF_HIGH,
    TEST,
    P_VALUE,
    P_HOLM,
    EFFECT,
    CONFIDENCE,
)

SHARE: Final = "share"
NUMERIC: Final = "numeric"

Format = Literal["table", "markdown", "csv", "html"]


def outcome_kind(series: pd.Series) -> str:
    """``"share"`` for a yes/no column, ``"numeric"`` for a number column."""
    if pd.api.types.is_bool_dtype(series.dtype):
        return SHARE
    if pd.api.types.is_numeric_dtype(series.dtype):
        return NUMERIC
    raise ValueError(f"column {series.name} is neither numeric nor yes/no ({series.dtype})")


def _configurations(df: pd.DataFrame) -> list[str]:
    col = df[C.CONFIGURATION]
    if isinstance(col.dtype, pd.CategoricalDtype):
        present = set(col.astype(str))
        return [str(c) for c in col.cat.categories if str(c) in present]
    return [str(c) for c in pd.unique(col.astype(str))]


def default_baseline(configurations: Sequence[str]) -> str:
    """``public_only`` when present, else the first configuration."""
    if not configurations:
        raise ValueError("no configurations to compare (the runs table is empty)")
    return DEFAULT_BASELINE if DEFAULT_BASELINE in configurations else configurations[0]


def _seed(seed: int, *parts: str) -> np.random.Generator:
    """Seed a generator per table cell, so a cell does not change when others are added."""
    key = tuple(zlib.crc32(p.encode()) for p in parts)
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


def _values(sub: pd.DataFrame, metric: str, share: bool) -> np.ndarray:
    s = sub[metric]
    if share:
        return s.astype("boolean").astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    return s.astype("Float64").to_numpy(dtype=float, na_value=np.nan)


def compare(
    df: pd.DataFrame,
    *,
    baseline: str | None = None,
    metrics: Sequence[str] | None = None,
    confidence: float = 0.95,
    n_resamples: int = S.DEFAULT_RESAMPLES,
    seed: int = 0,
    failures: pd.DataFrame | None = None,
) -> pd.DataFrame:
    r"""Summarise each outcome per configuration and compare each configuration to a baseline.

    One row per (outcome, configuration), outcomes in the order asked (default: every
    :data:`softtarget.sim.columns.OUTCOMES` column present in ``df``), configurations in the table's
    order. Columns:

    - ``n``: runs with a value (NaN times — the event did not happen — are not counted);
      ``n_failed``: failed runs of the configuration (from ``failures``, else 0).
    - ``mean`` with a ``confidence`` interval: bootstrap (BCa, percentile where BCa is
      degenerate) for numbers; for yes/no outcomes ``mean`` is the share of runs where it
      happened, with the Wilson interval. ``median`` with its bootstrap interval (numbers).
    - Against the baseline (other configurations only), pairs matched on ``replicate`` with
      a value on both sides: ``n_pairs``; ``diff_mean`` :math:`=\bar d`,
      :math:`d_r = y_r - x_r` (configuration minus baseline) with its bootstrap interval;
      ``p_value`` of the paired test named in ``test``, a test of that same mean difference
      (paired permutation test, sign flips, for numbers; exact McNemar for yes/no);
      ``p_holm``, Holm-adjusted across the outcomes of this configuration's comparison;
      ``effect_rank_biserial``, the matched-pairs rank-biserial correlation in [−1, 1].

    Times are compared only over pairs where the event happened in both runs, which is a
    comparison conditional on the event (see ``n_pairs``); compare the yes/no outcomes too.

    Raises ``ValueError`` for an unknown baseline or metric (the message lists what exists)
    and for a configuration with the same replicate twice.
    """
    if C.CONFIGURATION not in df.columns or C.REPLICATE not in df.columns:
        raise ValueError(f"the runs table needs {C.CONFIGURATION} and {C.REPLICATE} columns")
    configurations = _configurations(df)
    if baseline is None:
        baseline = default_baseline(configurations)
    elif baseline not in configurations:
        raise ValueError(
            f"unknown baseline {baseline!r}; configurations: {', '.join(configurations) or '-'}"
        )
    if metrics is None:
        metrics = [m for m in C.OUTCOMES if m in df.columns]
    else:
        metrics = list(dict.fromkeys(metrics))
        usable = [
            c
            for c in df.columns
            if c not in (C.CONFIGURATION, C.REPLICATE, C.SEED)
            and (
                pd.api.types.is_numeric_dtype(df[c].dtype)
                or pd.api.types.is_bool_dtype(df[c].dtype)
            )
        ]
        unknown = [m for m in metrics if m not in usable]
        if unknown:
            raise ValueError(
                f"unknown or non-numeric metric(s) {', '.join(unknown)}; "
                f"available: {', '.join(usable)}"
            )
    dup = df.duplicated([C.CONFIGURATION, C.REPLICATE])
    if dup.any():
        row = df.loc[dup].iloc[0]
        raise ValueError(
            f"configuration {row[C.CONFIGURATION]} has replicate {row[C.REPLICATE]} more than "
            "once; cannot pair runs"
        )
    failed: dict[str, int] = {}
    if failures is not None and len(failures):
        failed = failures[C.CONFIGURATION].astype(str).value_counts().to_dict()
    data = df.assign(**{C.CONFIGURATION: df[C.CONFIGURATION].astype(str)})
    by_conf = {
        name: sub.set_index(C.REPLICATE).sort_index()
        for name, sub in data.groupby(C.CONFIGURATION, sort=False)
    }

    rows: list[dict[str, object]] = []
    for metric in metrics:
        share = outcome_kind(df[metric]) == SHARE
        base_sub = by_conf[baseline]
        for name in configurations:
            sub = by_conf[name]
            v = _values(sub, metric, share)
            row: dict[str, object] = {
                OUTCOME: metric,
                C.CONFIGURATION: name,
                KIND: SHARE if share else NUMERIC,
                N_FAILED: int(failed.get(name, 0)),
                CONFIDENCE: confidence,
            }
            ok = v[~np.isnan(v)]
            if share:
                w = S.wilson_interval(int(ok.sum()), int(ok.size), confidence=confidence)
                row.update({N: w.n, MEAN: w.estimate, MEAN_LOW: w.low, MEAN_HIGH: w.high})
                row.update({MEAN_CI: w.method, MEDIAN: math.nan})
                row.update({MEDIAN_LOW: math.nan, MEDIAN_HIGH: math.nan})
            else:
                rng = _seed(seed, metric, name, "mean")
                m = S.bootstrap_ci(ok, confidence=confidence, n_resamples=n_resamples, rng=rng)
                md = S.bootstrap_ci(
                    ok,
                    np.median,
                    confidence=confidence,
                    n_resamples=n_resamples,
                    rng=_seed(seed, metric, name, "median"),
                )
                row.update(
                    {
                        N: m.n,
                        MEAN: m.estimate,
                        MEAN_LOW: m.low,
                        MEAN_HIGH: m.high,
                        MEAN_CI: f"bootstrap {m.method}",
                        MEDIAN: md.estimate,
                        MEDIAN_LOW: md.low,
                        MEDIAN_HIGH: md.high,
                    }
                )
            if name == baseline:
                row.update({BASELINE: baseline, N_PAIRS: pd.NA})
            else:
                common = base_sub.index.intersection(sub.index)
                x = _values(base_sub.loc[common], metric, share)
                y = _values(sub.loc[common], metric, share)
                t = S.paired_test(
                    x,
                    y,
                    boolean=share,
                    confidence=confidence,
                    n_resamples=n_resamples,
                    rng=_seed(seed, metric, name, "diff"),
                )
                row.update(
                    {
                        BASELINE: baseline,
                        N_PAIRS: t.n_pairs,
                        DIFF: t.difference.estimate,
                        DIFF_LOW: t.difference.low,
                        DIFF_HIGH: t.difference.high,
                        TEST: t.test,
                        P_VALUE: t.p_value,
                        EFFECT: t.rank_biserial,
                    }
                )
            rows.append(row)

    table = pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
    for name in configurations:
        if name == baseline:
            continue
        mask = table[C.CONFIGURATION] == name
        table.loc[mask, P_HOLM] = S.holm(table.loc[mask, P_VALUE].to_numpy(dtype=float))
    floats = [MEAN, MEAN_LOW, MEAN_HIGH, MEDIAN, MEDIAN_LOW, MEDIAN_HIGH, DIFF, DIFF_LOW]
    floats += [DIFF_HIGH, P_VALUE, P_HOLM, EFFECT, CONFIDENCE]
    table[floats] = table[floats].astype("float64")
    table[[N, N_FAILED]] = table[[N, N_FAILED]].astype("int64")
    table[N_PAIRS] = table[N_PAIRS].astype("Int64")
    for col in (OUTCOME, KIND, BASELINE, MEAN_CI, TEST):
        table[col] = table[col].astype("string")
    table[C.CONFIGURATION] = pd.Categorical(
        table[C.CONFIGURATION], categories=configurations, ordered=True
    )
    table.attrs.update({"baseline": baseline, "confidence": confidence, "n_resamples": n_resamples})
    return table


#: The label of runs whose grouping column is empty (e.g. ``attack_mode`` of a run with no attack).
NO_VALUE: Final = "none"


def compare_by(df: pd.DataFrame, by: str, **kwargs: Any) -> pd.DataFrame:
    """:func:`compare` within each value of the column ``by`` (a drawn factor).

    ``softtarget compare --by attack_mode`` answers "against vehicles, what does this plan
    buy?". Because every configuration of a replicate faces the same drawn threat, a factor
    drawn up front (``attack_mode``, ``attackers``) keeps the pairs together in one group; a
    factor that the configuration can change (``attack_target`` for an adaptive attacker,
    ``attack_end``) splits a pair across groups, and the group then pairs fewer runs (see
    ``n_pairs``). Empty values form the group ``"none"``. The result is :func:`compare`'s
    table for each group, with the column ``by`` first; a group missing the baseline is left
    out (named in ``attrs["skipped"]``).
    """
    if by not in df.columns:
        raise ValueError(f"unknown column {by!r} to group by; columns: {', '.join(df.columns)}")
    labels = df[by].astype("string").fillna(NO_VALUE)
    baseline = kwargs.get("baseline") or default_baseline(_configurations(df))
    tables, skipped = [], []
    for value in sorted(labels.unique(), key=lambda v: (v == NO_VALUE, str(v))):
        group = df[labels == value]
        if baseline not in set(group[C.CONFIGURATION].astype(str)):
            skipped.append(str(value))
            continue
        table = compare(group, **{**kwargs, "baseline": baseline})
        table.insert(0, by, str(value))
        tables.append(table)
    if not tables:
        raise ValueError(f"no value of {by!r} has runs of the baseline {baseline!r}")
    out = pd.concat(tables, ignore_index=True)
    out[by] = out[by].astype("string")
    out.attrs.update({**tables[0].attrs, "by": by, "skipped": skipped})
    return out


# --- formatting -----------------------------------------------------------------------------
MINUS: Final = "\u2212"


def _num(x: float, *, signed: bool = False) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)) or x is pd.NA:
        return "–"
    a = abs(x)
    if a >= 1000:
        s = f"{x:,.0f}"
    elif a >= 100:
        s = f"{x:.1f}"
    elif a >= 1 or a == 0:
        s = f"{x:.2f}"
    else:
        s = f"{x:.3f}"
    if signed and x > 0:
        s = "+" + s
    return s.replace("-", MINUS)


def _pct(x: float, *, signed: bool = False, unit: str = "%") -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    s = f"{100 * x:+.1f}" if signed else f"{100 * x:.1f}"
    return s.replace("-", MINUS) + unit


def with_ci(est: float, low: float, high: float, *, share: bool, diff: bool = False) -> str:
    """An estimate with its interval as shown in tables: ``12.3 [10.1, 14.6]``, shares in %."""
    if share:
        unit = " pp" if diff else "%"
        fmt = lambda v, signed=False: _pct(v, signed=signed, unit=unit if signed else "")  # noqa: E731
        head = _pct(est, signed=diff, unit=unit)
    else:
        fmt = _num
        head = _num(est, signed=diff)
    if head == "–":
        return head
    if isinstance(low, float) and math.isnan(low):
        return head
    return f"{head} [{fmt(low)}, {fmt(high)}]"


def _p(p: float) -> str:
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "–"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def p_with_test(p: float, test: object) -> str:
    """A p-value with the short name of its test: ``0.013 (permutation)``."""
    short = {S.SIGN_FLIP: "permutation", S.WILCOXON: "Wilcoxon", S.MCNEMAR: "McNemar"}
    name = "" if test is None or test is pd.NA else short.get(str(test), str(test))
    return f"{_p(p)} ({name})" if name else _p(p)


def _display_rows(table: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    header = [
        "outcome",
        "configuration",
        "n",
        "mean or share [CI]",
        "median [CI]",
        "difference vs baseline [CI]",
        "pairs",
        "p, Holm-adjusted (test)",
        "rank-biserial r",
    ]
    body = []
    for rec in table.to_dict("records"):
        share = rec[KIND] == SHARE
        is_base = rec[C.CONFIGURATION] == rec[BASELINE]
        pairs = rec[N_PAIRS]
        body.append(
            [
                str(rec[OUTCOME]),
                str(rec[C.CONFIGURATION]) + (" (baseline)" if is_base else ""),
                str(rec[N]),
                with_ci(rec[MEAN], rec[MEAN_LOW], rec[MEAN_HIGH], share=share),
                "–"
                if share
                else with_ci(rec[MEDIAN], rec[MEDIAN_LOW], rec[MEDIAN_HIGH], share=False),
                "–"
                if is_base
                else with_ci(rec[DIFF], rec[DIFF_LOW], rec[DIFF_HIGH], share=share, diff=True),
                "–" if is_base or pairs is pd.NA else str(pairs),
                "–" if is_base else p_with_test(rec[P_HOLM], rec[TEST]),
                "–" if is_base else _num(rec[EFFECT], signed=True),
            ]
        )
    return header, body


def _notes(table: pd.DataFrame) -> list[str]:
    baseline = table.attrs.get("baseline")
    if baseline is None and len(table):
        baseline = str(table[BASELINE].dropna().iloc[0])
    confidence = table.attrs.get("confidence")
    if confidence is None and len(table):
        confidence = float(table[CONFIDENCE].iloc[0])
    level = f"{100 * (confidence or 0.95):g}%"
    notes = [
        f"Baseline: {baseline}. Differences are configuration minus baseline, paired on "
        "replicate (common random numbers); 'pairs' counts pairs with a value on both sides.",
        f"Intervals: {level}; bootstrap (BCa, percentile where BCa is degenerate) for means, "
        "medians and differences; Wilson for shares (pp = percentage points).",
        "p: two-sided p of the test named, about the same mean difference the interval "
        "brackets (paired permutation test of the mean for numbers, exact McNemar for yes/no "
        "outcomes), Holm-adjusted across the outcomes of each comparison.",
        "Effect size: matched-pairs rank-biserial r in [−1, 1] (+1: every pair higher than "
        "the baseline).",
    ]
    if len(table):
        failed = (
            table.drop_duplicates(C.CONFIGURATION).set_index(C.CONFIGURATION)[N_FAILED].astype(int)
        )
        if failed.sum():
            parts = ", ".join(f"{k}: {v}" for k, v in failed.items())
            notes.append(f"Failed runs (not in the table): {parts}.")
    return notes


def format_comparison(table: pd.DataFrame, fmt: Format = "table") -> str:
    """Render a :func:`compare` table as an aligned terminal table, Markdown, CSV or HTML.

    ``csv`` gives every column of the table at full precision; the other formats give a
    readable selection (estimates with their intervals, Holm-adjusted p with the test named,
    effect size) and a few lines explaining them.
    """
    if fmt == "csv":
        buf = io.StringIO()
        table.to_csv(buf, index=False, float_format="%.6g")
        return buf.getvalue()
    header, body = _display_rows(table)
    notes = _notes(table)
    if fmt == "markdown":

        def esc(s: str) -> str:
            return s.replace("|", "\\|")

        lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
        lines += ["| " + " | ".join(esc(c) for c in row) + " |" for row in body]
        return "\n".join(lines) + "\n\n" + "\n".join(f"- {n}" for n in notes) + "\n"
    if fmt == "html":
        head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
        rows = "\n".join(
            "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in body
        )
        notes_html = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
        return (
            f'<table class="comparison">\n<thead><tr>{head}</tr></thead>\n<tbody>\n{rows}\n'
            f'</tbody>\n</table>\n<ul class="notes">{notes_html}</ul>\n'
        )
    if fmt != "table":
        raise ValueError(f"unknown format {fmt!r}; allowed: table, markdown, csv, html")
    widths = [max([len(h), *(len(r[i]) for r in body)]) for i, h in enumerate(header)]
    numeric = {2, 6, 8}

    def line(cells: list[str]) -> str:
        out = []
        for i, (c, w) in enumerate(zip(cells, widths, strict=True)):
            out.append(c.rjust(w) if i in numeric else c.ljust(w))
        return "  ".join(out).rstrip()

    lines = [line(header), "  ".join("-" * w for w in widths)]
    previous = None
    for row in body:
        if previous is not None and row[0] != previous:
            lines.append("")
        lines.append(line(row if row[0] != previous else ["", *row[1:]]))
        previous = row[0]
    return "\n".join(lines) + "\n\n" + "\n".join(notes) + "\n"
