"""Small, careful statistics for comparing configurations on paired replications.

Every function here takes plain arrays, drops missing values itself, and never lets a
degenerate sample (empty, all-NaN, constant, all-zero differences) spill a warning: such
cases have a defined answer, documented on each function.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import stats

__all__ = [
    "DEFAULT_RESAMPLES",
    "Interval",
    "PairedTest",
    "bootstrap_ci",
    "holm",
    "mcnemar_exact",
    "paired_test",
    "rank_biserial",
    "sign_flip_test",
    "wilcoxon_signed_rank",
    "wilson_interval",
]

#: Bootstrap resamples used when the caller does not say.
DEFAULT_RESAMPLES = 4999

BootstrapMethod = Literal["BCa", "percentile", "basic"]


@dataclass(frozen=True)
class Interval:
    """A point estimate with a two-sided confidence interval and the sample size behind it."""

    estimate: float
    low: float
    high: float
    n: int
    method: str


def _clean(x: np.ndarray | list[float]) -> np.ndarray:
    a = np.asarray(x, dtype=float).ravel()
    return a[~np.isnan(a)]


def _mean(x: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(x, axis=axis)


def bootstrap_ci(
    x: np.ndarray | list[float],
    statistic: Callable[..., np.ndarray] = _mean,
    *,
    confidence: float = 0.95,
    n_resamples: int = DEFAULT_RESAMPLES,
    method: BootstrapMethod = "BCa",
    rng: np.random.Generator | int | None = 0,
) -> Interval:
    r"""Bootstrap confidence interval of ``statistic`` of one sample (NaNs dropped first).

    With :math:`\hat\theta = s(x)` and :math:`\hat\theta^*_b = s(x^*_b)` on ``n_resamples``
    resamples drawn with replacement, the percentile interval is
    :math:`[\hat\theta^*_{(\alpha/2)}, \hat\theta^*_{(1-\alpha/2)}]`; BCa shifts these
    quantiles by a bias correction :math:`z_0 = \Phi^{-1}(\#\{\hat\theta^*_b<\hat\theta\}/B)`
    and an acceleration estimated by the jackknife (``scipy.stats.bootstrap``).

    ``statistic`` must be vectorised (accept ``axis``), like ``np.mean`` or ``np.median``.

    Degenerate cases: no values gives ``NaN`` with ``n = 0``; one value gives the value with
    a ``NaN`` interval (nothing to resample); a constant sample gives the constant as estimate
    and both bounds. Where BCa cannot be computed (heavy ties make the jackknife or the bias
    correction degenerate) the percentile interval is used and ``method`` says so.
    """
    a = _clean(x)
    n = int(a.size)
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0, "none")
    estimate = float(statistic(a, axis=-1))
    if n == 1:
        return Interval(estimate, math.nan, math.nan, 1, "none")
    if np.all(a == a[0]):
        return Interval(estimate, estimate, estimate, n, "constant")
    generator = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    methods: list[BootstrapMethod] = [method] if method != "BCa" else ["BCa", "percentile"]
    for m in methods:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            res = stats.bootstrap(
                (a,),
                statistic,
                confidence_level=confidence,
                n_resamples=n_resamples,
                method=m,
                vectorized=True,
                rng=generator,
            )
        low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
        degenerate = any(
            issubclass(w.category, (stats.DegenerateDataWarning, RuntimeWarning)) for w in caught
        )
        if not (math.isnan(low) or math.isnan(high) or degenerate):
            return Interval(estimate, low, high, n, m)
    return Interval(estimate, low, high, n, methods[-1])


def wilson_interval(successes: int, n: int, *, confidence: float = 0.95) -> Interval:
    r"""Share of successes with the Wilson score interval.

    With :math:`\hat p = k/n` and :math:`z = \Phi^{-1}(1-\alpha/2)`:

    .. math::

        \frac{\hat p + \frac{z^2}{2n} \pm z\sqrt{\frac{\hat p(1-\hat p)}{n}
        + \frac{z^2}{4n^2}}}{1 + \frac{z^2}{n}}

    It stays inside [0, 1] and keeps its coverage near 0 and 1, where the Wald interval
    collapses. ``n = 0`` gives ``NaN``.
    """
    if n <= 0:
        return Interval(math.nan, math.nan, math.nan, 0, "Wilson")
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return Interval(p, max(0.0, centre - half), min(1.0, centre + half), n, "Wilson")


def holm(pvalues: np.ndarray | list[float]) -> np.ndarray:
    r"""Holm's step-down adjustment of a family of p-values (NaNs stay NaN, not counted).

    Sort the :math:`m` p-values ascending, :math:`p_{(1)} \le \dots \le p_{(m)}`; then

    .. math::

        \tilde p_{(i)} = \min\Bigl(1, \max_{j \le i} (m - j + 1)\, p_{(j)}\Bigr)

    and return them in the original order. Rejecting where :math:`\tilde p \le \alpha`
    controls the family-wise error rate at :math:`\alpha` under any dependence.
    """
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    valid = np.flatnonzero(~np.isnan(p))
    m = valid.size
    if m == 0:
        return out
    order = valid[np.argsort(p[valid], kind="stable")]
    scaled = (m - np.arange(m)) * p[order]
    out[order] = np.minimum(1.0, np.maximum.accumulate(scaled))
    return out


def rank_biserial(d: np.ndarray | list[float]) -> float:
    r"""Matched-pairs rank-biserial correlation of paired differences ``d``.

    Zero differences are dropped (as in the Wilcoxon test); the absolute values of the rest
    are ranked (ties get mid-ranks), and with :math:`R^+` and :math:`R^-` the rank sums of
    the positive and negative differences:

    .. math::  r = \frac{R^+ - R^-}{R^+ + R^-} \in [-1, 1]

    ``+1``: every pair went up; ``-1``: every pair went down; ``0``: balanced or no change.
    No pairs gives ``NaN``; only zero differences give ``0``.
    """
    a = _clean(d)
    if a.size == 0:
        return math.nan
    a = a[a != 0]
    if a.size == 0:
        return 0.0
    ranks = stats.rankdata(np.abs(a))
    plus, minus = float(ranks[a > 0].sum()), float(ranks[a < 0].sum())
    return (plus - minus) / (plus + minus)


def wilcoxon_signed_rank(d: np.ndarray | list[float]) -> float:
    """Two-sided p-value of the Wilcoxon signed-rank test that ``d`` is centred on zero.

    Zero differences are dropped (``zero_method="wilcox"``); scipy picks the exact null
    distribution for small samples without ties, the normal approximation otherwise. No pairs
    gives ``NaN``; only zero differences (nothing changed) give ``p = 1``.
    """
    a = _clean(d)
    if a.size == 0:
        return math.nan
    if np.all(a == 0):
        return 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = stats.wilcoxon(a, zero_method="wilcox", alternative="two-sided")
    p = float(res.pvalue)
    return 1.0 if math.isnan(p) else p


def sign_flip_test(
    d: np.ndarray | list[float],
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    rng: np.random.Generator | int | None = 0,
) -> float:
    r"""Two-sided p-value of the paired permutation test that the mean difference is zero.

    Under the null the configuration does nothing, so each pair's difference :math:`d_i` is
    as likely to have either sign; the p-value is the share of sign assignments whose mean is
    at least as far from zero as :math:`\bar d` (``scipy.stats.permutation_test`` with
    ``permutation_type="samples"``: exact enumeration of all :math:`2^n` assignments where
    that is no more than ``n_resamples``, random assignments otherwise). It tests the same
    quantity the bootstrap interval of :math:`\bar d` estimates — unlike the Wilcoxon test,
    which is about ranks, so a skewed difference (most pairs unchanged, a few much worse) can
    have an interval far from zero and a large Wilcoxon p. No pairs gives ``NaN``; only
    zero differences, or a single pair, give ``p = 1``.
    """
    a = _clean(d)
    if a.size == 0:
        return math.nan
    if np.all(a == 0) or a.size == 1:  # one pair: both signs are as extreme as the other
        return 1.0
    res = stats.permutation_test(
        (a,),
        _mean,
        permutation_type="samples",
        vectorized=True,
        n_resamples=n_resamples,
        alternative="two-sided",
        random_state=rng,
    )
    return float(min(1.0, res.pvalue))


def mcnemar_exact(before: np.ndarray, after: np.ndarray) -> float:
    r"""Two-sided exact McNemar p-value for paired yes/no outcomes.

    Only discordant pairs carry information: with :math:`b` pairs (no → yes) and :math:`c`
    pairs (yes → no), under the null :math:`b \sim \mathrm{Binomial}(b + c, 1/2)`. No
    discordant pairs gives ``p = 1``; no pairs at all gives ``NaN``.
    """
    x = np.asarray(before, dtype=bool)
    y = np.asarray(after, dtype=bool)
    if x.size == 0:
        return math.nan
    b = int(np.sum(~x & y))
    c = int(np.sum(x & ~y))
    if b + c == 0:
        return 1.0
    return float(stats.binomtest(b, b + c, 0.5, alternative="two-sided").pvalue)


@dataclass(frozen=True)
class PairedTest:
    """The paired comparison of one outcome: configuration minus baseline, pair by pair."""

    n_pairs: int
    difference: Interval
    p_value: float
    test: str
    rank_biserial: float


WILCOXON = "Wilcoxon signed-rank"
SIGN_FLIP = "paired permutation of the mean"
MCNEMAR = "McNemar exact"


def paired_test(
    baseline: np.ndarray | list[float],
    other: np.ndarray | list[float],
    *,
    boolean: bool = False,
    confidence: float = 0.95,
    n_resamples: int = DEFAULT_RESAMPLES,
    rng: np.random.Generator | int | None = 0,
) -> PairedTest:
    r"""Compare ``other`` with ``baseline``, aligned pair by pair (same replicate, same index).

    Pairs with a missing value on either side are dropped; :math:`d_i = y_i - x_i` for the
    rest. Reports the mean difference :math:`\bar d` with its bootstrap interval (BCa, or
    percentile where BCa is degenerate), a two-sided p-value about the same mean — the paired
    permutation (sign-flip) test for numeric outcomes (:func:`sign_flip_test`), the exact
    McNemar test for yes/no outcomes (``boolean``) — and the matched-pairs rank-biserial
    correlation of :math:`d`. For yes/no outcomes :math:`\bar d`
    is the difference of the shares, in [−1, 1].
    """
    x = np.asarray(baseline, dtype=float).ravel()
    y = np.asarray(other, dtype=float).ravel()
    if x.shape != y.shape:
        raise ValueError(f"paired samples differ in length: {x.size} and {y.size}")
    keep = ~(np.isnan(x) | np.isnan(y))
    x, y = x[keep], y[keep]
    d = y - x
    interval = bootstrap_ci(d, confidence=confidence, n_resamples=n_resamples, rng=rng)
    if boolean:
        p, test = mcnemar_exact(x.astype(bool), y.astype(bool)), MCNEMAR
    else:
        p, test = sign_flip_test(d, n_resamples=n_resamples, rng=rng), SIGN_FLIP
    return PairedTest(int(d.size), interval, p, test, rank_biserial(d))
