"""An animation of one run drawn on the venue plan (GIF with Pillow, MP4 with ffmpeg).

Every ``every_s`` simulated seconds a frame shows the visitors as dots coloured by state, the
staff by role, the attackers as stars, a local-density heat layer (persons/m² on the
pedestrian lattice) and a clock with the key moments of the run written as they happen.

The figure is built once on the plan of :func:`softtarget.sim.plan.draw_plan`; each frame only
updates the artists' data (``set_offsets``, ``set_array``, ``set_text``). The page of ``softtarget
view`` (:mod:`softtarget.sim.view`) draws the same :class:`Frame` after each step.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import numpy as np
from matplotlib import animation
from matplotlib.lines import Line2D

from softtarget.sim.errors import AnimationError
from softtarget.sim.people import State
from softtarget.sim.plan import ROLE_MARKERS, draw_plan

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from softtarget.sim.model import SoftTargetModel
    from softtarget.sim.schema import Scenario

__all__ = [
    "STATE_COLOURS",
    "Frame",
    "animate_run",
    "clock",
    "milestones",
    "save_frame",
]

#: Visitor states drawn, with their colours (Paul Tol's colour-blind-safe "bright" scheme,
#: plus black for the killed). Planned, evacuated and departed people are not drawn.
STATE_COLOURS: dict[State, str] = {
    State.ARRIVING: "#66CCEE",
    State.QUEUING: "#CCBB44",
    State.INSIDE: "#4477AA",
    State.FLEEING: "#EE6677",
    State.SHELTERING: "#AA3377",
    State.INJURED: "#EE7733",
    State.KILLED: "#000000",
}
#: Upper end of the density colour scale, persons/m².
DENSITY_MAX = 6.25
#: Densities below this are left transparent so the plan shows through.
DENSITY_FLOOR = 0.5
#: Output formats by suffix.
FORMATS = (".gif", ".mp4")

_RGBA = np.array([matplotlib.colors.to_rgba(c) for c in STATE_COLOURS.values()])
_LUT = np.full(len(State), -1, dtype=np.int64)
_LUT[list(STATE_COLOURS)] = np.arange(len(STATE_COLOURS))
_DOT = 4.0  # visitor marker area, points²


def clock(t: float) -> str:
    """``t`` seconds as ``mm:ss`` (or ``h:mm:ss`` past an hour)."""
    s = round(t)
    h, rest = divmod(s, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60:02d}:{rest % 60:02d}"


def milestones(model: SoftTargetModel) -> list[tuple[float, str]]:
    """The key moments reached so far, ``(time, label)`` in time order."""
    found: list[tuple[float, str]] = []
    if model.threat.began and model.threat.t_began <= model.t + 1e-9:
        found.append((model.threat.t_began, f"attack began ({model.threat.plan.mode})"))
    for value, label in (
        (model.detection.t_first, "first detection"),
        (model.response.t_police_alerted, "police alerted"),
        (model.response.t_ordered, "response ordered"),
    ):
        if not math.isnan(value):
            found.append((value, label))
    for a in model.threat.attackers:
        if a.end and not math.isnan(a.ended_at):
            who = f"attacker {a.ident + 1}" if len(model.threat.attackers) > 1 else "attacker"
            found.append((float(a.ended_at), f"{who} {a.end}"))
    return sorted(found)


class Frame:
    """The figure of one run: the plan once, then live layers updated in place."""

    def __init__(self, model: SoftTargetModel, *, title: str | None = None) -> None:
        """Draw the plan of ``model``'s scenario and create empty live layers on it."""
        sc, cfg = model.scenario, model.config_name
        self.model = model
        self.fig: Figure = draw_plan(sc, cfg)
        ax = self.ax = self.fig.axes[0]
        for line in ax.lines:  # static posts and beats: a pale reference under the live staff
            line.set_alpha(0.3)
        grid = model.crowd.lattice.grid
        extent = (grid.x0, grid.x0 + grid.nx * grid.cell, grid.y0, grid.y0 + grid.ny * grid.cell)
        self.heat = ax.imshow(
            np.ma.masked_all(grid.shape),
            origin="lower",
            extent=extent,
            cmap="YlOrRd",
            vmin=0.0,
            vmax=DENSITY_MAX,
            alpha=0.65,
            interpolation="nearest",
            zorder=2,
        )
        self.fig.colorbar(
            self.heat, ax=ax, location="bottom", shrink=0.4, aspect=40, pad=0.01,
            label="local density (persons/m², 1.2 m x 1.2 m window)",
        )  # fmt: skip
        self.people = ax.scatter(np.empty(0), np.empty(0), s=_DOT, linewidths=0, zorder=3)
        self.staff: dict[str, object] = {}
        for role in sorted({s.role for s in model.staff.members}):
            marker, colour = ROLE_MARKERS[role]
            self.staff[role] = ax.scatter(
                np.empty(0), np.empty(0), marker=marker, s=36, c=colour,
                edgecolors="white", linewidths=0.6, zorder=4,
            )  # fmt: skip
        self.attackers = ax.scatter(
            np.empty(0), np.empty(0), marker="*", s=260, c="#D00000",
            edgecolors="black", linewidths=0.8, zorder=5,
        )  # fmt: skip
        box = {"facecolor": "white", "alpha": 0.85, "edgecolor": "#444444", "boxstyle": "round"}
        self.clock = ax.text(
            0.99, 0.01, "", transform=ax.transAxes, ha="right", va="bottom", fontsize=8,
            family="monospace",
            multialignment="left", bbox=box, zorder=6,
        )  # fmt: skip
        old = ax.get_legend()
        handles = [
            Line2D([], [], marker="o", linestyle="none", markersize=5, markerfacecolor=c,
                   markeredgewidth=0, label=f"visitor {s.name.lower()}")
            for s, c in STATE_COLOURS.items()
        ]  # fmt: skip
        handles.append(
            Line2D([], [], marker="*", linestyle="none", markersize=11, markerfacecolor="#D00000",
                   markeredgecolor="black", label="attacker")
        )  # fmt: skip
        if old is not None:  # one legend: the plan's (zones, staff roles), then the live layers
            handles = [*old.legend_handles, *handles]
            old.remove()
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7,
                  frameon=False)  # fmt: skip
        ax.set_title(title or f"{sc.name}: configuration {cfg}")
        self.update()
        # lay out once, then freeze: later frames only change data, never the layout
        self.fig.draw_without_rendering()
        self.fig.set_layout_engine("none")

    def update(self) -> None:
        """Move the live layers to the model's current state."""
        m = self.model
        cw = m.crowd
        which = _LUT[cw.state]
        shown = np.flatnonzero(which >= 0)
        self.people.set_offsets(cw.xy[shown])
        self.people.set_facecolors(_RGBA[which[shown]])
        dead = cw.state[shown] == State.KILLED
        self.people.set_sizes(np.where(dead, 4 * _DOT, _DOT))
        rho = m.crowd.lattice.density(half=1)
        self.heat.set_array(np.ma.masked_less(rho, DENSITY_FLOOR))
        for role, layer in self.staff.items():
            pts = [s.pos for s in m.staff.members if s.role == role and s.on_site]
            layer.set_offsets(np.array(pts) if pts else np.empty((0, 2)))  # type: ignore[attr-defined]
        live = [a for a in m.threat.attackers if a.phase != "waiting"]
        self.attackers.set_offsets(np.array([a.pos for a in live]) if live else np.empty((0, 2)))
        face = ["#D00000" if a.active else "#BBBBBB" for a in live]
        self.attackers.set_facecolors(face if face else "none")
        lines = [f"t = {clock(m.t)}"]
        lines += [f"{clock(t)}  {label}" for t, label in milestones(m)]
        self.clock.set_text("\n".join(lines))


def _frame_steps(scenario: Scenario, every_s: float, duration_s: float | None) -> list[int]:
    """The model steps after which a frame is drawn (0: the start), checked.

    A frame is drawn at the first step whose clock reaches the next multiple of ``every_s``,
    so a run of 60 s drawn every 10 s has 7 frames whatever its step.
    """
    dt = scenario.run.dt_s
    if not (every_s > 0 and math.isfinite(every_s)):
        raise AnimationError(f"--every must be a positive number of seconds, not {every_s}")
    duration = scenario.run.duration_s if duration_s is None else duration_s
    if not (duration >= 0 and math.isfinite(duration)):
        raise AnimationError(f"the duration must be a non-negative number of seconds: {duration}")
    steps, t, next_at = [0], 0.0, every_s
    for step in range(1, round(duration / dt) + 1):
        t = round(t + dt, 9)  # the model's clock (SoftTargetModel.step)
        if t + 1e-9 >= next_at:
            steps.append(step)
            while next_at <= t + 1e-9:
                next_at += every_s
    return steps


def _writer(out: Path, fps: float) -> animation.AbstractMovieWriter:
    suffix = out.suffix.lower()
    if suffix not in FORMATS:
        raise AnimationError(f"{out}: write a .gif or an .mp4 file, not '{out.suffix or out.name}'")
    if suffix == ".mp4":
        if not animation.writers.is_available("ffmpeg"):
            raise AnimationError(
                f"{out}: an .mp4 needs ffmpeg, which is not installed; write a .gif instead"
            )
        return animation.FFMpegWriter(fps=fps, codec="h264", extra_args=["-pix_fmt", "yuv420p"])
    return animation.PillowWriter(fps=fps)


@contextmanager
def _progress(enabled: bool, length: int) -> Iterator[object]:
    if enabled:
        import sys

        import click

        with click.progressbar(length=length, label="frames", file=sys.stderr) as bar:
            yield bar
    else:
        yield None


def animate_run(
    scenario: Scenario,
    configuration: str,
    seed: int,
    out: Path,
    *,
    every_s: float = 5.0,
    duration_s: float | None = None,
    progress: bool = False,
    fps: float = 8.0,
    dpi: float = 80.0,
) -> int:
    """Run ``scenario`` under ``configuration`` with ``seed`` and write an animation to ``out``.

    One frame at the start and one each time the clock reaches the next multiple of
    ``every_s`` simulated seconds, until ``duration_s`` (default: the scenario's
    ``run.duration_s``). ``out`` ends in ``.gif`` (Pillow) or ``.mp4`` (needs ffmpeg);
    playback runs at ``fps`` frames per second.

    Returns the number of frames written. Raises :class:`AnimationError` for a format that
    cannot be written, before running anything.
    """
    from softtarget.sim.model import SoftTargetModel

    out = Path(out)
    frame_steps = _frame_steps(scenario, every_s, duration_s)
    writer = _writer(out, fps)
    out.parent.mkdir(parents=True, exist_ok=True)
    model = SoftTargetModel(scenario, configuration, seed)
    frame = Frame(model, title=f"{scenario.name}: {configuration}, seed {seed}")
    written, done = 0, 0
    with _progress(progress, len(frame_steps)) as bar, writer.saving(frame.fig, str(out), dpi):
        for step in frame_steps:
            for _ in range(step - done):
                model.step()
            done = step
            frame.update()
            writer.grab_frame()
            written += 1
            if bar is not None:
                bar.update(1)  # type: ignore[attr-defined]
    return written


def save_frame(
    scenario: Scenario, configuration: str, seed: int, out: Path, *, at_s: float, dpi: float = 100
) -> Path:
    """Run until ``at_s`` simulated seconds and save that one frame as an image (png, svg...)."""
    from softtarget.sim.model import SoftTargetModel

    model = SoftTargetModel(scenario, configuration, seed)
    for _ in range(round(at_s / scenario.run.dt_s)):
        model.step()
    frame = Frame(model, title=f"{scenario.name}: {configuration}, seed {seed}")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.fig.savefig(out, dpi=dpi)
    return out
