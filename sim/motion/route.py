"""Route fields: the floor fields corrected for congestion (quickest rather than shortest path).

A static floor field ``S`` is the shortest walking distance.  Walking down it, everyone in a
crowd rounding a corner heads for the inner corner, where all shortest paths meet, and the
crowd queues there: a wide corridor then passes round its corner no more than a door would
(docs/validation.md, Corridor flow).  Pedestrians accept a longer way to avoid a dense crowd
(Kretz 2009, "Pedestrian traffic: on the quickest path", J. Stat. Mech. P03012; Hartmann
2010, New J. Phys. 12 043032).  The route field of a destination is

    R = S + C,   C = T - S_c,

where ``T`` is the travel time, in metres at free speed, to the destination on a coarse graph
whose nodes are slowed by a congested crowd on them, ``slowness = v0 / v(rho)`` with
Weidmann's speed-density relation ``v(rho) / v0 = 1 - exp(-gamma (1/rho - 1/rho_max))``
(floored at ``min_speed``) where ``rho``, the node's density averaged over the steps since
the last update, exceeds the density of the relation's greatest flow (1.75 /m²; 1 below: a
moving stream is no congestion), and ``S_c`` the same distance on the same graph with nobody
on it.  ``C`` is the delay congestion causes on the quickest way from a place; it is 0 where
that way is not congested, so ``R = S`` for people walking alone or in a moving stream.
Agents rank the cells they may step to by the direction of ``R``
(``softtarget.sim.motion._kernels.step_kernel``) and stop, arrive and pay their walking
budget by ``S``.

The graph: the lattice is cut into blocks of ``block`` x ``block`` cells; each 4-connected
piece of floor inside a block is a node (so a thin wall or fence through a block separates its
two sides), and two nodes are linked when a cell of one is a Moore neighbour of a cell of the
other (diagonals only where no wall corner is cut), with the distance between their centroids
as length.  ``T`` and ``S_c`` are Dijkstra distances on it (with an exact bucket queue).  A
cell's delay is the Hopf-Lax interpolation ``min_m (|cell - m| + T_m) - min_m (|cell - m| +
S_c,m)`` over its node and the nodes linked to it (``|cell - m|`` to the centre of ``m``'s
block): where a node spans a door, the cells past the door take the travel time of the free
nodes beyond it, not the queue's.  The interpolation is piecewise constant within a node (the
delay of the node the minimum passes through).  Cost per destination and update: one
Dijkstra over the nodes whose free way meets congestion (``~cells / block²`` at most) and a
pass over the cells near a delay; nothing while the crowd has not moved (``min_moved``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from softtarget.sim.motion.fields import FloorFields


@njit(cache=True)
def _block_nodes(walk: np.ndarray, b: int) -> tuple:
    """Node id of each cell (-1 on walls): the 4-connected floor pieces of each block."""
    ny, nx = walk.shape
    node = np.full((ny, nx), -1, dtype=np.int32)
    stack = np.empty(b * b, dtype=np.int64)
    m = 0
    for by in range(0, ny, b):
        y1 = min(by + b, ny)
        for bx in range(0, nx, b):
            x1 = min(bx + b, nx)
            for y0 in range(by, y1):
                for x0 in range(bx, x1):
                    if not walk[y0, x0] or node[y0, x0] >= 0:
                        continue
                    node[y0, x0] = m
                    stack[0] = y0 * nx + x0
                    sp = 1
                    while sp > 0:
                        sp -= 1
                        i = stack[sp]
                        y = i // nx
                        x = i - y * nx
                        for q in range(4):
                            xx = x + (1 if q == 0 else (-1 if q == 1 else 0))
                            yy = y + (1 if q == 2 else (-1 if q == 3 else 0))
                            if xx < bx or xx >= x1 or yy < by or yy >= y1:
                                continue
                            if walk[yy, xx] and node[yy, xx] < 0:
                                node[yy, xx] = m
                                stack[sp] = yy * nx + xx
                                sp += 1
                    m += 1
    return node, m


@njit(cache=True)
def _node_pairs(walk: np.ndarray, node: np.ndarray) -> np.ndarray:
    """Pairs of distinct nodes holding Moore-neighbour cells (both orders), as int64 keys."""
    ny, nx = walk.shape
    m = node.max() + 1
    out = np.empty(8 * ny * nx, dtype=np.int64)
    k = 0
    for y in range(ny):
        for x in range(nx):
            a = node[y, x]
            if a < 0:
                continue
            # E, N, NE, NW: each unordered pair of cells once
            for q in range(4):
                dx = 1 if q == 0 else (0 if q == 1 else (1 if q == 2 else -1))
                dy = 0 if q == 0 else 1
                xx = x + dx
                yy = y + dy
                if xx < 0 or xx >= nx or yy >= ny:
                    continue
                c = node[yy, xx]
                if c < 0 or c == a:
                    continue
                if dx != 0 and dy != 0 and not (walk[y, xx] and walk[yy, x]):
                    continue  # no corner cutting
                out[k] = a * m + c
                out[k + 1] = c * m + a
                k += 2
    return out[:k]


@njit(cache=True)
def _dial(ptr, adj, elen, slow, out, done, seeds, nseed, ent_n, ent_next) -> None:
    """Dijkstra with a circular bucket queue (Dial), exact as buckets are no wider than an edge.

    Edge cost = length x mean slowness of its ends (slowness >= 1).  ``out`` holds the known
    distances of the ``nseed`` nodes in ``seeds`` (inf elsewhere); nodes with ``done`` set are
    neither entered nor left.  ``ent_n``, ``ent_next``: work arrays of ``len(adj) + nodes``.
    """
    width = np.inf
    for e in range(elen.shape[0]):
        if 0.0 < elen[e] < width:
            width = elen[e]
    if not np.isfinite(width):
        return
    width *= 1.0 - 1e-9
    wmax = 0.0
    for e in range(elen.shape[0]):
        if elen[e] > wmax:
            wmax = elen[e]
    smax = 1.0
    for j in range(slow.shape[0]):
        if slow[j] > smax:
            smax = slow[j]
    nb = int(wmax * smax / width) + 2
    head = np.full(nb, -1, dtype=np.int64)
    k = 0
    lo = np.iinfo(np.int64).max
    for q in range(nseed):
        n = seeds[q]
        bi = int(out[n] / width)
        lo = min(lo, bi)
        ent_n[k] = n
        ent_next[k] = head[bi % nb]
        head[bi % nb] = k
        k += 1
    pending = nseed
    i = lo
    while pending > 0:
        b = i % nb
        q = head[b]
        head[b] = -1
        while q >= 0:
            nq = ent_next[q]
            n = ent_n[q]
            if int(out[n] / width) != i:
                # not this round's: a later bucket's entry (or stale, already settled)
                if not done[n] and int(out[n] / width) > i:
                    ent_next[q] = head[b]
                    head[b] = q
                    q = nq
                    continue
                pending -= 1
                q = nq
                continue
            pending -= 1
            q = nq
            if done[n]:
                continue
            done[n] = True
            t0 = out[n]
            sn = slow[n]
            for e in range(ptr[n], ptr[n + 1]):
                a = adj[e]
                if done[a]:
                    continue
                t = t0 + elen[e] * 0.5 * (sn + slow[a])
                if t < out[a]:
                    out[a] = t
                    bi = int(t / width)
                    ent_n[k] = a
                    ent_next[k] = head[bi % nb]
                    head[bi % nb] = k
                    k += 1
                    pending += 1
        i += 1


@njit(cache=True)
def _dijkstra(ptr, adj, elen, slow, src, out, ent_n, ent_next) -> None:
    """Shortest paths on the node graph from the nodes ``src`` (:func:`_dial`)."""
    m = out.shape[0]
    out[:] = np.inf
    done = np.zeros(m, dtype=np.bool_)
    seeds = np.flatnonzero(src)
    for n in seeds:
        out[n] = 0.0
    _dial(ptr, adj, elen, slow, out, done, seeds, seeds.shape[0], ent_n, ent_next)


@njit(cache=True)
def _delayed_dijkstra(ptr, adj, elen, slow, src, free, order, parent, out, ent_n, ent_next):
    """Travel times ``out`` where the crowd slows a node's free way (else its free distance).

    A node is in the *shadow* if it or a node on its free shortest way (``parent`` chain,
    visited in ``order`` of free distance) is slowed; outside it the travel time is the free
    distance.  Dijkstra runs over the shadow only, from its rim and its targets.  Returns
    False (and leaves ``out`` untouched) if nothing is in the shadow.
    """
    m = out.shape[0]
    shadow = np.zeros(m, dtype=np.bool_)
    anyshadow = False
    for q in range(m):
        n = order[q]
        if not np.isfinite(free[n]):
            break
        p = parent[n]
        if slow[n] > 1.0 or (p >= 0 and shadow[p]):
            shadow[n] = True
            anyshadow = True
    if not anyshadow:
        return False
    done = np.ones(m, dtype=np.bool_)
    seeds = np.empty(m, dtype=np.int64)
    ns = 0
    for n in range(m):
        out[n] = free[n]
        if shadow[n]:
            done[n] = False
            if src[n]:
                out[n] = 0.0
                seeds[ns] = n
                ns += 1
            else:
                out[n] = np.inf
        elif np.isfinite(free[n]):
            for e in range(ptr[n], ptr[n + 1]):
                if shadow[adj[e]]:
                    done[n] = False  # a rim node: start from it at its free distance
                    seeds[ns] = n
                    ns += 1
                    break
    _dial(ptr, adj, elen, slow, out, done, seeds, ns, ent_n, ent_next)
    return True


@njit(cache=True)
def _free_tree(ptr, adj, elen, free) -> np.ndarray:
    """Each node's next node on its free shortest way (-1 for targets and unreachable)."""
    m = free.shape[0]
    parent = np.full(m, -1, dtype=np.int64)
    for n in range(m):
        if free[n] == 0.0 or not np.isfinite(free[n]):
            continue
        best = np.inf
        for e in range(ptr[n], ptr[n + 1]):
            v = free[adj[e]] + elen[e]
            if v < best:
                best = v
                parent[n] = adj[e]
    return parent


@njit(cache=True)
def _accumulate(node, ix, iy, active, acc) -> None:
    """Add the people on each node to ``acc``."""
    for i in range(ix.shape[0]):
        if active[i]:
            acc[node[iy[i], ix[i]]] += 1


@njit(cache=True)
def _moved(node, ix, iy, active, last) -> int:
    """People now on another node than in ``last`` (node per slot, -1 off the grid)."""
    k = 0
    for i in range(ix.shape[0]):
        n = node[iy[i], ix[i]] if active[i] else -1
        if n != last[i]:
            k += 1
    return k


@njit(cache=True)
def _snapshot(node, ix, iy, active, last) -> None:
    """Note each slot's node (-1 off the grid) in ``last``."""
    for i in range(ix.shape[0]):
        last[i] = node[iy[i], ix[i]] if active[i] else -1


@njit(cache=True)
def _settle(acc, steps, cnt) -> bool:
    """Mean people per node ``cnt = acc / steps`` (and reset ``acc``); True if it changed."""
    changed = False
    for j in range(cnt.shape[0]):
        v = acc[j] / steps
        acc[j] = 0
        if v != cnt[j]:
            changed = True
            cnt[j] = v
    return changed


@njit(cache=True)
def _slowness(cnt, ncell, cell_area, free_density, gamma, rho_max, min_speed, slow) -> None:
    """Slowness v0 / v(rho) of each node from the number of people on it (1 up to free)."""
    for j in range(cnt.shape[0]):
        s = 1.0
        rho = cnt[j] / (ncell[j] * cell_area)
        if rho > free_density:
            f = 1.0 - np.exp(-gamma * (1.0 / rho - 1.0 / rho_max))
            if f < min_speed:
                f = min_speed
            if f < 1.0:
                s = 1.0 / f
        slow[j] = s


@njit(cache=True)
def _hopf_lax(node, ptr, adj, edir, dtab, b, value, out) -> None:
    """``out = min over the cell's node and the nodes linked to it of (|cell - m| + value[m])``.

    ``|cell - m|`` is ``dtab[cell's place in its block, direction of m's block]``, the
    distance (m) from the cell's centre to the centre of ``m``'s block.
    """
    ny, nx = node.shape
    for y in range(ny):
        oy = (y % b) * b
        for x in range(nx):
            n = node[y, x]
            if n < 0:
                continue
            o = oy + x % b
            best = dtab[o, 4] + value[n]
            for e in range(ptr[n], ptr[n + 1]):
                v = dtab[o, edir[e]] + value[adj[e]]
                if v < best:
                    best = v
            out[y, x] = best


@njit(cache=True)
def _apply(node, blk, ptr, adj, edir, dtab, b, tt, free, hl_free, field, clean, out) -> None:
    """Route field ``out = field + max(HL(tt) - HL(free), 0)``, skipping undelayed nodes.

    ``HL`` is the interpolation of :func:`_hopf_lax` (``hl_free`` that of the free distances).
    A node whose own and linked nodes all have ``tt`` within 1 mm of their free distance keeps
    (or gets back) the static field; ``clean`` marks the nodes whose cells hold it.
    """
    m = tt.shape[0]
    todo = np.zeros(m, dtype=np.int8)  # 0 skip, 1 restore the static field, 2 delay
    for n in range(m):
        delayed = tt[n] > free[n] + 1e-3
        if not delayed:
            for e in range(ptr[n], ptr[n + 1]):
                if tt[adj[e]] > free[adj[e]] + 1e-3:
                    delayed = True
                    break
        if delayed:
            todo[n] = 2
            clean[n] = False
        elif not clean[n]:
            todo[n] = 1
            clean[n] = True
    ny, nx = field.shape
    nbx = (nx + b - 1) // b
    mt = np.empty(9)
    for n in range(m):
        if todo[n] == 0:
            continue
        if todo[n] == 2:
            # least travel time of the node's links in each direction (own block: 4)
            mt[:] = np.inf
            mt[4] = tt[n]
            for e in range(ptr[n], ptr[n + 1]):
                k = edir[e]
                if tt[adj[e]] < mt[k]:
                    mt[k] = tt[adj[e]]
        y0 = (blk[n] // nbx) * b
        x0 = (blk[n] % nbx) * b
        for y in range(y0, min(y0 + b, ny)):
            oy = (y - y0) * b
            for x in range(x0, min(x0 + b, nx)):
                if node[y, x] != n:
                    continue
                f = field[y, x]
                if todo[n] == 2:
                    o = oy + x - x0
                    best = np.inf
                    for k in range(9):
                        v = dtab[o, k] + mt[k]
                        if v < best:
                            best = v
                    delay = best - hl_free[y, x]
                    if delay > 0.0:
                        f += delay
                out[y, x] = f


class RouteFields:
    """Congestion-corrected copies of a stack of floor fields (see the module docstring).

    Attributes:
        route: float32 ``(n_dest, ny, nx)``, the fields agents rank their moves by; equal to
            the static fields until :meth:`update` finds congestion delaying some way.

    """

    def __init__(self, fields: FloorFields, block: int, route: np.ndarray | None = None) -> None:
        """Build the node graph of ``fields``' grid and each destination's free distances.

        ``route``: the array to hold the route fields (a copy of the floor fields), or None
        for a new one.
        """
        self.fields = fields
        walk = fields.grid.walkable.astype(np.bool_)
        nx = walk.shape[1]
        b = self.b = int(block)
        node, m = _block_nodes(walk, b)
        self.node = node
        cells = np.flatnonzero(node.ravel() >= 0)
        ids = node.ravel()[cells]
        self.ncell = np.bincount(ids, minlength=m).astype(np.float64)
        ys, xs = np.divmod(cells, nx)
        cx = np.bincount(ids, weights=xs, minlength=m) / np.maximum(self.ncell, 1)
        cy = np.bincount(ids, weights=ys, minlength=m) / np.maximum(self.ncell, 1)
        keys = np.unique(_node_pairs(walk, node))
        a, c = keys // max(m, 1), keys % max(m, 1)
        self.ptr = np.zeros(m + 1, dtype=np.int64)
        np.cumsum(np.bincount(a, minlength=m), out=self.ptr[1:])
        self.adj = c.astype(np.int64)
        self.h = float(fields.grid.cell)
        self.elen = np.hypot(cx[a] - cx[c], cy[a] - cy[c]) * self.h
        # block of each node (from one of its cells) and direction code of each link
        first = np.full(m, -1, dtype=np.int64)
        first[ids[::-1]] = cells[::-1]
        bx, by = first % nx // b, first // nx // b
        self.blk = by * ((nx + b - 1) // b) + bx
        self.edir = ((by[c] - by[a] + 1) * 3 + bx[c] - bx[a] + 1).astype(np.int8)
        o = np.arange(b * b)
        k = np.arange(9)
        self.dtab = self.h * np.hypot(
            (k[None, :] % 3 - 1) * b + (b - 1) / 2 - (o[:, None] % b),
            (k[None, :] // 3 - 1) * b + (b - 1) / 2 - (o[:, None] // b),
        )
        self.slow = np.ones(m, dtype=np.float64)
        self._queue = (  # work arrays of the bucket queue (:func:`_dial`)
            np.empty(len(self.adj) + m + 1, dtype=np.int64),
            np.empty(len(self.adj) + m + 1, dtype=np.int64),
        )
        self.src = []
        self.free = []
        self.hl_free = []
        self.order = []
        self.parent = []
        ff = fields.fields
        for d in range(fields.n_dest):
            tgt = np.zeros(m, dtype=np.bool_)
            tgt[node[(ff[d] == 0.0) & (node >= 0)]] = True
            dist = np.full(m, np.inf)
            if tgt.any():
                _dijkstra(self.ptr, self.adj, self.elen, self.slow, tgt, dist, *self._queue)
            hl = np.full(walk.shape, np.inf, dtype=np.float32)
            _hopf_lax(node, self.ptr, self.adj, self.edir, self.dtab, b, dist, hl)
            self.src.append(tgt)
            self.free.append(dist)
            self.hl_free.append(hl)
            self.order.append(np.argsort(dist, kind="stable"))
            self.parent.append(_free_tree(self.ptr, self.adj, self.elen, dist))
        self.route = ff.copy() if route is None else route
        self.clean = np.ones((fields.n_dest, m), dtype=np.bool_)
        self._t = np.empty(m, dtype=np.float64)
        self._cnt = np.zeros(m, dtype=np.float64)
        self._acc = np.zeros(m, dtype=np.int64)
        self._steps = 0
        self._last: np.ndarray | None = None
        self._fresh = np.ones(fields.n_dest, dtype=bool)  # nobody on the graph yet

    @property
    def n_nodes(self) -> int:
        """Number of nodes of the route graph."""
        return int(self.ncell.shape[0])

    def accumulate(self, ix, iy, active) -> None:
        """Count the people on each node (a sample of the densities :meth:`update` averages)."""
        _accumulate(self.node, ix, iy, active, self._acc)
        self._steps += 1

    def update(
        self, ix, iy, active, dest_used, free_density, gamma, rho_max, min_speed, min_moved
    ) -> None:
        """Recompute the route fields of the destinations in ``dest_used`` from the crowd.

        The density of a node is its mean over the samples taken (:meth:`accumulate`) since
        the last update, or the present crowd if none was.  The congestion is taken as
        unchanged, and nothing recomputed, while at most a fraction ``min_moved`` of the
        people on the grid have moved to another node since it was last computed.
        """
        if self._steps == 0:
            self.accumulate(ix, iy, active)
        if self._last is None or self._last.shape[0] != ix.shape[0]:
            self._last = np.full(ix.shape[0], -2, dtype=np.int32)
        n_on = max(int(np.count_nonzero(active)), 1)
        if _moved(self.node, ix, iy, active, self._last) > min_moved * n_on:
            _snapshot(self.node, ix, iy, active, self._last)
            if _settle(self._acc, self._steps, self._cnt):
                _slowness(
                    self._cnt, self.ncell, self.h**2, free_density, gamma, rho_max, min_speed,
                    self.slow,
                )  # fmt: skip
                self._fresh[:] = False
        self._acc[:] = 0
        self._steps = 0
        ff = self.fields.fields
        for d in np.flatnonzero(dest_used & ~self._fresh):
            self._fresh[d] = True
            if not self.src[d].any():
                continue
            tt = self._t
            if not _delayed_dijkstra(
                self.ptr, self.adj, self.elen, self.slow, self.src[d], self.free[d],
                self.order[d], self.parent[d], tt, *self._queue,
            ):  # fmt: skip
                tt = self.free[d]
            _apply(
                self.node, self.blk, self.ptr, self.adj, self.edir, self.dtab, self.b, tt,
                self.free[d], self.hl_free[d], ff[d], self.clean[d], self.route[d],
            )  # fmt: skip
