"""The venue plan drawn with matplotlib.

Area, walls, zones coloured by kind with their names, and a configuration's staff posts,
patrol routes and cameras with what they cover (range and field of view cut by walls; what
they do not cover is their blind spot).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.patches as mpatches
from matplotlib.figure import Figure

from softtarget.sim.schema import Scenario

#: One colour per zone kind (colour-blind-safe Okabe–Ito hues).
KIND_COLOURS: dict[str, str] = {
    "perimeter": "#999999",
    "entrance": "#56B4E9",
    "checkpoint": "#0072B2",
    "attractor": "#E69F00",
    "exit": "#009E73",
    "shelter": "#CC79A7",
    "vehicle_approach": "#D55E00",
}
ROLE_MARKERS: dict[str, tuple[str, str]] = {
    "police": ("^", "#0b3d91"),
    "armed_response": ("^", "#000000"),
    "security_guard": ("s", "#6a3d9a"),
    "steward": ("o", "#b15928"),
    "cctv_operator": ("D", "#33a02c"),
    "transit_staff": ("P", "#1f78b4"),
    "enforcement_officer": ("X", "#e31a1c"),
}


def draw_plan(scenario: Scenario, configuration: str | None = None) -> Figure:
    """The plan of ``scenario``'s venue; with ``configuration``, its staff posts and beats."""
    venue = scenario.venue
    aspect = venue.height_m / venue.width_m
    fig = Figure(figsize=(11, max(4.0, min(11 * aspect + 1.2, 14))), layout="constrained")
    ax = fig.add_subplot()
    ax.add_patch(mpatches.Rectangle((0, 0), venue.width_m, venue.height_m, fill=False,
                                    edgecolor="black", linewidth=1.5))  # fmt: skip
    order = sorted(venue.zones.items(), key=lambda kv: kv[1].kind != "perimeter")
    for name, zone in order:
        colour = KIND_COLOURS[zone.kind]
        perimeter = zone.kind == "perimeter"
        ax.add_patch(mpatches.Polygon(
            zone.corners(), closed=True, facecolor="none" if perimeter else colour,
            alpha=1.0 if perimeter else 0.35, edgecolor=colour,
            linestyle="--" if perimeter else "-", linewidth=2.0 if perimeter else 1.0,
        ))  # fmt: skip
        x, y = zone.centroid()
        if perimeter:
            x0, _, _, y1 = zone.bounds()
            x, y = x0 + 1, y1 - 1
        label = name if zone.kind != "checkpoint" else f"{name} ({zone.lanes} lanes)"
        ha = "center"
        if perimeter or x < 0.1 * venue.width_m:
            ha = "left"
        elif x > 0.9 * venue.width_m:
            ha = "right"
        ax.text(x, y, label, ha=ha,
                va="top" if perimeter else "center", fontsize=7,
                color="black", clip_on=True)  # fmt: skip
    for wall in venue.walls:
        ax.add_patch(mpatches.Polygon(wall.corners(), closed=True, facecolor="#333333",
                                      edgecolor="#333333"))  # fmt: skip
    handles = [mpatches.Patch(facecolor=c, alpha=0.5, edgecolor=c, label=k.replace("_", " "))
               for k, c in KIND_COLOURS.items()]  # fmt: skip
    handles.append(mpatches.Patch(facecolor="#333333", label="wall / obstacle"))
    title = f"{scenario.name}: venue plan"
    if configuration is not None:
        _draw_cameras(ax, scenario, configuration, handles)
        _draw_staff(ax, scenario, configuration, handles)
        title += f", configuration {configuration}"
    ax.set_xlim(-2, venue.width_m + 2)
    ax.set_ylim(-2, venue.height_m + 2)
    ax.set_aspect("equal")
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")
    ax.set_title(title)
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7,
              frameon=False)  # fmt: skip
    return fig


def _draw_staff(ax: object, scenario: Scenario, configuration: str, handles: list) -> None:
    from matplotlib.lines import Line2D

    cfg = scenario.configurations[configuration]
    zones = scenario.venue.zones
    seen: set[str] = set()
    for group, spec in cfg.staff.items():
        if spec.count == 0:
            continue
        marker, colour = ROLE_MARKERS[spec.role]
        if spec.patrol:
            pts = [zones[z].centroid() for z in spec.patrol]
            xs, ys = zip(*([*pts, pts[0]]), strict=True)
            ax.plot(xs, ys, linestyle=":", color=colour, linewidth=1.2)  # type: ignore[attr-defined]
            x, y = pts[0]
        elif spec.post in zones:
            x, y = zones[spec.post].centroid()
        else:  # control room or off-site: drawn at the first entry point
            entry = next((z for z in zones.values() if z.kind in ("checkpoint", "entrance")), None)
            x, y = entry.centroid() if entry else (0.0, 0.0)
        ax.plot([x], [y], marker=marker, color=colour, markersize=9,  # type: ignore[attr-defined]
                markeredgecolor="white", linestyle="none")  # fmt: skip
        ax.annotate(f"{group} ×{spec.count}", (x, y), xytext=(6, -10),  # type: ignore[attr-defined]
                    textcoords="offset points", fontsize=6.5, color=colour)  # fmt: skip
        if spec.role not in seen:
            seen.add(spec.role)
            handles.append(Line2D([], [], marker=marker, color=colour, linestyle="none",
                                  label=spec.role.replace("_", " ")))  # fmt: skip


CAMERA_COLOUR = "#33a02c"


def _draw_cameras(ax: object, scenario: Scenario, configuration: str, handles: list) -> None:
    """Each camera as a marker with its name, and the cells it covers shaded."""
    import numpy as np
    from matplotlib.colors import ListedColormap
    from matplotlib.lines import Line2D

    from softtarget.sim.sight import coverage_for, sight_for

    cameras = scenario.configurations[configuration].cameras
    if not cameras:
        return
    venue = scenario.venue
    sight = sight_for(venue)
    union = np.zeros(sight.shape, dtype=bool)
    for cam in cameras.values():
        union |= coverage_for(venue, cam)
    ax.imshow(  # type: ignore[attr-defined]
        np.where(union, 1.0, np.nan), origin="lower", extent=sight.extent,
        cmap=ListedColormap([CAMERA_COLOUR]), alpha=0.18, interpolation="nearest", zorder=0.5,
    )  # fmt: skip
    for name, cam in cameras.items():
        x, y = cam.at
        ax.plot([x], [y], marker="h", color=CAMERA_COLOUR, markersize=7,  # type: ignore[attr-defined]
                markeredgecolor="black", markeredgewidth=0.5, linestyle="none")  # fmt: skip
        ax.annotate(f"cam {name}", (x, y), xytext=(4, 4),  # type: ignore[attr-defined]
                    textcoords="offset points", fontsize=5.5, color="#1b5e20")  # fmt: skip
    handles.append(Line2D([], [], marker="h", color=CAMERA_COLOUR, markeredgecolor="black",
                          linestyle="none", label="camera"))  # fmt: skip
    handles.append(mpatches.Patch(facecolor=CAMERA_COLOUR, alpha=0.25, label="camera coverage"))


def save_plan(scenario: Scenario, out: Path, configuration: str | None = None) -> Path:
    """Draw the plan and write it to ``out`` (format from the suffix: png, svg, pdf)."""
    fig = draw_plan(scenario, configuration)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=150)
    return out
