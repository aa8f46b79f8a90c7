"""Who notices an attacker: staff in person, CCTV operators through cameras, and visitors.

Each observer with the attacker in range and in sight has a per-second chance to notice
indicators: skill × the attacker's conspicuousness now × crowd occlusion at the attacker
(1 / (1 + density / ``crowd.occlusion_density_ppm2``)). Before the attack the
conspicuousness is the attacker's own: whether they show any indicator in the phase at all
(``threat.indicator_probability``) and how plainly (a gamma draw, mean 1) are drawn once and
shared by every observer (:attr:`~softtarget.sim.threat.Attacker.conspicuousness`). Observers
are therefore not independent trials: an attacker who shows nothing passes every guard, and
adding observers levels off at the share of attackers who show something, as field studies of
behavioural detection find (REFERENCES.md). Staff and visitors need a clear line
of sight within their view range (:mod:`softtarget.sim.sight`); a camera needs the attacker
in its coverage (not its blind spot) and is as good as its operators' skill and share of
attention. A notice is a detection when it is reported; reports go up the chain
(:mod:`softtarget.sim.coordination`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from softtarget.sim.columns import Event, Phase
from softtarget.sim.sight import coverage_for, sight_for

if TYPE_CHECKING:
    from softtarget.sim.model import SoftTargetModel
    from softtarget.sim.threat import Attacker


def per_step(rate: float, dt: float) -> float:
    """The chance of a notice within one step of ``dt`` s at ``rate`` per second (capped at 1)."""
    return 1.0 - (1.0 - min(1.0, rate)) ** dt


@dataclass(frozen=True)
class WatchedCamera:
    """A camera that someone watches live: its coverage, its operators and their attention."""

    name: str
    mask: np.ndarray  # covered cells of the sight raster
    group: str  # the CCTV operators' staff group
    attention: float  # share of full attention this camera gets


class Detection:
    """The observers of a run and the first detection."""

    def __init__(self, model: SoftTargetModel) -> None:
        """The venue's sight lines and the cameras the configuration's operators watch.

        An operator gives full attention to ``screens_per_operator`` cameras; a group
        watching more cameras than its operators can follow shares its attention among them
        evenly. Cameras nobody watches record only: they detect nothing live.
        """
        self.model = model
        cfg, venue = model.config, model.scenario.venue
        self.sight = sight_for(venue)
        operators = [n for n, g in cfg.staff.items() if g.role == "cctv_operator"]
        watched: dict[str, list[str]] = {}
        for name, cam in cfg.cameras.items():
            group = cam.watched_by or (operators[0] if operators else None)
            if group is not None:
                watched.setdefault(group, []).append(name)
        self.cameras: list[WatchedCamera] = []
        for group, names in watched.items():
            spec = cfg.staff[group]
            attention = min(1.0, spec.count * spec.screens_per_operator / len(names))
            for name in names:
                mask = coverage_for(venue, cfg.cameras[name])
                self.cameras.append(WatchedCamera(name, mask, group, attention))
        self.camera_noticed: set[tuple[str, int, str]] = set()  # (camera, attacker, kind)
        campaign = cfg.citizens.report_probability
        crowd = model.scenario.crowd.report_probability
        self.report_probability = crowd if campaign is None else campaign
        self.t_first = math.nan

    def record(self, a: Attacker, by: str) -> None:
        """``by`` detected attacker ``a`` now."""
        if math.isnan(self.t_first):
            self.t_first = self.model.t
        self.model.log(Event.DETECTION, by, f"{a.name} phase={a.phase}")

    def occlusion(self, point: np.ndarray) -> float:
        """The factor by which the crowd around ``point`` hides it from observers."""
        rho = float(self.model.density.grid().ravel()[self.model.geo.cell_of(point[None, :])[0]])
        return 1.0 / (1.0 + rho / self.model.scenario.crowd.occlusion_density_ppm2)

    def step(self) -> None:
        """Every observer may notice every attacker on site (a driving vehicle is no notice)."""
        for a in self.model.threat.attackers:
            if not a.active or (a.mode == "vehicle" and a.phase == Phase.ATTACK):
                continue
            c = a.conspicuousness
            if c <= 0:
                continue
            occ = self.occlusion(a.pos)
            kind = "attack" if a.phase == Phase.ATTACK else "suspect"
            self._staff(a, c, occ, kind)
            self._cameras(a, c, occ, kind)
            self._visitors(a, c, occ, kind)

    def _staff(self, a: Attacker, c: float, occ: float, kind: str) -> None:
        rng, dt = self.model.rngs["detection"], self.model.dt
        watching = [
            s
            for s in self.model.staff.members
            if s.observes
            and a.ident not in (s.alarmed if kind == "attack" else s.noticed)
            and np.hypot(*(s.pos - a.pos)) <= s.spec.view_range_m
        ]
        if not watching:
            return
        seen = self.sight.clear(np.array([s.pos for s in watching]), a.pos)
        for s, sees in zip(watching, seen, strict=True):
            p = per_step(s.spec.skill * c * occ, dt)
            if sees and rng.random() < p:
                s.noticed_attacker(a, kind)

    def _cameras(self, a: Attacker, c: float, occ: float, kind: str) -> None:
        model = self.model
        rng, dt = model.rngs["detection"], model.dt
        for cam in self.cameras:
            if (cam.name, a.ident, kind) in self.camera_noticed:  # the attack is news again
                continue
            if not self.sight.covered(cam.mask, a.pos)[0]:
                continue
            spec = model.config.staff[cam.group]
            p = per_step(spec.skill * c * occ * cam.attention, dt)
            if rng.random() < p:
                if (cam.name, a.ident, "suspect") not in self.camera_noticed:
                    self.record(a, f"camera:{cam.name}")
                self.camera_noticed.add((cam.name, a.ident, kind))
                model.chain.operator_report(cam.group, cam.name, a.ident, kind)

    def _visitors(self, a: Attacker, c: float, occ: float, kind: str) -> None:
        """Visitors in view notice together; one who notices reports with report_probability."""
        model, cw = self.model, self.model.scenario.crowd
        rng = model.rngs["detection"]
        if a.visitor_reports >= cw.max_reports_per_attacker:
            return
        idx, _ = model.crowd.alive_near(a.pos, cw.view_range_m)
        if len(idx):
            idx = idx[self.sight.clear(model.crowd.xy[idx], a.pos)]
        k = len(idx)
        p_any = per_step(cw.notice_skill * c * occ, k * model.dt)
        noticed = bool(k) and rng.random() < p_any
        if noticed and rng.random() < self.report_probability:
            self.record(a, "visitor")
            a.visitor_reports += 1
            model.chain.visitor_report(a, kind)
