"""One self-contained HTML report of a results folder: summary, comparison, figures, provenance.

Figures are embedded as base64 PNG (``<img src="data:image/png;base64,...">``), so the file can
be mailed or archived alone. Every piece of text from the results is escaped.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import html
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from softtarget.analysis import chain, plots
from softtarget.analysis.compare import compare, format_comparison
from softtarget.analysis.results import (
    load,
    load_failures,
    load_manifest,
    load_messages,
    load_timeseries,
)
from softtarget.sim import columns as C
from softtarget.sim import store as S

__all__ = ["REPORT_FILE", "write_report"]

REPORT_FILE = "report.html"

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto;
       max-width: 1200px; padding: 0 1rem; color: #222; line-height: 1.45; }
h1 { margin-bottom: 0.2rem; } h2 { border-bottom: 1px solid #ddd; padding-bottom: 0.2rem; }
table { border-collapse: collapse; font-size: 0.85rem; margin: 0.5rem 0; }
th, td { border: 1px solid #ddd; padding: 0.25rem 0.5rem; text-align: left; vertical-align: top; }
th { background: #f4f4f4; } td { font-variant-numeric: tabular-nums; }
pre { background: #f7f7f7; padding: 0.75rem; overflow-x: auto; font-size: 0.8rem; }
figure { margin: 1rem 0; } img { max-width: 100%; height: auto; }
figcaption { color: #555; font-size: 0.9rem; } .muted { color: #666; }
ul.notes { font-size: 0.85rem; color: #444; }
"""

_CAPTIONS = {
    "distributions": "Outcomes per run by configuration: boxes show quartiles, points runs.",
    "ecdf": "Empirical cumulative distributions of the main outcomes.",
    "cost_effectiveness": "Mean staff cost against mean killed + injured per run, with "
    "95% bootstrap intervals.",
    "response_timeline": "Median time from the attack's start to detection, police alert and "
    "neutralisation (runs where the stage happened), with 95% bootstrap intervals.",
    "timeseries": "Median over runs and 5–95% band of the crowd state against simulated time.",
    "organisations": "The organisations of each configuration (blue public, orange private), "
    "their staff groups and links, each labelled with its median delay over the runs.",
}


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    fig.clear()
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _figure(fig: Any, caption: str) -> str:
    """A figure embedded as a PNG, with its caption."""
    return (
        f'<figure><img alt="{_e(caption)}" src="data:image/png;base64,{_png(fig)}">'
        f"<figcaption>{_e(caption)}</figcaption></figure>"
    )


def _dl(items: list[tuple[str, object]]) -> str:
    rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in items)
    return f"<table>{rows}</table>"


def _frame_html(frame: pd.DataFrame) -> str:
    head = "".join(f"<th>{_e(c)}</th>" for c in frame.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{_e(v)}</td>" for v in row) + "</tr>"
        for row in frame.itertuples(index=False)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _scenario_text(scenario: object) -> str:
    try:
        return yaml.safe_dump(scenario, sort_keys=False, allow_unicode=True, width=100)
    except yaml.YAMLError:
        return json.dumps(scenario, indent=2, ensure_ascii=False, default=str)


def write_report(results_dir: str | Path, out_path: str | Path | None = None) -> Path:
    """Write the HTML report of a results folder and return its path.

    ``out_path`` defaults to ``<results_dir>/report.html``. Sections: scenario summary,
    the comparison table (:func:`softtarget.analysis.compare.compare` against ``public_only`` or the
    first configuration), the standard figures of :mod:`softtarget.analysis.plots`, failed runs if
    any, the resolved scenario (parameters) and provenance (package version, scenario hash,
    seeds, dates).
    """
    folder = Path(results_dir)
    manifest = load_manifest(folder)
    runs = load(folder)
    failures = load_failures(folder, missing_ok=True)
    timeseries = load_timeseries(folder, missing_ok=True)
    out = Path(out_path) if out_path is not None else folder / REPORT_FILE

    scenario = manifest.get("scenario") or {}
    if not isinstance(scenario, dict):
        scenario = {}
    name = scenario.get("name") or folder.name
    description = scenario.get("description") or ""
    run_cfg = scenario.get("run") if isinstance(scenario.get("run"), dict) else {}
    configurations = [str(c) for c in runs[C.CONFIGURATION].cat.categories]
    per_conf = runs[C.CONFIGURATION].value_counts().reindex(configurations, fill_value=0)
    failed_conf = (
        failures[C.CONFIGURATION].astype(str).value_counts().reindex(configurations, fill_value=0)
    )

    # the batch's own task set, not the scenario's run.replications: --reps overrides that
    planned_reps = (manifest.get("task_set") or {}).get(
        "replications", run_cfg.get("replications", "unknown")
    )

    parts: list[str] = []
    parts.append(f"<h1>{_e(name)}</h1>")
    if description:
        parts.append(f"<p>{_e(description)}</p>")
    incomplete = S.ResultsStore(folder).incomplete_message()
    if incomplete:
        parts.append(f'<p class="warning"><strong>Incomplete:</strong> {_e(incomplete)}</p>')
    summary = pd.DataFrame(
        {
            "configuration": configurations,
            "successful runs": [int(per_conf[c]) for c in configurations],
            "failed runs": [int(failed_conf[c]) for c in configurations],
        }
    )
    parts.append("<h2>Summary</h2>")
    parts.append(
        _dl(
            [
                ("results folder", folder.resolve()),
                ("status", manifest.get("status", "unknown")),
                ("replications planned", planned_reps),
                ("replications run", int(runs[C.REPLICATE].nunique()) if len(runs) else 0),
                ("successful runs", len(runs)),
                ("failed runs", len(failures)),
            ]
        )
    )
    parts.append(_frame_html(summary))

    parts.append("<h2>Comparison</h2>")
    if len(runs) and runs[C.CONFIGURATION].nunique() >= 1:
        table = compare(runs, failures=failures)
        parts.append(format_comparison(table, "html"))
    else:
        parts.append('<p class="muted">No successful runs: nothing to compare.</p>')

    parts.extend(_time_lost(folder, manifest, runs))

    parts.append("<h2>Figures</h2>")
    if len(runs):
        figures = plots.make_figures(runs, timeseries)
        for stem, fig in figures.items():
            parts.append(_figure(fig, _CAPTIONS.get(stem, stem)))
    else:
        parts.append('<p class="muted">No successful runs: no figures.</p>')

    parts.append("<h2>Failed runs</h2>")
    if len(failures):
        shown = failures[[C.RUN_ID, C.CONFIGURATION, C.REPLICATE, C.SEED, C.STAGE, C.ERROR]]
        parts.append(_frame_html(shown.astype(str)))
        for rec in failures.itertuples(index=False):
            rid = getattr(rec, C.RUN_ID)
            tb = getattr(rec, C.TRACEBACK)
            parts.append(f"<details><summary>{_e(rid)}</summary><pre>{_e(tb)}</pre></details>")
    else:
        parts.append("<p>None.</p>")

    parts.append("<h2>Parameters (resolved scenario)</h2>")
    parts.append(f"<pre>{_e(_scenario_text(scenario))}</pre>")

    from softtarget import __version__ as analysis_version

    seeds = (
        runs[[C.REPLICATE, C.SEED]]
        .drop_duplicates()
        .sort_values(C.REPLICATE)
        .astype(str)
        .rename(columns={C.REPLICATE: "replicate", C.SEED: "seed"})
    )
    parts.append("<h2>Provenance</h2>")
    parts.append(
        _dl(
            [
                ("scenario hash", manifest.get("scenario_hash", "unknown")),
                ("package version (runs)", manifest.get("package_version", "unknown")),
                ("package version (report)", analysis_version),
                ("scenario seed", run_cfg.get("seed", "unknown")),
                ("results created", manifest.get("created", "unknown")),
                ("report written", dt.datetime.now(dt.UTC).isoformat(timespec="seconds")),
            ]
        )
    )
    parts.append(
        "<details><summary>Seed of each replicate (shared by all configurations: common "
        f"random numbers)</summary>{_frame_html(seeds)}</details>"
    )

    document = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{_e(name)} — softtarget report</title>\n<style>{_CSS}</style>\n</head>\n"
        "<body>\n" + "\n".join(parts) + "\n</body>\n</html>\n"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    _write_new(out, document)
    return out


def _time_lost(folder: Path, manifest: dict, runs: pd.DataFrame) -> list[str]:
    """The section "Where time was lost": paths to the police, hops, rooms, the graph."""
    parts = ["<h2>Where time was lost</h2>"]
    messages = load_messages(folder, missing_ok=True)
    if not len(runs) or C.ALERT_PATH not in runs.columns:
        return [*parts, '<p class="muted">No runs with a reporting chain.</p>']
    parts.append(
        "<p>How the police first heard of the attacker (share of the runs in which they did, "
        "and the median alert time from the attack's start), which organisation's room heard "
        "first, and per hop and per room the median time a message took there "
        "(docs/organisations.md).</p>"
    )
    tables = [
        ("Path of the message that alerted the police", chain.alert_paths(runs)),
        ("First organisation to know (share of runs)", chain.first_to_know(runs).reset_index()),
    ]
    if len(messages):
        tables += [
            ("Hops: messages, share lost, median delay and wait (s)", chain.hop_times(messages)),
            ("Rooms: median time from arrival to passing on (s)", chain.room_times(messages)),
        ]
    for title, table in tables:
        parts.append(f"<h3>{_e(title)}</h3>")
        parts.append(_frame_html(table.round(3)) if len(table) else "<p>None.</p>")
    configurations = chain.configurations_of(manifest)
    if configurations:
        fig = chain.plot_organisations(configurations, messages)
        parts.append(_figure(fig, _CAPTIONS["organisations"]))
    return parts


def _write_new(out: Path, text: str) -> None:
    """Write ``out`` through a uniquely named temporary file beside it, then rename.

    ``tempfile.mkstemp`` creates the temporary file with ``O_EXCL``, so a link planted where
    a fixed temporary name would be is never followed; the rename replaces a link at ``out``
    itself, never its target.
    """
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, out)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
