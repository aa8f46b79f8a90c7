"""Screening: checkpoints as multi-server queues with physical, first-come-first-served lanes.

Arriving visitors are handed over by the crowd (:mod:`softtarget.sim.crowd`): they walk to
their checkpoint on the lattice and join its shortest lane, or stand in it from the start
(warm start); once screened they are handed back, inside the perimeter. Each open lane serves
one person at a time with a service time drawn from the method's distribution; arrivals join
the shortest open lane of their checkpoint. With Poisson arrivals and exponential service the
mean wait is that of an M/M/c queue (Erlang C) when people may change lanes, and close to it
with join-the-shortest-queue. Lanes are worked by staff with the ``screen`` power posted at
the checkpoint: a plan opens no more lanes than its screeners can work.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from softtarget.sim.columns import Event
from softtarget.sim.people import State
from softtarget.sim.schema import open_lanes, service_time
from softtarget.sim.units import Dist

if TYPE_CHECKING:
    from softtarget.sim.model import SoftTargetModel


@dataclass
class Lane:
    """One screening lane: its head position, its queue and the person being served.

    The line runs from the head backwards; where the venue edge stops it, it folds into
    further columns beside the first, alternating sides, as queue barriers do.
    """

    head: np.ndarray
    back: np.ndarray  # unit vector from the head towards the back of the queue
    spacing: float = 0.6  # metres between people standing in the line
    depth: int = 1000  # people per column before the line folds
    queue: deque[int] = field(default_factory=deque)
    serving: int = -1
    busy_until: float = 0.0
    dirty: bool = True  # the line changed since people were last put in place

    def place(self, ranks: np.ndarray) -> np.ndarray:
        """Standing points of the people at ``ranks`` (1 = first in line)."""
        ranks = np.asarray(ranks, dtype=np.int64) - 1
        column, row = np.divmod(ranks, self.depth)
        side = np.where(column % 2 == 1, 1.0, -1.0) * ((column + 1) // 2)
        across = np.array([-self.back[1], self.back[0]])
        return (
            self.head
            + (row[:, None] + 1.0) * self.spacing * self.back
            + side[:, None] * self.spacing * across
        )


class Checkpoint:
    """The open lanes of one checkpoint zone."""

    def __init__(
        self,
        zone: int,
        bounds: np.ndarray,
        towards: np.ndarray,
        lanes: int,
        area: tuple[float, float],
        spacing: float = 0.6,
    ) -> None:
        """Open ``lanes`` lanes across the checkpoint ``bounds`` facing ``towards``.

        People stand ``spacing`` metres apart; lines that would leave the venue ``area``
        (width, height) fold into more columns.
        """
        self.zone = zone
        self.joined: dict[int, float] = {}  # person -> time they joined a lane
        self.started: dict[int, float] = {}  # person -> time their screening started
        x0, y0, x1, y1 = bounds
        centre = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
        direction = towards - centre
        self.lanes: list[Lane] = []
        horizontal = abs(direction[1]) >= abs(direction[0])  # lanes side by side along x
        for k in range(lanes):
            frac = (k + 0.5) / max(lanes, 1)
            if horizontal:
                sign = 1.0 if direction[1] >= 0 else -1.0
                head = np.array([x0 + frac * (x1 - x0), y1 if sign > 0 else y0])
                back = np.array([0.0, -sign])
            else:
                sign = 1.0 if direction[0] >= 0 else -1.0
                head = np.array([x1 if sign > 0 else x0, y0 + frac * (y1 - y0)])
                back = np.array([-sign, 0.0])
            room = _room(head, back, area, spacing)
            self.lanes.append(
                Lane(head=head, back=back, spacing=spacing, depth=max(1, int(room / spacing) - 1))
            )

    def shortest(self) -> Lane:
        """The open lane with the fewest people (ties: the first)."""
        return min(self.lanes, key=lambda lane: len(lane.queue) + (lane.serving >= 0))

    def queue_len(self) -> int:
        """People waiting or being served at this checkpoint."""
        return sum(len(lane.queue) + (lane.serving >= 0) for lane in self.lanes)

    def positions(self, xy: np.ndarray) -> None:
        """Put everyone waiting in a lane at their place in the line."""
        for lane in self.lanes:
            if lane.queue and lane.dirty:
                ranks = np.arange(1, len(lane.queue) + 1)
                xy[np.fromiter(lane.queue, dtype=np.int64)] = lane.place(ranks)
            lane.dirty = False

    def advance(
        self, now: float, service: Dist, rng: np.random.Generator, served: list[tuple[int, float]]
    ) -> None:
        """Serve every lane up to ``now``, event by event in time order.

        A lane that falls idle serves the head of its own line if that person was already
        waiting, and otherwise whoever has waited longest at any lane (staff wave them over):
        no lane idles while someone waits, so the checkpoint is work-conserving and, with
        exponential service, its mean wait equals the M/M/c (Erlang C) value. Appends
        (person, end time) to ``served`` for each person whose screening ended.
        """
        while True:
            for lane in self.lanes:
                if lane.serving < 0:
                    self._take_next(lane, now, service, rng)
            done = [lane for lane in self.lanes if lane.serving >= 0 and lane.busy_until <= now]
            if not done:
                return
            lane = min(done, key=lambda ln: ln.busy_until)
            served.append((lane.serving, lane.busy_until))
            lane.serving = -1

    def _take_next(self, lane: Lane, now: float, service: Dist, rng: np.random.Generator) -> None:
        free = lane.busy_until
        heads = [ln for ln in self.lanes if ln.queue]
        if not heads:
            return
        source = lane
        if not lane.queue or self.joined.get(lane.queue[0], now) > free:
            source = min(heads, key=lambda ln: self.joined.get(ln.queue[0], now))
        person = source.queue.popleft()
        source.dirty = True
        start = max(free, self.joined.get(person, now))
        lane.serving = person
        lane.busy_until = start + float(service.sample(rng))
        self.started[person] = start

    def join(self, person: int, now: float) -> Lane:
        """``person`` joins the shortest lane at ``now``."""
        lane = self.shortest()
        if lane.serving < 0 and not lane.queue:
            lane.busy_until = max(lane.busy_until, now)
        lane.queue.append(person)
        lane.dirty = True
        self.joined[person] = now
        return lane

    def leave(self, person: int) -> None:
        """Take ``person`` out of whatever lane they are in (they fled)."""
        for lane in self.lanes:
            if lane.serving == person:
                lane.serving = -1
                return
            try:
                lane.queue.remove(person)
                lane.dirty = True
                return
            except ValueError:
                continue


def _room(head: np.ndarray, back: np.ndarray, area: tuple[float, float], spacing: float) -> float:
    """Distance from ``head`` along ``back`` to the edge of the area."""
    limits = []
    for axis, size in enumerate(area):
        if back[axis] > 0:
            limits.append((size - head[axis]) / back[axis])
        elif back[axis] < 0:
            limits.append(-head[axis] / back[axis])
    return max(min(limits) if limits else 0.0, spacing * 2)


class Screening:
    """The checkpoints of a venue under one configuration, and the people in their lines."""

    def __init__(self, model: SoftTargetModel) -> None:
        """Open each checkpoint's lanes, as many as the screeners posted there can work.

        A lane is worked by ``screening.staff_per_lane`` staff with the ``screen`` power
        posted at the checkpoint (police in a police-only plan, security guards in a private
        one); methods that search nobody (none, visual) need no screeners.
        """
        self.model = model
        sc, cfg, geo = model.scenario, model.config, model.geo
        venue = sc.venue
        towards = (
            geo.centroids[geo.index(venue.perimeter)]
            if venue.perimeter
            else np.array([venue.width_m / 2, venue.height_m / 2])
        )
        self.service = service_time(cfg.screening)
        self.arrival_walk_m = sc.crowd.arrival_walk_m
        self.checkpoints: list[Checkpoint] = []
        area = (venue.width_m, venue.height_m)
        for z in geo.of_kind("checkpoint"):
            name = geo.names[z]
            opened = cfg.screening.lanes.get(name, venue.zones[name].lanes)
            lanes = open_lanes(cfg, venue, name)  # as many as the screeners posted can work
            if opened:
                model.log(Event.SCREENING_LANES, name, f"{lanes} of {opened} lanes staffed")
            if lanes > 0:
                cp = Checkpoint(z, geo.bounds[z], towards, lanes, area, sc.crowd.queue_spacing_m)
                self.checkpoints.append(cp)
        self.waits: list[float] = []  # screening waits of the people who arrived in the run
        self.locked = False  # lockdown: gates shut, nobody screened

    def queue_len(self) -> int:
        """People waiting or being screened at every checkpoint."""
        return sum(cp.queue_len() for cp in self.checkpoints)

    def admit(self, new: np.ndarray) -> None:
        """New visitors choose a checkpoint (weighted by its open lanes) and go to its line.

        People present from the start stand in the shortest lane at once; later arrivals
        appear ``crowd.arrival_walk_m`` behind the back of that lane and walk to the gate.
        """
        cw = self.model.crowd
        weights = np.array([len(c.lanes) for c in self.checkpoints], dtype=float)
        cum = np.cumsum(weights / weights.sum())
        which = np.minimum(np.searchsorted(cum, cw.checkpoint_u[new], side="right"), len(cum) - 1)
        for person, k in zip(new, which, strict=True):
            cp = self.checkpoints[int(k)]
            lane = cp.shortest()
            if cw.warm[person]:
                cp.join(int(person), 0.0)
                cw.state[person] = State.QUEUING
            else:
                cw.state[person] = State.ARRIVING
                back_of_line = lane.place(np.array([len(lane.queue) + 1]))[0]
                start = back_of_line + lane.back * self.arrival_walk_m
                cw.exit[person] = int(k)  # checkpoint index while arriving
                cw.put(
                    np.array([person]), self.model.geo.clamp(start[None, :]), cw.zone_dest[cp.zone]
                )
        arriving = new[cw.state[new] == State.ARRIVING]
        self._join(arriving[cw.lattice.ix[arriving] < 0])  # no room on the lattice: join now

    def reach_lines(self) -> None:
        """Arriving people who reached their checkpoint's zone join its shortest line."""
        cw = self.model.crowd
        m = cw.lattice
        arriving = np.flatnonzero((cw.state == State.ARRIVING) & m.active)
        for k, cp in enumerate(self.checkpoints):
            mine = arriving[cw.exit[arriving] == k]
            mask = cw.layout.zone_masks[self.model.geo.names[cp.zone]]
            self._join(mine[mask[m.iy[mine], m.ix[mine]]])

    def _join(self, reached: np.ndarray) -> None:
        """Arriving people join the shortest line of their checkpoint (and leave the lattice)."""
        cw = self.model.crowd
        cw.lattice.remove(reached)
        for person in reached:
            cp = self.checkpoints[int(cw.exit[person])]
            cp.join(int(person), self.model.t)
            cw.state[person] = State.QUEUING
            cw.exit[person] = -1
        if len(reached):
            for cp in self.checkpoints:
                cp.positions(cw.xy)

    def leave(self, person: int) -> None:
        """``person`` steps out of whatever line they stand in (they fled or were hurt)."""
        for cp in self.checkpoints:
            cp.leave(person)

    def step(self) -> None:
        """Serve every open lane up to now; the screened walk on, inside the perimeter."""
        cw = self.model.crowd
        rng = self.model.rngs["screening"]
        for cp in [] if self.locked else self.checkpoints:
            served: list[tuple[int, float]] = []
            cp.advance(self.model.t, self.service, rng, served)
            for person, _end in served:
                if cw.state[person] != State.QUEUING:
                    continue
                if not cw.warm[person]:
                    self.waits.append(cp.started[person] - cp.joined[person])
                cw.state[person] = State.INSIDE
                through = cw.xy[person] - cp.lanes[0].back * 1.6  # past the lane, inside
                cw.put(np.array([person]), through[None, :], cw.stay)
                cw.head_for(np.array([person]), cw.attractor[person : person + 1])
            cp.positions(cw.xy)
