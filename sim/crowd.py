"""The crowd as arrays (structure of arrays), stepped without a Python loop over visitors.

Movement here is direct walking at each person's desired speed towards their current goal
point; exits pass people at a capacity of ``width × exit_flow_pms`` persons per second, and
people waiting for an exit stand in a half-disc in front of it at jam density (Weidmann's
ρmax 5.4 /m²), which is where crowd pressure builds in an evacuation.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np

JAM_DENSITY = 5.4  # persons/m², Weidmann 1993 (V)


class State(IntEnum):
    """What a visitor is doing."""

    PLANNED = 0  # arrives later in the run
    ARRIVING = 1  # walking to a checkpoint lane
    QUEUING = 2  # in a screening queue (or being screened), outside the perimeter
    INSIDE = 3  # at or walking between attractors
    FLEEING = 4  # fleeing or evacuating towards an exit
    SHELTERING = 5  # moving to or staying in a shelter area
    EVACUATED = 6  # left through an exit
    INJURED = 7
    KILLED = 8
    LEFT = 9  # left through an exit in the normal course (not evacuating)


#: States in which a person stands in the venue (can be seen, hit, counted in density).
STANDING = np.array([State.ARRIVING, State.QUEUING, State.INSIDE, State.FLEEING, State.SHELTERING])


def state_mask(*states: State) -> np.ndarray:
    """A lookup table: ``state_mask(...)[crowd.state]`` is True where the state is one of these."""
    lut = np.zeros(len(State), dtype=bool)
    lut[list(states)] = True
    return lut


IS_STANDING = state_mask(*STANDING)
CAN_REACT = state_mask(State.ARRIVING, State.QUEUING, State.INSIDE, State.SHELTERING)
GOLDEN_ANGLE = np.pi * (3.0 - np.sqrt(5.0))


class Crowd:
    """Arrays of the visitors of one run."""

    def __init__(self, n: int) -> None:
        """Allocate ``n`` visitors, all planned, at the origin."""
        self.n = n
        self.state = np.zeros(n, dtype=np.int8)
        self.xy = np.zeros((n, 2))
        self.goal = np.zeros((n, 2))
        self.speed = np.zeros(n)  # desired walking speed, m/s
        self.flight_speed = np.zeros(n)
        self.current_speed = np.zeros(n)
        self.reaction = np.zeros(n)  # recognition delay, s
        self.arrive_at = np.full(n, np.inf)  # when a planned visitor appears
        self.attractor = np.zeros(n, dtype=np.int64)  # zone index of the chosen attractor
        self.attractor_point = np.zeros((n, 2))
        self.checkpoint_u = np.zeros(n)  # uniform used to choose a checkpoint
        self.queued_at = np.full(n, np.nan)
        self.served_at = np.full(n, np.nan)
        self.flee_at = np.full(n, np.inf)  # pending reaction: starts fleeing at this time
        self.flee_fast = np.zeros(n, dtype=bool)
        self.exit = np.full(n, -1, dtype=np.int64)  # exit index while fleeing
        self.waiting_exit = np.zeros(n, dtype=bool)
        self.outside_at_harm = np.zeros(n, dtype=bool)
        self.warm = np.zeros(n, dtype=bool)  # present at the start (warm start)
        self.moving = np.zeros(n, dtype=bool)  # has a goal not yet reached
        self.dwell = np.zeros(n)  # first dwell at an attractor, s (drawn up front)
        self.dwell_until = np.full(n, np.inf)  # when a person at an attractor moves on
        self.leaving = np.zeros(n, dtype=bool)  # walking out in the normal course
        self.spawn_zone = np.full(n, -1, dtype=np.int64)  # appears in this zone (trains)
        self.spawn_point = np.zeros((n, 2))
        self.u_leave = np.zeros(n)  # uniform for the first move-on decision

    def standing(self) -> np.ndarray:
        """Mask of people standing in the venue."""
        return IS_STANDING[self.state]

    def set_goal(self, idx: np.ndarray, goal: np.ndarray) -> None:
        """Send the people ``idx`` towards ``goal`` (one point, or one per person)."""
        self.goal[idx] = goal
        self.moving[idx] = True

    def counts(self) -> np.ndarray:
        """People per state, indexed by :class:`State`."""
        return np.bincount(self.state, minlength=len(State))

    def walk(self, mask: np.ndarray, dt: float) -> np.ndarray:
        """Move the people in ``mask`` that have a goal; return who arrived this step."""
        idx = np.flatnonzero(mask & self.moving)
        if len(idx) == 0:
            return idx
        d = self.goal[idx] - self.xy[idx]
        dist = np.hypot(d[:, 0], d[:, 1])
        step = self.current_speed[idx] * dt
        arrived = dist <= step
        frac = np.where(arrived, 1.0, step / np.maximum(dist, 1e-12))
        self.xy[idx] += d * frac[:, None]
        done = idx[arrived]
        self.moving[done] = False
        return done


class Exits:
    """Exit openings with a flow capacity and the half-disc queue in front of each."""

    def __init__(self, centres: np.ndarray, widths: np.ndarray, flow_pms: float) -> None:
        """Exits at ``centres`` with clear ``widths`` (m) passing ``flow_pms`` persons/(m·s)."""
        self.centres = centres
        self.capacity = widths * flow_pms  # persons per second
        self.credit = np.zeros(len(widths))
        self.queues: list[list[int]] = [[] for _ in range(len(widths))]

    def radius(self, k: int) -> float:
        """Radius of the half-disc holding the people waiting at exit ``k`` at jam density."""
        return float(np.sqrt(2.0 * len(self.queues[k]) / (np.pi * JAM_DENSITY)))

    def place(self, k: int, inward: np.ndarray) -> np.ndarray:
        """Standing points of the people waiting at exit ``k``, by rank.

        Rank i stands at the radius that holds i people at jam density, at golden-angle turns
        over the half-disc facing ``inward`` (a uniform, sunflower packing).
        """
        n = len(self.queues[k])
        rank = np.arange(1, n + 1, dtype=float)
        r = np.sqrt(2.0 * rank / (np.pi * JAM_DENSITY))
        angle = (rank * GOLDEN_ANGLE) % np.pi - np.pi / 2 + np.arctan2(inward[1], inward[0])
        return self.centres[k] + r[:, None] * np.column_stack([np.cos(angle), np.sin(angle)])

    def nearest(self, xy: np.ndarray) -> np.ndarray:
        """Index of the nearest exit of each point."""
        d = np.hypot(
            xy[:, None, 0] - self.centres[None, :, 0], xy[:, None, 1] - self.centres[None, :, 1]
        )
        return np.argmin(d, axis=1)

    def pass_through(self, dt: float) -> list[int]:
        """People leaving through every exit this step (first come, first served)."""
        out: list[int] = []
        self.credit += self.capacity * dt
        for k, queue in enumerate(self.queues):
            n = min(len(queue), int(self.credit[k]))
            self.credit[k] -= n
            if not queue:
                self.credit[k] = min(self.credit[k], 1.0)
            out.extend(queue[:n])
            del queue[:n]
        return out
