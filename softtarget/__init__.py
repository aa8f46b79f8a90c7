"""softtarget: crowds, security staff and diffuse threats at soft targets.

The Python API (``docs/python-api.md``), for notebooks and scripts::

    import softtarget

    scenario = softtarget.load_scenario("festival", overrides=["run.duration_s=60"])
    folder = softtarget.run_experiments(scenario, replications=2)
    table = softtarget.compare(folder)

The names below come from :mod:`softtarget.api` and are imported on first use, so that
``import softtarget`` (done by every worker process and by the command line) stays quick.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("softtarget")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

if TYPE_CHECKING:
    from softtarget.api import (
        Model,
        RunResult,
        compare,
        load_results,
        load_scenario,
        run_experiments,
        simulate,
    )

__all__ = [
    "Model",
    "RunResult",
    "__version__",
    "compare",
    "load_results",
    "load_scenario",
    "run_experiments",
    "simulate",
]

_API = frozenset(__all__) - {"__version__"}


def __getattr__(name: str) -> Any:
    """Import the API names of :mod:`softtarget.api` on first use."""
    if name not in _API:
        raise AttributeError(f"module 'softtarget' has no attribute {name!r}")
    from softtarget import api

    value = getattr(api, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The module's names, with the API names not imported yet."""
    return sorted({*globals(), *_API})
