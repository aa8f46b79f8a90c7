"""Sparse decision-makers as Mesa agents: security staff and attackers.

The crowd, thousands of people, lives in arrays (:mod:`sim.crowd`); staff and attackers are
few, have their own state machines, and are Mesa ``Agent`` objects held in ``AgentSet``s.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa
import numpy as np

from sim.schema import DEFAULT_SIDE, POWERS, StaffGroup

if TYPE_CHECKING:
    from sim.model import SoftTargetModel

PATROL_SPEED = 1.2  # m/s, an officer walking a beat (E)
INTERCEPT_RANGE = 3.0  # m: close enough to stop and question a suspect (E)


def _move(pos: np.ndarray, goal: np.ndarray, speed: float, dt: float) -> tuple[np.ndarray, bool]:
    d = goal - pos
    dist = float(np.hypot(d[0], d[1]))
    if dist <= speed * dt:
        return goal.copy(), True
    return pos + d * (speed * dt / dist), False


class StaffMember(mesa.Agent):
    """A police officer, guard, steward, operator or transit officer."""

    def __init__(
        self, model: SoftTargetModel, group: str, spec: StaffGroup, pos: np.ndarray, on_site: bool
    ) -> None:
        """One member of staff group ``group`` standing at ``pos``."""
        super().__init__(model)
        self.group = group
        self.spec = spec
        self.role = spec.role
        self.side = spec.side or DEFAULT_SIDE[spec.role]
        self.pos = pos.astype(float)
        self.on_site = on_site
        self.post_point = pos.astype(float)
        self.patrol_index = 0
        self.waypoint = pos.astype(float)
        self.target: int | None = None  # attacker id being responded to
        self.busy_until = -np.inf
        self.arrives_at = np.inf  # off-site units: when they reach the venue
        self.noticed: set[int] = set()
        self.at_post = True

    @property
    def police(self) -> bool:
        """Public police of any kind (can be dispatched by the police room)."""
        return self.role in ("police", "armed_response")

    @property
    def powers(self) -> frozenset[str]:
        """What this member may do (:data:`sim.schema.POWERS`); neutralise only when armed."""
        powers = POWERS[self.role]
        return powers if self.spec.armed else powers - {"neutralise"}

    @property
    def observes(self) -> bool:
        """Whether this member watches the crowd in person."""
        return self.on_site and self.role != "cctv_operator"

    def step(self) -> None:
        """Walk the beat, stand the post, or move towards the attacker being responded to."""
        model = self.model
        dt = model.dt
        if not self.on_site:
            if model.t >= self.arrives_at:
                self.on_site = True
                self.pos = model.arrival_point.copy()
            else:
                return
        if self.target is not None:
            attacker = model.attackers_by_id[self.target]
            if not attacker.active:
                self.target = None
            else:
                keep = 0.0
                if attacker.phase == "attack" and not self.spec.armed:
                    keep = 50.0 if attacker.mode == "firearm" else 0.0
                d = attacker.pos - self.pos
                dist = float(np.hypot(d[0], d[1]))
                if dist > keep + 0.5:
                    goal = attacker.pos - d / max(dist, 1e-9) * keep
                    self.pos, _ = _move(self.pos, goal, self.spec.speed_mps, dt)
                    self.at_post = False
                return
        if model.t < self.busy_until:
            return
        if self.spec.patrol:
            self.pos, reached = _move(self.pos, self.waypoint, PATROL_SPEED, dt)
            if reached:
                self.patrol_index = (self.patrol_index + 1) % len(self.spec.patrol)
                self.waypoint = model.patrol_point(self.spec.patrol[self.patrol_index])
        elif not self.at_post:
            self.pos, self.at_post = _move(self.pos, self.post_point, PATROL_SPEED, dt)


class Attacker(mesa.Agent):
    """One attacker: arrives, may be screened, approaches the target, attacks, ends."""

    def __init__(self, model: SoftTargetModel, ident: int, mode: str, start: float) -> None:
        """Attacker ``ident`` of a cell using ``mode``, planning to strike at ``start``."""
        super().__init__(model)
        self.ident = ident
        self.mode = mode
        self.start = start
        self.phase = "waiting"  # waiting, reconnaissance, approach, attack, or an end
        self.end = ""  # caught, stopped, neutralised, subdued, detonated, spent, barrier
        self.pos = np.zeros(2)
        self.goal = np.zeros(2)
        self.rounds_left = 0
        self.next_shot = 0.0
        self.reload_until = 0.0
        self.ended_at = np.nan
        self.visitor_reports = 0
        self.travelled = 0.0
        self.screen_u = 1.0  # uniform compared with the screening catch probability
        self.deter_u = 1.0  # uniform compared with the deterrence probability
        self.detonate_u = 1.0  # uniform compared with the chance a challenged bomber detonates
        self.offset = np.zeros(2)

    @property
    def active(self) -> bool:
        """On site and not yet stopped."""
        return self.phase in ("reconnaissance", "approach", "attack")

    def finish(self, end: str) -> None:
        """End this attacker's part with ``end`` (recorded as an event)."""
        self.phase = "ended"
        self.end = end
        self.ended_at = self.model.t
        self.model.log("attacker_" + end, f"attacker:{self.ident}", self.mode)
