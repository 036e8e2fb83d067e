"""A real two-node Ray cluster on this machine for the ``--engine ray`` tests.

``ray start --head`` and ``ray start --address`` (the ``ray`` command of this Python, from
``sys.executable``'s folder, not PATH), one CPU and a 200 MB object store each, every port
chosen free, each node with its own temp dir, and a private token (Ray 2.60 clusters require
one). Each node runs in a session of its own (``start_new_session``), so the teardown stops
exactly its processes, workers included (they keep the session id): SIGTERM, then SIGKILL for
what is left. Not ``ray stop``: it stops every Ray on the machine, others' too.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
RAY = Path(sys.executable).parent / "ray"
NODE_PORTS = (
    "--node-manager-port",
    "--object-manager-port",
    "--metrics-export-port",
    "--dashboard-agent-listen-port",
    "--dashboard-agent-grpc-port",
    "--runtime-env-agent-port",
)
HEAD_PORTS = ("--port", "--ray-client-server-port", "--dashboard-port")
START_TIMEOUT_S = 120


@dataclass(frozen=True)
class RayCluster:
    """A running test cluster: its address and the variables a driver needs to join it."""

    address: str
    env: dict[str, str]
    sessions: tuple[int, ...]


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports free at this moment."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("", 0))
        return [sock.getsockname()[1] for sock in sockets]


def session_pids(session: int) -> list[int]:
    """Processes whose session id is ``session`` (a node and every worker it started)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if os.getsid(int(entry.name)) == session:
                    pids.append(int(entry.name))
    return pids


def stop_sessions(sessions: list[int], grace_s: float = 5.0) -> list[int]:
    """SIGTERM every process of ``sessions``, SIGKILL what is left after ``grace_s``;
    return the pids still alive at the end (none, normally)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for session in sessions:
            for pid in session_pids(session):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and any(session_pids(s) for s in sessions):
            time.sleep(0.2)
    return [pid for s in sessions for pid in session_pids(s)]


def start_node(args: list[str], env: dict[str, str], log: Path) -> int:
    """Run ``ray start ARGS`` in a new session; return the session id.

    Fails the test run (with the node's output) if it does not start.
    """
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(RAY), "start", *args], env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True, cwd=ROOT,
        )  # fmt: skip
        try:
            code = proc.wait(timeout=START_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            code = None
    if code != 0:
        stop_sessions([proc.pid])
        pytest.fail(f"`ray start {' '.join(args[:2])}` failed ({code}):\n{log.read_text()[-3000:]}")
    return proc.pid


def node_args(temp: Path) -> list[str]:
    ports = free_ports(len(NODE_PORTS))
    args = [f"{flag}={port}" for flag, port in zip(NODE_PORTS, ports, strict=True)]
    return [
        *args,
        "--num-cpus=1",
        f"--object-store-memory={200 * 2**20}",
        f"--temp-dir={temp}",
        "--disable-usage-stats",
    ]


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[RayCluster]:
    """A head node and a worker node, one CPU each, stopped at the end of the session."""
    if not RAY.is_file():
        pytest.fail(f"No `ray` command beside {sys.executable}: pip install -r requirements.txt")
    root = Path(tempfile.mkdtemp(prefix="embedlab-rt-"))  # short: Ray's socket paths
    token = root / "token"
    token.write_text(secrets.token_hex(32))
    join = {
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN_PATH": str(token),
        "RAY_USAGE_STATS_ENABLED": "0",
    }
    env = {**os.environ, **join, "PYTHONPATH": str(ROOT)}
    saved = {name: os.environ.get(name) for name in join}
    os.environ.update(join)  # before this process loads Ray: it reads the token once
    head_ports = free_ports(len(HEAD_PORTS))
    head = [f"{flag}={port}" for flag, port in zip(HEAD_PORTS, head_ports, strict=True)]
    from ray.util import get_node_ip_address  # the address Ray itself gives this node

    address = f"{get_node_ip_address()}:{head_ports[0]}"
    sessions: list[int] = []
    try:
        head_args = ["--head", *head, "--include-dashboard=false", *node_args(root / "head")]
        sessions.append(start_node(head_args, env, root / "head.log"))
        worker_args = [f"--address={address}", *node_args(root / "worker")]
        sessions.append(start_node(worker_args, env, root / "worker.log"))
        yield RayCluster(address, join, tuple(sessions))
    finally:
        left = stop_sessions(sessions)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        shutil.rmtree(root, ignore_errors=True)
        assert left == [], f"Ray processes still running after the tests: {left}"
