"""The Python API: load a scenario, step or run the model, run a batch, read and compare it.

Meant for notebooks and scripts; ``docs/python-api.md`` shows every function in one example.
Everything here is re-exported from :mod:`softtarget` (``softtarget.load_scenario``, ...):

- :func:`load_scenario` reads and validates a scenario (a built-in name or a YAML path);
- :data:`Model` is the Mesa model of one run, to step by hand and look at;
- :func:`simulate` executes one run to its end and returns its row, time series and events;
- :func:`run_experiments` runs the batch ``softtarget batch`` runs (same runner, same results
  folder: resume, common random numbers and the independence from the worker count hold);
- :func:`load_results` reads a results folder's typed runs table;
- :func:`compare` summarises it per configuration and against a baseline.

Bad scenario input raises :class:`softtarget.sim.errors.ScenarioError` (every problem, located),
an unreadable results folder :class:`softtarget.sim.errors.ResultsError`. The simulation
modules (numba, Mesa) are imported on first use, so ``import softtarget`` stays quick.
"""

from __future__ import annotations

import operator
import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

if TYPE_CHECKING:
    import pandas as pd

    from softtarget.sim.model import SoftTargetModel
    from softtarget.sim.schema import Scenario

    #: The Mesa model class of one run (an alias of ``SoftTargetModel``).
    Model = SoftTargetModel

__all__ = [
    "Model",
    "RunResult",
    "compare",
    "load_results",
    "load_scenario",
    "run_experiments",
    "simulate",
]


def __getattr__(name: str) -> Any:
    """Resolve :data:`Model` on first use: it imports the model (numba, Mesa), which is slow."""
    if name == "Model":
        from softtarget.sim.model import SoftTargetModel

        globals()["Model"] = SoftTargetModel
        return SoftTargetModel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --- helpers -----------------------------------------------------------------------------------


def _strings(value: str | Iterable[str], what: str) -> list[str]:
    """``value`` as a list of strings; one string is one item, not its characters."""
    if isinstance(value, str):
        return [value]
    items = list(value)
    for item in items:
        if not isinstance(item, str):
            raise TypeError(f"{what} must be strings, got {item!r} ({type(item).__name__})")
    return items


def _resolve(
    scenario: Scenario | str | os.PathLike[str], overrides: str | Iterable[str]
) -> tuple[Scenario, str]:
    """The validated scenario and its hash (the one ``softtarget batch`` records)."""
    from softtarget.sim import loader
    from softtarget.sim.schema import Scenario

    sets = _strings(overrides, "overrides")
    if isinstance(scenario, str | os.PathLike):
        loaded = loader.load_scenario(os.fspath(scenario), sets)
        return loaded.scenario, loaded.hash
    if isinstance(scenario, Scenario):
        if sets:
            raise ValueError(
                "overrides apply to a scenario name or path, where they act as --set does"
                " (before `extends:` is resolved); for a Scenario, load it with"
                " softtarget.load_scenario(name_or_path, overrides=[...]) instead"
            )
        return scenario, loader.scenario_hash(scenario)
    raise TypeError(
        "scenario must be a Scenario (softtarget.load_scenario), a built-in scenario's name"
        f" or the path of a YAML file, got {type(scenario).__name__}"
    )


def _require_configurations(scenario: Scenario, names: Iterable[str]) -> None:
    """Raise ``ScenarioError`` naming the configurations the scenario does not have."""
    from softtarget.sim.batch import require_configurations

    require_configurations(scenario, names)


def _integer(value: int, what: str) -> int:
    """``value`` as an ``int`` (numpy integers too, as read from a runs table); not a bool."""
    try:
        if isinstance(value, bool):
            raise TypeError
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{what} must be an integer, got {value!r}") from None


def _count(value: int | None, what: str, least: int) -> int | None:
    if value is None:
        return None
    value = _integer(value, what)
    if value < least:
        raise ValueError(f"{what} must be at least {least}, got {value}")
    return value


# --- scenarios and single runs -----------------------------------------------------------------


def load_scenario(
    name_or_path: str | os.PathLike[str], *, overrides: str | Iterable[str] = ()
) -> Scenario:
    """Read, override and validate a scenario; return the validated ``Scenario``.

    ``name_or_path`` is a built-in scenario's name (``"festival"``; ``softtarget scenarios``
    lists them) or the path of a YAML file. ``overrides`` are ``--set`` values,
    ``"dotted.path=VALUE"`` with the value read as YAML (``"run.duration_s=60"``); one string
    is one override. The result is a pydantic model (``scenario.run.duration_s``,
    ``scenario.configurations``, ...) that :data:`Model`, :func:`simulate` and
    :func:`run_experiments` take; its hash, the one results folders record, is
    ``softtarget.sim.loader.scenario_hash(scenario)``.

    Raises :class:`~softtarget.sim.errors.ScenarioError` carrying every problem found
    (``exc.problems``, each ``FILE:LINE: field: message (allowed: ...)``).
    """
    if not isinstance(name_or_path, str | os.PathLike):
        raise TypeError(
            f"name_or_path must be a scenario name or a path, got {type(name_or_path).__name__}"
        )
    return _resolve(name_or_path, overrides)[0]


@dataclass(frozen=True, repr=False)
class RunResult:
    """What one run produced (see :func:`simulate`).

    ``row`` is the run's row of ``runs.parquet`` as a dict: identity (``run_id``,
    ``scenario``, ``configuration``, ``replicate``, ``seed``), every outcome and
    ``wall_time_s``; ``pandas.Series(result.row)`` shows it as a column. ``timeseries`` holds
    the sampled reporters (one row every ``run.sample_every_s``) and ``events`` the event log
    (``t_s``, ``kind``, ``actor``, ``detail``), with the columns of ``timeseries.parquet`` and
    ``events.parquet``; ``exits`` one row per exit, with the columns of ``exits.parquet``;
    ``messages`` one row per message of the reporting chain (``messages.parquet``).
    """

    row: dict[str, Any]
    timeseries: pd.DataFrame
    events: pd.DataFrame
    exits: pd.DataFrame
    messages: pd.DataFrame

    @property
    def run_id(self) -> str:
        """The run's identity, as in the ``run_id`` column of a results folder."""
        return str(self.row["run_id"])

    def __repr__(self) -> str:
        """One line: the run, and the sizes of its tables."""
        return (
            f"RunResult(run_id={self.run_id!r}, seed={self.row.get('seed')!r},"
            f" {len(self.row)} row fields, timeseries={len(self.timeseries)} rows,"
            f" events={len(self.events)} rows)"
        )


def simulate(
    scenario: Scenario | str | os.PathLike[str],
    *,
    configuration: str,
    replicate: int = 0,
    seed: int | None = None,
    overrides: str | Iterable[str] = (),
    check_invariants: bool = False,
) -> RunResult:
    """Execute one run of ``configuration`` to the end of ``run.duration_s``; return its tables.

    ``scenario`` is a ``Scenario`` or a name or path (then ``overrides`` apply, as in
    :func:`load_scenario`). The run's seed is ``seed`` if given, else the seed of
    ``replicate`` in a batch (``softtarget.sim.runs.run_seed(scenario.run.seed, replicate)``):
    ``simulate(sc, configuration=c, replicate=r)`` reproduces the row of ``(c, r)`` in a
    results folder of the same scenario, but for ``wall_time_s``. ``check_invariants`` checks
    the model's invariants at every step (slower; a violation raises
    ``softtarget.sim.invariants.InvariantError``).

    Returns a :class:`RunResult` (``row`` dict, ``timeseries`` and ``events`` frames). Raises
    ``ScenarioError`` for a bad scenario or an unknown configuration, and
    ``softtarget.sim.errors.RunError`` (with its ``stage``) when the model cannot be built.
    """
    from softtarget.sim.model import simulate as simulate_task
    from softtarget.sim.runs import RunTask, run_seed

    sc, digest = _resolve(scenario, overrides)
    if not isinstance(configuration, str):
        raise TypeError(f"configuration must be a name, got {configuration!r}")
    _require_configurations(sc, [configuration])
    replicate = _count(replicate, "replicate", 0) or 0
    seed = None if seed is None else _integer(seed, "seed")
    task = RunTask(
        scenario=sc,
        scenario_hash=digest,
        configuration=configuration,
        replicate=replicate,
        seed=run_seed(int(sc.run.seed), replicate) if seed is None else seed,
        check_invariants=check_invariants,
    )
    out = simulate_task(task)
    exits = out.exits if out.exits is not None else pd.DataFrame()
    messages = out.messages if out.messages is not None else pd.DataFrame()
    return RunResult(
        row=dict(out.row), timeseries=out.timeseries, events=out.events, exits=exits,
        messages=messages,
    )  # fmt: skip


# --- batches -----------------------------------------------------------------------------------


@overload
def run_experiments(
    scenario: Scenario | str | os.PathLike[str],
    *,
    replications: int | None = ...,
    configurations: str | Iterable[str] | None = ...,
    workers: int | None = ...,
    out: str | os.PathLike[str] | None = ...,
    overrides: str | Iterable[str] = ...,
    scheduler: str | None = ...,
    resume: bool = ...,
    check_invariants: bool = ...,
    progress: bool | None = ...,
    as_frame: Literal[False] = ...,
) -> Path: ...


@overload
def run_experiments(
    scenario: Scenario | str | os.PathLike[str],
    *,
    replications: int | None = ...,
    configurations: str | Iterable[str] | None = ...,
    workers: int | None = ...,
    out: str | os.PathLike[str] | None = ...,
    overrides: str | Iterable[str] = ...,
    scheduler: str | None = ...,
    resume: bool = ...,
    check_invariants: bool = ...,
    progress: bool | None = ...,
    as_frame: Literal[True],
) -> pd.DataFrame: ...


def run_experiments(
    scenario: Scenario | str | os.PathLike[str],
    *,
    replications: int | None = None,
    configurations: str | Iterable[str] | None = None,
    workers: int | None = None,
    out: str | os.PathLike[str] | None = None,
    overrides: str | Iterable[str] = (),
    scheduler: str | None = None,
    resume: bool = False,
    check_invariants: bool = False,
    progress: bool | None = None,
    as_frame: bool = False,
) -> Path | pd.DataFrame:
    """Run every configuration x replicate and write a results folder, as ``softtarget batch``.

    The same planner, runner and results store as the command line: every configuration of
    one replicate runs on the same seed (common random numbers: the comparison is paired),
    results do not depend on ``workers`` or the engine, a failing run is recorded in
    ``failures.parquet`` (a ``RuntimeWarning`` counts them) and the batch goes on.

    - ``scenario``: a ``Scenario``, or a name or path with ``overrides`` (``--set`` values).
    - ``replications``: per configuration (default ``run.replications`` of the scenario);
      ``configurations``: names to run (one string is one name; default: all).
    - ``workers``: local worker processes (default: all cores); with ``scheduler`` (``"local"``,
      ``"local:N"``, ``"tcp://HOST:PORT"``, as ``--scheduler``; needs ``softtarget[dask]``)
      the runs in flight on Dask (default: the cluster's threads).
    - ``out``: the results folder (default ``results/<scenario>/<UTC time>`` under the current
      folder); it must not exist or be empty, unless ``resume``: then it completes the batch
      there (same scenario and overrides, else ``ResultsError``), running only the missing
      runs. ``KeyboardInterrupt`` leaves a folder that ``resume=True`` completes.
    - ``check_invariants``: check the model's invariants at every step (slower).
    - ``progress``: ``None`` a bar on a terminal and a line every ~10% elsewhere (e.g. in a
      notebook), ``True`` always the bar, ``False`` nothing (all on stderr).

    Returns the results folder's ``Path``, or with ``as_frame=True`` its runs table
    (:func:`load_results`: one row per successful run). The worker processes are started with
    ``spawn``: in a script, call this under ``if __name__ == "__main__":``.

    Raises ``ScenarioError`` (bad scenario, unknown configuration), ``ValueError`` (bad
    ``scheduler``, ``replications`` or ``workers``, ``resume`` without ``out``),
    ``ResultsError`` (a folder that cannot be used or written) and
    ``softtarget.sim.errors.EngineError`` (the engine failed).
    """
    from softtarget.sim.batch import plan_tasks, run_batch
    from softtarget.sim.engines import open_engine, parse_scheduler

    parse_scheduler(scheduler)  # a ValueError now, before any work
    replications = _count(replications, "replications", 1)
    workers = _count(workers, "workers", 1)
    names = None if configurations is None else _strings(configurations, "configurations")
    if names is not None and not names:
        raise ValueError("configurations is empty: name at least one, or pass None for all")
    if resume and out is None:
        raise ValueError("resume=True needs out=, the folder of the batch to complete")
    sc, digest = _resolve(scenario, overrides)
    if names is not None:
        _require_configurations(sc, names)
    if out is None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        folder = Path("results") / sc.name / stamp
    else:
        folder = Path(out)
    tasks = plan_tasks(
        sc,
        digest,
        configurations=names,
        replications=replications,
        check_invariants=check_invariants,
    )
    with open_engine(scheduler, workers=workers) as engine:
        summary = run_batch(
            tasks,
            folder,
            workers=engine.workers,
            executor=engine.executor,
            resume=resume,
            progress=progress,
        )
    if summary.n_failed:
        warnings.warn(
            f"{summary.n_failed} of {summary.n_tasks} runs failed: see failures.parquet in"
            f" {folder} (softtarget.analysis.load_failures)",
            RuntimeWarning,
            stacklevel=2,
        )
    return load_results(folder) if as_frame else folder


# --- results -----------------------------------------------------------------------------------


def load_results(folder: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a results folder's runs table: one row per successful run, explicitly typed.

    The table of :func:`softtarget.analysis.load`: ``configuration`` an ordered categorical
    in the scenario's order, yes/no outcomes ``bool``, counts ``int64``, times ``float64``
    with ``NaN`` where the event did not happen; sorted by configuration, then replicate.
    Failed runs are in ``softtarget.analysis.load_failures(folder)``, the time series and
    events in ``load_timeseries`` and ``load_events`` there. Raises ``ResultsError``.
    """
    from softtarget.analysis.results import load

    return load(folder)


def compare(
    results: pd.DataFrame | str | os.PathLike[str],
    *,
    baseline: str | None = None,
    metrics: str | Iterable[str] | None = None,
    confidence: float = 0.95,
    n_resamples: int | None = None,
    seed: int = 0,
    failures: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Compare the configurations of a batch: the table ``softtarget compare`` prints.

    ``results`` is a results folder or a runs table (:func:`load_results`). One row per
    (outcome, configuration): ``n``, ``n_failed``, ``mean`` (the share for yes/no outcomes)
    and ``median`` with ``confidence`` intervals, and for every configuration but
    ``baseline`` (default ``public_only`` when present, else the first) the mean paired
    difference ``diff_mean`` (configuration minus baseline, pairs matched on ``replicate``)
    with its interval, ``test``, ``p_value``, ``p_holm`` and ``effect_rank_biserial``; see
    :func:`softtarget.analysis.compare` for every column. ``metrics`` picks outcome columns
    (default: every outcome), ``n_resamples`` the bootstrap resamples (default 4999),
    ``seed`` the bootstrap's seed. ``failures`` (failed runs, for ``n_failed``) is read from
    the folder when ``results`` is one. Render it with
    ``softtarget.analysis.format_comparison(table, "markdown")``.

    Raises ``ValueError`` for an unknown baseline or metric, or no runs; ``ResultsError`` for
    an unreadable folder.
    """
    from softtarget.analysis.compare import compare as compare_runs
    from softtarget.analysis.results import load, load_failures
    from softtarget.analysis.stats import DEFAULT_RESAMPLES

    if isinstance(results, str | os.PathLike):
        runs = load(results)
        if failures is None:
            failures = load_failures(results, missing_ok=True)
    else:
        runs = results
    if runs.empty:
        raise ValueError("no successful runs to compare (the runs table is empty)")
    return compare_runs(
        runs,
        baseline=baseline,
        metrics=None if metrics is None else _strings(metrics, "metrics"),
        confidence=confidence,
        n_resamples=DEFAULT_RESAMPLES if n_resamples is None else n_resamples,
        seed=seed,
        failures=failures,
    )
