"""softtarget: crowds, security staff and diffuse threats at soft targets.

The Python API (``docs/python-api.md``), for notebooks and scripts::

    import softtarget

    scenario = softtarget.load_scenario("festival", overrides=["run.duration_s=60"])
    folder = softtarget.run_experiments(scenario, replications=2)
    table = softtarget.compare(folder)

The names below come from :mod:`softtarget.api` and are imported on first use, as is
``__version__`` (read from the installed package's metadata), so that ``import softtarget``
(done by every worker process and by the command line) stays quick. Importing the package
also points numba's kernel cache at a per-user folder (:mod:`softtarget._numba_cache`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from softtarget import _numba_cache

_numba_cache.configure()  # before any module of the package imports numba

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

__version__: str  # read on first use (see __getattr__)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("softtarget")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0.0.0+unknown"


def __getattr__(name: str) -> Any:
    """Import the API names of :mod:`softtarget.api`, and read ``__version__``, on first use."""
    if name == "__version__":
        value = globals()["__version__"] = _version()
        return value
    if name not in _API:
        raise AttributeError(f"module 'softtarget' has no attribute {name!r}")
    from softtarget import api

    value = getattr(api, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The module's names, with the API names not imported yet."""
    return sorted({*globals(), *_API, "__version__"})
