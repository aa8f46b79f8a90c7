"""From a scenario's venue to the pedestrian lattice: walls, fence, doors and floor fields.

Rules (documented in the scenario format):

* The modelled area is the venue rectangle; its edge is a wall.
* An **exit** zone that touches the edge of the area is a door of ``width_m`` in that edge,
  centred on the zone: people leave by walking through it onto an apron beyond the edge and
  leave the model 2.4 m past the door line (removing people right at a door would free the
  way for the next and inflate the flow; JuPedSim and Vadere place their sinks beyond the
  door for the same reason). An exit zone inside the area is the sink: where it lies behind a
  gate in the fence, only its part 2.4 m or more past the gate. Otherwise place it beyond a
  door formed by walls.
* Doors and gates keep their drawn width: the cells their edges cut are partly open
  (:meth:`softtarget.sim.motion.Grid.with_openings`), so a 1.0 m door passes the flow of a
  1.0 m door, not of the 0.8 m or 1.2 m of whole cells.
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
from softtarget.sim.motion.grid import cover_fraction
from softtarget.sim.schema import Venue, Zone

CELL_M = 0.4  # lattice cell: one person per cell, 6.25 persons/m² at most
# Space beyond the area's edge: the edge wall (one cell), then the apron behind each edge door
# where leavers walk on; a whole number of cells, so that cell edges fall on the area's edge.
SINK_DEPTH_M = 3.6
SINK_BAND_M = 0.8  # leavers leave the model in the outermost band: 2.4 m past the door
APRON_M = 2.0  # the apron reaches this far either side of an edge door
GATE_SINK_M = 2.4  # an exit zone behind a gate in the fence is the sink this far past it
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
    # (exit, x0, y0, x1, y1): the space beyond each edge door, where leavers walk out
    doors: tuple[tuple[str, float, float, float, float], ...]


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


Gate = tuple[str, tuple[float, float, float, float], bool]  # (zone, rectangle, along x?)


def _fence(venue: Venue) -> tuple[list[tuple[float, float, float, float]], list[Gate]]:
    """Fence rectangles along the perimeter's edges, and the gates in them (axis-aligned)."""
    if venue.perimeter is None or not venue.fence:
        return [], []
    px0, py0, px1, py1 = venue.zones[venue.perimeter].bounds()
    edges = [  # (fixed coordinate, along from, along to, horizontal?)
        (py0, px0, px1, True),
        (py1, px0, px1, True),
        (px0, py0, py1, False),
        (px1, py0, py1, False),
    ]
    rects: list[tuple[float, float, float, float]] = []
    gates: list[Gate] = []
    half = FENCE_M / 2
    for fixed, lo, hi, horizontal in edges:
        if fixed in ((0.0, venue.height_m) if horizontal else (0.0, venue.width_m)):
            continue  # the area's edge is already a wall
        gaps = []
        for name, zone in venue.zones.items():
            if zone.kind not in ("checkpoint", "exit", "entrance"):
                continue
            zx0, zy0, zx1, zy1 = zone.bounds()
            across = (zy0, zy1) if horizontal else (zx0, zx1)
            if not across[0] - 0.5 <= fixed <= across[1] + 0.5:
                continue
            along = (zx0, zx1) if horizontal else (zy0, zy1)
            g0, g1 = along if zone.kind == "checkpoint" else _centred(*along, zone.width_m)
            g0, g1 = max(g0, lo), min(g1, hi)
            if g1 > g0:
                gaps.append((g0, g1))
                gates.append((name, (g0, fixed - half, g1, fixed + half) if horizontal
                              else (fixed - half, g0, fixed + half, g1), horizontal))  # fmt: skip
        start = lo
        for g0, g1 in [*sorted(gaps), (hi, hi)]:
            if g0 > start:
                rects.append((start, fixed - half, g0, fixed + half) if horizontal
                             else (fixed - half, start, fixed + half, g0))  # fmt: skip
            start = max(start, g1)
    return rects, gates


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
    venue: Venue,
    cell: float,
    fence: tuple[list[tuple[float, float, float, float]], list[Gate]],
) -> tuple[Grid, list[Door]]:
    """The lattice with the area's edge (and its doors), ``fence`` and the walls; the doors.

    Doors and gates are cut at their drawn width (partly open cells at their edges); beyond
    each edge door an apron of :data:`APRON_M` either side, the rest beyond the edge closed.
    """
    w, h, m = venue.width_m, venue.height_m, SINK_DEPTH_M
    area = (-m, -m, w + m, h + m)
    t = cell  # the area's edge wall: one cell thick, outside the area
    doors, openings = _doors(venue)
    walls: list[tuple[float, float, float, float]] = []
    cuts: list[tuple[tuple[float, float, float, float], bool]] = []
    # the edge of the area, with its doors; and the space beyond closed except behind doors
    for side, (fixed, length) in {"west": (-t, h), "east": (w, h), "south": (-t, w),
                                  "north": (h, w)}.items():  # fmt: skip
        start = -t
        vertical = side in ("west", "east")
        for lo, hi in [*sorted(openings[side]), (length + t, length + t)]:
            if lo > start:
                walls.append((fixed, start, fixed + t, lo) if vertical
                             else (start, fixed, lo, fixed + t))  # fmt: skip
            if hi > lo and hi <= length:
                cuts.append(((fixed, lo, fixed + t, hi) if vertical
                             else (lo, fixed, hi, fixed + t), not vertical))  # fmt: skip
            start = max(start, hi)
    rects, gates = fence
    walls.extend(rects)
    grid = build_grid(area, walls=walls, cell=cell)
    grid = grid.with_openings([*cuts, *((rect, along) for _, rect, along in gates)])
    # the user's walls last: a door or gate never opens through them
    own = [tuple(wall.rect) for wall in venue.walls if wall.rect is not None]
    polygons = [wall.corners() for wall in venue.walls if wall.rect is None]
    if own or polygons:
        mine = build_grid(area, walls=own, polygons=polygons, cell=cell)  # type: ignore[arg-type]
        grid = grid.with_blocked(~mine.walkable)
    cx, cy = grid.centres()
    outside = (cx < 0) | (cx > w) | (cy < 0) | (cy > h)
    behind_door = np.zeros(grid.shape, dtype=bool)
    for _, x0, y0, x1, y1 in doors:
        behind_door |= _apron(x0, y0, x1, y1, cx, cy)
    return grid.with_blocked(outside & ~behind_door), doors


def _apron(
    x0: float, y0: float, x1: float, y1: float, cx: np.ndarray, cy: np.ndarray
) -> np.ndarray:
    """Cells of the space beyond an edge door ``(x0, y0, x1, y1)``, :data:`APRON_M` wider."""
    a = APRON_M  # growing it into the area changes nothing: only cells outside are closed
    return (cx >= x0 - a) & (cx <= x1 + a) & (cy >= y0 - a) & (cy <= y1 + a)


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
    return _grid(venue, cell, _fence(venue) if fence else ([], []))[0]


def _build(venue: Venue) -> Layout:
    w, h = venue.width_m, venue.height_m
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
            gate = [g for g in fence[1] if g[0] == name]
            if door:  # the sink: the outermost band of the apron beyond the edge door
                _, x0, y0, x1, y1 = door[0]
                mask = _apron(x0, y0, x1, y1, cx, cy) & grid.walkable
                d = SINK_DEPTH_M - SINK_BAND_M
                mask &= (cx < -d) | (cx > w + d) | (cy < -d) | (cy > h + d)
            elif gate and mask.any():  # behind a gate in the fence: its part past GATE_SINK_M
                mask = _past_gate(grid, mask, gate[0][1])
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
                  tuple(fence[0]), tuple(_beyond(d) for d in doors))  # fmt: skip


def _beyond(door: Door) -> Door:
    """The apron of an edge door as a rectangle: the strip beyond it, APRON_M wider."""
    name, x0, y0, x1, y1 = door
    a = APRON_M
    return (name, x0 - a, y0 - a, x1 + a, y1 + a)


def _past_gate(grid: Grid, zone: np.ndarray, gate: tuple[float, float, float, float]) -> np.ndarray:
    """The cells of exit ``zone`` :data:`GATE_SINK_M` or more past ``gate`` (walking).

    In a zone too shallow for that, its farthest cells from the gate (at least 60 % of the
    zone's depth), so that the gate, not the sink, limits the flow.
    """
    cx, cy = grid.centres()
    x0, y0, x1, y1 = gate
    near = (cx >= x0 - CELL_M) & (cx <= x1 + CELL_M) & (cy >= y0 - CELL_M) & (cy <= y1 + CELL_M)
    opening = near & grid.walkable & ~zone
    if not opening.any():
        return zone
    dist = distance_field(Grid(grid.x0, grid.y0, grid.cell, zone | opening), opening)
    depth = float(dist[zone & np.isfinite(dist)].max(initial=0.0))
    past = zone & np.isfinite(dist) & (dist >= min(GATE_SINK_M, 0.6 * depth))
    return past if past.any() else zone


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


@dataclass(frozen=True)
class OpeningWidth:
    """An exit's door, or a gate in the fence, as drawn and as the lattice represents it."""

    zone: str
    drawn_m: float
    represented_m: float

    @property
    def differs(self) -> bool:
        """The represented width differs from the drawn one by more than 10 %."""
        return abs(self.represented_m - self.drawn_m) > 0.1 * self.drawn_m


def opening_widths(venue: Venue) -> list[OpeningWidth]:
    """Each edge door and fence gate with the width the user drew and the one the model uses.

    The drawn width is the zone's ``width_m`` (a checkpoint's: its extent along the fence);
    the represented one counts the open fraction of the cells across the opening, so it is
    smaller where the zone is shorter than ``width_m`` along its wall, or where a wall, the
    fence or the area's corner closes part of it.
    """
    fence = _fence(venue)
    grid = _grid(venue, CELL_M, fence)[0]
    doors, _ = _doors(venue)
    t = CELL_M
    w, h = venue.width_m, venue.height_m
    pieces: list[tuple[str, tuple[float, float, float, float], bool]] = []
    for name, x0, y0, x1, y1 in doors:
        along_x = y0 < 0 or y1 > h  # a door in the south or north edge
        if along_x:
            fixed = -t if y0 < 0 else h
            pieces.append((name, (x0, fixed, x1, fixed + t), True))
        else:
            fixed = -t if x0 < 0 else w
            pieces.append((name, (fixed, y0, fixed + t, y1), False))
    pieces.extend(fence[1])
    pas = grid.open_fraction()
    out = []
    for name, rect, along_x in pieces:
        zone = venue.zones[name]
        x0, y0, x1, y1 = zone.bounds()
        extent = (x1 - x0) if along_x else (y1 - y0)
        drawn = extent if zone.kind == "checkpoint" else zone.width_m
        cover = cover_fraction(grid, rect, along_x)
        rows = cover.any(axis=1 if along_x else 0).sum()
        rep = float((np.minimum(pas, cover)).sum()) * CELL_M / max(int(rows), 1)
        out.append(OpeningWidth(name, float(drawn), rep))
    return out
