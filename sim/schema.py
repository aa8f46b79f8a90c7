"""The scenario format: typed, frozen pydantic models.

They are the single source for validation, defaults and the documentation of the YAML
(``softtarget schema`` prints it).

Every default names its basis in ``REFERENCES`` rows of the project documentation
(V read in the source, S secondary, E estimate): estimates belong in sensitivity analyses.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from softtarget.sim.units import (
    Dist,
    Duration,
    Identifier,
    NonNegFloat,
    NonNegInt,
    PosFloat,
    PosInt,
    Probability,
)

ATTACK_MODES: tuple[str, ...] = ("firearm", "blade", "pbied", "vehicle")
AttackMode = Literal["firearm", "blade", "pbied", "vehicle"]
ZoneKind = Literal[
    "entrance", "checkpoint", "perimeter", "attractor", "exit", "shelter", "vehicle_approach"
]
Role = Literal[
    "police",
    "armed_response",
    "security_guard",
    "steward",
    "cctv_operator",
    "transit_staff",
    "enforcement_officer",
]
ScreeningMethod = Literal["none", "visual", "bag_check", "metal_detector", "bag_check_pat_down"]
Point = Annotated[list[float], Field(min_length=2, max_length=2)]
#: Desired walking speed, m/s: Weidmann 1993 (V), clipped to the range 0.8–1.8 m/s of
#: REFERENCES, on which the pedestrian lattice is calibrated. The crowd's default and the
#: lattice's validation draw from this one distribution.
FREE_WALKING_SPEED = {"dist": "normal", "mean": 1.34, "sd": 0.26, "min": 0.8, "max": 1.8}
#: Weidmann (1993)'s jam density, persons/m² (``crowd.jam_density_ppm2``).
JAM_DENSITY_PPM2 = 5.4
#: Largest extent of a venue, metres (the geometry is rasterised: no city-sized areas).
MAX_VENUE_M = 10_000.0


class Section(BaseModel):
    """Base of every scenario section: unknown keys are errors, values never change."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


# --------------------------------------------------------------------------------- venue ---


class Shape(Section):
    """A rectangle ``[x0, y0, x1, y1]`` or a polygon ``[[x, y], ...]`` in metres."""

    rect: Annotated[list[float], Field(min_length=4, max_length=4)] | None = Field(
        None, description="Rectangle [x0, y0, x1, y1] in metres, x0 < x1 and y0 < y1."
    )
    polygon: Annotated[list[Point], Field(min_length=3)] | None = Field(
        None, description="Polygon corners [[x, y], ...] in metres (at least 3)."
    )

    @model_validator(mode="after")
    def _one_shape(self) -> Shape:
        if (self.rect is None) == (self.polygon is None):
            raise ValueError("give exactly one of 'rect' or 'polygon'")
        if self.rect is not None:
            x0, y0, x1, y1 = self.rect
            if not (x0 < x1 and y0 < y1):
                raise ValueError("rect must be [x0, y0, x1, y1] with x0 < x1 and y0 < y1")
        return self

    def corners(self) -> list[tuple[float, float]]:
        """The outline as a list of (x, y) corners."""
        if self.rect is not None:
            x0, y0, x1, y1 = self.rect
            return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
        return [(float(p[0]), float(p[1])) for p in self.polygon or []]

    def area(self) -> float:
        """Area in square metres (shoelace formula)."""
        pts = self.corners()
        s = 0.0
        for (xa, ya), (xb, yb) in zip(pts, pts[1:] + pts[:1], strict=True):
            s += xa * yb - xb * ya
        return abs(s) / 2.0

    def centroid(self) -> tuple[float, float]:
        """Mean of the corners (enough for convex zones)."""
        pts = self.corners()
        return (sum(p[0] for p in pts) / len(pts), sum(p[1] for p in pts) / len(pts))

    def bounds(self) -> tuple[float, float, float, float]:
        """Bounding box (x0, y0, x1, y1)."""
        pts = self.corners()
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        return (min(xs), min(ys), max(xs), max(ys))


class Zone(Shape):
    """A named part of the venue: where people queue, gather, shelter or leave."""

    kind: ZoneKind = Field(description="What the zone is.")
    lanes: PosInt = Field(
        1, description="Checkpoints: screening lanes built (a configuration opens some of them)."
    )
    width_m: PosFloat = Field(
        2.0, description="Exits and entrances: clear width of the opening in metres."
    )
    weight: NonNegFloat = Field(
        1.0, description="Attractors: relative pull on visitors choosing where to go."
    )
    focus: Literal["centre", "north", "south", "east", "west"] = Field(
        "centre",
        description="Attractors: what visitors walk towards; each stands at the distance from "
        "it of their own spot in the zone. The centre (within 1 m), or one side: the front "
        "row of a stage.",
    )


class Venue(Section):
    """The walkable area, its walls and named zones. Coordinates in metres from (0, 0)."""

    width_m: PosFloat = Field(
        le=MAX_VENUE_M, description="Extent of the area along x, metres (at most 10 km)."
    )
    height_m: PosFloat = Field(
        le=MAX_VENUE_M, description="Extent of the area along y, metres (at most 10 km)."
    )
    perimeter: Identifier | None = Field(
        None,
        description="Name of the zone of kind 'perimeter' that is the secure area inside the "
        "screening line (none for open venues such as stations).",
    )
    fence: bool = Field(
        True,
        description="Fence the perimeter: a fence along its edges with openings where "
        "checkpoints (their full extent), exits and entrances (width_m) meet it.",
    )
    walls: list[Shape] = Field(default_factory=list, description="Walls and obstacles.")
    zones: dict[Identifier, Zone] = Field(description="Named zones, by name.")


# --------------------------------------------------------------------------------- crowd ---


class Arrivals(Section):
    """How visitors arrive at the checkpoints or entrances during the simulated window."""

    profile: Literal["constant", "peak", "none"] = Field(
        "constant",
        description="'constant': a Poisson stream at rate_per_min; 'peak': `total` visitors "
        "around peak_at_s (normal spread in time); 'none': nobody arrives.",
    )
    rate_per_min: NonNegFloat = Field(
        0.0, description="Constant profile: mean arrivals per minute, all entrances together."
    )
    total: NonNegInt = Field(0, description="Peak profile: visitors arriving in the window.")
    peak_at_s: Duration = Field(0.0, description="Peak profile: time of the peak.")
    spread_s: Duration = Field(600.0, description="Peak profile: standard deviation in time.")


class Trains(Section):
    """Trains by timetable.

    Each train unloads a surge of passengers onto its platform and takes the people waiting
    there.
    """

    platforms: list[Identifier] = Field(
        min_length=1, description="Platform zones (attractors), served in turn."
    )
    every_s: Duration = Field(300.0, description="Interval between trains (all platforms).")
    first_s: Duration = Field(60.0, description="Time of the first train.")
    passengers: NonNegInt = Field(300, description="Passengers alighting from each train.")
    alight_s: PosFloat = Field(
        30.0, description="Mean time over which a train's passengers step off (exponential)."
    )


class SelfEvacuation(Section):
    """How people who evacuate without stewards choose an exit (a logit choice)."""

    scale_s: PosFloat = Field(
        10.0,
        description="Spread of the choice, seconds: an exit whose expected time (walk, plus "
        "the wait at the queue seen at it, less the bonuses below) is this much longer is "
        "chosen e times less often (multinomial logit, random utility; Lovreglio et al. 2016, "
        "Haghani & Sarvi 2016: distance and congestion dominate; E). Small: everyone takes "
        "the best exit; large: a random one.",
    )
    familiar_s: NonNegFloat = Field(
        10.0,
        description="Bonus, seconds of walk, of the exit nearest to where a person came in "
        "(their checkpoint or entrance): people leave the way they came (Sime 1985; Kinateder "
        "et al. 2018: familiar exits chosen more; E).",
    )
    visible_s: NonNegFloat = Field(
        10.0,
        description="Bonus, seconds of walk, of an exit the person can see (no wall between, "
        "within sight_m; Lovreglio et al. 2016, Haghani & Sarvi 2016: visible exits preferred; "
        "E).",
    )
    sight_m: PosFloat = Field(
        40.0,
        description="Distance, metres, within which an exit is seen and recognised (exit "
        "signs are legible over tens of metres, by their size, ISO 3864-1; E).",
    )
    review_s: PosFloat = Field(
        5.0,
        description="How often, seconds, evacuees in a jam (guided or not) reconsider their exit "
        "(Haghani & Sarvi 2019: evacuees revise their choice as the queues change; E).",
    )
    review_density_ppm2: NonNegFloat = Field(
        2.0,
        description="Local density, persons/m², from which a self-evacuee counts as in a jam "
        "and reconsiders (E).",
    )
    stay_s: NonNegFloat = Field(
        10.0,
        description="Bonus, seconds, of the exit a person reconsidering already heads for: "
        "people switch only for a clearly better one (decision inertia; Haghani & Sarvi "
        "2019; E).",
    )
    queue_radius_m: PosFloat = Field(
        10.0,
        description="People heading to a seen exit within this distance of it are the queue "
        "a person expects to wait for, at crowd.door_flow_pmps per metre of its width (E).",
    )


class Crowd(Section):
    """Visitors or passengers: how many, how they arrive, move, report and react."""

    initial_inside: NonNegInt = Field(
        0, description="Warm start: visitors already at attractors when the run starts."
    )
    initial_queuing: NonNegInt = Field(
        0, description="Warm start: visitors already queuing at the checkpoints."
    )
    arrivals: Arrivals = Field(default_factory=Arrivals, description="Arrivals in the window.")
    trains: Trains | None = Field(
        None, description="Train timetable (stations): surges onto platforms, boarding."
    )
    speed: Dist = Field(
        default_factory=lambda: dict(FREE_WALKING_SPEED),
        description="Desired walking speed, m/s (Weidmann 1993: 1.34, sd 0.26; V), clipped "
        "to 0.8–1.8 m/s, the range the pedestrian lattice is validated on (REFERENCES).",
    )
    flight_speed: Dist = Field(
        default_factory=lambda: {"dist": "normal", "mean": 3.9, "sd": 2.7, "min": 0.3, "max": 7.0},
        description="Speed when fleeing an attack, m/s (Hayes & Hayes 2014 via Briggs & "
        "Kennedy 2016: 3.9, sd 2.7, floor 0.3; V; high for dense crowds, E).",
    )
    reaction_delay_s: Dist = Field(
        3.0,
        description="Recognition delay before reacting to an attack nearby (Briggs & "
        "Kennedy 2016: 3 s; V).",
    )
    hearing_range_m: PosFloat = Field(
        150.0, description="Distance within which gunfire or an explosion makes people flee (E)."
    )
    sight_alarm_range_m: PosFloat = Field(
        30.0,
        description="Distance, metres, within which people who see a stabbing or a vehicle "
        "attack flee (E).",
    )
    flee_detour_m: NonNegFloat = Field(
        200.0,
        description="Extra metres people accept rather than flee past the threat: an exit "
        "within 60° of the threat's direction costs this much more in the choice of exit (E).",
    )
    exit_choice: SelfEvacuation = Field(
        default_factory=SelfEvacuation,
        description="How people evacuating without stewards choose an exit.",
    )
    door_flow_pmps: PosFloat = Field(
        1.6,
        description="Flow per metre of door width, persons/(m·s), that guiding stewards "
        "expect when they balance the load between exits, and that self-evacuees expect of "
        "the queue they see (Seyfried et al. 2009 bottleneck "
        "experiments 1.3–1.9; V).",
    )
    standing_density_ppm2: Dist = Field(
        default_factory=lambda: {"dist": "uniform", "low": 2.0, "high": 3.6},
        description="Personal space at rest: the densest neighbourhood, persons/m² over "
        "1.2 m x 1.2 m, a person standing at an attractor, a shelter or a platform accepts "
        "before stepping to a freer spot nearby (each person their own draw). From 2 /m², "
        "the planning density of standing areas, to 3.6 /m², where involuntary contact "
        "begins (Fruin 1971; V): people stand clear of strangers where they can, so a "
        "standing audience reaches higher densities only where it is pushed or the space is "
        "full (Still 2014; S; the spread is E). On the 0.4 m lattice a window holds whole "
        "people, 0.69 /m² apart: a person accepts floor(density x 1.44 m² + U) people in "
        "it, U uniform, so the accepted count is right on average.",
    )
    jam_density_ppm2: PosFloat = Field(
        JAM_DENSITY_PPM2,
        description="Jam density, persons/m² over 1.2 m x 1.2 m: a walker does not step "
        "where that would make the crowd around it denser than this, because at jam density "
        "walking stops (Weidmann 1993's 5.4 /m², where his speed-density relation reaches "
        "0; V); a queue, or people joining an audience, stops at its edge or squeezes "
        "through by changing places. People in competitive flight from a threat they "
        "perceived push past it to the lattice's most, 6.25 /m² (Helbing et al. 2000; S). "
        "As a whole number of people in the window, right on average (see "
        "standing_density_ppm2).",
    )
    dwell_s: Dist = Field(
        default_factory=lambda: {"dist": "exponential", "mean": 1200.0},
        description="Time spent at an attractor before moving on (E).",
    )
    leave_probability: Probability = Field(
        0.15,
        description="Chance that a visitor moving on leaves the venue (by the nearest exit) "
        "rather than going to another attractor (E).",
    )
    call_probability: Probability = Field(
        0.05,
        description="Chance that a person who perceives an attack (hears gunfire or a blast, "
        "sees a stabbing or a ramming) calls the emergency number; the call reaches the police "
        "over coordination.visitor_to_police (E: mass attacks bring many calls at once).",
    )
    max_calls_per_attacker: PosInt = Field(
        20,
        description="Calls per attacker after which more callers add nothing (the call centre "
        "already knows; E).",
    )
    report_probability: Probability = Field(
        0.3,
        description="Chance a visitor who noticed something reports it (FEMA/IACP survey "
        "75% say they would; real rate lower; E).",
    )
    notice_skill: Probability = Field(
        1e-3,
        description="Per-second chance a visitor with the attacker in view notices an "
        "indicator of conspicuousness 1, about a tenth of a trained guard's: visitors watch "
        "the show, not the crowd, but are many (E). On the festival with police only, "
        "report_probability 0.05 against 0.75 moves detection before the attack from 0.30 "
        "to 0.47 and prevention from 0.17 to 0.30 (30 paired runs).",
    )
    view_range_m: PosFloat = Field(
        15.0, description="Distance within which a visitor can notice an attacker (E)."
    )
    occlusion_density_ppm2: PosFloat = Field(
        2.0,
        description="Crowd density, persons/m², at which occlusion by other people halves the "
        "chance to notice an attacker in view (E).",
    )
    max_reports_per_attacker: PosInt = Field(
        10,
        description="Visitor reports per attacker after which more callers add nothing (E).",
    )
    crush_density_ppm2: PosFloat = Field(
        6.0,
        description="Local density (over 1.2 m x 1.2 m, in steps of 0.69/m² on the 0.4 m "
        "lattice) at and above which people are compressed: every cell around them full "
        "(6.25/m², the lattice's most). Fruin's dangerous crowd forces start at 5.55/m² (V), "
        "the step below, where people on the lattice can still shuffle (E).",
    )
    crush_onset_s: Duration = Field(
        30.0,
        description="Continuous exposure after which crush injury can occur (compressive "
        "asphyxia: ~30 s restricts blood flow to the brain; Still; S).",
    )
    crush_hazard_per_s: Probability = Field(
        2e-4,
        description="Per-second chance of a crush injury after the onset, for people fleeing "
        "a threat they perceived, where crowds push (competitive egress; Helbing et al. 2000, "
        "Pastor et al. 2015; S); an ordered, calm evacuation or a drill queues without crush "
        "(E).",
    )
    exposure_density_ppm2: PosFloat = Field(
        5.5,
        description="Local density, persons/m², above which a person-second counts in the "
        "result `person_s_above_5_5` (Fruin: dangerous crowd forces from 5.55/m²; V).",
    )
    queue_spacing_m: PosFloat = Field(
        0.6, description="Distance, metres, between people standing in a screening line (E)."
    )
    arrival_walk_m: NonNegFloat = Field(
        10.0,
        description="Arriving visitors appear this many metres behind the back of their "
        "screening line and walk to it (E).",
    )


# -------------------------------------------------------------------------------- threat ---


class Firearm(Section):
    """A firearm attacker's weapon and shooting."""

    rate_of_fire_per_s: PosFloat = Field(
        1.0, description="Rounds per second (Briggs & Kennedy; V)."
    )
    magazine: PosInt = Field(15, description="Rounds per magazine (Briggs & Kennedy; V).")
    magazines: PosInt = Field(
        10,
        description="Magazines carried: 150 rounds with the default magazine (Sandy Hook 2012: "
        "154 rifle rounds fired in under five minutes; many mass shooters carry hundreds; S/E).",
    )
    reload_s: Duration = Field(3.0, description="Reload time (Briggs & Kennedy; V).")
    accuracy: Probability = Field(
        0.8, description="P(hit) at 0 m: the accuracy factor (Briggs & Kennedy; V)."
    )
    range_m: PosFloat = Field(
        70.0,
        description="Longest shot: P(hit) falls linearly with distance to (1 − falloff) × "
        "accuracy here; no shots beyond it (Briggs & Kennedy; V).",
    )
    falloff: Probability = Field(
        0.5,
        description="Share of P(hit) lost at range_m: P(hit) = accuracy × (1 − falloff × "
        "distance / range_m) (Briggs & Kennedy: half at 70 m; V).",
    )
    p_death_given_hit: Probability = Field(
        0.4, description="Probability a hit kills (JAMA Netw Open 2025; S)."
    )
    seek_range_m: PosFloat = Field(
        100.0,
        description="With nobody in view, the shooter walks towards the nearest person within "
        "this distance, metres; with nobody there, targets have run out and the shooter flees "
        "(E).",
    )
    self_end_per_min: NonNegFloat = Field(
        0.15,
        description="Per-minute chance that the shooter ends the attack on their own "
        "initiative (suicide or flight) with no armed police in range: FBI 2000–2013 (Blair & "
        "Schweit 2014): 90 of 160 incidents ended on the shooter's initiative, 107 before police "
        "arrived, 44 of 64 timed incidents within 5 min (S); the rate is an estimate (E).",
    )
    self_end_armed_per_min: NonNegFloat = Field(
        1.0,
        description="Per-minute chance of the same once armed staff are within their engage "
        "range: many shooters end it when armed police arrive (Blair & Martaindale 2013: 42% "
        "suicides, 29 of 44 before police arrival; S/E).",
    )
    suicide_share: Probability = Field(
        0.75,
        description="Share of the shooter's own endings that are suicide; the rest flee or "
        "surrender (ALERRT 2000–2012: 42% of 104 incidents suicide, against 56% own-initiative "
        "endings in the FBI study; S).",
    )


class Blade(Section):
    """A bladed-weapon attacker."""

    strikes_per_min: PosFloat = Field(10.0, description="Attempted strikes per minute (E).")
    reach_m: PosFloat = Field(1.5, description="Distance at which a strike can land (E).")
    p_death_given_strike: Probability = Field(
        0.15, description="Probability a strike kills (Pool Re 2020: few deaths; E)."
    )
    staff_subdue_per_s: Probability = Field(
        0.05,
        description="Per-second chance that one staff member within reach subdues the "
        "attacker (E).",
    )
    subdue_per_s: Probability = Field(
        0.005,
        description="Per-second chance that one bystander within reach subdues the attacker "
        "(Briggs & Kennedy: 0.5% resist; E).",
    )
    chase_speed_mps: PosFloat = Field(
        2.0, description="Speed, m/s, at which the attacker goes after the next victim (E)."
    )
    seek_range_m: PosFloat = Field(
        30.0,
        description="The attacker goes for the nearest person within this distance, metres (E).",
    )


class Pbied(Section):
    """A person-borne explosive device: a blast wave near it, fragments further out.

    Killed near the device by the blast wave, further out by fragments; a person's expected
    fragment hits fall with the square of the distance and with the bodies in the line of
    fire, so that shielding turns deaths into injuries (:func:`softtarget.sim.threat.blast_risk`).
    The defaults give, for a crowd of 1 /m² round the device, about 21 killed and 220 hurt,
    as at the Manchester Arena (2017: 22 killed, about 240 physically injured; S).
    """

    lethal_radius_m: PosFloat = Field(
        1.2,
        description="Radius, metres, within which the blast wave itself kills (lung injury: "
        "50 % lethality at a scaled distance of roughly 0.7-1 m/kg^(1/3) for the few kg of "
        "TNT equivalent of a suicide vest, Bowen curves as in UFC 3-340-02; E, 0.8-2).",
    )
    injury_radius_m: PosFloat = Field(
        30.0,
        description="Radius, metres, beyond which fragments no longer hurt (E; 15-40; "
        "Manchester Arena injuries reached across the 30 m foyer).",
    )
    fragments: PosFloat = Field(
        3000.0,
        description="Fragments the device throws (nuts, bolts, ball bearings packed round the "
        "charge), spread evenly in every direction (E; hundreds to thousands).",
    )
    body_area_m2: PosFloat = Field(
        0.5,
        description="Area a standing person presents to the fragments, m² (an adult's frontal "
        "area, about 0.5-0.6 m²; E).",
    )
    fragment_lethality: Probability = Field(
        0.02,
        description="Chance that one fragment hit kills; one hit or more hurts (E; with the "
        "defaults, 1 : 10 killed to hurt for a crowd of 1 /m², as at the Manchester Arena).",
    )
    shielding_per_body: Probability = Field(
        0.3,
        description="Share of the fragments towards a person that each body in the line of "
        "fire absorbs: behind n bodies a person receives (1 - shielding)^n of them; walls "
        "shield completely (E).",
    )
    body_radius_m: PosFloat = Field(
        0.25, description="Half the width of a body in the line of fire (E)."
    )
    detonate_if_challenged: Probability = Field(
        0.5,
        description="Chance that a bomber caught at screening or stopped by staff detonates "
        "where they stand (Stade de France 2015: turned away at the gate, detonated outside; "
        "E).",
    )


class Vehicle(Section):
    """A vehicle driven into the crowd."""

    speed_mps: PosFloat = Field(12.0, description="Driving speed, m/s (~45 km/h; E).")
    path_m: PosFloat = Field(200.0, description="Longest distance driven into the venue (E).")
    half_width_m: PosFloat = Field(1.2, description="Half the swept width of the vehicle (E).")
    p_death_given_struck: Probability = Field(
        0.3, description="Probability that being struck kills (E)."
    )
    on_site_s: Duration = Field(
        10.0, description="A vehicle arrives on the approach this long before it strikes (E)."
    )
    slowdown_per_struck: Probability = Field(
        0.05,
        description="Share of its speed the vehicle loses for each person it strikes (bodies "
        "and the crowd's density slow it; E).",
    )
    stop_speed_mps: NonNegFloat = Field(
        2.0,
        description="Below this speed the vehicle is stuck and the attack ends; walls, the "
        "perimeter's fence and the area's edge stop it at once (E).",
    )


class Cell(Section):
    """How the members of a cell share out the attack: beside the first, or on their own."""

    split_probability: Probability = Field(
        0.5,
        description="Chance that a member after the first strikes on their own: at a target "
        "drawn from threat.target (a point of their own in it), stagger_s after the planned "
        "start, perhaps with a weapon of their own; otherwise they strike beside the first "
        "member, at the same time and with the same weapon (Paris, 13 November 2015: three "
        "teams at six sites, the Stade de France bombers at three gates; London Bridge 2017 "
        "and Westgate 2013: together; E).",
    )
    stagger_s: Dist = Field(
        default_factory=lambda: {"dist": "uniform", "low": 0.0, "high": 600.0},
        description="How long after the planned start a member on their own strikes (Stade de "
        "France 2015: the three bombs at 21:20, 21:30 and 21:53; Brussels 2016: the two airport "
        "bombs seconds apart, the metro bomb 70 min later; E).",
    )
    own_weapon_probability: Probability = Field(
        0.25,
        description="Chance that a member on their own carries a weapon of their own, drawn "
        "from threat.mix (Paris 2015: rifles and suicide vests; London Bridge 2017: a van, "
        "then knives; E).",
    )


class Threat(Section):
    """The diffuse threat: each run draws whether, how, how many, where and when."""

    probability: Probability = Field(1.0, description="Chance that a run has an attack at all.")
    mix: dict[AttackMode, NonNegFloat] = Field(
        default_factory=lambda: dict.fromkeys(ATTACK_MODES, 1.0),
        description="Relative weights of the modes of attack (normalised).",
    )
    attackers: dict[PosInt, NonNegFloat] = Field(
        default_factory=lambda: {1: 0.8, 2: 0.15, 3: 0.05},
        description="Weights of the number of attackers (lone actor or small cell).",
    )
    target: dict[Identifier, NonNegFloat] = Field(
        default_factory=lambda: {"densest": 1.0},
        description="Weights of target choices: 'densest', 'queue' (outside the perimeter), "
        "'random', or a zone name.",
    )
    start_s: Dist = Field(
        default_factory=lambda: {"dist": "uniform", "low": 300.0, "high": 900.0},
        description="When the attack starts, seconds from the start of the run.",
    )
    on_site_before_s: Dist = Field(
        default_factory=lambda: {"dist": "uniform", "low": 120.0, "high": 900.0},
        description="Time the attacker spends on site before attacking (approach).",
    )
    reconnaissance_probability: Probability = Field(
        0.3, description="Chance of a hostile-reconnaissance visit earlier in the window (E)."
    )
    reconnaissance_s: Dist = Field(600.0, description="Length of a reconnaissance visit.")
    reconnaissance_lead_s: Dist = Field(
        default_factory=lambda: {"dist": "uniform", "low": 0.0, "high": 600.0},
        description="Gap between a reconnaissance visit and the attack: the visit starts "
        "reconnaissance_s + this lead before the attacker arrives for the attack, so it ends "
        "this long before that arrival (E).",
    )
    adaptive_probability: Probability = Field(
        0.5,
        description="Chance that an attacker whose weapon screening would likely catch "
        "(catch probability at or above adaptive_threshold) strikes the queue outside the "
        "perimeter instead (E).",
    )
    adaptive_threshold: Probability = Field(
        0.5,
        description="Screening catch probability of the attacker's weapon at and above which "
        "an adaptive attacker strikes the queue outside instead (E).",
    )
    walk_speed_mps: PosFloat = Field(1.2, description="Attackers' walking speed on foot, m/s (E).")
    cell_spread_m: NonNegFloat = Field(
        6.0,
        description="Members of a cell stand within ± half this distance, metres, of one "
        "another (E).",
    )
    conspicuousness: dict[Literal["reconnaissance", "approach", "attack"], Probability] = Field(
        default_factory=lambda: {"reconnaissance": 0.02, "approach": 0.05, "attack": 1.0},
        description="How noticeable the attacker is in each phase, on average over attackers "
        "who show an indicator (multiplies observer skill; E). In the attack phase it is the "
        "same for every attacker.",
    )
    indicator_probability: dict[Literal["reconnaissance", "approach"], Probability] = Field(
        default_factory=lambda: {"reconnaissance": 0.3, "approach": 0.5},
        description="Chance that an attacker shows any indicator an observer could notice in "
        "this phase (a weapon's outline, a rucksack too heavy, watching the security rather "
        "than the show); drawn once per attacker and phase and shared by every observer: "
        "the others pass unnoticed however many watch (trained agents watching for "
        "suspicious signs caught 3% of deceptive mock passengers, Ormerod & Dando 2015, S; "
        "the split between concealed and careless attackers is E).",
    )
    conspicuousness_shape: PosFloat = Field(
        1.0,
        description="Shape of the gamma distribution (mean 1) by which an attacker who shows "
        "an indicator is more or less noticeable than the phase's conspicuousness, drawn "
        "once per attacker and phase and shared by every observer; 1 is exponential, large "
        "values make every attacker alike (E).",
    )
    deterred_if_questioned: Probability = Field(
        0.5,
        description="Chance that an attacker stopped and questioned by police during a "
        "reconnaissance visit abandons the plan (E).",
    )
    cell: Cell = Field(
        default_factory=Cell,
        description="How the members of a cell of two or more split targets, timing and weapons.",
    )
    firearm: Firearm = Field(default_factory=Firearm, description="Firearm parameters.")
    blade: Blade = Field(default_factory=Blade, description="Bladed weapon parameters.")
    pbied: Pbied = Field(default_factory=Pbied, description="Explosive parameters.")
    vehicle: Vehicle = Field(default_factory=Vehicle, description="Vehicle parameters.")

    @model_validator(mode="after")
    def _weights(self) -> Threat:
        for name in ("mix", "attackers", "target"):
            weights = getattr(self, name)
            if not weights or sum(weights.values()) <= 0:
                raise ValueError(f"{name}: at least one weight must be positive")
        return self


# ------------------------------------------------------------------------ configurations ---


class StaffGroup(Section):
    """A group of security staff with the same role, post and powers."""

    role: Role = Field(
        description="What they are and may do (POWERS): police (screen, detain; neutralise "
        "when armed), armed_response (off-site until alerted), security_guard (screen, "
        "citizen's arrest), steward and transit_staff (guide the crowd), cctv_operator (watch "
        "cameras), enforcement_officer (transit BOA: stop, search, arrest)."
    )
    count: NonNegInt = Field(description="How many.")
    side: Literal["public", "private"] | None = Field(
        None, description="Public or private (default from the role)."
    )
    armed: bool = Field(False, description="Carries firearms (police, armed response).")
    post: Identifier | None = Field(
        None, description="Zone where they stand (or 'control_room' for CCTV operators)."
    )
    patrol: list[Identifier] = Field(
        default_factory=list, description="Zones they patrol in turn (instead of a post)."
    )
    skill: Probability = Field(
        0.01,
        description="Per-second chance of noticing an indicator of conspicuousness 1 in view, "
        "before crowd occlusion (E).",
    )
    view_range_m: PosFloat = Field(25.0, description="Distance they can notice from (E).")
    speed_mps: PosFloat = Field(2.5, description="Speed when responding (E).")
    patrol_speed_mps: PosFloat = Field(
        1.2, description="Speed, m/s, walking a beat or back to a post (E)."
    )
    escalate_probability: Probability = Field(
        0.5,
        description="Chance that a member told of a suspect by a visitor takes the concern "
        "up: passes it up the chain and, with the power to detain, goes to look; otherwise "
        "it is dismissed there (Manchester Arena 2017: the one concern a member of the "
        "public raised with a steward was not escalated; REFERENCES: steward escalates a "
        "public concern, 0.5, 0.1–0.9; V/E). A reported attack under way is always passed on.",
    )
    intercept_range_m: PosFloat = Field(
        3.0,
        description="Distance, metres, close enough to stop and question a suspect (E).",
    )
    standoff_m: NonNegFloat = Field(
        50.0,
        description="Unarmed staff keep this distance, metres, from an active shooter (E).",
    )
    radio: bool = Field(True, description="Has a radio to their control room.")
    cost_per_hour_eur: NonNegFloat = Field(
        40.0, description="Cost per hour (police and private rates differ; E)."
    )
    response_time_s: Dist | None = Field(
        None,
        description="Armed response units: time from being alerted to arriving on site "
        "(first armed police 8 min, 5–15; S/V).",
    )
    false_alarms_per_h: NonNegFloat = Field(
        0.05, description="Unfounded reports raised per person per hour (E)."
    )
    hit_probability: Probability = Field(
        0.2, description="Armed staff: chance a round hits (NYPD, RAND: 0.2, 0.13–0.43; S)."
    )
    engage_range_m: PosFloat = Field(
        25.0, description="Armed staff: distance from which they engage an attacker (E)."
    )
    screens_per_operator: PosInt = Field(
        4,
        description="CCTV operators: cameras one operator watches with full attention; with "
        "more cameras per operator, attention is shared among them (E).",
    )


class Camera(Section):
    """A camera: what it sees is its range and field of view, cut by walls (blind spots)."""

    at: Point = Field(description="Position [x, y] in metres.")
    facing_deg: float = Field(
        0.0, description="Direction it looks, degrees counter-clockwise from east (+x)."
    )
    fov_deg: Annotated[float, Field(gt=0.0, le=360.0)] = Field(
        90.0, description="Field of view, degrees (360 for a dome camera)."
    )
    range_m: PosFloat = Field(
        30.0, description="Distance within which a person can be recognised on screen (E)."
    )
    watched_by: Identifier | None = Field(
        None,
        description="Staff group of CCTV operators watching it live (default: the "
        "configuration's first cctv_operator group; none: recorded only, no live detection).",
    )


class Hop(Section):
    """One link of the reporting chain: a delay and a chance the message is lost."""

    delay_s: Dist = Field(description="Delay of the message.")
    loss: Probability = Field(0.0, description="Chance the message never arrives.")


class Coordination(Section):
    """How a notice travels to someone who can act (the public-private chain)."""

    joint_control_room: bool = Field(
        False,
        description="Venue, private security and police share one room "
        "(Amsterdam ArenA model); the private→police hop becomes 'joint_to_police'.",
    )
    visitor_to_staff: Hop = Field(
        default_factory=lambda: {"delay_s": {"dist": "exponential", "mean": 60.0}},
        description="A visitor finds a staff member and tells them (E).",
    )
    visitor_to_police: Hop = Field(
        default_factory=lambda: {"delay_s": 50.0},
        description="A visitor's emergency call reaches the police room: from perceiving an "
        "attack, or from reporting a suspect when no staff is near (first call 50 s after an "
        "attack starts; Westminster 51 s; V/S). Its loss stands for an overloaded call centre.",
    )
    staff_to_control: Hop = Field(
        default_factory=lambda: {
            "delay_s": {"dist": "lognormal", "median": 300.0, "sigma": 0.8},
            "loss": 0.5,
        },
        description="Private staff to their own control room (5 min, 1–15 or never; "
        "Manchester; V/E). Staff without a radio use this hop.",
    )
    staff_radio_to_control: Hop = Field(
        default_factory=lambda: {
            "delay_s": {"dist": "lognormal", "median": 30.0, "sigma": 0.5},
            "loss": 0.1,
        },
        description="Staff with a radio to their control room (E).",
    )
    private_to_police: Hop = Field(
        default_factory=lambda: {
            "delay_s": {"dist": "lognormal", "median": 300.0, "sigma": 0.6},
            "loss": 0.2,
        },
        description="Separate private control room relays to police (5 min, 2–15; Manchester; "
        "V/E).",
    )
    joint_to_police: Hop = Field(
        default_factory=lambda: {"delay_s": {"dist": "lognormal", "median": 60.0, "sigma": 0.5}},
        description="Joint control room to police (1 min, 0.5–3; ArenA; V/E).",
    )
    police_to_police: Hop = Field(
        default_factory=lambda: {"delay_s": 10.0},
        description="Police officer on site to police dispatch (E).",
    )
    decision_delay_s: Dist = Field(
        90.0,
        description="From the control room learning of an attack to ordering the "
        "response (Manchester: 1–2 min; S).",
    )
    response: Literal["evacuate", "invacuate", "lockdown", "none"] = Field(
        "evacuate",
        description="What the venue orders once it learns of an attack: evacuate (out by "
        "the exits), invacuate (into shelter zones), lockdown (gates closed, everyone inside "
        "stays where they are).",
    )
    drill_at_s: Duration | None = Field(
        None,
        description="Order the response at this time with no attack: an evacuation (or "
        "invacuation, lockdown) drill. With threat.probability 0 a run tests the venue's "
        "evacuation alone; evac_time_s is then counted from the order. Like every order, it "
        "closes the site: nobody arrives after it. None: only an attack the control room "
        "learns of triggers the response.",
    )
    guided_evacuation: bool | None = Field(
        None,
        description="Stewards send evacuees to the exit with the shortest expected time "
        "(walk plus wait at the door) instead of the nearest; default: when the configuration "
        "has staff who guide (stewards, transit staff).",
    )
    units_per_incident: PosInt = Field(
        4,
        description="Police units on site the police room sends to an incident: the nearest "
        "capable first (armed ones first against a gun or a vehicle); the rest hold their "
        "posts. Armed response units off site all set out (E).",
    )
    false_alarm_busy_s: Duration = Field(
        600.0, description="Time a police responder is tied up checking a false alarm (E)."
    )


#: What a message may contain; a link carries only the kinds it lists (data-sharing rules).
#: ``sighting``: a person's account of a suspect (or an unfounded one); ``image``: what a
#: CCTV operator saw on a screen; ``identity``: a suspect stopped and identified at the lanes;
#: ``alarm``: an attack under way.
Content = Literal["sighting", "image", "identity", "alarm"]
CONTENTS: tuple[str, ...] = ("sighting", "image", "identity", "alarm")
#: What an organisation may do with what it learns (``Organisation.powers``).
OrgPower = Literal["dispatch", "respond", "emergency_calls"]


class Room(Section):
    """An organisation's control room: how many messages it handles at once, and how fast."""

    handles: PosInt | None = Field(
        None,
        description="Messages handled at once (operators on the desk); a message arriving "
        "when all are busy waits its turn. None: no limit.",
    )
    handle_s: Dist = Field(
        0.0,
        description="Time to handle one message (take it in, decide what it is, pass it on) "
        "before the room acts on it (E).",
    )


class Organisation(Section):
    """A party to the plan: its side, its staff, its control room and what it may decide."""

    side: Literal["public", "private", "semi_public"] = Field(
        description="Public (police, municipality), private (security company, event "
        "organiser, transit operator) or semi-public."
    )
    staff: list[Identifier] = Field(
        default_factory=list,
        description="Its staff groups (names in this configuration's staff): they report to "
        "its control room. Every staff group belongs to exactly one organisation.",
    )
    powers: list[OrgPower] = Field(
        default_factory=list,
        description="What it does with what it learns: dispatch (sends its units to an "
        "incident; messages travel towards it, exactly one organisation holds it), respond "
        "(orders the venue's response, coordination.response, after its decision_delay_s), "
        "emergency_calls (visitors' emergency calls reach its room).",
    )
    room: Room = Field(default_factory=Room, description="Its control room.")
    radio: Hop | None = Field(
        None,
        description="A member with a radio to this room (default: coordination."
        "police_to_police for a public organisation, staff_radio_to_control otherwise).",
    )
    no_radio: Hop | None = Field(
        None,
        description="A member without a radio (default: coordination.police_to_police for a "
        "public organisation, staff_to_control otherwise).",
    )
    decision_delay_s: Dist | None = Field(
        None,
        description="With the respond power: from learning of an attack to ordering the "
        "response (default: coordination.decision_delay_s).",
    )
    cost_per_hour_eur: NonNegFloat = Field(
        0.0, description="Cost of its control room per hour, added to the plan's cost (E)."
    )


class Link(Section):
    """A way for messages to pass from one organisation or staff group to another."""

    model_config = ConfigDict(**Section.model_config, populate_by_name=True)

    source: Identifier = Field(
        alias="from",
        description="Where messages come from: an organisation, or a staff group whose "
        "members use it besides reporting to their own room (an informal contact).",
    )
    to: Identifier = Field(
        description="Where they go: an organisation (its room) or a staff group (its "
        "nearest member, who passes it on as their own report)."
    )
    via: Literal["radio", "phone", "shared_room", "liaison", "information_system", "informal"] = (
        Field("phone", description="What the link is (for the reader; the fields below act).")
    )
    delay_s: Dist = Field(description="Delay of a message over the link.")
    loss: Probability = Field(0.0, description="Chance a message is lost on it.")
    capacity: PosInt | None = Field(
        None,
        description="Messages in transit at once (a phone line, a liaison officer); the "
        "next waits until one has arrived. None: no limit.",
    )
    carries: list[Content] = Field(
        default_factory=lambda: list(CONTENTS),
        description="What it may carry: sighting, image, identity, alarm (what data-sharing "
        "rules allow). A message it may not carry takes another way, or stays where it is.",
    )


class Citizens(Section):
    """What a plan does to make visitors report: a campaign, and an app or text service."""

    report_probability: Probability | None = Field(
        None,
        description="Chance a visitor who noticed something reports it, under this plan's "
        "campaign (default: crowd.report_probability; FEMA/IACP: 75% say they would, the "
        "real rate is lower; E).",
    )
    app_share: Probability = Field(
        0.0,
        description="Share of the reports that go through the organiser's app or text "
        "service instead of to the nearest staff member (E).",
    )
    app_to: Identifier | None = Field(
        None, description="The organisation whose control room the app reaches."
    )
    app: Hop = Field(
        default_factory=lambda: {"delay_s": {"dist": "lognormal", "median": 30.0, "sigma": 0.5}},
        description="From a visitor's report in the app to its control room (typing a "
        "message, a photo; E).",
    )


class Screening(Section):
    """Screening at the checkpoints."""

    method: ScreeningMethod = Field("bag_check", description="What is done at the lanes.")
    lanes: dict[Identifier, NonNegInt] = Field(
        default_factory=dict,
        description="Lanes opened per checkpoint zone (default: all lanes the zone has). A "
        "checkpoint works min(lanes, screeners posted there // staff_per_lane) of them; "
        "unless the method is none or visual, a checkpoint with lanes open needs at least "
        "staff_per_lane screeners.",
    )
    staff_per_lane: PosInt = Field(
        1,
        description="Screeners (staff with the `screen` power posted at the checkpoint) "
        "needed to work one lane: a bag check with pat-down takes one trained screener per "
        "lane (E). Methods none and visual need no screeners (anyone at the door can look); "
        "bag searches and pat-downs need licensed security or police in the Netherlands "
        "(REFERENCES).",
    )
    service_time_s: Dist | None = Field(
        None,
        description="Service time per person (default by method, exponential: metal "
        "detector 6 s (5–9; S), bag check + pat-down 10 s (6–15; S/E), bag check alone 8 s "
        "(E), visual 3 s (E)).",
    )
    detection: dict[AttackMode, Probability] | None = Field(
        None,
        description="Chance of catching each weapon at a lane (default by method; bag check + "
        "pat-down 0.5 for firearm and explosive; S/E).",
    )


class Configuration(Section):
    """A guarding plan: staff, screening, measures and coordination."""

    extends: Identifier | None = Field(
        None, description="Name of another configuration this one starts from (deep merge)."
    )
    description: str = Field("", description="What the plan is.")
    staff: dict[Identifier, StaffGroup] = Field(
        default_factory=dict, description="Staff groups, by name."
    )
    screening: Screening = Field(default_factory=Screening, description="Screening.")
    coordination: Coordination = Field(
        default_factory=Coordination, description="The reporting chain."
    )
    cameras: dict[Identifier, Camera] = Field(
        default_factory=dict,
        description="Cameras, by name; seen through their CCTV operators' screens.",
    )
    vehicle_barriers: bool = Field(
        False, description="Hostile-vehicle barriers on every vehicle approach."
    )
    shift_h: PosFloat = Field(8.0, description="Hours each staff member is paid for.")
    citizens: Citizens = Field(
        default_factory=Citizens,
        description="What the plan does to make visitors report (a campaign, an app).",
    )
    organisations: dict[Identifier, Organisation] | None = Field(
        None,
        description="The parties, by name (docs/organisations.md). None: the police (public "
        "staff; dispatch, respond, emergency calls) and, with private staff, a security "
        "company (private staff; respond), as coordination describes.",
    )
    links: dict[Identifier, Link] | None = Field(
        None,
        description="Links between organisations and staff groups, by name. None: the "
        "security company's room to the police over coordination.joint_to_police (a joint "
        "control room) or private_to_police.",
    )


# ------------------------------------------------------------------------------- run -------


class Run(Section):
    """How long and how often to simulate."""

    seed: NonNegInt = Field(0, description="Scenario seed; every run's streams derive from it.")
    replications: PosInt = Field(100, description="Runs per configuration in a batch.")
    duration_s: Duration = Field(1800.0, description="Simulated time per run.")
    dt_s: Annotated[float, Field(gt=0.0, le=5.0)] = Field(
        0.6,
        description="Time step, seconds; the crowd moves in ceil(dt_s / 0.3) lattice steps "
        "of equal length within it (the lattice is calibrated at 0.3 s).",
    )
    sample_every_s: PosFloat = Field(10.0, description="Interval of the time series.")

    @model_validator(mode="after")
    def _positive(self) -> Run:
        if self.duration_s <= 0:
            raise ValueError("duration_s must be greater than 0")
        return self


class Scenario(Section):
    """A scenario: a venue, its crowd, a threat and the configurations to compare."""

    name: Identifier = Field(description="Short name, used in results folders.")
    description: str = Field("", description="What the scenario represents.")
    venue: Venue = Field(description="The place.")
    crowd: Crowd = Field(default_factory=Crowd, description="The people.")
    threat: Threat = Field(default_factory=Threat, description="The diffuse threat.")
    configurations: dict[Identifier, Configuration] = Field(
        description="Guarding plans to compare, by name (min. one)."
    )
    run: Run = Field(default_factory=Run, description="Run settings.")

    @model_validator(mode="before")
    @classmethod
    def _extends(cls, data: Any) -> Any:
        """Expand ``extends`` in the configurations (deep merge); refuse cycles and unknowns."""
        if not isinstance(data, dict):
            return data
        resolved, _, problems = resolve_extends(data)
        if problems:
            raise located_error(problems, data)
        return resolved

    @model_validator(mode="after")
    def _some_configuration(self) -> Scenario:
        if not self.configurations:
            raise ValueError("configurations: at least one configuration is needed")
        return self

    @model_validator(mode="after")
    def _cross_check(self) -> Scenario:
        """References between sections, the venue's geometry and staffed lanes."""
        problems = scenario_problems(self)
        if problems:
            raise located_error(problems, self)
        return self


# ------------------------------------------------------------- checks across sections ---

#: Targets that are not zone names.
SPECIAL_TARGETS = ("densest", "queue", "random")
#: Screening methods that need no screeners at the lanes (anyone at the door can look).
UNSTAFFED_METHODS = ("none", "visual")
FieldPath = tuple[str | int, ...]


class Located(NamedTuple):
    """A problem found across sections: where (a field path), what, and what is allowed."""

    path: FieldPath
    message: str
    allowed: str | None = None


def located_error(problems: Iterable[Located], root: Any = None) -> ValidationError:
    """One pydantic ``ValidationError`` carrying every problem at its own field path.

    Each error has type ``scenario`` (``extends`` for extends problems), the message
    ``"<message> (allowed: <allowed>)"``, and ``ctx`` holding ``message`` and ``allowed`` so
    that the loader can show them located in the file.
    """
    details: list[InitErrorDetails] = []
    for p in problems:
        kind = "extends" if p.path[-1:] == ("extends",) else "scenario"
        if p.allowed:
            error = PydanticCustomError(
                kind, "{message} (allowed: {allowed})", {"message": p.message, "allowed": p.allowed}
            )
        else:
            error = PydanticCustomError(kind, "{message}", {"message": p.message})
        details.append(InitErrorDetails(type=error, loc=p.path, input=_value_at(root, p.path)))
    return ValidationError.from_exception_data("Scenario", details)


def _value_at(root: Any, path: FieldPath) -> Any:
    """The value at ``path`` under a model or parsed mapping (None where there is none)."""
    node = root
    for part in path:
        if isinstance(node, BaseModel):
            node = getattr(node, str(part), None)
        elif isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and -len(node) <= part < len(node):
            node = node[part]
        else:
            return None
    return node


def deep_merge(base: Any, over: Any) -> Any:
    """``over`` on top of ``base``: mappings merge key by key, anything else replaces."""
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            out[k] = deep_merge(base[k], v) if k in base else copy.deepcopy(v)
        return out
    return copy.deepcopy(over)


def resolve_extends(
    data: dict[str, Any],
) -> tuple[dict[str, Any], dict[str, list[str]], list[Located]]:
    """Expand ``extends`` in ``data['configurations']`` of a parsed scenario.

    Returns the data with every configuration merged onto its ancestors (it keeps its
    ``extends``), the chain of each resolved configuration (itself first, then its parent,
    ...), and the problems: unknown parents and cycles (each cycle once). A configuration
    with a problem in its chain is kept without ``extends``. Resolving resolved data again
    changes nothing.
    """
    configs = data.get("configurations")
    if not isinstance(configs, dict):
        return data, {}, []
    problems: list[Located] = []
    resolved: dict[Any, Any] = {}
    chains: dict[str, list[str]] = {}
    cycles: set[frozenset[str]] = set()

    def chain_of(name: str) -> list[str] | None:
        chain = [name]
        while True:
            cfg = configs.get(chain[-1])
            parent = cfg.get("extends") if isinstance(cfg, dict) else None
            if parent is None:
                return chain
            path = ("configurations", chain[-1], "extends")
            if not isinstance(parent, str) or parent not in configs:
                others = ", ".join(str(k) for k in configs if k != chain[-1])
                problems.append(
                    Located(path, f"extends unknown configuration '{parent}'", others or None)
                )
                return None
            if parent in chain:
                cycle = chain[chain.index(parent) :]
                if frozenset(cycle) not in cycles:
                    cycles.add(frozenset(cycle))
                    problems.append(
                        Located(path, f"extends cycle: {' -> '.join([*cycle, parent])}")
                    )
                return None
            chain.append(parent)

    for name, cfg in configs.items():
        chain = chain_of(name)
        if chain is None or not isinstance(cfg, dict):
            resolved[name] = (
                {k: v for k, v in cfg.items() if k != "extends"} if isinstance(cfg, dict) else cfg
            )
            continue
        merged: dict[str, Any] = {}
        for ancestor in reversed(chain):
            parent = configs[ancestor]
            if not isinstance(parent, dict):  # reported where it is written
                continue
            merged = deep_merge(merged, {k: v for k, v in parent.items() if k != "extends"})
        if cfg.get("extends") is not None:
            merged["extends"] = cfg["extends"]
        resolved[name] = merged
        chains[name] = chain
    out = dict(data)
    out["configurations"] = resolved
    return out, chains, problems


def _names(names: Iterable[str]) -> str:
    return ", ".join(names) or "none defined"


def scenario_problems(scenario: Scenario) -> list[Located]:
    """Every problem between the sections of a scenario whose fields are valid.

    Zones, the perimeter and targets that must exist, the venue's geometry (on the model's
    lattice: :func:`softtarget.sim.geometry.geometry_problems`), staff posts and patrols,
    cameras and their watchers, lanes per checkpoint and the screeners to work them, train
    platforms, armed response times and vehicle approaches. Empty when all is well.
    """
    problems: list[Located] = []
    v = scenario.venue
    zones = v.zones

    def bad(path: FieldPath, message: str, allowed: Iterable[str] | str) -> None:
        text = allowed if isinstance(allowed, str) else _names(allowed)
        problems.append(Located(path, message, text))

    if v.perimeter is not None:
        if v.perimeter not in zones:
            bad(("venue", "perimeter"), f"undefined zone '{v.perimeter}'", zones)
        elif zones[v.perimeter].kind != "perimeter":
            bad(
                ("venue", "perimeter"),
                f"zone '{v.perimeter}' is of kind '{zones[v.perimeter].kind}'",
                [z for z in zones if zones[z].kind == "perimeter"],
            )
    for name, zone in zones.items():
        x0, y0, x1, y1 = zone.bounds()
        if x0 < 0 or y0 < 0 or x1 > v.width_m or y1 > v.height_m:
            bad(("venue", "zones", name), f"zone '{name}' lies outside the venue area",
                f"within 0..{v.width_m:g} x 0..{v.height_m:g} m")  # fmt: skip
    if not problems:  # geometry is checked once every zone lies in the area
        from softtarget.sim.geometry import geometry_problems

        for zname, message in geometry_problems(v):
            bad(("venue", "zones", zname), message, "a zone with a walkable path to the entrance")
    kinds = {z.kind for z in zones.values()}
    if "exit" not in kinds:
        bad(("venue", "zones"), "the venue has no zone of kind 'exit'", ["exit"])
    if "attractor" not in kinds:
        bad(("venue", "zones"), "the venue has no zone of kind 'attractor'", ["attractor"])
    th = scenario.threat
    vehicles = th.probability > 0 and th.mix.get("vehicle", 0) > 0
    if vehicles and "vehicle_approach" not in kinds:
        bad(
            ("threat", "mix", "vehicle"),
            "vehicle attacks need a zone of kind 'vehicle_approach'",
            ["0 for vehicle, or add a vehicle_approach zone"],
        )
    checkpoints = [n for n, z in zones.items() if z.kind == "checkpoint"]
    entrances = [n for n, z in zones.items() if z.kind in ("checkpoint", "entrance")]
    arrivals = scenario.crowd.arrivals
    arriving = (arrivals.profile == "constant" and arrivals.rate_per_min > 0) or (
        arrivals.profile == "peak" and arrivals.total > 0
    )
    if (arriving or scenario.crowd.initial_queuing) and not entrances:
        bad(
            ("crowd", "arrivals"),
            "visitors arrive but the venue has no checkpoint or entrance",
            ["checkpoint", "entrance"],
        )
    trains = scenario.crowd.trains
    for i, platform in enumerate(trains.platforms if trains else []):
        if platform not in zones or zones[platform].kind != "attractor":
            bad(("crowd", "trains", "platforms", i), f"'{platform}' is not an attractor zone",
                [z for z in zones if zones[z].kind == "attractor"])  # fmt: skip
    for target in scenario.threat.target:
        if target not in SPECIAL_TARGETS and target not in zones:
            bad(("threat", "target", target), f"undefined zone '{target}'",
                [*SPECIAL_TARGETS, *zones])  # fmt: skip
    for cname, cfg in scenario.configurations.items():
        problems += _configuration_problems(scenario, cname, cfg, checkpoints)
    return problems


def _configuration_problems(
    scenario: Scenario, cname: str, cfg: Configuration, checkpoints: list[str]
) -> list[Located]:
    """The cross-section problems of one configuration (see :func:`scenario_problems`)."""
    problems: list[Located] = []
    v = scenario.venue
    zones = v.zones

    def bad(path: FieldPath, message: str, allowed: Iterable[str] | str) -> None:
        text = allowed if isinstance(allowed, str) else _names(allowed)
        problems.append(Located(path, message, text))

    for gname, group in cfg.staff.items():
        base = ("configurations", cname, "staff", gname)
        if group.post is not None and group.post not in zones and group.post != "control_room":
            bad((*base, "post"), f"undefined zone '{group.post}'", ["control_room", *zones])
        for i, z in enumerate(group.patrol):
            if z not in zones:
                bad((*base, "patrol", i), f"undefined zone '{z}'", zones)
        if group.role == "armed_response" and group.response_time_s is None:
            bad((*base, "response_time_s"), "armed response units need a response time",
                ["a duration or distribution"])  # fmt: skip
    from softtarget.sim.organisations import graph_problems

    for path, message, allowed in graph_problems(cfg):
        bad(("configurations", cname, *path), message, allowed)
    operators = [n for n, g in cfg.staff.items() if g.role == "cctv_operator"]
    for camname, cam in cfg.cameras.items():
        base = ("configurations", cname, "cameras", camname)
        x, y = cam.at
        if not (0 <= x <= v.width_m and 0 <= y <= v.height_m):
            bad((*base, "at"), f"camera '{camname}' lies outside the venue area",
                [f"within 0..{v.width_m:g} x 0..{v.height_m:g} m"])  # fmt: skip
        if cam.watched_by is not None and cam.watched_by not in operators:
            bad((*base, "watched_by"),
                f"'{cam.watched_by}' is not a cctv_operator group of '{cname}'",
                operators)  # fmt: skip
    if operators and not cfg.cameras:
        bad(("configurations", cname, "staff", operators[0], "role"),
            "CCTV operators need cameras to watch",
            [f"configurations.{cname}.cameras, or another role"])  # fmt: skip
    screening = ("configurations", cname, "screening")
    for zname, lanes in cfg.screening.lanes.items():
        path = (*screening, "lanes", zname)
        if zname not in checkpoints:
            bad(path, f"'{zname}' is not a checkpoint zone", checkpoints)
        elif lanes > zones[zname].lanes:
            bad(path, f"{lanes} lanes open but the checkpoint has {zones[zname].lanes}",
                f"0..{zones[zname].lanes}")  # fmt: skip
    if cfg.screening.method not in UNSTAFFED_METHODS:
        per_lane = cfg.screening.staff_per_lane
        for zname in checkpoints:
            configured = zname in cfg.screening.lanes
            lanes = cfg.screening.lanes[zname] if configured else zones[zname].lanes
            have = screeners_at(cfg, zname)
            if lanes == 0 or have >= per_lane:
                continue
            what = f"{lanes} lanes open at '{zname}'" + ("" if configured else " (all it has)")
            if have == 0:
                message = f"{what} but no staff with the screen power posted there"
            else:
                message = (
                    f"{what} but only {have} screener{'s' if have > 1 else ''} posted there: "
                    f"a lane needs {per_lane} (screening.staff_per_lane)"
                )
            roles = " or ".join(SCREEN_ROLES)
            bad((*screening, "lanes", zname) if configured else screening, message,
                f"post {roles} groups at '{zname}', or set its lanes to 0")  # fmt: skip
    return problems


def screeners_at(config: Configuration, zone: str) -> int:
    """Staff of ``config`` with the ``screen`` power posted at the checkpoint ``zone``."""
    return sum(
        g.count for g in config.staff.values() if g.post == zone and "screen" in POWERS[g.role]
    )


def open_lanes(config: Configuration, venue: Venue, zone: str) -> int:
    """Lanes a checkpoint works: min(lanes opened, screeners posted // staff_per_lane).

    Methods that need no screeners (none, visual) work every lane opened.
    """
    screening = config.screening
    lanes = screening.lanes.get(zone, venue.zones[zone].lanes)
    if screening.method in UNSTAFFED_METHODS:
        return lanes
    return min(lanes, screeners_at(config, zone) // screening.staff_per_lane)


DEFAULT_SERVICE_S: dict[str, float] = {
    "none": 1.0,
    "visual": 3.0,
    "metal_detector": 6.0,
    "bag_check": 8.0,
    "bag_check_pat_down": 10.0,
}
DEFAULT_DETECTION: dict[str, dict[str, float]] = {
    "none": dict.fromkeys(ATTACK_MODES, 0.0),
    "visual": {"firearm": 0.1, "blade": 0.05, "pbied": 0.1, "vehicle": 0.0},
    "metal_detector": {"firearm": 0.6, "blade": 0.5, "pbied": 0.3, "vehicle": 0.0},
    "bag_check": {"firearm": 0.35, "blade": 0.2, "pbied": 0.35, "vehicle": 0.0},
    "bag_check_pat_down": {"firearm": 0.5, "blade": 0.35, "pbied": 0.5, "vehicle": 0.0},
}
#: What each role may do:
#:
#: * ``screen``: works a lane at the checkpoint where posted (a checkpoint opens
#:   ``min(lanes, screeners // screening.staff_per_lane)`` lanes);
#: * ``detain``: stops and questions a suspect, arrests;
#: * ``neutralise``: when armed, engages an attacker;
#: * ``guide``: leads the crowd in an evacuation, invacuation or lockdown;
#: * ``dispatch``: the police room sends them to incidents (``units_per_incident``).
#:
#: Police work the lanes in police-only plans. Private guards hold citizen's-arrest powers
#: only; transit enforcement officers (BOA) may demand ID, search and arrest (REFERENCES).
POWERS: dict[str, frozenset[str]] = {
    "police": frozenset({"screen", "detain", "neutralise", "dispatch"}),
    "armed_response": frozenset({"detain", "neutralise", "dispatch"}),
    "security_guard": frozenset({"screen", "detain"}),
    "steward": frozenset({"guide"}),
    "cctv_operator": frozenset(),
    "transit_staff": frozenset({"guide"}),
    "enforcement_officer": frozenset({"detain"}),
}
#: Roles that work screening lanes (most used first).
SCREEN_ROLES: tuple[str, ...] = tuple(
    sorted((r for r, p in POWERS.items() if "screen" in p), reverse=True)
)
DEFAULT_SIDE: dict[str, str] = {
    "police": "public",
    "armed_response": "public",
    "security_guard": "private",
    "steward": "private",
    "cctv_operator": "private",
    "transit_staff": "private",
    "enforcement_officer": "private",
}


def service_time(screening: Screening) -> Dist:
    """The service-time distribution of a screening set-up (exponential by method if unset)."""
    if screening.service_time_s is not None:
        return screening.service_time_s
    from softtarget.sim.units import Exponential

    return Exponential(dist="exponential", mean=DEFAULT_SERVICE_S[screening.method])


def detection_probability(screening: Screening, mode: str) -> float:
    """Chance that a lane of this screening set-up catches the weapon of ``mode``."""
    table = screening.detection or DEFAULT_DETECTION[screening.method]
    return float(table.get(mode, DEFAULT_DETECTION[screening.method][mode]))


def finite_or_nan(value: float | None) -> float:
    """``value`` as float, NaN for None."""
    return math.nan if value is None else float(value)
