"""Walkable grid: a regular lattice of square cells over the venue.

Coordinates are metres; cell ``(iy, ix)`` covers
``[x0 + ix*cell, x0 + (ix+1)*cell) x [y0 + iy*cell, y0 + (iy+1)*cell)``.
Arrays are indexed ``[iy, ix]`` (row = y), shape ``(ny, nx)``.

Rasterisation rules (they decide how a door of nominal width maps to cells):

* An axis-aligned wall rectangle blocks a cell when it covers at least half of the cell along
  *both* axes, where "half" is taken of ``min(cell, wall thickness)`` so that walls thinner
  than a cell still block one row of cells.  Hence a gap between two walls stays open in the
  cells whose interval lies at least half inside the gap: an opening of width ``w`` becomes
  ``n = w / cell`` cells rounded to the nearest integer, ties (and alignment) decided by where
  the opening falls on the lattice.  With the default 0.4 m cells a 2.0 m door is exactly 5
  cells, a 1.0 m door is 2 cells (0.8 m) or 3 cells (1.2 m) depending on alignment;
  :func:`open_width` reports the represented width.
* Polygons (walls or regions) use the cell-centre rule (``matplotlib.path.Path``).
* A cell may be only partly open (:attr:`Grid.passable` below 1): a door whose edge falls
  inside a cell opens that cell for the fraction of it the door covers, and a person enters
  it in a step with that probability, so an opening passes people in proportion to its drawn
  width rather than to a whole number of cells.  :func:`open_width` counts partly open cells
  by their fraction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.path import Path

Rect = tuple[float, float, float, float]
"""An axis-aligned rectangle ``(xmin, ymin, xmax, ymax)`` in metres."""

Opening = tuple[Rect, bool]
"""An opening across a wall: the rectangle of the gap, and whether its width runs along x."""

MIN_OPEN = 0.05
"""Open fraction below which a cell an opening grazes stays closed (2 cm of a 0.4 m cell)."""

DEFAULT_CELL = 0.4
"""Default cell size in metres (one person per cell: 6.25 persons/m² at most)."""


@dataclass(frozen=True, eq=False)
class Grid:
    """A walkable lattice.

    Attributes:
        x0: x of the lattice's lower-left corner (m).
        y0: y of the lattice's lower-left corner (m).
        cell: cell edge length (m).
        walkable: bool array ``(ny, nx)``; ``False`` for walls and obstacles.
        passable: float32 ``(ny, nx)`` open fraction of each cell (1 for floor, between 0
            and 1 for a cell a door's edge cuts, 0 for walls); ``None``: every walkable cell
            is wholly open.

    """

    x0: float
    y0: float
    cell: float
    walkable: np.ndarray
    passable: np.ndarray | None = None

    def open_fraction(self) -> np.ndarray:
        """Open fraction of every cell as float32 ``(ny, nx)`` (0 on walls)."""
        if self.passable is None:
            return self.walkable.astype(np.float32)
        return np.where(self.walkable, self.passable, 0.0).astype(np.float32)

    @property
    def ny(self) -> int:
        """Number of rows (y direction)."""
        return int(self.walkable.shape[0])

    @property
    def nx(self) -> int:
        """Number of columns (x direction)."""
        return int(self.walkable.shape[1])

    @property
    def shape(self) -> tuple[int, int]:
        """``(ny, nx)``."""
        return (self.ny, self.nx)

    def cell_of(
        self, x: np.ndarray | float, y: np.ndarray | float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Map points to cell indices ``(ix, iy)`` (clipped into the lattice)."""
        ix = np.floor((np.asarray(x, dtype=np.float64) - self.x0) / self.cell).astype(np.int32)
        iy = np.floor((np.asarray(y, dtype=np.float64) - self.y0) / self.cell).astype(np.int32)
        return np.clip(ix, 0, self.nx - 1), np.clip(iy, 0, self.ny - 1)

    def centre(self, ix: np.ndarray | int, iy: np.ndarray | int) -> tuple[np.ndarray, np.ndarray]:
        """Map cell indices to the coordinates of the cell centres (m)."""
        x = self.x0 + (np.asarray(ix, dtype=np.float64) + 0.5) * self.cell
        y = self.y0 + (np.asarray(iy, dtype=np.float64) + 0.5) * self.cell
        return x, y

    def centres(self) -> tuple[np.ndarray, np.ndarray]:
        """Centre coordinates of all cells as two ``(ny, nx)`` arrays."""
        xs, ys = self.centre(np.arange(self.nx), np.arange(self.ny))
        return np.meshgrid(xs, ys)

    def rect_mask(self, rect: Rect) -> np.ndarray:
        """Cells whose centre lies inside ``rect`` (bool ``(ny, nx)``)."""
        xmin, ymin, xmax, ymax = rect
        xs, ys = self.centres()
        return (xs >= xmin) & (xs < xmax) & (ys >= ymin) & (ys < ymax)

    def polygon_mask(self, vertices: Sequence[tuple[float, float]]) -> np.ndarray:
        """Cells whose centre lies inside the polygon (bool ``(ny, nx)``)."""
        xs, ys = self.centres()
        pts = np.column_stack([xs.ravel(), ys.ravel()])
        return Path(np.asarray(vertices, dtype=float)).contains_points(pts).reshape(self.shape)

    def with_blocked(self, mask: np.ndarray) -> Grid:
        """Return a copy with the cells in ``mask`` made unwalkable (e.g. a closed door)."""
        return Grid(self.x0, self.y0, self.cell, self.walkable & ~mask, self.passable)

    def with_openings(self, openings: Iterable[Opening]) -> Grid:
        """Return a copy with door-like openings cut into walls at their drawn width.

        Each opening is a rectangle across a wall and its orientation; the cells
        it covers are opened, those it only partly covers along its width open for that
        fraction (:attr:`passable`), whatever the wall's half-coverage rule made of them.
        """
        frac = np.zeros(self.shape, dtype=np.float32)
        for rect, along_x in openings:
            frac += _cover(self.x0, self.y0, self.cell, self.shape, rect, along_x)
        cut = frac >= MIN_OPEN
        walk = self.walkable | cut
        pas = np.where(cut, np.minimum(frac, 1.0), self.open_fraction()).astype(np.float32)
        return Grid(self.x0, self.y0, self.cell, walk, pas)


def _rect_block_mask(
    x0: float, y0: float, cell: float, shape: tuple[int, int], r: Rect
) -> np.ndarray:
    """Cells blocked by wall rectangle ``r`` under the half-coverage rule."""
    ny, nx = shape
    xmin, ymin, xmax, ymax = r
    lo_x = x0 + np.arange(nx) * cell
    lo_y = y0 + np.arange(ny) * cell
    ox = np.clip(np.minimum(lo_x + cell, xmax) - np.maximum(lo_x, xmin), 0.0, None)
    oy = np.clip(np.minimum(lo_y + cell, ymax) - np.maximum(lo_y, ymin), 0.0, None)
    eps = 1e-9
    bx = ox >= 0.5 * min(cell, xmax - xmin) - eps
    by = oy >= 0.5 * min(cell, ymax - ymin) - eps
    bx &= ox > eps
    by &= oy > eps
    return by[:, None] & bx[None, :]


def cover_fraction(grid: Grid, o: Rect, along_x: bool) -> np.ndarray:
    """Fraction of each cell of ``grid`` that opening ``o`` opens (see :func:`_cover`)."""
    return _cover(grid.x0, grid.y0, grid.cell, grid.shape, o, along_x)


def _cover(
    x0: float, y0: float, cell: float, shape: tuple[int, int], o: Rect, along_x: bool
) -> np.ndarray:
    """Fraction of each cell's width that opening ``o`` opens (0 where it does not reach).

    Along the opening's width the fraction is the overlap over the cell size; across it (the
    wall's thickness) a cell counts when the opening covers half of it or more (half of the
    thickness if thinner than a cell), the rule that blocks the wall's cells.
    """
    ny, nx = shape
    xmin, ymin, xmax, ymax = o
    lo_x = x0 + np.arange(nx) * cell
    lo_y = y0 + np.arange(ny) * cell
    ox = np.clip(np.minimum(lo_x + cell, xmax) - np.maximum(lo_x, xmin), 0.0, None)
    oy = np.clip(np.minimum(lo_y + cell, ymax) - np.maximum(lo_y, ymin), 0.0, None)
    eps = 1e-9
    if along_x:
        along, across = ox[None, :] / cell, oy[:, None] >= 0.5 * min(cell, ymax - ymin) - eps
    else:
        along, across = oy[:, None] / cell, ox[None, :] >= 0.5 * min(cell, xmax - xmin) - eps
    return np.where(across, np.minimum(along, 1.0), 0.0).astype(np.float32)


def build_grid(
    area: Rect,
    walls: Iterable[Rect] = (),
    polygons: Iterable[Sequence[tuple[float, float]]] = (),
    cell: float = DEFAULT_CELL,
) -> Grid:
    """Rasterise a venue: an area rectangle minus wall rectangles and obstacle polygons.

    Args:
        area: ``(xmin, ymin, xmax, ymax)`` of the whole modelled area; it is rounded up to
            whole cells.  Agents never leave the lattice, so its border acts as a wall; no
            border walls are needed (:func:`box_walls` would take a row of cells each side).
        walls: wall or obstacle rectangles (half-coverage rule, see module docstring).
        polygons: obstacle polygons (cell-centre rule).
        cell: cell size in metres.

    """
    xmin, ymin, xmax, ymax = area
    nx = int(np.ceil((xmax - xmin) / cell - 1e-9))
    ny = int(np.ceil((ymax - ymin) / cell - 1e-9))
    walk = np.ones((ny, nx), dtype=bool)
    for r in walls:
        walk &= ~_rect_block_mask(xmin, ymin, cell, (ny, nx), r)
    g = Grid(float(xmin), float(ymin), float(cell), walk)
    for poly in polygons:
        walk &= ~g.polygon_mask(poly)
    return Grid(float(xmin), float(ymin), float(cell), walk)


def box_walls(area: Rect, thickness: float = 0.1) -> list[Rect]:
    """Four thin wall rectangles lining the inside of ``area``'s border."""
    xmin, ymin, xmax, ymax = area
    t = thickness
    return [
        (xmin, ymin, xmax, ymin + t),
        (xmin, ymax - t, xmax, ymax),
        (xmin, ymin, xmin + t, ymax),
        (xmax - t, ymin, xmax, ymax),
    ]


def open_width(grid: Grid, line_mask: np.ndarray) -> float:
    """Represented width (m) of an opening: open fraction of the cells in ``line_mask``.

    ``line_mask`` should select one row or column of cells across the opening; a wholly open
    cell counts its size, a partly open one its fraction of it.
    """
    return float(grid.open_fraction()[line_mask].sum()) * grid.cell
