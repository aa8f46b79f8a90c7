"""Crowd movement engine: walkable grid, floor fields and a fast floor-field cellular automaton.

Typical use::

    from softtarget.sim.motion import Lattice, build_fields, build_grid

    grid = build_grid(area, walls=wall_rects, polygons=obstacle_polygons)  # 0.4 m cells
    fields = build_fields(
        grid,
        targets=[grid.rect_mask(stage_front), grid.rect_mask(gate_a), grid.rect_mask(gate_b)],
        destinations=[[0], [1, 2]],  # 0: stage (attractor), 1: nearest gate
        sink=[False, True],
        names=["stage", "exit"],
    )
    crowd = Lattice(fields, capacity=10_000)  # slots are never reused
    idx = crowd.fill_mask(grid.rect_mask(arena), 8_000, dest=0, rng=rng)
    crowd.dest[idx[:100]] = 1  # the model re-targets people at any time
    crowd.speed[fleeing] = 3.9  # ... or changes their desired speed
    removed = crowd.step(rng)  # one dt (0.3 s); crowd.counts: arrivals per gate
    crowd.density(), crowd.peak_density(), crowd.density_at_agents()

Geometry notes: agents never leave the lattice; walls are rectangles (half-coverage rule)
or polygons; door widths round to whole cells (``open_width``, docs/validation.md).  Put
an exit's sink strip a few metres beyond its door.  ``Lattice.set_fields`` swaps in new fields
on the same lattice (a door closed, a new "flee" destination); ``Lattice.remove`` takes people
off the grid (casualties).
"""

from softtarget.sim.motion.fields import FloorFields, build_fields, distance_field, periodic_x_field
from softtarget.sim.motion.grid import Grid, box_walls, build_grid, open_width
from softtarget.sim.motion.lattice import Lattice, MotionParams, draw_speeds

__all__ = [
    "FloorFields",
    "Grid",
    "Lattice",
    "MotionParams",
    "box_walls",
    "build_fields",
    "build_grid",
    "distance_field",
    "draw_speeds",
    "open_width",
    "periodic_x_field",
]
