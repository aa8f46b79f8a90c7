"""A person-borne explosive: a blast wave near it, fragments that bodies in their way absorb."""

from __future__ import annotations

import math

import numpy as np

from softtarget.sim.columns import End, Event
from softtarget.sim.schema import Pbied
from softtarget.sim.sight import shielding_bodies
from softtarget.sim.threat.attacker import Attacker


def _expm1(x: np.ndarray) -> np.ndarray:
    """``expm1`` through the C library, element by element.

    numpy's own ufunc picks an implementation for the CPU (on AVX-512 one with other last
    bits), and a blast's casualties must not depend on the machine that ran it.
    """
    return np.fromiter((math.expm1(v) for v in np.ravel(x)), float, np.size(x)).reshape(np.shape(x))


def blast_risk(
    blast: np.ndarray, people: np.ndarray, bodies: np.ndarray, pbied: Pbied
) -> tuple[np.ndarray, np.ndarray]:
    """Each person's chance of being killed, and of being hurt, by a person-borne explosive.

    Within ``lethal_radius_m`` the blast wave kills. Fragments: ``fragments`` of them fly out
    evenly in every direction, so a person at distance d presenting ``body_area_m2`` expects
    ``lambda = fragments * body_area_m2 / (4 pi d²)`` hits, times (1 - ``shielding_per_body``)^n
    behind n bodies in the line of fire (:func:`softtarget.sim.sight.shielding_bodies`), and
    none beyond ``injury_radius_m``. Hits are Poisson: a person is hurt with 1 - exp(-lambda)
    and killed with 1 - exp(-lambda ``fragment_lethality``). Bodies in the way thin out the
    hits, so they turn deaths into injuries rather than scaling both alike. People with a wall
    between them and the blast are not passed here.
    """
    people = np.atleast_2d(people)
    d = np.hypot(people[:, 0] - blast[0], people[:, 1] - blast[1])
    n = shielding_bodies(blast, people, bodies, pbied.body_radius_m)
    near = np.maximum(d, pbied.body_radius_m)  # a body's own size: no infinite density of hits
    hits = pbied.fragments * pbied.body_area_m2 / (4.0 * np.pi * near**2)
    hits = np.where(d <= pbied.injury_radius_m, hits * (1.0 - pbied.shielding_per_body) ** n, 0.0)
    blast_wave = d <= pbied.lethal_radius_m
    p_kill = np.where(blast_wave, 1.0, -_expm1(-hits * pbied.fragment_lethality))
    p_hurt = np.where(blast_wave, 1.0, -_expm1(-hits))
    return p_kill, p_hurt


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
        u = rng.random(len(idx))  # one draw: killed implies hurt, P(hurt) = p_hurt
        killed = u < p_kill
        hurt = u < p_hurt
        self.harm(idx[hurt], killed[hurt], Event.DETONATION)
        self.alarm(model.scenario.crowd.hearing_range_m)
        self.finish(End.DETONATED)
