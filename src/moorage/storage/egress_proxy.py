"""The loopback forward proxy every request to a team-named endpoint goes through.

It resolves the target itself, checks every address against the ``EgressPolicy`` and connects
to exactly the address it checked: CONNECT for https, absolute-form requests for plain http
(each request on a connection must name the same host; it is sent in origin form).
"""

from __future__ import annotations

import base64
import contextlib
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from moorage.storage import egress

if TYPE_CHECKING:
    from moorage.storage.egress import EgressPolicy

__all__ = ["EgressProxy", "Ticket", "proxy_for"]


@dataclass
class Ticket:
    """One adapter's pass through the proxy; remembers what the proxy refused it."""

    token: str
    url: str
    proxy: EgressProxy = field(repr=False)
    refused: tuple[float, str] | None = field(default=None)
    #: the last target the proxy could not reach for it (no such host, refused, timed out)
    unreachable: tuple[float, str] | None = field(default=None)

    def release(self) -> None:
        self.proxy.release(self)

    def last_refusal(self, within: float = 60.0) -> str | None:
        return _recent(self.refused, within)

    def last_unreachable(self, within: float = 60.0) -> str | None:
        """Why the endpoint could not be reached, e.g. ``connection refused by 127.0.0.1:9``
        (the HTTP client only sees the proxy's 502)."""
        return _recent(self.unreachable, within)


def _recent(found: tuple[float, str] | None, within: float) -> str | None:
    if found is not None and time.monotonic() - found[0] < within:
        return found[1]
    return None


_DENIED = (
    b"HTTP/1.1 407 Proxy Authentication Required\r\n"
    b"Proxy-Authenticate: Basic\r\nContent-Length: 0\r\n\r\n"
)
_BAD_GATEWAY = b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
_CHUNK = 256 * 1024
_MAX_HEAD = 64 * 1024


class _Reader:
    """Buffered reads from a socket: HTTP heads, CRLF lines, exact byte counts."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    def _fill(self) -> bool:
        data = self.sock.recv(_CHUNK)
        self.buffer += data
        return bool(data)

    def until(self, mark: bytes, limit: int = _MAX_HEAD) -> bytes | None:
        while mark not in self.buffer:
            if len(self.buffer) > limit or not self._fill():
                return None
        head, _, self.buffer = self.buffer.partition(mark)
        return head + mark

    def relay(self, n: int, out: socket.socket) -> None:
        while n > 0:
            if not self.buffer and not self._fill():
                raise ConnectionError("the client closed mid-body")
            part, self.buffer = self.buffer[:n], self.buffer[n:]
            out.sendall(part)
            n -= len(part)


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(_CHUNK):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for sock, how in ((sink, socket.SHUT_WR), (source, socket.SHUT_RD)):
            with contextlib.suppress(OSError):
                sock.shutdown(how)


def _parse_head(head: bytes) -> tuple[str, str, list[tuple[str, str]]]:
    lines = head.decode("latin-1").split("\r\n")
    method, target, _version = lines[0].split(" ", 2)
    headers = []
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers.append((name.strip(), value.strip()))
    return method, target, headers


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    return next((v for k, v in headers if k.lower() == name), None)


class _Refused(Exception):
    pass


def _why(exc: OSError | None) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (nothing listens there)"
    if isinstance(exc, TimeoutError | socket.timeout):
        return "no answer (timed out)"
    reason = exc.strerror if exc is not None and exc.strerror else type(exc).__name__
    return str(reason).lower()


class EgressProxy:
    """A forward proxy on 127.0.0.1 (CONNECT for https, absolute-form for http)."""

    def __init__(self, policy: EgressPolicy, *, connect_timeout: float = 10.0) -> None:
        self.policy = policy
        self.connect_timeout = connect_timeout
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._tickets: dict[str, Ticket] = {}
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, name="moorage-egress", daemon=True).start()

    def ticket(self) -> Ticket:
        """A new pass: its ``url`` is the proxy URL an HTTP client is given."""
        token = secrets.token_urlsafe(18)
        ticket = Ticket(token, f"http://moorage:{token}@127.0.0.1:{self.port}", self)
        with self._lock:
            self._tickets[token] = ticket
        return ticket

    def release(self, ticket: Ticket) -> None:
        with self._lock:
            self._tickets.pop(ticket.token, None)

    def _accept(self) -> None:
        while True:
            client, _ = self._listener.accept()
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _ticket_of(self, headers: list[tuple[str, str]]) -> Ticket | None:
        value = _header(headers, "proxy-authorization") or ""
        scheme, _, encoded = value.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            token = base64.b64decode(encoded).decode().partition(":")[2]
        except ValueError:
            return None
        with self._lock:
            return self._tickets.get(token)

    def _open(self, ticket: Ticket, host: str, port: int) -> socket.socket:
        host = host.strip("[]")
        try:
            addresses = (
                [egress._literal(host)] if egress._literal(host) else egress.resolve(host, port)
            )
        except (OSError, UnicodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            ticket.unreachable = (time.monotonic(), f"the host {host} does not resolve ({reason})")
            raise ConnectionError(f"{host} does not resolve") from None
        problem = self.policy.refusal(host, [a for a in addresses if a is not None])
        if problem:
            ticket.refused = (time.monotonic(), problem)
            raise _Refused(problem)
        last: OSError | None = None
        for address in addresses:
            try:
                # exactly the address checked above, never the name again
                sock = socket.create_connection((str(address), port), self.connect_timeout)
            except OSError as exc:
                last = exc
            else:
                ticket.unreachable = None  # reachable again: later errors are the store's own
                return sock
        ticket.unreachable = (time.monotonic(), f"cannot connect to {host}:{port}: {_why(last)}")
        raise ConnectionError(f"could not connect to {host}:{port}: {last}")

    def _serve(self, client: socket.socket) -> None:
        upstream: socket.socket | None = None
        try:
            reader = _Reader(client)
            head = reader.until(b"\r\n\r\n")
            if head is None:
                return
            method, target, headers = _parse_head(head)
            ticket = self._ticket_of(headers)
            if ticket is None:
                client.sendall(_DENIED)
                return
            if method == "CONNECT":
                host, _, port = target.rpartition(":")
                upstream = self._open(ticket, host, int(port))
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                if reader.buffer:
                    upstream.sendall(reader.buffer)
                self._tunnel(client, upstream)
            else:
                upstream = self._forward(ticket, reader, head)
        except _Refused as exc:
            body = f"moorage egress policy: {exc}".encode()
            status = b"HTTP/1.1 403 Forbidden\r\nX-Moorage-Egress: refused\r\n"
            length = f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            with contextlib.suppress(OSError):
                client.sendall(status + length + body)
        except (OSError, ValueError, UnicodeError):
            with contextlib.suppress(OSError):
                client.sendall(_BAD_GATEWAY)
        finally:
            client.close()
            if upstream is not None:
                upstream.close()

    @staticmethod
    def _tunnel(client: socket.socket, upstream: socket.socket) -> None:
        back = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
        back.start()
        _pump(client, upstream)
        back.join()

    def _forward(self, ticket: Ticket, reader: _Reader, head: bytes) -> socket.socket | None:
        """Plain http: each request on the connection goes, in origin form, to one address."""
        upstream: socket.socket | None = None
        authority: str | None = None
        back: threading.Thread | None = None
        current: bytes | None = head
        while current is not None:
            method, target, headers = _parse_head(current)
            parts = urlsplit(target)
            if parts.scheme != "http" or not parts.hostname:
                raise ValueError("absolute-form http URL expected")
            if upstream is None:
                authority = parts.netloc
                upstream = self._open(ticket, parts.hostname, parts.port or 80)
                back = threading.Thread(target=_pump, args=(upstream, reader.sock), daemon=True)
                back.start()
            elif parts.netloc != authority:
                break  # a connection serves one checked address only
            path = parts.path or "/"
            if parts.query:
                path += "?" + parts.query
            kept = [(k, v) for k, v in headers if not k.lower().startswith("proxy-")]
            lines = [f"{method} {path} HTTP/1.1", *(f"{k}: {v}" for k, v in kept), "", ""]
            upstream.sendall("\r\n".join(lines).encode("latin-1"))
            self._relay_body(reader, upstream, kept)
            current = reader.until(b"\r\n\r\n")
        if upstream is not None:
            with contextlib.suppress(OSError):
                upstream.shutdown(socket.SHUT_WR)
            if back is not None:
                back.join()
        return upstream

    @staticmethod
    def _relay_body(
        reader: _Reader, upstream: socket.socket, headers: list[tuple[str, str]]
    ) -> None:
        if (_header(headers, "transfer-encoding") or "").lower().endswith("chunked"):
            while True:
                line = reader.until(b"\r\n")
                if line is None:
                    raise ConnectionError("the client closed mid-body")
                upstream.sendall(line)
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while (trailer := reader.until(b"\r\n")) not in (None, b"\r\n"):
                        upstream.sendall(trailer)
                    upstream.sendall(b"\r\n")
                    return
                reader.relay(size + 2, upstream)
        reader.relay(int(_header(headers, "content-length") or 0), upstream)


_proxies: dict[EgressPolicy, EgressProxy] = {}
_proxies_lock = threading.Lock()


def proxy_for(policy: EgressPolicy) -> EgressProxy:
    """The process's proxy for ``policy``, started on first use."""
    with _proxies_lock:
        proxy = _proxies.get(policy)
        if proxy is None:
            proxy = _proxies[policy] = EgressProxy(policy)
        return proxy
