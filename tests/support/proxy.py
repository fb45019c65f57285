"""A recording TCP proxy: everything clients send to the server, exactly as sent.

Tests put it in front of the real server and then search the captured requests for canaries.
Requests are parsed with h11 so chunked bodies are reassembled before searching. A test can
also make it drop a connection in the middle of a request (``cut_once``), as a flaky network
would.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from dataclasses import dataclass, field

import h11


@dataclass
class CapturedRequest:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes

    @property
    def raw(self) -> bytes:
        head = f"{self.method} {self.target}\n" + "".join(
            f"{k}: {v}\n" for k, v in self.headers.items()
        )
        return head.encode() + b"\n" + self.body


@dataclass
class RecordingProxy:
    upstream_port: int
    port: int = 0
    _streams: list[bytearray] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _sock: socket.socket | None = None
    _cut: tuple[bytes, int] | None = None
    cuts: int = 0

    def start(self) -> RecordingProxy:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        self.port = sock.getsockname()[1]
        self._sock = sock
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._sock is not None:
            self._sock.close()

    def cut_once(self, marker: bytes, *, after: int) -> None:
        """Drop the next connection that sends ``marker``, ``after`` bytes past the data that
        carried it (the server gets a request cut short, the client a dropped connection)."""
        with self._lock:
            self._cut = (marker, after)

    def _should_cut(self, stream: bytearray, received: int) -> int | None:
        """Bytes still to forward before cutting this connection, if it is the one to cut."""
        if self._cut is None:
            return None
        marker, after = self._cut
        if marker not in stream[-(received + len(marker)) :]:
            return None
        self._cut = None
        self.cuts += 1
        return after

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        assert self._sock is not None
        while True:
            try:
                client, _ = self._sock.accept()
            except OSError:
                return
            stream = bytearray()
            with self._lock:
                self._streams.append(stream)
            threading.Thread(target=self._serve, args=(client, stream), daemon=True).start()

    def _serve(self, client: socket.socket, stream: bytearray) -> None:
        try:
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
        except OSError:
            client.close()
            return

        def pipe(src: socket.socket, dst: socket.socket, record: bool) -> None:
            left: int | None = None
            try:
                while chunk := src.recv(65536):
                    if record:
                        with self._lock:
                            stream.extend(chunk)
                            if left is None:
                                left = self._should_cut(stream, len(chunk))
                    if left is not None and len(chunk) >= left:
                        dst.sendall(chunk[:left])
                        return  # the finally below drops both sides
                    if left is not None:
                        left -= len(chunk)
                    dst.sendall(chunk)
            except OSError:
                pass
            finally:
                for s in (src, dst):
                    with contextlib.suppress(OSError):
                        s.shutdown(socket.SHUT_RDWR)

        back = threading.Thread(target=pipe, args=(upstream, client, False), daemon=True)
        back.start()
        pipe(client, upstream, True)
        back.join(timeout=30)
        client.close()
        upstream.close()

    def clear(self) -> None:
        """Forget what was recorded so far; connections kept alive go on being recorded."""
        with self._lock:
            for stream in self._streams:
                stream.clear()

    def requests(self) -> list[CapturedRequest]:
        with self._lock:
            streams = [bytes(s) for s in self._streams]
        captured: list[CapturedRequest] = []
        for data in streams:
            if not data:
                continue  # h11 reads empty data as the end of the connection
            conn = h11.Connection(our_role=h11.SERVER)
            conn.receive_data(data)
            current: CapturedRequest | None = None
            while True:
                try:
                    event = conn.next_event()
                except h11.RemoteProtocolError:
                    break
                if event is h11.NEED_DATA or event is h11.PAUSED:
                    break
                if isinstance(event, h11.ConnectionClosed):
                    break
                if isinstance(event, h11.Request):
                    current = CapturedRequest(
                        method=event.method.decode(),
                        target=event.target.decode(),
                        headers={k.decode(): v.decode("latin-1") for k, v in event.headers},
                        body=b"",
                    )
                elif isinstance(event, h11.Data) and current is not None:
                    current.body += event.data
                elif isinstance(event, h11.EndOfMessage) and current is not None:
                    captured.append(current)
                    current = None
                    # Let h11 move on to the next request on this keep-alive connection.
                    conn.send(h11.Response(status_code=200, headers=[("content-length", "0")]))
                    conn.send(h11.EndOfMessage())
                    conn.start_next_cycle()
            if current is not None:
                captured.append(current)
        return captured

    def raw_bytes(self) -> bytes:
        with self._lock:
            return b"".join(bytes(s) for s in self._streams)
