"""A shooter: fires at people in view, seeks them when none is, and ends the attack somehow.

Rounds go only at people in view, at the rate of fire, reloading each magazine. With nobody
in view the shooter walks towards the nearest person within ``seek_range_m``; with nobody
there, targets have run out and the shooter flees. The attack ends by one of the mechanisms
incident studies record (Blair & Schweit 2014, FBI: 160 incidents 2000–2013, 56% ended on the
shooter's initiative, 13% by unarmed citizens, most of the rest by police): neutralised by
armed staff (:meth:`softtarget.sim.staff.StaffMember.engage`), the shooter's own end —
suicide, flight or surrender — at ``self_end_per_min``, much faster once armed staff are in
range (``self_end_armed_per_min``), or the rounds spent.
"""

from __future__ import annotations

import math

import numpy as np

from softtarget.sim.columns import End, Event
from softtarget.sim.schema import Firearm
from softtarget.sim.threat.attacker import Attacker, walk_towards


class Shooter(Attacker):
    """An attacker with a firearm (``threat.firearm``)."""

    mode = "firearm"
    rounds_left = 0  # loaded when the attack begins
    next_shot = 0.0

    def begin(self) -> None:
        """Load every magazine; the first round goes now."""
        fa = self.model.scenario.threat.firearm
        self.next_shot = self.model.t
        self.rounds_left = fa.magazine * fa.magazines

    def strike(self) -> None:
        """Fire every round due by now at people in view, or go and find some; maybe stop."""
        model = self.model
        fa = model.scenario.threat.firearm
        idx, d = self.in_view(fa.range_m)
        if len(idx):
            self._fire(fa, idx, d)
        else:
            self.next_shot = max(self.next_shot, model.t)  # ready when someone comes in view
            if not self._seek(fa.seek_range_m):
                self.finish(End.FLED, "nobody left within seek range")
                return
        if self.rounds_left <= 0:
            self.finish(End.SPENT)
            return
        self._maybe_end(fa)

    def _fire(self, fa: Firearm, idx: np.ndarray, d: np.ndarray) -> None:
        """Each round due goes at one person in view within range, the nearer more likely.

        Weight 1 / (1 + d); a round hits with accuracy × (1 − falloff × d / range) and a hit
        kills with ``p_death_given_hit``. Every round is an event and alarms everyone within
        hearing. ``idx``, ``d``: the people in view now (seen again after every round).
        """
        model, rng = self.model, self.model.rngs["harm"]
        first = True
        while self.rounds_left > 0 and self.next_shot <= model.t:
            if not first:
                idx, d = self.in_view(fa.range_m)
            first = False
            if len(idx) == 0:
                break
            self.rounds_left -= 1
            model.log(Event.SHOT, self.name, "aimed")
            self.alarm(model.scenario.crowd.hearing_range_m)
            w = 1.0 / (1.0 + d)
            k = int(np.searchsorted(np.cumsum(w / w.sum()), rng.random(), side="right"))
            k = min(k, len(idx) - 1)
            p_hit = fa.accuracy * (1.0 - fa.falloff * d[k] / fa.range_m)
            if rng.random() < p_hit:
                killed = np.array([rng.random() < fa.p_death_given_hit])
                self.harm(idx[k : k + 1], killed, Event.HIT)
            self.next_shot += 1.0 / fa.rate_of_fire_per_s
            used = fa.magazine * fa.magazines - self.rounds_left
            if self.rounds_left and used % fa.magazine == 0:
                self.next_shot += fa.reload_s

    def _seek(self, seek_range: float) -> bool:
        """Walk towards the nearest person within ``seek_range``; False when there is none."""
        model = self.model
        idx, d = model.crowd.alive_near(self.pos, seek_range)
        if len(idx) == 0:
            return False
        goal = model.crowd.xy[idx[int(np.argmin(d))]]
        self.pos = walk_towards(self.pos, goal, self.walk_speed, model.dt)
        return True

    def _maybe_end(self, fa: Firearm) -> None:
        """The shooter's own end: suicide, or flight (surrender with armed staff in range)."""
        model = self.model
        armed = model.staff.armed_in_range(self.pos)
        rate = fa.self_end_armed_per_min if armed else fa.self_end_per_min
        rng = model.rngs["harm"]
        if rng.random() < 1.0 - math.exp(-rate / 60.0 * model.dt):
            why = "armed staff in range" if armed else "own initiative"
            if rng.random() < fa.suicide_share:
                self.finish(End.SUICIDE, why)
            else:
                self.finish(End.SURRENDERED if armed else End.FLED, why)
