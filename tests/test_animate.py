"""``softtarget animate``: a short run written as a GIF, frame count, CLI and bad input."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from softtarget.cli_animate import animate_command
from softtarget.sim.animate import animate_run
from softtarget.sim.errors import AnimationError
from softtarget.sim.loader import load_scenario
from softtarget.sim.runs import run_seed

from .test_cli import SMALL

ONE_MINUTE = "run.duration_s=1min"


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    """The small scenario of the CLI tests, as a file."""
    path = tmp_path / "small.yaml"
    path.write_text(SMALL)
    return path


def test_animate_run_writes_one_frame_per_interval(scenario: Path, tmp_path: Path) -> None:
    sc = load_scenario(str(scenario), [ONE_MINUTE]).scenario
    configuration = next(iter(sc.configurations))
    out = tmp_path / "run.gif"
    n = animate_run(sc, configuration, run_seed(sc.run.seed, 0), out, every_s=10)
    assert n == 7  # t = 0, 10, ..., 60 s
    with Image.open(out) as im:
        assert im.n_frames == n


@pytest.mark.skipif(
    shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None,
    reason="ffmpeg is not installed (scripts/test.sh installs it with apt-get where it can)",
)
def test_animate_run_writes_an_mp4_with_ffmpeg(scenario: Path, tmp_path: Path) -> None:
    sc = load_scenario(str(scenario), [ONE_MINUTE]).scenario
    configuration = next(iter(sc.configurations))
    out = tmp_path / "run.mp4"
    n = animate_run(sc, configuration, run_seed(sc.run.seed, 0), out, every_s=15)
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_frames",
         "-show_entries", "stream=nb_read_frames,codec_name", "-of", "json", str(out)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    stream = json.loads(probe.stdout)["streams"][0]
    assert n == 5 and int(stream["nb_read_frames"]) == n


def test_animate_run_refuses_unwritable_formats_before_running(
    scenario: Path, tmp_path: Path
) -> None:
    sc = load_scenario(str(scenario), [ONE_MINUTE]).scenario
    configuration = next(iter(sc.configurations))
    with pytest.raises(AnimationError, match="gif"):
        animate_run(sc, configuration, 1, tmp_path / "run.avi")
    with pytest.raises(AnimationError, match="positive"):
        animate_run(sc, configuration, 1, tmp_path / "run.gif", every_s=0)
    assert not (tmp_path / "run.gif").exists()


def test_cli_writes_the_animation(scenario: Path, tmp_path: Path) -> None:
    out = tmp_path / "cli.gif"
    args = [str(scenario), "--set", ONE_MINUTE, "--every", "20", "--replicate", "1"]
    res = CliRunner().invoke(animate_command, [*args, "--quiet", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "4 frames" in res.output
    with Image.open(out) as im:
        assert im.n_frames == 4


def test_cli_bad_input_exits_2(scenario: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "never.gif"
    res = runner.invoke(animate_command, [str(scenario), "--config", "nope", "--out", str(out)])
    assert res.exit_code == 2
    assert "unknown configuration 'nope'" in res.output and "allowed:" in res.output
    res = runner.invoke(animate_command, [str(tmp_path / "missing.yaml"), "--out", str(out)])
    assert res.exit_code == 2 and "no such file" in res.output
    res = runner.invoke(animate_command, [str(scenario), "--seed", "1", "--replicate", "2",
                                          "--out", str(out)])  # fmt: skip
    assert res.exit_code == 2
    res = runner.invoke(animate_command, [str(scenario), "--out", str(tmp_path / "x.webm")])
    assert res.exit_code == 2 and ".gif" in res.output
    assert not out.exists()


def test_help_has_an_example() -> None:
    res = CliRunner().invoke(animate_command, ["--help"])
    assert res.exit_code == 0 and "softtarget animate festival" in res.output
