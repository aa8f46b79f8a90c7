"""``softtarget view`` in a real browser: serve a small scenario, render, step, screenshot.

Needs Debian's Chromium (``scripts/test.sh`` installs it where it can); Playwright drives it
through ``executable_path`` and never downloads a browser of its own.
"""

from __future__ import annotations

import asyncio
import io
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from softtarget.cli import main
from softtarget.sim import columns as C
from softtarget.view_guard import ViewGuard, cookie_name

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
    """``softtarget view`` of the small scenario on a free localhost port; its address.

    The address is the one printed, with its ``?token=``.
    """
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
        found = re.search(r"serving tiny on (http://127\.0\.0\.1:\d+/\?token=[\w-]{40,})", line)
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


# --- the gate: token, Host, Origin (docs/reliability.md, section 6) ----------------------------

TOKEN = "s3cret-token_0123456789abcdefghijklmnopqrstu"
PORT = 8765
ORIGIN = f"http://127.0.0.1:{PORT}"


async def tiny_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """An ASGI app that answers every HTTP request "ok" and accepts every WebSocket."""
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})
    elif scope["type"] == "websocket":
        assert (await receive())["type"] == "websocket.connect"
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": 1000})
    else:
        await send({"type": "lifespan.seen"})


def guard(host: str = "127.0.0.1", address: str | None = None) -> ViewGuard:
    return ViewGuard(tiny_app, token=TOKEN, host=host, port=PORT, address=address)


def call(
    app: ViewGuard,
    kind: str = "http",
    *,
    query: str = "",
    host: str | None = f"127.0.0.1:{PORT}",
    method: str = "GET",
    **headers: str,
) -> list[dict[str, Any]]:
    """The messages ``app`` sends for one request (``headers``: name=value, '_' for '-')."""
    pairs = [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()]
    if host is not None:
        pairs.append((b"host", host.encode()))
    scope: dict[str, Any] = {
        "type": kind,
        "scheme": "ws" if kind == "websocket" else "http",
        "path": "/",
        "query_string": query.encode(),
        "headers": pairs,
    }
    if kind == "http":
        scope["method"] = method
    incoming = [{"type": "websocket.connect"} if kind == "websocket" else {"type": "http.request"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0) if incoming else {"type": f"{kind}.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


def status(sent: list[dict[str, Any]]) -> int:
    return sent[0]["status"]


def set_cookie(sent: list[dict[str, Any]]) -> str | None:
    found = [v.decode() for k, v in sent[0]["headers"] if k == b"set-cookie"]
    return found[0] if found else None


def accepted(sent: list[dict[str, Any]]) -> bool:
    """Whether a WebSocket was accepted (a refused one is closed before it is accepted)."""
    return sent[0]["type"] == "websocket.accept"


def test_no_token_is_refused_the_token_passes_and_sets_a_cookie_that_works_after() -> None:
    app = guard()
    refused = call(app)
    assert status(refused) == 403 and b"token" in refused[1]["body"]
    assert status(call(app, query="token=wrong")) == 403
    assert status(call(app, cookie=f"{cookie_name(PORT)}=wrong")) == 403
    good = call(app, query=f"token={TOKEN}&x=1")
    assert status(good) == 200 and good[1]["body"] == b"ok"
    cookie = set_cookie(good)
    assert cookie is not None and cookie.startswith(f"{cookie_name(PORT)}={TOKEN};")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    name_value = cookie.split(";")[0]
    after = call(app, cookie=f"other=1; {name_value}; more=2")
    assert status(after) == 200 and set_cookie(after) is None
    # a server on another port keeps its own cookie
    assert status(call(app, cookie=f"{cookie_name(PORT + 1)}={TOKEN}")) == 403


def test_a_foreign_host_is_refused_even_with_the_token() -> None:
    app = guard()
    good = f"token={TOKEN}"
    for host in ("evil.example", f"evil.example:{PORT}", "127.0.0.1.evil.example", "", None):
        assert status(call(app, query=good, host=host)) == 403, host
    for host in (f"127.0.0.1:{PORT}", f"localhost:{PORT}", "LOCALHOST", f"[::1]:{PORT}"):
        assert status(call(app, query=good, host=host)) == 200, host
    # bound to a name: that name too; bound to every interface: any address literal
    assert status(call(guard("myhost.lan"), query=good, host="myhost.lan:1")) == 200
    assert status(call(guard("myhost.lan"), query=good, host="10.1.2.3:1")) == 403
    wide = guard("0.0.0.0")
    assert status(call(wide, query=good, host=f"10.1.2.3:{PORT}")) == 200
    assert status(call(wide, query=good, host="evil.example")) == 403


def test_a_websocket_needs_the_token_and_the_page_s_own_origin() -> None:
    app = guard()
    good = f"token={TOKEN}"
    assert accepted(call(app, "websocket", query=good, origin=ORIGIN))
    cookie = f"{cookie_name(PORT)}={TOKEN}"
    assert accepted(call(app, "websocket", origin=ORIGIN, cookie=cookie))
    assert accepted(call(app, "websocket", host=f"localhost:{PORT}", cookie=cookie,
                         origin=f"http://localhost:{PORT}"))  # fmt: skip
    for origin in ("http://evil.example", f"http://127.0.0.1:{PORT + 1}", "null",
                   f"https://127.0.0.1:{PORT}", f"http://localhost:{PORT}"):  # fmt: skip
        refused = call(app, "websocket", query=good, origin=origin, cookie=cookie)
        assert refused == [{"type": "websocket.close", "code": 1008}], origin
    assert not accepted(call(app, "websocket", origin=ORIGIN))  # no token
    assert not accepted(call(app, "websocket", query=good, origin=ORIGIN, host="evil.example"))


def test_a_change_from_another_origin_is_refused_a_read_is_not() -> None:
    app = guard()
    good = f"token={TOKEN}"
    assert status(call(app, query=good, method="POST", origin="http://evil.example")) == 403
    assert status(call(app, query=good, method="POST", origin=ORIGIN)) == 200
    assert status(call(app, query=good, method="POST")) == 200  # no Origin: not a browser's
    assert status(call(app, query=good, origin="http://evil.example")) == 200  # a GET


def test_lifespan_passes_and_an_empty_token_is_refused() -> None:
    assert call(guard(), "lifespan") == [{"type": "lifespan.seen"}]
    with pytest.raises(ValueError, match="token"):
        ViewGuard(tiny_app, token="", host="127.0.0.1", port=PORT)


def test_the_served_page_answers_only_its_token_host_and_origin(served: str) -> None:
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    base, token = served.split("/?token=")
    port = base.rsplit(":", 1)[1]

    def get(url: str, **headers: str) -> tuple[int, Any]:
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers)) as r:
                return r.status, r.headers
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers

    assert get(f"{base}/")[0] == 403
    code, headers = get(served)
    assert code == 200
    cookie = next(c for c in headers.get_all("Set-Cookie") if c.startswith("softtarget-view-"))
    assert cookie.startswith(f"softtarget-view-{port}={token};")
    assert get(f"{base}/", Cookie=cookie.split(";")[0])[0] == 200
    assert get(served, Host=f"evil.example:{port}")[0] == 403
    ws = f"{base.replace('http', 'ws')}/jupyter/api/kernels/k/channels?session_id=s"
    for url, origin in [(f"{ws}&token={token}", "http://evil.example"), (ws, base)]:
        with pytest.raises(InvalidStatus) as refused, connect(url, origin=origin):
            pass
        assert refused.value.response.status_code == 403
