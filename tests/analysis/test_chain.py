"""Where time was lost: the chain's tables and graph on a real batch with known delays.

The batch is the three-organisation plan of ``tests/test_organisations.py`` (a venue room that
handles 2 messages at once for 5 s each, a liaison of 20 s, a shared CCTV system of 2 s that
carries images only, an operator's phone of 60 s, an informal contact of 10 s), 3 replicates:
every delay is fixed, so each median is known.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from softtarget.analysis import chain, load, load_messages, write_report
from softtarget.analysis.plots import plot_results
from softtarget.api import run_experiments
from softtarget.sim import columns as C
from tests.test_organisations import BASE, THREE, TINY


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("chain")
    path = where / "s.yaml"
    path.write_text(TINY)
    out = where / "out"
    run_experiments(
        str(path), replications=3, workers=1, out=out, overrides=[*BASE, *THREE], progress=False
    )
    return out


def test_hops_and_rooms_take_the_times_they_are_given(folder: Path) -> None:
    messages = load_messages(folder)
    hops = chain.hop_times(messages).set_index(C.HOP)
    for hop, delay in (("liaison", 20.0), ("knows", 10.0), ("cctv_share", 2.0)):
        assert hops.loc[hop, "median_delay_s"] == pytest.approx(delay, abs=0.5), hop
        assert hops.loc[hop, "lost_share"] == 0.0
    assert hops.loc["venue:radio", "median_delay_s"] == 0.0  # staff_radio_to_control: 0 s
    rooms = chain.room_times(messages).set_index("room")
    assert rooms.loc["venue", "median_time_s"] == pytest.approx(5.0, abs=0.5)  # handle_s
    assert "police" not in rooms.index  # the police pass nothing on


def test_paths_and_first_to_know_come_from_the_runs(folder: Path) -> None:
    runs = load(folder)
    paths = chain.alert_paths(runs)
    assert paths["runs"].sum() == runs[C.ALERT_PATH].notna().sum() > 0
    assert paths.groupby(C.CONFIGURATION, observed=True)["share"].sum().to_numpy() == (
        pytest.approx(1.0)
    )
    first = chain.first_to_know(runs)
    assert first.to_numpy().sum(axis=1) == pytest.approx(1.0)
    assert "venue" in first.columns  # the stewards' and the operator's room hears first


def test_the_report_says_where_time_was_lost_and_plot_draws_the_graph(
    folder: Path, tmp_path: Path
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        html = write_report(folder, tmp_path / "r.html").read_text()
        paths = plot_results(folder, tmp_path / "figs")
    assert "Where time was lost" in html and "cctv_share" in html
    graph = [p for p in paths if p.stem == "organisations"]
    assert graph and graph[0].stat().st_size > 10_000
