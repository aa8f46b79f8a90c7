"""The results folder: atomic parts, pinned schemas, consolidation, readers, write errors."""

from __future__ import annotations

import errno
import math
import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from softtarget.sim import columns as C
from softtarget.sim import store as S
from softtarget.sim.batch import failure_table, plan_tasks, run_tables
from softtarget.sim.errors import ResultsError
from tests.runfns import fake_run, make_scenario

HASH = "0123456789abcdef"


@pytest.fixture(scope="module")
def tasks():
    return plan_tasks(make_scenario(replications=3), HASH)


def write_run(store: S.ResultsStore, task, wall: float = 0.5) -> None:
    store.write_parts(task.run_id, run_tables(task, fake_run(task), wall))


def store_with_runs(tmp_path, tasks) -> S.ResultsStore:
    store = S.ResultsStore(tmp_path / "out")
    store.create()
    for task in tasks:
        write_run(store, task)
    return store


def test_tables_follow_the_pinned_schemas(tasks):
    tables = run_tables(tasks[0], fake_run(tasks[0]), 0.25)
    assert tables[S.RUNS].schema.equals(C.RUNS_SCHEMA, check_metadata=True)
    assert tables[S.TIMESERIES].schema.equals(C.TIMESERIES_SCHEMA, check_metadata=True)
    assert tables[S.EVENTS].schema.equals(C.EVENTS_SCHEMA, check_metadata=True)
    row = tables[S.RUNS].to_pylist()[0]
    assert row[C.RUN_ID] == tasks[0].run_id
    assert row[C.WALL_TIME_S] == 0.25
    assert math.isnan(row[C.T_NEUTRALISED_S])  # NaN stays NaN, it is not turned into null
    assert tables[S.RUNS].column(C.T_NEUTRALISED_S).null_count == 0


def test_a_misspelled_or_null_column_is_refused(tasks):
    out = fake_run(tasks[0])
    out.row["kiled"] = out.row.pop(C.KILLED)
    with pytest.raises(
        ValueError, match=r"missing columns \['killed'\].*unknown columns \['kiled'\]"
    ):
        run_tables(tasks[0], out, 0.1)
    out = fake_run(tasks[0])
    out.row[C.VISITORS] = None
    with pytest.raises(ValueError, match="'visitors' must not be null"):
        run_tables(tasks[0], out, 0.1)
    out = fake_run(tasks[0])
    out.row[C.SEED] = 1
    with pytest.raises(ValueError, match="seed=1"):
        run_tables(tasks[0], out, 0.1)
    out = fake_run(tasks[0])
    out.timeseries[C.N_INSIDE] = "many"
    with pytest.raises(ValueError, match="'inside'"):
        run_tables(tasks[0], out, 0.1)


def test_parts_consolidate_sorted_with_every_table_present(tmp_path, tasks):
    store = S.ResultsStore(tmp_path / "out")
    store.create()
    for task in reversed(tasks[:4]):
        write_run(store, task)
    store.write_parts(tasks[4].run_id, {S.FAILURES: failure_table(tasks[4], "x", "boom", "tb")})
    assert store.completed_run_ids() == {t.run_id for t in tasks[:4]}
    assert store.failed_run_ids() == {tasks[4].run_id}
    assert not any(store.staging_dir.iterdir())
    # before consolidation the readers read the parts
    runs = S.read_runs(store.path)
    assert list(runs[C.RUN_ID]) == sorted(t.run_id for t in tasks[:4])
    info = store.consolidate()
    assert info["rows"] == {
        "runs": 4,
        "timeseries": 24,
        "events": 8,
        "exits": 0,
        "messages": 0,
        "failures": 1,
    }
    for table in S.TABLES:
        read = pq.read_table(store.table_path(table))
        assert read.schema.equals(S.SCHEMAS[table], check_metadata=True)
    ts = S.read_timeseries(store.path)
    assert ts[C.RUN_ID].is_monotonic_increasing
    assert list(ts.groupby(C.RUN_ID).size()) == [6, 6, 6, 6]


def test_empty_folder_consolidates_to_empty_tables(tmp_path):
    store = S.ResultsStore(tmp_path / "out")
    store.create()
    store.consolidate()
    for table in S.TABLES:
        df = S.read_table(store.path, table)
        assert len(df) == 0
        assert list(df.columns) == S.SCHEMAS[table].names


def test_duplicate_parts_are_dropped(tmp_path, tasks):
    store = S.ResultsStore(tmp_path / "out")
    store.create()
    for task in tasks[:3]:
        write_run(store, task, wall=1.0)
    store.consolidate()
    before = S.read_runs(store.path)
    # at-least-once execution: a second copy of a run under another name, measured differently
    rid = tasks[1].run_id
    other = run_tables(tasks[1], fake_run(tasks[1]), 99.0)
    for kind in (S.RUNS, S.TIMESERIES, S.EVENTS):
        pq.write_table(other[kind], store.parts_dir(kind) / f"{rid}.again.parquet")
    # and a file holding a run twice
    two = pa.concat_tables([other[S.RUNS], other[S.RUNS]])
    pq.write_table(two, store.parts_dir(S.RUNS) / f"{rid}.twice.parquet")
    store.consolidate()
    after = S.read_runs(store.path)
    assert after[C.RUN_ID].is_unique
    assert len(after) == 3
    assert (after[C.WALL_TIME_S] == 1.0).all()  # the canonical part is the one kept
    assert after.equals(before)
    ts = S.read_timeseries(store.path)
    assert (ts.groupby(C.RUN_ID).size() == 6).all()


def test_incomplete_runs_and_superseded_failures_are_left_out(tmp_path, tasks):
    store = S.ResultsStore(tmp_path / "out")
    store.create()
    write_run(store, tasks[0])
    # a run that failed once and then succeeded: its failure record no longer counts
    store.write_parts(tasks[1].run_id, {S.FAILURES: failure_table(tasks[1], "x", "e", "tb")})
    write_run(store, tasks[1])
    # a run killed between its time series and its runs part: not complete
    partial = run_tables(tasks[2], fake_run(tasks[2]), 0.1)
    store.write_parts(tasks[2].run_id, {S.TIMESERIES: partial[S.TIMESERIES]})
    store.consolidate()
    assert set(S.read_runs(store.path)[C.RUN_ID]) == {tasks[0].run_id, tasks[1].run_id}
    assert set(S.read_timeseries(store.path)[C.RUN_ID]) == {tasks[0].run_id, tasks[1].run_id}
    assert len(S.read_failures(store.path)) == 0


def test_readers_prefer_current_consolidated_tables(tmp_path, tasks):
    store = S.ResultsStore(tmp_path / "out")
    store.create()
    write_run(store, tasks[0])
    info = store.consolidate()
    store.write_manifest({"status": S.BATCH_COMPLETE, "consolidated": info})
    assert store.is_consolidated()
    write_run(store, tasks[1])  # committed after the consolidation: tables are stale
    assert not store.is_consolidated()
    assert len(S.read_runs(store.path)) == 2
    # a folder without parts (trimmed or copied) is read from its tables
    shutil.rmtree(store.path / S.PARTS)
    assert len(S.read_runs(store.path)) == 1


def test_unwritable_folder_names_the_path(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    store = S.ResultsStore(blocker / "out")
    with pytest.raises(ResultsError, match=str(blocker / "out")):
        store.create()


def test_full_disk_names_the_file_and_keeps_earlier_parts(tmp_path, tasks, monkeypatch):
    store = S.ResultsStore(tmp_path / "out")
    store.create()
    write_run(store, tasks[0])

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(S.pq, "write_table", full)
    with pytest.raises(ResultsError, match=r"cannot write .*\.staging.*no space left"):
        write_run(store, tasks[1])
    with pytest.raises(ResultsError, match=r"runs\.parquet"):
        store.consolidate()
    monkeypatch.undo()
    assert not any(store.staging_dir.iterdir())
    assert store.completed_run_ids() == {tasks[0].run_id}
    assert list(S.read_runs(store.path)[C.RUN_ID]) == [tasks[0].run_id]


def test_manifest_roundtrip_and_errors(tmp_path):
    store = S.ResultsStore(tmp_path / "out")
    with pytest.raises(ResultsError, match="no manifest"):
        store.read_manifest()
    store.create()
    store.write_manifest({"status": "running", "runs": []})
    assert S.read_manifest(store.path) == {"status": "running", "runs": []}
    assert [p.name for p in store.path.iterdir() if p.name.endswith(".tmp")] == []
    store.manifest_path.write_text("{not json")
    with pytest.raises(ResultsError, match=r"manifest\.json: not valid JSON"):
        store.read_manifest()


def test_pinned_schemas_carry_the_one_schema_version():
    for schema in S.SCHEMAS.values():
        assert schema.metadata[S.VERSION_KEY] == str(C.SCHEMA_VERSION).encode()


def test_a_folder_without_parts_reads_the_tables_it_has(tmp_path, tasks):
    store = store_with_runs(tmp_path, tasks[:1])
    store.consolidate()
    shutil.rmtree(store.path / S.PARTS)
    store.table_path(S.TIMESERIES).unlink()
    assert list(S.read_runs(store.path)[C.RUN_ID]) == [tasks[0].run_id]
    with pytest.raises(ResultsError, match=r"out: missing timeseries\.parquet"):
        store.read_table(S.TIMESERIES)
    assert store.read_table(S.TIMESERIES, missing_ok=True).num_rows == 0
    with pytest.raises(ResultsError, match="does not exist"):
        S.read_runs(tmp_path / "nowhere")


def test_a_part_of_another_schema_version_is_refused(tmp_path, tasks):
    store = store_with_runs(tmp_path, tasks[:1])
    path = store.part_path(S.RUNS, tasks[0].run_id)
    table = pq.read_table(path)
    meta = {**table.schema.metadata, S.VERSION_KEY: b"99"}
    pq.write_table(table.replace_schema_metadata(meta), path)
    with pytest.raises(ResultsError, match=r"schema version 99, this softtarget reads version"):
        S.read_runs(store.path)
