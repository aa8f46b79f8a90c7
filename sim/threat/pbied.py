"""A person-borne explosive: a blast whose fragments bodies in the line of fire absorb."""

from __future__ import annotations

import numpy as np

from softtarget.sim.columns import End, Event
from softtarget.sim.schema import Pbied
from softtarget.sim.sight import shielding_bodies
from softtarget.sim.threat.attacker import Attacker


def blast_risk(
    blast: np.ndarray, people: np.ndarray, bodies: np.ndarray, pbied: Pbied
) -> tuple[np.ndarray, np.ndarray]:
    """Each person's chance of being killed, and of being hurt, by a person-borne explosive.

    Unshielded, everyone within ``lethal_radius_m`` is killed and the chance of injury falls
    linearly from 1 there to 0 at ``injury_radius_m``. Fragments are absorbed by the bodies
    in the line of fire: behind n of them (:func:`softtarget.sim.sight.shielding_bodies`) a
    person keeps (1 − ``shielding_per_body``)^n of both chances. People with a wall between
    them and the blast are not passed here.
    """
    people = np.atleast_2d(people)
    d = np.hypot(people[:, 0] - blast[0], people[:, 1] - blast[1])
    span = max(pbied.injury_radius_m - pbied.lethal_radius_m, 1e-9)
    unshielded_kill = (d <= pbied.lethal_radius_m).astype(float)
    unshielded_hurt = 1.0 - np.clip((d - pbied.lethal_radius_m) / span, 0.0, 1.0)
    unshielded_hurt[d > pbied.injury_radius_m] = 0.0
    n = shielding_bodies(blast, people, bodies, pbied.body_radius_m)
    keep = (1.0 - pbied.shielding_per_body) ** n
    return unshielded_kill * keep, unshielded_hurt * keep


class Bomber(Attacker):
    """An attacker with a person-borne explosive device (``threat.pbied``)."""

    mode = "pbied"

    def challenged(self, end: End = End.STOPPED) -> None:
        """Stopped before the attack: detonates where they stand with ``detonate_if_challenged``."""
        if self.detonate_u < self.model.scenario.threat.pbied.detonate_if_challenged:
            self.model.log(Event.BOMBER_CHALLENGED, self.name, "detonates")
            self.start_attack()
            return
        self.finish(end)

    def begin(self) -> None:
        """Detonate: harm by distance, lowered by the bodies in the line of fire."""
        model = self.model
        pb, rng, cw = model.scenario.threat.pbied, model.rngs["harm"], model.crowd
        idx, _ = self.in_view(pb.injury_radius_m)
        bodies = cw.xy[cw.standing_idx()]
        p_kill, p_hurt = blast_risk(self.pos, cw.xy[idx], bodies, pb)
        u = rng.random((2, len(idx)))
        killed = u[0] < p_kill
        hurt = killed | (u[1] < p_hurt)
        self.harm(idx[hurt], killed[hurt], Event.DETONATION)
        self.alarm(model.scenario.crowd.hearing_range_m)
        self.finish(End.DETONATED)
