"""Venue geometry used by the model: zones as arrays, the perimeter and the density grid.

Zones become arrays for vectorised queries; points are sampled in zones; local density is
counted on a grid.

Local density is counted on square cells of :data:`DENSITY_CELL_M` metres (the "classic"
density of pedestrian analysis: people in a measurement area divided by its area).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.path import Path as MplPath

from softtarget.sim.schema import Venue

#: Side of the square cells on which local density is counted, metres.
DENSITY_CELL_M = 4.0


@dataclass
class Geometry:
    """Zones of a venue as arrays, for vectorised queries."""

    venue: Venue
    names: list[str]
    kinds: list[str]
    centroids: np.ndarray  # (Z, 2)
    bounds: np.ndarray  # (Z, 4)
    areas: np.ndarray  # (Z,)
    paths: list[MplPath]
    perimeter: MplPath | None
    nx: int
    ny: int

    @classmethod
    def build(cls, venue: Venue) -> Geometry:
        """Arrays for every zone of ``venue``."""
        names = list(venue.zones)
        zones = [venue.zones[n] for n in names]
        perimeter = None
        if venue.perimeter is not None:
            perimeter = MplPath(venue.zones[venue.perimeter].corners())
        return cls(
            venue=venue,
            names=names,
            kinds=[z.kind for z in zones],
            centroids=np.array([z.centroid() for z in zones], dtype=float),
            bounds=np.array([z.bounds() for z in zones], dtype=float),
            areas=np.array([z.area() for z in zones], dtype=float),
            paths=[MplPath(z.corners()) for z in zones],
            perimeter=perimeter,
            nx=max(1, int(np.ceil(venue.width_m / DENSITY_CELL_M))),
            ny=max(1, int(np.ceil(venue.height_m / DENSITY_CELL_M))),
        )

    def of_kind(self, kind: str) -> list[int]:
        """Indices of the zones of ``kind``."""
        return [i for i, k in enumerate(self.kinds) if k == kind]

    def index(self, name: str) -> int:
        """Index of a zone by name."""
        return self.names.index(name)

    def sample(self, zone: int, u: np.ndarray) -> np.ndarray:
        """Points in ``zone`` from uniforms ``u`` of shape (n, 2) (rejection for polygons)."""
        x0, y0, x1, y1 = self.bounds[zone]
        pts = np.column_stack([x0 + u[:, 0] * (x1 - x0), y0 + u[:, 1] * (y1 - y0)])
        if self.venue.zones[self.names[zone]].rect is None and len(pts):
            inside = self.paths[zone].contains_points(pts)
            if not inside.all():  # move misses to the centroid side: keeps the draw count fixed
                pts[~inside] = 0.5 * (pts[~inside] + self.centroids[zone])
        return pts

    def inside_perimeter(self, xy: np.ndarray) -> np.ndarray:
        """Which points lie inside the secure perimeter (all False for open venues)."""
        if self.perimeter is None or len(xy) == 0:
            return np.zeros(len(xy), dtype=bool)
        return self.perimeter.contains_points(xy)

    def clamp(self, xy: np.ndarray) -> np.ndarray:
        """Points moved onto the venue area where they stray outside it."""
        xy[:, 0] = np.clip(xy[:, 0], 0.0, self.venue.width_m - 1e-6)
        xy[:, 1] = np.clip(xy[:, 1], 0.0, self.venue.height_m - 1e-6)
        return xy

    def density(self, xy: np.ndarray) -> np.ndarray:
        """People per m² on the density grid, shape (ny, nx)."""
        if len(xy) == 0:
            return np.zeros((self.ny, self.nx))
        ix = np.minimum((xy[:, 0] / DENSITY_CELL_M).astype(np.int64), self.nx - 1)
        iy = np.minimum((xy[:, 1] / DENSITY_CELL_M).astype(np.int64), self.ny - 1)
        counts = np.bincount(iy * self.nx + ix, minlength=self.nx * self.ny)
        return counts.reshape(self.ny, self.nx) / DENSITY_CELL_M**2

    def cell_of(self, xy: np.ndarray) -> np.ndarray:
        """Flat density-grid cell index of each point."""
        ix = np.clip((xy[:, 0] / DENSITY_CELL_M).astype(np.int64), 0, self.nx - 1)
        iy = np.clip((xy[:, 1] / DENSITY_CELL_M).astype(np.int64), 0, self.ny - 1)
        return iy * self.nx + ix

    def cell_centre(self, flat: int) -> np.ndarray:
        """Centre of a density-grid cell."""
        iy, ix = divmod(int(flat), self.nx)
        return np.array([(ix + 0.5) * DENSITY_CELL_M, (iy + 0.5) * DENSITY_CELL_M])
