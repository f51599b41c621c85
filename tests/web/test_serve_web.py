"""`ntnx-console serve-web`: the console in a browser behind a token.

The server runs as a user starts it (a subprocess of `python -m console`), and its URL is read
from what it prints. Without the token every request is refused; with it a real headless
Chromium draws the demo's dashboard, whose screenshot the README shows
(NTNX_CONSOLE_UPDATE_SCREENSHOTS=1 writes it to screenshots/web-mode.png).
"""

from __future__ import annotations

import asyncio
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import httpx
import pytest

from console.cli import build_parser, console_argv, main
from console.web import SHUTDOWN_SECONDS
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = ROOT / "screenshots" / "web-mode.png"


class Served:
    def __init__(self, proc: subprocess.Popen, url: str, state: Path) -> None:
        self.proc, self.url, self.state = proc, url, state
        self.token = url.split("token=", 1)[1]
        self.base = url.split("/?", 1)[0]


def _read_url(proc: subprocess.Popen, timeout: float) -> str:
    """The URL serve-web prints, read with a deadline (it must say it, not be guessed)."""
    deadline, seen = time.monotonic() + timeout, b""
    while time.monotonic() < deadline and proc.poll() is None:
        ready, _, _ = select.select([proc.stdout], [], [], 0.1)
        if ready:
            seen += os.read(proc.stdout.fileno(), 4096)
            found = re.search(rb"open (http://\S+)\n", seen)
            if found:
                return found.group(1).decode()
    raise AssertionError(f"serve-web printed no URL within {timeout}s: {seen!r} {proc.stderr.read() if proc.poll() is not None else ''}")


def _stop(proc: subprocess.Popen) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
            raise AssertionError("serve-web did not stop within 10 s of SIGTERM")
    return proc.returncode


def _serve(tmp: Path) -> Served:
    """serve-web on the demo, as a user starts it. A state file of the test's own: an option
    the browser's console must be started with, and a word to find that console's process by."""
    state = tmp / "demo-state.json"
    env = {**os.environ, "NTNX_CONSOLE_CONFIG": str(tmp / "none.toml")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "console", "--demo", "--demo-state", str(state), "serve-web", "--port", "0"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )
    try:
        return Served(proc, _read_url(proc, timeout=20), state)
    except BaseException:
        _stop(proc)
        raise


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Served:
    served = _serve(tmp_path_factory.mktemp("web"))
    try:
        yield served
    finally:
        _stop(served.proc)


def _consoles_of(state: Path) -> dict[int, tuple[list[str], bytes]]:
    """The browser consoles serve-web started: {pid: (argv, environment)}."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
            if any(str(state) in word for word in argv) and "serve-web" not in argv:
                found[int(entry.name)] = (argv, (entry / "environ").read_bytes())
        except OSError:
            continue  # ended meanwhile, or not ours
    return found


def test_the_url_is_on_this_machine_only_and_carries_a_random_token(served):
    assert served.url.startswith("http://127.0.0.1:")
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", served.token), served.token


def test_without_the_token_every_request_is_refused(served):
    with httpx.Client(trust_env=False, timeout=10) as http:
        for path in ("/", "/?token=", "/?token=wrong" + served.token[5:], "/static/js/textual.js", "/ws", "/download/x"):
            answer = http.get(served.base + path)
            assert answer.status_code in (401, 403), (path, answer.status_code)
            assert "Textual" not in answer.text and "xterm" not in answer.text
        # Not as a cookie either, nor the token of another port's server.
        http.cookies.set("ntnx_console_token_1", served.token)
        assert http.get(served.base + "/").status_code == 401


def test_with_the_token_the_page_is_served_and_needs_nothing_from_the_internet(served):
    with httpx.Client(trust_env=False, timeout=10) as http:
        first = http.get(served.url)
        # A cookie carries the token from here on; the address bar loses it.
        assert first.status_code == 303 and first.headers["location"] == "/"
        cookie = first.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        page = http.get(served.base + "/")
        assert page.status_code == 200 and "data-session-websocket-url" in page.text
        assert served.token not in page.text
        # Everything the page loads comes from this server: xterm.js is inside textual.js, and
        # the font from the package (textual-serve's own page asks a CDN for it).
        remote = {u for u in re.findall(r"""(?:src|href|url)\s*[=(]\s*["']?(https?://[^"')\s]+)""", page.text)
                  if not u.startswith(served.base)}
        assert remote == set(), remote
        assert http.get(served.base + "/static/js/textual.js").status_code == 200
        assert http.get(served.base + "/static/fonts/RobotoMono-VariableFont_wght.ttf").status_code == 200


async def test_a_page_of_another_site_cannot_open_the_websocket(served):
    async with aiohttp.ClientSession(trust_env=False) as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(
                served.base + "/ws", headers={"Origin": "http://evil.example", "Cookie": f"ntnx_console_token_{served.base.rsplit(':', 1)[1]}={served.token}"}
            )
        assert refused.value.status == 403


async def test_a_browser_with_the_token_shows_the_dashboard(served, tmp_path):
    from tests.web.browser import Browser

    started = time.monotonic()
    browser = await Browser.start(tmp_path / "chromium")
    try:
        await browser.call("Page.navigate", url=served.url)

        def drawn() -> bool:
            text = browser.received_text()
            return all(word in text for word in ("Hosts (", "Containers (", "Volumes (", "cm-web-01"))

        await wait_until(drawn, timeout=30, interval=0.1, what="the dashboard drawn in the browser")
        # The page took the token into its cookie and dropped it from the address bar.
        assert await browser.evaluate("location.href") == served.base + "/"
        # The page fades the terminal in once its first bytes come: shoot when it is shown.
        async def shown() -> bool:
            return await browser.evaluate("getComputedStyle(document.querySelector('#terminal')).opacity") == "1"

        await wait_until(shown, timeout=5, what="the terminal shown")
        # Keys typed in the page drive the console: ? opens the help.
        await browser.evaluate("document.querySelector('.xterm-helper-textarea').focus()")
        await browser.type("?")
        await wait_until(lambda: "[keymap] table" in browser.received_text(), timeout=15, what="the help screen")
        await browser.type("\x1b")  # and Escape closes it again before the picture
        await wait_until(lambda: browser.received_text().count("Hosts (") > 1, timeout=15, what="the dashboard again")
        shot = tmp_path / "web-mode.png"
        await browser.screenshot(shot)
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
        if os.environ.get("NTNX_CONSOLE_UPDATE_SCREENSHOTS") == "1":
            shutil.copyfile(shot, SCREENSHOT)

        # The browser's console was started with serve-web's options, and the token is in
        # neither its command line nor its environment.
        consoles = _consoles_of(served.state)
        assert len(consoles) == 1, consoles
        (argv, environ), = consoles.values()
        assert "--demo" in argv and f"--demo-state={served.state}" in argv and "serve-web" not in argv
        assert served.token not in " ".join(argv) and served.token.encode() not in environ
    finally:
        await browser.close()
    # The tab closed: its console ends with it.
    await wait_until(lambda: not _consoles_of(served.state), timeout=15, what="the browser's console to end")
    print(f"browser to dashboard and back: {time.monotonic() - started:.1f} s")


async def _drain(ws: aiohttp.ClientWebSocketResponse) -> None:
    async for _ in ws:
        pass


async def test_sigterm_stops_the_server_and_the_consoles_it_runs(tmp_path):
    served = _serve(tmp_path)
    try:
        # A session as a browser opens one: the page (the cookie), then the websocket.
        async with aiohttp.ClientSession(trust_env=False, cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            async with session.get(served.url) as page:
                assert page.status == 200
            async with session.ws_connect(served.base + "/ws?width=100&height=30") as ws:
                await wait_until(lambda: _consoles_of(served.state), timeout=15, what="the session's console")
                await ws.receive(timeout=15)  # it draws
                # Read on, as a browser does: the server's close is answered.
                reading = asyncio.create_task(_drain(ws))
                started = time.monotonic()
                assert await asyncio.to_thread(_stop, served.proc) == 0
                await reading
                assert time.monotonic() - started < SHUTDOWN_SECONDS + 3
    finally:
        _stop(served.proc)
    await wait_until(lambda: not _consoles_of(served.state), timeout=10, what="the console to end with the server")
    rest = served.proc.stdout.read().decode() + served.proc.stderr.read().decode()
    assert served.token not in rest and "Traceback" not in rest, rest


def test_options_reach_the_console_as_given():
    parser = build_parser()
    given = ["--demo", "--seed", "3", "--spee", "0.5", "--faults=-x", "--no-activity", "--read-only",
             "serve-web", "--port", "0", "--context", "a,b", "--context", "c"]
    args = parser.parse_args(given)
    rebuilt = console_argv(args)
    assert "serve-web" not in rebuilt and not any(w.startswith(("--port", "--host")) for w in rebuilt)
    again = parser.parse_args(rebuilt)
    for dest in ("demo", "seed", "speed", "faults", "no_activity", "read_only", "context", "backend"):
        assert getattr(again, dest) == getattr(args, dest), dest


@pytest.mark.parametrize(
    "options, says",
    [
        (["--port", "99999"], "out of range"),
        (["--port", "web"], "not a number"),
        # A documentation address (TEST-NET-1): never this machine's, and nothing is sent.
        (["--port", "0", "--host", "192.0.2.1"], "--host 192.0.2.1 is not an address of this machine"),
    ],
)
def test_a_bad_port_or_address_is_one_line_and_exit_2(options, says, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("NTNX_CONSOLE_CONFIG", str(tmp_path / "none.toml"))
    assert main(["--demo", "serve-web", *options]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and says in err[0], err


def test_a_port_in_use_is_one_line_and_exit_2(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("NTNX_CONSOLE_CONFIG", str(tmp_path / "none.toml"))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["--demo", "serve-web", "--port", str(port)]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if not line.startswith("simulated data")]
    assert len(err) == 1 and f"port {port} on 127.0.0.1 is in use" in err[0] and "--port" in err[0], err


def test_several_contexts_are_served_as_the_console_opens_them(capsys, monkeypatch, tmp_path):
    # A fleet is checked as the console checks it, then served (here: to a port in use, so
    # the test ends there): not refused as a command that takes one context.
    config = tmp_path / "config.toml"
    config.write_text('[contexts.east]\nbackend = "simulator"\n\n[contexts.west]\nbackend = "simulator"\nseed = 2\n')
    config.chmod(0o600)
    monkeypatch.setenv("NTNX_CONSOLE_CONFIG", str(config))
    assert console_argv(build_parser().parse_args(["--context", "east,west", "serve-web"])) == ["--context=east,west"]
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["--context", "east,west", "serve-web", "--port", str(port)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1:] == [f"Invalid input: serve-web: port {port} on 127.0.0.1 is in use: choose another with --port (0: any free port)"], err
