"""A TCP proxy on 127.0.0.1 that a test can cut: the bot's database connection going away as
when its machine loses the network (every open connection reset, new ones refused)."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading


class TCPProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = int(self._listener.getsockname()[1])
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self.cut = False
        self._stopping = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stopping:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self.cut:
                _reset(client)
                continue
            try:
                server = socket.create_connection(self.target, timeout=5)
            except OSError:
                _reset(client)
                continue
            server.settimeout(None)
            with self._lock:
                self._open.update((client, server))
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                if self.cut:
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                _reset(s)
                with self._lock:
                    self._open.discard(s)

    def cut_off(self) -> None:
        """Every connection through the proxy is reset; new ones are refused until restore()."""
        self.cut = True
        with self._lock:
            sockets, self._open = list(self._open), set()
        for s in sockets:
            _reset(s)

    def restore(self) -> None:
        self.cut = False

    def close(self) -> None:
        self._stopping = True
        self.cut_off()
        with contextlib.suppress(OSError):
            self._listener.close()


def _reset(s: socket.socket) -> None:
    """Close now: shutdown() wakes the other direction's thread blocked in recv() on it."""
    with contextlib.suppress(OSError):
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        s.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        s.close()
