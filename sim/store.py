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
    .lock                            the batch writing the folder: pid, host, start (flock)
    quarantine/<kind>/<name>         corrupt part files moved aside (their runs run again)

A worker writes every file of a run into a fresh staging folder and then moves them into
``parts/`` with ``os.replace`` (atomic on one file system), the ``runs`` part last: a run is
complete exactly when its ``runs`` part exists. Execution is at-least-once, so a run may leave
more than one part; consolidation keeps one per run_id. A committed part is never deleted
(a corrupt one is moved to ``quarantine/``, within the folder).

The store never writes or deletes outside its folder, nor through a symbolic link: the
``.staging``, ``parts`` and ``quarantine`` folders and the table paths are refused when they
are links, and every temporary file has a unique name made by :mod:`tempfile` (created with
``O_EXCL``, so a planted link is never followed). One batch at a time writes a folder: it
holds the ``.lock`` file (:meth:`ResultsStore.acquire_lock`). See ``docs/reliability.md``.

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
import socket
import tempfile
import time
import uuid
import warnings
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

try:  # POSIX; elsewhere the lock relies on its pid and host only
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

MANIFEST: Final = "manifest.json"
PARTS: Final = "parts"
STAGING: Final = ".staging"
LOCK: Final = ".lock"
QUARANTINE: Final = "quarantine"
#: The value of ``kind`` in the manifest of a batch's results folder.
KIND_RESULTS: Final = "softtarget-results"
#: Status a reader reports for a manifest still ``running`` whose batch process is gone.
BATCH_ABANDONED: Final = "abandoned"

RUNS: Final = "runs"
TIMESERIES: Final = "timeseries"
EVENTS: Final = "events"
EXITS: Final = "exits"
MESSAGES: Final = "messages"
FAILURES: Final = "failures"

#: The kinds of table, each with its pinned schema, in the order a run's parts are committed
#: (``runs`` last: its presence means the run is complete).
SCHEMAS: Final[dict[str, pa.Schema]] = {
    TIMESERIES: C.TIMESERIES_SCHEMA,
    EVENTS: C.EVENTS_SCHEMA,
    EXITS: C.EXITS_SCHEMA,
    MESSAGES: C.MESSAGES_SCHEMA,
    FAILURES: C.FAILURES_SCHEMA,
    RUNS: C.RUNS_SCHEMA,
}
TABLES: Final = (RUNS, TIMESERIES, EVENTS, EXITS, MESSAGES, FAILURES)
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


class ResultsWarning(UserWarning):
    """Something in a results folder was skipped or moved aside (a corrupt part file)."""


class FolderLocked(ResultsError):
    """Another batch process holds the results folder's lock."""


class CorruptFile(ResultsError):
    """A Parquet file of the folder cannot be read at all (truncated, not Parquet)."""


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
    """Read one Parquet file of a results folder, conformed to ``schema`` (see ``_conform``).

    Raises ``CorruptFile`` when the file is not readable Parquet (truncated, garbage).
    """
    try:
        table = pq.read_table(path)
    except pa.ArrowException as exc:  # ArrowInvalid is also an OSError: test it first
        raise CorruptFile(f"{path}: cannot read Parquet: {exc}") from exc
    except OSError as exc:
        raise _os_error(path, exc, "read") from exc
    return _conform(table, schema, path, extra)


def _looks_whole(path: Path) -> bool:
    """Whether a Parquet file starts and ends with its magic bytes (cheap truncation test)."""
    try:
        with open(path, "rb") as f:
            head = f.read(4)
            f.seek(0, os.SEEK_END)
            if f.tell() < 12:
                return False
            f.seek(-4, os.SEEK_END)
            return head == b"PAR1" and f.read(4) == b"PAR1"
    except OSError:
        return False


def _refuse_link(path: Path) -> None:
    """Raise ``ResultsError`` when ``path`` is a symbolic link (the store never follows one)."""
    if path.is_symlink():
        raise ResultsError(
            f"{path}: is a symbolic link; a results folder's own files and folders must not be"
            " links (the store never writes through one)"
        )


def _write_atomic(final: Path, write: Any, *, sync: bool = False) -> None:
    """Write ``final`` through a uniquely named temporary file beside it, then ``os.replace``.

    ``write(f)`` writes into the open binary file. The temporary file is created with
    ``O_EXCL`` (``tempfile.mkstemp``), so a planted link is never followed; ``os.replace``
    replaces a link at ``final`` itself, never its target. Raises ``ResultsError`` naming
    ``final``.
    """
    _refuse_link(final)
    tmp: str | None = None
    try:
        fd, tmp = tempfile.mkstemp(dir=final.parent, prefix=f".{final.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            write(f)
            if sync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, final)
    except OSError as exc:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise _os_error(final, exc) from exc


def _pid_alive(pid: int) -> bool:
    """Whether a process of this id exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    except (OSError, OverflowError):
        return False
    return True


def _proc_start(pid: int) -> str | None:
    """The start time of a process in clock ticks since boot (Linux), to tell a reused pid."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else None


# --- the store ---------------------------------------------------------------------------------


class ResultsStore:
    """A results folder: where the parts go, the manifest, consolidation and reading.

    Cheap to construct and picklable (it is only a path); workers build their own.
    """

    def __init__(self, out_dir: str | os.PathLike[str]) -> None:
        """Address the folder ``out_dir`` (nothing is created until asked)."""
        self.path = Path(out_dir)
        self._lock_fd: int | None = None
        self._counted: dict[str, int] = {}

    def __getstate__(self) -> dict[str, Any]:
        """Pickle the path only (a lock belongs to the process that took it)."""
        return {"path": self.path}

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Rebuild from the path."""
        self.__init__(state["path"])  # type: ignore[misc]

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

    @property
    def lock_path(self) -> Path:
        """``<out>/.lock``: held by the batch that writes the folder."""
        return self.path / LOCK

    def quarantine_dir(self, table: str) -> Path:
        """``<out>/quarantine/<table>``: where corrupt part files are moved aside."""
        return self.path / QUARANTINE / table

    def check_links(self) -> None:
        """Refuse a ``.staging``, ``parts``, ``quarantine`` or table path that is a link."""
        paths = [self.staging_dir, self.path / PARTS, self.path / QUARANTINE, self.manifest_path]
        paths += [self.parts_dir(t) for t in TABLES] + [self.table_path(t) for t in TABLES]
        paths += [self.quarantine_dir(t) for t in TABLES] + [self.lock_path]
        for path in paths:
            _refuse_link(path)

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
        self.check_links()
        for d in (self.path, self.staging_dir, *(self.parts_dir(t) for t in TABLES)):
            try:
                d.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise _os_error(d, exc, "create the folder") from exc
            if not os.access(d, os.W_OK | os.X_OK):
                raise ResultsError(f"cannot write to {d}: permission denied")
        self.check_links()  # nothing was swapped for a link meanwhile

    def clear_staging(self) -> None:
        """Remove leftovers of interrupted writes (only call when no worker is running).

        A link inside ``.staging`` is removed itself, never followed; ``.staging`` being a
        link is refused (``ResultsError``).
        """
        _refuse_link(self.staging_dir)
        if self.staging_dir.is_dir():
            for child in self.staging_dir.iterdir():
                if child.is_symlink() or not child.is_dir():
                    with contextlib.suppress(OSError):
                        child.unlink()
                else:  # rmtree does not follow links inside (fd-based on POSIX)
                    shutil.rmtree(child, ignore_errors=True)

    # the lock (one batch writes a folder at a time)
    def _lock_info(self) -> dict[str, Any] | None:
        try:
            fd = os.open(self.lock_path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            return None
        try:
            with os.fdopen(fd, "rb") as f:
                data = json.loads(f.read(65536).decode("utf-8", "replace") or "null")
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def lock_holder(self) -> dict[str, Any] | None:
        """The live batch holding the folder's lock (pid, host, started, command), or None.

        Live means: its ``flock`` is held, or, where locks are not supported, its pid runs on
        this host (a lock of another host without ``flock`` counts as live).
        """
        info = self._lock_info()
        if info is None and not self.lock_path.exists():
            return None
        info = info or {}
        if fcntl is not None:
            try:
                fd = os.open(self.lock_path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
            except OSError:
                return None
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return info
            except OSError:
                pass  # no flock here (some network file systems): judge by pid and host
            else:
                return None  # nobody holds it: a stale lock of a dead process
            finally:
                os.close(fd)
        return info if self._live_by_pid(info) else None

    @staticmethod
    def _live_by_pid(info: Mapping[str, Any]) -> bool:
        if info.get("host") != socket.gethostname():
            return True  # cannot tell from here
        pid = info.get("pid")
        if not isinstance(pid, int) or not _pid_alive(pid):
            return False
        started = info.get("proc_start")
        return started is None or _proc_start(pid) in (None, started)

    def acquire_lock(self, command: str = "") -> None:
        """Take the folder's lock for this process; ``FolderLocked`` names the holder.

        The lock is an exclusive ``flock`` on ``.lock``, which holds this process's pid, host,
        start time and ``command``; the kernel releases it when the process dies (even by
        SIGKILL), so a lock left by a dead process is stale and taken over. Where ``flock``
        is not supported the pid decides: a lock whose pid is gone on this host is stale.
        """
        self.check_links()
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "proc_start": _proc_start(os.getpid()),
            "command": command,
        }
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        for _ in range(20):
            try:
                fd = os.open(self.lock_path, flags, 0o644)
            except OSError as exc:
                raise _os_error(self.lock_path, exc, "create the lock") from exc
            try:
                if fcntl is not None:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except BlockingIOError:
                        os.close(fd)
                        holder = self._lock_info() or {}
                        if holder.get("pid") is None:  # being written or released: retry
                            time.sleep(0.05)
                            continue
                        raise FolderLocked(_locked_message(self.path, holder)) from None
                    except OSError:  # no flock on this file system: judge by pid and host
                        holder = self._lock_info()
                        mine = holder is not None and holder.get("pid") == os.getpid()
                        if holder and not mine and self._live_by_pid(holder):
                            os.close(fd)
                            raise FolderLocked(_locked_message(self.path, holder)) from None
                else:  # pragma: no cover - Windows
                    holder = self._lock_info()
                    if holder and self._live_by_pid(holder):
                        os.close(fd)
                        raise FolderLocked(_locked_message(self.path, holder))
                # the file we locked must still be the one at the path (not unlinked meanwhile)
                try:
                    same = os.fstat(fd).st_ino == os.lstat(self.lock_path).st_ino
                except OSError:
                    same = False
                if not same:
                    os.close(fd)
                    continue
                os.ftruncate(fd, 0)
                os.pwrite(fd, (json.dumps(info) + "\n").encode(), 0)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.close(fd)
                raise
            self._lock_fd = fd
            return
        raise FolderLocked(f"{self.path}: cannot take the lock {self.lock_path}")

    def release_lock(self) -> None:
        """Release the lock taken by :meth:`acquire_lock` and remove ``.lock``."""
        fd = self._lock_fd
        if fd is None:
            return
        self._lock_fd = None
        with contextlib.suppress(OSError):
            if os.fstat(fd).st_ino == os.lstat(self.lock_path).st_ino:
                self.lock_path.unlink()
        with contextlib.suppress(OSError):
            os.close(fd)

    # consistency (corrupt parts)
    def quarantine(self, path: Path, why: str) -> Path:
        """Move a corrupt part file to ``quarantine/<kind>/`` (within the folder) and warn."""
        kind = path.parent.name
        dest_dir = self.quarantine_dir(kind)
        _refuse_link(self.path / QUARANTINE)
        _refuse_link(dest_dir)
        try:
            dest_dir.mkdir(parents=True, exist_ok=True)
            dest = dest_dir / f"{path.name}.{uuid.uuid4().hex[:8]}"
            os.replace(path, dest)
        except OSError as exc:
            raise _os_error(path, exc, "move aside the corrupt file") from exc
        warnings.warn(
            f"{path}: corrupt part file ({why}); moved to {dest}, its run runs again on --resume",
            ResultsWarning,
            stacklevel=3,
        )
        return dest

    def quarantine_corrupt_parts(self) -> list[str]:
        """Move aside every part file that is visibly truncated; return their run ids.

        Only the batch holding the lock calls this (on resume, before planning), so that the
        runs of those files are planned again.
        """
        moved = []
        for table in TABLES:
            d = self.parts_dir(table)
            if not d.is_dir():
                continue
            for path in sorted(d.glob("*.parquet")):
                if path.is_symlink():
                    self.quarantine(path, "a symbolic link")
                    moved.append(path.name.split(".", 1)[0])
                elif not _looks_whole(path):
                    self.quarantine(path, "truncated or not Parquet")
                    moved.append(path.name.split(".", 1)[0])
        return moved

    def _part_run_ids(self, table: str) -> set[str]:
        d = self.parts_dir(table)
        if not d.is_dir():
            return set()
        # a canonical part is "<run_id>.parquet"; any other "<run_id>.<x>.parquet" is a duplicate
        return {p.name.split(".", 1)[0] for p in d.glob("*.parquet")}

    def _table_run_ids(self, table: str) -> set[str]:
        """Run ids in the consolidated ``table`` (none when it is absent or unreadable)."""
        path = self.table_path(table)
        try:
            ids = pq.read_table(path, columns=[C.RUN_ID]).column(C.RUN_ID).to_pylist()
        except (OSError, pa.ArrowException, KeyError):
            return set()
        return {str(i) for i in ids}

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
        _refuse_link(self.staging_dir)
        for kind in tables:
            _refuse_link(self.path / PARTS)
            _refuse_link(self.parts_dir(kind))
        stage = self.staging_dir / uuid.uuid4().hex
        try:
            try:
                stage.mkdir()
            except OSError as exc:
                raise _os_error(stage, exc, "create the folder") from exc
            staged: list[tuple[Path, Path]] = []
            for kind in SCHEMAS:  # fixed order, runs last
                if kind not in tables:
                    continue
                tmp = stage / f"{kind}.parquet"
                try:  # fsync: a power cut must not leave a renamed but empty part
                    with open(tmp, "xb") as f:
                        pq.write_table(tables[kind], f)
                        f.flush()
                        os.fsync(f.fileno())
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
        """Write the manifest atomically (unique temp file beside it, then ``os.replace``)."""
        text = (json.dumps(manifest, indent=1) + "\n").encode("utf-8")
        _write_atomic(self.manifest_path, lambda f: f.write(text), sync=True)

    # reading and consolidating
    def read_parts(self, table: str, *, quarantine: bool = False) -> pa.Table:
        """Every part of one kind, one copy per run_id, sorted by run_id (stable).

        Time series and events are kept only for complete runs (a ``runs`` part exists);
        failures only for runs that have not since completed. A part that is not readable
        Parquet is skipped with a :class:`ResultsWarning`, or with ``quarantine`` (the batch
        holding the lock) moved to ``quarantine/``.
        """
        schema = SCHEMAS[table]
        d = self.parts_dir(table)
        if table == RUNS:
            self._counted = self.part_file_counts()
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
            try:
                part = _read_file(path, schema)
            except CorruptFile as exc:
                if quarantine:
                    self.quarantine(path, str(exc).removeprefix(f"{path}: "))
                else:
                    warnings.warn(f"skipped: {exc}", ResultsWarning, stacklevel=2)
                continue
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

    def consolidate(self, *, quarantine: bool = False) -> dict[str, Any]:
        """Write the four consolidated tables from the parts (always all four, maybe empty).

        Each is written to a uniquely named temporary file and moved in place. Returns the
        rows per table and the part files per kind that went in (record it in the manifest as
        ``consolidated``, so readers know whether the tables are current). ``quarantine``
        moves corrupt parts aside first (see :meth:`read_parts`).
        """
        self.check_links()
        moved = self.quarantine_corrupt_parts() if quarantine else []
        datas = {table: self.read_parts(table, quarantine=quarantine) for table in TABLES}
        if quarantine and (moved or self.part_file_counts() != self._counted):
            # a corrupt runs part moved aside leaves its run's other parts out too
            datas = {table: self.read_parts(table) for table in TABLES}
        files = self.part_file_counts()
        rows = {}
        for table in TABLES:
            data = datas[table]
            _write_atomic(self.table_path(table), lambda f, d=data: pq.write_table(d, f))
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

    def state(self) -> dict[str, Any]:
        """How complete the batch is: planned, ok, failed and missing runs, and its status.

        ``status`` is the manifest's, except that a manifest still ``running`` whose batch
        holds no live lock reads as ``abandoned`` (its process was killed; ``--resume``
        completes it). ``holder`` is the live lock's owner, if any. Never writes.
        """
        manifest = self.read_manifest()
        planned = {str(e.get("run_id")) for e in manifest.get("runs") or [] if isinstance(e, dict)}
        if self.parts_dir(RUNS).is_dir() or self.parts_dir(FAILURES).is_dir():
            done, failed = self.completed_run_ids(), self.failed_run_ids()
        else:  # consolidated tables only (parts removed, or written by another tool)
            done, failed = self._table_run_ids(RUNS), self._table_run_ids(FAILURES)
            failed -= done
        done &= planned
        failed &= planned
        status = manifest.get("status")
        holder = self.lock_holder()
        if status == BATCH_RUNNING and holder is None:
            status = BATCH_ABANDONED
        return {
            "status": status,
            "manifest_status": manifest.get("status"),
            "planned": len(planned),
            "ok": len(done),
            "failed": len(failed),
            "missing": len(planned - done - failed),
            "holder": holder,
            "command": manifest.get("command"),
        }

    def incomplete_message(self) -> str | None:
        """One line saying the batch is incomplete, with counts (None when it is complete)."""
        try:
            st = self.state()
        except ResultsError:
            return None
        if st["status"] == BATCH_COMPLETE and not st["missing"]:
            return None
        why = {
            BATCH_RUNNING: "still running",
            BATCH_ABANDONED: "its batch process is gone (killed?)",
            BATCH_INTERRUPTED: "interrupted",
            BATCH_FAILED: "stopped by an error",
        }.get(st["status"], str(st["status"]))
        hint = f"; complete it with  {st['command']}" if st.get("command") else ""
        if st["status"] == BATCH_RUNNING and st["holder"]:
            hint = f" (pid {st['holder'].get('pid')} on {st['holder'].get('host')})"
        return (
            f"{self.path}: the batch is incomplete ({why}): {st['ok']} of {st['planned']} runs"
            f" done, {st['failed']} failed, {st['missing']} not run; showing what was"
            f" committed{hint}"
        )

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


def _locked_message(path: Path, holder: Mapping[str, Any]) -> str:
    """One line naming the batch process that holds a folder's lock."""
    command = f", running: {holder['command']}" if holder.get("command") else ""
    return (
        f"{path}: in use by another softtarget batch (pid {holder.get('pid')} on host"
        f" {holder.get('host')}, started {holder.get('started')}{command}); wait for it to"
        " end or stop it, then --resume"
    )


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


def read_exits(out_dir: str | os.PathLike[str]) -> pd.DataFrame:
    """Read ``exits``: per run and exit, who left by it and when the evacuees did."""
    return read_table(out_dir, EXITS)


def read_messages(out_dir: str | os.PathLike[str]) -> pd.DataFrame:
    """Read ``messages``: every message of every run's reporting chain."""
    return read_table(out_dir, MESSAGES)


def read_failures(out_dir: str | os.PathLike[str]) -> pd.DataFrame:
    """Read ``failures``: one row per failed run (stage, error, traceback)."""
    return read_table(out_dir, FAILURES)


def read_manifest(out_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Read the manifest of a results folder."""
    return ResultsStore(out_dir).read_manifest()
