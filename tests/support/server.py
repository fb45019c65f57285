"""A real SafeVoice server (uvicorn, two workers) behind a recording proxy."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.proxy import RecordingProxy

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerProcess:
    database_url: str
    workdir: Path
    port: int
    process: subprocess.Popen[bytes]
    proxy: RecordingProxy
    log_path: Path
    tmp_dir: Path

    @classmethod
    def start(
        cls,
        database_url: str,
        workdir: Path,
        *,
        workers: int = 2,
        extra_env: dict[str, str] | None = None,
        command_prefix: list[str] | None = None,
        ready_timeout: float = 60.0,
        ready_path: str = "/api/v1/manifest",
        port: int | None = None,
    ) -> ServerProcess:
        workdir.mkdir(parents=True, exist_ok=True)
        tmp_dir = workdir / "tmp"
        tmp_dir.mkdir(exist_ok=True)
        log_path = workdir / "server.log"
        port = port or free_port()
        env = {
            **os.environ,
            "SAFEVOICE_DATABASE_URL": database_url,
            "TMPDIR": str(tmp_dir),
            "SAFEVOICE_BLOB_DIR": str(workdir / "blobs"),
            **(extra_env or {}),
        }
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [
                    *(command_prefix or []),
                    str(BIN / "safevoice"),
                    "serve",
                    "--port",
                    str(port),
                    "--workers",
                    str(workers),
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        proxy = RecordingProxy(upstream_port=port).start()
        server = cls(database_url, workdir, port, process, proxy, log_path, tmp_dir)
        try:
            server.wait_ready(ready_timeout, path=ready_path)
        except BaseException:
            server.stop()
            raise
        return server

    @property
    def direct_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """The address clients use: through the recording proxy."""
        return self.proxy.url

    def wait_ready(self, timeout: float = 60.0, *, path: str = "/api/v1/manifest") -> None:
        """Wait until the server answers ``path`` (with anything but a 5xx, or a 503 from
        the readiness endpoint, which is an answer too)."""
        deadline = time.monotonic() + timeout
        # One client for every poll: a new one loads the certificate store each time (tens of
        # milliseconds, more than the poll interval).
        with httpx.Client(timeout=2, trust_env=False) as http:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"server exited:\n{self.log()}")
                try:
                    status = http.get(f"{self.direct_url}{path}").status_code
                    if status < 500 or (path == "/api/v1/ready" and status == 503):
                        return
                except httpx.TransportError:
                    pass
                # Often: tests that restart servers (the crash test, eleven times) wait on this.
                time.sleep(0.05)
        raise RuntimeError(f"server did not start:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        self.proxy.stop()
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def kill(self) -> None:
        """SIGKILL the supervisor and every worker at once, as a power cut or the OOM killer
        would: nothing gets to finish or clean up."""
        self.proxy.stop()
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
