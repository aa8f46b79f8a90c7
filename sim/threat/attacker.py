"""An attacker's life: waiting, a possible reconnaissance visit, arrival, approach, attack, end.

One :class:`Attacker` is one Mesa agent; each mode of attack subclasses it and owns how it
strikes (:meth:`Attacker.strike`), what it does when the attack begins
(:meth:`Attacker.begin`) and, for a vehicle, how it arrives. What the attack makes others do —
staff perceive it, people flee — goes through :meth:`Attacker.alarm`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa
import numpy as np

from softtarget.sim.columns import End, Event, Phase
from softtarget.sim.schema import detection_probability

if TYPE_CHECKING:
    from softtarget.sim.model import SoftTargetModel
    from softtarget.sim.threat.plan import Member


def walk_towards(pos: np.ndarray, goal: np.ndarray, speed: float, dt: float) -> np.ndarray:
    """``pos`` moved towards ``goal`` by ``speed`` × ``dt`` (stopping on it)."""
    d = goal - pos
    dist = float(np.hypot(*d))
    return goal.copy() if dist <= speed * dt else pos + d * speed * dt / dist


class Attacker(mesa.Agent):
    """One attacker of a cell: arrives, may be screened, approaches the target, attacks, ends."""

    model: SoftTargetModel
    mode = ""
    #: Whether the attacker walks during the approach (a vehicle waits on its approach road).
    walks = True

    def __init__(self, model: SoftTargetModel, ident: int, member: Member, u: np.ndarray) -> None:
        """Cell member ``ident`` with their share of the attack and their six uniforms ``u``."""
        super().__init__(model)
        th = model.scenario.threat
        self.ident = ident
        self.member = member
        self.phase = Phase.WAITING
        self.end: End | None = None
        self.pos = np.zeros(2)
        self.goal = np.zeros(2)
        self.ended_at = np.nan
        self.visitor_reports = 0
        #: Conspicuousness multiplier in each phase before the attack (0: shows nothing);
        #: set by :class:`~softtarget.sim.threat.plan.Threat` from the replicate's plan.
        self.looks: dict[Phase, float] = {}
        self.screen_u = u[0]  # compared with the screening catch probability
        self.deter_u = u[3]  # compared with the deterrence probability
        self.detonate_u = u[4]  # compared with the chance a challenged bomber detonates
        self.offset = (u[1:3] - 0.5) * th.cell_spread_m  # cell members stand a few m apart
        self.walk_speed = th.walk_speed_mps

    @property
    def start(self) -> float:
        """When this member strikes (their share of the cell's plan)."""
        return self.member.start_s

    @property
    def name(self) -> str:
        """How events name this attacker."""
        return f"attacker:{self.ident}"

    @property
    def active(self) -> bool:
        """On site and not yet stopped."""
        return self.phase in (Phase.RECONNAISSANCE, Phase.APPROACH, Phase.ATTACK)

    @property
    def conspicuousness(self) -> float:
        """How noticeable this attacker is now (multiplies an observer's skill).

        In the attack every attacker is as conspicuous as ``threat.conspicuousness["attack"]``;
        before it, the phase's conspicuousness times this attacker's own draw for the phase,
        so that an attacker who hides well hides from everyone.
        """
        c = self.model.scenario.threat.conspicuousness.get(self.phase, 0.0)
        if self.phase == Phase.ATTACK:
            return c
        return c * self.looks.get(self.phase, 0.0)

    def act(self) -> None:
        """Do what this step of the attacker's phase asks."""
        t, threat = self.model.t, self.model.threat
        if self.phase == Phase.WAITING:
            window = threat.recon_window
            if window and window[0] <= t < window[1]:
                self.phase = Phase.RECONNAISSANCE
                self.pos = self.model.arrival_point.copy()
                self.goal, _ = threat.target_point(self)
                self.model.log(Event.RECONNAISSANCE_START, self.name)
            elif t >= self.member.arrive_s:
                self.arrive()
        elif self.phase == Phase.RECONNAISSANCE:
            self.pos = walk_towards(self.pos, self.goal, self.walk_speed, self.model.dt)
            # the visit ends at its planned end, or for the whole cell when one of them was
            # questioned and not put off
            if threat.recon_window is None or t >= threat.recon_window[1]:
                self.phase = Phase.WAITING
                self.model.log(Event.RECONNAISSANCE_END, self.name)
        elif self.phase == Phase.APPROACH:
            speed = self.walk_speed if self.walks else 0.0
            self.pos = walk_towards(self.pos, self.goal, speed, self.model.dt)
            if t >= self.start:
                self.start_attack()
        elif self.phase == Phase.ATTACK:
            self.strike()

    def arrive(self) -> None:
        """Arrive for the attack: adapt to screening, pass or be caught at the lanes."""
        model, threat = self.model, self.model.threat
        checkpoints = model.screening.checkpoints
        goal, inside = threat.target_point(self)
        p_catch = detection_probability(model.config.screening, self.mode) if checkpoints else 0.0
        if (
            inside
            and checkpoints
            and p_catch >= threat.spec.adaptive_threshold
            and threat.plan.adapts
        ):
            threat.adapt_to_queue(self)
            goal, inside = threat.target_point(self)
            model.log(Event.ATTACKER_ADAPTED, self.name, "strikes the queue outside")
        self.pos = model.arrival_point.copy()
        self.goal = goal
        self.phase = Phase.APPROACH
        model.log(
            Event.ATTACKER_ARRIVED, self.name, "target inside" if inside else "target outside"
        )
        if inside and checkpoints:
            if self.screen_u < p_catch:
                model.detection.record(self, "screening")
                model.chain.screening_catch(self)
                self.challenged(End.CAUGHT)  # at the lanes: the arrival point
            else:
                model.log(Event.SCREENING_PASSED, self.name, self.mode)

    def challenged(self, end: End = End.STOPPED) -> None:
        """Stopped before the attack (at the lanes or by staff)."""
        self.finish(end)

    def start_attack(self) -> None:
        """The attack begins where the attacker stands."""
        model = self.model
        model.threat.began_now()
        self.phase = Phase.ATTACK
        inside = bool(model.geo.inside_perimeter(self.pos[None, :])[0])
        where = "inside" if inside else "outside"
        model.log(
            Event.ATTACK_START,
            self.name,
            f"{self.mode} at ({self.pos[0]:.1f}, {self.pos[1]:.1f}) {where} the perimeter",
        )
        self.begin()

    def begin(self) -> None:
        """What the mode does at the moment its attack begins."""

    def strike(self) -> None:
        """One step of the attack."""

    def finish(self, end: End, why: str = "") -> None:
        """End this attacker's part with ``end`` (recorded as an event, with ``why``)."""
        self.phase = Phase.ENDED
        self.end = end
        self.ended_at = self.model.t
        self.model.log(end.event, self.name, f"{self.mode}: {why}" if why else self.mode)

    # ---------------------------------------------------------------- what others perceive ---

    def alarm(self, radius: float) -> None:
        """Everyone within ``radius`` perceives the attack (gunfire, a blast, a stabbing).

        Staff on site perceive it and act (:meth:`~softtarget.sim.staff.StaffMember.perceive`);
        visitors flee after their reaction delay, and some of those who perceive it now call
        the emergency number (:meth:`~softtarget.sim.coordination.Chain.calls`).
        """
        if self.active:
            for member in self.model.staff.members:
                member.perceive(self, radius)
        perceived = self.model.crowd.flee(self.pos, radius)
        self.model.chain.calls(self, len(perceived))

    def in_view(self, radius: float) -> tuple[np.ndarray, np.ndarray]:
        """People within ``radius`` with no wall between them and the attacker: (idx, m)."""
        idx, d = self.model.crowd.alive_near(self.pos, radius)
        if len(idx):
            seen = self.model.detection.sight.clear(self.model.crowd.xy[idx], self.pos)
            idx, d = idx[seen], d[seen]
        return idx, d

    def harm(self, people: np.ndarray, killed: np.ndarray, cause: Event) -> None:
        """``people`` are killed (where ``killed``) or injured by this attacker."""
        if len(people) == 0:
            return
        self.model.crowd.harm(people, killed)
        self.model.log(
            cause, self.name, f"killed={int(killed.sum())} injured={int((~killed).sum())}"
        )
