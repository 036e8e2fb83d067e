"""A local Milvus for tests and benchmarks: Milvus Lite started as its gRPC server.

``milvus-lite server --data-dir DIR --port PORT`` (the ``milvus_lite`` package, pinned in
requirements.txt) listens on localhost; the lab reaches it with ``MilvusClient(uri=
"http://127.0.0.1:PORT")``, the same client path as Milvus Standalone. :func:`milvus_lite_server`
picks a free port, starts it in its own data dir, waits until it answers and stops it after.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

START_TIMEOUT_S = 90.0


class MilvusStartError(RuntimeError):
    """Milvus Lite's server did not start or did not answer."""


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_healthy(uri: str, process: subprocess.Popen, log: Path) -> None:
    """Return once a client can list collections at ``uri``.

    Raises:
        MilvusStartError: if the process exits or nothing answers within the timeout.
    """
    from pymilvus import MilvusClient

    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise MilvusStartError(f"milvus-lite server exited: {log.read_text()[-2000:]}")
        try:
            client = MilvusClient(uri=uri, timeout=2, dedicated=True)
            client.list_collections()
            client.close()
            return
        except Exception:  # not listening yet
            time.sleep(0.3)
    raise MilvusStartError(f"milvus-lite server at {uri} did not answer in {START_TIMEOUT_S} s")


@contextlib.contextmanager
def milvus_lite_server(folder: Path) -> Iterator[str]:
    """Run Milvus Lite's gRPC server with its data in ``folder``; yield its URI."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = folder / "server.log"
    command = [sys.executable, "-m", "milvus_lite", "server", "--data-dir", str(folder / "data")]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    with log.open("w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    uri = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(uri, process, log)
        yield uri
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
