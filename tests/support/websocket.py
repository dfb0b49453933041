"""A small blocking WebSocket client for tests against a real server on
loopback, on wsproto (the protocol library uvicorn already uses here)."""

from __future__ import annotations

import socket
import time

from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import (
    AcceptConnection,
    CloseConnection,
    Event,
    Ping,
    RejectConnection,
    Request,
    TextMessage,
)


class WebSocketClosed(Exception):
    pass


class WebSocketClient:
    """One connection: ``open()`` does the handshake, ``receive_text()``
    returns the next text message. Every wait is bounded."""

    def __init__(self, port: int, path: str, headers: list[tuple[bytes, bytes]]) -> None:
        self.port, self.path, self.headers = port, path, headers
        self.connection = WSConnection(ConnectionType.CLIENT)
        self.sock: socket.socket | None = None
        self.pending: list[Event] = []

    def open(self, timeout: float = 10) -> int:
        """Connect to 127.0.0.1; return 101 once accepted, else the status
        the server refused the handshake with."""
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        request = Request(
            host=f"127.0.0.1:{self.port}", target=self.path, extra_headers=self.headers
        )
        self.sock.sendall(self.connection.send(request))
        deadline = time.monotonic() + timeout
        while True:
            for event in self._events(deadline):
                if isinstance(event, AcceptConnection):
                    return 101
                if isinstance(event, RejectConnection):
                    return int(event.status_code)
                self.pending.append(event)

    def receive_text(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        parts: list[str] = []
        while True:
            events, self.pending = self.pending, []
            if not events:
                events = self._events(deadline)
            for event in events:
                if isinstance(event, TextMessage):
                    parts.append(event.data)
                    if event.message_finished:
                        return "".join(parts)
                elif isinstance(event, Ping):
                    self._send(event.response())
                elif isinstance(event, CloseConnection):
                    raise WebSocketClosed(event.code)

    def close(self) -> None:
        if self.sock is None:
            return
        if self.connection.state is ConnectionState.OPEN:
            try:
                self._send(CloseConnection(code=1000))
            except OSError:
                pass
        self.sock.close()
        self.sock = None

    def _send(self, event: Event) -> None:
        assert self.sock is not None
        self.sock.sendall(self.connection.send(event))

    def _events(self, deadline: float) -> list[Event]:
        """Read until at least one event arrives or the deadline passes."""
        assert self.sock is not None
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("nothing arrived on the WebSocket in time")
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                raise TimeoutError("nothing arrived on the WebSocket in time") from None
            if not data:
                raise WebSocketClosed(None)
            self.connection.receive_data(data)
            events = list(self.connection.events())
            if events:
                return events
