"""The response: police dispatch and the venue's order to evacuate, invacuate or lock down.

The police learn of an incident from a message (:mod:`softtarget.sim.coordination`): the
first alert is recorded, and the police room sends its nearest capable units on site (armed
first against a gun or a vehicle) while armed units off site set out and arrive after their
response time. A false alarm ties one free officer up for ``false_alarm_busy_s``. A control
room that learns of an attack under way orders the configuration's response after
``decision_delay_s``; a drill (``coordination.drill_at_s``) orders it by the clock.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from softtarget.sim.columns import Event, Phase

if TYPE_CHECKING:
    from softtarget.sim.coordination import Message
    from softtarget.sim.model import SoftTargetModel
    from softtarget.sim.units import Dist


class Response:
    """Police dispatch and the venue's response order of one run."""

    def __init__(self, model: SoftTargetModel) -> None:
        """No alert yet; the shelters of the venue for an invacuation."""
        self.model = model
        self.spec = model.config.coordination
        self.rng = model.rngs["response"]
        self.shelters = model.geo.of_kind("shelter")
        self.t_police_alerted = math.nan
        self.t_ordered = math.nan
        self.pending_at = math.inf  # when the response decided on is ordered
        self.room_knows_attack = False
        self.dispatched: set[int] = set()  # attackers the police have sent units to
        self.evacuating = False  # the venue ordered an evacuation
        self.entry_closed = False  # an order is out: nobody more is let onto the site
        if self.spec.drill_at_s is not None:  # a drill: the order comes by the clock
            self.pending_at = float(self.spec.drill_at_s)

    def room_learns(self, kind: str, decision_delay: Dist) -> None:
        """A room with the respond power hears of something.

        An attack under way starts the decision, ordered after ``decision_delay`` (that
        organisation's).
        """
        attack_on = kind == "attack" or self.model.threat.in_progress()
        if attack_on and kind != "false_alarm" and not self.room_knows_attack:
            self.room_knows_attack = True
            delay = float(decision_delay.sample(self.rng))
            self.pending_at = self.model.t + delay

    def police_receive(self, msg: Message) -> None:
        """The police room acts on a message: checks a false alarm, or dispatches units."""
        model = self.model
        staff = model.staff.members
        if msg.kind == "false_alarm":
            free = [
                s
                for s in staff
                if s.dispatchable and s.on_site and s.target is None and model.t >= s.busy_until
            ]
            if free:
                free[0].busy_until = model.t + self.spec.false_alarm_busy_s
                model.log(Event.FALSE_ALARM_CHECKED, free[0].name)
            return
        if math.isnan(self.t_police_alerted):
            self.t_police_alerted = model.t
            model.log(Event.POLICE_ALERTED, "police", msg.kind)
        a = model.threat.by_id.get(msg.about)
        if a is None or not a.active or msg.about in self.dispatched:
            return
        self.dispatched.add(msg.about)
        armed_first = a.mode in ("firearm", "vehicle") and a.phase == Phase.ATTACK
        free = [s for s in staff if s.dispatchable and s.on_site and s.target is None]
        free.sort(key=lambda s: (armed_first and not s.spec.armed, np.hypot(*(s.pos - a.pos))))
        sent = free[: self.spec.units_per_incident]
        for s in sent:
            s.target = a.ident
        for s in staff:  # units off site set out; they arrive after their response time
            off_site = s.dispatchable and not s.on_site and math.isinf(s.arrives_at)
            if off_site and s.spec.response_time_s:
                s.arrives_at = model.t + float(s.spec.response_time_s.sample(self.rng))
                s.target = a.ident
        units = ",".join(str(s.unique_id) for s in sent)
        model.log(Event.DISPATCH, "police", f"{a.name} units={units or 'none on site'}")

    def step(self) -> None:
        """Order the venue's response when its decision is due."""
        model = self.model
        if model.t < self.pending_at or not math.isnan(self.t_ordered):
            return
        self.t_ordered = model.t
        order = self.spec.response
        if order == "invacuate" and not self.shelters:
            order = "evacuate"
        drill = not self.room_knows_attack
        model.log(Event.VENUE_RESPONSE, "control_room", f"{order} (drill)" if drill else order)
        if order == "none":
            return
        # an evacuation, invacuation or lockdown closes the site to new arrivals (they are
        # turned back before they come into the model, so they are not counted as visitors)
        self.entry_closed = True
        guides = "stewards guide" if model.crowd.exits.guided else "no guidance"
        model.log(Event.PUBLIC_ADDRESS, "control_room", f"{order}; {guides}")
        if order == "lockdown":  # gates shut; everyone inside stops where they are
            model.screening.locked = True
            model.crowd.lock_down()
            return
        idx = model.crowd.react_to_order()
        self.evacuating = order == "evacuate"
        if order == "invacuate":
            model.crowd.shelter(idx, np.asarray(self.shelters))
