"""A bladed-weapon attacker: goes for the nearest person, strikes within reach, can be subdued."""

from __future__ import annotations

import numpy as np

from softtarget.sim.columns import End, Event
from softtarget.sim.threat.attacker import Attacker, walk_towards


class Stabber(Attacker):
    """An attacker with a blade (``threat.blade``)."""

    mode = "blade"

    def strike(self) -> None:
        """Chase the nearest person in ``seek_range_m``, strike within reach, risk being subdued.

        Strikes land at ``strikes_per_min``; each kills with ``p_death_given_strike``. Each
        second, each bystander within reach subdues the attacker with ``subdue_per_s`` and
        each staff member on site within reach with ``staff_subdue_per_s``.
        """
        model = self.model
        bl, rng = model.scenario.threat.blade, model.rngs["harm"]
        idx, d = model.crowd.alive_near(self.pos, bl.seek_range_m)
        if len(idx) == 0:
            return
        self.alarm(model.scenario.crowd.sight_alarm_range_m)
        near = int(np.argmin(d))
        if d[near] > bl.reach_m:
            self.pos = walk_towards(
                self.pos, model.crowd.xy[idx[near]], bl.chase_speed_mps, model.dt
            )
            return
        if rng.random() < bl.strikes_per_min / 60.0 * model.dt:
            killed = np.array([rng.random() < bl.p_death_given_strike])
            self.harm(idx[near : near + 1], killed, Event.STRIKE)
        bystanders = int((d <= bl.reach_m).sum())
        staff_close = model.staff.on_site_within(self.pos, bl.reach_m)
        p = 1.0 - (1.0 - bl.subdue_per_s) ** (bystanders * model.dt) * (
            1.0 - bl.staff_subdue_per_s
        ) ** (staff_close * model.dt)
        if rng.random() < p:
            self.finish(End.SUBDUED)
