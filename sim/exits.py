"""Which exit a person takes: the nearest walk, away from the threat, or as stewards guide.

People leaving in the normal course take the exit nearest by walking distance. People fleeing
a threat steer away from it: an exit that lies towards the threat costs ``crowd.flee_detour_m``
more. In a guided evacuation (staff with the ``guide`` power on site, or
``coordination.guided_evacuation``) stewards send each evacuee to the exit with the shortest
expected time: the walk plus the wait at the door, at ``crowd.door_flow_pmps`` per metre of its
width.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from softtarget.sim.schema import POWERS

if TYPE_CHECKING:
    from softtarget.sim.crowd import Crowd
    from softtarget.sim.model import SoftTargetModel


class ExitChoice:
    """The exits of a venue and how people choose among them."""

    def __init__(self, model: SoftTargetModel, crowd: Crowd) -> None:
        """The exits of ``crowd``'s lattice; guided when the configuration has guides."""
        self.model = model
        self.crowd = crowd
        layout, geo, cfg = crowd.layout, model.geo, model.config
        self.dest = np.asarray(layout.exit_dest, dtype=np.int64)
        self.centres = np.array([geo.centroids[geo.index(n)] for n in layout.exit_names])
        zones = model.scenario.venue.zones
        widths = np.asarray([zones[name].width_m for name in layout.exit_names])
        self.capacity = widths * crowd.spec.door_flow_pmps  # persons per second
        self.detour_m = crowd.spec.flee_detour_m
        co = cfg.coordination
        guides = sum(g.count for g in cfg.staff.values() if "guide" in POWERS[g.role])
        self.guided = co.guided_evacuation if co.guided_evacuation is not None else guides > 0

    def nearest(self, idx: np.ndarray) -> np.ndarray:
        """Floor-field index of the exit each person reaches by the shortest walk.

        People fleeing a threat steer away from it (:meth:`away_penalty`).
        """
        dist = self.crowd.walk_cost(self.dest, idx)
        return self.dest[np.argmin(dist + self.away_penalty(idx), axis=0)]

    def for_flight(self, idx: np.ndarray) -> np.ndarray:
        """The exit each fleeing person heads for.

        The nearest by walking distance or, in a guided evacuation, the one with the shortest
        expected time: walking distance / walking speed + (people already heading there + 1)
        / the door's capacity. People are assigned one by one in a random order, so loads
        balance.
        """
        if not (self.guided and self.model.response.evacuating) or len(idx) == 0:
            return self.nearest(idx)
        cw, m = self.crowd, self.crowd.lattice
        walk = cw.walk_cost(self.dest, idx)
        walk_s = (walk + self.away_penalty(idx)) / np.maximum(cw.speed[idx], 0.3)[None, :]
        heading = m.dest[m.active]
        load = np.array([(heading == d).sum() for d in self.dest], dtype=float)
        out = np.empty(len(idx), dtype=np.int64)
        for k in self.model.rngs["behaviour"].permutation(len(idx)):
            cost = walk_s[:, k] + (load + 1.0) / self.capacity
            best = int(np.argmin(cost))
            load[best] += 1.0
            out[k] = self.dest[best]
        return out

    def away_penalty(self, idx: np.ndarray) -> np.ndarray:
        """Extra metres for each exit (rows) and person (columns) fleeing from a threat.

        An exit whose direction lies within 60° of the threat's, with the threat not beyond
        the exit, costs ``flee_detour_m`` more, so people take it only when every way out
        passes the threat.
        """
        cw = self.crowd
        src = cw.flee_from[idx]
        known = ~np.isnan(src[:, 0])
        out = np.zeros((len(self.dest), len(idx)))
        if known.any():
            me = cw.xy[idx[known]]
            to_src = src[known] - me
            to_exit = self.centres[:, None, :] - me[None, :, :]
            d_src = np.hypot(*to_src.T)
            d_exit = np.hypot(to_exit[..., 0], to_exit[..., 1])
            cos = (to_exit * to_src[None]).sum(-1) / np.maximum(d_exit * d_src[None, :], 1e-9)
            towards = (cos > 0.5) & (d_src[None, :] < d_exit + 5.0)
            out[:, known] = np.where(towards, self.detour_m, 0.0)
        return out
