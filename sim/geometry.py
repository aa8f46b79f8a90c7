"""Checks of a venue's geometry: zones that walls fill or cut off from the entrances.

The area is rasterised on a fine grid (cells of :data:`CHECK_CELL_M`), walls are removed from
it, and the walkable cells are split into connected regions (``scipy.ndimage.label``, 8-way).
Every zone must have walkable cells, and every attractor, exit and shelter must share a region
with an entry (a checkpoint or an entrance; for a venue without entries, with an exit).
"""

from __future__ import annotations

import numpy as np
from matplotlib.path import Path as MplPath
from scipy import ndimage

from sim.schema import Venue

CHECK_CELL_M = 0.5


def check_cell(venue: Venue) -> float:
    """Cell size for the check: 0.5 m, coarser for very large areas (at most ~4 M cells)."""
    return max(CHECK_CELL_M, float(np.sqrt(venue.width_m * venue.height_m / 4e6)))


def walkable_mask(venue: Venue, cell: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Walkable cells (ny, nx) and the cell centres (ny, nx, 2)."""
    cell = check_cell(venue) if cell is None else cell
    nx = max(1, int(np.ceil(venue.width_m / cell)))
    ny = max(1, int(np.ceil(venue.height_m / cell)))
    xs = (np.arange(nx) + 0.5) * cell
    ys = (np.arange(ny) + 0.5) * cell
    centres = np.stack(np.meshgrid(xs, ys), axis=-1)
    flat = centres.reshape(-1, 2)
    walkable = np.ones(len(flat), dtype=bool)
    for wall in venue.walls:
        x0, y0, x1, y1 = wall.bounds()
        near = (flat[:, 0] >= x0 - cell) & (flat[:, 0] <= x1 + cell)
        near &= (flat[:, 1] >= y0 - cell) & (flat[:, 1] <= y1 + cell)
        if not near.any():
            continue
        inside = MplPath(wall.corners()).contains_points(flat[near], radius=cell * 0.5)
        idx = np.flatnonzero(near)[inside]
        walkable[idx] = False
        # thin walls that fall between cell centres still block: mark the cells they cross
        if wall.rect is not None:
            ix0, ix1 = int(x0 // cell), int(np.ceil(x1 / cell))
            iy0, iy1 = int(y0 // cell), int(np.ceil(y1 / cell))
            block = walkable.reshape(ny, nx)
            block[max(iy0, 0) : max(iy1, iy0 + 1), max(ix0, 0) : max(ix1, ix0 + 1)] = False
    return walkable.reshape(ny, nx), centres


def geometry_problems(venue: Venue) -> list[tuple[str, str]]:
    """(zone name, message) for every zone walls fill or cut off; empty when all is well."""
    cell = check_cell(venue)
    walkable, centres = walkable_mask(venue, cell)
    labels, _ = ndimage.label(walkable, structure=np.ones((3, 3), dtype=int))
    flat_centres = centres.reshape(-1, 2)
    flat_labels = labels.ravel()
    regions: dict[str, set[int]] = {}
    problems: list[tuple[str, str]] = []
    for name, zone in venue.zones.items():
        x0, y0, x1, y1 = zone.bounds()
        near = (flat_centres[:, 0] >= x0) & (flat_centres[:, 0] <= x1)
        near &= (flat_centres[:, 1] >= y0) & (flat_centres[:, 1] <= y1)
        idx = np.flatnonzero(near)
        if zone.polygon is not None and len(idx):
            idx = idx[MplPath(zone.corners()).contains_points(flat_centres[idx])]
        if len(idx) == 0:  # a zone smaller than a cell: take the cell under its centre
            cx, cy = zone.centroid()
            ix = min(int(cx / cell), walkable.shape[1] - 1)
            iy = min(int(cy / cell), walkable.shape[0] - 1)
            idx = np.array([iy * walkable.shape[1] + ix])
        found = {int(v) for v in flat_labels[idx] if v > 0}
        if not found and zone.kind != "perimeter":
            problems.append((name, f"zone '{name}' lies entirely inside walls"))
        regions[name] = found
    entries = [n for n, z in venue.zones.items() if z.kind in ("checkpoint", "entrance")]
    if not entries:
        entries = [n for n, z in venue.zones.items() if z.kind == "exit"]
    reachable = set().union(*(regions[n] for n in entries)) if entries else set()
    what = (
        "an entrance or checkpoint"
        if any(venue.zones[n].kind != "exit" for n in entries)
        else "an exit"
    )
    for name, zone in venue.zones.items():
        cut_off = regions[name] and not regions[name] & reachable
        if zone.kind in ("attractor", "exit", "shelter") and cut_off:
            problems.append((name, f"zone '{name}' cannot be reached from {what}: walls "
                                 "close it off"))  # fmt: skip
    return problems
