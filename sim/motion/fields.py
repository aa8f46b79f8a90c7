"""Floor fields: distance-to-target maps computed once per destination.

For a destination with target cells ``T`` the floor field is the geodesic distance

    S(c) = min over walkable paths from c to T of the path length (m),

obtained by solving the eikonal equation ``|grad S| = 1`` with fast marching
(``scikit-fmm``) on the walkable cells, walls masked out.  Target cells have ``S = 0``;
cells that cannot reach the target get ``+inf``.  Agents walk downhill in ``S``, so routes go
around walls with no per-agent path search.  A destination may have several target regions
(e.g. "any exit"): its field is the distance to the nearest one.

Target cells carry a *label* (an integer id per target region, e.g. per exit) so that arrivals
can be counted per region.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import skfmm

from softtarget.sim.motion.grid import Grid

NO_TARGET = -1
"""Label of cells that are not a target."""


def distance_field(grid: Grid, target: np.ndarray) -> np.ndarray:
    """Geodesic distance (m) from every walkable cell to the cells in ``target``.

    Args:
        grid: the walkable grid.
        target: bool ``(ny, nx)``; must contain at least one walkable cell.

    Returns:
        float32 ``(ny, nx)``: 0 on target cells, ``inf`` on walls and unreachable cells.

    """
    tgt = target & grid.walkable
    if not tgt.any():
        raise ValueError("target has no walkable cell")
    phi = np.where(tgt, -1.0, 1.0)
    masked = np.ma.MaskedArray(phi, mask=~grid.walkable)
    d = skfmm.distance(masked, dx=grid.cell)
    out = np.full(grid.shape, np.inf, dtype=np.float64)
    dd = np.ma.filled(d, np.inf)
    ok = ~np.ma.getmaskarray(d)
    # skfmm measures to the zero contour (half a cell off the target); shift so that the
    # first cell outside the target is one cell (centre to centre) away.
    out[ok] = np.maximum(dd[ok] + 0.5 * grid.cell, 0.0)
    out[tgt] = 0.0
    out[~grid.walkable] = np.inf
    return out.astype(np.float32)


@dataclass(frozen=True, eq=False)
class FloorFields:
    """A stack of floor fields, one per destination.

    Attributes:
        grid: the grid they were computed on.
        fields: float32 ``(n_dest, ny, nx)`` distances (m), ``inf`` where unreachable.
        sink: bool ``(n_dest,)``; agents reaching a target cell of a sink destination are
            removed (exits); otherwise they stay there (attractors).
        labels: int32 ``(ny, nx)`` target-region id per cell (``NO_TARGET`` elsewhere).
        names: destination names.
        n_labels: number of target regions.

    """

    grid: Grid
    fields: np.ndarray
    sink: np.ndarray
    labels: np.ndarray
    names: tuple[str, ...]
    n_labels: int

    @property
    def n_dest(self) -> int:
        """Number of destinations."""
        return int(self.fields.shape[0])

    def index(self, name: str) -> int:
        """Destination index of ``name``."""
        return self.names.index(name)

    def distance(self, dest: np.ndarray | int, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Remaining distance (m) to destination(s) ``dest`` from points ``(x, y)``."""
        ix, iy = self.grid.cell_of(x, y)
        return self.fields[np.asarray(dest), iy, ix]

    def gradient(self, dest: int) -> tuple[np.ndarray, np.ndarray]:
        """Unit walking direction ``(ux, uy)`` (downhill) of one field, 0 where undefined."""
        f = self.fields[dest].astype(np.float64)
        finite = np.isfinite(f)
        big = np.where(finite, f, np.nan)
        gy, gx = np.gradient(big, self.grid.cell)
        gx = np.nan_to_num(-gx)
        gy = np.nan_to_num(-gy)
        n = np.hypot(gx, gy)
        n[n == 0] = 1.0
        return gx / n, gy / n


def build_fields(
    grid: Grid,
    targets: Sequence[np.ndarray],
    destinations: Sequence[Sequence[int]] | None = None,
    sink: Sequence[bool] | None = None,
    names: Sequence[str] | None = None,
) -> FloorFields:
    """Compute floor fields.

    Args:
        grid: the walkable grid.
        targets: bool masks ``(ny, nx)``, one per target region (label = its position).
        destinations: for each destination the target regions it comprises; default one
            destination per target region.
        sink: per destination, whether arrivals are removed (default all ``True``).
        names: per destination names (default ``"d0"``, ``"d1"`` ...).

    """
    labels = np.full(grid.shape, NO_TARGET, dtype=np.int32)
    for k, m in enumerate(targets):
        labels[m & grid.walkable] = k
    if destinations is None:
        destinations = [[k] for k in range(len(targets))]
    n = len(destinations)
    fields = np.empty((n, grid.ny, grid.nx), dtype=np.float32)
    for d, regions in enumerate(destinations):
        mask = np.zeros(grid.shape, dtype=bool)
        for k in regions:
            mask |= targets[k]
        fields[d] = distance_field(grid, mask)
    sink_arr = np.ones(n, dtype=bool) if sink is None else np.asarray(sink, dtype=bool)
    nm = tuple(names) if names is not None else tuple(f"d{d}" for d in range(n))
    return FloorFields(grid, fields, sink_arr, labels, nm, len(targets))


def periodic_x_field(grid: Grid) -> FloorFields:
    """A field for a corridor periodic in x, walking in +x (used for fundamental diagrams).

    ``S = (nx - 1 - ix) * cell``; the kernel, told the lattice is periodic, corrects the jump
    at the seam by ``nx * cell``.  No targets, no sink.
    """
    ix = np.arange(grid.nx, dtype=np.float32)
    f = np.broadcast_to((grid.nx - 1 - ix) * grid.cell, grid.shape).astype(np.float32)
    f = np.where(grid.walkable, f, np.inf).astype(np.float32)
    labels = np.full(grid.shape, NO_TARGET, dtype=np.int32)
    return FloorFields(grid, f[None], np.zeros(1, dtype=bool), labels, ("east",), 0)
