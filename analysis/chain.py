"""Where time was lost in the reporting chain: paths, hops and rooms, per configuration.

Read from a results folder's ``runs.parquet`` (``first_to_know``, ``alert_path``,
``t_police_alerted_s``) and ``messages.parquet`` (every message, with the one it passed on):

* :func:`alert_paths` — by which path the police first heard, how often, and how fast;
* :func:`hop_times` — per hop (link): messages sent, share lost, median delay and waiting;
* :func:`room_times` — per control room: median time from a message arriving to the room
  passing it on (its handling, and any wait for an operator);
* :func:`first_to_know` — which organisation's room first heard of an attacker;
* :func:`plot_organisations` — the organisation graph of each configuration, with the median
  delay measured on each link.

Nothing here is drawn: every number counts or takes the median of the runs' own records.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from softtarget.sim import columns as C
from softtarget.sim.organisations import Graph

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from softtarget.sim.schema import Configuration, Hop

__all__ = [
    "alert_paths",
    "configurations_of",
    "first_to_know",
    "hop_times",
    "plot_organisations",
    "room_times",
]


def alert_paths(runs: pd.DataFrame) -> pd.DataFrame:
    """Per configuration and path: runs whose police first heard that way, share, median time.

    ``share`` is of the configuration's runs in which the police were alerted; the time is
    ``t_police_alerted_s`` (seconds from the attack's start; negative: before it).
    """
    alerted = runs[runs[C.ALERT_PATH].notna()]
    rows = []
    for config, group in alerted.groupby(C.CONFIGURATION, observed=True, sort=True):
        n = len(group)
        for path, runs_of_path in group.groupby(C.ALERT_PATH, sort=False):
            rows.append(
                {
                    C.CONFIGURATION: config,
                    C.ALERT_PATH: path,
                    "runs": len(runs_of_path),
                    "share": len(runs_of_path) / n,
                    "median_t_police_alerted_s": float(
                        np.nanmedian(runs_of_path[C.T_POLICE_ALERTED_S].to_numpy(float))
                    ),
                }
            )
    out = pd.DataFrame(rows, columns=[C.CONFIGURATION, C.ALERT_PATH, "runs", "share",
                                      "median_t_police_alerted_s"])  # fmt: skip
    return out.sort_values([C.CONFIGURATION, "runs"], ascending=[True, False], kind="stable")


def first_to_know(runs: pd.DataFrame) -> pd.DataFrame:
    """Per configuration and organisation: share of runs in which its room heard first."""
    known = runs[runs[C.FIRST_TO_KNOW].notna()]
    counts = pd.crosstab(known[C.CONFIGURATION], known[C.FIRST_TO_KNOW], normalize="index")
    return counts.rename_axis(index=C.CONFIGURATION, columns=C.FIRST_TO_KNOW)


def hop_times(messages: pd.DataFrame) -> pd.DataFrame:
    """Per configuration and hop: messages sent, share lost, median delay and median wait (s).

    False alarms count like any message (they load the same links); "in_room" notices (an
    operator's, in the room they sit in) take no time and are left out.
    """
    msgs = messages[messages[C.HOP] != "in_room"]
    delay = msgs[C.T_ARRIVED_S] - msgs[C.T_SENT_S] - msgs[C.WAITED_S]
    msgs = msgs.assign(delay_s=delay)
    grouped = msgs.groupby([C.CONFIGURATION, C.HOP], observed=True, sort=True)
    out = grouped.agg(
        messages=(C.HOP, "size"),
        lost_share=(C.LOST, "mean"),
        median_delay_s=("delay_s", "median"),
        median_wait_s=(C.WAITED_S, "median"),
    )
    return out.reset_index()


def room_times(messages: pd.DataFrame) -> pd.DataFrame:
    """Per configuration and room: median seconds from a message arriving to passing it on.

    A message passed on by a room has as parent the message that reached the room; the gap
    between that arrival and the new message's sending is the room's time (handling, and
    waiting for a free operator). Rooms that act at once show 0.
    """
    keyed = messages.set_index([C.RUN_ID, C.MESSAGE_ID])
    children = messages[messages[C.PARENT] >= 0]
    parent_keys = pd.MultiIndex.from_arrays([children[C.RUN_ID], children[C.PARENT]])
    parents = keyed.loc[parent_keys]
    into_room = parents[C.RECEIVER].str.startswith("room:").to_numpy()
    gaps = pd.DataFrame(
        {
            C.CONFIGURATION: children[C.CONFIGURATION].to_numpy()[into_room],
            "room": parents[C.RECEIVER].str.removeprefix("room:").to_numpy()[into_room],
            "time_s": (children[C.T_SENT_S].to_numpy() - parents[C.T_ARRIVED_S].to_numpy())[
                into_room
            ],
        }
    )
    grouped = gaps.groupby([C.CONFIGURATION, "room"], observed=True, sort=True)
    return grouped.agg(
        passed_on=("time_s", "size"), median_time_s=("time_s", "median")
    ).reset_index()


#: How a link is drawn (parallel links bend further apart).
ARROW = {"arrowstyle": "->", "color": "0.45", "shrinkA": 12, "shrinkB": 22}
#: Colours of an organisation's side in the organisation graph.
SIDE_COLOURS = {"public": "#1f5fa8", "private": "#c2661b", "semi_public": "#6a8f2d"}


def _median_delays(messages: pd.DataFrame | None, configuration: str) -> dict[str, float]:
    """Median measured delay per hop of ``configuration`` (empty without messages)."""
    if messages is None or messages.empty:
        return {}
    hops = hop_times(messages)
    mine = hops[hops[C.CONFIGURATION].astype(str) == configuration]
    return {str(h): float(d) for h, d in zip(mine[C.HOP], mine["median_delay_s"], strict=True)}


def _positions(graph: Graph) -> dict[str, np.ndarray]:
    """Organisations on a circle, each staff group on a small arc outside its organisation."""
    parties = list(graph.parties)
    pos: dict[str, np.ndarray] = {}
    for i, name in enumerate(parties):
        a = 2 * np.pi * i / max(len(parties), 1) + np.pi / 2
        pos[name] = np.array([np.cos(a), np.sin(a)]) * (1.0 if len(parties) > 1 else 0.0)
        groups = graph.parties[name].staff
        for j, g in enumerate(groups):
            b = a + (j - (len(groups) - 1) / 2) * 0.45
            pos[g] = pos[name] + 0.75 * np.array([np.cos(b), np.sin(b)])
    return pos


def plot_organisations(
    configurations: dict[str, Configuration], messages: pd.DataFrame | None = None
) -> Figure:
    """The organisation graph of each configuration, links labelled with their median delay.

    Large circles are organisations (coloured by side, their powers below the name), small
    ones their staff groups; arrows are links and members' reports to their room. A label is
    the median delay measured over the run's messages (``messages.parquet``), else the
    median of the delay the scenario gives the link (marked "spec").
    """
    from softtarget.analysis.plots import _new_figure

    names = list(configurations)
    fig, axes = _new_figure(1, max(len(names), 1), 5.2 * max(len(names), 1), 5.4)
    for ax, name in zip(axes[0], names, strict=False):
        graph = Graph(configurations[name])
        pos = _positions(graph)
        measured = _median_delays(messages, name)
        edges = [(g, p, f"{p}:radio", graph.parties[p].radio) for g, p in graph.group_party.items()]
        edges += [(w.source, w.to, w.name, w.hop) for w in graph.ways.values()]
        seen: dict[tuple[str, str], int] = {}
        for a, b, hop, spec in edges:
            if a not in pos or b not in pos:
                continue
            k = seen[a, b] = seen.get((a, b), -1) + 1  # the k-th link between the same two
            rad = 0.12 + 0.3 * k
            style = {**ARROW, "connectionstyle": f"arc3,rad={rad}"}
            ax.annotate("", pos[b], pos[a], arrowprops=style)
            d = measured.get(hop)
            text = (
                f"{d:.0f} s"
                if d is not None and not np.isnan(d)
                else (f"{_spec_median(spec):.0f} s spec")
            )
            label = text if a in graph.group_party else f"{hop}\n{text}"
            chord = pos[b] - pos[a]
            normal = np.array([chord[1], -chord[0]])  # where arc3 bends the arrow, halfway
            mid = (pos[a] + pos[b]) / 2 + rad / 2 * normal
            ax.text(*mid, label, fontsize="x-small", ha="center", va="center", color="0.2",
                    bbox={"fc": "white", "ec": "none", "alpha": 0.8, "pad": 0.5})  # fmt: skip
        for p in graph.parties.values():
            ax.scatter(*pos[p.name], s=2000, color=SIDE_COLOURS.get(p.side, "0.5"), zorder=3)
            powers = ", ".join(sorted(p.powers)) or "no powers"
            ax.text(*pos[p.name], p.name, ha="center", va="center", color="white",
                    fontsize="x-small", weight="bold", zorder=4)  # fmt: skip
            ax.text(pos[p.name][0], pos[p.name][1] - 0.22, powers, ha="center", va="top",
                    fontsize="xx-small", color="0.25", zorder=4)  # fmt: skip
            for g in p.staff:
                ax.scatter(*pos[g], s=160, color="0.8", zorder=3)
                ax.text(pos[g][0], pos[g][1] + 0.09, g, ha="center", fontsize="xx-small")
        ax.set_title(name)
        ax.set_aspect("equal")
        ax.margins(0.2)
        ax.axis("off")
    return fig


def _spec_median(hop: Hop) -> float:
    d = hop.delay_s
    median = getattr(d, "median", None)
    return float(median) if median is not None else float(d.mean)


def configurations_of(manifest: dict) -> dict[str, Configuration]:
    """The configurations of a results folder's resolved scenario (its manifest), by name.

    Empty when the manifest holds no full scenario (a folder written by other code).
    """
    from pydantic import ValidationError

    from softtarget.sim.schema import Configuration

    scenario = manifest.get("scenario") or {}
    configs = scenario.get("configurations") if isinstance(scenario, dict) else None
    if not isinstance(configs, dict):
        return {}
    try:
        return {str(n): Configuration.model_validate(c) for n, c in configs.items()}
    except ValidationError:
        return {}
