"""Does the armed response time matter? Casualties of shootings against the time armed police take.

The built-in festival under ``public_only``, every run a firearm attack, the off-site armed
unit's response time fixed at each of ``--minutes`` in turn. Replicate r sees the same
visitors and the same shooter at every response time (common random numbers), so the
differences between response times are paired. Prints, per response time, the mean of killed
+ injured with its 95% interval, the paired difference to the next quicker response (the
step) with its 95% interval, the share of attacks each way ends, and the mean and longest
attack duration.

    .venv/bin/python benchmarks/armed_response.py                    # 0 2 5 10 15 min, 20 reps
    .venv/bin/python benchmarks/armed_response.py --reps 40 --workers 2
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from scipy import stats

import softtarget
from softtarget.sim import columns as C


def _interval(x: np.ndarray) -> tuple[float, float]:
    """95% t interval of the mean of ``x``."""
    if len(x) < 2:
        return (float("nan"), float("nan"))
    half = stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x))
    return (float(x.mean() - half), float(x.mean() + half))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", default="0,2,5,10,15")
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    levels = [float(m) for m in args.minutes.split(",")]
    harmed: dict[float, np.ndarray] = {}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for minutes in levels:
            over = [
                "threat.mix={firearm: 1}",
                "threat.probability=1",
                "run.duration_s=25min",  # the latest attack starts at 20 min
                f"configurations.public_only.staff.armed_unit.response_time_s={minutes * 60:g}",
            ]
            runs = softtarget.run_experiments(
                "festival",
                overrides=over,
                configurations=["public_only"],
                replications=args.reps,
                workers=args.workers,
                out=Path(tmp) / f"r{minutes:g}",
                progress=False,
                as_frame=True,
            ).sort_values(C.REPLICATE)
            started = runs[C.ATTACK_STARTED].to_numpy(dtype=bool)
            harm = (runs[C.KILLED] + runs[C.INJURED]).to_numpy(dtype=float)
            harmed[minutes] = np.where(started, harm, np.nan)
            ends = runs.loc[started, C.ATTACK_END].value_counts(normalize=True)
            duration = runs.loc[started, C.ATTACK_DURATION_S]
            rows.append((minutes, ends, duration.mean(), duration.max()))
    base = harmed[levels[0]]
    print(
        f"festival, public_only, firearm attacks, {args.reps} paired replicates; "
        "killed + injured per started attack"
    )
    print(f"{'armed at':>9} {'mean':>7} {'95% interval':>16} {'step':>7} {'95% interval':>16}"
          f" {'duration s':>10} {'longest':>7}  ends")  # fmt: skip
    previous = base
    for minutes, ends, duration, longest in rows:
        x = harmed[minutes]
        both = ~np.isnan(x) & ~np.isnan(previous)
        lo, hi = _interval(x[~np.isnan(x)])
        dlo, dhi = _interval(x[both] - previous[both])
        diff = float(np.mean(x[both] - previous[both])) if both.any() else float("nan")
        shares = ", ".join(f"{k} {v:.0%}" for k, v in ends.items())
        print(
            f"{minutes:>7g} m {np.nanmean(x):>7.1f} [{lo:>6.1f}, {hi:>6.1f}] {diff:>+7.1f} "
            f"[{dlo:>+6.1f}, {dhi:>+6.1f}] {duration:>10.0f} {longest:>7.0f}  {shares}"
        )
        previous = x


if __name__ == "__main__":
    main()
