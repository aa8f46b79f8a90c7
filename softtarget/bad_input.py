"""How every command turns bad input into located one-line messages and exit code 2."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar

import click

from softtarget.sim.errors import SofttargetError

if TYPE_CHECKING:
    from softtarget.sim.schema import Scenario

F = TypeVar("F", bound=Callable[..., Any])


class BadInput(click.ClickException, SofttargetError):
    """A one-line error about what the user gave us; exit status 2, like click's usage errors."""

    exit_code = 2


def fail_on_bad_input(func: F | None = None, *, also: tuple[type[Exception], ...] = ()) -> Any:
    """Decorate a command so that bad input exits 2 with one line per problem.

    Scenario problems print one located line each; results-folder errors (and the exception
    types in ``also``) print one ``error:`` line.
    """

    def decorate(f: F) -> F:
        @wraps(f)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            from softtarget.sim.errors import ResultsError, ScenarioError

            try:
                return f(*args, **kwargs)
            except ScenarioError as exc:
                for problem in exc.problems:
                    click.echo(str(problem), err=True)
                raise SystemExit(2) from None
            except (ResultsError, *also) as exc:
                click.echo(f"error: {exc}", err=True)
                raise SystemExit(2) from None

        return wrapper  # type: ignore[return-value]

    return decorate(func) if func is not None else decorate


def one_run(
    scenario: str,
    configuration: str | None,
    seed: int | None,
    replicate: int | None,
    overrides: tuple[str, ...],
) -> tuple[Scenario, str, int]:
    """The scenario, configuration and seed of one run chosen by --config, --seed/--replicate.

    ``--seed`` and ``--replicate`` exclude each other; without either, replicate 0.
    """
    from softtarget.sim.loader import load_scenario
    from softtarget.sim.runs import run_seed

    if seed is not None and replicate is not None:
        raise click.UsageError("give --seed or --replicate, not both")
    sc = load_scenario(scenario, overrides).scenario
    configuration = require_configuration(sc, configuration)
    if seed is None:
        seed = run_seed(sc.run.seed, replicate or 0)
    return sc, configuration, seed


def require_configuration(scenario: Scenario, name: str | None) -> str:
    """``name``, or the scenario's first configuration; a usage error (exit 2) if unknown."""
    name = name or next(iter(scenario.configurations))
    if name not in scenario.configurations:
        raise click.BadParameter(
            f"unknown configuration '{name}' (allowed: {', '.join(scenario.configurations)})",
            param_hint="--config",
        )
    return name
