"""The crowd as arrays (structure of arrays), stepped without a Python loop over visitors.

These arrays hold who each visitor is and what they are doing (state, speeds, choices, times);
where they stand and how they walk is the pedestrian lattice's business (:mod:`sim.motion`,
wired in by :mod:`sim.model`), except for people standing in screening lines.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np


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


class Crowd:
    """Arrays of the visitors of one run."""

    def __init__(self, n: int) -> None:
        """Allocate ``n`` visitors, all planned, at the origin."""
        self.n = n
        self.state = np.zeros(n, dtype=np.int8)
        self.xy = np.zeros((n, 2))
        self.speed = np.zeros(n)  # desired walking speed, m/s
        self.flight_speed = np.zeros(n)
        self.current_speed = np.zeros(n)
        self.reaction = np.zeros(n)  # recognition delay, s
        self.arrive_at = np.full(n, np.inf)  # when a planned visitor appears
        self.attractor = np.zeros(n, dtype=np.int64)  # zone index of the chosen attractor
        self.attractor_point = np.zeros((n, 2))
        self.checkpoint_u = np.zeros(n)  # uniform used to choose a checkpoint
        self.flee_at = np.full(n, np.inf)  # pending reaction: starts fleeing at this time
        self.flee_fast = np.zeros(n, dtype=bool)
        self.flee_from = np.full((n, 2), np.nan)  # where the threat they flee from was
        self.exit = np.full(n, -1, dtype=np.int64)  # checkpoint index while arriving
        self.outside_at_harm = np.zeros(n, dtype=bool)
        self.warm = np.zeros(n, dtype=bool)  # present at the start (warm start)
        self.dwell = np.zeros(n)  # first dwell at an attractor, s (drawn up front)
        self.dwell_until = np.full(n, np.inf)  # when a person at an attractor moves on
        self.leaving = np.zeros(n, dtype=bool)  # walking out in the normal course
        self.spawn_zone = np.full(n, -1, dtype=np.int64)  # appears in this zone (trains)
        self.spawn_point = np.zeros((n, 2))
        self.u_leave = np.zeros(n)  # uniform for the first move-on decision

    def standing(self) -> np.ndarray:
        """Mask of people standing in the venue."""
        return IS_STANDING[self.state]

    def counts(self) -> np.ndarray:
        """People per state, indexed by :class:`State`."""
        return np.bincount(self.state, minlength=len(State))
