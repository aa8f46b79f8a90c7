"""The attack of one replicate, drawn up front, and the mechanism that runs its attackers.

Every draw comes from the run's ``threat`` stream in a fixed number and order, whatever the
configuration, so every configuration of a replicate faces the same attacker (common random
numbers). Where the attacker then goes depends on the configuration (the queue is longer
with fewer lanes; an adaptive attacker avoids sure screening).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from softtarget.sim.columns import PREVENTED_ENDS, Event, Phase
from softtarget.sim.schema import Threat as ThreatSpec
from softtarget.sim.threat.attacker import Attacker
from softtarget.sim.threat.blade import Stabber
from softtarget.sim.threat.firearm import Shooter
from softtarget.sim.threat.pbied import Bomber
from softtarget.sim.threat.targets import target_point
from softtarget.sim.threat.vehicle import Driver

if TYPE_CHECKING:
    from softtarget.sim.model import SoftTargetModel
    from softtarget.sim.staff import StaffMember

#: The attacker class of each mode of attack.
MODES: dict[str, type[Attacker]] = {
    "firearm": Shooter,
    "blade": Stabber,
    "pbied": Bomber,
    "vehicle": Driver,
}


def _weighted_choice(weights: dict[Any, float], u: float) -> Any:
    keys = list(weights)
    w = np.array([weights[k] for k in keys], dtype=float)
    cum = np.cumsum(w / w.sum())
    return keys[int(min(np.searchsorted(cum, u, side="right"), len(keys) - 1))]


#: The phases before the attack in which an attacker may show an indicator, in draw order.
LOOK_PHASES: tuple[Phase, ...] = (Phase.RECONNAISSANCE, Phase.APPROACH)


def draw_looks(th: ThreatSpec, rng: np.random.Generator) -> np.ndarray:
    """Each cell member's conspicuousness multiplier per phase before the attack.

    0 for an attacker who shows no indicator in that phase (chance 1 −
    ``indicator_probability``), otherwise a gamma draw with mean 1 and shape
    ``conspicuousness_shape``. Observers share it: a concealed attacker stays concealed
    however many watch, so detection levels off as observers are added. A fixed number of
    draws whatever the spec, so configurations of a replicate meet the same attackers.
    """
    n = (max(th.attackers), len(LOOK_PHASES))
    shows = rng.random(n) < np.array([th.indicator_probability.get(p, 0.0) for p in LOOK_PHASES])
    k = th.conspicuousness_shape
    return np.where(shows, rng.gamma(k, 1.0 / k, n), 0.0)


@dataclass(frozen=True)
class Member:
    """One cell member's share of the attack."""

    team: int  # 0: beside the first member; a member on their own is a team of their own
    mode: str
    target: str
    target_u: np.ndarray  # uniforms placing the team's target point in its zone
    start_s: float
    arrive_s: float


def draw_members(
    th: ThreatSpec,
    rng: np.random.Generator,
    *,
    mode: str,
    target: str,
    target_u: np.ndarray,
    start: float,
    on_site: float,
) -> tuple[Member, ...]:
    """Who in a cell of ``max(th.attackers)`` does what (``threat.cell``).

    The first member strikes ``target`` at ``start`` with ``mode``; each later one stays
    beside the first or, with ``cell.split_probability``, strikes on their own: a target
    from ``threat.target``, ``cell.stagger_s`` later, with a weapon from ``threat.mix`` at
    ``cell.own_weapon_probability``. A fixed number of draws from ``rng`` whatever the spec.
    """
    n = max(th.attackers)
    u = rng.random((n, 6))
    stagger = np.atleast_1d(th.cell.stagger_s.sample(rng, n)).astype(float)

    def member(team: int, m: str, tgt: str, tu: np.ndarray, t: float) -> Member:
        lead = th.vehicle.on_site_s if m == "vehicle" else on_site
        return Member(team, m, tgt, tu, t, max(0.0, t - lead))

    members = [member(0, mode, target, target_u, start)]
    for i in range(1, n):
        if u[i, 0] >= th.cell.split_probability:
            members.append(member(0, mode, target, target_u, start))
            continue
        own = (
            _weighted_choice(th.mix, u[i, 2]) if u[i, 1] < th.cell.own_weapon_probability else mode
        )
        tgt = _weighted_choice(th.target, u[i, 3])
        members.append(member(i, own, tgt, u[i, 4:6], start + float(stagger[i])))
    return tuple(members)


@dataclass(frozen=True)
class ThreatPlan:
    """What the threat of one replicate is, before anyone acts on it."""

    attack: bool  # whether the run has an attack at all
    mode: str | None
    attackers: int
    target: str | None
    start_s: float  # planned start (NaN without an attack)
    arrive_s: float  # when the attackers arrive for the attack
    recon_window: tuple[float, float] | None  # a reconnaissance visit earlier in the window
    adapts: bool  # strikes the queue when screening would likely catch the weapon
    target_u: np.ndarray  # uniforms placing the target point in its zone
    per_attacker: np.ndarray  # (cell members, 6) uniforms: screening, offset, deterrence...
    looks: np.ndarray  # (cell members, len(LOOK_PHASES)) conspicuousness multipliers
    members: tuple[Member, ...]  # every possible member's share; the first ``attackers`` act

    @property
    def modes(self) -> str | None:
        """The mode of attack, or ``mixed`` for a cell whose members carry different weapons."""
        kinds = {m.mode for m in self.members[: self.attackers]}
        return self.mode if len(kinds) <= 1 else "mixed"

    @classmethod
    def draw(
        cls,
        th: ThreatSpec,
        rng: np.random.Generator,
        looks_rng: np.random.Generator,
        cell_rng: np.random.Generator,
    ) -> ThreatPlan:
        """Draw the replicate's threat: a fixed number of draws, in a fixed order.

        How noticeable each attacker is before the attack comes from ``looks_rng``, and how
        a cell shares out the attack from ``cell_rng``: streams of their own, so adding them
        left every other draw as it was.
        """
        u = rng.random(8)
        per_attacker = rng.random((max(th.attackers), 6))
        start = float(th.start_s.sample(rng))
        on_foot = float(th.on_site_before_s.sample(rng))
        recon_len = float(th.reconnaissance_s.sample(rng))
        recon_lead = float(th.reconnaissance_lead_s.sample(rng))  # its own draw, not u[7]
        attack = bool(u[0] < th.probability)
        mode = _weighted_choice(th.mix, u[1]) if attack else None
        recon = bool(attack and u[4] < th.reconnaissance_probability)
        # a vehicle drives up shortly before striking; people on foot spend a while on site
        on_site = th.vehicle.on_site_s if mode == "vehicle" else on_foot
        arrive = max(0.0, start - on_site)
        window = None
        if recon:
            r0 = max(0.0, arrive - recon_len - recon_lead)
            window = (r0, min(r0 + recon_len, arrive))
        target = _weighted_choice(th.target, u[3]) if attack else None
        members = draw_members(
            th,
            cell_rng,
            mode=mode or "",
            target=target or "",
            target_u=u[6:8],
            start=start,
            on_site=on_foot,
        )
        return cls(
            attack=attack,
            mode=mode,
            attackers=int(_weighted_choice(th.attackers, u[2])) if attack else 0,
            target=target,
            start_s=start if attack else math.nan,
            arrive_s=arrive,
            recon_window=window,
            adapts=bool(u[5] < th.adaptive_probability),
            target_u=u[6:8],  # a point in the target zone, and nothing else
            per_attacker=per_attacker,
            looks=draw_looks(th, looks_rng),
            members=members,
        )


class Threat:
    """The attackers of one run and what the attack has done so far."""

    def __init__(self, model: SoftTargetModel) -> None:
        """Draw the replicate's attack and create its attackers (Mesa agents)."""
        self.model = model
        self.spec = model.scenario.threat
        rngs = model.rngs
        self.plan = ThreatPlan.draw(self.spec, rngs["threat"], rngs["looks"], rngs["cell"])
        p = self.plan
        #: Each team's target (team 0: the first member and those beside them); an adaptive
        #: attacker may change their team's to the queue.
        self.targets = {m.team: m.target for m in p.members[: p.attackers]}
        self.recon_window = p.recon_window  # questioning ends a visit early
        self.began = False
        self.t_began = p.start_s  # earlier when a challenged bomber detonates
        self.t_armed_on_scene = math.nan  # first armed staff within range of an attacker
        self.attackers: list[Attacker] = []
        self.by_id: dict[int, Attacker] = {}
        for i, member in enumerate(p.members[: p.attackers]):
            a = MODES[member.mode](model, i, member, p.per_attacker[i])
            a.looks = dict(zip(LOOK_PHASES, p.looks[i].tolist(), strict=True))
            self.attackers.append(a)
            self.by_id[i] = a
        if p.attack:
            model.log(
                Event.ATTACK_PLANNED,
                "threat",
                f"{p.mode} x{p.attackers} target={p.target} start={p.start_s:.0f}s",
            )
            for i, m in enumerate(p.members[1 : p.attackers], start=1):
                if m.team:
                    detail = f"{m.mode} target={m.target} start={m.start_s:.0f}s (on their own)"
                    model.log(Event.ATTACK_PLANNED, f"attacker:{i}", detail)

    def step(self) -> None:
        """Each attacker goes through their phase for this step."""
        for a in self.attackers:
            a.act()

    def in_progress(self) -> bool:
        """Whether any attacker is attacking now."""
        return any(a.phase == Phase.ATTACK for a in self.attackers)

    def began_now(self) -> None:
        """Record that the attack has begun (the first attacker to strike sets the time)."""
        self.began = True
        self.t_began = min(self.t_began, self.model.t)

    def armed_on_scene(self, member: StaffMember) -> None:
        """Armed ``member`` is within range of an attacker in the attack: recorded once."""
        if math.isnan(self.t_armed_on_scene):
            self.t_armed_on_scene = self.model.t
            self.model.log(Event.ARMED_ON_SCENE, member.name)

    def end(self) -> tuple[str | None, float]:
        """How the attack ended and its duration (s): the last attacker's end.

        ``prevented`` when no attacker struck and each was stopped; ``ongoing`` when one is
        still attacking at the end of the run (duration NaN); None without an attack.
        """
        if not self.plan.attack:
            return None, math.nan
        if not self.began:
            stopped = all(a.end in PREVENTED_ENDS for a in self.attackers)
            return ("prevented" if stopped else None), math.nan
        if any(a.active for a in self.attackers):
            return "ongoing", math.nan
        last = max(self.attackers, key=lambda a: a.ended_at)
        return str(last.end), float(last.ended_at - self.t_began)

    @property
    def target_choice(self) -> str | None:
        """The first member's target (``attack_target`` in the runs table)."""
        return self.targets.get(0, self.plan.target)

    def target_point(self, attacker: Attacker) -> tuple[np.ndarray, bool]:
        """Where ``attacker`` heads, and whether that is inside the perimeter."""
        m = attacker.member
        return target_point(self.model, self.targets[m.team], m.target_u, attacker.offset)

    def adapt_to_queue(self, attacker: Attacker) -> None:
        """``attacker``'s team strikes the queue outside the perimeter instead."""
        self.targets[attacker.member.team] = "queue"
