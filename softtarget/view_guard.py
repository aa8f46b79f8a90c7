"""The gate in front of the ``softtarget view`` page: a token, the Host and the Origin.

The page runs a model and takes commands over a WebSocket, so, as Jupyter does, it answers
only a browser that was given its address:

* **Token.** :func:`new_token` draws a random token when the command starts; the printed
  address carries it (``?token=...``). A request, HTTP or WebSocket, passes when its query has
  the token or when it carries the cookie that the first good request set (``HttpOnly``,
  ``SameSite=Strict``, named after the port). Anything else gets 403.
* **Host.** The ``Host`` header must name the server: the address it listens on, the host
  name it was given, ``localhost`` or a loopback address (when it listens on every
  interface: also any IP address and this machine's names). A page of another site whose
  name an attacker re-points at 127.0.0.1 (DNS rebinding) sends its own name, and gets 403.
* **Origin.** A WebSocket upgrade, and a request that changes state (anything but GET, HEAD
  and OPTIONS), that carries an ``Origin`` must come from the page itself: ``http://`` and
  the request's own ``Host``. A script of another site gets 403 even when the browser would
  send the cookie.

:class:`ViewGuard` is a plain ASGI middleware (no dependency): ``ViewGuard(app, token=...,
host=..., port=...)`` wraps the Solara app that uvicorn serves. Lifespan messages pass through.
"""

from __future__ import annotations

import ipaddress
import secrets
import socket
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final
from urllib.parse import parse_qs

__all__ = ["TOKEN_PARAM", "ViewGuard", "cookie_name", "new_token"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: The query parameter that carries the token.
TOKEN_PARAM: Final = "token"
#: Methods that only read: their Origin is not checked.
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
#: Names that always mean this machine.
LOCAL_NAMES: Final = frozenset({"localhost"})
#: Addresses that mean every interface.
ANY_ADDRESS: Final = frozenset({"", "0.0.0.0", "::"})
#: WebSocket close code for a refused connection (policy violation).
WS_POLICY_VIOLATION: Final = 1008


def new_token() -> str:
    """A fresh random token for the page's address (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def cookie_name(port: int) -> str:
    """The name of the cookie holding the token of the server on ``port``.

    Cookies are shared by every port of a host, so each server keeps its own.
    """
    return f"softtarget-view-{port}"


def _strip(host: str) -> str:
    return host.strip().strip("[]").lower()


def _hostname(header: str) -> str:
    """The host name of a ``Host`` header (``name:port``, ``[v6]:port``), lower case."""
    header = header.strip()
    if header.startswith("["):
        return header[1 : header.find("]")].lower() if "]" in header else ""
    name, _, _ = header.partition(":")
    return name.lower()


def _ip(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(name.split("%")[0])
    except ValueError:
        return None


def _headers(scope: Scope) -> dict[str, str]:
    """The request's headers by lower-case name (the first of each name)."""
    out: dict[str, str] = {}
    for key, value in scope.get("headers", []):
        out.setdefault(key.decode("latin-1").lower(), value.decode("latin-1"))
    return out


def _cookie(header: str, name: str) -> str | None:
    for part in header.split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key == name:
            return value.strip().strip('"')
    return None


class ViewGuard:
    """An ASGI middleware that lets through only requests with the token, Host and Origin.

    ``host`` is the host the server was told to listen on (``--host``), ``address`` the
    address its socket is bound to (default: ``host``) and ``port`` its port. A refused HTTP
    request gets 403 with one line saying why; a refused WebSocket is closed before it is
    accepted, which the server answers with 403.
    """

    def __init__(
        self, app: ASGIApp, *, token: str, host: str, port: int, address: str | None = None
    ) -> None:
        """Guard ``app`` with ``token`` for a server listening on ``host``:``port``."""
        if not token:
            raise ValueError("the view's token must not be empty")
        self.app = app
        self.token = token
        self.port = port
        self.cookie = cookie_name(port)
        names = {_strip(host), _strip(address if address is not None else host)}
        self.any_interface = bool(names & ANY_ADDRESS)
        if self.any_interface:
            names |= {socket.gethostname().lower(), socket.getfqdn().lower()}
        self.names = frozenset((names - ANY_ADDRESS) | LOCAL_NAMES)

    # --- the checks -------------------------------------------------------------------------

    def host_allowed(self, header: str | None) -> bool:
        """Whether a ``Host`` header names this server (see the module's description)."""
        if not header:
            return False
        name = _hostname(header)
        if name in self.names:
            return True
        ip = _ip(name)
        return ip is not None and (ip.is_loopback or self.any_interface)

    def origin_allowed(self, origin: str | None, host: str, scheme: str) -> bool:
        """Whether ``origin`` is the page's own: ``scheme://`` and the request's ``host``."""
        if origin is None:
            return True  # not sent by a browser's cross-site request; the token still holds
        web = {"ws": "http", "wss": "https"}.get(scheme, scheme)
        return origin.strip().lower() == f"{web}://{host.strip()}".lower()

    def token_in_query(self, scope: Scope) -> bool:
        """Whether the request's query has the token."""
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        return any(secrets.compare_digest(t, self.token) for t in query.get(TOKEN_PARAM, []))

    def token_in_cookie(self, headers: dict[str, str]) -> bool:
        """Whether the request carries the token's cookie."""
        value = _cookie(headers.get("cookie", ""), self.cookie)
        return value is not None and secrets.compare_digest(value, self.token)

    def refusal(self, scope: Scope) -> str | None:
        """Why the request of ``scope`` is refused (None: it passes)."""
        headers = _headers(scope)
        host = headers.get("host")
        if not self.host_allowed(host):
            return f"Host {host!r} is not this server"
        checks_origin = scope["type"] == "websocket" or scope.get("method") not in SAFE_METHODS
        origin = headers.get("origin")
        if checks_origin and not self.origin_allowed(origin, host or "", scope.get("scheme", "")):
            return f"Origin {origin!r} is not this page"
        if not (self.token_in_query(scope) or self.token_in_cookie(headers)):
            return "no valid token: open the address softtarget view printed (with ?token=...)"
        return None

    # --- ASGI -------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass a good request to the app, refuse any other with 403."""
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        why = self.refusal(scope)
        if why is not None:
            if scope["type"] == "websocket":
                await receive()  # websocket.connect
                await send({"type": "websocket.close", "code": WS_POLICY_VIOLATION})
            else:
                await _forbidden(send, why)
            return
        if scope["type"] == "websocket" or not self.token_in_query(scope):
            await self.app(scope, receive, send)
            return
        cookie = f"{self.cookie}={self.token}; Path=/; HttpOnly; SameSite=Strict".encode()

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = dict(message)
                message["headers"] = [*message.get("headers", []), (b"set-cookie", cookie)]
            await send(message)

        await self.app(scope, receive, send_with_cookie)


async def _forbidden(send: Send, why: str) -> None:
    body = f"403 Forbidden: {why}\n".encode()
    await send(
        {
            "type": "http.response.start",
            "status": 403,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"x-content-type-options", b"nosniff"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
