"""Trajectories of one run in the format of PedPy, the field's own analysis tool.

:func:`simulate_with_trajectories` runs a :class:`~softtarget.sim.runs.RunTask` exactly as
:func:`softtarget.sim.model.simulate` does (same row, time series and events for the same seed:
recording only reads the crowd's arrays) and, every ``every_s`` seconds of model time, writes
the position of every visitor standing in the venue to a Parquet file, one row per person and
frame:

=========  ==========================  ========================================================
column     type                        meaning
=========  ==========================  ========================================================
``id``     int64                       the person (index in the crowd's arrays, stable in a run)
``frame``  int64                       the recording: 0 at the start, then one per ``every_s``
``x``      float64                     position, metres (venue coordinates; lattice cell centre)
``y``      float64                     position, metres
``t_s``    float64                     model time, seconds (``frame * every_s``)
``state``  dictionary<int8, string>    the person's state (``arriving``, ``inside``, ...)
=========  ==========================  ========================================================

"Standing" is :data:`softtarget.sim.people.IS_STANDING`: arriving, queuing, inside, fleeing
or sheltering; people planned for later, gone, injured or killed are not in a frame. The
schema metadata carries what PedPy needs (key ``pedpy``: the frame rate ``1 / every_s``, the
unit, the columns) and the run's identity (key ``softtarget.run``). :func:`to_pedpy` reads the
file back as a ``pedpy.TrajectoryData``.

Frames are equally spaced, as PedPy assumes (its time is ``frame / frame_rate``): ``every_s``
must be a whole number of model steps (``run.dt_s``). A flow measured on a line needs frames
close enough that nobody crosses the line and leaves the model between two of them (people
leave 2.4 m past a door): keep ``every_s`` at a second or less for that.
"""

from __future__ import annotations

import json
import logging
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from softtarget.sim import columns as C
from softtarget.sim.errors import TrajectoryError
from softtarget.sim.model import SoftTargetModel, simulate
from softtarget.sim.people import IS_STANDING, State
from softtarget.sim.runs import RunOutput, RunTask

if TYPE_CHECKING:
    import pedpy

__all__ = [
    "COLUMNS",
    "PEDPY_COLUMNS",
    "SUFFIX",
    "check_path",
    "read_metadata",
    "read_trajectories",
    "simulate_with_trajectories",
    "steps_per_frame",
    "to_pedpy",
]

#: The file type written (Parquet).
SUFFIX = ".parquet"
#: The columns PedPy's ``TrajectoryData`` takes, in its order.
PEDPY_COLUMNS = ("id", "frame", "x", "y")
#: Every column of the file, in order.
COLUMNS = (*PEDPY_COLUMNS, C.T_S, "state")
#: Schema metadata keys: what PedPy needs, and the run the trajectories come from.
PEDPY_KEY = b"pedpy"
RUN_KEY = b"softtarget.run"
#: Names of the states, indexed by :class:`~softtarget.sim.people.State`.
STATE_NAMES = tuple(s.name.lower() for s in State)
_STATE_TYPE = pa.dictionary(pa.int8(), pa.string())
SCHEMA = pa.schema(
    [
        pa.field("id", pa.int64(), nullable=False),
        pa.field("frame", pa.int64(), nullable=False),
        pa.field("x", pa.float64(), nullable=False),
        pa.field("y", pa.float64(), nullable=False),
        pa.field(C.T_S, pa.float64(), nullable=False),
        pa.field("state", _STATE_TYPE, nullable=False),
    ]
)
#: Rows gathered before they are written as one row group (bounds memory, not results).
_ROW_GROUP = 1_000_000


def check_path(path: str | os.PathLike[str]) -> Path:
    """``path`` as a :class:`Path` if it names a Parquet file; else :class:`TrajectoryError`."""
    path = Path(path)
    if path.suffix.lower() != SUFFIX:
        raise TrajectoryError(
            f"{path}: trajectories are written as Parquet; name a {SUFFIX} file, "
            f"not {path.suffix or '(no suffix)'!r}"
        )
    if path.is_dir():
        raise TrajectoryError(f"{path}: is a folder; name a {SUFFIX} file to write")
    return path


def steps_per_frame(dt_s: float, every_s: float | None) -> int:
    """Model steps between two frames: ``every_s / dt_s``, a positive whole number.

    ``None`` means every step. Anything else that is not a whole multiple of ``dt_s``
    (to 1e-6 of a step) raises :class:`TrajectoryError`: PedPy needs equally spaced frames.
    """
    if every_s is None:
        return 1
    if not (isinstance(every_s, int | float) and math.isfinite(every_s) and every_s > 0):
        raise TrajectoryError(f"the interval must be a positive duration, not {every_s}")
    k = round(every_s / dt_s)
    if k < 1 or abs(every_s / dt_s - k) > 1e-6:
        near = sorted({max(1, math.floor(every_s / dt_s)), max(1, math.ceil(every_s / dt_s))})
        raise TrajectoryError(
            f"{every_s:g} s is not a whole number of model steps (run.dt_s = {dt_s:g} s);"
            f" use e.g. {' or '.join(f'{n * dt_s:g}s' for n in near)}"
        )
    return k


def _metadata(task: RunTask, every_s: float) -> dict[bytes, bytes]:
    run = task.scenario.run
    pedpy_meta = {
        "frame_rate": 1.0 / every_s,
        "every_s": every_s,
        "unit": "m",
        "columns": list(PEDPY_COLUMNS),
    }
    identity = {
        **task.identity,
        "scenario_hash": task.scenario_hash,
        "dt_s": run.dt_s,
        "duration_s": run.duration_s,
        "venue_m": [task.scenario.venue.width_m, task.scenario.venue.height_m],
        "states": list(STATE_NAMES),
    }
    return {
        b"softtarget.table": b"trajectories",
        PEDPY_KEY: json.dumps(pedpy_meta).encode(),
        RUN_KEY: json.dumps(identity).encode(),
    }


def _frame(model: SoftTargetModel, frame: int) -> pa.RecordBatch:
    """The people standing in the venue now, as rows of frame ``frame``."""
    cw = model.crowd
    idx = np.flatnonzero(IS_STANDING[cw.state])
    n = len(idx)
    states = pa.DictionaryArray.from_arrays(
        pa.array(cw.state[idx].astype(np.int8)), pa.array(STATE_NAMES, pa.string())
    )
    return pa.RecordBatch.from_arrays(
        [
            pa.array(idx.astype(np.int64)),
            pa.array(np.full(n, frame, dtype=np.int64)),
            pa.array(cw.xy[idx, 0].astype(np.float64)),
            pa.array(cw.xy[idx, 1].astype(np.float64)),
            pa.array(np.full(n, model.t, dtype=np.float64)),
            states,
        ],
        schema=SCHEMA,
    )


class _Writer:
    """Row groups to a temporary file beside ``path``, moved onto ``path`` only when complete."""

    def __init__(self, path: Path, metadata: dict[bytes, bytes]) -> None:
        self.path = path
        self.tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        above = next(p for p in path.absolute().parents if p.exists())
        if not above.is_dir():
            raise TrajectoryError(f"{path}: cannot write: {above} is a file, not a folder")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.file = open(self.tmp, "wb")  # noqa: SIM115 - closed by commit or abandon
        except OSError as exc:
            raise TrajectoryError(f"{path}: cannot write: {exc.strerror or exc}") from None
        self.writer = pq.ParquetWriter(self.file, SCHEMA.with_metadata(metadata))
        self.batches: list[pa.RecordBatch] = []
        self.pending = 0
        self.frames = 0
        self.rows = 0

    def add(self, batch: pa.RecordBatch) -> None:
        self.batches.append(batch)
        self.pending += batch.num_rows
        self.frames += 1
        self.rows += batch.num_rows
        if self.pending >= _ROW_GROUP:
            self.flush()

    def flush(self) -> None:
        if self.batches:
            self.writer.write_table(pa.Table.from_batches(self.batches, SCHEMA))
        self.batches, self.pending = [], 0

    def commit(self) -> None:
        self.flush()
        self.writer.close()
        self.file.close()
        os.replace(self.tmp, self.path)

    def abandon(self) -> None:
        try:
            self.writer.close()
            self.file.close()
        finally:
            self.tmp.unlink(missing_ok=True)


def simulate_with_trajectories(
    task: RunTask, path: str | os.PathLike[str], every_s: float | None = None
) -> RunOutput:
    """Execute one run like :func:`~softtarget.sim.model.simulate`, writing its trajectories.

    A frame at the start and one every ``every_s`` seconds of model time (default: every
    step, ``run.dt_s``; otherwise a whole multiple of it) goes to the Parquet file ``path``
    (see the module's docstring for its columns and metadata). The file appears only once the
    run is complete; a failed run leaves nothing. Returns what ``simulate`` returns for the
    task, with ``extra["trajectories"]`` saying what was written (path, frames, rows, frame
    rate). Raises :class:`TrajectoryError` before running anything for a path that is not a
    ``.parquet`` file or cannot be written, or an interval that is not a whole number of steps.
    """
    path = check_path(path)
    run = task.scenario.run
    k = steps_per_frame(run.dt_s, every_s)
    every = k * run.dt_s
    writer = _Writer(path, _metadata(task, every))
    try:
        out = _run(task, writer, k)
        writer.commit()
    except BaseException:
        writer.abandon()
        raise
    out.extra["trajectories"] = {
        "path": str(path),
        "frames": writer.frames,
        "rows": writer.rows,
        "every_s": every,
        "frame_rate": 1.0 / every,
    }
    return out


def _run(task: RunTask, writer: _Writer, k: int) -> RunOutput:
    """:func:`softtarget.sim.model.simulate`'s run, with a frame every ``k`` steps."""

    def record(model: SoftTargetModel, step: int) -> None:
        if step % k == 0:
            writer.add(_frame(model, step // k))

    return simulate(task, observe=record)


def read_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The metadata of a trajectories file: ``{"pedpy": {...}, "run": {...}}``."""
    meta = pq.read_schema(path).metadata or {}
    if PEDPY_KEY not in meta:
        raise TrajectoryError(f"{path}: not a softtarget trajectories file (no 'pedpy' metadata)")
    return {
        "pedpy": json.loads(meta[PEDPY_KEY]),
        "run": json.loads(meta[RUN_KEY]) if RUN_KEY in meta else {},
    }


def read_trajectories(path: str | os.PathLike[str]) -> tuple[pd.DataFrame, float]:
    """The trajectories table of ``path`` (every column) and its frame rate, frames per second."""
    frame_rate = float(read_metadata(path)["pedpy"]["frame_rate"])
    return pq.read_table(path).to_pandas(), frame_rate


def _import_pedpy() -> Any:
    """PedPy, imported only when asked for (an optional dependency), with logging left alone.

    PedPy 1.5 calls ``logging.basicConfig(level=INFO)`` on import, which would make every
    library (Mesa logs each model step) print INFO lines; the root logger is put back as it was.
    """
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    import pedpy

    root.handlers[:] = handlers
    root.setLevel(level)
    return pedpy


def to_pedpy(path: str | os.PathLike[str], spread_m: float = 0.01) -> pedpy.TrajectoryData:
    """The trajectories of ``path`` as ``pedpy.TrajectoryData`` (needs PedPy installed).

    The stored positions are the centres of the lattice's 0.4 m cells. Points on a regular
    grid make degenerate Voronoi diagrams (GEOS fails with "side location conflict" in
    ``pedpy.compute_individual_voronoi_polygons``), so each position is moved by a fixed
    pseudo-random offset of at most ``spread_m`` (1 cm, far below any measurement's scale;
    0 keeps the cell centres); the file itself is left as written.

    Example::

        traj = to_pedpy("run.parquet")
        line = pedpy.MeasurementLine([(0.0, 18.0), (0.0, 28.0)])
        nt, crossing = pedpy.compute_n_t(traj_data=traj, measurement_line=line)
    """
    pedpy = _import_pedpy()
    frame_rate = float(read_metadata(path)["pedpy"]["frame_rate"])
    df = pq.read_table(path, columns=list(PEDPY_COLUMNS)).to_pandas()
    if spread_m > 0.0:
        rng = np.random.default_rng(0)  # the same offsets for the same file, every time
        df["x"] += rng.uniform(-spread_m, spread_m, len(df))
        df["y"] += rng.uniform(-spread_m, spread_m, len(df))
    return pedpy.TrajectoryData(data=df[list(PEDPY_COLUMNS)], frame_rate=frame_rate)
