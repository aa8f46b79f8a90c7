"""Where an attacker strikes: the densest place, the queue outside, a random or a named zone."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from softtarget.sim.model import SoftTargetModel


def target_point(
    model: SoftTargetModel, choice: str | None, u: np.ndarray, offset: np.ndarray
) -> tuple[np.ndarray, bool]:
    """The point an attacker heads for, and whether it lies inside the perimeter.

    ``densest``: the densest 4 m cell, inside the perimeter where one of the 50 densest is
    (among equally dense cells the one of lowest index: a stable sort, so that the choice does
    not depend on the sorting algorithm numpy picks for the machine's CPU);
    ``queue``: behind the middle of the longest line at the longest checkpoint (a random
    attractor when there is no checkpoint); ``random``: a point ``u`` in an attractor; else
    the point ``u`` in the named zone. Members of a cell stand ``offset`` from it; one aiming
    at the queue stays in the line rather than inside the fence.
    """
    geo = model.geo
    checkpoints = model.screening.checkpoints
    lane = None
    if choice == "queue" and checkpoints:
        cp = max(checkpoints, key=lambda c: c.queue_len())
        lane = max(cp.lanes, key=lambda ln: len(ln.queue))
        point = lane.head + lane.back * (lane.spacing * max(1, len(lane.queue)) / 2)
    elif choice == "densest":
        grid = model.density.grid().ravel()
        densest = np.argsort(-grid, kind="stable")[:50]  # ties: the lower cell index first
        centres = np.array([geo.cell_centre(i) for i in densest])
        inside = geo.inside_perimeter(centres)
        pick = int(np.argmax(inside)) if (inside.any() and geo.perimeter is not None) else 0
        point = centres[pick]
    elif choice in ("random", "queue"):
        attractors = geo.of_kind("attractor")
        z = attractors[int(u[0] * len(attractors)) % len(attractors)]
        point = geo.sample(z, u[None, :])[0]
    else:
        point = geo.sample(geo.index(str(choice)), u[None, :])[0]
    moved = geo.clamp((point + offset)[None, :])[0]
    if lane is not None and geo.inside_perimeter(moved[None, :])[0]:
        moved = geo.clamp((point + lane.back * 2.0)[None, :])[0]  # stay in the line
    return moved, bool(geo.inside_perimeter(moved[None, :])[0])
