"""The ``softtarget animate`` command: one run drawn frame by frame on the venue plan.

The main group adds it with ``for command in COMMANDS: main.add_command(command)``. The model
and matplotlib are imported inside the command, so ``softtarget --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path

import click

from softtarget.bad_input import BadInput, fail_on_bad_input, one_run
from softtarget.options import (
    FILE,
    config_option,
    out_option,
    quiet_option,
    replicate_option,
    seed_option,
    set_option,
)

__all__ = ["COMMANDS", "animate_command"]


@click.command(
    "animate",
    epilog="Example:\n\n\b\n  softtarget animate festival --config public_private "
    "--replicate 1 --every 10 --out festival.gif\n"
    "  softtarget animate festival --set run.duration_s=5min --out short.mp4",
)
@click.argument("scenario")
@config_option()
@seed_option()
@replicate_option()
@set_option()
@click.option(
    "--every",
    "every_s",
    type=float,
    default=5.0,
    show_default=True,
    metavar="SECONDS",
    help="Simulated seconds between frames (a frame at the first step reaching each multiple).",
)
@click.option(
    "--fps",
    type=click.FloatRange(min=0.1),
    default=8.0,
    show_default=True,
    help="Playback frames per second.",
)
@out_option(
    type=FILE, required=True, help="Animation to write: .gif (always) or .mp4 (needs ffmpeg)."
)
@quiet_option(help="No progress bar.")
@fail_on_bad_input
def animate_command(
    scenario: str,
    configuration: str | None,
    seed: int | None,
    replicate: int | None,
    overrides: tuple[str, ...],
    every_s: float,
    fps: float,
    out: Path,
    quiet: bool,
) -> None:
    """Animate one run on the venue plan: visitors by state, staff, attackers, density.

    A frame every --every simulated seconds shows visitors as dots coloured by state, staff
    by role, attackers as red stars, the local density as a heat layer, and a clock with the
    key moments (detection, police alerted, response ordered, attackers' ends) as they
    happen. --seed or --replicate picks the same run as ``softtarget run``.
    """
    from softtarget.sim.animate import animate_run
    from softtarget.sim.errors import AnimationError

    sc, configuration, seed = one_run(scenario, configuration, seed, replicate, overrides)
    try:
        n = animate_run(sc, configuration, seed, out, every_s=every_s, progress=not quiet, fps=fps)
    except AnimationError as exc:
        raise BadInput(str(exc)) from None
    click.echo(f"animation: {out} ({n} frames)")


COMMANDS = [animate_command]
