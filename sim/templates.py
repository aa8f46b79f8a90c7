"""Built-in parametric venue templates: festival, stadium, station and place of worship.

A scenario writes ``venue: {template: festival, gates: 3, ...}``; the template's parameters are
validated like any section and expanded into the documented venue format (area, walls and
zones). Zones written beside ``template`` are added to the generated ones, or replace a
generated zone of the same name, so a user can start from a template and adjust it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from softtarget.sim.schema import Section
from softtarget.sim.units import NonNegInt, PosFloat, PosInt

Rect = list[float]


def _zone(kind: str, rect: Rect, **extra: Any) -> dict[str, Any]:
    return {"kind": kind, "rect": [round(v, 3) for v in rect], **extra}


def _spread(n: int, lo: float, hi: float, width: float) -> list[tuple[float, float]]:
    """``n`` intervals of ``width`` spread evenly over [lo, hi]."""
    step = (hi - lo) / n
    return [
        (lo + step * (i + 0.5) - width / 2, lo + step * (i + 0.5) + width / 2) for i in range(n)
    ]


class FestivalTemplate(Section):
    """Open-air festival field: a fenced field, gates with screening lanes on the access road."""

    template: Literal["festival"]
    width_m: PosFloat = Field(240.0, ge=80, description="Field width, m.")
    height_m: PosFloat = Field(160.0, ge=60, description="Depth including the road strip, m.")
    gates: PosInt = Field(2, le=8, description="Entrance gates (screening checkpoints).")
    lanes_per_gate: PosInt = Field(8, le=40, description="Screening lanes built at each gate.")
    exits: PosInt = Field(4, le=12, description="Emergency exits in the fence.")
    exit_width_m: PosFloat = Field(8.0, description="Clear width of each exit, m.")
    stages: PosInt = Field(2, le=3, description="Stages (the first is the main stage).")
    road_m: PosFloat = Field(30.0, ge=15, description="Depth of the road and queue strip, m.")

    def expand(self) -> dict[str, Any]:
        """The venue in the documented format."""
        w, h, road = self.width_m, self.height_m, self.road_m
        zones: dict[str, Any] = {"field": _zone("perimeter", [0, road, w, h])}
        zones["access_road"] = _zone("vehicle_approach", [w * 0.42, 0, w * 0.58, road * 0.4])
        zones["road_out"] = _zone("exit", [0, 0, w * 0.2, road * 0.4], width_m=w * 0.2)
        gate_w = min(6.0 * self.lanes_per_gate, (w * 0.8) / self.gates - 4)
        for i, (x0, x1) in enumerate(_spread(self.gates, w * 0.2, w, gate_w)):
            zones[f"gate_{i + 1}"] = _zone(
                "checkpoint", [x0, road * 0.5, x1, road], lanes=self.lanes_per_gate, width_m=gate_w
            )
        zones["main_stage"] = _zone("attractor", [w * 0.25, h - 50, w * 0.75, h - 5], weight=5)
        if self.stages >= 2:
            zones["second_stage"] = _zone(
                "attractor", [8, road + 30, w * 0.22, road + 70], weight=2
            )
        if self.stages >= 3:
            zones["third_stage"] = _zone(
                "attractor", [w * 0.78, road + 30, w - 8, road + 70], weight=2
            )
        zones["bars"] = _zone("attractor", [w * 0.4, road + 15, w * 0.6, road + 45], weight=1)
        sides = [("west", 0.0), ("east", w - 4.0)]
        depth = h - road
        for i in range(self.exits):
            name, x0 = sides[i % 2]
            k = i // 2
            n_side = (self.exits + (1 - i % 2)) // 2
            y = road + depth * (k + 1) / (n_side + 1)
            ew = self.exit_width_m
            zones[f"exit_{name}_{k + 1}"] = _zone("exit", [x0, y - ew / 2, x0 + 4, y + ew / 2],
                                                 width_m=ew)  # fmt: skip
        return {"width_m": w, "height_m": h, "perimeter": "field", "walls": [], "zones": zones}


class StadiumTemplate(Section):
    """Stadium: stands around a pitch, turnstiles with bag checks, egress to the streets."""

    template: Literal["stadium"]
    width_m: PosFloat = Field(240.0, ge=120, description="Site width including streets, m.")
    height_m: PosFloat = Field(200.0, ge=100, description="Site depth including streets, m.")
    gates: PosInt = Field(8, le=24, description="Turnstile banks (checkpoints), split N/S.")
    lanes_per_gate: PosInt = Field(6, le=20, description="Turnstiles with bag check per bank.")
    exits: PosInt = Field(8, le=24, description="Egress gates, split E/W.")
    exit_width_m: PosFloat = Field(6.0, description="Clear width of each egress gate, m.")
    street_m: PosFloat = Field(25.0, ge=10, description="Depth of the street outside, m.")

    def expand(self) -> dict[str, Any]:
        """The venue in the documented format."""
        w, h, s = self.width_m, self.height_m, self.street_m
        zones: dict[str, Any] = {"stadium": _zone("perimeter", [0, s, w, h - s])}
        pitch = [w * 0.3, h * 0.35, w * 0.7, h * 0.65]
        walls = [{"rect": pitch}]
        inner_h = h - 2 * s
        stand_d = inner_h * 0.22
        zones["stand_north"] = _zone("attractor", [w * 0.15, h - s - stand_d, w * 0.85, h - s - 4],
                                     weight=3)  # fmt: skip
        zones["stand_south"] = _zone(
            "attractor", [w * 0.15, s + 4, w * 0.85, s + stand_d], weight=3
        )
        zones["stand_west"] = _zone("attractor", [8, h * 0.3, w * 0.25, h * 0.7], weight=2)
        zones["stand_east"] = _zone("attractor", [w * 0.75, h * 0.3, w - 8, h * 0.7], weight=2)
        zones["concourse"] = _zone("shelter", [w * 0.3, h * 0.67, w * 0.7, h * 0.72])
        north = (self.gates + 1) // 2
        south = self.gates - north
        bank_w = min(3.0 * self.lanes_per_gate, w / max(north, 1) - 4)
        for i, (x0, x1) in enumerate(_spread(north, 0, w, bank_w)):
            zones[f"turnstiles_n{i + 1}"] = _zone(
                "checkpoint",
                [x0, h - s, x1, h - s * 0.4],
                lanes=self.lanes_per_gate,
                width_m=bank_w,
            )
        for i, (x0, x1) in enumerate(_spread(max(south, 0), 0, w, bank_w)):
            zones[f"turnstiles_s{i + 1}"] = _zone(
                "checkpoint", [x0, s * 0.4, x1, s], lanes=self.lanes_per_gate, width_m=bank_w
            )
        zones["street_north"] = _zone("exit", [0, h - 4, w, h], width_m=w)
        zones["street_south"] = _zone("exit", [0, 0, w, 4], width_m=w)
        ew = self.exit_width_m
        per_side = (self.exits + 1) // 2
        for side, x0 in (("west", 0.0), ("east", w - 4.0)):
            count = per_side if side == "west" else self.exits - per_side
            for k, (y0, y1) in enumerate(_spread(count, s + 10, h - s - 10, ew)):
                zones[f"egress_{side}_{k + 1}"] = _zone("exit", [x0, y0, x0 + 4, y1], width_m=ew)
        zones["coach_park"] = _zone("vehicle_approach", [w * 0.45, 0, w * 0.55, s * 0.35])
        return {"width_m": w, "height_m": h, "perimeter": "stadium", "walls": walls,
                "zones": zones}  # fmt: skip


class StationTemplate(Section):
    """Transit hub with no perimeter: platforms, a concourse, street entrances and exits."""

    template: Literal["station"]
    width_m: PosFloat = Field(200.0, ge=80, description="Length of the hall, m.")
    height_m: PosFloat = Field(90.0, ge=50, description="Depth of the hall, m.")
    platforms: PosInt = Field(4, le=12, description="Platforms (attractors trains unload on).")
    entrances: PosInt = Field(3, le=10, description="Street entrances (also exits).")
    entrance_width_m: PosFloat = Field(8.0, description="Clear width of each entrance, m.")

    def expand(self) -> dict[str, Any]:
        """The venue in the documented format."""
        w, h = self.width_m, self.height_m
        concourse_h = h * 0.3
        zones: dict[str, Any] = {
            "concourse": _zone("attractor", [4, 6, w - 4, concourse_h], weight=2),
        }
        walls = []
        band = (h - concourse_h - 4) / self.platforms
        for i in range(self.platforms):
            y0 = concourse_h + 4 + i * band
            zones[f"platform_{i + 1}"] = _zone("attractor", [20, y0 + 1, w - 20, y0 + band * 0.45],
                                               weight=1)  # fmt: skip
            if i < self.platforms - 1:  # track beds between platforms, crossed at the ends
                walls.append({"rect": [20, y0 + band * 0.5, w - 20, y0 + band * 0.95]})
        ew = self.entrance_width_m
        for i, (x0, x1) in enumerate(_spread(self.entrances, 0, w, ew)):
            zones[f"entrance_{i + 1}"] = _zone("entrance", [x0, 0, x1, 4], width_m=ew)
            zones[f"street_{i + 1}"] = _zone("exit", [x0, 0, x1, 3], width_m=ew)
        zones["taxi_rank"] = _zone("vehicle_approach", [w * 0.4, 0, w * 0.6, 2])
        return {"width_m": w, "height_m": h, "perimeter": None, "walls": walls, "zones": zones}


class WorshipTemplate(Section):
    """Place of worship: a prayer hall for a few hundred, a forecourt, a door with volunteers."""

    template: Literal["worship"]
    hall_width_m: PosFloat = Field(30.0, ge=10, description="Inner width of the hall, m.")
    hall_depth_m: PosFloat = Field(24.0, ge=8, description="Inner depth of the hall, m.")
    forecourt_m: PosFloat = Field(20.0, ge=8, description="Depth of the forecourt, m.")
    side_exits: NonNegInt = Field(2, le=4, description="Emergency exits in the side walls.")
    door_width_m: PosFloat = Field(3.0, description="Width of the main door, m.")

    def expand(self) -> dict[str, Any]:
        """The venue in the documented format."""
        hw, hd, fc = self.hall_width_m, self.hall_depth_m, self.forecourt_m
        w, h = hw + 20, hd + fc + 6
        x0, y0, x1, y1 = 10.0, fc, 10 + hw, fc + hd
        door = self.door_width_m
        cx = (x0 + x1) / 2
        t = 0.3  # wall thickness, m
        walls = [
            {"rect": [x0 - t, y1, x1 + t, y1 + t]},  # back wall
            {"rect": [x0 - t, y0 - t, cx - door / 2, y0]},  # front wall, left of the door
            {"rect": [cx + door / 2, y0 - t, x1 + t, y0]},  # front wall, right of the door
        ]
        zones: dict[str, Any] = {
            "hall": _zone("perimeter", [x0, y0, x1, y1]),
            "prayer_hall": _zone("attractor", [x0 + 1, y0 + 2, x1 - 1, y1 - 1], weight=1),
            "door": _zone(
                "checkpoint",
                [cx - door / 2, y0 - 4, cx + door / 2, y0],
                lanes=1,
                width_m=door,
            ),
            "forecourt_exit": _zone("exit", [0, 0, w, 3], width_m=w),
            "street": _zone("vehicle_approach", [w * 0.3, 0, w * 0.7, 2]),
            "side_room": _zone("shelter", [x0 + 1, y1 - 6, x0 + 8, y1 - 1]),
        }
        exits_y = [y0 + hd * (k + 1) / (self.side_exits // 2 + 1) for k in range(self.side_exits)]
        side_walls = {"west": [], "east": []}
        for k in range(self.side_exits):
            side = "west" if k % 2 == 0 else "east"
            y = exits_y[k // 2]
            side_walls[side].append(y)
            ex = x0 - 4 if side == "west" else x1
            zones[f"exit_{side}_{k // 2 + 1}"] = _zone("exit", [max(ex, 0), y - 1, ex + 4, y + 1],
                                                      width_m=1.2)  # fmt: skip
        for side, xw in (("west", x0 - t), ("east", x1)):
            gaps = sorted(side_walls[side])
            start = y0
            for y in gaps:
                walls.append({"rect": [xw, start, xw + t, y - 1]})
                start = y + 1
            walls.append({"rect": [xw, start, xw + t, y1]})
        return {"width_m": w, "height_m": h, "perimeter": "hall", "walls": walls, "zones": zones}


TEMPLATES: dict[str, type[Section]] = {
    "festival": FestivalTemplate,
    "stadium": StadiumTemplate,
    "station": StationTemplate,
    "worship": WorshipTemplate,
}
