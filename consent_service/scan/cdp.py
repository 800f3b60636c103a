"""Headless Chromium with its DevTools protocol on a pipe (``--remote-debugging-pipe``).

The browser reads commands on its file descriptor 3 and writes answers and events on 4, each a
JSON message ended by a NUL byte. No port is opened, so nothing else on the machine can drive
the browser. One thread reads and writes: ``call`` sends a command and handles every event that
arrives before its answer; ``pump`` handles events until a condition holds. Every wait ends at
the scan's ``Deadline``."""

from __future__ import annotations

import json
import os
import select
import signal
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")

Handler = Callable[[str, dict[str, Any], str | None], None]


class ScanFailed(Exception):
    """The scan could not be done (no browser, a page that does not load, the time is up)."""


class Deadline:
    """The time a whole scan may take (``--timeout``)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.ends = time.monotonic() + seconds

    def left(self) -> float:
        return self.ends - time.monotonic()

    def check(self, doing: str) -> None:
        if self.left() <= 0:
            raise ScanFailed(f"the scan did not finish within {self.seconds:g} s ({doing})")


def flags(profile: Path, only_hosts: Sequence[str] | None) -> list[str]:
    """Chromium's flags: headless, a fresh profile, no background traffic of its own; with
    ``only_hosts`` every other host name resolves to nothing (a scan that reaches no other server)."""
    out = [
        "--headless=new",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--window-size=1280,900",
        "--remote-debugging-pipe",
        f"--user-data-dir={profile}",
    ]
    if os.geteuid() == 0:
        out.append("--no-sandbox")  # Chromium refuses to start its sandbox as root
    if only_hosts is not None:
        out.append(
            "--host-resolver-rules=" + ", ".join(["MAP * ~NOTFOUND", *(f"EXCLUDE {h}" for h in only_hosts)])
        )
    return out


class Browser:
    """One Chromium process with a fresh profile, removed on ``close``."""

    def __init__(self, executable: Path, deadline: Deadline, only_hosts: Sequence[str] | None = None) -> None:
        if not executable.is_file():
            raise ScanFailed(f"Chromium is not installed at {executable} (Debian: apt-get install chromium)")
        self.deadline = deadline
        self.handlers: list[Handler] = []
        # work an event asks for (commands to send), done by ``pump`` once the event is handled
        self.tasks: list[Callable[[], None]] = []
        self._in_task = False
        self._profile = tempfile.TemporaryDirectory(prefix="consent-scan-")
        self._next_id = 0
        self._buffer = b""
        self._answers: dict[int, dict[str, Any]] = {}
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        argv = [str(executable), *flags(Path(self._profile.name), only_hosts), "about:blank"]
        try:
            self.pid = os.posix_spawn(
                argv[0],
                argv,
                os.environ,
                file_actions=[
                    (os.POSIX_SPAWN_DUP2, to_browser_r, 3),
                    (os.POSIX_SPAWN_DUP2, from_browser_w, 4),
                    (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                    (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
                    (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
                ],
                setsid=True,  # its own process group: ``close`` ends the renderers too
            )
        except OSError as exc:
            os.close(self._to_browser)
            os.close(self._from_browser)
            self._profile.cleanup()
            raise ScanFailed(f"Chromium could not be started: {exc}") from exc
        finally:
            os.close(to_browser_r)
            os.close(from_browser_w)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for fd in (self._to_browser, self._from_browser):
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            os.killpg(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        stop = time.monotonic() + 5
        while time.monotonic() < stop:
            done, _ = os.waitpid(self.pid, os.WNOHANG)
            if done:
                break
            time.sleep(0.05)
        else:
            os.killpg(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        self._profile.cleanup()

    # the protocol -----------------------------------------------------------------------------

    def call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> Any:
        """Send a command (to the page of ``session``, else to the browser) and return its result."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        data = json.dumps(message).encode() + b"\0"
        try:
            while data:
                data = data[os.write(self._to_browser, data) :]
        except OSError as exc:
            raise ScanFailed(f"Chromium stopped ({exc})") from exc
        wanted = self._next_id
        self.pump(lambda: wanted in self._answers, f"waiting for {method}")
        answer = self._answers.pop(wanted)
        if "error" in answer:
            raise ScanFailed(f"Chromium refused {method}: {answer['error'].get('message')}")
        return answer.get("result", {})

    def pump(self, until: Callable[[], bool], doing: str, *, within: float | None = None) -> bool:
        """Handle what the browser sends until ``until()`` holds (True) or ``within`` seconds have
        passed (False); past the deadline, fail."""
        stop = None if within is None else time.monotonic() + within
        while not until():
            self.deadline.check(doing)
            wait = self.deadline.left()
            if stop is not None:
                wait = min(wait, stop - time.monotonic())
                if wait <= 0:
                    return False
            readable, _, _ = select.select([self._from_browser], [], [], max(0.0, min(wait, 0.25)))
            if readable:
                self._read()
            self._run_tasks()
        return True

    def _run_tasks(self) -> None:
        if self._in_task:
            return
        self._in_task = True
        try:
            while self.tasks:
                self.tasks.pop(0)()
        finally:
            self._in_task = False

    def _read(self) -> None:
        chunk = os.read(self._from_browser, 1 << 16)
        if not chunk:
            raise ScanFailed("Chromium stopped unexpectedly")
        self._buffer += chunk
        while b"\0" in self._buffer:
            raw, self._buffer = self._buffer.split(b"\0", 1)
            message = json.loads(raw)
            if "id" in message:
                self._answers[message["id"]] = message
            else:
                for handler in self.handlers:
                    handler(message["method"], message.get("params", {}), message.get("sessionId"))


def prepare(browser: Browser, session: str, scripts: Sequence[str], bindings: Sequence[str]) -> None:
    """Turn on the Page, Network and Runtime domains of a page or frame, make ``bindings``
    callable from it, run ``scripts`` in each of its documents before their own, and attach
    to the frames of other sites it opens (each waits until the scanner has prepared it)."""
    for domain in ("Page", "Network", "Runtime"):
        browser.call(f"{domain}.enable", {}, session)
    for name in bindings:
        browser.call("Runtime.addBinding", {"name": name}, session)
    for source in scripts:
        browser.call("Page.addScriptToEvaluateOnNewDocument", {"source": source}, session)
    browser.call(
        "Target.setAutoAttach", {"autoAttach": True, "waitForDebuggerOnStart": True, "flatten": True}, session
    )


def open_page(browser: Browser, scripts: Sequence[str], bindings: Sequence[str]) -> str:
    """A new tab, ``prepare``d; returns its session id."""
    target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
    session: str = browser.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    prepare(browser, session, scripts, bindings)
    return session


def evaluate(browser: Browser, session: str, expression: str) -> Any:
    """The value of a JavaScript expression in the page (promises are awaited)."""
    result = browser.call(
        "Runtime.evaluate",
        {"expression": expression, "returnByValue": True, "awaitPromise": True},
        session,
    )
    if "exceptionDetails" in result:
        details = result["exceptionDetails"]
        raise ScanFailed(f"a script of the scanner failed on the page: {details.get('text')}")
    return result["result"].get("value")
