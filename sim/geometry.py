"""Checks of a venue's geometry: zones that walls fill or cut off from the entrances.

The check runs on the model's own lattice (:func:`softtarget.sim.layout.lattice_grid`: 0.4 m
cells with the area's edge and its doors, the perimeter's fence and the walls, by the
lattice's rasterisation rules), so a zone is refused exactly when the crowd could not stand
in it or walk to it. Its walkable cells are split into connected regions
(``scipy.ndimage.label``, 8-way, as people step). Every zone must have walkable cells, and
every attractor, exit and shelter must share a region with an entry (a checkpoint or an
entrance; for a venue without entries, with an exit).

A venue whose lattice would exceed :data:`MAX_CHECK_CELLS` (about 0.6 km² at 0.4 m) is
checked on the same rules with coarser cells (:func:`check_cell`), so validation stays quick
and small in memory: an opening narrower than such a cell may then be reported closed.

:mod:`softtarget.sim.sight` sees on the same lattice, without the fence.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from softtarget.sim.layout import CELL_M, lattice_cells, lattice_grid
from softtarget.sim.schema import Venue

CHECK_CELL_M = 0.5
#: Most cells the geometry check rasterises (about 4 M: ~16 MB of labels).
MAX_CHECK_CELLS = 4_000_000


def check_cell(venue: Venue) -> float:
    """Cell size for the coarse raster: 0.5 m, coarser for very large areas (~4 M cells)."""
    return max(CHECK_CELL_M, float(np.sqrt(venue.width_m * venue.height_m / MAX_CHECK_CELLS)))


def lattice_check_cell(venue: Venue) -> float:
    """Cell of the geometry check: the model's 0.4 m, or :func:`check_cell` for huge venues."""
    return CELL_M if lattice_cells(venue, CELL_M) <= MAX_CHECK_CELLS else check_cell(venue)


def geometry_problems(venue: Venue) -> list[tuple[str, str]]:
    """(zone name, message) for every zone walls fill or cut off; empty when all is well."""
    grid = lattice_grid(venue, lattice_check_cell(venue))
    labels, _ = ndimage.label(grid.walkable, structure=np.ones((3, 3), dtype=int))
    regions: dict[str, set[int]] = {}
    problems: list[tuple[str, str]] = []
    fenced = venue.perimeter is not None and venue.fence
    for name, zone in venue.zones.items():
        if zone.rect is not None:
            inside = grid.rect_mask(tuple(zone.rect))  # type: ignore[arg-type]
        else:
            inside = grid.polygon_mask(zone.corners())
        if not inside.any():  # a zone smaller than a cell: take the cell under its centre
            ix, iy = grid.cell_of(*zone.centroid())
            inside = np.zeros(grid.shape, dtype=bool)
            inside[int(iy), int(ix)] = True
        found = {int(v) for v in np.unique(labels[inside]) if v > 0}
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
    closing = "walls or the fence close it off" if fenced else "walls close it off"
    for name, zone in venue.zones.items():
        cut_off = regions[name] and not regions[name] & reachable
        if zone.kind in ("attractor", "exit", "shelter") and cut_off:
            problems.append((name, f"zone '{name}' cannot be reached from {what}: {closing}"))
    return problems
