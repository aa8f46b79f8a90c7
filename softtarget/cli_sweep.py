"""The ``softtarget sweep`` and ``softtarget sensitivity`` commands.

Both write a sweep folder: one ordinary batch folder per point (``point_000/``, ...) and the
index ``sweep.json`` (see :mod:`softtarget.sim.sweep`). They are plain click commands collected in
:data:`COMMANDS`, which the main group adds like the analysis verbs. Heavy imports happen
inside the commands.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from softtarget.bad_input import BadInput, fail_on_bad_input, require_configuration
from softtarget.options import (
    FOLDER,
    config_option,
    configs_option,
    out_option,
    quiet_option,
    reps_option,
    results_folder,
    resume_command,
    resume_option,
    seed_option,
    set_option,
    workers_option,
)

__all__ = ["COMMANDS", "sensitivity_command", "sweep_command"]

F = TypeVar("F", bound=Callable[..., Any])


def _common(f: F) -> F:
    """Options shared by both commands (applied bottom-up)."""
    options = [
        workers_option(),
        out_option(
            type=FOLDER, help="Sweep folder (default: results/<scenario>/<command>-<time>)."
        ),
        resume_option(help="Complete an interrupted run of --out."),
        quiet_option(help="No line per point."),
        set_option(
            help="Override a field of every point by its dotted path, e.g. --set "
            "run.duration_s=10min (repeatable; the value is read as YAML)."
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _run(points: list[Any], out: Path, command: str, scenario: str, **kw: Any) -> int:
    """Run the points; Ctrl-C exits 130 with the command that completes the folder."""
    from softtarget.sim.sweep import run_points

    quiet = kw.pop("quiet")
    total = len(points)
    again = resume_command(out, command)

    def tell(point: Any, message: str) -> None:
        if not quiet:
            values = ", ".join(f"{k}={v}" for k, v in point.values.items())
            click.echo(
                f"[{point.index + 1}/{total}] {point.folder} ({values}): {message}", err=True
            )

    try:
        return run_points(points, out, on_point=tell, **kw)
    except KeyboardInterrupt:
        click.echo(f"\ninterrupted: complete it with  {again}", err=True)
        raise SystemExit(130) from None


@click.command(
    "sweep",
    epilog="Example:\n\n\b\n  softtarget sweep festival --param crowd.initial_inside=500,1000,2000"
    " \\\n      --param run.duration_s=10min,20min --reps 20 --out results/festival-sweep"
    "\n  softtarget plot results/festival-sweep",
)
@click.argument("scenario")
@click.option(
    "--param",
    "--sweep",
    "params",
    multiple=True,
    required=True,
    metavar="PATH=V1,V2,...",
    help="A field to vary by its dotted path and the values it takes (read as YAML; "
    "repeatable: the sweep runs every combination).",
)
@configs_option()
@reps_option(help="Replications per configuration and point (default: run.replications).")
@_common
@fail_on_bad_input(also=(ValueError,))
def sweep_command(
    scenario: str,
    params: tuple[str, ...],
    configurations: tuple[str, ...],
    reps: int | None,
    workers: int | None,
    out: Path | None,
    resume: bool,
    quiet: bool,
    overrides: tuple[str, ...],
) -> None:
    """Run every configuration at every combination of parameter values (a grid).

    Each point of the grid is an ordinary results folder OUT/point_NNN written like
    ``softtarget batch`` with the point's overrides; OUT/sweep.json lists the points and
    their values. Replicate r has the same seed at every point (common random numbers).
    Every point is checked before any run; --resume skips the complete points.
    """
    from softtarget.sim.batch import plan_tasks
    from softtarget.sim.bounds import check_runs
    from softtarget.sim.sweep import (
        KIND_SWEEP,
        grid_variants,
        load_points,
        make_index,
        prepare_folder,
    )

    paths, variants = grid_variants(params)
    points = load_points(scenario, overrides, variants)
    first = points[0].loaded.scenario
    plan_tasks(first, points[0].loaded.hash, configurations=list(configurations) or None)
    per_point = [reps or p.loaded.scenario.run.replications for p in points]
    n_configs = len(set(configurations) or first.configurations)
    source = "--reps" if reps else "run.replications"
    if too_many := check_runs(per_point, n_configs, source=source, per="sweep"):
        raise BadInput(too_many)  # before anything is written
    out = results_folder(out, resume=resume, scenario=first.name, command="sweep")
    index = make_index(
        KIND_SWEEP,
        scenario,
        overrides,
        paths,
        points,
        reps=reps,
        configurations=list(configurations) or None,
    )
    prepare_folder(out, index, resume)
    click.echo(f"sweep: {len(points)} points of {', '.join(paths)}", err=True)
    failed = _run(
        points,
        out,
        "sweep",
        scenario,
        reps=reps,
        configurations=list(configurations) or None,
        workers=workers,
        resume=resume,
        quiet=quiet,
    )
    click.echo(f"results: {out}")
    if failed:
        click.echo(f"{failed} runs failed: see failures.parquet in the point folders", err=True)


@click.command(
    "sensitivity",
    epilog="Example:\n\n\b\n  softtarget sensitivity festival --config public_private \\\n"
    "      --params crowd.initial_inside:500:3000,crowd.report_probability:0.1:0.6 \\\n"
    "      --method morris --samples 10 --outcome killed --out results/festival-sa",
)
@click.argument("scenario")
@click.option(
    "--params",
    "params_text",
    required=True,
    metavar="A.B:LO:HI,...",
    help="Parameters by dotted path with their ranges, separated by commas. Integer fields "
    "(counts) are rounded.",
)
@click.option(
    "--method",
    type=click.Choice(["morris", "sobol"]),
    default="morris",
    show_default=True,
    help="Morris elementary effects (screening, cheap) or Sobol indices (variance-based).",
)
@click.option(
    "--samples",
    type=click.IntRange(min=2),
    default=10,
    show_default=True,
    help="Morris trajectories (runs N*(D+1) points) or Sobol base samples (N*(D+2) points; "
    "a power of two).",
)
@config_option()
@click.option(
    "--outcome",
    default="killed",
    show_default=True,
    help="Outcome column whose mean over the replicates is analysed.",
)
@seed_option(default=0, show_default=True, help="Seed of the sampler.")
@reps_option(help="Replicates per point (default: 1).")
@_common
@fail_on_bad_input(also=(ValueError,))
def sensitivity_command(
    scenario: str,
    params_text: str,
    method: str,
    samples: int,
    configuration: str | None,
    outcome: str,
    seed: int,
    reps: int | None,
    workers: int | None,
    out: Path | None,
    resume: bool,
    quiet: bool,
    overrides: tuple[str, ...],
) -> None:
    """Global sensitivity of one outcome to scenario parameters (SALib: Morris or Sobol).

    SALib draws parameter sets in the given ranges; each runs like a sweep point (one
    configuration, --reps replicates, default 1) into OUT/point_NNN. The indices (Morris
    mu*, sigma; Sobol S1, ST with 95% confidence) go to OUT/sensitivity.csv and a bar chart
    ranking the parameters to OUT/sensitivity.png. Needs softtarget[sensitivity] (SALib).
    """
    import numpy as np

    from softtarget.analysis.sensitivity import (
        analyze,
        format_value,
        import_salib,
        mark_integers,
        parse_bounds,
        plot_sensitivity,
        sample,
    )
    from softtarget.sim import columns as C
    from softtarget.sim.bounds import check_runs
    from softtarget.sim.loader import load_scenario
    from softtarget.sim.sweep import KIND_SENSITIVITY, load_points, make_index, prepare_folder

    try:
        import_salib()
    except RuntimeError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(1) from None
    if outcome not in C.RUNS_SCHEMA.names:
        raise click.BadParameter(f"no outcome column {outcome!r}", param_hint="--outcome")
    bounds = parse_bounds(params_text)
    base = load_scenario(scenario, overrides)
    configuration = require_configuration(base.scenario, configuration)
    bounds = mark_integers(bounds, base.scenario.model_dump(mode="json"))
    x = sample(bounds, method, samples, seed)  # type: ignore[arg-type]
    variants = [
        [
            (b.path, format_value(b, v), f"--params {b.path}:{b.low:g}:{b.high:g}")
            for b, v in zip(bounds, row, strict=True)
        ]
        for row in x
    ]
    points = load_points(scenario, overrides, variants)
    reps = reps or 1
    per_point = [reps] * len(points)
    if too_many := check_runs(per_point, 1, source="--reps", per="sensitivity analysis"):
        raise BadInput(too_many)  # before anything is written
    out = results_folder(out, resume=resume, scenario=base.scenario.name, command="sensitivity")
    index = make_index(
        KIND_SENSITIVITY,
        scenario,
        overrides,
        [b.path for b in bounds],
        points,
        reps=reps,
        configurations=[configuration],
        extra={
            "method": method,
            "samples": samples,
            "seed": seed,
            "outcome": outcome,
            "configuration": configuration,
            "bounds": [[b.path, b.low, b.high, b.integer] for b in bounds],
            "x": x.tolist(),
        },
    )
    prepare_folder(out, index, resume)
    click.echo(
        f"sensitivity ({method}): {len(points)} points of {len(bounds)} parameters", err=True
    )
    _run(
        points,
        out,
        "sensitivity",
        scenario,
        reps=reps,
        configurations=[configuration],
        workers=workers,
        resume=resume,
        quiet=quiet,
    )
    from softtarget.analysis.sweep import POINT, load_sweep

    runs = load_sweep(out)
    means = runs.groupby(POINT)[outcome].apply(lambda s: float(np.nanmean(s.astype(float))))
    y = np.array([means.get(p.index, np.nan) for p in points], dtype=float)
    table = analyze(bounds, method, x, y, seed)  # type: ignore[arg-type]
    table.to_csv(out / "sensitivity.csv", index=False)
    plot_sensitivity(table, out / "sensitivity.png", f"{outcome} ({configuration}, {method})")
    click.echo(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    click.echo(f"results: {out}")


#: The commands to add to the main ``softtarget`` group.
COMMANDS: list[click.Command] = [sweep_command, sensitivity_command]
