"""The reporting chain as explicit messages over a network of hops.

A notice travels hop by hop (visitor → staff → control room → police); each hop draws its
delay and whether the message is lost from the configuration's :class:`~softtarget.sim.schema.Hop`.
Messages wait in a time-ordered queue and are delivered by the model's clock.
"""

from __future__ import annotations

import heapq
import itertools
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from softtarget.sim.columns import Event
from softtarget.sim.schema import DEFAULT_SIDE, Hop

if TYPE_CHECKING:
    from softtarget.sim.model import SoftTargetModel
    from softtarget.sim.staff import StaffMember
    from softtarget.sim.threat import Attacker


@dataclass(order=True)
class Message:
    """One message in flight: what it is about, where it goes and when it arrives."""

    arrives_at: float
    seq: int
    kind: str = field(compare=False)  # "suspect", "attack" or "false_alarm"
    to: str = field(compare=False)  # "staff:<id>", "private_room", "police"
    about: int = field(compare=False)  # attacker id, -1 for false alarms
    hop: str = field(compare=False)
    sender: str = field(compare=False)


class Network:
    """Messages in flight; hops draw delay and loss from one random stream."""

    def __init__(self, rng: np.random.Generator) -> None:
        """Create an empty network drawing from ``rng``."""
        self.rng = rng
        self._queue: list[Message] = []
        self._seq = itertools.count()
        self.sent = 0
        self.lost = 0

    def send(
        self, now: float, hop_name: str, hop: Hop, *, kind: str, to: str, about: int, sender: str
    ) -> Message | None:
        """Send over ``hop``; None when the hop loses it."""
        self.sent += 1
        lost = self.rng.random() < hop.loss
        delay = float(hop.delay_s.sample(self.rng))
        if lost:
            self.lost += 1
            return None
        msg = Message(now + delay, next(self._seq), kind, to, about, hop_name, sender)
        heapq.heappush(self._queue, msg)
        return msg

    def due(self, now: float) -> list[Message]:
        """Messages that have arrived by ``now``, in arrival order."""
        out = []
        while self._queue and self._queue[0].arrives_at <= now:
            out.append(heapq.heappop(self._queue))
        return out


class Chain:
    """The configuration's reporting chain: who tells whom, over which hop."""

    def __init__(self, model: SoftTargetModel) -> None:
        """The hops of the configuration's coordination, drawing from the chain's stream."""
        self.model = model
        self.spec = model.config.coordination
        self.net = Network(model.rngs["coordination"])
        self.calls_rng = model.rngs["calls"]
        self.calls_made: dict[int, int] = {}  # attacker id -> emergency calls placed
        self.t_first_call = math.nan  # the first emergency call gets through to the police

    def send(self, hop: str, *, kind: str, to: str, about: int, sender: str) -> None:
        """Send a message over the configuration's hop named ``hop``."""
        link = getattr(self.spec, hop)
        self.net.send(self.model.t, hop, link, kind=kind, to=to, about=about, sender=sender)

    def visitor_report(self, a: Attacker, kind: str) -> None:
        """A visitor tells the nearest staff member, or calls the police (an attack, or nobody)."""
        staff_here = self.model.staff.observers()
        if kind == "attack" or not staff_here:
            self.send("visitor_to_police", kind=kind, to="police", about=a.ident, sender="visitor")
            return
        nearest = min(staff_here, key=lambda s: float(np.hypot(*(s.pos - a.pos))))
        self.send("visitor_to_staff", kind=kind, to=nearest.name, about=a.ident, sender="visitor")

    def calls(self, a: Attacker, perceived: int) -> None:
        """Of ``perceived`` people who just perceived ``a``'s attack, some call the police.

        Each calls with ``crowd.call_probability``, up to ``crowd.max_calls_per_attacker``
        calls per attacker; a call reaches the police room over ``visitor_to_police``.
        """
        spec = self.model.scenario.crowd
        made = self.calls_made.get(a.ident, 0)
        if perceived == 0 or made >= spec.max_calls_per_attacker:
            return
        n = int(self.calls_rng.binomial(perceived, spec.call_probability))
        n = min(n, spec.max_calls_per_attacker - made)
        if n == 0:
            return
        self.calls_made[a.ident] = made + n
        self.model.log(Event.CALL, "caller", f"{a.name} calls={n}")
        for _ in range(n):
            self.send("visitor_to_police", kind="attack", to="police", about=a.ident,
                      sender="caller")  # fmt: skip

    def staff_report(self, s: StaffMember, about: int, kind: str) -> None:
        """A member reports: police to police dispatch, others to their control room."""
        if s.police:
            self.send("police_to_police", kind=kind, to="police", about=about, sender=s.name)
            return
        hop = "staff_radio_to_control" if s.spec.radio else "staff_to_control"
        self.send(hop, kind=kind, to="private_room", about=about, sender=s.name)

    def operator_report(self, group: str, camera: str, about: int, kind: str) -> None:
        """A CCTV operator who saw something on ``camera`` tells the room they sit in."""
        spec = self.model.config.staff[group]
        sender = f"camera:{camera}"
        if (spec.side or DEFAULT_SIDE[spec.role]) == "public":  # a police CCTV room
            self.send("police_to_police", kind=kind, to="police", about=about, sender=sender)
        else:
            self._private_room(
                Message(self.model.t, -1, kind, "private_room", about, "in_room", sender)
            )

    def _private_room(self, msg: Message) -> None:
        """The private control room relays what it learns to the police and may act on it."""
        hop = "joint_to_police" if self.spec.joint_control_room else "private_to_police"
        self.send(hop, kind=msg.kind, to="police", about=msg.about, sender="private_room")
        self.model.response.room_learns(msg.kind)

    def deliver(self) -> None:
        """Deliver every message due by now, including those that arrive with no delay."""
        model = self.model
        due = self.net.due(model.t)
        while due:
            for msg in due:
                model.log(Event.MESSAGE, msg.sender, f"{msg.hop} -> {msg.to} ({msg.kind})")
                if msg.to.startswith("staff:"):
                    model.staff.by_name[msg.to].told_of(msg.about, msg.kind)
                elif msg.to == "private_room":
                    self._private_room(msg)
                elif msg.to == "police":
                    if msg.sender == "caller" and math.isnan(self.t_first_call):
                        self.t_first_call = model.t
                    model.response.police_receive(msg)
                    model.response.room_learns(msg.kind)
            due = self.net.due(model.t)
