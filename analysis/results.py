"""Read a results folder into tidy, explicitly typed pandas tables.

A results folder holds ``manifest.json``, ``runs.parquet`` (one row per successful run),
``failures.parquet`` (one row per failed run), ``timeseries.parquet`` and ``events.parquet``;
the Arrow schemas are pinned in :mod:`sim.columns`. Every loader here returns a frame whose
dtypes follow from the pinned schema, not from whatever pandas would guess:

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

Anything absent or unreadable raises :class:`sim.errors.ResultsError` naming the folder and
the file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sim import columns as C
from sim.errors import ResultsError

MANIFEST_FILE = "manifest.json"
RUNS_FILE = "runs.parquet"
FAILURES_FILE = "failures.parquet"
TIMESERIES_FILE = "timeseries.parquet"
EVENTS_FILE = "events.parquet"

__all__ = [
    "EVENTS_FILE",
    "FAILURES_FILE",
    "MANIFEST_FILE",
    "RUNS_FILE",
    "TIMESERIES_FILE",
    "configuration_order",
    "load",
    "load_events",
    "load_failures",
    "load_manifest",
    "load_timeseries",
]


def _folder(results_dir: str | Path) -> Path:
    path = Path(results_dir)
    if not path.exists():
        raise ResultsError(f"{path}: results folder does not exist")
    if not path.is_dir():
        raise ResultsError(f"{path}: not a folder (expected a results folder)")
    return path


def load_manifest(results_dir: str | Path) -> dict[str, Any]:
    """Read and parse the ``manifest.json`` of a results folder."""
    folder = _folder(results_dir)
    path = folder / MANIFEST_FILE
    if not path.is_file():
        raise ResultsError(f"{folder}: missing {MANIFEST_FILE} (is this a results folder?)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ResultsError(f"{path}: cannot read the manifest: {exc}") from exc
    if not isinstance(manifest, dict):
        raise ResultsError(f"{path}: the manifest is not a JSON object")
    return manifest


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


def _read_table(
    folder: Path,
    filename: str,
    schema: pa.Schema,
    order: list[str],
) -> pd.DataFrame:
    path = folder / filename
    if not path.is_file():
        raise ResultsError(f"{folder}: missing {filename}")
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise ResultsError(f"{path}: cannot read Parquet: {exc}") from exc
    meta = table.schema.metadata or {}
    version = meta.get(b"softtarget.schema_version")
    if version is not None and version.decode() != str(C.SCHEMA_VERSION):
        raise ResultsError(
            f"{path}: schema version {version.decode()}, this softtarget reads version "
            f"{C.SCHEMA_VERSION}"
        )
    missing = [f.name for f in schema if f.name not in table.column_names]
    if missing:
        raise ResultsError(f"{path}: missing column(s) {', '.join(missing)}")
    frame = pd.DataFrame(index=pd.RangeIndex(table.num_rows))
    for field in schema:
        column = table.column(field.name)
        try:
            column = column.cast(field.type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise ResultsError(
                f"{path}: column {field.name} has type {column.type}, expected {field.type}"
            ) from exc
        if not field.nullable and column.null_count:
            raise ResultsError(
                f"{path}: column {field.name} has {column.null_count} missing value(s), "
                "but it may have none"
            )
        values = column.to_pandas()
        if pa.types.is_floating(field.type):
            frame[field.name] = values.astype("float64").to_numpy()
        else:
            frame[field.name] = pd.array(values.to_numpy(), dtype=_pandas_dtype(field))
    extra = [name for name in table.column_names if name not in schema.names]
    for name in extra:  # columns a newer runner added: kept, with pandas' own dtype
        frame[name] = table.column(name).to_pandas().to_numpy()
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


def load(results_dir: str | Path) -> pd.DataFrame:
    """Load the tidy runs table: one row per successful run, typed after ``RUNS_SCHEMA``.

    ``configuration`` is an ordered categorical in the manifest's order (configurations that
    appear in the table but not in the manifest follow, in order of appearance); booleans are
    ``bool``, counts ``int64``, times and other measures ``float64`` with ``NaN`` where the
    event did not happen. Rows are sorted by configuration, then replicate.
    """
    folder = _folder(results_dir)
    order = configuration_order(load_manifest(folder))
    frame = _read_table(folder, RUNS_FILE, C.RUNS_SCHEMA, order)
    return frame.sort_values([C.CONFIGURATION, C.REPLICATE], kind="stable").reset_index(drop=True)


def _optional(folder: Path, filename: str, schema: pa.Schema, missing_ok: bool) -> pd.DataFrame:
    order = configuration_order(load_manifest(folder))
    if missing_ok and not (folder / filename).exists():
        empty = schema.empty_table()
        frame = pd.DataFrame({f.name: pd.Series([], dtype=_pandas_dtype(f)) for f in empty.schema})
        return _categorise(frame, order)
    return _read_table(folder, filename, schema, order)


def load_failures(results_dir: str | Path, *, missing_ok: bool = False) -> pd.DataFrame:
    """Load one row per failed run (``FAILURES_SCHEMA``); empty when every run succeeded.

    With ``missing_ok`` an absent ``failures.parquet`` reads as an empty table.
    """
    return _optional(_folder(results_dir), FAILURES_FILE, C.FAILURES_SCHEMA, missing_ok)


def load_timeseries(results_dir: str | Path, *, missing_ok: bool = False) -> pd.DataFrame:
    """Load the sampled reporters of every run (``TIMESERIES_SCHEMA``), sorted by run and time.

    With ``missing_ok`` an absent ``timeseries.parquet`` reads as an empty table.
    """
    frame = _optional(_folder(results_dir), TIMESERIES_FILE, C.TIMESERIES_SCHEMA, missing_ok)
    return frame.sort_values([C.CONFIGURATION, C.REPLICATE, C.T_S], kind="stable").reset_index(
        drop=True
    )


def load_events(results_dir: str | Path, *, missing_ok: bool = False) -> pd.DataFrame:
    """Load what happened when in every run (``EVENTS_SCHEMA``), sorted by run and time.

    With ``missing_ok`` an absent ``events.parquet`` reads as an empty table.
    """
    frame = _optional(_folder(results_dir), EVENTS_FILE, C.EVENTS_SCHEMA, missing_ok)
    return frame.sort_values([C.CONFIGURATION, C.REPLICATE, C.T_S], kind="stable").reset_index(
        drop=True
    )
