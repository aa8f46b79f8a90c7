"""Screening checkpoints as multi-server queues with physical, first-come-first-served lanes.

Each open lane serves one person at a time with a service time drawn from the method's
distribution; arrivals join the shortest open lane of their checkpoint. With Poisson arrivals
and exponential service the mean wait is that of an M/M/c queue (Erlang C) when people may
change lanes, and close to it with join-the-shortest-queue.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from sim.units import Dist

LANE_SPACING_M = 0.6  # distance between people standing in a queue (E)


@dataclass
class Lane:
    """One screening lane: its head position, its queue and the person being served.

    The line runs from the head backwards; where the venue edge stops it, it folds into
    further columns beside the first, alternating sides, as queue barriers do.
    """

    head: np.ndarray
    back: np.ndarray  # unit vector from the head towards the back of the queue
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
            + (row[:, None] + 1.0) * LANE_SPACING_M * self.back
            + side[:, None] * LANE_SPACING_M * across
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
    ) -> None:
        """Open ``lanes`` lanes across the checkpoint ``bounds`` facing ``towards``.

        Lines that would leave the venue ``area`` (width, height) fold into more columns.
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
            room = _room(head, back, area)
            self.lanes.append(
                Lane(head=head, back=back, depth=max(1, int(room / LANE_SPACING_M) - 1))
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


def _room(head: np.ndarray, back: np.ndarray, area: tuple[float, float]) -> float:
    """Distance from ``head`` along ``back`` to the edge of the area."""
    limits = []
    for axis, size in enumerate(area):
        if back[axis] > 0:
            limits.append((size - head[axis]) / back[axis])
        elif back[axis] < 0:
            limits.append(-head[axis] / back[axis])
    return max(min(limits) if limits else 0.0, LANE_SPACING_M * 2)
