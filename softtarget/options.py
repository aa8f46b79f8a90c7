"""The command-line options several verbs share, each defined once.

Every name here is a function that returns a click option decorator. Called without
arguments it gives the option as most verbs word it; a verb that means something more
specific passes its own ``help`` (or ``default``, ``type``...), which replaces just that::

    @set_option()
    @config_option(help="Configuration shown first (default: the first).")
    @out_option(type=FILE, required=True, help="Animation to write: .gif or .mp4.")

The name of each option's parameter is fixed here too (``--set`` fills ``overrides``,
``--config`` ``configuration`` or, repeatable, ``configurations``).
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

__all__ = [
    "FILE",
    "FOLDER",
    "check_invariants_option",
    "config_option",
    "configs_option",
    "out_option",
    "quiet_option",
    "replicate_option",
    "reps_option",
    "results_folder",
    "resume_command",
    "resume_option",
    "scheduler_option",
    "seed_option",
    "set_option",
    "workers_option",
]

F = TypeVar("F", bound=Callable[..., Any])

#: Most replications a batch may plan (``--reps``; more would not fit a manifest anyway).
MAX_REPS = 1_000_000
#: Most worker processes or runs in flight (``--workers``).
MAX_WORKERS = 4096
#: Largest seed (seeds are stored in signed 64-bit columns).
MAX_SEED = 2**63 - 1
#: Where the main group keeps the command line it was given (``ctx.meta``).
ARGV_KEY = "softtarget.argv"

#: ``--out`` that must be a file (not an existing folder), or a folder (not an existing file).
FILE = click.Path(path_type=Path, dir_okay=False)
FOLDER = click.Path(path_type=Path, file_okay=False)


def _shared(*decls: str, **defaults: Any) -> Callable[..., Callable[[F], F]]:
    """An option defined once; the returned function makes it, with ``changes`` applied."""

    def option(**changes: Any) -> Callable[[F], F]:
        """Make the option; keyword arguments replace its attributes (``help``, ``default``...)."""
        return click.option(*decls, **{**defaults, **changes})

    return option


set_option = _shared(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a field by its dotted path, e.g. --set run.duration_s=10min "
    "(repeatable; the value is read as YAML).",
)
config_option = _shared(
    "--config", "configuration", help="Configuration to run (default: the first)."
)
configs_option = _shared(
    "--config",
    "configurations",
    multiple=True,
    help="Only these configurations (repeatable; default: all).",
)
seed_option = _shared(
    "--seed",
    type=click.IntRange(min=0, max=MAX_SEED),
    help="Run seed (as in the seed column of runs.parquet).",
)
replicate_option = _shared(
    "--replicate",
    type=click.IntRange(min=0, max=MAX_REPS - 1),
    default=None,
    help="Replicate whose seed to use when --seed is not given [default: 0].",
)
reps_option = _shared(
    "--reps",
    type=click.IntRange(min=1, max=MAX_REPS),
    default=None,
    help="Replications per configuration (default: run.replications of the scenario; at most"
    " 1,000,000).",
)
workers_option = _shared(
    "--workers",
    type=click.IntRange(min=1, max=MAX_WORKERS),
    help="Worker processes (default: all cores).",
)
scheduler_option = _shared(
    "--scheduler",
    metavar="ADDR",
    help="Run on Dask instead of the local pool: tcp://HOST:PORT of a running cluster (the"
    " results folder must then be on a file system every worker shares, at the same path), or"
    " local:N for a Dask cluster of N workers on this machine, with its dashboard. Needs"
    " softtarget[dask]; see docs/cluster.md. --workers then defaults to the cluster's threads.",
)
#: ``--out``: each verb says what it writes (``help``) and passes ``type=FILE`` or ``FOLDER``.
out_option = _shared("--out", type=click.Path(path_type=Path), default=None)
resume_option = _shared("--resume", is_flag=True, help="Complete an interrupted batch in --out.")
#: ``--quiet``: each verb says what it leaves out (``help``).
quiet_option = _shared("--quiet", is_flag=True)
check_invariants_option = _shared(
    "--check-invariants",
    is_flag=True,
    help="Check the model's invariants at every step (slower).",
)


def results_folder(out: Path | None, *, resume: bool, scenario: str, command: str) -> Path:
    """The folder a batch, sweep or sensitivity run writes: ``--out``, or a new one.

    The default is ``results/<scenario>/<time>`` for ``batch`` and
    ``results/<scenario>/<command>-<time>`` otherwise (UTC, e.g. ``20250101T120000Z``);
    ``--resume`` without ``--out`` is a usage error (exit 2).
    """
    if resume and out is None:
        raise click.UsageError(f"--resume needs the --out folder of the {command} run to complete")
    if out is not None:
        return out
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return Path("results") / scenario / (stamp if command == "batch" else f"{command}-{stamp}")


def resume_command(out: Path, command: str) -> str:
    """The full command line that completes ``out``: the one given, with --out and --resume.

    It is the command line the main group recorded (every option: --reps, --config, --set...),
    shell-quoted; ``--out`` is added when it was left to its default, ``--resume`` when absent.
    """
    ctx = click.get_current_context(silent=True)
    argv = list(ctx.meta.get(ARGV_KEY, [])) if ctx is not None else []
    if not argv:
        argv = [command]
    if not any(a == "--out" or a.startswith("--out=") for a in argv):
        argv += ["--out", str(out)]
    if "--resume" not in argv:
        argv.append("--resume")
    return shlex.join(["softtarget", *argv])
