import json
import warnings
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from softtarget.analysis import load, load_timeseries, write_report
from softtarget.analysis.plots import (
    configuration_palette,
    make_figures,
    plot_distributions,
    plot_response_timeline,
    plot_results,
)
from softtarget.sim import columns as C


@pytest.fixture(autouse=True)
def _no_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def test_plot_results_writes_every_figure(results_dir, tmp_path):
    out = tmp_path / "figs"
    paths = plot_results(results_dir, out, formats=("png", "svg"))
    stems = {p.stem for p in paths}
    assert stems == {"distributions", "ecdf", "cost_effectiveness", "response_timeline",
                     "attack_ends", "timeseries"}  # fmt: skip
    assert {p.suffix for p in paths} == {".png", ".svg"}
    for p in paths:
        assert p.parent == out and p.stat().st_size > 1000
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_results_without_timeseries(make_results):
    folder = make_results(with_timeseries=False)
    paths = plot_results(folder)
    assert {p.stem for p in paths} == {
        "distributions", "ecdf", "cost_effectiveness", "response_timeline", "attack_ends",
    }  # fmt: skip
    assert all(p.parent == folder / "figures" for p in paths)


def test_one_colour_per_configuration_across_figures(results_dir):
    runs = load(results_dir)
    palette = configuration_palette(list(runs[C.CONFIGURATION].cat.categories))
    assert len(set(palette.values())) == 3
    figures = make_figures(runs, load_timeseries(results_dir), palette=palette)
    legend_colours = []
    for name in ("ecdf", "timeseries", "response_timeline"):
        legend = figures[name].legends[0]
        labels = [t.get_text() for t in legend.get_texts()]
        colours = [tuple(h.get_color()[:3]) for h in legend.legend_handles]
        legend_colours.append(dict(zip(labels, colours, strict=True)))
    for mapping in legend_colours:
        assert mapping == {k: tuple(v) for k, v in palette.items()}


def test_figures_survive_all_nan_and_empty_configurations():
    df = pd.DataFrame(
        {
            C.CONFIGURATION: pd.Categorical(["a", "a", "b"], ["a", "b", "c"], ordered=True),
            C.REPLICATE: [0, 1, 0],
            C.KILLED: [1, 2, 3],
            C.INJURED: [0, 0, 0],
            C.STAFF_COST_EUR: [1.0, 1.0, 2.0],
            C.T_DETECT_S: [np.nan] * 3,
            C.T_POLICE_ALERTED_S: [np.nan] * 3,
            C.T_NEUTRALISED_S: [np.nan] * 3,
            C.EVAC_TIME_S: [np.nan] * 3,
        }
    )
    fig = plot_distributions(df)
    assert len(fig.axes) >= 1
    fig = plot_response_timeline(df)
    assert "no run reached" in fig.axes[0].texts[0].get_text()


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[str] = []
        self.imgs: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "img":
            self.imgs.append(dict(attrs)["src"])

    def handle_data(self, data):
        self.text.append(data)


def test_report_is_self_contained_html(results_dir, tmp_path):
    out = write_report(results_dir, tmp_path / "r" / "report.html")
    text = out.read_text(encoding="utf-8")
    parser = _Collector()
    parser.feed(text)
    parser.close()
    assert "table" in parser.tags and "pre" in parser.tags
    assert len(parser.imgs) == 6
    assert all(src.startswith("data:image/png;base64,") for src in parser.imgs)
    body = "".join(parser.text)
    # escaped on the way in, intact after parsing
    assert "synthetic <test>" in body and "<test>" not in text.replace("&lt;test&gt;", "")
    assert "ValueError: <boom> & co" in body  # the failed run, escaped
    assert "abcdef0123456789" in body  # scenario hash
    assert "paired permutation test of the mean" in body and "Holm-adjusted" in body
    assert "stewards: 10" in body  # the resolved scenario as YAML
    assert "significant" not in body.lower()


def test_report_states_the_replications_the_batch_ran(make_results, tmp_path):
    """A batch run with --reps 12 on a scenario of 100 replications says 12, not 100."""
    folder = make_results("reps", replications=12)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    manifest["scenario"]["run"]["replications"] = 100
    manifest["task_set"] = {"runs": 24, "replications": 12}
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    parser = _Collector()
    parser.feed(write_report(folder, tmp_path / "reps.html").read_text(encoding="utf-8"))
    body = "".join(parser.text)
    assert "replications planned12" in body and "replications run12" in body
    assert "replications planned100" not in body


def test_report_default_path(make_results):
    folder = make_results(replications=6)  # where it goes, not what it says: a small folder
    out = write_report(folder)
    assert out == folder / "report.html" and out.exists()


def test_attack_ends_figure_shows_each_configurations_shares():
    from softtarget.analysis.plots import plot_attack_ends

    ends = ["neutralised", "suicide", "suicide", None, "prevented", "prevented", "spent", None]
    df = pd.DataFrame(
        {
            C.CONFIGURATION: pd.Categorical(["a"] * 4 + ["b"] * 4, ["a", "b"], ordered=True),
            C.REPLICATE: [0, 1, 2, 3] * 2,
            C.ATTACK_END: pd.array(ends, dtype="string"),
            C.ATTACK_DURATION_S: [60.0, 120.0, 30.0, np.nan, np.nan, np.nan, 200.0, np.nan],
        }
    )
    fig = plot_attack_ends(df)
    bars = fig.axes[0].patches
    widths: dict[str, list[float]] = {}
    for container in fig.axes[0].containers:
        widths[container.get_label()] = [round(b.get_width(), 3) for b in container]
    # shares of the runs with an attack (a: 3 runs, b: 3 runs), per configuration a, b
    assert widths["suicide"] == [0.667, 0.0] and widths["prevented"] == [0.0, 0.667]
    assert widths["neutralised"] == [0.333, 0.0] and widths["spent"] == [0.0, 0.333]
    assert len(bars) == 8
    fig.clear()
