"""Running the desk: a uvicorn server on 127.0.0.1 and a free port, for one browser.

The socket is bound before the app is built, so the admission guard knows the exact address it
must see in every Host and Origin header. No access log is kept. A watchdog locks the desk after
the idle time even when no request arrives, and the key is dropped when the process ends.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable

import uvicorn

from safevoice.desk.app import create_desk_app
from safevoice.desk.security import Admission
from safevoice.desk.state import Desk


def bind_free_port() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    return sock


class DeskServer:
    """One desk process: its socket, its admission secrets, its uvicorn server and watchdog."""

    def __init__(self, desk: Desk) -> None:
        self.desk = desk
        self.sock = bind_free_port()
        self.admission = Admission(port=int(self.sock.getsockname()[1]))
        config = uvicorn.Config(
            create_desk_app(desk, self.admission),
            log_level="warning",
            access_log=False,
            server_header=False,
            date_header=False,
            lifespan="off",
        )
        self.server = uvicorn.Server(config)
        self._stop = threading.Event()

    def _watch(self) -> None:
        while not self._stop.wait(5.0):
            self.desk.lock_if_idle()

    def run(self, on_ready: Callable[[str], None]) -> None:
        """Serve until interrupted; ``on_ready`` gets the one-time address."""
        watchdog = threading.Thread(target=self._watch, name="desk-idle-lock", daemon=True)
        watchdog.start()
        on_ready(self.admission.open_url)
        try:
            self.server.run(sockets=[self.sock])
        finally:
            self._stop.set()
            self.desk.lock()
            self.sock.close()

    def start_in_thread(self) -> threading.Thread:
        """For tests and the benchmark: serve in a background thread."""
        thread = threading.Thread(target=self.run, args=(lambda _url: None,), daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self.server.should_exit = True
