"""Batch engines: the local process pool (default) or a Dask cluster, chosen by ``--scheduler``.

The runner (:func:`softtarget.sim.batch.run_batch`) takes any ``concurrent.futures.Executor``; this
module makes one from the ``--scheduler`` value and tears it down afterwards:

=========================  ===================================================================
``--scheduler``            engine
=========================  ===================================================================
(not given)                the local ``spawn`` process pool of ``--workers`` processes
``local`` / ``local:N``    a ``distributed.LocalCluster`` of ``N`` one-thread worker processes
                           on this machine (default: all cores), with Dask's dashboard
``tcp://HOST:PORT``        an existing Dask cluster (``dask scheduler`` / ``dask worker``); any
                           Dask address (``tls://...``) or a ``--scheduler-file`` JSON works
=========================  ===================================================================

Dask (``pip install 'softtarget[dask]'``) is imported only when asked for. Every Dask worker
writes its runs' parts into the results folder itself, so that folder must be on a file system
shared by the coordinator and every worker, at the same path (see ``docs/cluster.md``).

Dask runs a task at least once: when a worker dies, the scheduler reruns its tasks elsewhere,
and a run may then execute twice; parts are keyed by run id and committed atomically, so the
table keeps one row per run. A task whose workers die ``allowed-failures + 1`` times
(``KilledWorker``) comes back to the runner as :class:`~softtarget.sim.errors.WorkerCrashed`:
the runner reruns it alone and records it as failed (stage "worker-crash") if it kills workers
alone too.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import re
import threading
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, InvalidStateError
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Final

from softtarget.sim.batch import ENGINE_LOCAL
from softtarget.sim.errors import EngineError, WorkerCrashed

#: How to get the optional dependency.
INSTALL_HINT: Final = "pip install 'softtarget[dask]'  (or: pip install 'dask[distributed]')"

#: Seconds to reach a scheduler, and to wait for its first worker.
CONNECT_TIMEOUT_S: Final = 20.0
WAIT_FOR_WORKERS_S: Final = 60.0

#: Most worker processes of ``local:N``.
MAX_LOCAL_WORKERS: Final = 1024

#: Where a local Dask cluster (scheduler, workers, dashboard) listens: loopback only.
LOCAL_HOST: Final = "127.0.0.1"

ENGINE_DASK: Final = "dask"
ENGINE_DASK_LOCAL: Final = "dask-local-cluster"

_LOCAL = re.compile(r"local(?::(?P<n>\d+))?")

__all__ = [
    "CONNECT_TIMEOUT_S",
    "ENGINE_DASK",
    "ENGINE_DASK_LOCAL",
    "INSTALL_HINT",
    "WAIT_FOR_WORKERS_S",
    "DaskExecutor",
    "Engine",
    "EngineSpec",
    "import_distributed",
    "open_engine",
    "parse_scheduler",
]


# --- choosing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class EngineSpec:
    """What ``--scheduler`` asked for.

    ``kind`` is ``"local-process-pool"`` (no ``--scheduler``), ``"dask-local-cluster"``
    (``local[:N]``; ``n_workers`` is ``N`` or ``None`` for all cores) or ``"dask"`` (an
    existing cluster at ``address``, or the one a ``scheduler_file`` describes).
    """

    kind: str
    address: str | None = None
    n_workers: int | None = None
    scheduler_file: str | None = None


def parse_scheduler(value: str | None) -> EngineSpec:
    """Read a ``--scheduler`` value; ``ValueError`` saying what is allowed when it is not.

    Allowed: nothing (the local process pool), ``local`` or ``local:N`` (N >= 1), a Dask
    address with a protocol (``tcp://HOST:PORT``, ``tls://...``), a bare ``HOST:PORT``
    (taken as ``tcp://``) or the path of an existing scheduler file (``*.json``, as written
    by ``dask scheduler --scheduler-file``).
    """
    if value is None or not value.strip():
        return EngineSpec(ENGINE_LOCAL)
    text = value.strip()
    m = _LOCAL.fullmatch(text)
    if m:
        n = None if m.group("n") is None else int(m.group("n"))
        if n is not None and n < 1:
            raise ValueError(f"--scheduler {text}: local:N needs at least one worker")
        if n is not None and n > MAX_LOCAL_WORKERS:
            raise ValueError(
                f"--scheduler {text}: at most {MAX_LOCAL_WORKERS} local Dask workers"
                " (allowed: local:1 .. local:1024)"
            )
        return EngineSpec(ENGINE_DASK_LOCAL, n_workers=n)
    if text.endswith(".json"):
        if not Path(text).is_file():
            raise ValueError(f"--scheduler {text}: no such scheduler file")
        return EngineSpec(ENGINE_DASK, scheduler_file=text)
    if "://" in text:
        return EngineSpec(ENGINE_DASK, address=text)
    if re.fullmatch(r"[\w.\-\[\]:]+:\d+", text):
        return EngineSpec(ENGINE_DASK, address=f"tcp://{text}")
    raise ValueError(
        f"--scheduler {text}: expected local, local:N, a Dask scheduler address such as"
        " tcp://HOST:8786, or a scheduler file (*.json)"
    )


def import_distributed() -> ModuleType:
    """Import ``distributed`` (Dask's cluster part), or ``EngineError`` saying how to install."""
    try:
        return importlib.import_module("distributed")
    except ImportError as exc:
        raise EngineError(
            "running a batch on Dask (--scheduler) needs the optional dependency"
            f" dask[distributed], which is not installed ({exc}); install it with: {INSTALL_HINT}"
        ) from exc


# --- the executor ------------------------------------------------------------------------------


class DaskExecutor(Executor):
    """A ``concurrent.futures.Executor`` over a ``distributed.Client``, for the runner.

    Unlike ``Client.get_executor()``, every call is a new task (a unique key: never a cached
    result of an earlier attempt), Dask's ``KilledWorker`` comes back as
    :class:`~softtarget.sim.errors.WorkerCrashed`, and a task the scheduler drops (connection lost)
    as :class:`~softtarget.sim.errors.EngineError`. Cancelling the returned future cancels the Dask
    task. ``shutdown`` cancels what is left; the client stays the caller's.
    """

    def __init__(self, client: Any, *, engine_name: str = ENGINE_DASK) -> None:
        """Submit through ``client`` (a connected ``distributed.Client``)."""
        distributed = import_distributed()
        self._client = client
        self._killed_worker: type[BaseException] = distributed.KilledWorker
        self._lock = threading.Lock()
        self._tasks: dict[str, Any] = {}  # key -> Dask future, until done
        self._shutdown = False
        self.engine_name = engine_name

    @property
    def client(self) -> Any:
        """The ``distributed.Client`` the tasks go through."""
        return self._client

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        """Run ``fn(*args, **kwargs)`` on a worker; return a standard ``Future``."""
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot schedule new futures after shutdown")
        key = f"{getattr(fn, '__name__', 'call')}-{uuid.uuid4().hex}"
        dask_future = self._client.submit(fn, *args, key=key, pure=False, **kwargs)
        future: Future[Any] = Future()
        with self._lock:
            self._tasks[key] = dask_future

        def on_cancel(f: Future[Any]) -> None:
            if f.cancelled():
                with contextlib.suppress(Exception):  # the client may be closing
                    dask_future.cancel()

        future.add_done_callback(on_cancel)
        dask_future.add_done_callback(lambda df: self._relay(key, df, future))
        return future

    def _relay(self, key: str, dask_future: Any, future: Future[Any]) -> None:
        """Pass a finished Dask task's outcome on (runs in Dask's callback thread).

        A result lost with its worker (status "lost") is recomputed by Dask: ``result()``
        then waits for the new one.
        """
        if future.cancelled():
            with self._lock:
                self._tasks.pop(key, None)
            with contextlib.suppress(InvalidStateError, RuntimeError):
                future.set_running_or_notify_cancel()  # wakes wait() on a cancelled future
            return
        ok = False
        try:
            value, ok = dask_future.result(), True
        except Exception as exc:
            status = dask_future.status
            if status == "error" and isinstance(exc, self._killed_worker):
                n = getattr(exc, "allowed_failures", None)
                tried = f"{n + 1} workers" if isinstance(n, int) else "several workers"
                last = getattr(getattr(exc, "last_worker", None), "address", "?")
                value = WorkerCrashed(
                    f"Dask ran it on {tried} and each died while running it (killed, out of"
                    " memory, a crash in compiled code or os._exit); the last was"
                    f" {last}, whose log may tell why"
                )
            elif status == "error":  # the task raised (execute_task itself never does)
                value = exc
            else:  # cancelled or lost, not by us: the scheduler or the connection is gone
                value = EngineError(
                    f"lost the Dask scheduler, a run was {status} ({exc}); the scheduler"
                    " stopped or the connection to it broke"
                )
        with self._lock:
            self._tasks.pop(key, None)
        try:
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)
        except InvalidStateError:  # cancelled meanwhile
            with contextlib.suppress(InvalidStateError, RuntimeError):
                future.set_running_or_notify_cancel()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop accepting tasks; cancel the Dask tasks still pending (the client stays open)."""
        with self._lock:
            self._shutdown = True
            left = list(self._tasks.values())
        if left and (cancel_futures or not wait):
            with contextlib.suppress(Exception):
                self._client.cancel(left)
        elif left:
            distributed = import_distributed()
            with contextlib.suppress(Exception):
                distributed.wait(left)


# --- opening and closing -----------------------------------------------------------------------


@dataclass
class Engine:
    """An open engine: what to hand to :func:`softtarget.sim.batch.run_batch`, and what it is.

    ``executor`` is ``None`` for the local process pool (the runner starts its own);
    ``workers`` is the number of runs executed at once (the runner keeps one more in flight).
    """

    kind: str
    executor: Executor | None
    workers: int | None
    description: str
    dashboard: str | None = None


def _softtarget_version() -> str:
    """Run on each worker: the softtarget version it imports."""
    import softtarget

    return str(softtarget.__version__)


def _check_workers(client: Any, where: str) -> None:
    """Fail early when the scheduler or workers do not run this machine's softtarget."""
    import softtarget

    try:  # the scheduler unpickles the tasks too, so it needs softtarget as well
        versions = {"the scheduler": client.run_on_scheduler(_softtarget_version)}
    except Exception as exc:
        raise EngineError(
            f"the Dask scheduler at {where} cannot import softtarget ({type(exc).__name__}:"
            f" {exc}); install the same softtarget version on the scheduler's machine"
        ) from exc
    try:
        versions.update(client.run(_softtarget_version))
    except Exception as exc:
        raise EngineError(
            f"the Dask workers of {where} cannot import softtarget ({type(exc).__name__}:"
            f" {exc}); install the same softtarget version on every worker machine"
        ) from exc
    other = {w: v for w, v in versions.items() if v != softtarget.__version__}
    if other:
        listed = ", ".join(f"{w} has {v}" for w, v in sorted(other.items()))
        raise EngineError(
            f"the Dask workers must run softtarget {softtarget.__version__}, as this machine"
            f" does, but {listed}; install the same version everywhere"
        )


def _dashboard(client: Any) -> str | None:
    """The dashboard's address, with a note when nothing answers there (no bokeh)."""
    try:
        link = str(client.dashboard_link)
    except Exception:
        return None
    try:
        with urllib.request.urlopen(link, timeout=3) as response:
            if response.status == 200:
                return link
    except (OSError, ValueError):
        pass
    return (
        f"{link} does not answer: the scheduler serves it only with bokeh installed on its"
        " machine (pip install 'dask[diagnostics]') and without --no-dashboard"
    )


def _total_threads(client: Any) -> int:
    return max(1, sum(int(n) for n in client.nthreads().values()))


@contextlib.contextmanager
def open_engine(
    scheduler: str | None,
    *,
    workers: int | None = None,
    max_attempts: int = 3,
    connect_timeout_s: float = CONNECT_TIMEOUT_S,
    wait_for_workers_s: float = WAIT_FOR_WORKERS_S,
    check_versions: bool = True,
) -> Iterator[Engine]:
    """Open the engine ``--scheduler`` names (see :func:`parse_scheduler`); close it after.

    ``workers``: for the local pool, its processes; on Dask, the runs executed at once
    (default: the cluster's total threads when it is opened). ``max_attempts`` sets the
    scheduler's ``allowed-failures`` of a ``local`` cluster to ``max_attempts - 1`` (an
    existing scheduler keeps its own setting). Raises ``ValueError`` for a malformed value and
    :class:`~softtarget.sim.errors.EngineError` when Dask is missing, the scheduler cannot be
    reached, no worker joins within ``wait_for_workers_s`` or the workers run another softtarget.
    """
    spec = parse_scheduler(scheduler)
    if spec.kind == ENGINE_LOCAL:
        yield Engine(ENGINE_LOCAL, None, workers, f"local process pool ({ENGINE_LOCAL})")
        return
    distributed = import_distributed()
    import dask

    cluster = None
    client = None
    try:
        if spec.kind == ENGINE_DASK_LOCAL:
            n = spec.n_workers or os.cpu_count() or 1
            with dask.config.set({"distributed.scheduler.allowed-failures": max_attempts - 1}):
                cluster = distributed.LocalCluster(
                    n_workers=n,
                    threads_per_worker=1,
                    processes=True,
                    host=LOCAL_HOST,  # scheduler, workers and dashboard: this machine only
                    dashboard_address=f"{LOCAL_HOST}:8787",
                    silence_logs=logging.ERROR,
                )
            client = distributed.Client(cluster, set_as_default=False)
            where = f"a local Dask cluster of {n} workers"
            name = f"{ENGINE_DASK_LOCAL}:{n}"
        else:
            where = spec.address or f"scheduler file {spec.scheduler_file}"
            try:
                client = distributed.Client(
                    spec.address,
                    scheduler_file=spec.scheduler_file,
                    timeout=connect_timeout_s,
                    set_as_default=False,
                )
            except (OSError, TimeoutError) as exc:
                raise EngineError(
                    f"cannot reach the Dask scheduler at {where} within {connect_timeout_s:g}"
                    f" s ({exc}); start one with `dask scheduler` and its workers with"
                    " `dask worker tcp://HOST:8786` (see docs/cluster.md)"
                ) from exc
            name = f"{ENGINE_DASK} {client.scheduler.address}"
            try:
                client.wait_for_workers(1, timeout=wait_for_workers_s)
            except (OSError, TimeoutError) as exc:
                raise EngineError(
                    f"no Dask worker joined the scheduler at {where} within"
                    f" {wait_for_workers_s:g} s; start some with `dask worker"
                    f" {client.scheduler.address}`"
                ) from exc
        if check_versions:
            _check_workers(client, where)
        threads = _total_threads(client)
        n_run = workers or threads
        executor = DaskExecutor(client, engine_name=name)
        yield Engine(
            spec.kind,
            executor,
            n_run,
            f"Dask: {where}, {threads} worker threads, {n_run} runs at once",
            dashboard=_dashboard(client),
        )
        executor.shutdown(wait=False)
    finally:
        with _quiet("distributed"):  # closing while reconnecting logs a traceback: not news
            if client is not None:
                with contextlib.suppress(Exception):
                    client.close(timeout=10)
            if cluster is not None:
                with contextlib.suppress(Exception):
                    cluster.close(timeout=10)


@contextlib.contextmanager
def _quiet(name: str) -> Iterator[None]:
    """Silence a logger and its children for the duration."""
    names = [n for n in list(logging.root.manager.loggerDict) if n.split(".")[0] == name]
    logs = [logging.getLogger(n) for n in {name, *names}]
    was = [log.disabled for log in logs]
    for log in logs:
        log.disabled = True
    try:
        yield
    finally:
        for log, w in zip(logs, was, strict=True):
            log.disabled = w
