"""Trajectories of a run in PedPy's format: same results, readable by PedPy, the door's flow."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from softtarget.cli import main
from softtarget.sim import columns as C
from softtarget.sim import trajectories as T
from softtarget.sim.errors import TrajectoryError
from softtarget.sim.loader import load_scenario
from softtarget.sim.model import simulate
from softtarget.sim.runs import RunTask, run_seed

#: A 16 m x 12 m hall, 250 people, one 1.2 m door in the west wall, an evacuation drill at 2 s.
ROOM = """\
name: room
venue:
  width_m: 16
  height_m: 12
  fence: false
  zones:
    hall: {kind: attractor, rect: [4, 1, 15, 11]}
    door: {kind: exit, rect: [0, 5, 1, 7], width_m: 1.2}
crowd:
  initial_inside: 250
  arrivals: {rate_per_min: 0}
threat:
  probability: 0
configurations:
  base:
    coordination: {drill_at_s: 2s}
run:
  seed: 3
  replications: 1
  duration_s: 150s
  sample_every_s: 0.6
"""
#: The door's line (the west wall at x = 0), a metre past the door each side.
DOOR_LINE = [(0.0, 4.0), (0.0, 8.0)]


def _task(scenario: str, overrides=(), config: str | None = None, check: bool = False) -> RunTask:
    loaded = load_scenario(scenario, list(overrides))
    sc = loaded.scenario
    config = config or next(iter(sc.configurations))
    return RunTask(sc, loaded.hash, config, 0, run_seed(sc.run.seed, 0), check_invariants=check)


@pytest.fixture(scope="module")
def room(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("room") / "room.yaml"
    path.write_text(ROOM)
    return path


@pytest.fixture(scope="module")
def recorded(room: Path, tmp_path_factory):
    """The room's run with its trajectories (every step) and the same run by ``simulate``."""
    out_path = tmp_path_factory.mktemp("traj") / "room.parquet"
    task = _task(str(room))
    return simulate(task), T.simulate_with_trajectories(task, out_path), out_path


def _same(a, b) -> None:
    a.row.pop(C.WALL_TIME_S)
    b.row.pop(C.WALL_TIME_S)
    assert a.row == b.row
    assert a.timeseries.equals(b.timeseries)
    assert a.events.equals(b.events)


@pytest.mark.parametrize("config", ["public_only", "public_private"])
def test_recording_changes_no_result(tmp_path: Path, config: str) -> None:
    """The built-in worship with an attack at 30 s: flight, harm, lockdown or evacuation."""
    task = _task("worship", ["run.duration_s=120s", "threat.start_s=30s"], config, check=True)
    plain = simulate(task)
    recorded = T.simulate_with_trajectories(task, tmp_path / "w.parquet", every_s=1.2)
    assert plain.row[C.ATTACK_STARTED]
    _same(plain, recorded)
    assert recorded.extra["trajectories"]["frames"] == 101  # 0, 1.2, ..., 120 s


def test_columns_types_metadata_and_frames(recorded) -> None:
    plain, out, path = recorded
    schema = pq.read_schema(path)
    assert schema.names == list(T.COLUMNS) == ["id", "frame", "x", "y", "t_s", "state"]
    assert [str(schema.field(n).type) for n in schema.names] == [
        "int64", "int64", "double", "double", "double",
        "dictionary<values=string, indices=int8, ordered=0>",
    ]  # fmt: skip
    meta = T.read_metadata(path)
    assert meta["pedpy"]["frame_rate"] == pytest.approx(1 / 0.6)
    assert meta["pedpy"]["unit"] == "m" and meta["pedpy"]["columns"] == ["id", "frame", "x", "y"]
    assert meta["run"][C.RUN_ID] == plain.row[C.RUN_ID]
    assert meta["run"][C.SEED] == plain.row[C.SEED]

    df, frame_rate = T.read_trajectories(path)
    assert frame_rate == pytest.approx(1 / 0.6)
    assert df.id.dtype == np.int64 and df.frame.dtype == np.int64
    assert df.x.dtype == np.float64 and df.y.dtype == np.float64
    assert set(df.state.astype(str)) <= {"arriving", "queuing", "inside", "fleeing", "sheltering"}
    assert np.allclose(df.t_s, df.frame * 0.6)
    assert not df.duplicated(["id", "frame"]).any()
    assert out.extra["trajectories"] == {
        "path": str(path), "frames": 251, "rows": len(df), "every_s": 0.6,
        "frame_rate": pytest.approx(1 / 0.6),
    }  # fmt: skip
    # every frame holds exactly the people the time series counts as standing (same clock)
    ts = plain.timeseries
    standing = ts[[C.N_ARRIVING, C.N_QUEUING, C.N_INSIDE, C.N_FLEEING, C.N_SHELTERING]].sum(axis=1)
    rows = df.groupby("frame").size().reindex(range(251), fill_value=0)
    assert np.array_equal(rows.to_numpy(), standing.to_numpy())
    # inside the venue, or on the apron 2.4 m past the door
    assert df.x.between(-3.6, 16).all() and df.y.between(0, 12).all()


def _steady_flow(t: np.ndarray, n: np.ndarray, total: int) -> float:
    """People per second between 20 % and 80 % of ``total`` passed (the queue at the door)."""
    t20 = np.interp(0.2 * total, n, t)
    t80 = np.interp(0.8 * total, n, t)
    return 0.6 * total / (t80 - t20)


def test_pedpy_reads_it_and_measures_the_models_door_flow(recorded) -> None:
    pedpy = T._import_pedpy()
    plain, _, path = recorded
    traj = T.to_pedpy(path)
    assert isinstance(traj, pedpy.TrajectoryData)
    assert traj.frame_rate == pytest.approx(1 / 0.6)
    assert traj.number_pedestrians == 250

    ts = plain.timeseries
    left = (ts[C.N_EVACUATED] + ts[C.N_LEFT]).to_numpy()
    assert left[-1] == 250  # everyone out: the model's own count of people leaving
    model_flow = _steady_flow(ts[C.T_S].to_numpy(), left, 250)

    line = pedpy.MeasurementLine(DOOR_LINE)
    nt, crossing = pedpy.compute_n_t(traj_data=traj, measurement_line=line)
    assert len(crossing) == 250  # everyone crossed the door line once
    nt_flow = _steady_flow(nt.time.to_numpy(), nt.cumulative_pedestrians.to_numpy(), 250)
    speed = pedpy.compute_individual_speed(
        traj_data=traj, frame_step=2, speed_calculation=pedpy.SpeedCalculation.BORDER_SINGLE_SIDED
    )
    flow = pedpy.compute_flow(
        nt=nt, crossing_frames=crossing, individual_speed=speed, delta_frame=20,
        frame_rate=traj.frame_rate,
    )  # fmt: skip
    windows = flow.flow.to_numpy()[1:-1]  # whole windows while the queue lasts
    assert 1.5 < model_flow < 2.6, model_flow  # a 1.2 m door: ~2.1 /s (docs/validation.md)
    assert nt_flow == pytest.approx(model_flow, rel=0.2)
    assert windows.mean() == pytest.approx(model_flow, rel=0.2)

    # the queue in front of the door, as PedPy's classic density sees it
    area = pedpy.MeasurementArea([(0.0, 4.0), (2.0, 4.0), (2.0, 8.0), (0.0, 8.0)])
    density = pedpy.compute_classic_density(traj_data=traj, measurement_area=area)
    t = density.frame.to_numpy() / traj.frame_rate
    queue = density.density.to_numpy()[(t > 20) & (t < 80)]
    # a dense queue of calm people, who stop at jam density (Weidmann's 5.4 /m²): 4.9 /m²
    # (seeds 0-2 of the room: 4.92, 4.96, 4.91); 5.3 /m² when they packed every free cell
    assert 4.0 < queue.mean() < 5.2, queue.mean()


def test_the_interval_is_a_whole_number_of_steps(room: Path, tmp_path: Path) -> None:
    task = _task(str(room), ["run.duration_s=12s"])
    out = T.simulate_with_trajectories(task, tmp_path / "a.parquet", every_s=1.2)
    df, frame_rate = T.read_trajectories(tmp_path / "a.parquet")
    assert frame_rate == pytest.approx(1 / 1.2)
    assert sorted(df.frame.unique()) == list(range(11))
    assert np.allclose(df.t_s, df.frame * 1.2)
    assert out.extra["trajectories"]["frames"] == 11
    for every in (0.5, 0.0, -0.6, math.inf):
        with pytest.raises(TrajectoryError):
            T.simulate_with_trajectories(task, tmp_path / "b.parquet", every_s=every)
    assert T.steps_per_frame(0.6, None) == 1 and T.steps_per_frame(0.6, 3.0) == 5
    assert not (tmp_path / "b.parquet").exists()


def test_a_failed_run_leaves_no_file(room: Path, tmp_path: Path, monkeypatch) -> None:
    real = T._frame

    def failing(model, frame):
        if frame == 3:
            raise RuntimeError("boom")
        return real(model, frame)

    monkeypatch.setattr(T, "_frame", failing)
    with pytest.raises(RuntimeError, match="boom"):
        T.simulate_with_trajectories(_task(str(room)), tmp_path / "t.parquet")
    assert list(tmp_path.iterdir()) == []


def test_cli_writes_trajectories_pedpy_reads(room: Path, tmp_path: Path) -> None:
    out = tmp_path / "sub" / "room.parquet"
    args = ["run", str(room), "--set", "run.duration_s=30s", "--trajectories", str(out)]
    result = CliRunner().invoke(main, [*args, "--trajectory-every", "1.2s"])
    assert result.exit_code == 0, result.output
    assert f"trajectories: {out} (26 frames every 1.2 s," in result.output
    traj = T.to_pedpy(out)
    assert traj.frame_rate == pytest.approx(1 / 1.2)
    assert sorted(traj.data.frame.unique()) == list(range(26))
    assert list(out.parent.iterdir()) == [out]  # no temporary file left


@pytest.mark.parametrize(
    ("target", "every", "needle"),
    [
        ("t.csv", None, "--trajectories: {tmp}/t.csv: trajectories are written as Parquet"),
        ("t", None, "name a .parquet file, not '(no suffix)'"),
        ("room.yaml/t.parquet", None, "room.yaml is a file, not a folder"),
        ("t.parquet", "0.5s", "--trajectory-every: 0.5 s is not a whole number of model steps"),
        ("t.parquet", "12:30", "--trajectory-every: '12:30' looks like a clock time"),
    ],
    ids=["suffix", "no-suffix", "parent-is-a-file", "interval", "clock-time"],
)
def test_cli_refuses_bad_trajectories_in_one_line(
    room: Path, tmp_path: Path, target: str, every: str | None, needle: str
) -> None:
    (tmp_path / "room.yaml").write_text(ROOM)
    args = ["run", str(room), "--trajectories", str(tmp_path / target)]
    result = CliRunner().invoke(main, args + (["--trajectory-every", every] if every else []))
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and needle.format(tmp=tmp_path) in lines[0], result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["room.yaml"]  # nothing written


def test_cli_interval_needs_a_path(room: Path) -> None:
    result = CliRunner().invoke(main, ["run", str(room), "--trajectory-every", "1.2s"])
    assert result.exit_code == 2
    assert "--trajectory-every: needs --trajectories" in result.output


def test_a_folder_is_not_a_file_to_write(tmp_path: Path) -> None:
    (tmp_path / "x.parquet").mkdir()
    with pytest.raises(TrajectoryError, match="is a folder"):
        T.check_path(tmp_path / "x.parquet")
    assert T.check_path(str(tmp_path / "y.PARQUET")) == tmp_path / "y.PARQUET"


def test_the_arrow_schema_matches_the_documented_columns() -> None:
    assert T.SCHEMA.field("state").type == pa.dictionary(pa.int8(), pa.string())
    assert T.STATE_NAMES[0] == "planned" and "fleeing" in T.STATE_NAMES


#: A standing audience: 220 people put at random points of a 10 m x 10 m floor (2.2 /m²), so
#: that, as drawn, some stand in clusters; they stay (dwell an hour) for 30 s.
AUDIENCE = """\
name: audience
venue:
  width_m: 20
  height_m: 20
  fence: false
  zones:
    floor: {kind: attractor, rect: [5, 5, 15, 15]}
    door: {kind: exit, rect: [0, 9, 1, 11], width_m: 2}
crowd:
  initial_inside: 220
  arrivals: {rate_per_min: 0}
  dwell_s: 1h
threat:
  probability: 0
configurations:
  base: {}
run:
  seed: 3
  replications: 1
  duration_s: 30s
"""


def _voronoi(tmp_path: Path, overrides: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """PedPy's individual Voronoi densities (1 m cut-off) at 0 s and 30 s; classic density."""
    pedpy = T._import_pedpy()
    path = tmp_path / "audience.yaml"
    path.write_text(AUDIENCE)
    out = tmp_path / f"audience{len(overrides)}.parquet"
    T.simulate_with_trajectories(_task(str(path), overrides), out, every_s=30.0)
    traj = T.to_pedpy(out)
    walkable = pedpy.WalkableArea([(0, 0), (20, 0), (20, 20), (0, 20)])
    cells = pedpy.compute_individual_voronoi_polygons(
        traj_data=traj, walkable_area=walkable, cut_off=pedpy.Cutoff(radius=1.0, quad_segments=3)
    )
    floor = pedpy.MeasurementArea([(5, 5), (15, 5), (15, 15), (5, 15)])
    classic = pedpy.compute_classic_density(traj_data=traj, measurement_area=floor)
    at = [cells[cells.frame == f].density.to_numpy() for f in (0, 1)]
    return at[0], at[1], classic.density.to_numpy()


def test_pedpy_sees_a_standing_audience_keep_its_personal_space(tmp_path: Path) -> None:
    """Measured by PedPy's Voronoi method (as in the field's experiments), not by cells.

    People accept 2-3.6 /m² around them at rest (``crowd.standing_density_ppm2``; Fruin's
    involuntary contact begins at 3.57 /m²): in 30 s the clusters of the random placement
    thin out, while the floor holds the same number (the classic density). Measured: the
    95th percentile of the individual densities 4.2 -> 3.3 /m², the greatest 6.4 -> 4.6;
    without personal space 4.3 and 6.2 after 30 s.
    """
    start, end, classic = _voronoi(tmp_path, [])
    assert len(start) == len(end) == 220
    assert np.percentile(start, 95) > 3.9 and start.max() > 5.5  # as placed: clusters
    assert np.percentile(end, 95) < 3.6 and end.max() < 5.0  # ... thinned out
    assert 2.0 < classic[0] <= 2.2 and abs(classic[-1] - classic[0]) <= 0.02  # all stay
    _, packed, _ = _voronoi(tmp_path, ["crowd.standing_density_ppm2=100"])  # no personal space
    assert np.percentile(packed, 95) > 3.9 and packed.max() > 5.5
