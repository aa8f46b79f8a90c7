"""The reporting chain: messages over the links between organisations, rooms that handle them.

A notice travels hop by hop: a visitor tells the nearest staff member or calls the emergency
number; a member reports to their organisation's control room by radio (or without one) and
calls their informal contacts; a room acts on what it learns with its powers (the police
dispatch, a room with the respond power starts the venue's decision) and passes it on towards
the police over its quickest usable link (:mod:`softtarget.sim.organisations`). Each hop draws
its delay and whether the message is lost; a link with a capacity carries that many messages
at once, a room with ``handles`` takes that many up at once, each for its handling time, and
the rest wait their turn. Messages wait in a time-ordered queue and are delivered by the
model's clock; the events log shows every hop (``message``), every handling
(``message_handled``) and every message a room could not pass on (``message_stuck``).
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from softtarget.sim import columns as C
from softtarget.sim.columns import Event
from softtarget.sim.organisations import Graph, Party, Way
from softtarget.sim.schema import Hop

if TYPE_CHECKING:
    from softtarget.sim.model import SoftTargetModel
    from softtarget.sim.staff import StaffMember
    from softtarget.sim.threat import Attacker


#: The columns of a message's record, as messages.parquet holds them after the run's identity.
MESSAGE_COLUMNS = [
    C.MESSAGE_ID, C.PARENT, C.T_SENT_S, C.T_ARRIVED_S, C.HOP, C.SENDER, C.RECEIVER, C.KIND,
    C.CONTENT, C.ABOUT, C.WAITED_S, C.LOST,
]  # fmt: skip


@dataclass(order=True)
class Message:
    """One message in flight: what it is about, where it goes and when it arrives."""

    arrives_at: float
    seq: int
    kind: str = field(compare=False)  # "suspect", "attack" or "false_alarm"
    to: str = field(compare=False)  # "staff:<id>", "room:<organisation>", "desk:<organisation>"
    about: int = field(compare=False)  # attacker id, -1 for false alarms
    hop: str = field(compare=False)
    sender: str = field(compare=False)
    content: str = field(compare=False, default="sighting")  # schema.CONTENTS
    record: int = field(compare=False, default=-1)  # its row in Network.records


def content_of(kind: str, sender: str) -> str:
    """What a message contains: an alarm, a CCTV image, an identity or a sighting."""
    if kind == "attack":
        return "alarm"
    if sender.startswith("camera:"):
        return "image"
    return "identity" if sender == "screening" else "sighting"


class Network:
    """Messages in flight; hops draw delay and loss from one random stream."""

    def __init__(self, rng: np.random.Generator) -> None:
        """Create an empty network drawing from ``rng``."""
        self.rng = rng
        self._queue: list[Message] = []
        self._seq = itertools.count()
        self._in_transit: dict[str, int] = {}  # links with a capacity: messages on them
        self._waiting: dict[str, deque[tuple[Message, float]]] = {}
        self.records: list[list] = []  # one per message: the columns of messages.parquet
        self.sent = 0
        self.lost = 0

    def _record(
        self, now: float, hop: str, sender: str, to: str, kind: str, content: str, about: int,
        parent: int, lost: bool,
    ) -> int:  # fmt: skip
        """Write down a message sent now; its row number."""
        self.records.append(
            [len(self.records), parent, now, math.nan, hop, sender, to, kind, content, about,
             0.0, lost]
        )  # fmt: skip
        return len(self.records) - 1

    def note(self, now: float, msg: Message) -> None:
        """Write down a message that passes with no hop (an operator's notice in their room)."""
        msg.record = self._record(now, msg.hop, msg.sender, msg.to, msg.kind, msg.content,
                                  msg.about, -1, False)  # fmt: skip
        self.records[msg.record][3] = now

    def send(
        self,
        now: float,
        hop_name: str,
        hop: Hop,
        *,
        kind: str,
        to: str,
        about: int,
        sender: str,
        content: str,
        capacity: int | None = None,
        parent: int = -1,
    ) -> Message | None:
        """Send over ``hop``; None when the hop loses it.

        On a link with a ``capacity``, a message sent while that many are on it waits and sets
        out (for its delay) when one arrives.
        """
        self.sent += 1
        lost = self.rng.random() < hop.loss
        delay = float(hop.delay_s.sample(self.rng))
        rec = self._record(now, hop_name, sender, to, kind, content, about, parent, lost)
        if lost:
            self.lost += 1
            return None
        msg = Message(now + delay, next(self._seq), kind, to, about, hop_name, sender, content, rec)
        if capacity is not None:
            if self._in_transit.get(hop_name, 0) >= capacity:
                self._waiting.setdefault(hop_name, deque()).append((msg, delay))
                return msg
            self._in_transit[hop_name] = self._in_transit.get(hop_name, 0) + 1
        heapq.heappush(self._queue, msg)
        return msg

    def schedule(self, msg: Message) -> None:
        """Queue ``msg`` (already timed, drawn from no stream here) for delivery."""
        msg.seq = next(self._seq)
        heapq.heappush(self._queue, msg)

    def due(self, now: float) -> list[Message]:
        """Messages that have arrived by ``now``, in arrival order."""
        out = []
        while self._queue and self._queue[0].arrives_at <= now:
            msg = heapq.heappop(self._queue)
            out.append(msg)
            if msg.to.startswith("desk:"):  # a room's handling, not a hop: no link to free
                continue
            self.records[msg.record][3] = now  # delivered in this step, as the events log says
            if msg.hop in self._in_transit:  # a place on the link is free: the next sets out
                waiting = self._waiting.get(msg.hop)
                if waiting:
                    nxt, delay = waiting.popleft()
                    self.records[nxt.record][10] = msg.arrives_at - self.records[nxt.record][2]
                    nxt.arrives_at = msg.arrives_at + delay
                    heapq.heappush(self._queue, nxt)
                else:
                    self._in_transit[msg.hop] -= 1
        return out


class Desk:
    """A control room's operators: ``handles`` messages at once, the rest wait their turn."""

    def __init__(self, party: Party) -> None:
        """An idle desk of ``party``'s room."""
        self.party = party
        self.busy = 0
        self.waiting: deque[Message] = deque()

    def free(self) -> bool:
        """Whether an operator can take a message up now."""
        return self.party.room.handles is None or self.busy < self.party.room.handles


class Chain:
    """The configuration's organisations and links: who tells whom, over which hop."""

    def __init__(self, model: SoftTargetModel) -> None:
        """The graph of the configuration, drawing from the chain's streams."""
        self.model = model
        self.spec = model.config.coordination
        self.graph = Graph(model.config)
        self.net = Network(model.rngs["coordination"])
        self.calls_rng = model.rngs["calls"]
        self.rooms_rng = model.rngs["rooms"]
        self.desks = {n: Desk(p) for n, p in self.graph.parties.items() if not p.instant}
        self.calls_made: dict[int, int] = {}  # attacker id -> emergency calls placed
        self.t_first_call = math.nan  # the first emergency call gets through to the police
        self.first_room: tuple[str, float] | None = None  # who first heard of an attacker, when
        self.alert_record = -1  # the message that alerted the police
        self._parent = -1  # the message being acted on: what is sent now passes it on

    def send(self, hop: str, *, kind: str, to: str, about: int, sender: str) -> None:
        """Send a message over the coordination hop named ``hop``."""
        self._send(hop, getattr(self.spec, hop), kind, to, about, sender)

    def _send(
        self, name: str, hop: Hop, kind: str, to: str, about: int, sender: str,
        capacity: int | None = None, content: str | None = None,
    ) -> None:  # fmt: skip
        content = content or content_of(kind, sender)
        self.net.send(self.model.t, name, hop, kind=kind, to=to, about=about, sender=sender,
                      content=content, capacity=capacity, parent=self._parent)  # fmt: skip

    def _over(self, way: Way, msg_kind: str, about: int, sender: str, content: str) -> None:
        """Send over a link of the graph, to an organisation's room or a staff group."""
        to = f"room:{way.to}" if way.to in self.graph.parties else self._member_of(way.to, sender)
        if to is None:  # nobody of that group on site to call
            self.model.log(Event.MESSAGE_STUCK, sender, f"{way.name}: nobody of {way.to} on site")
            return
        self._send(way.name, way.hop, msg_kind, to, about, sender, way.capacity, content)

    def _member_of(self, group: str, sender: str) -> str | None:
        """The member of ``group`` on site nearest to ``sender`` (a staff member or a room)."""
        members = [s for s in self.model.staff.members if s.group == group and s.on_site]
        if not members:
            return None
        origin = self.model.staff.by_name.get(sender)
        if origin is None:
            return members[0].name
        return min(members, key=lambda s: float(np.hypot(*(s.pos - origin.pos)))).name

    def emergency_room(self) -> str:
        """Where visitors' emergency calls arrive."""
        return f"room:{self.graph.emergency}"

    def visitor_report(self, a: Attacker, kind: str) -> None:
        """A visitor tells the nearest staff member, or calls the police (an attack, or nobody).

        With the plan's app (``citizens.app_share``), that share of the reports of a suspect
        goes through the app to the room of ``citizens.app_to`` instead.
        """
        citizens = self.model.config.citizens
        uses_app = kind != "attack" and citizens.app_share > 0  # (draws only with an app)
        if uses_app and self.model.rngs["citizens"].random() < citizens.app_share:
            self._send("app", citizens.app, kind, f"room:{citizens.app_to}", a.ident, "visitor")
            return
        staff_here = self.model.staff.observers()
        if kind == "attack" or not staff_here:
            self.send("visitor_to_police", kind=kind, to=self.emergency_room(), about=a.ident,
                      sender="visitor")  # fmt: skip
            return
        nearest = min(staff_here, key=lambda s: float(np.hypot(*(s.pos - a.pos))))
        self.send("visitor_to_staff", kind=kind, to=nearest.name, about=a.ident, sender="visitor")

    def calls(self, a: Attacker, perceived: int) -> None:
        """Of ``perceived`` people who just perceived ``a``'s attack, some call the police.

        Each calls with ``crowd.call_probability``, up to ``crowd.max_calls_per_attacker``
        calls per attacker; a call reaches the emergency room over ``visitor_to_police``.
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
            self.send("visitor_to_police", kind="attack", to=self.emergency_room(),
                      about=a.ident, sender="caller")  # fmt: skip

    def screening_catch(self, a: Attacker) -> None:
        """The lanes stopped ``a``: the police hear of it over ``police_to_police``."""
        self.send("police_to_police", kind="suspect", to=f"room:{self.graph.dispatch}",
                  about=a.ident, sender="screening")  # fmt: skip

    def staff_report(self, s: StaffMember, about: int, kind: str) -> None:
        """A member reports to their organisation's room, and calls their informal contacts."""
        party = self.graph.parties[self.graph.group_party[s.group]]
        hop, name = (party.radio, "radio") if s.spec.radio else (party.no_radio, "no_radio")
        self._send(f"{party.name}:{name}", hop, kind, f"room:{party.name}", about, s.name)
        content = content_of(kind, s.name)
        for way in self.graph.contacts(s.group):
            if content in way.carries:
                self._over(way, kind, about, s.name, content)

    def operator_report(self, group: str, camera: str, about: int, kind: str) -> None:
        """A CCTV operator who saw something on ``camera`` tells the room they sit in."""
        party = self.graph.group_party[group]
        sender = f"camera:{camera}"
        content = content_of(kind, sender)
        msg = Message(self.model.t, -1, kind, f"room:{party}", about, "in_room", sender, content)
        self.net.note(self.model.t, msg)
        self._acting_on(msg, lambda: self._room(party, msg))

    def _room(self, party: str, msg: Message) -> None:
        """A message reaches ``party``'s room: acted on at once, or when an operator is free."""
        if self.first_room is None and msg.kind != "false_alarm":
            self.first_room = (party, self.model.t)
        desk = self.desks.get(party)
        if desk is None:
            self._act(party, msg)
        elif desk.free():
            self._take_up(desk, msg)
        else:
            desk.waiting.append(msg)

    def _take_up(self, desk: Desk, msg: Message) -> None:
        desk.busy += 1
        done = self.model.t + float(desk.party.room.handle_s.sample(self.rooms_rng))
        handled = Message(done, 0, msg.kind, f"desk:{desk.party.name}", msg.about,
                          msg.hop, msg.sender, msg.content, msg.record)  # fmt: skip
        self.net.schedule(handled)

    def _act(self, party: str, msg: Message) -> None:
        """``party``'s room acts with its powers and passes the message on towards dispatch."""
        model, p = self.model, self.graph.parties[party]
        if party == self.graph.dispatch:
            if msg.sender == "caller" and math.isnan(self.t_first_call):
                self.t_first_call = model.t
            unaware = math.isnan(model.response.t_police_alerted)
            model.response.police_receive(msg)
            if unaware and not math.isnan(model.response.t_police_alerted):
                self.alert_record = msg.record
        else:
            way = self.graph.next_way(party, msg.content)
            if way is None:
                model.log(Event.MESSAGE_STUCK, f"room:{party}", f"{msg.kind} ({msg.content})")
            else:
                self._over(way, msg.kind, msg.about, f"room:{party}", msg.content)
        if "respond" in p.powers:
            model.response.room_learns(msg.kind, p.decision_delay)

    def _acting_on(self, msg: Message, act: Callable[[], None]) -> None:
        """Do ``act``; whatever it sends passes ``msg`` on (its parent in messages.parquet)."""
        self._parent = msg.record
        try:
            act()
        finally:
            self._parent = -1

    def alert_path(self) -> str | None:
        """The hops of the message that alerted the police, first hop first: "a > b > c"."""
        hops, rec = [], self.alert_record
        while rec >= 0:
            hops.append(self.net.records[rec][4])
            rec = self.net.records[rec][1]
        return " > ".join(reversed(hops)) or None

    def messages(self) -> pd.DataFrame:
        """Every message of the run (the columns of ``messages.parquet`` after the identity)."""
        return pd.DataFrame(self.net.records, columns=MESSAGE_COLUMNS)

    def deliver(self) -> None:
        """Deliver every message due by now, including those that arrive with no delay."""
        due = self.net.due(self.model.t)
        while due:
            for msg in due:
                self._acting_on(msg, lambda msg=msg: self._deliver(msg))
            due = self.net.due(self.model.t)

    def _deliver(self, msg: Message) -> None:
        """One message arrives: at a member, at a room, or handled at a room's desk."""
        model = self.model
        if msg.to.startswith("desk:"):
            party = msg.to.removeprefix("desk:")
            model.log(Event.MESSAGE_HANDLED, f"room:{party}", f"{msg.kind} ({msg.content})")
            desk = self.desks[party]
            desk.busy -= 1
            if desk.waiting:
                self._take_up(desk, desk.waiting.popleft())
            self._act(party, msg)
            return
        model.log(Event.MESSAGE, msg.sender, f"{msg.hop} -> {msg.to} ({msg.kind})")
        if msg.to.startswith("staff:"):
            model.staff.by_name[msg.to].told_of(msg.about, msg.kind)
        elif msg.to.startswith("room:"):
            self._room(msg.to.removeprefix("room:"), msg)
