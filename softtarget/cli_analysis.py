"""The analysis verbs of the ``softtarget`` command: ``compare``, ``plot`` and ``report``.

They are plain click commands collected in :data:`COMMANDS`; the main group adds them with
``for command in COMMANDS: main.add_command(command)``. Heavy imports (pandas, scipy,
seaborn) happen inside the commands, so ``softtarget --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path

import click

from softtarget.bad_input import BadInput
from softtarget.options import FILE, FOLDER, out_option, seed_option

__all__ = ["COMMANDS", "BadInput", "compare_command", "plot_command", "report_command"]


_results_arg = click.argument("results", metavar="RESULTS", type=FOLDER)


def _wrap_errors(exc: Exception) -> click.ClickException:
    from softtarget.sim.errors import ResultsError

    if isinstance(exc, ResultsError | ValueError):
        return BadInput(str(exc))
    return click.ClickException(f"{type(exc).__name__}: {exc}")


@click.command(
    "compare",
    epilog="Example:\n\n\b\n  softtarget compare results/festival --baseline public_only "
    "--metrics killed,injured --format markdown\n  softtarget compare results/festival --by "
    "attack_mode",
)
@_results_arg
@click.option(
    "--baseline",
    metavar="NAME",
    default=None,
    help="Configuration to compare against [default: public_only, else the first].",
)
@click.option(
    "--metrics",
    metavar="A,B,...",
    default=None,
    help="Comma-separated outcome columns [default: every outcome in the results].",
)
@click.option(
    "--by",
    metavar="COLUMN",
    default=None,
    help="One table per value of this column of the runs table, e.g. attack_mode or "
    "attackers (a factor drawn up front keeps the pairs together).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "markdown", "csv"]),
    default="table",
    show_default=True,
    help="Aligned terminal table, Markdown, or CSV with every column at full precision.",
)
@click.option(
    "--resamples",
    type=click.IntRange(min=100),
    default=None,
    help="Bootstrap resamples per interval [default: 4999].",
)
@seed_option(default=0, show_default=True, help="Seed of the bootstrap.")
@out_option(type=FILE, help="Write to this file instead of standard output.")
def compare_command(
    results: Path,
    baseline: str | None,
    metrics: str | None,
    by: str | None,
    fmt: str,
    resamples: int | None,
    seed: int,
    out: Path | None,
) -> None:
    """Outcomes per configuration with 95% intervals, and paired differences to a baseline.

    For every outcome: runs, mean (share for yes/no outcomes) and median with 95% bootstrap
    intervals; for every other configuration the mean paired difference to the baseline
    (pairs share a replicate: common random numbers) with its interval, the two-sided p of
    the paired permutation test of that mean difference (exact McNemar for yes/no outcomes),
    Holm-adjusted across outcomes, and the matched-pairs rank-biserial effect size. With
    --by, one such table per value of a column (the comparison conditional on, say, the mode
    of attack).
    """
    from softtarget.analysis.compare import compare, compare_by, format_comparison
    from softtarget.analysis.results import load, load_failures
    from softtarget.analysis.stats import DEFAULT_RESAMPLES

    chosen = None
    if metrics is not None:
        chosen = [m.strip() for m in metrics.split(",") if m.strip()]
        if not chosen:
            raise BadInput("--metrics is empty; give column names separated by commas")
    try:
        runs = load(results)
        failures = load_failures(results, missing_ok=True)
        if runs.empty:
            raise BadInput(f"{results}: no successful runs to compare")
        options = {
            "baseline": baseline,
            "metrics": chosen,
            "n_resamples": resamples or DEFAULT_RESAMPLES,
            "seed": seed,
            "failures": failures,
        }
        table = compare_by(runs, by, **options) if by else compare(runs, **options)
    except click.ClickException:
        raise
    except Exception as exc:
        raise _wrap_errors(exc) from exc
    if by is None or fmt == "csv":
        text = format_comparison(table, fmt)  # type: ignore[arg-type]
    else:
        sections = []
        for value, group in table.groupby(by, sort=False):
            title = f"{by} = {value}"
            title = f"## {title}" if fmt == "markdown" else f"{title}\n{'=' * len(title)}"
            body = format_comparison(group.drop(columns=[by]), fmt)  # type: ignore[arg-type]
            sections.append(f"{title}\n\n{body}")
        skipped = table.attrs.get("skipped") or []
        if skipped:
            sections.append(f"(no runs of the baseline for {by} = {', '.join(skipped)})\n")
        text = "\n".join(sections)
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        click.echo(f"wrote {out}", err=True)


@click.command(
    "plot",
    epilog="Example:\n\n\b\n  softtarget plot results/festival --out figures/ --svg"
    "\n  softtarget plot results/festival-sweep",
)
@_results_arg
@out_option(type=FOLDER, help="Folder for the figures [default: RESULTS/figures].")
@click.option("--svg", is_flag=True, help="Also write SVG files next to the PNGs.")
def plot_command(results: Path, out: Path | None, svg: bool) -> None:
    """Seaborn figures of a results folder.

    Outcome distributions (box plots with runs as points, and ECDFs), cost against harm,
    the detection → police alerted → neutralised timeline, how attacks ended and how long
    they lasted, and time-series envelopes (median and 5–95% band over runs), one colour
    per configuration throughout.

    For a sweep folder (one with sweep.json, written by ``softtarget sweep``): each outcome's
    mean with its 95% interval against each swept parameter, one line per configuration; for
    a ``softtarget sensitivity`` folder, the bar chart of its indices.
    """
    from softtarget.analysis.plots import plot_results
    from softtarget.sim.sweep import is_sweep

    formats = ("png", "svg") if svg else ("png",)
    try:
        if is_sweep(results):
            from softtarget.analysis.sweep import plot_sweep_folder

            paths = plot_sweep_folder(results, out, formats=formats)
        else:
            paths = plot_results(results, out, formats=formats)
    except Exception as exc:
        raise _wrap_errors(exc) from exc
    for path in paths:
        click.echo(str(path))


@click.command(
    "report",
    epilog="Example:\n\n\b\n  softtarget report results/festival --out festival-report.html",
)
@_results_arg
@out_option(type=FILE, help="HTML file to write [default: RESULTS/report.html].")
def report_command(results: Path, out: Path | None) -> None:
    """One self-contained HTML report: summary, comparison table, figures, provenance.

    Figures are embedded, so the file stands alone; it also lists failed runs and the
    resolved scenario with its hash, the package version and the seeds.
    """
    from softtarget.analysis.report import write_report

    try:
        path = write_report(results, out)
    except Exception as exc:
        raise _wrap_errors(exc) from exc
    click.echo(str(path))


#: The commands to add to the main ``softtarget`` group.
COMMANDS: list[click.Command] = [compare_command, plot_command, report_command]
