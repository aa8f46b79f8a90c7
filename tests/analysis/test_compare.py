import math
import warnings

import numpy as np
import pandas as pd
import pytest

from softtarget.analysis import compare, format_comparison, load, load_failures
from softtarget.analysis import stats as S
from softtarget.analysis.compare import (
    DIFF,
    DIFF_HIGH,
    DIFF_LOW,
    EFFECT,
    MEAN,
    MEAN_HIGH,
    MEAN_LOW,
    N_FAILED,
    N_PAIRS,
    OUTCOME,
    P_HOLM,
    P_VALUE,
    TEST,
    N,
)
from softtarget.sim import columns as C


@pytest.fixture(autouse=True)
def _no_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def _paired_frame(n=40, effect=-3.0, seed=2):
    rng = np.random.default_rng(seed)
    shared = rng.normal(50, 10, n)
    rows = []
    for conf, shift in (("public_only", 0.0), ("public_private", effect)):
        noise = rng.normal(0, 1, n)
        for r in range(n):
            rows.append(
                {
                    C.CONFIGURATION: conf,
                    C.REPLICATE: r,
                    C.KILLED: shared[r] + shift + noise[r],
                    C.INJURED: shared[r] + noise[r] * 2,  # no effect
                    C.T_DETECT_S: np.nan if r % 5 == 0 else shared[r],  # identical
                    C.EVAC_TIME_S: np.nan,  # never happened
                    C.STAFF_COST_EUR: 1000.0,  # constant
                    C.ATTACK_PREVENTED: (r % 2 == 0) if conf == "public_private" else False,
                }
            )
    df = pd.DataFrame(rows)
    df[C.CONFIGURATION] = pd.Categorical(
        df[C.CONFIGURATION], ["public_only", "public_private"], ordered=True
    )
    return df


def _row(table, outcome, conf):
    sel = table[(table[OUTCOME] == outcome) & (table[C.CONFIGURATION] == conf)]
    assert len(sel) == 1
    return sel.iloc[0]


def test_planted_effect_small_p_right_sign_and_holm():
    table = compare(_paired_frame(), n_resamples=999)
    killed = _row(table, C.KILLED, "public_private")
    assert killed[DIFF] == pytest.approx(-3.0, abs=0.6)
    assert killed[DIFF_HIGH] < 0
    assert killed[P_VALUE] <= 2 / (999 + 1)  # as small as 999 sign-flip resamples can say
    assert killed[P_HOLM] < 0.01
    assert killed[EFFECT] < -0.9
    assert killed[TEST] == S.SIGN_FLIP
    injured = _row(table, C.INJURED, "public_private")
    assert injured[P_HOLM] > 0.05
    assert injured[DIFF_LOW] < 0 < injured[DIFF_HIGH]
    # Holm: never below the raw p, same order of the raw ps within one comparison
    pp = table[table[C.CONFIGURATION] == "public_private"].dropna(subset=[P_VALUE])
    assert (pp[P_HOLM] >= pp[P_VALUE] - 1e-12).all()
    np.testing.assert_allclose(pp[P_HOLM].to_numpy(), S.holm(pp[P_VALUE].to_numpy()))


def test_degenerate_columns_and_pairs():
    table = compare(_paired_frame(), n_resamples=999)
    evac = _row(table, C.EVAC_TIME_S, "public_only")
    assert evac[N] == 0 and math.isnan(evac[MEAN]) and math.isnan(evac[MEAN_LOW])
    evac_pp = _row(table, C.EVAC_TIME_S, "public_private")
    assert evac_pp[N_PAIRS] == 0 and math.isnan(evac_pp[P_VALUE])
    cost = _row(table, C.STAFF_COST_EUR, "public_private")
    assert (cost[MEAN], cost[MEAN_LOW], cost[MEAN_HIGH]) == (1000.0, 1000.0, 1000.0)
    assert cost[P_VALUE] == 1.0 and cost[DIFF] == 0.0
    detect = _row(table, C.T_DETECT_S, "public_private")
    assert detect[N] == 32 and detect[N_PAIRS] == 32 and detect[P_VALUE] == 1.0
    prevented = _row(table, C.ATTACK_PREVENTED, "public_private")
    assert prevented[MEAN] == 0.5 and 0.3 < prevented[MEAN_LOW] < 0.5 < prevented[MEAN_HIGH]
    assert prevented[TEST] == "McNemar exact"
    assert prevented[DIFF] == pytest.approx(0.5)
    base = _row(table, C.KILLED, "public_only")
    assert base[N_PAIRS] is pd.NA and math.isnan(base[P_HOLM])


def test_baseline_selection_and_errors():
    df = _paired_frame(n=10)
    assert compare(df, n_resamples=200).attrs["baseline"] == "public_only"
    other = df[df[C.CONFIGURATION] == "public_private"].copy()
    other[C.CONFIGURATION] = other[C.CONFIGURATION].cat.remove_unused_categories()
    twin = other.assign(**{C.CONFIGURATION: "twin"})
    both = pd.concat([other.astype({C.CONFIGURATION: str}), twin], ignore_index=True)
    assert compare(both, n_resamples=200).attrs["baseline"] == "public_private"
    with pytest.raises(ValueError, match="public_only, public_private"):
        compare(df, baseline="nope")
    with pytest.raises(ValueError, match="unknown or non-numeric metric"):
        compare(df, metrics=["killed", "bogus"])
    with pytest.raises(ValueError, match="more than once"):
        compare(pd.concat([df, df.iloc[:1]]), n_resamples=200)


def test_compare_on_a_results_folder(results_dir):
    df = load(results_dir)
    table = compare(
        df,
        metrics=[C.KILLED, C.ATTACK_STARTED],
        failures=load_failures(results_dir),
        n_resamples=500,
    )
    assert list(table[OUTCOME].unique()) == [C.KILLED, C.ATTACK_STARTED]
    assert list(table[C.CONFIGURATION]) == ["public_only", "public_private", "joint_room"] * 2
    assert dict(zip(table[C.CONFIGURATION], table[N_FAILED], strict=False)) == {
        "public_only": 0,
        "public_private": 0,
        "joint_room": 1,
    }
    joint = _row(table, C.KILLED, "joint_room")
    assert joint[N_PAIRS] == 11  # replicate 0 of joint_room failed


def test_default_metrics_are_the_outcomes_present(results_dir):
    table = compare(load(results_dir), n_resamples=200)
    assert list(table[OUTCOME].unique()) == list(C.OUTCOMES)


def test_compare_is_reproducible():
    df = _paired_frame(n=15)
    a = compare(df, n_resamples=300, seed=4)
    b = compare(df, n_resamples=300, seed=4)
    pd.testing.assert_frame_equal(a, b)
    only = compare(df, metrics=[C.INJURED], n_resamples=300, seed=4)
    assert only.iloc[1][DIFF_LOW] == _row(a, C.INJURED, "public_private")[DIFF_LOW]


def test_formats():
    table = compare(_paired_frame(), n_resamples=300)
    text = format_comparison(table, "table")
    assert "paired permutation test of the mean" in text and "Holm-adjusted" in text
    assert "significant" not in text.lower()
    killed_only = format_comparison(table[table[OUTCOME] == C.KILLED], "table")
    killed_line = next(line for line in killed_only.splitlines() if "public_private  " in line)
    assert "(permutation)" in killed_line and "−3." in killed_line
    # the Holm-adjusted p of the smallest raw p 300 sign-flip resamples can give, 2/301
    assert f"{4 * 2 / 301:.3f} (permutation)" in killed_line
    header, *_ = text.splitlines()
    col = header.index("mean or share")
    rows = [line for line in text.splitlines() if "public_" in line and "Baseline" not in line]
    assert len(rows) == 2 * len(table[OUTCOME].unique())
    for line in rows:  # aligned columns: every row's cell starts under its header
        assert line[col - 2 : col] == "  " and line[col] != " "
    md = format_comparison(table, "markdown")
    assert md.startswith("| outcome |") and "|---|" in md
    csv = format_comparison(table, "csv")
    assert csv.splitlines()[0].split(",")[:2] == [OUTCOME, C.CONFIGURATION]
    assert "<table" in format_comparison(table, "html")
    with pytest.raises(ValueError):
        format_comparison(table, "xml")  # type: ignore[arg-type]


def test_compare_by_a_drawn_factor_is_compare_within_each_group(results_dir):
    from softtarget.analysis.compare import compare_by

    df = load(results_dir)
    by = compare_by(df, C.ATTACK_MODE, metrics=["killed"], n_resamples=199)
    assert list(by[C.ATTACK_MODE].unique()) == ["firearm", "none"]  # no attack: "none"
    for value, mask in (("firearm", df[C.ATTACK_MODE] == "firearm"),
                        ("none", df[C.ATTACK_MODE].isna())):  # fmt: skip
        alone = compare(df[mask.fillna(False)], metrics=["killed"], n_resamples=199)
        got = by[by[C.ATTACK_MODE] == value].drop(columns=[C.ATTACK_MODE]).reset_index(drop=True)
        pd.testing.assert_frame_equal(got, alone, check_categorical=False, check_dtype=False)
    with pytest.raises(ValueError, match="unknown column 'nope'"):
        compare_by(df, "nope")
