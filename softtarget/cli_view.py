"""The ``softtarget view`` command: an interactive page to step or play one run in a browser.

The main group adds it with ``for command in COMMANDS: main.add_command(command)``. Solara,
Mesa's visualisation and the model are imported inside the command, so ``softtarget --help``
stays fast.

The page (:mod:`softtarget.sim.view`) is served by Solara's Starlette app under uvicorn, in this
process: the scenario is loaded and checked first (bad input exits 2 before anything
listens), then bound to the page, and the listening socket is opened before the address is
printed, so the address is ready to open when it appears.

As in Jupyter, the address carries a random token (``?token=...``) drawn at start, and the app
is wrapped in :class:`softtarget.view_guard.ViewGuard`: a request without the token (or the
cookie the first good request set), with a foreign ``Host`` or, for a WebSocket or a change,
a foreign ``Origin`` gets 403.
"""

from __future__ import annotations

import os
import socket
import warnings

import click

from softtarget.bad_input import BadInput, fail_on_bad_input, one_run
from softtarget.options import config_option, replicate_option, seed_option, set_option
from softtarget.view_guard import TOKEN_PARAM, ViewGuard, new_token

__all__ = ["COMMANDS", "view"]


def _listen(host: str, port: int) -> socket.socket:
    """A socket listening on ``host``:``port`` (0: any free port), or a one-line error."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise BadInput(f"--host {host}: {exc.strerror}") from None
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise BadInput(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


def _url(host: str, sock: socket.socket, token: str) -> str:
    port = sock.getsockname()[1]
    origin = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
    return f"{origin}/?{TOKEN_PARAM}={token}"


@click.command(
    "view",
    epilog="Example:\n\n\b\n  softtarget view festival\n"
    "  softtarget view festival --config public_private --replicate 2 --port 8800\n"
    "  softtarget view my_venue.yaml --set run.duration_s=10min --port 0",
)
@click.argument("scenario")
@config_option(help="Configuration shown first (default: the first).")
@seed_option(help="Run seed shown first.")
@replicate_option(help="Replicate whose seed is shown first when --seed is not given [default: 0].")
@set_option()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8765,
    show_default=True,
    help="Port to listen on (0: any free port, printed at start).",
)
@fail_on_bad_input
def view(
    scenario: str,
    configuration: str | None,
    seed: int | None,
    replicate: int | None,
    overrides: tuple[str, ...],
    host: str,
    port: int,
) -> None:
    """Serve an interactive page to step or play one run in a browser.

    The page shows the venue plan with visitors coloured by state, staff by role, attackers,
    the local density and a clock with the key moments, next to a live chart of the queue,
    the people inside, the fleeing and the injured or killed. Its sidebar picks the
    configuration and the seed (then Reset) and steps, plays or pauses the run. The server
    listens on localhost unless --host says otherwise, and answers only the printed address:
    it carries a random token, as Jupyter's does; Ctrl-C stops it.
    """
    sc, configuration, seed = one_run(scenario, configuration, seed, replicate, overrides)
    sock = _listen(host, port)
    token = new_token()
    url = _url(host, sock, token)
    # Solara reads its settings from the environment when it is first imported.
    os.environ["SOLARA_APP"] = "softtarget.sim.view"
    os.environ["SOLARA_MODE"] = "production"  # no file watcher, no hot reload
    os.environ["SOLARA_TELEMETRY_MIXPANEL_ENABLE"] = "False"
    os.environ["SERVER_NAME"] = host
    os.environ["SERVER_PORT"] = str(sock.getsockname()[1])
    # Plain http on a loopback address: the session cookie falls back to samesite=lax.
    warnings.filterwarnings("ignore", message="Cookies with samesite=none", category=UserWarning)
    import uvicorn
    from solara.server.starlette import app

    from softtarget.sim.view import bind

    bind(sc, configuration, seed)
    address, bound_port = sock.getsockname()[:2]
    guarded = ViewGuard(app, token=token, host=host, port=bound_port, address=address)
    config = uvicorn.Config(guarded, log_level="warning")
    click.echo(f"softtarget view: serving {sc.name} on {url}  (Ctrl-C stops)")
    uvicorn.Server(config).run(sockets=[sock])


COMMANDS = [view]
