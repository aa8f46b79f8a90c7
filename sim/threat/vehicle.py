"""A vehicle driven into the crowd from a vehicle approach.

It drives at ``speed_mps`` towards its aim point and on in the same line for ``path_m``,
striking everyone within half its width of its path. It cannot pass what the crowd cannot
walk through — walls, the perimeter's fence, the area's edge — and stops there; every person
struck slows it by ``slowdown_per_struck``, and below ``stop_speed_mps`` it is stuck in the
crowd. Hostile-vehicle barriers stop it before anyone is struck.
"""

from __future__ import annotations

import math

import numpy as np

from softtarget.sim.columns import End, Event, Phase
from softtarget.sim.threat.attacker import Attacker, walk_towards


class Driver(Attacker):
    """An attacker driving a vehicle (``threat.vehicle``)."""

    mode = "vehicle"
    walks = False  # waits on the approach road until the attack
    travelled = 0.0  # metres driven in the attack
    speed = 0.0  # m/s now

    def arrive(self) -> None:
        """Drive up to the first vehicle approach and aim at the target."""
        model = self.model
        va = model.geo.of_kind("vehicle_approach")[0]
        self.pos = model.geo.centroids[va].copy()
        self.goal, _ = model.threat.target_point(self)
        self.phase = Phase.APPROACH
        model.log(Event.ATTACKER_ARRIVED, self.name, "vehicle approach")

    def begin(self) -> None:
        """Start at full speed; hostile-vehicle barriers stop the vehicle at once."""
        self.speed = self.model.scenario.threat.vehicle.speed_mps
        if self.model.config.vehicle_barriers:
            self.finish(End.BARRIER)

    def strike(self) -> None:
        """Drive one step, up to an obstacle; strike everyone within reach of the path."""
        model = self.model
        ve, rng, cw = model.scenario.threat.vehicle, model.rngs["harm"], model.crowd
        start = self.pos.copy()
        ahead = walk_towards(self.pos, self.goal, self.speed, model.dt)
        self.pos, blocked = self._clear_until(start, ahead)
        self.travelled += float(np.hypot(*(self.pos - start)))
        seg = self.pos - start
        length2 = float(seg @ seg)
        idx = cw.standing_idx()
        rel = cw.xy[idx] - start
        s = np.clip(rel @ seg / length2, 0.0, 1.0) if length2 > 0 else np.zeros(len(idx))
        closest = start + s[:, None] * seg
        dist = np.hypot(*(cw.xy[idx] - closest).T)
        hit = idx[dist <= ve.half_width_m]
        if len(hit):
            killed = rng.random(len(hit)) < ve.p_death_given_struck
            self.harm(hit, killed, Event.STRUCK)
            self.speed *= (1.0 - ve.slowdown_per_struck) ** len(hit)
        self.alarm(model.scenario.crowd.sight_alarm_range_m)
        if blocked or self.speed < ve.stop_speed_mps:
            self.finish(End.STOPPED_BY_OBSTACLE)
        elif self.travelled >= ve.path_m:
            self.finish(End.SPENT)
        elif np.allclose(self.pos, self.goal):  # drive on in the same direction
            direction = (self.goal - start) / max(math.sqrt(length2), 1e-9)
            far = self.pos + direction * (ve.path_m - self.travelled)
            self.goal = model.geo.clamp(far[None])[0]
            if np.allclose(self.goal, self.pos):
                self.finish(End.SPENT)

    def _clear_until(self, start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, bool]:
        """The farthest point towards ``end`` before a cell nobody can walk; whether blocked."""
        grid = self.model.crowd.layout.grid
        length = float(np.hypot(*(end - start)))
        if length == 0:
            return end.copy(), False
        n = max(1, math.ceil(length / (grid.cell / 2.0)))
        frac = np.arange(1, n + 1) / n
        pts = start[None, :] + frac[:, None] * (end - start)[None, :]
        ix, iy = grid.cell_of(pts[:, 0], pts[:, 1])
        free = grid.walkable[iy, ix]
        if free.all():
            return end.copy(), False
        first = int(np.argmin(free))
        return (pts[first - 1].copy() if first > 0 else start.copy()), True
