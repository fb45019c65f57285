"""The shipped deployment files (deploy/), rendered for a test and checked with the real tools.

Rendering replaces each production path or port with a temporary one and insists that the
production value is still in the shipped file, so a change in deploy/ that the tests no longer
cover fails loudly instead of being tested by accident. A tool that is missing fails the test:
.ci/run installs every one of them from Debian's packages.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.server import free_port

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
SERVER_NAME = "safevoice.example.internal"


def tool(name: str) -> str:
    """The path of a command-line tool, or a failed test that says how to get it."""
    found = shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/sbin/{name}") if os.access(p, os.X_OK)), None
    )
    if found is None:
        pytest.fail(f"{name} is not installed; .ci/run installs it from Debian's packages.")
    return found


def render(text: str, replacements: Mapping[str, str]) -> str:
    for old, new in replacements.items():
        assert old in text, f"{old!r} is no longer in the shipped file; update the test"
        text = text.replace(old, new)
    return text


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for the intranet name and 127.0.0.1 (openssl)."""
    cert, key = directory / "fullchain.pem", directory / "privkey.pem"
    subprocess.run(
        [
            tool("openssl"),
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "2",
            "-subj",
            f"/CN={SERVER_NAME}",
            "-addext",
            f"subjectAltName=DNS:{SERVER_NAME},IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return cert, key


def wait_for_port(port: int, *, host: str = "127.0.0.1", timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {host}:{port}")


def open_files_under(directory: Path) -> list[str]:
    """Files under ``directory`` that some process holds open, deleted ones included.

    nginx unlinks a request body's temporary file as soon as it creates it and keeps writing
    through the open descriptor, so listing the folder would never show it; /proc does."""
    found = []
    prefix = str(directory)
    for fd in Path("/proc").glob("[0-9]*/fd/*"):
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith(prefix):
            found.append(target)
    return sorted(found)


@dataclass
class SeenRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    temp_files: list[str]


@dataclass
class Upstream:
    """A stand-in for SafeVoice behind nginx: records what reaches it and, while a request is
    still open (so nginx still holds any temporary file of its body), which files exist in
    nginx's client body temporary folder."""

    temp_dir: Path
    port: int = 0
    seen: list[SeenRequest] = field(default_factory=list)
    _server: http.server.ThreadingHTTPServer | None = None

    def start(self) -> Upstream:
        upstream = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                files = open_files_under(upstream.temp_dir)  # while nginx holds the request
                upstream.seen.append(
                    SeenRequest(
                        method=self.command,
                        path=self.path,
                        headers={k.lower(): v for k, v in self.headers.items()},
                        body=body,
                        temp_files=files,
                    )
                )
                answer = json.dumps({"ok": True, "padding": "x" * 2000}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            # The method names http.server dispatches to.
            do_GET = do_POST = do_PUT = _handle  # noqa: N815  # http.server dispatches on these exact method names

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002  # the name is fixed by BaseHTTPRequestHandler.log_message
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


NGINX_MAIN = """\
user root;
worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/main-error.log;
events {{ worker_connections 64; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    # As in Debian's nginx.conf: an access log and gzip for every site unless it says otherwise.
    access_log {work}/access.log;
    gzip on;
    client_body_temp_path {work}/client_body 1 2;
    proxy_temp_path {work}/proxy_temp 1 2;
    fastcgi_temp_path {work}/fastcgi_temp;
    uwsgi_temp_path {work}/uwsgi_temp;
    scgi_temp_path {work}/scgi_temp;
    include {work}/site.conf;
}}
"""


@dataclass
class Nginx:
    """The shipped site and snippet, rendered into ``work`` behind a test main configuration."""

    work: Path
    http_port: int
    https_port: int
    onion_port: int
    cert: Path
    process: subprocess.Popen[bytes] | None = None

    @classmethod
    def render(
        cls,
        work: Path,
        *,
        upstream: str,
        bundle: Path,
        snippet_changes: Mapping[str, str] | None = None,
        error_level: str | None = None,
    ) -> Nginx:
        """``error_level`` replaces the shipped error log level (for control experiments)."""
        work.mkdir(parents=True, exist_ok=True)
        cert, key = make_certificate(work)
        nginx = cls(work, free_port(), free_port(), free_port(), cert)
        error_log = str(work / "error.log")
        site = render(
            (DEPLOY / "nginx/safevoice.conf").read_text(),
            {
                "/etc/nginx/snippets/safevoice-proxy.conf": str(work / "proxy.conf"),
                "listen 80 default_server;": f"listen 127.0.0.1:{nginx.http_port} default_server;",
                "listen [::]:80 default_server;": f"listen [::1]:{nginx.http_port} default_server;",
                "listen 443 ssl http2 default_server;": (
                    f"listen 127.0.0.1:{nginx.https_port} ssl http2 default_server;"
                ),
                "listen [::]:443 ssl http2 default_server;": (
                    f"listen [::1]:{nginx.https_port} ssl http2 default_server;"
                ),
                "listen 127.0.0.1:8081 default_server;": (
                    f"listen 127.0.0.1:{nginx.onion_port} default_server;"
                ),
                "/etc/safevoice/tls/fullchain.pem": str(cert),
                "/etc/safevoice/tls/privkey.pem": str(key),
                "/var/log/nginx/safevoice.error.log": error_log,
                "unix:/run/safevoice/app.sock": upstream,
            },
        )
        snippet = render(
            (DEPLOY / "nginx/safevoice-proxy.conf").read_text(),
            {
                "root /opt/safevoice/bundle;": f"root {bundle};",
                "/var/log/nginx/safevoice.error.log": error_log,
                **(snippet_changes or {}),
            },
        )
        if error_level is not None:
            shipped = f"error_log {error_log} emerg;"
            site = render(site, {shipped: f"error_log {error_log} {error_level};"})
            snippet = render(snippet, {shipped: f"error_log {error_log} {error_level};"})
        (work / "site.conf").write_text(site)
        (work / "proxy.conf").write_text(snippet)
        (work / "nginx.conf").write_text(NGINX_MAIN.format(work=work))
        (work / "client_body").mkdir(exist_ok=True)
        return nginx

    def command(self, *extra: str) -> list[str]:
        return [
            tool("nginx"),
            "-e",
            str(self.work / "startup-error.log"),
            "-p",
            f"{self.work}/",
            "-c",
            str(self.work / "nginx.conf"),
            *extra,
        ]

    def test_config(self) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command("-t"), capture_output=True, text=True, timeout=30, check=False
        )

    def start(self) -> Nginx:
        self.process = subprocess.Popen(
            self.command("-g", "daemon off;"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for port in (self.http_port, self.https_port, self.onion_port):
                wait_for_port(port)
        except RuntimeError:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    @property
    def https(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    @property
    def onion(self) -> str:
        return f"http://127.0.0.1:{self.onion_port}"

    @property
    def plain(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def logs(self) -> dict[str, str]:
        """Every log file nginx may have written, by name."""
        return {
            p.name: p.read_text(errors="replace")
            for p in self.work.iterdir()
            if p.suffix == ".log" and p.is_file()
        }


def parse_size(value: str) -> int:
    """An nginx size (``2m``, ``16k``, ``512``) in bytes."""
    units = {"k": 1024, "m": 1024 * 1024, "g": 1024 * 1024 * 1024}
    value = value.strip().lower()
    if value[-1] in units:
        return int(value[:-1]) * units[value[-1]]
    return int(value)


def directive(text: str, name: str) -> list[str]:
    """The values of every ``name value;`` line in an nginx or systemd-like text."""
    values = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith(f"{name} "):
            values.append(stripped[len(name) :].strip().rstrip(";").strip())
    return values
