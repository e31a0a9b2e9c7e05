"""Fixtures of the browser tests: the app in a subprocess on a free local port, Debian's chromium.

The browser is never downloaded: Playwright drives ``/usr/bin/chromium`` (apt package
``chromium``). Every request a page makes is recorded, and a test fails if any goes to a host
other than the app's.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

CHROMIUM = "/usr/bin/chromium"
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
SRC = Path(__file__).resolve().parents[2] / "src"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_app(*args: str) -> tuple[subprocess.Popen[str], str]:
    """Start ``ketasim app`` on a free port; return the process and the first line it prints."""
    port = free_port()
    env = dict(os.environ, PYTHONPATH=f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from ketasim.cli import main; sys.exit(main())",
            "app",
            "--port",
            str(port),
            *args,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    return proc, line


def stop(proc: subprocess.Popen[str]) -> str:
    proc.terminate()
    try:
        _, err = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return err


@pytest.fixture(scope="session")
def app_url() -> Iterator[str]:
    proc, line = start_app()
    if "http://127.0.0.1:" not in line:
        err = stop(proc)
        pytest.fail(f"app did not start: {line!r} {err[-2000:]}")
    url = line.split()[2]
    yield url
    err = stop(proc)
    assert "Traceback" not in err, err[-4000:]


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class Page:
    """A page of the app with everything it did recorded."""

    page: Any
    url: str
    out: Path
    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def shot(self, name: str) -> Path:
        """Save a screenshot and check it is not blank (pixel variance)."""
        path = self.out / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=False)
        assert_not_blank(path)
        return path


def assert_not_blank(path: Path) -> None:
    import matplotlib.image as mpimg

    img = np.asarray(mpimg.imread(str(path)), dtype=float)[..., :3]
    assert img.std() > 0.03, f"{path} looks blank (pixel SD {img.std():.4f})"
    assert np.unique(img.reshape(-1, 3), axis=0).shape[0] > 50, f"{path} has almost no colours"


def open_page(chromium: Any, url: str, out: Path) -> Page:
    ctx = chromium.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = ctx.new_page()
    p = Page(page, url, out)
    page.on("request", lambda r: p.requests.append(r.url))
    page.on("websocket", lambda ws: p.requests.append(ws.url))
    page.on("dialog", lambda d: (p.dialogs.append(d.message), d.dismiss()))
    page.on("pageerror", lambda e: p.errors.append(str(e)))
    page.goto(url)
    page.wait_for_selector("#conc_plot[data-renders]", timeout=30_000)
    page.wait_for_selector("#summary tr[data-regimen]", timeout=30_000)
    return p


def assert_only_local(p: Page) -> None:
    host = p.url.split("/")[2]
    foreign = [u for u in p.requests if u.split("/")[2] != host and not u.startswith("data:")]
    assert not foreign, f"requests to other hosts: {foreign[:5]}"
    assert p.requests, "no request was recorded"


@pytest.fixture
def app_page(chromium: Any, app_url: str, tmp_path: Path) -> Iterator[Page]:
    p = open_page(chromium, app_url, tmp_path)
    yield p
    assert_only_local(p)
    assert not p.dialogs, f"a dialog opened: {p.dialogs}"
    assert not p.errors, f"page errors: {p.errors}"
    p.page.context.close()
