"""What can be seen and what is shielded: walls, camera coverage and bodies in a line of fire.

Walls and obstacles are opaque; fences, zones and people are not (a crowd barrier does not
block sight). The raster is the one the crowd walks on: the lattice of
:func:`softtarget.sim.layout.lattice_grid` without the fence (0.4 m cells, coarser only for
venues too large to check at that size, :func:`softtarget.sim.geometry.lattice_check_cell`),
so a wall blocks sight exactly where it blocks walking. A sight line is clear when no sample
along it, every half cell, falls in an opaque cell. The first and last half cell of a line are
not tested, so someone standing against a wall still sees and is seen.

A camera sees the cells within its range and field of view whose centres it has a clear line
to; the rest is its blind spot. Coverage is a boolean raster, computed once per camera and
process.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass

import numpy as np

from softtarget.sim.geometry import lattice_check_cell
from softtarget.sim.layout import lattice_grid
from softtarget.sim.motion import Grid
from softtarget.sim.schema import Camera, Venue

_BLOCK = 4096  # sight lines tested at once (bounds the memory of a test to ~ block x samples)


@dataclass(frozen=True)
class Sight:
    """The opaque cells of a venue (its lattice, unwalkable cells) and sight-line queries."""

    grid: Grid

    @property
    def opaque(self) -> np.ndarray:
        """(ny, nx) cells that block sight."""
        return ~self.grid.walkable

    @property
    def cell(self) -> float:
        """Cell edge, metres."""
        return self.grid.cell

    @property
    def shape(self) -> tuple[int, int]:
        """(ny, nx) of the raster."""
        return self.grid.shape

    @property
    def extent(self) -> tuple[float, float, float, float]:
        """(x0, x1, y0, y1) of the raster in metres (to draw a mask on the plan)."""
        g = self.grid
        return (g.x0, g.x0 + g.nx * g.cell, g.y0, g.y0 + g.ny * g.cell)

    def clear(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Whether each line from ``a`` to ``b`` (points or (n, 2) arrays) passes no wall."""
        a = np.atleast_2d(np.asarray(a, dtype=float))
        b = np.atleast_2d(np.asarray(b, dtype=float))
        a, b = np.broadcast_arrays(a, b)
        n = len(a)
        out = np.ones(n, dtype=bool)
        if n == 0:
            return out
        for lo in range(0, n, _BLOCK):
            out[lo : lo + _BLOCK] = self._clear_block(a[lo : lo + _BLOCK], b[lo : lo + _BLOCK])
        return out

    def _clear_block(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        d = b - a
        length = np.hypot(d[:, 0], d[:, 1])
        step = self.cell / 2.0
        m = max(1, int(np.ceil(length.max() / step)))
        s = (np.arange(m) + 0.5) * step  # distances along the line
        within = (s[None, :] >= step) & (s[None, :] <= length[:, None] - step)
        frac = s[None, :] / np.maximum(length[:, None], 1e-9)
        x = a[:, 0:1] + frac * d[:, 0:1]
        y = a[:, 1:2] + frac * d[:, 1:2]
        ix, iy = self.grid.cell_of(x, y)
        return ~(~self.grid.walkable[iy, ix] & within).any(axis=1)

    def coverage(self, camera: Camera) -> np.ndarray:
        """Cells (ny, nx) the camera sees: in range, in its field of view, not behind a wall."""
        ny, nx = self.shape
        cx, cy = float(camera.at[0]), float(camera.at[1])
        gx, gy = self.grid.centres()
        dx, dy = gx - cx, gy - cy
        dist = np.hypot(dx, dy)
        seen = dist <= camera.range_m
        if camera.fov_deg < 360.0:  # within half the field of view of the facing direction
            facing = math.radians(camera.facing_deg)
            along = dx * math.cos(facing) + dy * math.sin(facing)  # = dist * cos(off-axis angle)
            edge = dist * math.cos(math.radians(camera.fov_deg / 2.0))
            wide = along >= edge - 1e-9  # a cell centre on the edge of the field is in it
            seen &= wide | (dist < self.cell)
        seen &= ~self.opaque
        idx = np.flatnonzero(seen)
        if len(idx):
            ends = np.column_stack([gx.ravel()[idx], gy.ravel()[idx]])
            visible = self.clear(np.array([[cx, cy]]), ends)
            flat = seen.ravel()
            flat[idx[~visible]] = False
            seen = flat.reshape(ny, nx)
        return seen

    def view_of(self, bounds: tuple[float, float, float, float], range_m: float) -> np.ndarray:
        """Cells from which a rectangle (an exit) is seen.

        Those within ``range_m`` of it with a clear line from the cell's centre to the
        rectangle's nearest point.
        """
        x0, y0, x1, y1 = bounds
        gx, gy = self.grid.centres()
        px, py = np.clip(gx, x0, x1), np.clip(gy, y0, y1)
        near = (np.hypot(gx - px, gy - py) <= range_m) & self.grid.walkable
        idx = np.flatnonzero(near)
        seen = np.zeros(self.shape, dtype=bool)
        if len(idx):
            a = np.column_stack([gx.ravel()[idx], gy.ravel()[idx]])
            b = np.column_stack([px.ravel()[idx], py.ravel()[idx]])
            seen.ravel()[idx] = self.clear(a, b)
        return seen

    def covered(self, mask: np.ndarray, xy: np.ndarray) -> np.ndarray:
        """Whether the points ``xy`` (n, 2) lie in cells of coverage ``mask``."""
        xy = np.atleast_2d(xy)
        ix, iy = self.grid.cell_of(xy[:, 0], xy[:, 1])
        return mask[iy, ix]


@functools.lru_cache(maxsize=8)
def _sight_cached(venue_json: str) -> Sight:
    venue = Venue.model_validate_json(venue_json)
    return Sight(lattice_grid(venue, lattice_check_cell(venue), fence=False))


def sight_for(venue: Venue) -> Sight:
    """The sight raster of ``venue`` (cached per process by the venue's content)."""
    return _sight_cached(json.dumps(venue.model_dump(mode="json"), sort_keys=True))


@functools.lru_cache(maxsize=64)
def _coverage_cached(venue_json: str, camera_json: str) -> np.ndarray:
    mask = _sight_cached(venue_json).coverage(Camera.model_validate_json(camera_json))
    mask.setflags(write=False)
    return mask


@functools.lru_cache(maxsize=64)
def _view_cached(venue_json: str, bounds: tuple[float, float, float, float], range_m: float):
    mask = _sight_cached(venue_json).view_of(bounds, range_m)
    mask.setflags(write=False)
    return mask


def view_for(venue: Venue, bounds: tuple[float, float, float, float], range_m: float) -> np.ndarray:
    """The cells of ``venue`` from which the rectangle ``bounds`` is seen (cached)."""
    venue_json = json.dumps(venue.model_dump(mode="json"), sort_keys=True)
    return _view_cached(venue_json, tuple(float(b) for b in bounds), float(range_m))


def coverage_for(venue: Venue, camera: Camera) -> np.ndarray:
    """The coverage raster of ``camera`` in ``venue`` (cached per process)."""
    venue_json = json.dumps(venue.model_dump(mode="json"), sort_keys=True)
    return _coverage_cached(venue_json, camera.model_dump_json())


def shielding_bodies(
    source: np.ndarray, targets: np.ndarray, bodies: np.ndarray, body_radius: float
) -> np.ndarray:
    """How many of ``bodies`` stand in the straight line from ``source`` to each target.

    A body is in the line when it lies between the two (not within ``body_radius`` of either
    end) and within ``body_radius`` of the line. ``targets`` may be among ``bodies``; nobody
    shields themselves.
    """
    targets = np.atleast_2d(targets)
    out = np.zeros(len(targets), dtype=np.int64)
    if len(targets) == 0 or len(bodies) == 0:
        return out
    rel_b = bodies - source  # (m, 2)
    block = max(1, 2_000_000 // max(len(bodies), 1))
    for lo in range(0, len(targets), block):
        rel_t = targets[lo : lo + block] - source  # (k, 2)
        length = np.hypot(rel_t[:, 0], rel_t[:, 1])
        unit = rel_t / np.maximum(length, 1e-9)[:, None]
        along = unit @ rel_b.T  # (k, m)
        across = np.abs(unit[:, 0:1] * rel_b[None, :, 1] - unit[:, 1:2] * rel_b[None, :, 0])
        between = (along > body_radius) & (along < length[:, None] - body_radius)
        out[lo : lo + block] = (between & (across < body_radius)).sum(axis=1)
    return out


__all__ = ["Sight", "coverage_for", "shielding_bodies", "sight_for", "view_for"]
