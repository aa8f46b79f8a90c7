"""Security staff as Mesa agents: they stand posts, walk beats, notice, challenge and engage.

Each member belongs to a staff group of the configuration (role, post or beat, skill, powers,
cost). What a member may do is the role's powers (:data:`softtarget.sim.schema.POWERS`):
``detain`` — go and challenge a suspect, question someone on reconnaissance; ``neutralise`` —
armed staff engage an attacker; ``guide`` — steer an evacuation (:mod:`softtarget.sim.exits`);
``dispatch`` — the police room sends them to incidents (:mod:`softtarget.sim.response`);
``screen`` — work a lane (:mod:`softtarget.sim.screening`). What they notice, they report
over the chain (:mod:`softtarget.sim.coordination`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa
import numpy as np

from softtarget.sim.columns import End, Event, Phase
from softtarget.sim.schema import DEFAULT_SIDE, POWERS, StaffGroup

if TYPE_CHECKING:
    from softtarget.sim.model import SoftTargetModel
    from softtarget.sim.threat import Attacker


def _move(pos: np.ndarray, goal: np.ndarray, speed: float, dt: float) -> tuple[np.ndarray, bool]:
    d = goal - pos
    dist = float(np.hypot(d[0], d[1]))
    if dist <= speed * dt:
        return goal.copy(), True
    return pos + d * (speed * dt / dist), False


class StaffMember(mesa.Agent):
    """A police officer, guard, steward, operator or transit officer."""

    model: SoftTargetModel

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
        self.noticed: set[int] = set()  # attackers this member has seen (suspect or attack)
        self.alarmed: set[int] = set()  # attackers whose attack this member has reported
        self.at_post = True
        powers = POWERS[self.role]
        self.powers = powers if spec.armed else powers - {"neutralise"}

    @property
    def name(self) -> str:
        """How events and messages name this member."""
        return f"staff:{self.unique_id}"

    @property
    def dispatchable(self) -> bool:
        """Whether the police room can send this member to an incident."""
        return "dispatch" in self.powers

    @property
    def observes(self) -> bool:
        """Whether this member watches the crowd in person."""
        return self.on_site and self.role != "cctv_operator"

    # ---------------------------------------------------------------------- movement ---

    def step(self) -> None:
        """Walk the beat, stand the post, or move towards the attacker being responded to.

        Unarmed staff responding to an active shooter keep ``standoff_m`` away.
        """
        model = self.model
        dt = model.dt
        if not self.on_site:
            if model.t < self.arrives_at:
                return
            self.on_site = True
            self.pos = model.arrival_point.copy()
        if self.target is not None:
            attacker = model.threat.by_id[self.target]
            if not attacker.active:
                self.target = None
            else:
                keep = 0.0
                if attacker.phase == Phase.ATTACK and not self.spec.armed:
                    keep = self.spec.standoff_m if attacker.mode == "firearm" else 0.0
                d = attacker.pos - self.pos
                dist = float(np.hypot(d[0], d[1]))
                if dist > keep + 0.5:
                    goal = attacker.pos - d / max(dist, 1e-9) * keep
                    self.pos, _ = _move(self.pos, goal, self.spec.speed_mps, dt)
                    self.at_post = False
                return
        if model.t < self.busy_until:
            return
        speed = self.spec.patrol_speed_mps
        if self.spec.patrol:
            self.pos, reached = _move(self.pos, self.waypoint, speed, dt)
            if reached:
                self.patrol_index = (self.patrol_index + 1) % len(self.spec.patrol)
                self.waypoint = model.staff.patrol_point(self.spec.patrol[self.patrol_index])
        elif not self.at_post:
            self.pos, self.at_post = _move(self.pos, self.post_point, speed, dt)

    # -------------------------------------------------------------- noticing, engaging ---

    def perceive(self, attacker: Attacker, radius: float) -> None:
        """An attack within ``radius`` (gunfire, a blast, a stabbing) is perceived and reported.

        Those who may stop the attacker (armed, to neutralise; with powers to detain, facing a
        blade) go for them; the others stay at a distance. A member who had reported them as a
        suspect reports the attack too (it is news), but is not counted as detecting again.
        """
        if not self.observes or attacker.ident in self.alarmed:
            return
        if np.hypot(*(self.pos - attacker.pos)) > radius:
            return
        self.alarmed.add(attacker.ident)
        if attacker.ident not in self.noticed:
            self.noticed.add(attacker.ident)
            self.model.detection.record(attacker, f"{self.name}:{self.role}")
        self.model.chain.staff_report(self, attacker.ident, "attack")
        engages = "neutralise" in self.powers or (
            attacker.mode == "blade" and "detain" in self.powers
        )
        if engages and self.target is None:
            self.target = attacker.ident

    def noticed_attacker(self, attacker: Attacker, kind: str) -> None:
        """Having noticed ``attacker``, report it, and go and challenge a suspect."""
        if kind == "attack":
            self.alarmed.add(attacker.ident)
        if attacker.ident not in self.noticed:
            self.noticed.add(attacker.ident)
            self.model.detection.record(attacker, f"{self.name}:{self.role}")
        self.model.chain.staff_report(self, attacker.ident, kind)
        if kind == "suspect" and "detain" in self.powers and self.target is None:
            self.target = attacker.ident

    def told_of(self, about: int, kind: str) -> None:
        """A visitor told this member about attacker ``about``: pass it on, and go and look.

        A concern about a suspect is taken up with the group's ``escalate_probability`` (else
        dismissed, an event); an attack under way always is. Taken up, the report goes up the
        chain as the member's own, and a member with powers to detain who is not already
        responding goes to challenge a suspect (what they find is recorded as a detection
        when they reach and question or challenge them).
        """
        if kind == "suspect" and not (
            self.model.rngs["escalation"].random() < self.spec.escalate_probability
        ):
            self.model.log(Event.CONCERN_DISMISSED, self.name, f"attacker:{about}")
            return
        self.model.chain.staff_report(self, about, kind)
        if kind == "suspect" and "detain" in self.powers and self.target is None and self.on_site:
            self.target = about

    def engage(self, a: Attacker, rng: np.random.Generator) -> bool:
        """Act on attacker ``a`` this member is responding to; True when that ends their turn.

        Within ``intercept_range_m`` a suspect on reconnaissance is questioned (and may be
        deterred) and one approaching is challenged; armed staff within ``engage_range_m`` hit
        an attacker with ``hit_probability`` per second; anyone within a blade attacker's
        reach may subdue them.
        """
        model, th = self.model, self.model.scenario.threat
        d = float(np.hypot(*(self.pos - a.pos)))
        near = d <= self.spec.intercept_range_m
        if a.phase == Phase.RECONNAISSANCE:
            if not near:
                return False
            model.detection.record(a, f"{self.name}:{self.role}")
            model.log(Event.QUESTIONED, self.name, a.name)
            self.target = None
            if a.deter_u < th.deterred_if_questioned:
                a.finish(End.DETERRED)
            else:  # the visit ends; the plan goes on
                a.phase = Phase.WAITING
                model.threat.recon_window = None
            return True
        if a.phase != Phase.ATTACK:
            if not near:
                return False
            model.detection.record(a, f"{self.name}:{self.role}")
            model.log(Event.CHALLENGED, self.name, a.name)
            a.challenged()
            return True
        if self.spec.armed and d <= self.spec.engage_range_m:
            model.threat.armed_on_scene(self)
            if rng.random() < 1.0 - (1.0 - self.spec.hit_probability) ** model.dt:
                a.finish(End.NEUTRALISED)
                return True
            return False
        if (
            a.mode == "blade"
            and d <= th.blade.reach_m
            and rng.random() < 1.0 - (1.0 - th.blade.staff_subdue_per_s) ** model.dt
        ):
            a.finish(End.SUBDUED)
            return True
        return False


class Staff:
    """Every member of staff of a configuration, posted at the start of the run."""

    def __init__(self, model: SoftTargetModel) -> None:
        """Post each group's members at their post or on their beat; armed units off site."""
        self.model = model
        self.rng = model.rngs["response"]
        cfg = model.config
        self.members: list[StaffMember] = []
        for group, spec in cfg.staff.items():
            for _ in range(spec.count):
                self.members.append(self._post(group, spec))
        self.by_name = {s.name: s for s in self.members}
        rooms = sum(p.cost_per_hour_eur for p in model.chain.graph.parties.values())
        people = sum(s.count * s.cost_per_hour_eur for s in cfg.staff.values())
        self.cost = (people + rooms) * cfg.shift_h  # staff and control rooms, one shift
        self.false_alarms = 0

    def _post(self, group: str, spec: StaffGroup) -> StaffMember:
        on_site = spec.role != "armed_response"
        if spec.post == "control_room" or (spec.post is None and not spec.patrol):
            pos = self.model.arrival_point.copy()
        elif spec.patrol:
            pos = self.patrol_point(spec.patrol[int(self.rng.integers(len(spec.patrol)))])
        else:
            pos = self.patrol_point(spec.post)  # type: ignore[arg-type]
        member = StaffMember(self.model, group, spec, pos, on_site)
        if spec.patrol:
            member.patrol_index = int(self.rng.integers(len(spec.patrol)))
            member.waypoint = self.patrol_point(spec.patrol[member.patrol_index])
        return member

    def patrol_point(self, zone_name: str) -> np.ndarray:
        """A random point in the named zone (staff posts and beats)."""
        geo = self.model.geo
        return geo.sample(geo.index(zone_name), self.rng.random((1, 2)))[0]

    def observers(self) -> list[StaffMember]:
        """Members watching the crowd in person now."""
        return [s for s in self.members if s.observes]

    def on_site_within(self, pos: np.ndarray, radius: float) -> int:
        """How many members on site stand within ``radius`` of ``pos``."""
        return sum(1 for s in self.members if s.on_site and np.hypot(*(s.pos - pos)) <= radius)

    def armed_in_range(self, pos: np.ndarray) -> bool:
        """Whether an armed member on site is within their engage range of ``pos``."""
        return any(
            s.on_site and s.spec.armed and np.hypot(*(s.pos - pos)) <= s.spec.engage_range_m
            for s in self.members
        )

    def step(self) -> None:
        """Every member moves."""
        for member in self.members:
            member.step()

    def raise_false_alarms(self) -> None:
        """Observers raise unfounded reports at their groups' rate; each goes up the chain."""
        rng = self.model.rngs["detection"]
        watchers = [s for s in self.members if s.observes and s.spec.false_alarms_per_h > 0]
        if not watchers:
            return
        rates = np.array([s.spec.false_alarms_per_h for s in watchers]) / 3600.0 * self.model.dt
        for i in np.flatnonzero(rng.random(len(watchers)) < rates):
            s = watchers[int(i)]
            self.false_alarms += 1
            self.model.log(Event.FALSE_ALARM, s.name)
            self.model.chain.staff_report(s, -1, "false_alarm")

    def engage(self) -> None:
        """Members responding to an active attacker act on them, in order, until one ends it."""
        rng = self.model.rngs["response"]
        for a in self.model.threat.attackers:
            if not a.active:
                continue
            for s in self.members:
                if s.target == a.ident and s.on_site and s.engage(a, rng):
                    break
