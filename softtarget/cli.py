"""The ``softtarget`` command line: validate, document, run, batch and analyse scenarios.

Bad input exits with status 2 and one located line per problem; an interrupted batch exits
with 130 and leaves a folder that ``--resume`` completes.
"""

from __future__ import annotations

import math
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from softtarget.bad_input import BadInput, fail_on_bad_input, require_configuration
from softtarget.cli_analysis import COMMANDS as ANALYSIS_COMMANDS
from softtarget.cli_animate import COMMANDS as ANIMATE_COMMANDS
from softtarget.cli_sweep import COMMANDS as SWEEP_COMMANDS
from softtarget.cli_view import COMMANDS as VIEW_COMMANDS
from softtarget.options import (
    ARGV_KEY,
    FILE,
    check_invariants_option,
    config_option,
    configs_option,
    out_option,
    quiet_option,
    replicate_option,
    reps_option,
    results_folder,
    resume_command,
    resume_option,
    scheduler_option,
    seed_option,
    set_option,
    workers_option,
)
from softtarget.sim.errors import ScenarioError

#: Outcomes shown after a batch (``softtarget compare`` shows them all).
HEADLINE = [
    "detected_before_attack",
    "attack_prevented",
    "killed",
    "injured",
    "t_police_alerted_s",
    "evac_time_s",
    "mean_screening_wait_s",
    "max_queue_len",
    "staff_cost_eur",
]


def _load(scenario: str, overrides: Sequence[str]) -> Any:
    from softtarget.sim.loader import load_scenario

    return load_scenario(scenario, overrides)


#: Image suffixes ``softtarget venue --out`` writes.
PLAN_SUFFIXES = (".png", ".svg", ".pdf")


class _Group(click.Group):
    """The main group: keeps its command line (for resume hints) and shows warnings in one line."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """Record ``args`` in ``ctx.meta`` before parsing them."""
        ctx.meta[ARGV_KEY] = list(args)
        return super().parse_args(ctx, args)


def _show_warning(message: Any, category: Any, filename: str, lineno: int, *a: Any) -> None:
    from softtarget.sim.store import ResultsWarning

    if issubclass(category, ResultsWarning):
        click.echo(f"warning: {message}", err=True)
    else:  # pragma: no cover - other warnings as Python shows them
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno))


def _show_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    """``--version``: the package's version, read only when asked for (it is slow to read)."""
    if not value or ctx.resilient_parsing:
        return
    import softtarget

    click.echo(f"softtarget, version {softtarget.__version__}")
    ctx.exit()


@click.group(
    cls=_Group,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_show_version,
    help="Show the version and exit.",
)
def main() -> None:
    """Crowds, security staff and diffuse threats at soft targets.

    Compare public-only with public-private guarding through batch runs of scenario files.

    \b
    Start with:
      softtarget scenarios                 # the built-in scenarios
      softtarget batch festival --reps 20  # a comparison, then its table
      softtarget compare results/festival/<time>
    """
    warnings.showwarning = _show_warning


# ------------------------------------------------------------------------ scenarios ---


@main.command()
@click.argument("scenarios", nargs=-1, required=True, metavar="SCENARIO...")
@set_option()
def validate(scenarios: tuple[str, ...], overrides: tuple[str, ...]) -> None:
    """Check scenario files and report every problem as FILE:LINE: field: message.

    Exits 0 when all are valid and 2 otherwise.

    \b
    Example:
      softtarget validate festival my_venue.yaml
    """
    failed = False
    for name in scenarios:
        try:
            loaded = _load(name, overrides)
        except ScenarioError as exc:
            failed = True
            for problem in exc.problems:
                click.echo(str(problem), err=True)
            continue
        sc = loaded.scenario
        click.echo(
            f"{loaded.file}: ok ({sc.name}: {len(sc.configurations)} configurations, "
            f"hash {loaded.hash[:12]})"
        )
        _warn_widths(str(loaded.file), sc)
    if failed:
        raise SystemExit(2)


def _warn_widths(file: str, scenario: Any, show_all: bool = False) -> None:
    """Say, per door and gate, the width the model uses where it differs from the drawn one."""
    from softtarget.sim.layout import opening_widths

    for o in opening_widths(scenario.venue):
        if o.differs:
            click.echo(
                f"{file}: warning: venue.zones.{o.zone}: opening drawn {o.drawn_m:g} m wide, "
                f"represented {o.represented_m:.2f} m (the zone is shorter than width_m along "
                "its wall, or a wall, the fence or a corner closes part of it)",
                err=True,
            )
        elif show_all:
            click.echo(f"  {o.zone}: {o.drawn_m:g} m drawn, {o.represented_m:.2f} m represented")


@main.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["markdown", "json"]),
    default="markdown",
    show_default=True,
    help="Markdown reference or JSON Schema.",
)
def schema(fmt: str) -> None:
    """Print the documented scenario format (every section, field, type and default).

    \b
    Example:
      softtarget schema > docs/scenario-format.md
    """
    from softtarget.sim.docs import schema_json, schema_markdown

    click.echo(schema_markdown() if fmt == "markdown" else schema_json(), nl=False)


@main.command()
def scenarios() -> None:
    """List the built-in scenarios, one line each.

    \b
    Example:
      softtarget scenarios
    """
    from softtarget.sim.loader import builtin_names, load_scenario

    for name in builtin_names():
        sc = load_scenario(name).scenario
        first = " ".join(sc.description.split()).split(". ")[0].split("; ")[0].rstrip(".")
        click.echo(f"{name:<10} {first}")


def _plan_suffix(ctx: click.Context, param: click.Parameter, value: Path) -> Path:
    if value.suffix.lower() not in PLAN_SUFFIXES:
        raise click.BadParameter(
            f"'{value}': unknown image type {value.suffix or '(none)'!r}"
            f" (allowed: {', '.join(PLAN_SUFFIXES)})"
        )
    return value


@main.command()
@click.argument("scenario")
@out_option(
    type=FILE,
    default=Path("plan.png"),
    show_default=True,
    callback=_plan_suffix,
    help="Image to write (.png, .svg or .pdf).",
)
@config_option(help="Also draw this configuration's staff posts and patrol routes.")
@set_option()
@fail_on_bad_input
def venue(scenario: str, out: Path, configuration: str | None, overrides: tuple[str, ...]) -> None:
    """Draw the venue plan: area, walls, zones with names, staff posts and beats.

    \b
    Example:
      softtarget venue festival --config public_private --out festival.png
    """
    from softtarget.sim.plan import save_plan

    loaded = _load(scenario, overrides)
    sc = loaded.scenario
    if configuration is not None:
        require_configuration(sc, configuration)
    click.echo(f"plan: {save_plan(sc, out, configuration)}")
    click.echo("doors and gates (width as drawn, width the model uses):")
    _warn_widths(str(loaded.file), sc, show_all=True)


# ----------------------------------------------------------------------------- runs ---


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


@main.command()
@click.argument("scenario")
@config_option()
@seed_option()
@replicate_option()
@click.option("--events", "show_events", is_flag=True, help="Also print the event log.")
@check_invariants_option(
    help="Check the model's invariants at every step (slower); a violation exits 1 "
    "naming the step, the invariant and the people involved."
)
@click.option(
    "--trajectories",
    type=click.Path(path_type=Path),  # a folder is refused in one line, as a bad suffix is
    default=None,
    metavar="PATH.parquet",
    help="Also write every visitor's position (id, frame, x, y in metres, t_s, state) to this "
    "Parquet file, in PedPy's format with its frame rate in the metadata; the outcome is the "
    "same as without it (docs/validation.md, 'Trajectories for PedPy').",
)
@click.option(
    "--trajectory-every",
    "trajectory_every",
    default=None,
    metavar="DURATION",
    help="Model time between two frames of --trajectories, a whole number of steps of "
    "run.dt_s (e.g. 0.6s or 1.2s) [default: every step].",
)
@set_option()
@fail_on_bad_input
def run(
    scenario: str,
    configuration: str | None,
    seed: int | None,
    replicate: int | None,
    show_events: bool,
    check_invariants: bool,
    trajectories: Path | None,
    trajectory_every: str | None,
    overrides: tuple[str, ...],
) -> None:
    """Run one simulation and print its outcome summary.

    Re-run any row of a batch with its configuration and seed. With --trajectories, the
    positions of everyone standing in the venue go to a Parquet file that PedPy reads
    (softtarget.sim.trajectories.to_pedpy); nothing is written when the path or the interval
    is refused.

    \b
    Example:
      softtarget run festival --config public_private --replicate 3
      softtarget run worship --set run.duration_s=5min --trajectories worship.parquet \\
          --trajectory-every 0.6s
    """
    from softtarget.sim.invariants import InvariantError
    from softtarget.sim.model import simulate
    from softtarget.sim.runs import RunTask, run_seed

    every_s = _trajectory_options(trajectories, trajectory_every)
    loaded = _load(scenario, overrides)
    sc = loaded.scenario
    configuration = require_configuration(sc, configuration)
    replicate = replicate or 0
    seed = run_seed(sc.run.seed, replicate) if seed is None else seed
    task = RunTask(sc, loaded.hash, configuration, replicate, seed, check_invariants)
    try:
        out = simulate(task) if trajectories is None else _record(task, trajectories, every_s)
    except InvariantError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(1) from None
    width = max(len(k) for k in out.row)
    for key, value in out.row.items():
        click.echo(f"{key:<{width}}  {_fmt(value)}")
    if show_events:
        click.echo("")
        click.echo(out.events[["t_s", "kind", "actor", "detail"]].to_string(index=False))
    if trajectories is not None:
        tr = out.extra["trajectories"]
        click.echo(
            f"trajectories: {tr['path']} ({tr['frames']:,} frames every {tr['every_s']:g} s, "
            f"{tr['rows']:,} positions)"
        )


def _trajectory_options(path: Path | None, every: str | None) -> float | None:
    """``--trajectory-every`` in seconds, once ``--trajectories`` is checked (before any run)."""
    if path is None:
        if every is not None:
            raise BadInput("--trajectory-every: needs --trajectories PATH.parquet")
        return None
    from softtarget.sim.errors import TrajectoryError
    from softtarget.sim.trajectories import check_path
    from softtarget.sim.units import parse_duration

    try:
        check_path(path)
        return None if every is None else parse_duration(every)
    except TrajectoryError as exc:
        raise BadInput(f"--trajectories: {exc}") from None
    except ValueError as exc:
        raise BadInput(f"--trajectory-every: {exc}") from None


def _record(task: Any, path: Path, every_s: float | None) -> Any:
    """The run of ``task`` with its trajectories written to ``path``; bad input exits 2 unrun."""
    from softtarget.sim.errors import TrajectoryError
    from softtarget.sim.trajectories import simulate_with_trajectories, steps_per_frame

    try:
        steps_per_frame(task.scenario.run.dt_s, every_s)
    except TrajectoryError as exc:
        raise BadInput(f"--trajectory-every: {exc}") from None
    try:  # refuses an unwritable path before running anything
        return simulate_with_trajectories(task, path, every_s)
    except TrajectoryError as exc:
        raise BadInput(f"--trajectories: {exc}") from None


@main.command()
@click.argument("scenario")
@reps_option()
@workers_option()
@out_option(help="Results folder (default: results/<scenario>/<time>).")
@resume_option()
@scheduler_option()
@configs_option()
@check_invariants_option()
@quiet_option(help="No progress and no table at the end.")
@set_option()
@fail_on_bad_input
def batch(
    scenario: str,
    reps: int | None,
    workers: int | None,
    out: Path | None,
    resume: bool,
    scheduler: str | None,
    configurations: tuple[str, ...],
    check_invariants: bool,
    quiet: bool,
    overrides: tuple[str, ...],
) -> None:
    """Run every configuration x replications and write a results folder.

    Each replicate uses the same visitors and attacker in every configuration, so the
    comparison is paired; results do not depend on the number of workers. A failing run is
    recorded in failures.parquet and the batch goes on. Ctrl-C stops cleanly; --resume with
    the same --out completes the batch.

    \b
    Example:
      softtarget batch festival --reps 50 --workers 2
      softtarget batch festival --out results/f1 --resume
      softtarget batch festival --reps 500 --scheduler tcp://10.0.0.5:8786 --out /shared/f2
    """
    from softtarget.sim.batch import Terminated, plan_tasks, run_batch
    from softtarget.sim.bounds import check_runs
    from softtarget.sim.engines import open_engine, parse_scheduler
    from softtarget.sim.errors import EngineError

    try:
        parse_scheduler(scheduler)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--scheduler") from None
    loaded = _load(scenario, overrides)
    sc = loaded.scenario
    out = results_folder(out, resume=resume, scenario=sc.name, command="batch")
    n_configs = len(set(configurations) or sc.configurations)
    if reps is not None and (too_many := check_runs(reps, n_configs, source="--reps")):
        raise BadInput(too_many)  # before anything is written
    tasks = plan_tasks(
        sc,
        loaded.hash,
        configurations=list(configurations) or None,
        replications=reps,
        check_invariants=check_invariants,
    )
    again = resume_command(out, "batch")
    try:
        with open_engine(scheduler, workers=workers) as engine:
            if engine.executor is not None:
                click.echo(f"engine: {engine.description}", err=True)
                if engine.dashboard:
                    click.echo(f"Dask dashboard: {engine.dashboard}", err=True)
            summary = run_batch(
                tasks,
                out,
                workers=engine.workers,
                executor=engine.executor,
                resume=resume,
                progress=False if quiet else None,
                command=again,
            )
    except KeyboardInterrupt as exc:
        why = "terminated (SIGTERM)" if isinstance(exc, Terminated) else "interrupted"
        click.echo(f"\n{why}: complete it with  {again}", err=True)
        raise SystemExit(143 if isinstance(exc, Terminated) else 130) from None
    except EngineError as exc:
        click.echo(f"error: {exc}", err=True)
        if (out / "manifest.json").is_file():
            click.echo(f"the runs done are in {out}; --resume completes the batch", err=True)
        raise SystemExit(1) from None
    if not quiet:
        click.echo(str(summary), err=True)
        _print_headline(out)
    click.echo(f"results: {out}")
    if summary.n_failed:
        click.echo(f"{summary.n_failed} runs failed: see failures.parquet in {out}", err=True)


def _print_headline(out: Path) -> None:
    from softtarget import analysis

    df = analysis.load(out)
    if df.empty:
        return
    metrics = [m for m in HEADLINE if m in df.columns]
    table = analysis.compare(
        df, metrics=metrics, n_resamples=999, failures=analysis.load_failures(out, missing_ok=True)
    )
    click.echo(analysis.format_comparison(table, "table"))


for _command in [*ANALYSIS_COMMANDS, *SWEEP_COMMANDS, *ANIMATE_COMMANDS, *VIEW_COMMANDS]:
    main.add_command(_command)


def run_main() -> None:  # pragma: no cover - console entry for ``python -m softtarget``
    """Entry point that keeps BrokenPipe quiet when output is piped to ``head``."""
    try:
        main()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise SystemExit(1) from None
