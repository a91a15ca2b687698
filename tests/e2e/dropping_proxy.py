"""A TCP proxy in front of the fleet's package downloads that cuts the first download off
mid-way, as a rural link drops: the node must resume with a Range request, not start over."""

from __future__ import annotations

import socket
import threading


class DroppingProxy:
    """Forwards 127.0.0.1:<port> to ``target_port``; the first response longer than
    ``drop_after`` bytes is cut there (the connection reset), later ones pass whole."""

    def __init__(self, target_port: int, drop_after: int) -> None:
        self.target_port = target_port
        self.drop_after = drop_after
        self.drops = 0
        self.requests: list[bytes] = []
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        self._server.settimeout(0.2)
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        upstream = socket.create_connection(("127.0.0.1", self.target_port))
        first = client.recv(65536)
        with self._lock:
            self.requests.append(first.split(b"\r\n\r\n")[0])
            drop = self.drops == 0
        upstream.sendall(first)
        threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()
        sent = 0
        try:
            while chunk := upstream.recv(65536):
                if drop and sent + len(chunk) > self.drop_after:
                    client.sendall(chunk[: self.drop_after - sent])
                    with self._lock:
                        self.drops += 1
                    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                      b"\x01\x00\x00\x00\x00\x00\x00\x00")  # reset, not FIN
                    break
                client.sendall(chunk)
                sent += len(chunk)
        except OSError:
            pass
        finally:
            client.close()
            upstream.close()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass

    def ranged(self) -> list[bytes]:
        """The request heads that asked for a byte range (resumed downloads)."""
        with self._lock:
            return [r for r in self.requests if b"\r\nrange:" in r.lower()]

    def stop(self) -> None:
        self._stop.set()
        self._server.close()
