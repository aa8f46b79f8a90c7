"""The batch runner: every configuration x replicate, behind a ``concurrent.futures.Executor``.

The coordinator (:func:`run_batch`) takes a list of :class:`~softtarget.sim.runs.RunTask` (see
:func:`plan_tasks`), submits them to an executor and keeps the manifest. Each run executes in a
worker (:func:`execute_task`), which calls the run function, writes the run's part files
itself, atomically, and returns a small :class:`RunRef`, never the data. A run that raises
becomes a failure record; a run that kills its worker process is retried alone and recorded as
failed (stage ``worker-crash``) once it has killed ``max_attempts`` workers. At the end, and on
Ctrl-C, the parts are consolidated into one table per kind, and ``run_batch(..., resume=True)``
completes an interrupted or killed batch with the tables an uninterrupted one would have
written.

Results do not depend on the worker count or the order: a run's seed derives from the
scenario seed and its replicate only (:func:`softtarget.sim.runs.run_seed`).
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import multiprocessing as mp
import os
import pickle
import signal
import socket
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import (
    FIRST_COMPLETED,
    BrokenExecutor,
    CancelledError,
    Executor,
    Future,
    ProcessPoolExecutor,
    wait,
)
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, TextIO

import pyarrow as pa
import pyarrow.parquet as pq

import softtarget
from softtarget.sim import columns as C
from softtarget.sim import store as S
from softtarget.sim.errors import (
    EngineError,
    Problem,
    ResultsError,
    RunError,
    ScenarioError,
    WorkerCrashed,
)
from softtarget.sim.runs import RunOutput, RunTask, run_seed
from softtarget.sim.schema import Scenario

#: Stages of a failure record that the runner names itself (a ``RunError`` names its own).
STAGE_SIMULATE: Final = "simulate"
STAGE_WRITE: Final = "write"
STAGE_WORKER: Final = "worker"
STAGE_WORKER_CRASH: Final = "worker-crash"

#: Engine name of the default local process pool (recorded in the manifest).
ENGINE_LOCAL: Final = "local-process-pool"

#: Least seconds between two manifest writes while the batch runs (parts are the truth).
MANIFEST_EVERY_S: Final = 2.0

RunFn = Callable[[RunTask], RunOutput]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


# --- planning ----------------------------------------------------------------------------------


def require_configurations(scenario: Scenario, names: Iterable[str]) -> None:
    """Raise ``ScenarioError`` naming the configurations ``scenario`` does not have."""
    unknown = [n for n in names if n not in scenario.configurations]
    if unknown:
        raise ScenarioError(
            [
                Problem(
                    file=str(scenario.name),
                    line=None,
                    path="configurations",
                    message=f"no configuration named {', '.join(map(repr, unknown))}",
                    allowed=", ".join(scenario.configurations),
                )
            ]
        )


def plan_tasks(
    scenario: Scenario,
    scenario_hash: str,
    *,
    configurations: list[str] | None = None,
    replications: int | None = None,
    check_invariants: bool = False,
) -> list[RunTask]:
    """Every configuration x replicate ``0..n-1`` of ``scenario``, replicate by replicate.

    ``n`` defaults to ``scenario.run.replications``; ``configurations`` (default: all, in
    the scenario's order) picks some. Every configuration of one replicate gets the same seed,
    ``run_seed(scenario.run.seed, replicate)`` (common random numbers), so comparisons between
    configurations are paired. Raises ``ScenarioError`` for an unknown configuration name and
    ``ValueError`` for fewer than one replication or more runs than ``bounds.MAX_RUNS``.
    """
    known = list(scenario.configurations)
    if configurations is None:
        names = known
    else:
        require_configurations(scenario, configurations)
        names = list(dict.fromkeys(configurations))
    n = scenario.run.replications if replications is None else replications
    if int(n) < 1:
        raise ValueError(f"replications must be at least 1, got {n}")
    from softtarget.sim.bounds import check_runs

    source = "run.replications" if replications is None else "replications"
    too_many = check_runs(int(n), len(names), source=source)
    if too_many:
        raise ValueError(too_many)
    tasks = []
    for replicate in range(int(n)):
        seed = run_seed(int(scenario.run.seed), replicate)
        for name in names:
            tasks.append(
                RunTask(
                    scenario=scenario,
                    scenario_hash=scenario_hash,
                    configuration=name,
                    replicate=replicate,
                    seed=seed,
                    check_invariants=check_invariants,
                )
            )
    return tasks


# --- the worker side ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RunRef:
    """What a worker returns for one run: its id, status and timings, never the data.

    ``fatal`` is set when the results folder could not be written (disk full, permissions):
    the coordinator then stops the whole batch with a ``ResultsError`` carrying ``error``.
    """

    run_id: str
    status: str  # "ok" | "failed"
    started: str
    finished: str
    wall_time_s: float
    stage: str | None = None
    error: str | None = None
    fatal: bool = False


def _default_run_fn() -> RunFn:
    from softtarget.sim.model import (
        simulate,  # imported here so that this module imports without it
    )

    return simulate


def _identity(task: RunTask) -> dict[str, Any]:
    return task.identity


def run_tables(task: RunTask, output: RunOutput, wall_time_s: float) -> dict[str, pa.Table]:
    """Build the ``runs``, ``timeseries`` and ``events`` tables of one run (pinned schemas).

    The identity columns and ``wall_time_s`` are filled in from the task and the measured
    time; a row that contradicts the task, a missing or unknown column, a wrong type or a null
    where the schema forbids it raise ``ValueError`` (recorded as a failure at stage "write").
    """
    ident = _identity(task)
    row = dict(output.row)
    for key, value in ident.items():
        if key in row and row[key] != value:
            raise ValueError(f"the run returned {key}={row[key]!r}, its task has {value!r}")
    row.update(ident)
    row[C.WALL_TIME_S] = float(wall_time_s)
    tables = {S.RUNS: S.table_from_rows([row], C.RUNS_SCHEMA, f"{task.run_id}: runs row")}
    per_row = {
        C.RUN_ID: task.run_id,
        C.CONFIGURATION: task.configuration,
        C.REPLICATE: task.replicate,
    }
    for kind, frame, schema in (
        (S.TIMESERIES, output.timeseries, C.TIMESERIES_SCHEMA),
        (S.EVENTS, output.events, C.EVENTS_SCHEMA),
        (S.EXITS, output.exits, C.EXITS_SCHEMA),
        (S.MESSAGES, output.messages, C.MESSAGES_SCHEMA),
    ):
        if frame is not None and len(frame.columns):
            frame = frame.assign(**per_row)
        tables[kind] = S.table_from_frame(frame, schema, f"{task.run_id}: {kind}")
    return tables


def failure_table(task: RunTask, stage: str, error: str, tb: str) -> pa.Table:
    """Build the one-row ``failures`` table of a failed run."""
    row = {**_identity(task), C.STAGE: stage, C.ERROR: error, C.TRACEBACK: tb}
    return S.table_from_rows([row], C.FAILURES_SCHEMA, f"{task.run_id}: failure record")


def execute_task(task: RunTask, out_dir: str, run_fn: RunFn | None = None) -> RunRef:
    """Execute one run in a worker and write its parts; return a :class:`RunRef`.

    ``run_fn`` (a picklable top-level function) defaults to ``softtarget.sim.model.simulate``. An
    exception of the run becomes a failure part (stage from ``RunError.stage``, else
    "simulate", or "write" when its output cannot be turned into the pinned tables); a results
    folder that cannot be written gives a ``fatal`` reference. Never raises an ``Exception``.
    What the run left in memory is released before it returns (:func:`release_run`).
    """
    try:
        return _execute(task, out_dir, run_fn)
    finally:
        release_run()


def _execute(task: RunTask, out_dir: str, run_fn: RunFn | None) -> RunRef:
    store = S.ResultsStore(out_dir)
    started = _now()
    t0 = time.perf_counter()

    def ref(status: str, **kw: Any) -> RunRef:
        return RunRef(task.run_id, status, started, _now(), time.perf_counter() - t0, **kw)

    if not store.manifest_path.is_file():  # e.g. a cluster worker without the shared folder
        return ref(
            S.RUN_FAILED,
            stage=STAGE_WRITE,
            fatal=True,
            error=f"the worker on host {socket.gethostname()} does not see the results folder"
            f" {store.path} (no {S.MANIFEST} there): every worker must reach it at the same"
            " path, on a file system they share with the coordinator",
        )

    stage = STAGE_SIMULATE
    try:
        fn = run_fn if run_fn is not None else _default_run_fn()
        output = fn(task)
        wall = time.perf_counter() - t0
        stage = STAGE_WRITE
        tables = run_tables(task, output, wall)
    except (Exception, SystemExit) as exc:  # a run calling sys.exit() is a failed run too
        if isinstance(exc, RunError):
            stage = exc.stage
        message = f"{type(exc).__name__}: {exc}"
        try:
            store.write_parts(
                task.run_id,
                {S.FAILURES: failure_table(task, stage, message, traceback.format_exc())},
            )
        except ResultsError as err:
            return ref(S.RUN_FAILED, stage=STAGE_WRITE, error=str(err), fatal=True)
        return ref(S.RUN_FAILED, stage=stage, error=message)
    try:
        store.write_parts(task.run_id, tables)
    except ResultsError as err:
        return ref(S.RUN_FAILED, stage=STAGE_WRITE, error=str(err), fatal=True)
    return RunRef(task.run_id, S.RUN_OK, started, _now(), wall)


#: Set in the workers of the local pool (:func:`_worker_init`): freeze after the first run.
_FREEZE_AFTER_FIRST_RUN = False
_frozen = False


def release_run() -> None:
    """Free what a finished run left in memory now, rather than several runs later.

    A model is a web of mechanisms that point back at it: only Python's cycle collector frees
    it, and the collector's full passes are rare in a process holding as many long-lived
    objects as a worker does, so a worker would carry dead models (~10 MB each for the
    built-in festival) for a while. So every run ends with a collection. In a worker of the
    local pool, what is still alive after the first run (modules, compiled kernels, caches)
    is then frozen (``gc.freeze``): later collections look at one run's objects only, in well
    under a millisecond instead of ~0.1 s.
    """
    global _frozen
    gc.collect()
    if _FREEZE_AFTER_FIRST_RUN and not _frozen:
        gc.freeze()
        _frozen = True


def _watch_parent(parent_pid: int) -> None:
    while True:
        time.sleep(1.0)
        if os.getppid() != parent_pid:  # the coordinator died (e.g. SIGKILL): do not linger
            os._exit(1)


def _worker_init(parent_pid: int) -> None:
    """Worker process setup: Ctrl-C is the coordinator's business; die with the coordinator."""
    global _FREEZE_AFTER_FIRST_RUN
    _FREEZE_AFTER_FIRST_RUN = True
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()


def local_executor(workers: int | None = None) -> ProcessPoolExecutor:
    """Start the default engine: a ``spawn`` process pool of ``workers`` (default: all cores).

    ``spawn``, not ``fork``: the model uses numba and pyarrow threads, which fork breaks.
    """
    return ProcessPoolExecutor(
        max_workers=workers or os.cpu_count() or 1,
        mp_context=mp.get_context("spawn"),
        initializer=_worker_init,
        initargs=(os.getpid(),),
    )


# --- progress ----------------------------------------------------------------------------------


def _fmt_duration(seconds: float) -> str:
    s = round(seconds)
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s}s"


class _Progress:
    """Show a carriage-return bar with ETA, a quiet line every ~10%, or nothing."""

    def __init__(self, total: int, initial: int, mode: str | None, stream: TextIO) -> None:
        self.total, self.initial, self.mode, self.stream = total, initial, mode, stream
        self.t0 = time.monotonic()
        self.last_draw = 0.0
        self.next_step = (initial * 10 // total + 1) if total else 11
        self.line = ""

    def text(self, done: int, failed: int) -> str:
        pct = 100 * done // self.total if self.total else 100
        ran = done - self.initial
        remaining = self.total - done
        if remaining == 0:
            eta = "done"
        elif ran > 0:
            eta = "eta " + _fmt_duration((time.monotonic() - self.t0) / ran * remaining)
        else:
            eta = "eta ?"
        return f"{done}/{self.total} runs ({pct}%), {failed} failed, {eta}"

    def update(self, done: int, failed: int, *, final: bool = False) -> None:
        if self.mode is None:
            return
        if self.mode == "bar":
            now = time.monotonic()
            if not final and now - self.last_draw < 0.2:
                return
            self.last_draw = now
            frac = done / self.total if self.total else 1.0
            bar = "#" * int(30 * frac)
            line = f"[{bar:<30}] {self.text(done, failed)}"
            pad = " " * max(0, len(self.line) - len(line))
            self.stream.write("\r" + line + pad)
            self.line = line
            if final:
                self.stream.write("\n")
            self.stream.flush()
        else:
            step = done * 10 // self.total if self.total else 10
            if step >= self.next_step or (final and done > self.initial):
                self.next_step = step + 1
                line = self.text(done, failed)
                if line != self.line:
                    self.line = line
                    self.stream.write(line + "\n")
                    self.stream.flush()


# --- the coordinator ---------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchSummary:
    """What :func:`run_batch` reports: counts over every task given, and this call's timings."""

    out_dir: Path
    status: str
    n_tasks: int
    n_ok: int
    n_failed: int
    n_skipped: int  # already complete before this call (resume)
    failed_run_ids: tuple[str, ...]
    wall_time_s: float
    workers: int
    engine: str

    def __str__(self) -> str:
        return (
            f"{self.status}: {self.n_ok}/{self.n_tasks} runs ok, {self.n_failed} failed"
            f" ({self.n_skipped} already done) in {_fmt_duration(self.wall_time_s)}"
            f" on {self.workers} workers ({self.engine}); results in {self.out_dir}"
        )


def _run_entry(task: RunTask) -> dict[str, Any]:
    return {
        "run_id": task.run_id,
        "configuration": task.configuration,
        "replicate": task.replicate,
        "seed": task.seed,
        "status": S.RUN_PENDING,
        "attempts": 0,
        "worker_crashes": 0,
        "wall_time_s": None,
        "started": None,
        "finished": None,
        "stage": None,
        "error": None,
    }


class Terminated(KeyboardInterrupt):
    """SIGTERM reached the coordinator: handled like Ctrl-C (graceful stop, resumable)."""


def task_set(tasks: list[RunTask]) -> dict[str, Any]:
    """What identifies the planned runs of a batch: their count, names and options, a digest.

    Recorded in the manifest; ``--resume`` refuses another task set (more or fewer runs,
    other configurations or replications, ``--check-invariants`` changed).
    """
    items = sorted((t.run_id, bool(t.check_invariants)) for t in tasks)
    digest = hashlib.sha256(json.dumps(items, separators=(",", ":")).encode()).hexdigest()
    return {
        "runs": len(tasks),
        "configurations": list(dict.fromkeys(t.configuration for t in tasks)),
        "replications": len({t.replicate for t in tasks}),
        "check_invariants": any(t.check_invariants for t in tasks),
        "digest": digest,
    }


def _describe(ts: dict[str, Any]) -> str:
    configs = ts.get("configurations") or []
    inv = ", --check-invariants" if ts.get("check_invariants") else ""
    return (
        f"{ts.get('runs')} runs: {len(configs)} configurations ({', '.join(configs)}) x"
        f" {ts.get('replications')} replications{inv}"
    )


#: What a folder killed between its creation and its first manifest holds (nothing else).
_SKELETON: Final = {S.PARTS, S.STAGING, S.LOCK}


def _only_skeleton(store: S.ResultsStore) -> bool:
    """Whether the folder holds only the empty skeleton ``create()`` makes (and a lock)."""
    for child in store.path.iterdir():
        if child.name not in _SKELETON or child.is_symlink():
            return False
        if child.name == S.PARTS:
            for sub in child.iterdir():
                if sub.name not in S.TABLES or sub.is_symlink() or any(sub.iterdir()):
                    return False
        elif child.name == S.STAGING and any(child.iterdir()):
            return False
    return True


def _open_folder(
    store: S.ResultsStore,
    scenario_hash: str,
    resume: bool,
    tasks: list[RunTask] | None = None,
    *,
    locked: bool = False,
) -> dict[str, Any] | None:
    """Check that the folder may be used; return the previous manifest when resuming.

    Called before the lock (nothing written) and again once it is held (``locked``): then
    the folder's own lock file and skeleton do not count as content.
    """
    if store.path.exists() and not store.path.is_dir():
        raise ResultsError(f"{store.path}: exists and is not a folder")
    if not store.exists():
        return None
    store.check_links()
    if not resume:
        if not locked or not _only_skeleton(store):
            raise ResultsError(
                f"{store.path}: the results folder exists and is not empty; pass --resume to"
                " complete the batch there, or choose another --out folder (results are never"
                " overwritten)"
            )
        return None
    if not store.manifest_path.is_file():
        if _only_skeleton(store):
            return None  # created and killed before the first manifest: start afresh
        raise ResultsError(
            f"{store.manifest_path}: missing; {store.path} is not a softtarget results folder"
            " (it holds other files), so --resume will not touch it; give a new --out folder"
        )
    manifest = store.read_manifest()
    if manifest.get("package") != "softtarget" or manifest.get("kind", S.KIND_RESULTS) != (
        S.KIND_RESULTS
    ):
        raise ResultsError(
            f"{store.manifest_path}: not the manifest of a softtarget results folder; --resume"
            " will not touch it"
        )
    old = manifest.get("scenario_hash")
    if old != scenario_hash:
        raise ResultsError(
            f"{store.manifest_path}: these results were written for scenario"
            f" {manifest.get('scenario_name')!r} with hash {old}, but the scenario given"
            f" hashes to {scenario_hash}; the scenario (or a --set override) changed since."
            " --resume needs the very same scenario; run the changed one into a new --out"
            " folder"
        )
    version = manifest.get("schema_version")
    if version != C.SCHEMA_VERSION:
        raise ResultsError(
            f"{store.manifest_path}: results schema version {version}, this softtarget"
            f" writes version {C.SCHEMA_VERSION}; cannot resume into it"
        )
    if tasks is not None:
        _check_task_set(store, manifest, tasks)
    return manifest


def _check_task_set(store: S.ResultsStore, manifest: dict[str, Any], tasks: list[RunTask]) -> None:
    """Refuse to resume a folder with another set of runs or options than it was started with."""
    new = task_set(tasks)
    old = manifest.get("task_set")
    if isinstance(old, dict):
        same = old.get("digest") == new["digest"]
    else:  # an older manifest: its planned run ids
        ids = {e.get("run_id") for e in manifest.get("runs") or [] if isinstance(e, dict)}
        same = ids == {t.run_id for t in tasks}
        old = {"runs": len(ids), "configurations": [], "replications": "?"}
    if not same:
        command = manifest.get("command")
        hint = f" (it was started with: {command})" if command else ""
        raise ResultsError(
            f"{store.manifest_path}: the folder's batch planned {_describe(old)}, but this one"
            f" plans {_describe(new)}; --resume needs the very same runs and options{hint}"
        )


class _Coordinator:
    """State of one :func:`run_batch` call (kept in one object to keep the loop readable)."""

    def __init__(
        self,
        tasks: list[RunTask],
        store: S.ResultsStore,
        *,
        scenario: Any,
        scenario_hash: str,
        workers: int,
        executor: Executor | None,
        progress: bool | None,
        run_fn: RunFn | None,
        max_attempts: int,
        previous: dict[str, Any] | None,
        command: str | None = None,
    ) -> None:
        self.tasks = tasks
        self.store = store
        self.workers = workers
        self.run_fn = run_fn
        self.max_attempts = max_attempts
        self.own_pool = executor is None
        self.executor: Executor | None = executor
        self.engine = (
            ENGINE_LOCAL
            if executor is None
            else getattr(executor, "engine_name", None)
            or f"{type(executor).__module__}.{type(executor).__qualname__}"
        )
        self.t0 = time.monotonic()
        self.last_manifest = 0.0
        now = _now()
        entries: dict[str, dict[str, Any]] = {}
        sessions: list[dict[str, Any]] = []
        if previous:
            entries = {e["run_id"]: e for e in previous.get("runs", [])}
            sessions = list(previous.get("sessions", []))
        done = store.completed_run_ids()
        for task in tasks:  # earlier entries keep their attempts and timings
            entry = entries[task.run_id] = {**_run_entry(task), **entries.get(task.run_id, {})}
            if task.run_id in done:
                entry["status"] = S.RUN_OK
            else:
                entry.update(status=S.RUN_PENDING, stage=None, error=None)
                entry["worker_crashes"] = 0
        self.entries = entries
        self.session = {
            "started": now,
            "finished": None,
            "status": S.BATCH_RUNNING,
            "engine": self.engine,
            "workers": workers,
            "tasks": len(tasks),
            "submitted": 0,
            "ok": 0,
            "failed": 0,
        }
        sessions.append(self.session)
        self.manifest: dict[str, Any] = {
            "schema_version": C.SCHEMA_VERSION,
            "kind": S.KIND_RESULTS,
            "package": "softtarget",
            "package_version": softtarget.__version__,
            "created": (previous or {}).get("created", now),
            "updated": now,
            "status": S.BATCH_RUNNING,
            "scenario_name": str(scenario.name),
            "scenario_hash": scenario_hash,
            "scenario_seed": int(scenario.run.seed),
            "scenario": scenario.model_dump(mode="json"),
            "command": command or (previous or {}).get("command"),
            "task_set": task_set(tasks),
            "engine": self.engine,
            "workers": workers,
            "timings": {},
            "sessions": sessions,
            "consolidated": None,
            "runs": [],
        }
        self.skipped = sum(1 for t in tasks if t.run_id in done)
        self.pending: deque[RunTask] = deque(t for t in tasks if t.run_id not in done)
        self.suspects: deque[RunTask] = deque()
        self.inflight: dict[Future[RunRef], RunTask] = {}
        self.isolating = False
        self.fatal: str | None = None
        self.crashed_out = 0  # runs recorded as worker-crash in this call
        self.finished_any = False  # any run returned (ok or failed) in this call
        stream = sys.stderr
        self.progress = _Progress(
            len(tasks), self.skipped, _progress_mode(progress, stream), stream
        )

    # manifest
    def write_manifest(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last_manifest < MANIFEST_EVERY_S:
            return
        self.last_manifest = now
        m = self.manifest
        m["updated"] = _now()
        m["runs"] = [self.entries[k] for k in sorted(self.entries)]
        ok = [e for e in self.entries.values() if e["status"] == S.RUN_OK]
        m["timings"] = {
            "started": m["sessions"][0]["started"],
            "finished": self.session["finished"],
            "wall_time_s": round(
                sum(_session_seconds(s) for s in m["sessions"][:-1]) + (time.monotonic() - self.t0),
                3,
            ),
            "run_time_s_total": round(sum(e["wall_time_s"] or 0.0 for e in ok), 3),
        }
        self.store.write_manifest(m)

    def counts(self) -> tuple[int, int]:
        ids = {t.run_id for t in self.tasks}
        ok = sum(1 for i in ids if self.entries[i]["status"] == S.RUN_OK)
        failed = sum(1 for i in ids if self.entries[i]["status"] == S.RUN_FAILED)
        return ok, failed

    # the executor
    def ensure_executor(self) -> Executor:
        if self.executor is None:
            self.executor = local_executor(self.workers)
            self.own_pool = True
            self.engine = self.manifest["engine"] = self.session["engine"] = ENGINE_LOCAL
        return self.executor

    def rebuild_executor(self) -> None:
        """After a worker crash: drop the broken pool and start a fresh local one."""
        old, self.executor = self.executor, None
        if old is not None and self.own_pool:
            old.shutdown(wait=True, cancel_futures=True)
        # a broken executor that is not ours cannot be rebuilt: continue on a local pool
        self.ensure_executor()

    def submit(self, task: RunTask) -> None:
        entry = self.entries[task.run_id]
        entry["attempts"] += 1
        entry["started"] = _now()
        self.session["submitted"] += 1
        # an absolute path: the workers of a cluster do not share the coordinator's cwd
        out = str(self.store.path.absolute())
        fut = self.ensure_executor().submit(execute_task, task, out, self.run_fn)
        self.inflight[fut] = task

    # results
    def record(self, ref: RunRef) -> None:
        entry = self.entries[ref.run_id]
        if ref.fatal:
            self.fatal = ref.error or f"{self.store.path}: cannot write"
            return
        self.finished_any = True
        entry.update(
            status=ref.status,
            wall_time_s=round(ref.wall_time_s, 6),
            started=ref.started,
            finished=ref.finished,
            stage=ref.stage,
            error=ref.error,
        )
        self.session["ok" if ref.status == S.RUN_OK else "failed"] += 1

    def record_failure(self, task: RunTask, stage: str, error: str, tb: str) -> None:
        """Record a failure the worker could not record itself (crash, infrastructure)."""
        self.store.write_parts(task.run_id, {S.FAILURES: failure_table(task, stage, error, tb)})
        entry = self.entries[task.run_id]
        entry.update(status=S.RUN_FAILED, finished=_now(), stage=stage, error=error)
        self.session["failed"] += 1

    def collect(self, fut: Future[RunRef], task: RunTask, lost: list[RunTask]) -> None:
        """Record what one finished future brought (a suspect running alone ends isolation)."""
        try:
            ref = fut.result()
        except (BrokenExecutor, CancelledError):
            lost.append(task)  # handle_crash() reads and ends the isolation
            return
        except EngineError:
            raise
        except WorkerCrashed as exc:
            self.engine_crash(task, str(exc))
            return
        except Exception as exc:  # infrastructure, e.g. a task that does not pickle
            self.isolating = False
            self.record_failure(
                task,
                STAGE_WORKER,
                f"{type(exc).__name__}: {exc}",
                "".join(traceback.format_exception(exc)),
            )
            return
        self.isolating = False
        self.record(ref)

    def crashed(self, task: RunTask, error: str) -> None:
        """Record a run that killed its workers alone; stop when no run can finish at all."""
        tb = "(no traceback: the worker process died)"
        self.record_failure(task, STAGE_WORKER_CRASH, error, tb)
        self.crashed_out += 1
        if self.crashed_out >= 3 and not self.finished_any:
            raise RuntimeError(
                f"the worker processes die before finishing any run ({self.crashed_out}"
                f" runs killed their workers, the last {task.run_id}); check that workers"
                " can start (spawn re-imports the main module, which must be a file) and"
                " that run_fn works at all"
            )

    def engine_crash(self, task: RunTask, error: str) -> None:
        """The engine gave up on a run (its workers died): isolate it, or record it."""
        entry = self.entries[task.run_id]
        entry["worker_crashes"] += 1
        if self.isolating:  # it ran alone on the cluster: it is the culprit
            self.isolating = False
            self.crashed(task, error)
        else:  # it may have shared a worker with a culprit: run it alone
            self.suspects.append(task)

    def handle_crash(self, lost: list[RunTask]) -> None:
        """Handle a broken pool: run the lost runs one at a time to find the culprit."""
        if self.isolating and len(lost) == 1:
            task = lost[0]
            entry = self.entries[task.run_id]
            entry["worker_crashes"] += 1
            if entry["worker_crashes"] >= self.max_attempts:
                self.crashed(
                    task,
                    f"the worker process died {entry['worker_crashes']} times running this run"
                    " alone (killed, out of memory, a crash in compiled code or os._exit)",
                )
            else:
                self.suspects.appendleft(task)
        else:
            self.suspects.extend(sorted(lost, key=lambda t: t.run_id))
        self.isolating = False
        self.rebuild_executor()

    def loop(self) -> None:
        limit = max(1, self.workers) + 1
        while self.pending or self.suspects or self.inflight:
            if self.suspects:
                if not self.inflight:  # isolate: one suspect, nothing else running
                    self.isolating = True
                    self.submit(self.suspects.popleft())
            elif not self.isolating:  # until the suspect running alone has returned
                while self.pending and len(self.inflight) < limit:
                    self.submit(self.pending.popleft())
            finished, _ = wait(list(self.inflight), timeout=0.5, return_when=FIRST_COMPLETED)
            lost: list[RunTask] = []
            for fut in finished:
                self.collect(fut, self.inflight.pop(fut), lost)
            if lost:  # the pool is broken: every other future fails too, shortly
                rest, _ = wait(list(self.inflight), timeout=30)
                for fut in list(self.inflight):
                    task = self.inflight.pop(fut)
                    if fut in rest:
                        self.collect(fut, task, lost)
                    else:
                        fut.cancel()
                        lost.append(task)
                self.handle_crash(lost)
            if self.fatal:
                raise ResultsError(self.fatal)
            self.progress.update(*self._progress_counts())
            self.write_manifest()

    def _progress_counts(self) -> tuple[int, int]:
        # incremental: each run is recorded at most once per call (O(1) per completion)
        done = self.skipped + self.session["ok"] + self.session["failed"]
        return done, self.session["failed"]

    def stop(self) -> None:
        """Cancel what has not started and stop our own pool at once (Ctrl-C, errors)."""
        for fut in self.inflight:
            fut.cancel()
        ex, self.executor = self.executor, None
        if ex is None:
            return
        if self.own_pool and isinstance(ex, ProcessPoolExecutor):
            procs = list((getattr(ex, "_processes", None) or {}).values())
            for p in procs:  # a half-written run leaves only staging files: safe to kill
                if p.is_alive():
                    p.terminate()
            ex.shutdown(wait=False, cancel_futures=True)
            for p in procs:
                p.join(timeout=5)
        elif self.own_pool:
            ex.shutdown(wait=False, cancel_futures=True)

    def finish(self, status: str) -> None:
        """Consolidate the parts, sync the manifest with them and write it.

        A corrupt part found while consolidating is moved to ``quarantine/`` and its run
        marked pending again (``--resume`` runs it); the status is then ``interrupted``.
        """
        info = self.store.consolidate(quarantine=True)
        done = self.store.completed_run_ids()
        failed = self.store.failed_run_ids()
        lost = False
        for run_id, entry in self.entries.items():  # late commits of killed/cancelled workers
            if run_id in done:
                entry["status"] = S.RUN_OK
            elif run_id in failed and entry["status"] in (S.RUN_PENDING, S.RUN_OK):
                entry["status"] = S.RUN_FAILED
            elif entry["status"] == S.RUN_OK:  # its part was quarantined
                entry.update(status=S.RUN_PENDING, wall_time_s=None)
                lost = True
        if lost and status == S.BATCH_COMPLETE:
            status = S.BATCH_INTERRUPTED
        self.manifest["consolidated"] = info
        missing = [
            e for e in self.entries.values() if e["status"] == S.RUN_OK and e["wall_time_s"] is None
        ]
        if missing:
            t = pq.read_table(self.store.table_path(S.RUNS), columns=[C.RUN_ID, C.WALL_TIME_S])
            times = dict(zip(*(t.column(c).to_pylist() for c in t.column_names), strict=True))
            for e in missing:
                e["wall_time_s"] = times.get(e["run_id"])
        self.set_status(status)

    def set_status(self, status: str) -> None:
        self.manifest["status"] = status
        self.session["status"] = status
        self.session["finished"] = _now()
        self.write_manifest(force=True)


def _session_seconds(session: dict[str, Any]) -> float:
    try:
        a = datetime.fromisoformat(session["started"])
        b = datetime.fromisoformat(session["finished"])
    except (KeyError, TypeError, ValueError):
        return 0.0
    return max(0.0, (b - a).total_seconds())


def _progress_mode(progress: bool | None, stream: TextIO) -> str | None:
    if progress is False:
        return None
    if progress is True:
        return "bar"
    isatty = getattr(stream, "isatty", None)
    return "bar" if isatty is not None and isatty() else "lines"


def run_batch(
    tasks: Iterable[RunTask],
    out_dir: str | os.PathLike[str],
    *,
    workers: int | None = None,
    executor: Executor | None = None,
    resume: bool = False,
    progress: bool | None = None,
    run_fn: RunFn | None = None,
    max_attempts: int = 3,
    scenario: Any = None,
    scenario_hash: str | None = None,
    command: str | None = None,
) -> BatchSummary:
    """Execute ``tasks`` and write the results folder ``out_dir``; return a summary.

    The tasks (see :func:`plan_tasks`) carry the scenario, its hash and every run's seed; they
    must all be of one scenario (one ``scenario_hash``, else ``ValueError``), the one the
    manifest records. ``scenario`` and ``scenario_hash`` are deprecated: still accepted and
    checked against the tasks (``ValueError`` when they differ), and needed only to write the
    manifest of a batch without tasks.

    Engine: ``executor`` if given (any ``concurrent.futures.Executor``; it stays the caller's
    to shut down), else a local ``spawn`` process pool of ``workers`` processes (default
    ``os.cpu_count()``). ``run_fn`` (a picklable top-level function, default
    ``softtarget.sim.model.simulate``) runs one task in a worker, which writes the run's parts.

    A failing run is a failure record, never the end of the batch. A run that kills its worker
    process is retried alone, and recorded as failed (stage "worker-crash") once it has killed
    ``max_attempts`` workers; the others are resubmitted to a fresh pool.

    Without ``resume`` the folder must not exist or be empty. With ``resume`` it may hold an
    earlier batch of the same scenario (same ``scenario_hash``, else ``ResultsError``); only
    the runs without a ``runs`` part execute (failed runs are retried).

    Another engine, e.g. ``dask.distributed.Client(...).get_executor()``: the results folder
    must then be on a file system every worker shares, ``run_fn`` and the scenario class must
    import on the workers, and ``workers`` should be the cluster's total slots (the runner
    keeps ``workers + 1`` runs in flight, so that Ctrl-C has little to cancel).

    ``progress``: ``None`` draws a bar on a terminal and a line every ~10% elsewhere, ``True``
    always the bar, ``False`` nothing (all on stderr).

    On Ctrl-C (``KeyboardInterrupt``) or SIGTERM (:class:`Terminated`, a
    ``KeyboardInterrupt``; only when called from the main thread) the pending runs are
    cancelled, the pool stopped, the finished runs consolidated and the manifest marked
    ``interrupted``; then the interrupt propagates (``--resume`` completes the folder). A
    folder that cannot be written raises ``ResultsError`` naming the path (manifest
    ``failed``; committed parts stay readable).

    One batch writes a folder at a time: the coordinator holds ``<out>/.lock`` (pid, host,
    start time, ``command``) for the whole call; another one raises
    :class:`~softtarget.sim.store.FolderLocked` naming it. ``command`` (the full command
    line, recorded in the manifest) is what the resume hint repeats. With ``resume`` the
    folder must be a softtarget results folder of the same scenario hash and the same task
    set (runs and ``check_invariants``), else ``ResultsError``.
    """
    tasks = list(tasks)
    if max_attempts < 1:
        raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    if tasks:
        scenario_hash = tasks[0].scenario_hash if scenario_hash is None else scenario_hash
        if scenario is None:
            scenario = tasks[0].scenario
        elif scenario != tasks[0].scenario:
            raise ValueError(f"scenario= is not the scenario of task {tasks[0].run_id}")
    elif scenario is None or scenario_hash is None:
        raise ValueError("no tasks: they carry the scenario that the manifest records")
    seen: set[str] = set()
    for task in tasks:
        if task.scenario_hash != scenario_hash:
            raise ValueError(f"task {task.run_id} is of scenario hash {task.scenario_hash}")
        if task.run_id in seen:
            raise ValueError(f"run {task.run_id} is planned twice")
        seen.add(task.run_id)
    if executor is None or isinstance(executor, ProcessPoolExecutor):
        try:  # fail now, clearly, instead of once per run in the workers
            pickle.dumps(run_fn)
            if tasks:
                pickle.dumps(tasks[0])
        except Exception as exc:
            raise TypeError(
                "run_fn and the tasks must pickle to reach worker processes (use a top-level"
                f" function and an importable scenario class): {exc}"
            ) from exc
    n_workers = workers or getattr(executor, "_max_workers", None) or os.cpu_count() or 1

    store = S.ResultsStore(out_dir)
    _open_folder(store, scenario_hash, resume, tasks)  # before writing anything
    store.create()
    store.acquire_lock(command or "")
    try:
        with _sigterm_as_interrupt():
            return _run_locked(
                tasks,
                store,
                scenario=scenario,
                scenario_hash=scenario_hash,
                n_workers=n_workers,
                executor=executor,
                resume=resume,
                progress=progress,
                run_fn=run_fn,
                max_attempts=max_attempts,
                command=command,
            )
    finally:
        store.release_lock()


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Any:
    """Turn SIGTERM into :class:`Terminated` in the main thread (a no-op in other threads)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    fired = []

    def handler(signum: int, frame: Any) -> None:
        if not fired:  # a second SIGTERM must not cut the graceful stop short
            fired.append(signum)
            raise Terminated("SIGTERM")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run_locked(
    tasks: list[RunTask],
    store: S.ResultsStore,
    *,
    scenario: Any,
    scenario_hash: str,
    n_workers: int,
    executor: Executor | None,
    resume: bool,
    progress: bool | None,
    run_fn: RunFn | None,
    max_attempts: int,
    command: str | None,
) -> BatchSummary:
    """The body of :func:`run_batch`, with the folder's lock held."""
    previous = _open_folder(store, scenario_hash, resume, tasks, locked=True)
    store.clear_staging()  # leftovers of killed workers; no worker of ours runs yet
    if previous is not None:
        store.quarantine_corrupt_parts()  # their runs are planned again
    coord = _Coordinator(
        tasks,
        store,
        scenario=scenario,
        scenario_hash=scenario_hash,
        workers=n_workers,
        executor=executor,
        progress=progress,
        run_fn=run_fn,
        max_attempts=max_attempts,
        previous=previous,
        command=command,
    )
    coord.write_manifest(force=True)
    try:
        coord.loop()
    except KeyboardInterrupt:
        coord.stop()
        coord.progress.update(*coord._progress_counts(), final=True)
        coord.finish(S.BATCH_INTERRUPTED)
        raise
    except BaseException:
        coord.stop()
        try:
            coord.finish(S.BATCH_FAILED)
        except Exception:  # the folder may be unwritable: the first error is the one to tell
            with contextlib.suppress(Exception):
                coord.set_status(S.BATCH_FAILED)
        raise
    if coord.own_pool and coord.executor is not None:
        coord.executor.shutdown(wait=True)
    coord.progress.update(*coord._progress_counts(), final=True)
    coord.finish(S.BATCH_COMPLETE)
    ok, failed = coord.counts()
    return BatchSummary(
        out_dir=store.path,
        status=coord.manifest["status"],
        n_tasks=len(tasks),
        n_ok=ok,
        n_failed=failed,
        n_skipped=coord.skipped,
        failed_run_ids=tuple(
            sorted(t.run_id for t in tasks if coord.entries[t.run_id]["status"] == S.RUN_FAILED)
        ),
        wall_time_s=time.monotonic() - coord.t0,
        workers=n_workers,
        engine=coord.engine,
    )
