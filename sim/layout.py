"""From a scenario's venue to the pedestrian lattice: walls, fence, doors and floor fields.

Rules (documented in the scenario format):

* The modelled area is the venue rectangle; its edge is a wall.
* An **exit** zone that touches the edge of the area is a door of ``width_m`` in that edge,
  centred on the zone: people leave by walking through it into a strip beyond the edge,
  which is the sink. (Removing people right at a door would free the way for the next and
  inflate the flow, so the sink sits beyond it.) An exit zone inside the area is itself the
  sink: place it beyond a door formed by walls or the fence.
* The **perimeter** zone is fenced unless ``venue.fence`` is false: a fence runs along its
  edges (where they are not the area's edge) with openings where a checkpoint meets it (the
  checkpoint's full extent: its lanes) and where an exit or entrance meets it (``width_m``
  centred on the zone).
* Attractors, shelters and checkpoints are destinations people walk to and stand in.

Floor fields are computed once per venue and process (an LRU cache keyed by the venue's
canonical JSON), so a worker running many replications pays for them once.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass

import numpy as np

from softtarget.sim.motion import FloorFields, Grid, build_fields, build_grid, distance_field
from softtarget.sim.schema import Venue, Zone

CELL_M = 0.4  # lattice cell: one person per cell, 6.25 persons/m² at most
SINK_DEPTH_M = 3.0  # depth of the strip beyond an edge door where leavers are removed
FENCE_M = 0.2  # thickness of a fence
STAY = "stay"  # destination of people standing still (settled at an attractor)


@dataclass(frozen=True)
class Layout:
    """The lattice of a venue and its destinations."""

    grid: Grid
    fields: FloorFields
    dest: dict[str, int]  # zone name -> destination index
    exit_dest: tuple[int, ...]  # destination of each exit zone, in zone order
    exit_names: tuple[str, ...]
    zone_masks: dict[str, np.ndarray]  # walkable cells of each zone
    fence: tuple[tuple[float, float, float, float], ...]
    doors: tuple[tuple[str, float, float, float, float], ...]  # (exit, x0, y0, x1, y1)


def _touches_edge(zone: Zone, venue: Venue, tol: float = 0.5) -> str | None:
    """The edge of the area the zone runs along (its longest contact), if any."""
    x0, y0, x1, y1 = zone.bounds()
    contacts = {
        "west": (x0 <= tol, y1 - y0),
        "east": (x1 >= venue.width_m - tol, y1 - y0),
        "south": (y0 <= tol, x1 - x0),
        "north": (y1 >= venue.height_m - tol, x1 - x0),
    }
    touching = [(length, side) for side, (hit, length) in contacts.items() if hit]
    return max(touching)[1] if touching else None


def _centred(lo: float, hi: float, width: float) -> tuple[float, float]:
    mid = (lo + hi) / 2
    half = min(width, hi - lo) / 2
    return mid - half, mid + half


def _fence(venue: Venue) -> list[tuple[float, float, float, float]]:
    """Fence rectangles along the perimeter's edges, with openings (axis-aligned perimeters)."""
    if venue.perimeter is None or not venue.fence:
        return []
    px0, py0, px1, py1 = venue.zones[venue.perimeter].bounds()
    edges = [  # (fixed coordinate, along from, along to, horizontal?)
        (py0, px0, px1, True),
        (py1, px0, px1, True),
        (px0, py0, py1, False),
        (px1, py0, py1, False),
    ]
    rects: list[tuple[float, float, float, float]] = []
    for fixed, lo, hi, horizontal in edges:
        if fixed in ((0.0, venue.height_m) if horizontal else (0.0, venue.width_m)):
            continue  # the area's edge is already a wall
        gaps = []
        for zone in venue.zones.values():
            if zone.kind not in ("checkpoint", "exit", "entrance"):
                continue
            zx0, zy0, zx1, zy1 = zone.bounds()
            across = (zy0, zy1) if horizontal else (zx0, zx1)
            if not across[0] - 0.5 <= fixed <= across[1] + 0.5:
                continue
            along = (zx0, zx1) if horizontal else (zy0, zy1)
            gaps.append(along if zone.kind == "checkpoint" else _centred(*along, zone.width_m))
        start = lo
        for g0, g1 in [*sorted(gaps), (hi, hi)]:
            if g0 > start:
                half = FENCE_M / 2
                rects.append((start, fixed - half, g0, fixed + half) if horizontal
                             else (fixed - half, start, fixed + half, g0))  # fmt: skip
            start = max(start, g1)
    return rects


@functools.lru_cache(maxsize=8)
def _layout_cached(venue_json: str) -> Layout:
    return _build(Venue.model_validate(json.loads(venue_json)))


def layout_for(venue: Venue) -> Layout:
    """The layout of ``venue`` (cached per process)."""
    return _layout_cached(json.dumps(venue.model_dump(mode="json"), sort_keys=True))


Door = tuple[str, float, float, float, float]  # (exit, x0, y0, x1, y1)


def _doors(venue: Venue) -> tuple[list[Door], dict[str, list[tuple[float, float]]]]:
    """Doors of the exits on the area's edge, and the openings they make in each side."""
    w, h, m = venue.width_m, venue.height_m, SINK_DEPTH_M
    doors: list[Door] = []
    openings: dict[str, list[tuple[float, float]]] = {"west": [], "east": [], "south": [],
                                                      "north": []}  # fmt: skip
    for name, zone in venue.zones.items():
        side = _touches_edge(zone, venue) if zone.kind == "exit" else None
        if side is None:
            continue
        x0, y0, x1, y1 = zone.bounds()
        lo, hi = _centred(*((y0, y1) if side in ("west", "east") else (x0, x1)), zone.width_m)
        openings[side].append((lo, hi))
        if side == "west":
            doors.append((name, -m, lo, 0.0, hi))
        elif side == "east":
            doors.append((name, w, lo, w + m, hi))
        elif side == "south":
            doors.append((name, lo, -m, hi, 0.0))
        else:
            doors.append((name, lo, h, hi, h + m))
    return doors, openings


def _grid(
    venue: Venue, cell: float, fence: list[tuple[float, float, float, float]]
) -> tuple[Grid, list[Door]]:
    """The lattice with the area's edge (and its doors), ``fence`` and the walls; the doors."""
    w, h, m = venue.width_m, venue.height_m, SINK_DEPTH_M
    area = (-m, -m, w + m, h + m)
    t = cell  # the area's edge wall: one cell thick, outside the area
    doors, openings = _doors(venue)
    walls: list[tuple[float, float, float, float]] = []
    # the edge of the area, with its doors; and the space beyond closed except behind doors
    for side, (fixed, length) in {"west": (-t, h), "east": (w, h), "south": (-t, w),
                                  "north": (h, w)}.items():  # fmt: skip
        start = -t
        for lo, hi in [*sorted(openings[side]), (length + t, length + t)]:
            if lo > start:
                if side in ("west", "east"):
                    walls.append((fixed, start, fixed + t, lo))
                else:
                    walls.append((start, fixed, lo, fixed + t))
            start = max(start, hi)
    walls.extend(fence)
    for wall in venue.walls:
        if wall.rect is not None:
            walls.append(tuple(wall.rect))  # type: ignore[arg-type]
    polygons = [wall.corners() for wall in venue.walls if wall.rect is None]
    grid = build_grid(area, walls=walls, polygons=polygons, cell=cell)
    cx, cy = grid.centres()
    outside = (cx < 0) | (cx > w) | (cy < 0) | (cy > h)
    behind_door = np.zeros(grid.shape, dtype=bool)
    for _, x0, y0, x1, y1 in doors:
        behind_door |= (cx >= x0) & (cx <= x1) & (cy >= y0) & (cy <= y1)
    return grid.with_blocked(outside & ~behind_door), doors


def lattice_cells(venue: Venue, cell: float = CELL_M) -> int:
    """Cells of the lattice of ``venue`` at ``cell`` metres (the area and the sink strips)."""
    span = 2 * SINK_DEPTH_M
    return math.ceil((venue.width_m + span) / cell) * math.ceil((venue.height_m + span) / cell)


def lattice_grid(venue: Venue, cell: float = CELL_M, fence: bool = True) -> Grid:
    """The walkable lattice of ``venue`` alone: no destinations, no floor fields (cheap).

    The same cells as :func:`layout_for`'s grid when ``cell`` is :data:`CELL_M`: the area's
    edge with the exits' doors, the space beyond closed except behind doors, the fence of the
    perimeter (unless ``fence`` is false or ``venue.fence`` is) and the walls. A coarser
    ``cell`` applies the same rules on bigger cells (for checks of huge venues).
    """
    return _grid(venue, cell, _fence(venue) if fence else [])[0]


def _build(venue: Venue) -> Layout:
    w, h = venue.width_m, venue.height_m
    t = CELL_M  # the area's edge wall: one cell thick, outside the area
    fence = _fence(venue)
    grid, doors = _grid(venue, CELL_M, fence)
    cx, cy = grid.centres()

    names: list[str] = []
    targets: list[np.ndarray] = []
    sinks: list[bool] = []
    zone_masks: dict[str, np.ndarray] = {}
    dest: dict[str, int] = {}
    exit_dest: list[int] = []
    exit_names: list[str] = []
    for name, zone in venue.zones.items():
        mask = (grid.rect_mask(zone.rect) if zone.rect is not None  # type: ignore[arg-type]
                else grid.polygon_mask(zone.corners())) & grid.walkable  # fmt: skip
        zone_masks[name] = mask
        if zone.kind == "exit":
            door = [d for d in doors if d[0] == name]
            if door:  # the sink: the strip beyond the edge wall, a cell or more outside
                _, x0, y0, x1, y1 = door[0]
                mask = (cx >= x0) & (cx <= x1) & (cy >= y0) & (cy <= y1) & grid.walkable
                mask &= (cx < -t) | (cx > w + t) | (cy < -t) | (cy > h + t)
            dest[name] = len(names)
            exit_dest.append(len(names))
            exit_names.append(name)
            names.append(name)
            targets.append(mask)
            sinks.append(True)
        elif zone.kind in ("attractor", "shelter", "checkpoint"):
            dest[name] = len(names)
            names.append(name)
            targets.append(_focus(zone, mask, cx, cy) if zone.kind == "attractor" else mask)
            sinks.append(False)
    fields = build_fields(grid, targets, sink=sinks, names=names)
    # an attractor's field leads into the zone first, then orders the zone by distance to
    # its focus: every resting distance lies inside the zone
    stack = fields.fields.copy()
    for name, zone in venue.zones.items():
        if zone.kind != "attractor":
            continue
        d, inside = dest[name], zone_masks[name]
        to_focus = stack[d]
        deepest = float(to_focus[inside & np.isfinite(to_focus)].max(initial=0.0))
        to_zone = distance_field(grid, inside)
        stack[d] = np.where(inside, to_focus, deepest + CELL_M + to_zone).astype(np.float32)
    fields = FloorFields(grid, stack, fields.sink, fields.labels, fields.names, fields.n_labels)
    # one more destination, "stay": flat, so people on it stand where they are
    stay = np.where(grid.walkable, 0.0, np.inf).astype(np.float32)[None]
    fields = FloorFields(
        grid, np.concatenate([fields.fields, stay]), np.append(fields.sink, False),
        fields.labels, (*fields.names, STAY), fields.n_labels,
    )  # fmt: skip
    dest[STAY] = len(names)
    return Layout(grid, fields, dest, tuple(exit_dest), tuple(exit_names), zone_masks,
                  tuple(fence), tuple(doors))  # fmt: skip


def _focus(zone: Zone, mask: np.ndarray, cx: np.ndarray, cy: np.ndarray) -> np.ndarray:
    """What people at an attractor walk towards.

    The row of cells along its ``focus`` side (a stage front), or the cells within a metre of
    its centre. Kept small so that the distance to it orders the zone's spots: each visitor stops at
    their own distance, and the zone fills evenly.
    """
    x0, y0, x1, y1 = zone.bounds()
    if zone.focus in ("north", "south", "east", "west"):
        edge = {
            "north": cy >= y1 - CELL_M,
            "south": cy <= y0 + CELL_M,
            "east": cx >= x1 - CELL_M,
            "west": cx <= x0 + CELL_M,
        }[zone.focus]
        focus = mask & edge
    else:
        mx, my = zone.centroid()
        focus = mask & (np.hypot(cx - mx, cy - my) <= 1.0)
    if not focus.any():  # a tiny or odd-shaped zone: its walkable cell nearest the centre
        mx, my = zone.centroid()
        d = np.where(mask, np.hypot(cx - mx, cy - my), np.inf)
        focus = np.zeros_like(mask)
        focus[np.unravel_index(int(np.argmin(d)), d.shape)] = True
    return focus
