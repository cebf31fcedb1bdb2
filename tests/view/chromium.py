"""A minimal headless-Chromium driver over the DevTools protocol on a pipe (stdlib only).

Chromium reads DevTools commands from file descriptor 3 and writes replies and events to 4
(``--remote-debugging-pipe``), one JSON object per message, each ended by a NUL byte. This module
starts Debian's ``chromium`` with software WebGL (SwiftShader), opens one page with a fixed
viewport, records every network request the page makes, evaluates JavaScript and takes
screenshots. Anything not on 127.0.0.1 is made unresolvable (``--host-resolver-rules``) and is
also recorded, so a test can assert that the page asked for nothing else.
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

#: Where Debian installs it; ``SPLATKIT_CHROMIUM`` overrides.
CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome")


def find_chromium() -> str | None:
    """The Chromium executable (``$SPLATKIT_CHROMIUM``, then PATH), or None."""
    env = os.environ.get("SPLATKIT_CHROMIUM")
    if env:
        return env if Path(env).is_file() else None
    for name in CHROMIUM_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def _above_four(fd: int) -> int:
    import fcntl

    moved = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return moved


class ChromiumError(RuntimeError):
    """The browser died, timed out or answered a command with an error."""


class Chromium:
    """One headless Chromium with one page; use as a context manager.

    Attributes
    ----------
    requests : list[str]
        Every URL the page requested (``Network.requestWillBeSent``), in order.
    failed : list[tuple[str, str]]
        ``(url, error)`` of requests that failed to load.
    console : list[str]
        Console messages and uncaught exceptions of the page.
    """

    def __init__(self, executable: str, *, width: int, height: int, timeout: float = 120.0) -> None:
        self.width, self.height, self.timeout = width, height, timeout
        self.requests: list[str] = []
        self.failed: list[tuple[str, str]] = []
        self.console: list[str] = []
        self._profile = tempfile.TemporaryDirectory(prefix="splatkit-chromium-")
        cmd_r, self._cmd_w = os.pipe()
        self._out_r, out_w = os.pipe()
        # Move the child's ends above 4 so the redirections below cannot clobber them.
        cmd_r, out_w = _above_four(cmd_r), _above_four(out_w)
        args = [executable, "--headless", "--no-sandbox", "--disable-gpu-sandbox",
                "--disable-background-networking", "--disable-component-update", "--disable-default-apps",
                "--disable-extensions", "--disable-sync", "--no-first-run", "--no-default-browser-check",
                "--metrics-recording-only", "--mute-audio", "--use-angle=swiftshader",
                "--enable-unsafe-swiftshader", "--ignore-gpu-blocklist", "--force-device-scale-factor=1",
                "--force-color-profile=srgb", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                f"--window-size={width},{height}", f"--user-data-dir={self._profile.name}",
                "--remote-debugging-pipe", "about:blank"]
        # fd 3 = commands in, fd 4 = messages out, as --remote-debugging-pipe expects.
        wrapper = ['bash', '-c', f'exec "$@" 3<&{cmd_r} 4>&{out_w} {cmd_r}<&- {out_w}>&-', "chromium", *args]
        self._proc = subprocess.Popen(wrapper, pass_fds=(cmd_r, out_w), stdin=subprocess.DEVNULL,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        os.close(cmd_r)
        os.close(out_w)
        self._buffer = b""
        self._next_id = 0
        self._events: list[dict[str, Any]] = []
        self.session = ""
        try:
            self._open_page()
        except BaseException:
            self.close()
            raise

    # -- protocol ----------------------------------------------------------------------------

    def _read_message(self, deadline: float) -> dict[str, Any]:
        import select

        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ChromiumError("timed out waiting for the browser")
            ready, _, _ = select.select([self._out_r], [], [], min(left, 1.0))
            if not ready:
                if self._proc.poll() is not None:
                    raise ChromiumError(f"chromium exited ({self._proc.returncode}): {self._stderr()}")
                continue
            chunk = os.read(self._out_r, 1 << 20)
            if not chunk:
                raise ChromiumError(f"chromium closed the pipe: {self._stderr()}")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def _stderr(self) -> str:
        if self._proc.poll() is None or self._proc.stderr is None:
            return ""
        return self._proc.stderr.read().decode("utf-8", "replace")[-2000:]

    def _handle_event(self, message: dict[str, Any]) -> None:
        method, params = message.get("method"), message.get("params", {})
        if method == "Network.requestWillBeSent":
            self.requests.append(params["request"]["url"])
        elif method == "Network.loadingFailed":
            self.failed.append((params.get("requestId", ""), params.get("errorText", "")))
        elif method == "Runtime.consoleAPICalled":
            self.console.append(" ".join(str(a.get("value", a.get("description", ""))) for a in params["args"]))
        elif method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            self.console.append("exception: " + str(details.get("exception", {}).get("description", details)))
        self._events.append(message)

    def send(self, method: str, params: dict[str, Any] | None = None, *, session: bool = True,
             timeout: float | None = None) -> dict[str, Any]:
        """Send one command and wait for its reply; events that arrive meanwhile are recorded."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session and self.session:
            message["sessionId"] = self.session
        os.write(self._cmd_w, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise ChromiumError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self._handle_event(reply)

    def _open_page(self) -> None:
        targets = self.send("Target.getTargets", session=False)["targetInfos"]
        page = next(t for t in targets if t["type"] == "page")
        self.session = self.send("Target.attachToTarget", {"targetId": page["targetId"], "flatten": True},
                                 session=False)["sessionId"]
        for domain in ("Page", "Network", "Runtime"):
            self.send(f"{domain}.enable")
        self.send("Emulation.setDeviceMetricsOverride", {"width": self.width, "height": self.height,
                                                          "deviceScaleFactor": 1, "mobile": False})

    # -- what a test uses -----------------------------------------------------------------------

    def goto(self, url: str) -> None:
        """Navigate and wait for the load event."""
        self._events.clear()
        self.send("Page.navigate", {"url": url})
        self.wait_for("document.readyState === 'complete'")

    def evaluate(self, expression: str) -> Any:
        """The JSON value of ``expression`` in the page (promises are awaited)."""
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                 "awaitPromise": True})
        if "exceptionDetails" in result:
            raise ChromiumError(f"{expression!r} threw: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, *, timeout: float | None = None) -> Any:
        """Poll ``expression`` until it is truthy; ChromiumError naming the console on timeout."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise ChromiumError(f"timed out waiting for {expression!r}; console: {self.console[-10:]}")
            time.sleep(0.2)

    def screenshot(self) -> np.ndarray:
        """The viewport as RGB uint8 [H, W, 3]."""
        from PIL import Image

        data = self.send("Page.captureScreenshot", {"format": "png"})["data"]
        with Image.open(io.BytesIO(base64.b64decode(data))) as image:
            return np.asarray(image.convert("RGB"), np.uint8)

    def close(self) -> None:
        if self._proc.poll() is None:
            try:
                self.send("Browser.close", session=False, timeout=5)
            except (ChromiumError, OSError):
                pass
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        for fd in (self._cmd_w, self._out_r):
            try:
                os.close(fd)
            except OSError:
                pass
        if self._proc.stderr is not None:
            self._proc.stderr.close()
        self._profile.cleanup()

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
