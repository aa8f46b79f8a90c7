"""The results folder: per-run parts written atomically, a manifest and consolidated tables.

Layout of a results folder::

    manifest.json                    written by the coordinator only (temp file + os.replace)
    runs.parquet                     consolidated tables, one per kind, pinned Arrow schemas,
    timeseries.parquet               sorted by run_id, one copy of each run
    events.parquet
    failures.parquet
    parts/runs/<run_id>.parquet      one file per run and kind, written by the workers
    parts/timeseries/<run_id>.parquet
    parts/events/<run_id>.parquet
    parts/failures/<run_id>.parquet
    .staging/<uuid>/                 where a worker writes before it moves files into parts/

A worker writes every file of a run into a fresh staging folder and then moves them into
``parts/`` with ``os.replace`` (atomic on one file system), the ``runs`` part last: a run is
complete exactly when its ``runs`` part exists. Execution is at-least-once, so a run may leave
more than one part; consolidation keeps one per run_id. A committed part is never deleted.

This module is the one reader of results folders too: :meth:`ResultsStore.read_table` gives a
table with its pinned schema from the consolidated file when it is current, else from the
parts (an interrupted or running batch), and refuses a file of another schema version
(:data:`softtarget.sim.columns.SCHEMA_VERSION`). :func:`read_runs` and its siblings return
it as plain pandas; :mod:`softtarget.analysis.results` adds the documented dtypes and the
configuration order on top.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from softtarget.sim import columns as C
from softtarget.sim.errors import ResultsError

MANIFEST: Final = "manifest.json"
PARTS: Final = "parts"
STAGING: Final = ".staging"

RUNS: Final = "runs"
TIMESERIES: Final = "timeseries"
EVENTS: Final = "events"
FAILURES: Final = "failures"

#: The kinds of table, each with its pinned schema, in the order a run's parts are committed
#: (``runs`` last: its presence means the run is complete).
SCHEMAS: Final[dict[str, pa.Schema]] = {
    TIMESERIES: C.TIMESERIES_SCHEMA,
    EVENTS: C.EVENTS_SCHEMA,
    FAILURES: C.FAILURES_SCHEMA,
    RUNS: C.RUNS_SCHEMA,
}
TABLES: Final = (RUNS, TIMESERIES, EVENTS, FAILURES)
#: The file name of each consolidated table (``runs.parquet``...).
TABLE_FILES: Final = {table: f"{table}.parquet" for table in TABLES}
#: The key of the schema version in a table's Arrow metadata (the version is
#: ``columns.SCHEMA_VERSION``; a table written for another one is refused).
VERSION_KEY: Final = b"softtarget.schema_version"

#: Manifest values of a run's and of the batch's status.
RUN_OK: Final = "ok"
RUN_FAILED: Final = "failed"
RUN_PENDING: Final = "pending"
BATCH_RUNNING: Final = "running"
BATCH_COMPLETE: Final = "complete"
BATCH_INTERRUPTED: Final = "interrupted"
BATCH_FAILED: Final = "failed"


def _os_error(path: Path | str, exc: OSError, action: str = "write") -> ResultsError:
    """Make a ResultsError that names the path and says why (disk full, permission...)."""
    why = exc.strerror or str(exc) or type(exc).__name__
    if exc.errno == errno.ENOSPC:
        why = "no space left on device"
    return ResultsError(f"cannot {action} {path}: {why}")


# --- building tables with the pinned schemas -----------------------------------------------------


def _check_nulls(table: pa.Table, schema: pa.Schema, what: str) -> None:
    for fld in schema:
        if not fld.nullable and table.column(fld.name).null_count:
            raise ValueError(f"{what}: column {fld.name!r} must not be null (got missing values)")


def _check_names(present: Iterable[str], schema: pa.Schema, what: str) -> None:
    present = set(present)
    missing = [n for n in schema.names if n not in present]
    unknown = sorted(present - set(schema.names))
    if missing or unknown:
        parts = []
        if missing:
            parts.append(f"missing columns {missing}")
        if unknown:
            parts.append(f"unknown columns {unknown}")
        raise ValueError(f"{what}: {'; '.join(parts)} (the schema is in sim/columns.py)")


def table_from_rows(rows: Sequence[Mapping[str, Any]], schema: pa.Schema, what: str) -> pa.Table:
    """Build an Arrow table of ``rows`` (dicts) with exactly ``schema``.

    NaN stays NaN, None becomes null.

    Raises ``ValueError`` naming ``what`` and the column when a column is missing, unknown,
    of the wrong type or null where the schema forbids it.
    """
    for row in rows:
        _check_names(row.keys(), schema, what)
    try:
        table = pa.Table.from_pylist([dict(r) for r in rows], schema=schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError) as exc:
        raise ValueError(f"{what}: {exc}") from exc
    _check_nulls(table, schema, what)
    return table


def table_from_frame(df: pd.DataFrame | None, schema: pa.Schema, what: str) -> pa.Table:
    """Build an Arrow table of ``df`` with exactly ``schema`` (pinned types and metadata).

    Float NaN stays NaN (not null); None/NA in other columns become null. An empty frame
    without columns gives an empty table. Raises ``ValueError`` as :func:`table_from_rows`.
    """
    if df is None or (len(df) == 0 and len(df.columns) == 0):
        return schema.empty_table()
    _check_names(df.columns, schema, what)
    arrays = []
    for fld in schema:
        col = df[fld.name]
        try:
            if pa.types.is_floating(fld.type):
                values = pd.to_numeric(col, errors="raise").to_numpy(dtype=np.float64)
                arrays.append(pa.array(values, type=fld.type, from_pandas=False))
            else:
                arrays.append(pa.array(col, type=fld.type, from_pandas=True))
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError) as exc:
            raise ValueError(f"{what}: column {fld.name!r}: {exc}") from exc
    table = pa.Table.from_arrays(arrays, schema=schema)
    _check_nulls(table, schema, what)
    return table


def _conform(table: pa.Table, schema: pa.Schema, path: Path, extra: bool = False) -> pa.Table:
    """Cast a table read back to the pinned schema (fail loudly on a foreign file).

    Raises ``ResultsError`` naming ``path`` when the table was written for another schema
    version, lacks a column, has a column of another type or nulls where the schema forbids
    them. Columns beyond the schema (a newer writer's) are dropped, or with ``extra`` kept
    after the pinned ones.
    """
    version = (table.schema.metadata or {}).get(VERSION_KEY)
    if version is not None and version.decode() != str(C.SCHEMA_VERSION):
        raise ResultsError(
            f"{path}: schema version {version.decode()}, this softtarget reads version "
            f"{C.SCHEMA_VERSION}"
        )
    if table.schema.equals(schema):  # as this store writes it: nothing to cast or check
        return table.replace_schema_metadata(schema.metadata)
    missing = [name for name in schema.names if name not in table.column_names]
    if missing:
        raise ResultsError(f"{path}: missing column(s) {', '.join(missing)}")
    columns = []
    for fld in schema:
        column = table.column(fld.name)
        try:
            column = column.cast(fld.type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise ResultsError(
                f"{path}: column {fld.name} has type {column.type}, expected {fld.type}"
            ) from exc
        if not fld.nullable and column.null_count:
            raise ResultsError(
                f"{path}: column {fld.name} has {column.null_count} missing value(s), "
                "but it may have none"
            )
        columns.append(column)
    out = pa.Table.from_arrays(columns, schema=schema)
    if extra:
        for name in table.column_names:
            if name not in schema.names:
                out = out.append_column(name, table.column(name))
    return out


def _read_file(path: Path, schema: pa.Schema, extra: bool = False) -> pa.Table:
    """Read one Parquet file of a results folder, conformed to ``schema`` (see ``_conform``)."""
    try:
        table = pq.read_table(path)
    except OSError as exc:
        raise _os_error(path, exc, "read") from exc
    except pa.ArrowException as exc:
        raise ResultsError(f"{path}: cannot read Parquet: {exc}") from exc
    return _conform(table, schema, path, extra)


# --- the store ---------------------------------------------------------------------------------


class ResultsStore:
    """A results folder: where the parts go, the manifest, consolidation and reading.

    Cheap to construct and picklable (it is only a path); workers build their own.
    """

    def __init__(self, out_dir: str | os.PathLike[str]) -> None:
        """Address the folder ``out_dir`` (nothing is created until asked)."""
        self.path = Path(out_dir)

    def __repr__(self) -> str:
        return f"ResultsStore({str(self.path)!r})"

    # paths
    @property
    def manifest_path(self) -> Path:
        """``<out>/manifest.json``."""
        return self.path / MANIFEST

    @property
    def staging_dir(self) -> Path:
        """``<out>/.staging``: where workers write before committing."""
        return self.path / STAGING

    def parts_dir(self, table: str) -> Path:
        """``<out>/parts/<table>``."""
        return self.path / PARTS / table

    def part_path(self, table: str, run_id: str) -> Path:
        """``<out>/parts/<table>/<run_id>.parquet``."""
        return self.parts_dir(table) / f"{run_id}.parquet"

    def table_path(self, table: str) -> Path:
        """``<out>/<table>.parquet``, the consolidated table."""
        return self.path / TABLE_FILES[table]

    # state
    def _folder_problem(self) -> str | None:
        """Why the path is not a results folder to read (None when it is a folder)."""
        if not self.path.exists():
            return "results folder does not exist"
        if not self.path.is_dir():
            return "not a folder (expected a results folder)"
        return None

    def exists(self) -> bool:
        """Whether the folder exists and holds anything at all."""
        return self.path.is_dir() and any(self.path.iterdir())

    def create(self) -> None:
        """Create the folder and its ``parts/`` and ``.staging/`` sub-folders.

        Raises ``ResultsError`` naming the path when it cannot (not a folder, no permission).
        """
        for d in (self.path, self.staging_dir, *(self.parts_dir(t) for t in TABLES)):
            try:
                d.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise _os_error(d, exc, "create the folder") from exc
            if not os.access(d, os.W_OK | os.X_OK):
                raise ResultsError(f"cannot write to {d}: permission denied")

    def clear_staging(self) -> None:
        """Remove leftovers of interrupted writes (only call when no worker is running)."""
        if self.staging_dir.is_dir():
            for child in self.staging_dir.iterdir():
                shutil.rmtree(child, ignore_errors=True)

    def _part_run_ids(self, table: str) -> set[str]:
        d = self.parts_dir(table)
        if not d.is_dir():
            return set()
        # a canonical part is "<run_id>.parquet"; any other "<run_id>.<x>.parquet" is a duplicate
        return {p.name.split(".", 1)[0] for p in d.glob("*.parquet")}

    def completed_run_ids(self) -> set[str]:
        """Run ids whose ``runs`` part is committed (the run is complete)."""
        return self._part_run_ids(RUNS)

    def failed_run_ids(self) -> set[str]:
        """Run ids with a failure record and no ``runs`` part (not since succeeded)."""
        return self._part_run_ids(FAILURES) - self.completed_run_ids()

    # writing parts (workers and, for worker crashes, the coordinator)
    def write_parts(self, run_id: str, tables: Mapping[str, pa.Table]) -> None:
        """Write the parts of one run atomically: stage every file, then move them in.

        ``tables`` maps a kind (``runs``, ``timeseries``, ``events``, ``failures``) to its
        table. The ``runs`` part is moved in last. Raises ``ResultsError`` naming the file when
        the disk is full or the folder not writable; parts committed before stay as they are.
        """
        unknown = set(tables) - set(TABLES)
        if unknown:
            raise ValueError(f"unknown kinds of table: {sorted(unknown)}")
        stage = self.staging_dir / uuid.uuid4().hex
        try:
            try:
                stage.mkdir(parents=True)
            except OSError as exc:
                raise _os_error(stage, exc, "create the folder") from exc
            staged: list[tuple[Path, Path]] = []
            for kind in SCHEMAS:  # fixed order, runs last
                if kind not in tables:
                    continue
                tmp = stage / f"{kind}.parquet"
                try:
                    pq.write_table(tables[kind], tmp)
                except OSError as exc:
                    raise _os_error(tmp, exc) from exc
                staged.append((tmp, self.part_path(kind, run_id)))
            for tmp, final in staged:
                try:
                    os.replace(tmp, final)
                except OSError as exc:
                    raise _os_error(final, exc) from exc
        finally:
            shutil.rmtree(stage, ignore_errors=True)

    # manifest (coordinator only)
    def read_manifest(self) -> dict[str, Any]:
        """Read the manifest; ``ResultsError`` naming the file when missing or corrupt."""
        try:
            text = self.manifest_path.read_text(encoding="utf-8")
        except (FileNotFoundError, NotADirectoryError) as exc:
            why = self._folder_problem() or "not a results folder"
            raise ResultsError(f"{self.manifest_path}: no manifest ({why})") from exc
        except OSError as exc:
            raise _os_error(self.manifest_path, exc, "read") from exc
        except UnicodeDecodeError as exc:
            raise ResultsError(f"{self.manifest_path}: not valid JSON ({exc})") from exc
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ResultsError(f"{self.manifest_path}: not valid JSON ({exc})") from exc
        if not isinstance(data, dict):
            raise ResultsError(f"{self.manifest_path}: expected a JSON object")
        return data

    def write_manifest(self, manifest: Mapping[str, Any]) -> None:
        """Write the manifest atomically (temp file beside it, then ``os.replace``)."""
        tmp = self.path / f".{MANIFEST}.{uuid.uuid4().hex}.tmp"
        try:
            tmp.write_text(json.dumps(manifest, indent=1) + "\n", "utf-8")
            os.replace(tmp, self.manifest_path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise _os_error(self.manifest_path, exc) from exc

    # reading and consolidating
    def read_parts(self, table: str) -> pa.Table:
        """Every part of one kind, one copy per run_id, sorted by run_id (stable).

        Time series and events are kept only for complete runs (a ``runs`` part exists);
        failures only for runs that have not since completed.
        """
        schema = SCHEMAS[table]
        d = self.parts_dir(table)
        files = sorted(d.glob("*.parquet"), key=lambda p: (p.name.count("."), p.name))
        if table == RUNS:
            keep: set[str] | None = None
            drop: set[str] = set()
        else:
            done = self.completed_run_ids()
            keep = done if table != FAILURES else None
            drop = done if table == FAILURES else set()
        owner: dict[str, int] = {}  # run_id -> index of the one file whose rows are kept
        pieces: list[pa.Table] = []
        for i, path in enumerate(files):
            stem, _, rest = path.name.partition(".")
            if rest == "parquet" and (  # canonical name: the run is known without reading
                (keep is not None and stem not in keep) or stem in drop or stem in owner
            ):
                continue
            part = _read_file(path, schema)
            ids = set(pc.unique(part.column(C.RUN_ID)).to_pylist())
            mine = set()
            for rid in ids:
                if (keep is not None and rid not in keep) or rid in drop:
                    continue
                if owner.setdefault(rid, i) == i:
                    mine.add(rid)
            if not mine:
                continue
            if mine != ids:
                part = part.filter(pc.is_in(part.column(C.RUN_ID), pa.array(sorted(mine))))
            pieces.append(part)
        if not pieces:
            return schema.empty_table()
        out = pa.concat_tables(pieces)
        if table in (RUNS, FAILURES):
            # one row per run: drop repeats inside one file too
            out = _first_per_run(out)
        return out.sort_by([(C.RUN_ID, "ascending")]).cast(schema)

    def part_file_counts(self) -> dict[str, int]:
        """How many part files each kind has (to tell whether consolidation is current)."""
        return {t: sum(1 for _ in self.parts_dir(t).glob("*.parquet")) for t in TABLES}

    def consolidate(self) -> dict[str, Any]:
        """Write the four consolidated tables from the parts (always all four, maybe empty).

        Each is written to a temporary file and moved in place. Returns the rows per table
        and the part files per kind that went in (record it in the manifest as
        ``consolidated``, so readers know whether the tables are current).
        """
        files = self.part_file_counts()
        rows = {}
        for table in TABLES:
            data = self.read_parts(table)
            final = self.table_path(table)
            tmp = self.path / f".{table}.{uuid.uuid4().hex}.tmp.parquet"
            try:
                pq.write_table(data, tmp)
                os.replace(tmp, final)
            except OSError as exc:
                with contextlib.suppress(OSError):
                    tmp.unlink()
                raise _os_error(final, exc) from exc
            rows[table] = data.num_rows
        return {"rows": rows, "part_files": files}

    def is_consolidated(self) -> bool:
        """Whether the consolidated tables reflect every part.

        True when all four tables exist and either there is no manifest or ``parts/`` (a
        copied or trimmed folder), or the manifest says the batch is no longer running and
        the part files are those its ``consolidated`` record counted.
        """
        if not all(self.table_path(t).is_file() for t in TABLES):
            return False
        if not self.manifest_path.is_file() or not (self.path / PARTS).is_dir():
            return True
        try:
            manifest = self.read_manifest()
        except ResultsError:
            return False
        if manifest.get("status") not in (BATCH_COMPLETE, BATCH_INTERRUPTED, BATCH_FAILED):
            return False
        recorded = (manifest.get("consolidated") or {}).get("part_files")
        return recorded == self.part_file_counts()

    def read_table(self, table: str, *, missing_ok: bool = False, extra: bool = False) -> pa.Table:
        """One kind of table as Arrow, from a complete or an interrupted folder.

        The table has the pinned schema. It is the consolidated file when current (see
        :meth:`is_consolidated`), else the parts; a folder without ``parts/`` (copied or
        trimmed) is read from whichever consolidated files it holds. Raises ``ResultsError``
        naming the folder and the file when the folder or the file is missing (with
        ``missing_ok`` a missing file reads as an empty table) or a file does not match the
        pinned schema. With ``extra``, columns of a consolidated file beyond the schema (a
        newer writer's) are kept after the pinned ones.
        """
        if table not in SCHEMAS:
            raise ValueError(f"unknown table {table!r} (allowed: {', '.join(TABLES)})")
        problem = self._folder_problem()
        if problem:
            raise ResultsError(f"{self.path}: {problem}")
        if not self.is_consolidated() and (self.path / PARTS).is_dir():
            return self.read_parts(table)
        path = self.table_path(table)
        if not path.is_file():
            if missing_ok:
                return SCHEMAS[table].empty_table()
            raise ResultsError(f"{self.path}: missing {TABLE_FILES[table]}")
        return _read_file(path, SCHEMAS[table], extra)


def _first_per_run(table: pa.Table) -> pa.Table:
    """Keep the first row of each run_id (table order)."""
    ids = table.column(C.RUN_ID).to_pylist()
    seen: set[str] = set()
    mask = []
    for rid in ids:
        mask.append(rid not in seen)
        seen.add(rid)
    if all(mask):
        return table
    return table.filter(pa.array(mask))


# --- readers -----------------------------------------------------------------------------------


def read_table(out_dir: str | os.PathLike[str], table: str) -> pd.DataFrame:
    """Read one results table as a DataFrame (from a complete or an interrupted folder)."""
    return ResultsStore(out_dir).read_table(table).to_pandas()


def read_runs(out_dir: str | os.PathLike[str]) -> pd.DataFrame:
    """Read ``runs``: one row per successful run, sorted by run_id."""
    return read_table(out_dir, RUNS)


def read_timeseries(out_dir: str | os.PathLike[str]) -> pd.DataFrame:
    """Read ``timeseries``: the sampled model reporters of the successful runs."""
    return read_table(out_dir, TIMESERIES)


def read_events(out_dir: str | os.PathLike[str]) -> pd.DataFrame:
    """Read ``events``: what happened when, in the successful runs."""
    return read_table(out_dir, EVENTS)


def read_failures(out_dir: str | os.PathLike[str]) -> pd.DataFrame:
    """Read ``failures``: one row per failed run (stage, error, traceback)."""
    return read_table(out_dir, FAILURES)


def read_manifest(out_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Read the manifest of a results folder."""
    return ResultsStore(out_dir).read_manifest()
