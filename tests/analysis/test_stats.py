import math
import warnings

import numpy as np
import pytest

from softtarget.analysis import stats as S


@pytest.fixture(autouse=True)
def _no_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def test_bootstrap_mean_ci_covers_true_mean_at_about_nominal_rate():
    rng = np.random.default_rng(12345)
    true_mean, hits, trials = 5.0, 0, 200
    for _ in range(trials):
        x = rng.gamma(shape=4.0, scale=true_mean / 4.0, size=40)  # skewed, mean 5
        ci = S.bootstrap_ci(x, n_resamples=999, rng=rng)
        hits += ci.low <= true_mean <= ci.high
    assert 0.90 <= hits / trials <= 0.99


def test_wilson_interval_coverage():
    rng = np.random.default_rng(3)
    p, n, hits, trials = 0.3, 50, 0, 500
    for k in rng.binomial(n, p, trials):
        w = S.wilson_interval(int(k), n)
        hits += w.low <= p <= w.high
    assert 0.92 <= hits / trials <= 0.98


def test_wilson_known_values_and_empty():
    w = S.wilson_interval(5, 10)
    assert w.estimate == 0.5
    assert w.low == pytest.approx(0.2366, abs=1e-4)
    assert w.high == pytest.approx(0.7634, abs=1e-4)
    assert math.isnan(S.wilson_interval(0, 0).estimate)
    assert S.wilson_interval(0, 10).low == 0.0


def test_bootstrap_degenerate_cases_are_defined_and_silent():
    empty = S.bootstrap_ci([np.nan, np.nan])
    assert empty.n == 0 and math.isnan(empty.estimate) and math.isnan(empty.low)
    assert S.bootstrap_ci([]).n == 0
    const = S.bootstrap_ci([2.5, 2.5, np.nan, 2.5])
    assert (const.estimate, const.low, const.high, const.n) == (2.5, 2.5, 2.5, 3)
    const_median = S.bootstrap_ci([4.0] * 10, np.median)
    assert (const_median.low, const_median.high) == (4.0, 4.0)
    one = S.bootstrap_ci([7.0])
    assert one.estimate == 7.0 and one.n == 1 and math.isnan(one.low)
    # many ties: BCa degenerates, the percentile interval takes over without a warning
    ties = S.bootstrap_ci(np.r_[np.zeros(95), np.ones(5)], np.median)
    assert ties.method == "percentile" and ties.low == 0.0


def test_bootstrap_is_reproducible_with_a_seed():
    x = np.random.default_rng(0).normal(size=30)
    assert S.bootstrap_ci(x, rng=5) == S.bootstrap_ci(x, rng=5)


def test_holm_against_hand_computed_example():
    # sorted: 0.005, 0.01, 0.03, 0.04 -> x4, x3, x2, x1 = 0.02, 0.03, 0.06, 0.04
    # running maximum -> 0.02, 0.03, 0.06, 0.06; back in the original order:
    p = [0.01, 0.04, 0.03, 0.005]
    np.testing.assert_allclose(S.holm(p), [0.03, 0.06, 0.06, 0.02])


def test_holm_caps_at_one_and_skips_nan():
    out = S.holm([0.5, np.nan, 0.2])
    # m = 2: 0.2*2 = 0.4, 0.5*1 = 0.5 -> max(0.4, 0.5)
    np.testing.assert_allclose(out, [0.5, np.nan, 0.4])
    np.testing.assert_allclose(S.holm([0.3, 0.4, 0.9]), [0.9, 0.9, 0.9])
    assert S.holm([]).size == 0


def test_rank_biserial():
    assert S.rank_biserial([1, 2, 3]) == 1.0
    assert S.rank_biserial([-1, -2]) == -1.0
    assert S.rank_biserial([1, 2, -3]) == 0.0  # ranks 1+2 against 3
    assert S.rank_biserial([0, 0]) == 0.0
    assert math.isnan(S.rank_biserial([]))
    assert S.rank_biserial([0, 1, -2, 3]) == pytest.approx((1 + 3 - 2) / 6)


def test_wilcoxon_edge_cases():
    assert S.wilcoxon_signed_rank(np.zeros(10)) == 1.0
    assert math.isnan(S.wilcoxon_signed_rank([np.nan]))


def test_sign_flip_test_is_about_the_mean_the_interval_brackets():
    """Most pairs unchanged, a few much worse: the mean difference's interval lies far from 0,
    and so must the test's p — the Wilcoxon test, which is about ranks, says otherwise."""
    rng = np.random.default_rng(9)
    d = np.concatenate([rng.integers(-3, 2, 34), rng.integers(5, 40, 6)]).astype(float)
    assert S.bootstrap_ci(d, n_resamples=1999, rng=1).low > 0
    assert S.sign_flip_test(d, n_resamples=9999, rng=1) < 0.05
    assert S.wilcoxon_signed_rank(d) > 0.5


def test_sign_flip_test_exact_and_edge_cases():
    # 5 pairs: all 32 sign assignments are enumerated; only ±(all positive) are as extreme
    assert S.sign_flip_test([1.0, 2.0, 3.0, 4.0, 5.0]) == pytest.approx(2 / 32)
    assert S.sign_flip_test(np.zeros(8)) == 1.0
    assert S.sign_flip_test([7.0]) == 1.0  # one pair: +7 and −7 are equally extreme
    assert math.isnan(S.sign_flip_test([]))
    # no effect: p spread over (0, 1], about 5 % below 0.05 (seeded, 400 samples of 20 pairs)
    rng = np.random.default_rng(4)
    ps = np.array(
        [S.sign_flip_test(rng.normal(0, 1, 20), n_resamples=999, rng=i) for i in range(400)]
    )
    assert 0.02 < np.mean(ps < 0.05) < 0.09


def test_mcnemar_exact():
    before = np.zeros(10, dtype=bool)
    after = np.ones(10, dtype=bool)
    assert S.mcnemar_exact(before, after) == pytest.approx(2 * 0.5**10)
    assert S.mcnemar_exact(before, before) == 1.0


def _pairs(effect: float, n: int = 40, seed: int = 11):
    rng = np.random.default_rng(seed)
    shared = rng.normal(100, 15, n)  # what common random numbers share within a pair
    base = shared + rng.normal(0, 1, n)
    other = shared + effect + rng.normal(0, 1, n)
    return base, other


def test_paired_test_detects_a_planted_effect_with_the_right_sign():
    base, other = _pairs(-2.0)
    t = S.paired_test(base, other, n_resamples=1999, rng=1)
    assert t.n_pairs == 40
    assert t.p_value <= 2 / (1999 + 1)  # no sign flip of 1999 comes near the observed mean
    assert t.difference.high < 0
    assert t.difference.estimate == pytest.approx(-2.0, abs=0.5)
    assert t.rank_biserial < -0.8
    assert t.test == S.SIGN_FLIP


def test_paired_test_without_an_effect():
    base, other = _pairs(0.0)
    t = S.paired_test(base, other, n_resamples=1999, rng=1)
    assert t.p_value > 0.2
    assert t.difference.low < 0 < t.difference.high


def test_paired_test_drops_pairs_with_nan_on_either_side():
    base = np.array([1.0, np.nan, 3.0, 4.0, 5.0])
    other = np.array([2.0, 2.0, np.nan, 5.0, 6.5])
    t = S.paired_test(base, other, n_resamples=500)
    assert t.n_pairs == 3
    assert t.difference.estimate == pytest.approx((1 + 1 + 1.5) / 3)


def test_paired_test_all_zero_differences():
    x = np.arange(10.0)
    t = S.paired_test(x, x, n_resamples=500)
    assert t.p_value == 1.0
    assert (t.difference.low, t.difference.high) == (0.0, 0.0)
    assert t.rank_biserial == 0.0


def test_paired_test_boolean_uses_mcnemar():
    x = np.array([0, 0, 0, 0, 1, 1, 0, 0], dtype=float)
    y = np.array([1, 1, 1, 1, 1, 1, 0, 1], dtype=float)
    t = S.paired_test(x, y, boolean=True, n_resamples=500)
    assert t.test == S.MCNEMAR
    assert t.p_value == pytest.approx(2 * 0.5**5)
    assert t.difference.estimate == pytest.approx(5 / 8)
