"""What the visitors do: arrive, walk, stay, take trains, flee, shelter and leave.

The visitors' arrays are drawn up front (:mod:`softtarget.sim.people`); this mechanism owns
them and the pedestrian lattice they walk on (:mod:`softtarget.sim.motion`). People heading
for screening are handed to :mod:`softtarget.sim.screening`, which gives them back once
screened; which exit a person takes is :mod:`softtarget.sim.exits`' choice.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from softtarget.sim import columns as C
from softtarget.sim.columns import Event
from softtarget.sim.exits import ExitChoice
from softtarget.sim.layout import STAY, layout_for
from softtarget.sim.motion import Lattice, MotionParams
from softtarget.sim.people import CAN_REACT, People, State, draw_people

if TYPE_CHECKING:
    from softtarget.sim.model import SoftTargetModel

#: Seconds per lattice step: the lattice's calibrated step; a model step of ``run.dt_s``
#: takes ceil(dt / 0.3) lattice steps of equal length.
MOTION_DT = 0.3


class Crowd(People):
    """The visitors of one run, on the lattice of the venue."""

    def __init__(self, model: SoftTargetModel) -> None:
        """Draw the visitors, build the lattice and stand the warm-start crowd on it."""
        sc, geo = model.scenario, model.geo
        drawn = draw_people(sc, geo, model.rngs["crowd"])
        vars(self).update(vars(drawn.people))  # adopt the drawn arrays as this crowd's own
        self.model = model
        self.spec = sc.crowd
        self.trains = drawn.timetable.trains
        self.platforms = drawn.timetable.platforms
        self.attractor_zones = drawn.attractor_zones
        self.attractor_p = drawn.attractor_p
        self._planned = drawn.planned
        self._next_planned = 0
        self._next_train = 0
        self.entrances = geo.of_kind("entrance")
        self.t_first_flight = math.nan
        self.t_last_evacuated = math.nan
        # the lattice
        self.layout = layout_for(sc.venue)
        self.placed_now: list[int] = []  # people put on the lattice this step
        dt = sc.run.dt_s
        self.motion_steps = max(1, math.ceil(dt / MOTION_DT - 1e-9))
        self.lattice = Lattice(
            self.layout.fields,
            capacity=max(self.n, 1),
            params=MotionParams(dt=dt / self.motion_steps, swaps=True),
        )
        self.lattice.room[: self.n] = self.room  # slot k is person k (at least one slot)
        self.lattice.jam[: self.n] = self.jam
        self.stay = self.layout.dest[STAY]
        self.zone_dest = np.array([self.layout.dest.get(n, -1) for n in geo.names])
        self.exits = ExitChoice(model, self)
        self.exit_used = np.full(self.n, -1, dtype=np.int64)  # index into the exits, or -1
        self.t_out = np.full(self.n, np.nan)  # when they passed out through it
        self.rho = np.zeros(self.n, dtype=np.float32)  # local density at each person
        self.resting = np.zeros(self.n, dtype=bool)  # at their spot at an attractor
        self.peak_now = 0.0
        inside = np.flatnonzero(self.state == State.INSIDE)
        self.put(inside, self.attractor_point[inside], self.stay)
        self.head_for(inside, self.attractor[inside])
        self.resting[inside] = True
        self.wait_for_train(np.arange(sc.crowd.initial_inside))

    # ------------------------------------------------------------------ on the lattice ---

    def put(self, idx: np.ndarray, xy: np.ndarray, dest: np.ndarray | int) -> None:
        """Put people on the lattice near ``xy`` heading for ``dest`` (or standing: stay)."""
        idx = np.atleast_1d(np.asarray(idx, dtype=np.int64))
        if len(idx) == 0:
            return
        xy = np.atleast_2d(xy)
        m = self.lattice
        placed = m.place(idx, xy[:, 0], xy[:, 1], dest, self.current_speed[idx])
        self.placed_now.extend(idx.tolist())
        x, y = m.grid.centre(m.ix[placed], m.iy[placed])
        self.xy[placed, 0], self.xy[placed, 1] = x, y
        if len(placed) < len(idx):
            self.model.log(Event.NO_ROOM, "crowd", f"n={len(idx) - len(placed)}")

    def head_for(self, idx: np.ndarray, zones: np.ndarray) -> None:
        """Send people to attractor (or shelter) ``zones``; each stops at their own spot.

        Their spot is their drawn point in the zone: they walk down the zone's floor field
        until they are as close to its focus as that point, and rest there, so a zone fills
        evenly rather than from the focus out. Walkers squeeze past people at rest, and
        someone pushed back walks back to their own distance.
        """
        m = self.lattice
        dest = self.zone_dest[zones]
        m.dest[idx] = dest
        ix, iy = m.grid.cell_of(self.attractor_point[idx, 0], self.attractor_point[idx, 1])
        m.stop[idx] = self.layout.fields.fields[dest, iy, ix]
        self.resting[idx] = False

    def walk_cost(self, dest: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """Walking distance (m) from each person ``idx`` (columns) to each ``dest`` (rows)."""
        ix, iy = self.lattice.grid.cell_of(self.xy[idx, 0], self.xy[idx, 1])
        return self.layout.fields.fields[np.asarray(dest)[:, None], iy[None, :], ix[None, :]]

    def leave(self, idx: np.ndarray) -> None:
        """Send the people ``idx`` out of the venue by their nearest exit (normal departure)."""
        self.resting[idx] = False
        self.lattice.stop[idx] = 0.0
        self.leaving[idx] = True
        self.dwell_until[idx] = np.inf
        self.lattice.dest[idx] = self.exits.nearest(idx)

    def standing_idx(self) -> np.ndarray:
        """Indices of the people standing in the venue."""
        return np.flatnonzero(self.standing())

    def alive_near(self, point: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray]:
        """People standing within ``radius`` of ``point``: (indices, metres)."""
        idx = self.standing_idx()
        d = np.hypot(self.xy[idx, 0] - point[0], self.xy[idx, 1] - point[1])
        sel = d <= radius
        return idx[sel], d[sel]

    # ------------------------------------------------------------------------ arrivals ---

    def arrive(self) -> None:
        """Planned visitors whose time has come step onto a platform, into a line or inside.

        Once the venue has ordered a response, the site is closed: nobody more arrives.
        """
        if self.model.response.entry_closed:
            return
        t = self.model.t
        start = self._next_planned
        while self._next_planned < len(self._planned) and (
            self.arrive_at[self._planned[self._next_planned]] <= t
        ):
            self._next_planned += 1
        new = self._planned[start : self._next_planned]
        spawned = new[self.spawn_zone[new] >= 0]
        if len(spawned):  # train passengers step onto their platform and head out
            self.state[spawned] = State.INSIDE
            self.put(spawned, self.spawn_point[spawned], self.stay)
            self.leave(spawned)
        new = new[self.spawn_zone[new] < 0]
        if len(new) == 0:
            return
        if self.model.screening.checkpoints:
            self.model.screening.admit(new)
            return
        # an open venue: straight in, by one of the entrances
        self.state[new] = State.INSIDE
        geo = self.model.geo
        if self.entrances:
            k = (self.checkpoint_u[new] * len(self.entrances)).astype(np.int64)
            where = geo.centroids[np.asarray(self.entrances)[k]]
        else:
            where = np.repeat(self.model.arrival_point[None, :], len(new), axis=0)
        self.put(new, where, self.stay)
        self.head_for(new, self.attractor[new])

    def wait_for_train(self, idx: np.ndarray) -> None:
        """People whose attractor is a served platform wait there for the next train."""
        if self.platforms and len(idx):
            on_platform = np.isin(self.attractor[idx], list(self.platforms))
            self.dwell_until[idx[on_platform]] = np.inf

    def board_trains(self) -> None:
        """A train takes the people waiting on its platform."""
        t = self.model.t
        while self._next_train < len(self.trains) and self.trains[self._next_train][0] <= t:
            _, zone = self.trains[self._next_train]
            self._next_train += 1
            board = np.flatnonzero(
                (self.state == State.INSIDE)
                & (self.attractor == zone)
                & self.resting
                & ~self.leaving
            )
            self.state[board] = State.LEFT
            self.lattice.remove(board)
            self.model.log(Event.TRAIN, self.model.geo.names[zone], f"boarded={len(board)}")

    # ------------------------------------------------------------------ harm, reactions ---

    def harm(self, people: np.ndarray, killed: np.ndarray) -> None:
        """``people`` are killed (where ``killed``) or injured: off the lattice and the lines."""
        if len(people) == 0:
            return
        outside = ~self.model.geo.inside_perimeter(self.xy[people])
        self.queuing_at_harm[people] = self.state[people] == State.QUEUING
        self.t_harmed[people] = self.model.t
        for p in people:
            if self.state[p] == State.QUEUING:
                self.model.screening.leave(int(p))
        self.lattice.remove(people)
        self.outside_at_harm[people] = outside
        self.state[people] = np.where(killed, State.KILLED, State.INJURED)

    def flee(self, point: np.ndarray, radius: float) -> np.ndarray:
        """People within ``radius`` of ``point`` flee at speed after their reaction delay.

        Returns those who perceived it just now (they had not been alarmed before).
        """
        idx, _ = self.alive_near(point, radius)
        idx = idx[CAN_REACT[self.state[idx]]]
        idx = idx[np.isinf(self.flee_at[idx])]
        self.flee_at[idx] = self.model.t + self.reaction[idx]
        self.flee_fast[idx] = True
        self.flee_from[idx] = point
        return idx

    def lock_down(self) -> None:
        """Gates shut: everyone inside stops where they are and stays."""
        inside = np.flatnonzero(self.state == State.INSIDE)
        self.state[inside] = State.SHELTERING
        self.leaving[inside] = False
        self.dwell_until[inside] = np.inf
        self.lattice.stop[inside] = np.inf
        self.resting[inside] = True

    def react_to_order(self) -> np.ndarray:
        """Everyone who can still react does so after their reaction delay; who that is."""
        idx = np.flatnonzero(CAN_REACT[self.state] & (self.state != State.SHELTERING))
        idx = idx[np.isinf(self.flee_at[idx])]
        self.flee_at[idx] = self.model.t + self.reaction[idx]
        return idx

    def shelter(self, idx: np.ndarray, shelters: np.ndarray) -> None:
        """People ``idx`` inside walk to the nearest shelter zone, each to a spot in it."""
        inside = idx[self.state[idx] == State.INSIDE]
        self.flee_at[inside] = np.inf
        walk = self.walk_cost(self.zone_dest[shelters], inside)
        self.state[inside] = State.SHELTERING
        self.leaving[inside] = False
        self.dwell_until[inside] = np.inf
        self.attractor[inside] = shelters[np.argmin(walk, axis=0)]
        for k in np.unique(self.attractor[inside]):
            sel = inside[self.attractor[inside] == k]
            u = self.model.rngs["behaviour"].random((len(sel), 2))
            self.attractor_point[sel] = self.model.geo.sample(int(k), u)
        self.head_for(inside, self.attractor[inside])

    # -------------------------------------------------------------------------- motion ---

    def step(self) -> None:
        """Reactions due now, one move of the lattice, and what follows from where people got."""
        self._start_flight()
        dest = self.lattice.dest.copy()
        gone = self._move()
        if len(gone):
            self._record_exit(gone, dest[gone])
            left = self.leaving[gone] | (self.state[gone] != State.FLEEING)
            self.state[gone] = np.where(left, State.LEFT, State.EVACUATED)
            self.leaving[gone] = False
            if not left.all():
                self.t_last_evacuated = self.model.t
        self.exits.review()
        self.model.screening.reach_lines()
        self._settle()
        self._move_on()

    def _record_exit(self, gone: np.ndarray, dest: np.ndarray) -> None:
        """Note the exit (and the time) by which each of ``gone`` left the lattice."""
        exits = self.exits.dest
        k = np.searchsorted(exits, dest)
        k = np.minimum(k, len(exits) - 1)
        hit = exits[k] == dest if len(exits) else np.zeros(len(gone), dtype=bool)
        self.exit_used[gone[hit]] = k[hit]
        self.t_out[gone[hit]] = self.model.t

    def exit_records(self) -> pd.DataFrame:
        """Per exit: who left by it and when (a row of ``exits.parquet`` for each exit).

        Those who left in the normal course, those who fled or evacuated by it, and the model
        times of the first and last evacuee (NaN when nobody).
        """
        rows = []
        for k, name in enumerate(self.layout.exit_names):
            by = self.exit_used == k
            evac = by & (self.state == State.EVACUATED)
            t = self.t_out[evac]
            rows.append(
                {
                    C.EXIT: name,
                    C.N_LEFT_BY: int((by & (self.state == State.LEFT)).sum()),
                    C.N_EVACUATED_BY: int(evac.sum()),
                    C.T_FIRST_EVACUATED_S: float(t.min()) if len(t) else math.nan,
                    C.T_LAST_EVACUATED_S: float(t.max()) if len(t) else math.nan,
                }
            )
        columns = [C.EXIT, C.N_LEFT_BY, C.N_EVACUATED_BY]
        return pd.DataFrame(rows, columns=[*columns, C.T_FIRST_EVACUATED_S, C.T_LAST_EVACUATED_S])

    def _start_flight(self) -> None:
        """People whose reaction delay is over flee towards an exit, out of any line."""
        t, m = self.model.t, self.lattice
        start = np.flatnonzero(self.flee_at <= t)
        if len(start) == 0:
            return
        self.flee_at[start] = np.inf
        start = start[CAN_REACT[self.state[start]]]
        in_line = start[self.state[start] == State.QUEUING]
        for p in in_line:
            self.model.screening.leave(int(p))
        if len(start) == 0:
            return
        if math.isnan(self.t_first_flight):
            self.t_first_flight = t
        self.state[start] = State.FLEEING
        self.leaving[start] = False
        self.dwell_until[start] = np.inf
        self.current_speed[start] = np.where(
            self.flee_fast[start], self.flight_speed[start], self.speed[start]
        )
        self.put(in_line, self.xy[in_line], self.stay)  # step out of the line
        m.dest[start] = self.exits.for_flight(start)
        m.stop[start] = 0.0
        self.resting[start] = False
        m.speed[start] = self.current_speed[start]
        m.jam[start] = np.where(self.flee_fast[start], 9, self.jam[start])  # flight pushes

    def _move(self) -> np.ndarray:
        """Step the lattice; return who left through an exit; update positions and density."""
        m = self.lattice
        before = m.active.copy()
        for _ in range(self.motion_steps):
            m.step(self.model.rngs["motion"])
        on = np.flatnonzero(m.active)
        x, y = m.grid.centre(m.ix[on], m.iy[on])
        self.xy[on, 0], self.xy[on, 1] = x, y
        self.rho[:] = 0.0
        self.rho[on] = m.density_of(on, half=1)  # persons/m² over 1.2 m x 1.2 m around each
        self.peak_now = float(self.rho[on].max()) if len(on) else 0.0
        return np.flatnonzero(before & ~m.active)

    def _settle(self) -> None:
        """People reaching their spot at an attractor or shelter start their stay there."""
        m = self.lattice
        going = np.flatnonzero(
            ((self.state == State.INSIDE) | (self.state == State.SHELTERING))
            & ~self.leaving
            & m.active
            & ~self.resting
        )
        if len(going) == 0:
            return
        here = self.layout.fields.fields[m.dest[going], m.iy[going], m.ix[going]]
        arrived = going[here <= m.stop[going] + 1e-3]
        self.resting[arrived] = True
        self._start_dwell(arrived)

    def _start_dwell(self, arrived: np.ndarray) -> None:
        """People reaching their attractor start their dwell (or wait for their train)."""
        idx = arrived[(self.state[arrived] == State.INSIDE) & ~self.leaving[arrived]]
        if len(idx) == 0:
            return
        first = ~np.isnan(self.dwell[idx])
        dwell = np.where(first, self.dwell[idx], 0.0)
        later = idx[~first]
        if len(later):
            dwell[~first] = self.spec.dwell_s.sample(self.model.rngs["behaviour"], len(later))
        self.dwell_until[idx] = self.model.t + dwell
        self.dwell[idx] = np.nan
        self.wait_for_train(idx)

    def _move_on(self) -> None:
        """People whose dwell is over leave, or go to another attractor (weighted choice)."""
        due = np.flatnonzero((self.dwell_until <= self.model.t) & (self.state == State.INSIDE))
        if len(due) == 0:
            return
        self.dwell_until[due] = np.inf
        rng = self.model.rngs["behaviour"]
        first = ~np.isnan(self.u_leave[due])
        u = np.where(first, self.u_leave[due], rng.random(len(due)))
        self.u_leave[due] = np.nan
        leave = u < self.spec.leave_probability
        self.leave(due[leave])
        stay = due[~leave]
        if len(stay) == 0:
            return
        choice = rng.choice(len(self.attractor_zones), size=len(stay), p=self.attractor_p)
        points = rng.random((len(stay), 2))
        for k, z in enumerate(self.attractor_zones):
            sel = choice == k
            self.attractor[stay[sel]] = z
            self.attractor_point[stay[sel]] = self.model.geo.sample(int(z), points[sel])
        self.head_for(stay, self.attractor[stay])
