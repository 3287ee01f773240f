"""Fixtures of the browser tests: local JupyterLab and Voila, headless Chromium.

Each server runs on 127.0.0.1 with a random free port and a random token, in
a temporary copy of notebooks/, and is always stopped after its tests.
Chromium starts with a fresh profile and without any background network use.
"""

import json
import math
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS_DIR = REPOSITORY_ROOT / "build" / "e2e"
CHROMIUM_NAMES = ("chromium", "chromium-browser")
# Generous, since the machines that run them may be busy training networks.
STARTUP_SECONDS = 180
STOP_SECONDS = 30
PAGE_TIMEOUT_MS = 120_000
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--disable-extensions",
    "--no-proxy-server",
]
VIEWPORT = {"width": 1280, "height": 900}
LAB_SETTINGS = {
    # Attach every cell to the page, so that widgets below the fold render.
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification": {
        "fetchNews": "false",
        "checkForUpdates": False,
        "doNotDisturbMode": True,
    },
}


def find_chromium():
    """Return the path of Chromium: $CHROMIUM, else the first one on PATH."""
    configured = os.environ.get("CHROMIUM")
    if configured:
        return configured if Path(configured).is_file() else None
    return next(filter(None, map(shutil.which, CHROMIUM_NAMES)), None)


def free_port():
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def write_lab_settings(settings_dir):
    """Write JupyterLab user settings for the tests into settings_dir."""
    for name, values in LAB_SETTINGS.items():
        path = Path(settings_dir) / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


class LocalServer:
    """A server process on 127.0.0.1, its log in a file, stopped with its group."""

    def __init__(self, command, port, token, log_path, env):
        self.port = port
        self.token = token
        self.log_path = log_path
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )

    def url(self, path=""):
        """Return the address of path on this server, with the token."""
        return f"http://127.0.0.1:{self.port}/{path}?token={self.token}"

    def log_tail(self, characters=3000):
        return Path(self.log_path).read_text(errors="replace")[-characters:]

    def wait_until_ready(self, path="", timeout=STARTUP_SECONDS):
        """Wait until GET path answers 200; fail with the log if it never does."""
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"server exited early:\n{self.log_tail()}")
            try:
                with opener.open(self.url(path), timeout=10) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.5)
        pytest.fail(f"server not ready after {timeout} s:\n{self.log_tail()}")

    def stop(self):
        """Stop the server (it shuts its kernels down), killing it if it hangs."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(STOP_SECONDS)


def serve(command, port, token, env, tmp_path_factory, name, ready_path):
    """Start a server, yield it once ready_path answers, and always stop it."""
    log_path = tmp_path_factory.mktemp("logs") / f"{name}.log"
    server = LocalServer(command, port, token, log_path, env)
    try:
        server.wait_until_ready(ready_path)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def notebooks_copy(tmp_path_factory):
    """A temporary copy of notebooks/, which the servers may change freely."""
    copy = tmp_path_factory.mktemp("e2e") / "notebooks"
    shutil.copytree(
        REPOSITORY_ROOT / "notebooks",
        copy,
        ignore=shutil.ignore_patterns(".ipynb_checkpoints"),
    )
    return copy


@pytest.fixture(scope="session")
def server_env(tmp_path_factory):
    """The environment of the servers and their kernels: private Jupyter dirs."""
    home = tmp_path_factory.mktemp("jupyter")
    write_lab_settings(home / "settings")
    env = dict(os.environ)
    env.update(
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(home / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"),
        no_proxy="127.0.0.1,localhost",
        NO_PROXY="127.0.0.1,localhost",
    )
    return env


@pytest.fixture(scope="module")
def jupyterlab(notebooks_copy, server_env, tmp_path_factory):
    """JupyterLab serving the copy of notebooks/, stopped after the module."""
    port, token = free_port(), secrets.token_hex(16)
    command = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        "--allow-root",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={notebooks_copy}",
        "--LabApp.expose_app_in_browser=True",
        f"--LabApp.user_settings_dir={server_env['JUPYTERLAB_SETTINGS_DIR']}",
        f"--LabApp.workspaces_dir={server_env['JUPYTERLAB_WORKSPACES_DIR']}",
    ]
    yield from serve(
        command, port, token, server_env, tmp_path_factory, "jupyterlab", "api/status"
    )


@pytest.fixture(scope="module")
def voila(notebooks_copy, server_env, tmp_path_factory):
    """Voila serving the copy of notebooks/app.ipynb, stopped after the module."""
    pytest.importorskip(
        "voila", reason="install voila: pip install -r requirements.txt"
    )
    port, token = free_port(), secrets.token_hex(16)
    command = [
        sys.executable,
        "-m",
        "voila",
        str(notebooks_copy / "app.ipynb"),
        "--no-browser",
        "--Voila.ip=127.0.0.1",
        f"--Voila.port={port}",
        "--Voila.port_retries=0",
        f"--Voila.token={token}",
    ]
    yield from serve(
        command,
        port,
        token,
        server_env,
        tmp_path_factory,
        "voila",
        "voila/static/voila.js",
    )


@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    """Headless Chromium with a fresh profile, driven by Playwright."""
    sync_api = pytest.importorskip(
        "playwright.sync_api",
        reason="browser tests need Playwright: pip install -r requirements.txt",
    )
    chromium = find_chromium()
    if chromium is None:
        pytest.skip(
            "browser tests need Chromium: sudo apt-get install chromium "
            "(or set CHROMIUM=/path/to/chromium)"
        )
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            tmp_path_factory.mktemp("chromium-profile"),
            executable_path=chromium,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport=VIEWPORT,
        )
        context.set_default_timeout(PAGE_TIMEOUT_MS)
        sync_api.expect.set_options(timeout=PAGE_TIMEOUT_MS)
        try:
            yield context
        finally:
            context.close()


@pytest.fixture(scope="session")
def screenshots():
    """The folder for screenshots, build/e2e/."""
    SCREENSHOTS_DIR.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS_DIR


def arc(centre, radii, start, end, points=12):
    """Return points along an elliptic arc, angles in turns clockwise from 3 o'clock."""
    angles = [start + (end - start) * i / (points - 1) for i in range(points)]
    return [
        (
            round(centre[0] + radii[0] * math.cos(2 * math.pi * angle)),
            round(centre[1] + radii[1] * math.sin(2 * math.pi * angle)),
        )
        for angle in angles
    ]


# Digits as strokes of (x, y) points on a 280x280 pad.
ONE = [[(150, 40), (140, 140), (132, 240)]]
TWO = [arc((140, 95), (55, 50), -0.475, 0.125) + [(90, 235), (205, 235)]]
SEVEN = [[(70, 50), (210, 50)], [(210, 50), (160, 140), (120, 240)]]
PAD_SIZE = 280
PREDICTION_COLUMN_WIDTH = 150
STEPS_PER_SEGMENT = 8
COUNT_INK_PIXELS = """canvas => {
    const {data} = canvas.getContext("2d")
        .getImageData(0, 0, canvas.width, canvas.height);
    let count = 0;
    for (let i = 0; i < data.length; i += 4) {
        if (data[i] > 128 && data[i + 3] > 128) count += 1;
    }
    return count;
}"""


class Pads:
    """The drawing pads on a browser page, numbered from 0 in page order."""

    ONE, TWO, SEVEN = ONE, TWO, SEVEN

    def __init__(self, page):
        self.page = page

    def box(self, index):
        """The whole pad: canvas, network input, predictions, buttons."""
        pads = self.page.locator(".widget-vbox:has(> .widget-hbox > canvas.pad-canvas)")
        return pads.nth(index)

    def canvas(self, index):
        return self.page.locator("canvas.pad-canvas").nth(index)

    def label(self, index, name="lenet"):
        """The text showing the digit a network reads on the pad."""
        return self.box(index).locator(f".pad-prediction-{name}")

    def clear(self, index):
        self.box(index).get_by_role("button", name="Clear").click()

    def draw(self, index, strokes):
        """Draw strokes on the pad's canvas with real mouse drags."""
        canvas = self.canvas(index)
        canvas.scroll_into_view_if_needed()
        box = canvas.bounding_box()
        scale = box["width"] / PAD_SIZE
        for stroke in strokes:
            points = [(box["x"] + x * scale, box["y"] + y * scale) for x, y in stroke]
            self.page.mouse.move(*points[0])
            self.page.mouse.down()
            for point in points[1:]:
                self.page.mouse.move(*point, steps=STEPS_PER_SEGMENT)
            self.page.mouse.up()

    def screenshot(self, index, path):
        """Save a picture of the pad, cropped to its content, at path."""
        box = self.box(index).bounding_box()
        last_bars = self.box(index).locator(".pad-bars").last.bounding_box()
        right = last_bars["x"] + PREDICTION_COLUMN_WIDTH + 16
        clip = dict(box, width=min(box["width"], right - box["x"]))
        self.page.screenshot(path=path, clip=clip)

    def ink_pixels(self, index):
        """How many pixels of the pad's canvas show ink in the browser."""
        return self.canvas(index).evaluate(COUNT_INK_PIXELS)


@pytest.fixture
def pads_on():
    """Return Pads, to find the pads of a page: pads_on(page).draw(0, ...)."""
    return Pads
