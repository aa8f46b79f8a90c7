"""Numba kernels of the floor-field cellular automaton (:mod:`softtarget.sim.motion.lattice`)."""

from __future__ import annotations

import numpy as np
from numba import njit

# Moore neighbourhood in ring order: E, NE, N, NW, W, SW, S, SE.
DX = np.array([1, 1, 0, -1, -1, -1, 0, 1], dtype=np.int64)
DY = np.array([0, 1, 1, 1, 0, -1, -1, -1], dtype=np.int64)


@njit(cache=True, inline="always")
def _rand(state: np.ndarray) -> float:
    """Uniform [0, 1) from a xorshift64* generator whose state lives in ``state[0]``."""
    x = state[0]
    x ^= x >> np.uint64(12)
    x ^= x << np.uint64(25)
    x ^= x >> np.uint64(27)
    state[0] = x
    return float((x * np.uint64(2685821657736338717)) >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True, inline="always")
def _headway_speed(
    occ: np.ndarray,
    x: int,
    y: int,
    k: int,
    v0: float,
    ln: float,
    time_gap: float,
    lookahead: int,
    nx: int,
    ny: int,
    periodic: bool,
) -> float:
    """min(v0, gap / T): gap = free cells from (free) cell ``(x, y)`` on in direction ``k``."""
    nfree = 1
    while nfree < lookahead:
        x += DX[k]
        y += DY[k]
        if periodic:
            x = x % nx
        if x < 0 or x >= nx or y < 0 or y >= ny or occ[y, x] == -2:
            return v0
        if occ[y, x] >= 0:
            break
        nfree += 1
    if nfree >= lookahead:
        return v0
    vh = nfree * ln / time_gap
    return vh if vh < v0 else v0


@njit(cache=True, inline="always")
def _box_count(occ: np.ndarray, x: int, y: int, r: int, nx: int, ny: int) -> int:
    """People in the (2r+1) x (2r+1) cells centred on (x, y)."""
    s = 0
    for yy in range(max(y - r, 0), min(y + r + 1, ny)):
        for xx in range(max(x - r, 0), min(x + r + 1, nx)):
            if occ[yy, xx] >= 0:
                s += 1
    return s


@njit(cache=True, inline="always")
def _within(ox: int, oy: int, x: int, y: int, r: int) -> int:
    """1 if cell (ox, oy) lies in the (2r+1) x (2r+1) cells centred on (x, y), else 0."""
    return 1 if abs(ox - x) <= r and abs(oy - y) <= r else 0


@njit(cache=True, inline="always")
def _would_crowd(
    occ: np.ndarray, x: int, y: int, ox: int, oy: int, limit: int, nx: int, ny: int
) -> bool:
    """Whether a step from (ox, oy) onto free (x, y) would crowd a window beyond ``limit``.

    The windows are the 3 x 3 cells around the new cell and around each neighbour standing
    there; the mover is counted, at its new cell instead of its old one. A cheap bound first:
    if the 5 x 5 cells around (x, y), which hold every such window, hold few enough people,
    none can.
    """
    if _box_count(occ, x, y, 2, nx, ny) - _within(ox, oy, x, y, 2) + 1 <= limit:
        return False
    for wy in range(max(y - 1, 0), min(y + 2, ny)):
        for wx in range(max(x - 1, 0), min(x + 2, nx)):
            centre = wx == x and wy == y
            if not centre and (occ[wy, wx] < 0 or (wx == ox and wy == oy)):
                continue  # a window is measured around a person
            if _box_count(occ, wx, wy, 1, nx, ny) - _within(ox, oy, wx, wy, 1) + 1 > limit:
                return True
    return False


@njit(cache=True)
def _make_room(
    i, cx, cy, d, fields, stop, room, jam, occ, pas, ix, iy, nx, ny, b, budget_cap, cell,
    diag_len, noise, state,
) -> float:  # fmt: skip
    """A resting agent crowded beyond ``room[i]`` steps to a freer cell; its budget left.

    Candidates: free whole-floor neighbours within its resting distance (no corner cutting)
    with fewer others around them than it has now; the fewest is taken (noise breaks ties).
    The step is taken once the budget, accrued at the agent's speed, pays for it.
    """
    here = _box_count(occ, cx, cy, 1, nx, ny) - 1
    if here <= room[i]:
        return 0.0
    best = -1
    best_s = here - 0.5
    for k in range(8):
        x = cx + DX[k]
        y = cy + DY[k]
        if x < 0 or x >= nx or y < 0 or y >= ny or occ[y, x] != -1 or pas[y, x] < 1.0:
            continue
        if fields[d, y, x, 0] > stop[i]:
            continue
        if (k & 1) and (occ[cy, x] == -2 or occ[y, cx] == -2):
            continue
        if jam[i] < 9 and _would_crowd(occ, x, y, cx, cy, jam[i], nx, ny):
            continue
        sc = (_box_count(occ, x, y, 1, nx, ny) - 1) + noise * _rand(state)
        if sc < best_s:
            best_s = sc
            best = k
    if best < 0:
        return 0.0
    ln = diag_len if (best & 1) else cell
    b = min(b, budget_cap)
    if b < ln:
        return b
    x = cx + DX[best]
    y = cy + DY[best]
    occ[cy, cx] = -1
    occ[y, x] = i
    ix[i] = x
    iy[i] = y
    return b - ln


@njit(cache=True, nogil=True, error_model="numpy")
def step_kernel(
    fields: np.ndarray,
    sink: np.ndarray,
    labels: np.ndarray,
    occ: np.ndarray,
    pas: np.ndarray,
    free_at: np.ndarray,
    now: float,
    lane_s: float,
    ix: np.ndarray,
    iy: np.ndarray,
    speed: np.ndarray,
    dest: np.ndarray,
    stop: np.ndarray,
    room: np.ndarray,
    jam: np.ndarray,
    active: np.ndarray,
    budget: np.ndarray,
    odometer: np.ndarray,
    counts: np.ndarray,
    time_gap: float,
    overtake_max: int,
    lookahead: int,
    dt: float,
    cell: float,
    period: float,
    noise: float,
    r_min: float,
    cost_floor: float,
    budget_cap: float,
    blocked_keep: float,
    max_moves: int,
    swaps: bool,
    swap_speed: float,
    swap_r_min: float,
    seed: int,
) -> int:
    """Advance all active agents by ``dt`` in random sequential order; return removals.

    ``fields`` is float32 ``(n_dest, ny, nx, 2)``: ``[..., 0]`` the floor fields, distances (m)
    agents stop, arrive and pay their walking budget by; ``[..., 1]`` the route fields, the same
    corrected for congestion (:mod:`softtarget.sim.motion.route`), by which they rank the cells
    they may step to (side by side: one cache line holds both).

    An agent rests where its field is at most its ``stop`` distance (0: on the target). With
    ``swaps``, a walker with no free downhill cell may change places with a neighbour
    downhill who is resting, or walking the other way (the swap brings both closer), squeezing
    past at ``swap_speed`` (at most one swap per step); one displaced from rest walks back by
    itself. Head-on, two walkers pass each other instead of locking.

    Personal space at rest: an agent within its resting distance with more than ``room[i]``
    others in the 3 x 3 cells around it (8 or more: no limit) steps, at its own speed, to a
    free neighbouring cell still within its resting distance that has fewer others around it,
    if there is one (:func:`_box_count`); a standing crowd thins out to what its members
    accept instead of packing every cell.

    Jam density: an agent does not step onto a cell that would put more than ``jam[i]``
    people (itself counted; 9: no limit) in the 3 x 3 window around that cell or around a
    neighbour standing by it (:func:`_would_crowd`): at jam density walking stops (Weidmann
    1993), and only a pushing crowd (those in competitive flight, the caller's choice) packs
    closer. It may still squeeze past by a swap, which moves nobody closer together.

    ``pas`` is each cell's open fraction: a partly open cell (a door's edge) admits one
    person per ``lane_s / pas`` seconds (``free_at`` holds when it next may, ``now`` is the
    time), so its lane passes that fraction of a whole lane's flow (one per ``lane_s``).

    ``seed`` (from the caller's ``numpy.random.Generator``) seeds the kernel's own
    xorshift64* stream, so a step is a deterministic function of the state and the seed.
    """
    state = np.empty(1, dtype=np.uint64)
    state[0] = np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15) | np.uint64(1)
    ny, nx = occ.shape
    periodic = period > 0.0
    n = ix.shape[0]
    order = np.empty(n, dtype=np.int64)
    m = 0
    for i in range(n):
        if active[i]:
            order[m] = i
            m += 1
    # Fisher-Yates shuffle of the active agents.
    for t in range(m - 1, 0, -1):
        j = int(_rand(state) * (t + 1))
        tmp = order[t]
        order[t] = order[j]
        order[j] = tmp
    removed = 0
    diag_len = cell * np.sqrt(2.0)
    ck = np.empty(8, dtype=np.int64)
    cxs = np.empty(8, dtype=np.int64)
    cys = np.empty(8, dtype=np.int64)
    cdec = np.empty(8, dtype=np.float64)
    cr = np.empty(8, dtype=np.float64)
    cu = np.empty(8, dtype=np.float64)
    for t in range(m):
        i = order[t]
        d = dest[i]
        moves = 0
        first = True
        b = budget[i]
        v0 = speed[i]
        if v0 <= 0.0:
            budget[i] = 0.0
            continue
        while True:
            cx = ix[i]
            cy = iy[i]
            fc = fields[d, cy, cx, 0]
            fr = fields[d, cy, cx, 1]
            if (fc == 0.0 or fc <= stop[i]) and not periodic:
                # arrived (sinks remove on arrival), or within its own resting distance
                if fc == 0.0 and sink[d]:  # sent to a sink it already stands in: out
                    lab = labels[cy, cx]
                    if lab >= 0:
                        counts[lab] += 1
                    occ[cy, cx] = -1
                    active[i] = False
                    removed += 1
                elif first:
                    b = 0.0
                    if (
                        room[i] < 8
                        and not periodic
                        and _box_count(occ, cx, cy, 1, nx, ny) - 1 > room[i]
                    ):
                        b = _make_room(
                            i, cx, cy, d, fields, stop, room, jam, occ, pas, ix, iy, nx, ny,
                            budget[i] + v0 * dt, budget_cap, cell, diag_len, noise, state,
                        )  # fmt: skip
                break
            # Choose the free cell maximising r_k + noise * U, where r_k is the move's
            # efficiency along the route field (route distance gained per metre walked), among
            # those gaining at least r_min per metre along the distance field (0: any that
            # does not lead away); see pass 2 for overtaking.
            # gap_k is the free run of cells in direction k (scanned up to ``lookahead``
            # cells; a wall ends the scan as free).  Headway-aware choice (overtaking) only
            # with room to manoeuvre: at most ``overtake_max`` of the 8 neighbours occupied.
            # Pass 1: free downhill candidates, best by efficiency + noise (and count the
            # occupied neighbours).
            nocc = 0
            nc = 0
            best = -1
            best_s = -1e30
            # every window a step could crowd lies in the 7 x 7 cells around the agent: with
            # few enough people there (the agent counted), no step needs the check
            check_jam = jam[i] < 9 and _box_count(occ, cx, cy, 3, nx, ny) > jam[i]
            for k in range(8):
                x = cx + DX[k]
                y = cy + DY[k]
                adj = 0.0
                if periodic:
                    if x >= nx:
                        x -= nx
                        adj = -period
                    elif x < 0:
                        x += nx
                        adj = period
                elif x < 0 or x >= nx:
                    continue
                if y < 0 or y >= ny:
                    continue
                if occ[y, x] != -1:
                    if occ[y, x] >= 0:
                        nocc += 1
                    continue  # wall (-2) or occupied
                dec = fc - (fields[d, y, x, 0] + adj)
                ln = diag_len if (k & 1) else cell
                if dec < r_min * ln:
                    continue
                r = (fr - (fields[d, y, x, 1] + adj)) / ln
                # no corner cutting: both orthogonal cells of a diagonal move must be whole
                # floor (a partly open cell is a door's frame)
                if (k & 1) and (
                    occ[cy, x] == -2 or occ[y, cx] == -2 or pas[cy, x] < 1.0 or pas[y, cx] < 1.0
                ):
                    continue
                if pas[y, x] < 1.0 and now < free_at[y, x]:
                    continue  # a partly open cell admits one person per lane_s / pas
                if check_jam and _would_crowd(occ, x, y, cx, cy, jam[i], nx, ny):
                    continue  # no walking on into a crowd at jam density
                u = noise * _rand(state)
                ck[nc] = k
                cxs[nc] = x
                cys[nc] = y
                cdec[nc] = dec
                cr[nc] = r
                cu[nc] = u
                if r + u > best_s:
                    best_s = r + u
                    best = nc
                nc += 1
            aware = overtake_max >= 0 and nocc <= overtake_max
            if best < 0:
                if first and swaps:
                    # squeeze past someone standing: swap with the best downhill neighbour
                    sw = -1
                    sw_s = -1e30
                    sw_dec = 0.0
                    for k in range(8):
                        x = cx + DX[k]
                        y = cy + DY[k]
                        if x < 0 or x >= nx or y < 0 or y >= ny:
                            continue
                        j = occ[y, x]
                        if j < 0:
                            continue  # free (handled above) or a wall
                        fj = fields[dest[j], y, x, 0]
                        if fj > stop[j] and not fields[dest[j], cy, cx, 0] < fj:
                            continue  # someone walking whom this cell does not bring closer
                        if (k & 1) and (occ[cy, x] == -2 or occ[y, cx] == -2):
                            continue
                        dec = fc - fields[d, y, x, 0]
                        ln = diag_len if (k & 1) else cell
                        if dec / ln < swap_r_min:
                            continue
                        sc = dec / ln + noise * _rand(state)
                        if sc > sw_s:
                            sw_s = sc
                            sw = k
                            sw_dec = dec
                    if sw >= 0:
                        x = cx + DX[sw]
                        y = cy + DY[sw]
                        ln = diag_len if (sw & 1) else cell
                        b = b + min(v0, swap_speed) * dt
                        sw_cost = max(min(sw_dec, ln), cost_floor * ln)
                        if b >= sw_cost:
                            b -= sw_cost
                            j = occ[y, x]
                            occ[cy, cx] = j
                            ix[j] = cx
                            iy[j] = cy
                            occ[y, x] = i
                            ix[i] = x
                            iy[i] = y
                            odometer[i] += sw_dec
                        break
                if first:
                    b = b * blocked_keep
                break
            ch = ck[best]
            ch_v = _headway_speed(
                occ,
                cxs[best],
                cys[best],
                ch,
                v0,
                diag_len if (ch & 1) else cell,
                time_gap,
                lookahead,
                nx,
                ny,
                periodic,
            )
            if aware and ch_v < v0:
                # Pass 2: someone ahead; with room to manoeuvre pick the best expected
                # progress r_k * min(v0, gap_k / T) / v0 + noise (pull out and overtake).
                best_s = cr[best] * ch_v / v0 + cu[best]
                for c in range(nc):
                    if c == best:
                        continue
                    k = ck[c]
                    vk = _headway_speed(
                        occ,
                        cxs[c],
                        cys[c],
                        k,
                        v0,
                        diag_len if (k & 1) else cell,
                        time_gap,
                        lookahead,
                        nx,
                        ny,
                        periodic,
                    )
                    sc = cr[c] * vk / v0 + cu[c]
                    if sc > best_s:
                        best_s = sc
                        best = c
                        ch_v = vk
                ch = ck[best]
            ch_dec = cdec[best]
            chx = cxs[best]
            chy = cys[best]
            ln = diag_len if (ch & 1) else cell
            if first:
                first = False
                # Walking budget accrues at the headway speed of the chosen direction.
                b = b + ch_v * dt
            # charge the distance gained, which a distance field never makes longer than the
            # step (capped at it where a composite field jumps)
            cost = max(min(ch_dec, ln), cost_floor * ln)
            if b < cost:
                break
            b -= cost
            occ[cy, cx] = -1
            x = chx
            y = chy
            occ[y, x] = i
            ix[i] = x
            iy[i] = y
            odometer[i] += ch_dec
            if pas[y, x] < 1.0:
                free_at[y, x] = now + lane_s / pas[y, x]
            moves += 1
            if sink[d] and fields[d, y, x, 0] == 0.0:
                lab = labels[y, x]
                if lab >= 0:
                    counts[lab] += 1
                occ[y, x] = -1
                active[i] = False
                removed += 1
                break
            if moves >= max_moves or b < cost_floor * cell:
                break  # (no move costs less than cost_floor * cell)
        if b > budget_cap:
            b = budget_cap
        budget[i] = b
    return removed


@njit(cache=True)
def nearest_free(walk: np.ndarray, occ: np.ndarray, cx: int, cy: int, max_r: int) -> tuple:
    """Nearest walkable, unoccupied cell to ``(cx, cy)`` by Chebyshev rings; (-1, -1) if none."""
    ny, nx = walk.shape
    for r in range(max_r + 1):
        bx = -1
        by = -1
        bd = 1e30
        for y in range(cy - r, cy + r + 1):
            if y < 0 or y >= ny:
                continue
            for x in range(cx - r, cx + r + 1):
                if x < 0 or x >= nx:
                    continue
                if max(abs(x - cx), abs(y - cy)) != r:
                    continue
                if walk[y, x] and occ[y, x] < 0:
                    dd = (x - cx) ** 2 + (y - cy) ** 2
                    if dd < bd:
                        bd = dd
                        bx = x
                        by = y
        if bx >= 0:
            return bx, by
    return -1, -1


@njit(cache=True)
def place_agents(
    walk: np.ndarray,
    occ: np.ndarray,
    cx: np.ndarray,
    cy: np.ndarray,
    slots: np.ndarray,
    ix: np.ndarray,
    iy: np.ndarray,
    max_r: int,
) -> int:
    """Place agent ``slots[k]`` at the free cell nearest ``(cx[k], cy[k])``; return #placed."""
    placed = 0
    for k in range(cx.shape[0]):
        x, y = nearest_free(walk, occ, cx[k], cy[k], max_r)
        if x < 0:
            ix[slots[k]] = -1
            iy[slots[k]] = -1
            continue
        occ[y, x] = slots[k]
        ix[slots[k]] = x
        iy[slots[k]] = y
        placed += 1
    return placed


@njit(cache=True)
def box_density(occ: np.ndarray, half: int, cell_area: float) -> np.ndarray:
    """Persons/m² per cell: occupied cells in a ``(2h+1)²`` window over the window area."""
    ny, nx = occ.shape
    c = np.zeros((ny + 1, nx + 1), dtype=np.int32)
    for y in range(ny):
        for x in range(nx):
            c[y + 1, x + 1] = c[y, x + 1] + c[y + 1, x] - c[y, x] + (1 if occ[y, x] >= 0 else 0)
    out = np.empty((ny, nx), dtype=np.float32)
    area = (2 * half + 1) ** 2 * cell_area
    for y in range(ny):
        y0 = max(y - half, 0)
        y1 = min(y + half + 1, ny)
        for x in range(nx):
            x0 = max(x - half, 0)
            x1 = min(x + half + 1, nx)
            s = c[y1, x1] - c[y0, x1] - c[y1, x0] + c[y0, x0]
            out[y, x] = s / area
    return out


@njit(cache=True)
def density_at(
    occ: np.ndarray, ix: np.ndarray, iy: np.ndarray, half: int, cell_area: float
) -> np.ndarray:
    """Persons/m² in the ``(2h+1)²`` window around each given cell (as :func:`box_density`)."""
    ny, nx = occ.shape
    out = np.empty(ix.shape[0], dtype=np.float32)
    area = (2 * half + 1) ** 2 * cell_area
    for k in range(ix.shape[0]):
        out[k] = _box_count(occ, ix[k], iy[k], half, nx, ny) / area
    return out
