import json

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from softtarget.analysis import load
from softtarget.analysis.results import (
    configuration_order,
    load_events,
    load_failures,
    load_manifest,
    load_timeseries,
)
from softtarget.sim import columns as C
from softtarget.sim.errors import ResultsError


def test_load_gives_the_documented_dtypes(results_dir):
    df = load(results_dir)
    assert list(df.columns) == C.RUNS_SCHEMA.names
    conf = df[C.CONFIGURATION].dtype
    assert isinstance(conf, pd.CategoricalDtype) and conf.ordered
    assert list(conf.categories) == ["public_only", "public_private", "joint_room"]
    for col in (C.ATTACK_STARTED, C.ATTACK_PREVENTED, C.DETECTED_BEFORE_ATTACK):
        assert df[col].dtype == "bool"
    for col in (C.KILLED, C.INJURED, C.MAX_QUEUE_LEN, C.REPLICATE, C.SEED, C.ATTACKERS):
        assert df[col].dtype == "int64"
    for col in (C.T_DETECT_S, C.T_NEUTRALISED_S, C.EVAC_TIME_S, C.STAFF_COST_EUR):
        assert df[col].dtype == "float64"
    assert df[C.T_DETECT_S].isna().any()  # events that did not happen are NaN
    assert df[C.ATTACK_MODE].dtype == "string"
    assert df[C.ATTACK_MODE].isna().any()
    # sorted by configuration order, then replicate
    assert df[C.CONFIGURATION].is_monotonic_increasing


def test_configuration_order_follows_the_manifest_not_the_alphabet(make_results):
    folder = make_results(configurations=("zeta", "alpha", "public_only"))
    df = load(folder)
    assert list(df[C.CONFIGURATION].cat.categories) == ["zeta", "alpha", "public_only"]
    assert configuration_order(load_manifest(folder)) == ["zeta", "alpha", "public_only"]


def test_other_tables(results_dir):
    failures = load_failures(results_dir)
    assert len(failures) == 1 and failures[C.STAGE].dtype == "string"
    ts = load_timeseries(results_dir)
    assert ts[C.T_S].dtype == "float64" and ts[C.N_INSIDE].dtype == "int64"
    assert isinstance(ts[C.CONFIGURATION].dtype, pd.CategoricalDtype)
    events = load_events(results_dir)
    assert list(events.columns) == C.EVENTS_SCHEMA.names


@pytest.mark.parametrize("missing", ["runs.parquet", "manifest.json", "timeseries.parquet"])
def test_missing_file_names_folder_and_file(results_dir, missing):
    (results_dir / missing).unlink()
    loader = load_timeseries if missing == "timeseries.parquet" else load
    with pytest.raises(ResultsError) as info:
        loader(results_dir)
    assert str(results_dir) in str(info.value)
    assert missing in str(info.value)


def test_missing_ok_gives_empty_typed_tables(results_dir):
    (results_dir / "failures.parquet").unlink()
    with pytest.raises(ResultsError, match=r"failures\.parquet"):
        load_failures(results_dir)
    empty = load_failures(results_dir, missing_ok=True)
    assert empty.empty and list(empty.columns) == C.FAILURES_SCHEMA.names


def test_missing_folder(tmp_path):
    with pytest.raises(ResultsError, match="does not exist"):
        load(tmp_path / "nope")


def test_missing_column_and_wrong_version(results_dir):
    table = pq.read_table(results_dir / "runs.parquet")
    pq.write_table(table.drop_columns([C.KILLED]), results_dir / "runs.parquet")
    with pytest.raises(ResultsError, match=C.KILLED):
        load(results_dir)
    meta = {b"softtarget.table": b"runs", b"softtarget.schema_version": b"99"}
    pq.write_table(table.replace_schema_metadata(meta), results_dir / "runs.parquet")
    with pytest.raises(ResultsError, match="schema version 99"):
        load(results_dir)


def test_bad_manifest(results_dir):
    (results_dir / "manifest.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ResultsError, match="manifest"):
        load(results_dir)


def test_empty_runs_table(results_dir):
    pq.write_table(C.RUNS_SCHEMA.empty_table(), results_dir / "runs.parquet")
    df = load(results_dir)
    assert df.empty and df[C.KILLED].dtype == "int64"
    assert df[C.CONFIGURATION].cat.categories[0] == "public_only"


def test_manifest_is_returned_as_written(results_dir):
    manifest = load_manifest(results_dir)
    assert manifest == json.loads((results_dir / "manifest.json").read_text())
    assert isinstance(pa.schema([]), pa.Schema)


def test_an_interrupted_folder_loads_from_its_parts(tmp_path):
    from softtarget.sim import store as S
    from softtarget.sim.batch import plan_tasks, run_tables
    from tests.runfns import fake_run, make_scenario

    store = S.ResultsStore(tmp_path / "out")
    store.create()
    tasks = plan_tasks(make_scenario(replications=2), "0123456789abcdef")
    for task in tasks[:3]:
        store.write_parts(task.run_id, run_tables(task, fake_run(task), 0.5))
    store.write_manifest({"status": "running", "runs": []})  # killed before consolidating
    df = load(store.path)
    assert len(df) == 3 and df[C.KILLED].dtype == "int64"
    assert isinstance(df[C.CONFIGURATION].dtype, pd.CategoricalDtype)
    assert len(load_timeseries(store.path)) > 0
    assert load_failures(store.path).empty
