"""A real headless Chromium (Debian's ``chromium``) driven over the Chrome DevTools protocol.

Only what the web-mode test needs: open a URL, read what the page's websockets received
(the terminal's bytes, as xterm.js gets them: its text is drawn on a canvas, not in the
DOM), evaluate an expression, take a screenshot. The browser is told not to reach anything
but the page (no proxy, no background networking): the tests run without the internet.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import aiohttp

from tests.daemons import _wait, require

# A terminal's control sequences (CSI, OSC, two-byte escapes): what is left is the text drawn.
_CONTROL = re.compile(r"\x1b\[[0-9;:?<>=]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-_]")


class Browser:
    """One headless Chromium with one page; ``await Browser.start(tmp)``, ``await close()``."""

    def __init__(self, proc: subprocess.Popen, session: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.proc, self.session, self.ws = proc, session, ws
        self._next = 0
        self._waiting: dict[int, asyncio.Future] = {}
        self._received: list[bytes] = []  # websocket frames the page received
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def start(cls, profile: Path, *, size: tuple[int, int] = (1280, 900), timeout: float = 20.0) -> "Browser":
        chromium = require("chromium", "chromium")
        profile.mkdir(parents=True, exist_ok=True)
        proc = subprocess.Popen(
            [
                chromium, "--headless=new", "--no-sandbox", "--no-proxy-server", "--no-first-run",
                "--no-default-browser-check", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--disable-extensions", "--mute-audio", "--hide-scrollbars", "--disable-dev-shm-usage",
                f"--window-size={size[0]},{size[1]}", f"--user-data-dir={profile}", "--remote-debugging-port=0",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=(profile / "chromium.log").open("wb"),
            start_new_session=True,
        )
        try:
            port = _devtools_port(profile, proc, timeout)
            session = aiohttp.ClientSession(trust_env=False)
            async with session.get(f"http://127.0.0.1:{port}/json/list") as answer:
                pages = [t for t in await answer.json() if t["type"] == "page"]
            ws = await session.ws_connect(pages[0]["webSocketDebuggerUrl"], max_msg_size=0)
        except BaseException:
            _end(proc)
            raise
        browser = cls(proc, session, ws)
        await browser.call("Network.enable")
        await browser.call("Page.enable")
        return browser

    async def _read(self) -> None:
        async for message in self.ws:
            data = json.loads(message.data)
            if "id" in data:
                future = self._waiting.pop(data["id"], None)
                if future is not None and not future.done():
                    future.set_result(data)
            elif data.get("method") == "Network.webSocketFrameReceived":
                response = data["params"]["response"]
                payload = response["payloadData"]
                self._received.append(base64.b64decode(payload) if response["opcode"] == 2 else payload.encode())
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(ConnectionError("the browser's DevTools connection closed"))

    async def call(self, method: str, timeout: float = 15.0, **params: Any) -> dict:
        self._next += 1
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self._waiting[self._next] = future
        await self.ws.send_json({"id": self._next, "method": method, "params": params})
        answer = await asyncio.wait_for(future, timeout)
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']}")
        return answer["result"]

    async def evaluate(self, expression: str) -> Any:
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")

    async def type(self, text: str) -> None:
        """Each character as a key pressed in the page (Escape as itself)."""
        for char in text:
            key = {"key": "Escape", "code": "Escape", "windowsVirtualKeyCode": 27} if char == "\x1b" else {"key": char, "text": char}
            await self.call("Input.dispatchKeyEvent", type="keyDown", **key)
            await self.call("Input.dispatchKeyEvent", type="keyUp", **{k: v for k, v in key.items() if k != "text"})

    def received_text(self) -> str:
        """The text the page's websockets brought, control sequences taken out."""
        return _CONTROL.sub("", b"".join(self._received).decode("utf-8", "replace"))

    async def screenshot(self, path: Path) -> None:
        shot = await self.call("Page.captureScreenshot", format="png")
        path.write_bytes(base64.b64decode(shot["data"]))

    async def close(self) -> None:
        self._reader.cancel()
        await self.ws.close()
        await self.session.close()
        _end(self.proc)


def _devtools_port(profile: Path, proc: subprocess.Popen, timeout: float) -> int:
    """Chromium writes the port it chose into the profile once DevTools listens."""
    marker = profile / "DevToolsActivePort"

    def written() -> bool:
        return marker.exists() and marker.read_text().split("\n", 1)[0].isdigit()

    _wait(written, timeout=timeout, what="chromium's DevTools", proc=proc, log=profile / "chromium.log")
    return int(marker.read_text().split("\n", 1)[0])


def _end(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)

