"""``softtarget view`` in a real browser: serve a small scenario, render, step, screenshot.

Needs Debian's Chromium (``scripts/test.sh`` installs it where it can); Playwright drives it
through ``executable_path`` and never downloads a browser of its own.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from softtarget.cli import main
from softtarget.sim import columns as C

from .test_cli import SMALL

CHROMIUM = "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else shutil.which("chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SERVE_TIMEOUT_S = 30.0


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    """``softtarget view`` of the small scenario on a free localhost port; its address."""
    scenario = tmp_path / "small.yaml"
    scenario.write_text(SMALL)
    log = (tmp_path / "view.log").open("w+")
    proc = subprocess.Popen(
        [sys.executable, "-m", "softtarget", "view", str(scenario), "--port", "0",
         "--host", "127.0.0.1", "--set", "run.duration_s=1min"],
        stdout=subprocess.PIPE, stderr=log, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # the command prints the address once it listens
        found = re.search(r"serving tiny on (http://127\.0\.0\.1:\d+)", line)
        log.seek(0)
        assert found, f"no address printed: {line!r}\n{log.read()}"
        url = found.group(1)
        deadline = time.monotonic() + SERVE_TIMEOUT_S
        while True:
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    assert response.status == 200
                    break
            except OSError:
                assert proc.poll() is None, "the server stopped"
                assert time.monotonic() < deadline, "the server did not answer"
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (/usr/bin/chromium)")
def test_page_renders_steps_and_is_not_blank(served: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(served)
            expect(page.get_by_text("softtarget view: tiny")).to_be_visible(timeout=30_000)
            # the plan and the chart: two rendered images
            images = page.locator("img")
            expect(images).to_have_count(2, timeout=30_000)
            page.wait_for_function(
                "() => [...document.images].every(i => i.complete && i.naturalWidth > 200)",
                timeout=30_000,
            )
            plan_before = images.first.get_attribute("src")
            expect(page.get_by_text("Step: 0")).to_be_visible()
            expect(page.get_by_text(re.compile(r"t = 00:00 of 01:00"))).to_be_visible()

            page.get_by_role("button", name="Step").click()
            expect(page.get_by_text("Step: 1")).to_be_visible(timeout=20_000)
            expect(page.get_by_text(re.compile(r"t = 00:01 of 01:00"))).to_be_visible()
            expect(images.first).not_to_have_attribute("src", plan_before or "", timeout=20_000)

            shot = page.screenshot(full_page=True)
        finally:
            browser.close()
    (tmp_path / "view.png").write_bytes(shot)
    pixels = np.asarray(Image.open(io.BytesIO(shot)).convert("RGB"), dtype=np.int32)
    colours = np.unique(pixels.reshape(-1, 3) @ np.array([1 << 16, 1 << 8, 1]))
    assert pixels.std() > 20, "the screenshot is nearly uniform"
    assert len(colours) > 200, f"only {len(colours)} colours in the screenshot"


def test_bad_input_exits_2_before_listening(tmp_path: Path) -> None:
    scenario = tmp_path / "small.yaml"
    scenario.write_text(SMALL)
    runner = CliRunner()
    res = runner.invoke(main, ["view", str(scenario), "--config", "nope", "--port", "0"])
    assert res.exit_code == 2 and "unknown configuration 'nope'" in res.output
    res = runner.invoke(main, ["view", str(tmp_path / "missing.yaml"), "--port", "0"])
    assert res.exit_code == 2 and "no such file" in res.output
    res = runner.invoke(main, ["view", str(scenario), "--seed", "1", "--replicate", "2"])
    assert res.exit_code == 2


def test_help_has_an_example() -> None:
    res = CliRunner().invoke(main, ["view", "--help"])
    assert res.exit_code == 0 and "softtarget view festival" in res.output


def test_port_in_use_exits_2(tmp_path: Path) -> None:
    import socket

    scenario = tmp_path / "small.yaml"
    scenario.write_text(SMALL)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = str(taken.getsockname()[1])
        res = CliRunner().invoke(main, ["view", str(scenario), "--port", port])
    assert res.exit_code == 2 and f"cannot listen on 127.0.0.1:{port}" in res.output


def test_view_model_records_outcomes_and_stops_at_the_end(tmp_path: Path) -> None:
    from softtarget.sim.loader import load_scenario
    from softtarget.sim.view import OUTCOMES, model_class, parse_seed

    scenario = tmp_path / "small.yaml"
    scenario.write_text(SMALL)
    sc = load_scenario(str(scenario), ["run.duration_s=6s"]).scenario
    model = model_class(sc, "base", 5)(configuration="more", seed=" 11 ")
    assert (model.config_name, model.run_seed) == ("more", 11)
    steps = 0
    while model.running:
        model.step()
        steps += 1
    assert steps == round(6 / sc.run.dt_s) and model.steps == steps
    series = model.datacollector.get_model_vars_dataframe()  # the one time-series recorder
    assert len(series) == steps + 1
    assert all(c in series for _, columns, _ in OUTCOMES for c in columns)
    assert series[C.N_INSIDE].iloc[0] == 300  # the warm start: everybody inside
    with pytest.raises(ValueError, match="whole number"):
        parse_seed("abc")
    with pytest.raises(ValueError, match="unknown configuration"):
        model_class(sc, "base", 5)(configuration="nope")
