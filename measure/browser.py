"""The browser harness the load test and the browser tests share.

Starts ``streamlit run app.py`` on a free loopback port with its own data dir and stops it;
names Debian's Chromium and the flags that keep it offline; tells whether a request stays on
this machine. Imports nothing from the product: it drives the app as a person would.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from core import config

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = config.chromium_path()
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_listening(url: str, proc: subprocess.Popen, seconds: float = 180) -> None:
    """Wait for Streamlit's health endpoint.

    Raises:
        RuntimeError: if the server exits; TimeoutError if it does not answer in time.
    """
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError("streamlit did not start")


# Bind-mount a folder read-only onto itself in a private mount namespace, then run the rest of
# the command there: writes fail with EROFS even for root (whom chmod does not stop).
_RO_MOUNT = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"'


def read_only_mount(folder: Path) -> list[str]:
    """A command prefix that runs a command with ``folder`` mounted read-only, or ``[]``.

    Needs ``unshare`` and the right to make a mount namespace (root with CAP_SYS_ADMIN, as
    in this project's containers); elsewhere it returns ``[]`` and callers rely on comparing
    checksums alone. Probed once per call with ``true``.
    """
    prefix = ["unshare", "--mount", "sh", "-c", _RO_MOUNT, str(Path(folder).resolve())]
    try:
        probe = subprocess.run([*prefix, "true"], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return prefix if probe.returncode == 0 else []


@contextlib.contextmanager
def streamlit_server(
    data_dir: Path, env: dict[str, str] | None = None, prefix: list[str] | None = None
) -> Iterator[tuple]:
    """Run ``streamlit run app.py`` on a free loopback port; yield (url, process).

    ``prefix`` goes before the command, e.g. :func:`read_only_mount`'s.
    """
    port = free_port()
    environment = dict(os.environ, EMBEDLAB_DATA_DIR=str(data_dir), **(env or {}))
    command = [*(prefix or []), sys.executable, "-m", "streamlit", "run", "app.py"]
    command += ["--server.port", str(port)]
    command += ["--server.address", "127.0.0.1", "--server.headless", "true"]
    command += ["--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false"]
    log_path = Path(data_dir).parent / f"streamlit-{port}.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            command, cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_listening(url, proc)
            yield url, proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def is_loopback(url: str) -> bool:
    """Whether a request stays on this machine (data:, blob: and about: never leave it)."""
    parsed = urlparse(url)
    return parsed.scheme in ("data", "blob", "about") or parsed.hostname in LOOPBACK


def watched_page(browser: Any, width: int = 1280, height: int = 900) -> Any:
    """A page in a context of its own; ``page.outbound`` lists each request off this machine."""
    page = browser.new_context(viewport={"width": width, "height": height}).new_page()
    page.outbound = []
    page.on("request", lambda req: None if is_loopback(req.url) else page.outbound.append(req.url))
    return page


def shift_drag(page: Any, chart: Any, start: tuple[float, float], end: tuple[float, float]) -> None:
    """Shift+drag a selection box over ``chart`` between two points given as fractions of its
    width and height (Explore's box selection)."""
    box = chart.bounding_box()
    page.keyboard.down("Shift")
    page.mouse.move(box["x"] + box["width"] * start[0], box["y"] + box["height"] * start[1])
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * end[0], box["y"] + box["height"] * end[1], steps=8)
    page.mouse.up()
    page.keyboard.up("Shift")
