"""Crowd density: the coarse grid attackers and observers read, peak and exposure, crush.

The local density at each person (over 1.2 m × 1.2 m on the lattice) comes from the crowd's
step (:mod:`softtarget.sim.crowd`). Exposure counts the person-seconds above
``crowd.exposure_density_ppm2``; the crush hazard applies to people fleeing a threat they perceived
who have stood in a jammed neighbourhood (``crush_density_ppm2``) for longer than
``crush_onset_s``: a crowd in competitive flight pushes (the "faster is slower" regime of
Helbing et al. 2000; measured as high competitiveness by Pastor et al. 2015), while a standing
audience, or a crowd leaving calmly on an order or in a drill, queues at the same density
without the forces that crush. The coarse grid (4 m cells) is what attackers target and
what hides an attacker from observers.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from softtarget.sim.columns import Event
from softtarget.sim.people import State

if TYPE_CHECKING:
    from softtarget.sim.model import SoftTargetModel


class Density:
    """Density measures and the crush hazard of one run."""

    def __init__(self, model: SoftTargetModel) -> None:
        """Nobody pressed yet."""
        self.model = model
        self.spec = model.scenario.crowd
        self.pressed = np.zeros(model.crowd.n)  # seconds continuously above crush density
        self.peak = 0.0
        self.exposure = 0.0  # person-seconds above exposure_density_ppm2
        self.crush_injured = 0
        self._coarse: tuple[float, np.ndarray] | None = None  # (time, grid) cache

    def grid(self) -> np.ndarray:
        """People per m² on the coarse 4 m grid, computed when asked, at most once a step."""
        t = self.model.t
        if self._coarse is None or self._coarse[0] != t:
            cw = self.model.crowd
            self._coarse = (t, self.model.geo.density(cw.xy[cw.standing_idx()]))
        return self._coarse[1]

    def step(self) -> None:
        """Peak local density, exposure and crush injuries after this step's walk."""
        cw, sc, m = self.model.crowd, self.spec, self.model.crowd.lattice
        dt = self.model.dt
        self.peak = max(self.peak, cw.peak_now)
        on = np.flatnonzero(m.active)
        rho = cw.rho[on]
        self.exposure += float((rho > sc.exposure_density_ppm2).sum()) * dt
        exposed = rho >= sc.crush_density_ppm2
        self.pressed[:] = np.where(cw.rho >= sc.crush_density_ppm2, self.pressed + dt, 0.0)
        # pushed: people fleeing a threat they perceived; an ordered, calm evacuation queues
        pushed = (cw.state[on] == State.FLEEING) & cw.flee_fast[on]
        at_risk = exposed & pushed & (self.pressed[on] >= sc.crush_onset_s)
        if not at_risk.any():
            return
        p = 1.0 - math.exp(-sc.crush_hazard_per_s * dt)
        hurt = on[at_risk][self.model.rngs["harm"].random(int(at_risk.sum())) < p]
        if len(hurt):
            cw.harm(hurt, np.zeros(len(hurt), dtype=bool))
            cw.crushed[hurt] = True
            cw.crushed_in_evacuation[hurt] = self.model.response.evacuating
            self.crush_injured += len(hurt)
            self.model.log(Event.CRUSH_INJURY, "crowd", f"n={len(hurt)}")
