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

    @classmethod
    def draw(
        cls, th: ThreatSpec, rng: np.random.Generator, looks_rng: np.random.Generator
    ) -> ThreatPlan:
        """Draw the replicate's threat: a fixed number of draws, in a fixed order.

        How noticeable each attacker is before the attack comes from ``looks_rng``, its own
        stream, so adding it left every other draw as it was.
        """
        u = rng.random(8)
        per_attacker = rng.random((max(th.attackers), 6))
        start = float(th.start_s.sample(rng))
        on_site = float(th.on_site_before_s.sample(rng))
        recon_len = float(th.reconnaissance_s.sample(rng))
        recon_lead = float(th.reconnaissance_lead_s.sample(rng))  # its own draw, not u[7]
        attack = bool(u[0] < th.probability)
        mode = _weighted_choice(th.mix, u[1]) if attack else None
        recon = bool(attack and u[4] < th.reconnaissance_probability)
        # a vehicle drives up shortly before striking; people on foot spend a while on site
        on_site = th.vehicle.on_site_s if mode == "vehicle" else on_site
        arrive = max(0.0, start - on_site)
        window = None
        if recon:
            r0 = max(0.0, arrive - recon_len - recon_lead)
            window = (r0, min(r0 + recon_len, arrive))
        return cls(
            attack=attack,
            mode=mode,
            attackers=int(_weighted_choice(th.attackers, u[2])) if attack else 0,
            target=_weighted_choice(th.target, u[3]) if attack else None,
            start_s=start if attack else math.nan,
            arrive_s=arrive,
            recon_window=window,
            adapts=bool(u[5] < th.adaptive_probability),
            target_u=u[6:8],  # a point in the target zone, and nothing else
            per_attacker=per_attacker,
            looks=draw_looks(th, looks_rng),
        )


class Threat:
    """The attackers of one run and what the attack has done so far."""

    def __init__(self, model: SoftTargetModel) -> None:
        """Draw the replicate's attack and create its attackers (Mesa agents)."""
        self.model = model
        self.spec = model.scenario.threat
        self.plan = ThreatPlan.draw(self.spec, model.rngs["threat"], model.rngs["looks"])
        p = self.plan
        self.target_choice = p.target  # an adaptive attacker may change it to the queue
        self.recon_window = p.recon_window  # questioning ends a visit early
        self.began = False
        self.t_began = p.start_s  # earlier when a challenged bomber detonates
        self.t_armed_on_scene = math.nan  # first armed staff within range of an attacker
        self.attackers: list[Attacker] = []
        self.by_id: dict[int, Attacker] = {}
        for i in range(p.attackers):
            a = MODES[p.mode](model, i, p.start_s, p.per_attacker[i])  # type: ignore[index]
            a.looks = dict(zip(LOOK_PHASES, p.looks[i].tolist(), strict=True))
            self.attackers.append(a)
            self.by_id[i] = a
        if p.attack:
            model.log(
                Event.ATTACK_PLANNED,
                "threat",
                f"{p.mode} x{p.attackers} target={p.target} start={p.start_s:.0f}s",
            )

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

    def target_point(self, attacker: Attacker) -> tuple[np.ndarray, bool]:
        """Where ``attacker`` heads, and whether that is inside the perimeter."""
        return target_point(self.model, self.target_choice, self.plan.target_u, attacker.offset)

    def adapt_to_queue(self) -> None:
        """The attacker strikes the queue outside the perimeter instead."""
        self.target_choice = "queue"
