"""The organisations of a plan and the links between them, as a graph messages travel.

A configuration names its parties (``organisations``: side, staff groups, control room,
powers) and the ways between them (``links``: a delay, a loss, a capacity and what each may
carry). Without them, the plan's parties are those the reporting chain of
:class:`~softtarget.sim.schema.Coordination` describes: the police (every public staff group;
dispatch, respond, emergency calls) and, when the plan has private staff, a security company
(the private groups; respond) whose room reaches the police over ``joint_to_police`` or
``private_to_police``. Built so, a run draws exactly what the fixed chain drew.

Messages travel towards the one organisation with the ``dispatch`` power. A room that is not
it passes a message on over the first link of its quickest usable way there: the way whose
expected delay (links' mean delays, rooms' mean handling times) is least, among links that
may carry what the message contains; ties go to the link named first. The nodes are the
organisations and the staff groups: a group reaches its own organisation's room by its
members' radio (or without one), and its members also use the links that leave the group
(informal contacts), each to the nearest member of the group the link names.

The shortest ways are computed once per configuration with scipy's Dijkstra.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.sparse.csgraph import csgraph_from_dense, dijkstra

from softtarget.sim.schema import (
    CONTENTS,
    DEFAULT_SIDE,
    Configuration,
    Hop,
    Link,
    Organisation,
    Room,
)

#: The organisations a configuration without ``organisations`` has.
POLICE, SECURITY = "police", "security"


@dataclass(frozen=True)
class Party:
    """One organisation as a run uses it: its spec with every default filled in."""

    name: str
    side: str
    staff: tuple[str, ...]
    powers: frozenset[str]
    room: Room
    radio: Hop
    no_radio: Hop
    decision_delay: object  # a Dist
    cost_per_hour_eur: float

    @property
    def instant(self) -> bool:
        """Whether the room acts on a message the moment it arrives (no handling time)."""
        d = self.room.handle_s
        return getattr(d, "dist", None) == "fixed" and d.mean == 0.0


@dataclass(frozen=True)
class Way:
    """One link as a run uses it."""

    name: str
    source: str
    to: str
    hop: Hop
    capacity: int | None
    carries: frozenset[str]


def _side(group_side: str | None, role: str) -> str:
    return group_side or DEFAULT_SIDE[role]


def declared(cfg: Configuration) -> tuple[dict[str, Organisation], dict[str, Link]]:
    """The configuration's organisations and links, the defaults where it declares none."""
    orgs = cfg.organisations
    if orgs is None:
        public = [n for n, g in cfg.staff.items() if _side(g.side, g.role) == "public"]
        private = [n for n in cfg.staff if n not in public]
        orgs = {
            POLICE: Organisation(
                side="public", staff=public, powers=["dispatch", "respond", "emergency_calls"]
            )
        }
        if private:
            orgs[SECURITY] = Organisation(side="private", staff=private, powers=["respond"])
    links = cfg.links
    if links is None:
        links = {}
        co = cfg.coordination
        for name, org in orgs.items():
            if "dispatch" not in org.powers and org.side != "public":
                hop_name = "joint_to_police" if co.joint_control_room else "private_to_police"
                hop = getattr(co, hop_name)
                target = next((n for n, o in orgs.items() if "dispatch" in o.powers), POLICE)
                key = hop_name if name == SECURITY else f"{name}_{hop_name}"
                links[key] = Link(source=name, to=target, delay_s=hop.delay_s, loss=hop.loss)
    return orgs, links


class Graph:
    """The parties of one configuration, the links between them and the quickest ways."""

    def __init__(self, cfg: Configuration) -> None:
        """Fill in every default and compute, per kind of content, each node's way on."""
        orgs, links = declared(cfg)
        co = cfg.coordination
        self.parties: dict[str, Party] = {}
        for name, o in orgs.items():
            public = o.side == "public"
            radio = o.radio or (co.police_to_police if public else co.staff_radio_to_control)
            no_radio = o.no_radio or (co.police_to_police if public else co.staff_to_control)
            self.parties[name] = Party(
                name, o.side, tuple(o.staff), frozenset(o.powers), o.room, radio, no_radio,
                o.decision_delay_s or co.decision_delay_s, o.cost_per_hour_eur,
            )  # fmt: skip
        self.ways: dict[str, Way] = {
            n: Way(n, w.source, w.to, Hop(delay_s=w.delay_s, loss=w.loss), w.capacity,
                   frozenset(w.carries))
            for n, w in links.items()
        }  # fmt: skip
        self.group_party = {g: p.name for p in self.parties.values() for g in p.staff}
        holders = [p.name for p in self.parties.values() if "dispatch" in p.powers]
        self.dispatch = holders[0] if holders else None
        calls = [p.name for p in self.parties.values() if "emergency_calls" in p.powers]
        self.emergency = calls[0] if calls else self.dispatch
        # an organisation and a staff group may share a name (a group called "security" in a
        # plan with the default organisations): the nodes are kept apart by kind
        self.nodes = [*(f"org:{p}" for p in self.parties), *(f"group:{g}" for g in cfg.staff)]
        self._index = {n: i for i, n in enumerate(self.nodes)}
        self.to_dispatch = {c: self._distances(c) for c in CONTENTS}

    def _node(self, name: str) -> str:
        """The node a link's end names: the organisation of that name, else the staff group."""
        return f"org:{name}" if name in self.parties else f"group:{name}"

    def _edges(self, content: str) -> list[tuple[str, str, float]]:
        """(from, to, expected delay) of every way a message with ``content`` may take."""
        edges = []
        for g, p in self.group_party.items():  # a member's report to their own room
            edges.append((f"group:{g}", f"org:{p}", self.parties[p].radio.delay_s.mean))
        for w in self.ways.values():
            a, b = self._node(w.source), self._node(w.to)
            if content in w.carries and a in self._index and b in self._index:
                edges.append((a, b, w.hop.delay_s.mean))
        return edges

    def _handling(self, node: str) -> float:
        party = self.parties.get(node.removeprefix("org:")) if node.startswith("org:") else None
        return party.room.handle_s.mean if party is not None else 0.0

    def _distances(self, content: str) -> np.ndarray:
        """Expected time from each node to the dispatch room, for a message with ``content``."""
        n = len(self.nodes)
        if self.dispatch is None:
            return np.full(n, math.inf)
        dense = np.full((n, n), np.inf)
        for a, b, delay in self._edges(content):  # reversed: distances to the dispatch room
            i, j = self._index[b], self._index[a]
            dense[i, j] = min(dense[i, j], delay + self._handling(b))
        graph = csgraph_from_dense(dense, null_value=np.inf)
        return dijkstra(graph, indices=self._index[f"org:{self.dispatch}"])

    def reaches(self, node: str, content: str) -> bool:
        """Whether a message with ``content`` at the organisation ``node`` can reach dispatch."""
        return bool(np.isfinite(self.to_dispatch[content][self._index[f"org:{node}"]]))

    def next_way(self, party: str, content: str) -> Way | None:
        """The link a room passes a message with ``content`` on by; None when none leads on."""
        if party == self.dispatch:
            return None
        dist = self.to_dispatch[content]
        best, best_t = None, math.inf
        for w in self.ways.values():
            to = self._node(w.to)
            if w.source != party or content not in w.carries or to not in self._index:
                continue
            t = w.hop.delay_s.mean + self._handling(to) + dist[self._index[to]]
            if t < best_t:
                best, best_t = w, t
        return best

    def contacts(self, group: str) -> list[Way]:
        """The links leaving a staff group: its members' informal contacts.

        A link's end that names an organisation means the organisation, so a group that shares
        its name (only possible with the default organisations) has no contacts.
        """
        if group in self.parties:
            return []
        return [w for w in self.ways.values() if w.source == group]


def graph_problems(cfg: Configuration) -> list[tuple[tuple[str | int, ...], str, str]]:
    """Problems of a configuration's organisations and links: (path, message, allowed)."""
    out: list[tuple[tuple[str | int, ...], str, str]] = []

    def bad(path: tuple[str | int, ...], message: str, allowed: str) -> None:
        out.append((path, message, allowed))

    orgs, links = declared(cfg)
    names = ", ".join(orgs) or "none defined"
    groups = ", ".join(cfg.staff) or "none defined"
    if cfg.organisations is not None:
        owner: dict[str, str] = {}
        for oname, o in orgs.items():
            for i, g in enumerate(o.staff):
                path = ("organisations", oname, "staff", i)
                if g not in cfg.staff:
                    bad(path, f"undefined staff group '{g}'", groups)
                elif g in owner:
                    bad(path, f"'{g}' already belongs to '{owner[g]}'", "one organisation each")
                else:
                    owner[g] = oname
        for g in cfg.staff:
            if g not in owner:
                bad(("organisations",), f"staff group '{g}' belongs to no organisation",
                    f"list '{g}' in the staff of one of: {names}")  # fmt: skip
        holders = [n for n, o in orgs.items() if "dispatch" in o.powers]
        if len(holders) != 1:
            found = ", ".join(holders) or "none"
            bad(("organisations",),
                f"exactly one organisation must hold the dispatch power (found: {found})",
                "one organisation with powers: [dispatch, ...]")  # fmt: skip
        if cfg.coordination.response != "none" and not any(
            "respond" in o.powers for o in orgs.values()
        ):
            what = f"no organisation may order the response ('{cfg.coordination.response}')"
            bad(("organisations",), what, "powers: [respond] somewhere, or response: none")
    if cfg.organisations is not None or cfg.links is not None:
        for oname in orgs:
            if oname in cfg.staff:
                bad(("organisations", oname) if cfg.organisations is not None else ("links",),
                    f"'{oname}' names both an organisation and a staff group",
                    "different names (a link's end would be ambiguous)")  # fmt: skip
    for lname, w in links.items():
        for key, end in (("from", w.source), ("to", w.to)):
            if end not in orgs and end not in cfg.staff:
                bad(("links", lname, key), f"undefined organisation or staff group '{end}'",
                    f"organisations: {names}; staff groups: {groups}")  # fmt: skip
        if w.source == w.to:
            bad(("links", lname, "to"), f"a link from '{w.source}' to itself",
                "another organisation or staff group")  # fmt: skip
    app = cfg.citizens
    if app.app_share > 0 and app.app_to not in orgs:
        bad(("citizens", "app_to"),
            f"the app reaches no organisation ('{app.app_to}')" if app.app_to
            else "an app with app_share > 0 needs the organisation it reaches",
            f"organisations: {names}")  # fmt: skip
    if out:
        return out
    graph = Graph(cfg)
    for oname, o in orgs.items():
        incoming = any(w.to == oname for w in links.values())
        if (o.staff or "emergency_calls" in o.powers or incoming) and not graph.reaches(
            oname, "alarm"
        ):
            what = f"an alarm reaching '{oname}' can never reach '{graph.dispatch}' (dispatch)"
            bad(("organisations", oname), what, "a link towards it that carries alarm")
    return out
