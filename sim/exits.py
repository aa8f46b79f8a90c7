"""Which exit a person takes: the nearest walk, a choice of their own, or as stewards guide.

People leaving in the normal course take the exit nearest by walking distance. People who
evacuate on their own (fleeing an attack, or evacuating with nobody guiding) choose among the
exits as random-utility models of exit choice describe (Lovreglio et al. 2016; Haghani &
Sarvi 2016): each exit's expected time is the walk to it, plus the wait at the queue they see
at it, less a bonus for the exit they came in by (people leave the way they came: Sime 1985;
Kinateder et al. 2018) and one for an exit they can see. They pick an exit with probability
proportional to ``exp(-time / crowd.exit_choice.scale_s)`` (a multinomial logit), so most take
the best exit and some another, as in RiMEA's test 11; people caught in a jam reconsider
every few seconds, their own exit somewhat preferred (Haghani & Sarvi 2019). People fleeing
a threat steer away from it: an exit that lies towards the threat costs
``crowd.flee_detour_m`` more walk.

In a guided evacuation (staff with the ``guide`` power on site, or
``coordination.guided_evacuation``) stewards send each evacuee to the exit with the shortest
expected time: the walk plus the wait at the door, at ``crowd.door_flow_pmps`` per metre of its
width, counting everyone already sent there; those caught in a jam later reconsider as
self-evacuees do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from softtarget.sim.people import State
from softtarget.sim.schema import POWERS
from softtarget.sim.sight import sight_for, view_for

if TYPE_CHECKING:
    from softtarget.sim.crowd import Crowd
    from softtarget.sim.model import SoftTargetModel

#: Slowest speed, m/s, used to turn a walk into a time (people hurt or packed still move).
MIN_SPEED = 0.3


class ExitChoice:
    """The exits of a venue and how people choose among them."""

    def __init__(self, model: SoftTargetModel, crowd: Crowd) -> None:
        """The exits of ``crowd``'s lattice; guided when the configuration has guides."""
        self.model = model
        self.crowd = crowd
        layout, geo, cfg = crowd.layout, model.geo, model.config
        self.dest = np.asarray(layout.exit_dest, dtype=np.int64)
        self.centres = np.array([geo.centroids[geo.index(n)] for n in layout.exit_names])
        zones = model.scenario.venue.zones
        self.bounds = np.array([zones[n].bounds() for n in layout.exit_names], dtype=float)
        widths = np.asarray([zones[name].width_m for name in layout.exit_names])
        self.capacity = widths * crowd.spec.door_flow_pmps  # persons per second
        self.detour_m = crowd.spec.flee_detour_m
        self.spec = crowd.spec.exit_choice
        venue = model.scenario.venue
        self.sight = sight_for(venue)
        self.views = [view_for(venue, tuple(b), self.spec.sight_m) for b in self.bounds]
        self.next_review = 0.0  # when self-evacuees next reconsider their exit
        self._familiar: np.ndarray | None = None  # per person, drawn at the first choice
        self._taste: np.ndarray | None = None  # per exit and person, drawn at the first choice
        co = cfg.coordination
        guides = sum(g.count for g in cfg.staff.values() if "guide" in POWERS[g.role])
        self.guided = co.guided_evacuation if co.guided_evacuation is not None else guides > 0

    def nearest(self, idx: np.ndarray) -> np.ndarray:
        """Floor-field index of the exit each person reaches by the shortest walk.

        People fleeing a threat steer away from it (:meth:`away_penalty`).
        """
        dist = self.crowd.walk_cost(self.dest, idx)
        return self.dest[np.argmin(dist + self.away_penalty(idx), axis=0)]

    def for_flight(self, idx: np.ndarray) -> np.ndarray:
        """The exit each person starting to flee or evacuate heads for.

        In a guided evacuation, the stewards' choice (:meth:`guide`); otherwise each person's
        own (:meth:`choose`).
        """
        if len(idx) == 0:
            return np.empty(0, dtype=np.int64)
        if self.guided and self.model.response.evacuating:
            return self.guide(idx)
        return self.choose(idx)

    def guide(self, idx: np.ndarray) -> np.ndarray:
        """The exit stewards send each person to: the shortest expected time.

        Walking distance / walking speed + (people already heading there + 1) / the door's
        capacity. People are assigned one by one in a random order, so loads balance.
        """
        m = self.crowd.lattice
        walk_s = self._walk_s(idx)
        heading = m.dest[m.active]
        load = np.array([(heading == d).sum() for d in self.dest], dtype=float)
        out = np.empty(len(idx), dtype=np.int64)
        for k in self.model.rngs["behaviour"].permutation(len(idx)):
            cost = walk_s[:, k] + (load + 1.0) / self.capacity
            best = int(np.argmin(cost))
            load[best] += 1.0
            out[k] = self.dest[best]
        return out

    def review(self) -> None:
        """Evacuees caught in a jam reconsider their exit, every ``review_s``.

        People fleeing or evacuating, guided or not (stewards and evacuees see the queues
        too), whose local density is at least ``review_density_ppm2`` choose again
        (:meth:`choose`), their current exit ``stay_s`` the better: people change exits
        when the queue at theirs grows (Haghani & Sarvi 2019).
        """
        model, spec = self.model, self.spec
        if model.t < self.next_review:
            return
        self.next_review = model.t + spec.review_s
        cw, m = self.crowd, self.crowd.lattice
        idx = np.flatnonzero(
            (cw.state == State.FLEEING) & m.active & (cw.rho >= spec.review_density_ppm2)
        )
        if len(idx):
            m.dest[idx] = self.choose(idx, current=m.dest[idx])

    def choose(self, idx: np.ndarray, current: np.ndarray | None = None) -> np.ndarray:
        """The exit each person picks on their own: a logit choice of expected times.

        For exit ``e``: walk time (with the detour away from a threat) + the wait behind
        the queue seen there (:meth:`queue_ahead`, over its capacity; only for an exit in
        sight) - ``familiar_s`` for the exit nearest to where the person came in -
        ``visible_s`` for an exit in sight. The exit minimising
        ``time / scale_s - G``, with ``G`` standard Gumbel draws, is taken: the multinomial
        logit with scale ``scale_s``. Exits that cannot be reached are never taken.

        ``G`` is each person's own taste for each exit (:meth:`taste`), drawn once: a person
        reconsidering weighs the same exits the same way and changes only when the queues,
        walks or sight lines have changed, not on a fresh draw of the dice (the unobserved
        part of a person's utility is correlated over time: Haghani & Sarvi 2016, 2019).
        """
        spec = self.spec
        time_s = self._walk_s(idx)
        seen = self.in_sight(idx)
        wait_s = self.queue_ahead(idx) / self.capacity[:, None]
        time_s = time_s + np.where(seen, wait_s - spec.visible_s, 0.0)
        familiar = self.familiar()[idx]
        time_s -= spec.familiar_s * (np.arange(len(self.dest))[:, None] == familiar[None, :])
        if current is not None:  # reconsidering: staying on costs nothing to decide
            time_s -= spec.stay_s * (self.dest[:, None] == current[None, :])
        gumbel = self.taste()[:, idx]
        utility = np.where(np.isfinite(time_s), -time_s / spec.scale_s + gumbel, -np.inf)
        return self.dest[np.argmax(utility, axis=0)]

    def taste(self) -> np.ndarray:
        """Per exit (rows) and person (columns), a standard Gumbel draw: their own liking."""
        if self._taste is None:
            shape = (len(self.dest), self.crowd.n)
            self._taste = self.model.rngs["behaviour"].gumbel(size=shape)
        return self._taste

    def _walk_s(self, idx: np.ndarray) -> np.ndarray:
        """Seconds of walk from each person (columns) to each exit (rows), detours included."""
        cw = self.crowd
        walk = cw.walk_cost(self.dest, idx) + self.away_penalty(idx)
        return walk / np.maximum(cw.current_speed[idx], MIN_SPEED)[None, :]

    def _to_exit(self, xy: np.ndarray) -> np.ndarray:
        """Distance, metres, from each point (columns) to each exit zone's bounds (rows)."""
        x0, y0, x1, y1 = (self.bounds[:, k : k + 1] for k in range(4))
        dx = np.maximum(np.maximum(x0 - xy[None, :, 0], xy[None, :, 0] - x1), 0.0)
        dy = np.maximum(np.maximum(y0 - xy[None, :, 1], xy[None, :, 1] - y1), 0.0)
        return np.hypot(dx, dy)

    def in_sight(self, idx: np.ndarray) -> np.ndarray:
        """Whether each person (columns) sees each exit (rows): near enough, no wall between.

        The sight line runs from the centre of the person's cell to the point of the exit
        zone nearest to it (:meth:`softtarget.sim.sight.Sight.view_of`, once per venue).
        """
        xy = self.crowd.xy[idx]
        return np.array([self.sight.covered(v, xy) for v in self.views]).reshape(-1, len(idx))

    def queue_ahead(self, idx: np.ndarray) -> np.ndarray:
        """People each person (columns) would queue behind at each exit (rows).

        Those heading to the exit within ``queue_radius_m`` of it and nearer to it (by
        walk) than the person: the whole queue at an exit one would join, the part ahead
        at one's own.
        """
        cw, m = self.crowd, self.crowd.lattice
        on = np.flatnonzero(m.active)
        close = self._to_exit(cw.xy[on]) <= self.spec.queue_radius_m
        mine = cw.walk_cost(self.dest, idx)
        out = np.zeros((len(self.dest), len(idx)))
        for e, d in enumerate(self.dest):
            queue = on[close[e] & (m.dest[on] == d)]
            if len(queue):
                ahead = np.sort(cw.walk_cost(self.dest[e : e + 1], queue)[0])
                out[e] = np.searchsorted(ahead, mine[e], side="left")
        return out

    def familiar(self) -> np.ndarray:
        """Per person, the exit (index into the exits) nearest to where they came in; -1: none.

        Where they came in is their checkpoint, chosen as screening chooses it (by open
        lanes), or their entrance; people who came by train, or into a venue with neither,
        have no familiar exit.
        """
        if self._familiar is not None:
            return self._familiar
        cw, geo = self.crowd, self.model.geo
        checkpoints = self.model.screening.checkpoints
        if checkpoints:
            weights = np.array([len(c.lanes) for c in checkpoints], dtype=float)
            cum = np.cumsum(weights / weights.sum())
            which = np.minimum(np.searchsorted(cum, cw.checkpoint_u, side="right"), len(cum) - 1)
            zones = np.array([c.zone for c in checkpoints])[which]
        elif cw.entrances:
            k = (cw.checkpoint_u * len(cw.entrances)).astype(np.int64)
            zones = np.asarray(cw.entrances)[k]
        else:
            self._familiar = np.full(cw.n, -1, dtype=np.int64)
            return self._familiar
        fields, grid = cw.layout.fields, cw.lattice.grid
        out = np.full(cw.n, -1, dtype=np.int64)
        for z in np.unique(zones):
            ix, iy = grid.cell_of(geo.centroids[z][:1], geo.centroids[z][1:])
            walk = fields.fields[self.dest, iy[0], ix[0]]
            if np.isfinite(walk).any():
                out[zones == z] = int(np.argmin(walk))
        out[cw.spawn_zone >= 0] = -1  # off a train
        self._familiar = out
        return out

    def away_penalty(self, idx: np.ndarray) -> np.ndarray:
        """Extra metres for each exit (rows) and person (columns) fleeing from a threat.

        An exit whose direction lies within 60° of the threat's, with the threat not beyond
        the exit, costs ``flee_detour_m`` more, so people take it only when every way out
        passes the threat.
        """
        cw = self.crowd
        src = cw.flee_from[idx]
        known = ~np.isnan(src[:, 0])
        out = np.zeros((len(self.dest), len(idx)))
        if known.any():
            me = cw.xy[idx[known]]
            to_src = src[known] - me
            to_exit = self.centres[:, None, :] - me[None, :, :]
            d_src = np.hypot(*to_src.T)
            d_exit = np.hypot(to_exit[..., 0], to_exit[..., 1])
            cos = (to_exit * to_src[None]).sum(-1) / np.maximum(d_exit * d_src[None, :], 1e-9)
            towards = (cos > 0.5) & (d_src[None, :] < d_exit + 5.0)
            out[:, known] = np.where(towards, self.detour_m, 0.0)
        return out
