"""`ntnx-console serve-web`: the console in a browser, through textual-serve.

textual-serve's ``Server`` (aiohttp) starts a command per browser session (a tab that
connects its websocket) and relays that process's screen and keys. Here it is given:

- the console's own command, built from the options serve-web was given (``console_argv``
  in console/cli.py), so a browser shows exactly what ``ntnx-console ...`` shows in a terminal;
- a token, checked on every request (the page, its static files, its websocket, downloads).
  The URL printed at start carries it once; the first good ``?token=`` sets a cookie and
  redirects to the same page without it (out of the address bar and the history). The token
  lives in this process's memory only: never in the console's command line, its environment
  or a log line;
- the page's font from the package: textual-serve's page links a web font from a CDN, which
  offline (and on a console that should call nowhere) only delays the page.

Imported only by the serve-web command: aiohttp and textual-serve load here, never at start.
"""

from __future__ import annotations

import asyncio
import errno
import hmac
import ipaddress
import re
import secrets
import shlex
import signal
import socket
import sys
import urllib.parse
from pathlib import Path
from typing import Any, Callable

import aiohttp_jinja2
import jinja2
import textual_serve
from aiohttp import web
from textual_serve.server import Server, to_int

from backends.errors import InvalidInput
from widgets.terminal_text import visible

TOKEN_PARAMETER = "token"
# How long stopping waits for the open sessions to end (each console is told to quit), and
# then for any request still running, before they are cancelled.
SHUTDOWN_SECONDS = 3.0
_PACKAGE_INDEX = Path(textual_serve.__file__).parent / "templates" / "app_index.html"
# Any stylesheet the page would load from another site (textual-serve 1.1 links Google Fonts).
_REMOTE_STYLESHEET = re.compile(r"<link\b[^>]*\bhref=\"https?://[^\"]*\"[^>]*>", re.S)
# Roboto Mono, the terminal's first font, from the package's own static/fonts.
_LOCAL_FONT = """<style>
      @font-face { font-family: "Roboto Mono"; font-style: normal;
        src: url("{{ config.static.url }}fonts/RobotoMono-VariableFont_wght.ttf") format("truetype"); }
      @font-face { font-family: "Roboto Mono"; font-style: italic;
        src: url("{{ config.static.url }}fonts/RobotoMono-Italic-VariableFont_wght.ttf") format("truetype"); }
    </style>"""


def offline_index() -> str:
    """textual-serve's page without its remote stylesheets, with the packaged font instead."""
    page = _REMOTE_STYLESHEET.sub("", _PACKAGE_INDEX.read_text(encoding="utf-8"))
    return page.replace("</head>", f"{_LOCAL_FONT}\n  </head>", 1)


class TokenServer(Server):
    """textual-serve's Server behind a token, with URLs taken from the request (the port may
    be one the system picked) and no banner or access log (an access log line holds the URL,
    and the first URL holds the token)."""

    def __init__(self, command: str, *, host: str, port: int, token: str) -> None:
        super().__init__(command, host=host, port=port, title="ntnx-console")
        self._token = token.encode()
        self.cookie = f"ntnx_console_token_{port}"  # set again once the port is known
        self._sessions: set[asyncio.Task] = set()  # one per browser tab: its websocket's handler

    def _good(self, given: str) -> bool:
        return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), self._token)

    @web.middleware
    async def check_token(self, request: web.Request, handler: Callable[[web.Request], Any]) -> web.StreamResponse:
        if request.path == "/ws":
            # A page of another site may open a websocket to 127.0.0.1 with the browser's
            # cookies: only the page this server served may (the SameSite cookie says so too).
            origin = request.headers.get("Origin")
            if origin is not None and urllib.parse.urlsplit(origin).netloc != request.host:
                return web.Response(status=403, text="this console's websocket is for its own page\n")
        given = request.query.get(TOKEN_PARAMETER)
        if given is not None and self._good(given):
            if request.path != "/":
                return await handler(request)
            # The first visit: the cookie carries the token from here on, and the page is
            # loaded again without it in the address bar.
            rest = [(k, v) for k, v in request.query.items() if k != TOKEN_PARAMETER]
            response = web.HTTPSeeOther("/" + (f"?{urllib.parse.urlencode(rest)}" if rest else ""))
            response.set_cookie(self.cookie, given, httponly=True, samesite="Strict", path="/")
            return response
        if self._good(request.cookies.get(self.cookie, "")):
            return await handler(request)
        return web.Response(status=401, text="this console needs its token: open the URL serve-web printed\n")

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        app.middlewares.append(self.check_token)
        aiohttp_jinja2.setup(app, loader=jinja2.DictLoader({"app_index.html": offline_index()}))
        return app

    @aiohttp_jinja2.template("app_index.html")
    async def handle_index(self, request: web.Request) -> dict[str, Any]:
        # As textual-serve's, with the address the browser used rather than the one bound
        # (port 0 is not a port a browser can reach).
        origin = f"{request.scheme}://{request.host}"
        return {
            "font_size": to_int(request.query.get("fontsize", "16"), 16),
            "app_websocket_url": f"{'wss' if request.scheme == 'https' else 'ws'}://{request.host}/ws",
            "config": {"static": {"url": f"{origin}/static/"}},
            "application": {"name": self.title},
        }

    async def on_startup(self, app: web.Application) -> None:
        pass  # the URL is said once by serve(), which knows the port

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        session = asyncio.current_task()
        assert session is not None
        self._sessions.add(session)
        try:
            return await super().handle_websocket(request)
        finally:
            self._sessions.discard(session)

    async def on_shutdown(self, app: web.Application) -> None:
        # Each open session is ended now (its console told to quit, its page told the session
        # ended) rather than left to the runner's wait for handlers that never end by themselves.
        sessions = list(self._sessions)
        for session in sessions:
            session.cancel()
        if sessions:
            await asyncio.wait(sessions, timeout=SHUTDOWN_SECONDS)

    async def run(self, announce: Callable[[str, int], None]) -> None:
        """Serve until SIGINT or SIGTERM; ``announce(host, port)`` once listening."""
        # Before the URL is said: whoever reads it may stop the server at once.
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        app = await self._make_app()
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=SHUTDOWN_SECONDS)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self.port)
            try:
                await site.start()
            except OSError as err:
                raise InvalidInput(_cannot_listen(err, self.host, self.port)) from None
            port = runner.addresses[0][1]
            self.port, self.cookie = port, f"ntnx_console_token_{port}"
            announce(self.host, port)
            await stop.wait()
        finally:
            await runner.cleanup()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)


def _cannot_listen(err: OSError, host: str, port: int) -> str:
    if isinstance(err, socket.gaierror):
        return f"serve-web: --host {host}: {err.strerror or err}"
    if err.errno == errno.EADDRINUSE:
        return f"serve-web: port {port} on {host} is in use: choose another with --port (0: any free port)"
    if err.errno == errno.EADDRNOTAVAIL:
        return f"serve-web: --host {host} is not an address of this machine"
    return f"serve-web: cannot listen on {host} port {port}: {err.strerror or err}"


def console_command(console_argv: list[str]) -> str:
    """The shell command textual-serve runs per session: it runs it through a shell, so every
    word is quoted, and ``exec`` leaves one process, the console, to be told to quit.
    This interpreter and this installation's console, with the options given."""
    return "exec " + shlex.join([sys.executable, "-m", "console", *console_argv])


def serve(console_argv: list[str], *, host: str, port: int) -> int:
    token = secrets.token_urlsafe(32)
    server = TokenServer(console_command(console_argv), host=host, port=port, token=token)

    def announce(host: str, port: int) -> None:
        if not _loopback(host):
            # The user's choice (README, Web mode): said once it listens, as the CLI says every
            # protection that is off.
            sys.stderr.write(visible(
                f"Warning: serving on {host}, not this machine only: anyone who reaches the port and has the token "
                "drives the console, over plain HTTP (no TLS)"
            ) + "\n")
        if host in ("0.0.0.0", "::"):  # every address: this machine's own is one of them
            host = "127.0.0.1" if host == "0.0.0.0" else "::1"
        shown = f"[{host}]" if ":" in host else host
        # The one place the token is written: the operator's own terminal, as asked.
        print(f"ntnx-console in a browser: open http://{shown}:{port}/?{TOKEN_PARAMETER}={token}", flush=True)
        print("Each browser tab runs its own console; Ctrl+C stops serving.", flush=True)

    asyncio.run(server.run(announce))
    return 0


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
