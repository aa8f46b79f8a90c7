"""Validation figures and numbers for docs/validation.md.

    .venv/bin/python benchmarks/validation_plots.py

Writes docs/img/validation_fundamental_diagram.png and docs/img/validation_bottleneck.png
and prints the measured values (Markdown tables).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from softtarget.sim.motion.validation import (
    bottleneck_flow,
    evacuation_time,
    free_walk_time,
    fundamental_diagram,
    weidmann_speed,
)

IMG = Path(__file__).resolve().parents[1] / "docs" / "img"
SEEDS = range(1, 7)
# Kretz, Grünebohm & Schreckenberg (2006): width (m) -> flow range (persons/s)
KRETZ = {0.4: (0.88, 0.90), 0.5: (1.01, 1.04), 0.6: (1.12, 1.12), 0.7: (1.22, 1.25),
         0.8: (1.39, 1.46), 0.9: (1.53, 1.63), 1.0: (1.71, 2.02), 1.2: (2.03, 2.29)}  # fmt: skip


def main() -> None:
    IMG.mkdir(parents=True, exist_ok=True)
    print(f"free walk, 40 m at 1.33 m/s: {free_walk_time():.1f} s (reference 30.1 s)\n")

    rhos = np.array([0.25, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0])
    v = np.array([fundamental_diagram(tuple(rhos), seed=s) for s in SEEDS])
    vm, vs = v.mean(0), v.std(0)
    ref = weidmann_speed(rhos)
    print("| density /m² | model m/s (mean ± sd over 6 seeds) | Weidmann m/s | difference |")
    print("|---|---|---|---|")
    for r, a, b, w in zip(rhos, vm, vs, ref, strict=True):
        print(f"| {r:.2f} | {a:.3f} ± {b:.3f} | {w:.3f} | {a - w:+.3f} |")
    fig, ax = plt.subplots(figsize=(6, 4))
    rr = np.linspace(0.2, 5.4, 200)
    ax.plot(rr, weidmann_speed(rr), "k-", label="Weidmann (1993)")
    ax.fill_between(rr, weidmann_speed(rr) - 0.25, weidmann_speed(rr) + 0.25, color="0.85",
                    label="test tolerance ±0.25 m/s")  # fmt: skip
    ax.errorbar(rhos, vm, yerr=vs, fmt="o", color="C0", capsize=3, label="CA, periodic corridor")
    ax.set_xlabel("density (persons/m²)")
    ax.set_ylabel("mean speed (m/s)")
    ax.set_ylim(0, 1.6)
    ax.legend()
    ax.set_title("Fundamental diagram")
    fig.tight_layout()
    fig.savefig(IMG / "validation_fundamental_diagram.png", dpi=120)

    print("\n| opening (m) | cells | flow /s | specific flow /(m·s) |")
    print("|---|---|---|---|")
    widths, flows = [], []
    for cells in range(1, 7):
        lo = 4.0
        hi = lo + 0.4 * cells
        res = [bottleneck_flow(lo, hi, seed=s) for s in (2, 3, 4)]
        j = np.mean([r.flow for r in res])
        widths.append(res[0].effective_width)
        flows.append(j)
        w = res[0].effective_width
        print(f"| {w:.1f} | {cells} | {j:.2f} | {j / w:.2f} |")
    one = bottleneck_flow(4.4, 5.4)
    print(f"\nnominal 1.0 m door (2 cells): {one.flow:.2f} /s = {one.specific_flow_nominal:.2f} "
          f"per nominal m, {one.specific_flow_effective:.2f} per represented m")  # fmt: skip
    fig, ax = plt.subplots(figsize=(6, 4))
    ww = np.linspace(0, 2.6, 10)
    ax.fill_between(ww, 1.3 * ww, 2.0 * ww, color="0.85", label="1.3–2.0 /(m·s) band")
    for i, (w, (a, b)) in enumerate(KRETZ.items()):
        ax.plot([w, w], [a, b], "r-", lw=4, label="Kretz et al. 2006" if i == 0 else None)
    ax.plot(widths, flows, "o-", color="C0", label="CA (mean of 3 seeds)")
    ax.set_xlabel("opening width (m)")
    ax.set_ylabel("flow (persons/s)")
    ax.legend()
    ax.set_title("Bottleneck flow vs width")
    fig.tight_layout()
    fig.savefig(IMG / "validation_bottleneck.png", dpi=120)

    t4 = [evacuation_time((0, 1, 2, 3), seed=s)[0] for s in (3, 4, 5)]
    t2 = [evacuation_time((0, 1), seed=s)[0] for s in (3, 4, 5)]
    print("\n| seed | 4 exits (s) | 2 exits (s) | ratio |")
    print("|---|---|---|---|")
    for s, a, b in zip((3, 4, 5), t4, t2, strict=True):
        print(f"| {s} | {a:.1f} | {b:.1f} | {b / a:.2f} |")


if __name__ == "__main__":
    main()
