"""Read a results folder into tidy, explicitly typed pandas tables.

A results folder holds ``manifest.json``, ``runs.parquet`` (one row per successful run),
``failures.parquet`` (one row per failed run), ``timeseries.parquet`` and ``events.parquet``;
the Arrow schemas are pinned in :mod:`softtarget.sim.columns`. Every loader here returns a frame
whose dtypes follow from the pinned schema, not from whatever pandas would guess:

============================  ==============================================================
Arrow type                    pandas dtype
============================  ==============================================================
``bool`` (not nullable)       ``bool``
``bool`` (nullable)           ``boolean``
``int64`` (not nullable)      ``int64``
``int64`` (nullable)          ``Int64``
``float64``                   ``float64`` (a missing value is ``NaN``)
``string``                    ``string`` (a missing value is ``pd.NA``)
``configuration``             ordered ``category``, in the manifest's configuration order
============================  ==============================================================

Reading the files is the store's (:class:`softtarget.sim.store.ResultsStore`): the consolidated
table when it is current, else straight from the parts of an interrupted or running batch, each
checked against its pinned schema and schema version. This module only adds the pandas types,
the configuration order and the row order on top. Anything absent or unreadable raises
:class:`softtarget.sim.errors.ResultsError` naming the folder and the file.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from softtarget.sim import columns as C
from softtarget.sim import store as S

MANIFEST_FILE = S.MANIFEST
RUNS_FILE = S.TABLE_FILES[S.RUNS]
FAILURES_FILE = S.TABLE_FILES[S.FAILURES]
TIMESERIES_FILE = S.TABLE_FILES[S.TIMESERIES]
EVENTS_FILE = S.TABLE_FILES[S.EVENTS]
EXITS_FILE = S.TABLE_FILES[S.EXITS]
MESSAGES_FILE = S.TABLE_FILES[S.MESSAGES]

__all__ = [
    "EVENTS_FILE",
    "EXITS_FILE",
    "FAILURES_FILE",
    "MANIFEST_FILE",
    "MESSAGES_FILE",
    "RUNS_FILE",
    "TIMESERIES_FILE",
    "configuration_order",
    "load",
    "load_events",
    "load_exits",
    "load_failures",
    "load_manifest",
    "load_messages",
    "load_timeseries",
]


def load_manifest(results_dir: str | Path) -> dict[str, Any]:
    """Read and parse the ``manifest.json`` of a results folder."""
    return S.ResultsStore(results_dir).read_manifest()


def configuration_order(manifest: dict[str, Any]) -> list[str]:
    """Return configuration names in the order the scenario declares them (empty if unknown)."""
    scenario = manifest.get("scenario")
    if isinstance(scenario, dict):
        configurations = scenario.get("configurations")
        if isinstance(configurations, dict):
            return [str(name) for name in configurations]
        if isinstance(configurations, list):  # tolerate a list of names or of {name: ...}
            names = []
            for item in configurations:
                name = item.get("name") if isinstance(item, dict) else item
                if name is not None:
                    names.append(str(name))
            return names
    names: list[str] = []
    for run in manifest.get("runs") or []:
        name = run.get(C.CONFIGURATION) if isinstance(run, dict) else None
        if name is not None and str(name) not in names:
            names.append(str(name))
    return names


def _pandas_dtype(field: pa.Field) -> Any:
    t = field.type
    if pa.types.is_boolean(t):
        return "boolean" if field.nullable else "bool"
    if pa.types.is_integer(t):
        return "Int64" if field.nullable else "int64"
    if pa.types.is_floating(t):
        return "float64"
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "string"
    raise TypeError(f"no pandas dtype rule for Arrow type {t}")  # pragma: no cover


def _read(results_dir: str | Path, table: str, missing_ok: bool = False) -> pd.DataFrame:
    """One table of a results folder as read by the store, with the documented dtypes."""
    store = S.ResultsStore(results_dir)
    order = configuration_order(store.read_manifest())
    arrow = store.read_table(table, missing_ok=missing_ok, extra=True)
    pinned = S.SCHEMAS[table]
    frame = pd.DataFrame(index=pd.RangeIndex(arrow.num_rows))
    for field in pinned:
        values = arrow.column(field.name).to_pandas()
        if pa.types.is_floating(field.type):
            frame[field.name] = values.astype("float64").to_numpy()
        else:
            frame[field.name] = pd.array(values.to_numpy(), dtype=_pandas_dtype(field))
    for name in arrow.column_names[len(pinned) :]:  # a newer writer's: pandas' own dtype
        frame[name] = arrow.column(name).to_pandas().to_numpy()
    return _categorise(frame, order)


def _categorise(frame: pd.DataFrame, order: list[str]) -> pd.DataFrame:
    if C.CONFIGURATION not in frame.columns:
        return frame
    seen = [str(v) for v in pd.unique(frame[C.CONFIGURATION].astype(str))]
    categories = list(order) + [name for name in seen if name not in order]
    frame[C.CONFIGURATION] = pd.Categorical(
        frame[C.CONFIGURATION].astype(str), categories=categories, ordered=True
    )
    return frame


def _sorted(frame: pd.DataFrame, *by: str) -> pd.DataFrame:
    return frame.sort_values([C.CONFIGURATION, C.REPLICATE, *by], kind="stable").reset_index(
        drop=True
    )


def load(results_dir: str | Path) -> pd.DataFrame:
    """Load the tidy runs table: one row per successful run, typed after ``RUNS_SCHEMA``.

    ``configuration`` is an ordered categorical in the manifest's order (configurations that
    appear in the table but not in the manifest follow, in order of appearance); booleans are
    ``bool``, counts ``int64``, times and other measures ``float64`` with ``NaN`` where the
    event did not happen. Rows are sorted by configuration, then replicate.

    A batch that is not complete (running, interrupted, killed, failed) reads as far as it
    was committed, with a :class:`softtarget.sim.store.ResultsWarning` that gives the counts.
    """
    frame = _sorted(_read(results_dir, S.RUNS))
    message = S.ResultsStore(results_dir).incomplete_message()
    if message:
        warnings.warn(message, S.ResultsWarning, stacklevel=2)
    return frame


def load_failures(results_dir: str | Path, *, missing_ok: bool = False) -> pd.DataFrame:
    """Load one row per failed run (``FAILURES_SCHEMA``); empty when every run succeeded.

    With ``missing_ok`` an absent ``failures.parquet`` reads as an empty table.
    """
    return _read(results_dir, S.FAILURES, missing_ok)


def load_timeseries(results_dir: str | Path, *, missing_ok: bool = False) -> pd.DataFrame:
    """Load the sampled reporters of every run (``TIMESERIES_SCHEMA``), sorted by run and time.

    With ``missing_ok`` an absent ``timeseries.parquet`` reads as an empty table.
    """
    return _sorted(_read(results_dir, S.TIMESERIES, missing_ok), C.T_S)


def load_exits(results_dir: str | Path, *, missing_ok: bool = False) -> pd.DataFrame:
    """Load, per run and exit, who left by it and when (``EXITS_SCHEMA``), sorted by run.

    With ``missing_ok`` an absent ``exits.parquet`` reads as an empty table.
    """
    return _sorted(_read(results_dir, S.EXITS, missing_ok), C.EXIT)


def load_messages(results_dir: str | Path, *, missing_ok: bool = False) -> pd.DataFrame:
    """Load every message of every run's reporting chain (``MESSAGES_SCHEMA``), sorted by run.

    With ``missing_ok`` an absent ``messages.parquet`` reads as an empty table.
    """
    return _sorted(_read(results_dir, S.MESSAGES, missing_ok), C.MESSAGE_ID)


def load_events(results_dir: str | Path, *, missing_ok: bool = False) -> pd.DataFrame:
    """Load what happened when in every run (``EVENTS_SCHEMA``), sorted by run and time.

    With ``missing_ok`` an absent ``events.parquet`` reads as an empty table.
    """
    return _sorted(_read(results_dir, S.EVENTS, missing_ok), C.T_S)
