"""A shooter: fires at the rate of fire, reloading each magazine, at people in view."""

from __future__ import annotations

import numpy as np

from softtarget.sim.columns import End, Event
from softtarget.sim.threat.attacker import Attacker


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
        """Fire every round due by now; stop when the rounds are spent.

        Each round goes at one person in view within range, the nearer more likely (weight
        1 / (1 + d)), and hits with accuracy × (1 − falloff × d / range); a hit kills with
        ``p_death_given_hit``. Every round is an event, with whether anyone was in view, and
        alarms everyone within hearing.
        """
        model = self.model
        fa, rng = model.scenario.threat.firearm, model.rngs["harm"]
        while self.rounds_left > 0 and self.next_shot <= model.t:
            idx, d = self.in_view(fa.range_m)
            self.rounds_left -= 1
            model.log(Event.SHOT, self.name, "aimed" if len(idx) else "nobody in view")
            self.alarm(model.scenario.crowd.hearing_range_m)
            if len(idx):
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
        if self.rounds_left <= 0:
            self.finish(End.SPENT)
