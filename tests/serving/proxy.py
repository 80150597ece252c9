"""A TCP port in front of the test database that a test can take down and bring back.

The server under test connects through it, so stopping it is a real outage for that
server: its open connections are cut and new ones refused (`stop`), or accepted and
never answered, like a host that has gone silent (`blackhole`). `resume` listens on the
same port again and forwards to the database as before."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote


class DatabaseProxy:
    def __init__(self, params: dict[str, Any]) -> None:
        self.params = params
        self.port = 0
        self.mode = "stopped"
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        password = f":{quote(str(self.params['password']))}" if self.params.get("password") else ""
        user = self.params.get("user") or "postgres"
        return f"postgres://{user}{password}@127.0.0.1:{self.port}/{self.params['dbname']}"

    def resume(self) -> None:
        """Listen (on the same port after the first time) and forward every connection."""
        self._cut()
        self.mode = "forward"
        if self._listener is None:
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", self.port))
            listener.listen(64)
            self.port = listener.getsockname()[1]
            self._listener = listener
            threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        """Refuse connections and cut the open ones: the database is down."""
        self.mode = "stopped"
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        self._cut()

    def blackhole(self) -> None:
        """Cut the open connections, then accept new ones and never answer them."""
        self.resume()
        self.mode = "blackhole"
        self._cut()

    def _cut(self) -> None:
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _upstream(self) -> socket.socket:
        host, port = str(self.params.get("host") or "127.0.0.1"), int(self.params.get("port") or 5432)
        if host.startswith("/"):  # a socket directory, as the embedded server has
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.connect(f"{host}/.s.PGSQL.{port}")
            return upstream
        return socket.create_connection((host, port))

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # stopped
            with self._lock:
                self._sockets.add(client)
            if self.mode != "forward":
                continue  # blackholed: held open, never read
            upstream = self._upstream()
            with self._lock:
                self._sockets.add(upstream)
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(source, target), daemon=True).start()


def _pump(source: socket.socket, target: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            target.sendall(data)
    for sock in (source, target):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


@contextlib.contextmanager
def proxying(params: dict[str, Any]) -> Iterator[DatabaseProxy]:
    proxy = DatabaseProxy(params)
    proxy.resume()
    try:
        yield proxy
    finally:
        proxy.stop()
