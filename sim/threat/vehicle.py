"""A vehicle driven into the crowd from a vehicle approach."""

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

    def arrive(self) -> None:
        """Drive up to the first vehicle approach and aim at the target."""
        model = self.model
        va = model.geo.of_kind("vehicle_approach")[0]
        self.pos = model.geo.centroids[va].copy()
        self.goal, _ = model.threat.target_point(self)
        self.phase = Phase.APPROACH
        model.log(Event.ATTACKER_ARRIVED, self.name, "vehicle approach")

    def begin(self) -> None:
        """Hostile-vehicle barriers stop the vehicle before anyone is struck."""
        if self.model.config.vehicle_barriers:
            self.finish(End.BARRIER)

    def strike(self) -> None:
        """Drive one step; everyone within half the vehicle's width of its path is struck.

        Having reached the aim point, it drives on in the same line until ``path_m`` is
        driven or the venue's edge stops it.
        """
        model = self.model
        ve, rng, cw = model.scenario.threat.vehicle, model.rngs["harm"], model.crowd
        start = self.pos.copy()
        self.pos = walk_towards(self.pos, self.goal, ve.speed_mps, model.dt)
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
        self.alarm(model.scenario.crowd.sight_alarm_range_m)
        if self.travelled >= ve.path_m or np.allclose(self.pos, self.goal):
            if self.travelled < ve.path_m:  # drive on in the same direction
                direction = seg / max(math.sqrt(length2), 1e-9)
                ahead = self.pos + direction * (ve.path_m - self.travelled)
                self.goal = model.geo.clamp(ahead[None])[0]
                if np.allclose(self.goal, self.pos):
                    self.finish(End.SPENT)
            else:
                self.finish(End.SPENT)
