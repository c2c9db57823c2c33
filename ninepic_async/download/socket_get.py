"""Storage GETs read straight off a socket the event loop watches: curl's data path in asyncio.

aiohttp over TLS copies each body byte about four times on its way to a file (into the memory
BIO, out as a 16 KiB record, joined, copied again by the parser) and runs Python per piece.
Here OpenSSL reads the socket itself and decrypts each record straight into the connection's
write buffer; the loop only says when the socket is readable (``add_reader``). See
``benchmarks/results/https-profile.md`` for what that saves.

It serves the common exchange only: HTTP/1.1 (or 1.0), a direct connection (no proxy), an
answer framed by ``Content-Length`` that is not a redirect. Anything else raises
:class:`Unframed` before a body byte is taken, and the caller repeats that GET through aiohttp,
which handles every framing and follows redirects. Every
failure of the exchange is a :class:`SocketGetError`; a refused certificate is
:class:`SocketCertificateError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import ssl
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any, cast

import yarl
from multidict import CIMultiDict, CIMultiDictProxy

from .._constants import USER_AGENT

__all__ = [
    "PIECE_INTERVAL_S",
    "SocketAnswer",
    "SocketCertificateError",
    "SocketGetError",
    "SocketGets",
    "Unframed",
    "loop_can_watch_sockets",
]

logger = logging.getLogger(__name__)

_MAX_HEAD_BYTES = 64 * 1024
"""A response head longer than this is refused (aiohttp's limits are of the same order)."""
_HEAD_READ_BYTES = 16 * 1024
_MAX_IDLE_PER_ORIGIN = 64
_TLS_READ_BYTES = 256 * 1024
"""What one read of a TLS connection's socket takes at most (about sixteen records)."""
_PEEK_FLAGS = int(socket.MSG_PEEK | socket.MSG_DONTWAIT)
"""Look at the socket without taking or waiting (combined once: ``|`` on the enum runs Python)."""
PIECE_INTERVAL_S = 0.2
"""A slow body is handed on at least this often (progress, the low-speed check), batch full or not."""


class SocketGetError(Exception):
    """The exchange failed (connection, TLS, timeout, a cut or malformed answer): worth a retry."""


class SocketCertificateError(SocketGetError):
    """The storage host's TLS certificate was refused: retrying will not help."""

    def __init__(self, host: str, reason: str) -> None:
        super().__init__(f"certificate of {host} refused: {reason}")
        self.host, self.reason = host, reason


class Unframed(Exception):
    """An answer this module does not read (chunked, no length, a redirect): send the GET again
    through aiohttp. A host whose answers are framed otherwise is not tried here again."""


def loop_can_watch_sockets(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether ``loop`` has ``add_reader`` for sockets (uvloop, the selector loops; not Proactor)."""
    probe_r, probe_w = socket.socketpair()
    try:
        loop.add_reader(probe_r.fileno(), lambda: None)
        loop.remove_reader(probe_r.fileno())
        return True
    except (NotImplementedError, RuntimeError, OSError):
        return False
    finally:
        probe_r.close()
        probe_w.close()


def _client_context(value: bool | ssl.SSLContext) -> ssl.SSLContext:
    """The TLS context aiohttp would use for the same ``ssl`` setting."""
    if isinstance(value, ssl.SSLContext):
        return value
    context = ssl.create_default_context()
    if not value:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


_Address = tuple[int, int, int, Any]
"""``(family, type, proto, sockaddr)``, as ``getaddrinfo`` gives them."""


@dataclass(frozen=True, slots=True)
class _Origin:
    scheme: str
    host: str
    port: int


class _Connection:
    """One keep-alive connection: a non-blocking socket, TLS state when it is https, and the
    two buffers its bodies land in.

    TLS goes through a memory BIO fed by large reads: OpenSSL reading the socket itself takes
    two system calls per 16 KiB record (its 5-byte header, then the rest), 132 k of them for
    1 GB (perf), where one ``recv_into`` of 256 KiB feeds about sixteen records. Each record is
    then decrypted straight into the caller's buffer (``SSLObject.read(n, buffer)``).
    """

    __slots__ = (
        "_incoming",
        "_loop",
        "_outgoing",
        "_raw",
        "buffers",
        "fd",
        "origin",
        "reused",
        "sock",
        "spare",
        "tls",
    )

    def __init__(self, loop: asyncio.AbstractEventLoop, sock: socket.socket, origin: _Origin) -> None:
        self._loop = loop
        self.sock = sock
        self.fd = sock.fileno()
        self.origin = origin
        self.tls: ssl.SSLObject | None = None
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._raw = bytearray(0)
        """What one ``recv_into`` of a TLS connection reads (made on the first read)."""
        self.spare = b""
        """Bytes read past the end of the last answer's head (the start of its body)."""
        self.buffers: list[bytearray] = []
        """The two buffers bodies are read into (see :meth:`SocketAnswer.chunks`)."""
        self.reused = False

    async def wait(self, writable: bool, timeout_s: float | None) -> None:
        loop = self._loop
        waiter: asyncio.Future[None] = loop.create_future()

        def ready() -> None:
            if not waiter.done():
                waiter.set_result(None)

        def expired() -> None:
            if not waiter.done():
                waiter.set_exception(SocketGetError(f"no data from the storage host for {timeout_s:g} s"))

        if writable:
            loop.add_writer(self.fd, ready)
        else:
            loop.add_reader(self.fd, ready)
        timer = loop.call_later(timeout_s, expired) if timeout_s else None
        try:
            await waiter
        finally:
            if writable:
                loop.remove_writer(self.fd)
            else:
                loop.remove_reader(self.fd)
            if timer is not None:
                timer.cancel()

    async def read_into(self, view: memoryview, timeout_s: float | None) -> int:
        """Read what the connection has, up to ``len(view)`` bytes; waits for at least one; 0 at EOF."""
        if self.tls is not None:
            return await self._read_tls_into(view, timeout_s)
        sock = self.sock
        want = len(view)
        got = 0
        while True:
            try:
                n = sock.recv_into(view[got:], want - got)
            except (BlockingIOError, InterruptedError):
                if got:
                    return got
                await self.wait(False, timeout_s)
                continue
            except OSError as exc:
                if got:
                    return got
                raise SocketGetError(f"connection lost: {type(exc).__name__}: {exc}") from exc
            if n == 0 or got + n == want:
                return got + n
            got += n

    async def _read_tls_into(self, view: memoryview, timeout_s: float | None) -> int:
        tls = self.tls
        assert tls is not None
        want = len(view)
        got = 0
        while True:
            try:
                n = cast(int, tls.read(want - got, view[got:]))  # typeshed: bytes without a buffer
            except ssl.SSLWantReadError:
                if self._receive() > 0:
                    continue
                if got:
                    return got
                await self.wait(False, timeout_s)
                continue
            except ssl.SSLZeroReturnError:
                return got
            except (ssl.SSLError, OSError) as exc:  # SSLEOFError: cut without close_notify
                if got:
                    return got
                raise SocketGetError(f"connection lost: {type(exc).__name__}: {exc}") from exc
            if self._outgoing.pending:  # a key update the reading produced
                await self._send_outgoing(timeout_s)
            if n == 0 or got + n == want:
                return got + n
            got += n

    def _receive(self) -> int:
        """Feed the TLS layer what the socket has now: bytes read, 0 at EOF, -1 if none yet."""
        raw = self._raw
        if not raw:
            raw = self._raw = bytearray(_TLS_READ_BYTES)
        try:
            n = self.sock.recv_into(raw)
        except (BlockingIOError, InterruptedError):
            return -1
        except OSError as exc:
            raise SocketGetError(f"connection lost: {type(exc).__name__}: {exc}") from exc
        if n:
            self._incoming.write(memoryview(raw)[:n])
        else:
            self._incoming.write_eof()
        return n

    async def _send_raw(self, data: bytes | memoryview, timeout_s: float | None) -> None:
        view = memoryview(data)
        while view:
            try:
                sent = self.sock.send(view)
            except (BlockingIOError, InterruptedError):
                await self.wait(True, timeout_s)
                continue
            except OSError as exc:
                raise SocketGetError(f"connection lost while sending: {exc}") from exc
            view = view[sent:]

    async def _send_outgoing(self, timeout_s: float | None) -> None:
        if self._outgoing.pending:
            await self._send_raw(self._outgoing.read(), timeout_s)

    async def send(self, data: bytes, timeout_s: float | None) -> None:
        if self.tls is None:
            await self._send_raw(data, timeout_s)
            return
        try:
            self.tls.write(data)
        except (ssl.SSLError, OSError) as exc:
            raise SocketGetError(f"connection lost while sending: {exc}") from exc
        await self._send_outgoing(timeout_s)

    async def handshake(self, context: ssl.SSLContext, timeout_s: float | None) -> None:
        """Start TLS on the connected socket (verifying the peer as ``context`` says)."""
        host = self.origin.host
        try:
            tls = context.wrap_bio(self._incoming, self._outgoing, server_hostname=host)
        except (ssl.SSLError, ValueError) as exc:
            raise SocketGetError(f"TLS set-up failed: {exc}") from exc
        while True:
            try:
                tls.do_handshake()
            except ssl.SSLWantReadError:
                await self._send_outgoing(timeout_s)
                if self._receive() < 0:  # at EOF the next do_handshake raises SSLEOFError
                    await self.wait(False, timeout_s)
                continue
            except ssl.SSLCertVerificationError as exc:
                raise SocketCertificateError(host, exc.verify_message or str(exc)) from exc
            except (ssl.SSLError, OSError) as exc:
                raise SocketGetError(f"TLS handshake with {host} failed: {exc}") from exc
            break
        await self._send_outgoing(timeout_s)
        self.tls = tls

    @property
    def idle_and_open(self) -> bool:
        """Whether an idle connection is still usable: no EOF, nothing unasked-for waiting (an
        alert, a close), nothing left undecrypted."""
        if self._incoming.pending:
            return False
        try:
            # a peek at the socket itself (below TLS), consuming nothing
            self.sock.recv(1, _PEEK_FLAGS)
        except (BlockingIOError, InterruptedError):
            return True
        except OSError:
            return False
        return False  # EOF, or bytes nobody asked for

    def close(self) -> None:
        self.buffers = []
        self.tls = None
        with contextlib.suppress(OSError):
            self.sock.close()


def _parse_head(head: bytes) -> tuple[int, str, bool, CIMultiDict[str]]:
    """``(status, reason, keep_alive, headers)`` of a response head (without its blank line)."""
    try:
        text = head.decode("latin-1")
    except UnicodeDecodeError as exc:  # pragma: no cover - latin-1 decodes every byte
        raise SocketGetError("malformed response head") from exc
    status_line, _, rest = text.partition("\r\n")
    version, _, tail = status_line.partition(" ")
    code, _, reason = tail.partition(" ")
    if version not in ("HTTP/1.1", "HTTP/1.0") or len(code) != 3 or not code.isdigit():
        raise SocketGetError(f"malformed status line: {status_line[:80]!r}")
    headers: CIMultiDict[str] = CIMultiDict()
    for line in rest.split("\r\n") if rest else ():
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip() or line[0] in " \t":
            raise SocketGetError(f"malformed header line: {line[:80]!r}")
        headers.add(name, value.strip(" \t"))
    connection = headers.get("Connection", "").lower()
    keep_alive = "close" not in connection if version == "HTTP/1.1" else "keep-alive" in connection
    return int(code), reason, keep_alive, headers


@dataclass(slots=True)
class SocketAnswer:
    """A storage answer whose body is read by :meth:`chunks` (or :meth:`error_body`)."""

    status: int
    reason: str
    headers: CIMultiDictProxy[str]
    content_length: int
    _conn: _Connection
    _keep_alive: bool
    _read_timeout_s: float | None
    _left: int = field(init=False)

    def __post_init__(self) -> None:
        self._left = self.content_length

    @property
    def complete(self) -> bool:
        """Whether the whole body was read (the connection may then serve another GET)."""
        return self._left == 0

    @property
    def reusable(self) -> bool:
        """Whether the connection may serve another GET (body read whole, no ``close`` asked)."""
        return self._keep_alive and self.complete

    async def chunks(
        self, batch_bytes: int, *, piece_bytes: int | None = None
    ) -> AsyncGenerator[memoryview, None]:
        """The body as views into two buffers of ``batch_bytes`` used in turn: one view per full
        buffer, or sooner when ``piece_bytes`` have gathered (a rate cap's granularity), when
        :data:`PIECE_INTERVAL_S` passed since the last one (progress on a slow link), at the
        end, and before a connection error or a cancellation is raised (what arrived is kept).

        A view's bytes stay until its buffer comes round again, after the other one filled: a
        writer that flushes whenever ``batch_bytes`` are pending, and waits for the write before
        the last one ended (:meth:`~.files.PartWriter.flush_behind`), has written every view by then.
        """
        conn = self._conn
        if len(conn.buffers) != 2 or len(conn.buffers[0]) != batch_bytes:
            conn.buffers = [bytearray(batch_bytes), bytearray(batch_bytes)]
        views = [memoryview(conn.buffers[0]), memoryview(conn.buffers[1])]
        current = 0
        view = views[0]
        fill = given = 0
        piece = piece_bytes or batch_bytes
        spare = conn.spare
        if spare:
            take = spare[: self._left]
            conn.spare = b""
            if len(spare) > self._left:  # bytes past the body: this connection is not reused
                self._keep_alive = False
            view[: len(take)] = take
            fill = len(take)
            self._left -= fill
        due = time.monotonic() + PIECE_INTERVAL_S
        while True:
            if fill > given and (
                fill - given >= piece or fill == batch_bytes or not self._left or time.monotonic() >= due
            ):
                yield view[given:fill]
                given = fill
                due = time.monotonic() + PIECE_INTERVAL_S
            if not self._left:
                return
            if fill == batch_bytes:
                current ^= 1
                view = views[current]
                fill = given = 0
            room = min(batch_bytes - fill, self._left)
            try:
                n = await conn.read_into(view[fill : fill + room], self._read_timeout_s)
                if n == 0:
                    raise SocketGetError(f"connection closed with {self._left} body bytes to come")
            except (SocketGetError, asyncio.CancelledError):
                if fill > given:  # the caller keeps these, then gets the error on its next step
                    yield view[given:fill]
                raise
            self._left -= n
            fill += n

    async def error_body(self, limit: int) -> bytes:
        """Up to ``limit`` bytes of a refusal's body (its error text)."""
        want = min(limit, self._left)
        out = bytearray()
        spare = self._conn.spare
        if spare:
            out += spare[:want]
            self._conn.spare = spare[want:]
        buf = bytearray(_HEAD_READ_BYTES)
        while len(out) < want:
            n = await self._conn.read_into(
                memoryview(buf)[: min(len(buf), want - len(out))], self._read_timeout_s
            )
            if n == 0:
                break
            out += buf[:n]
        self._left -= len(out)
        return bytes(out)


class SocketGets:
    """The run's pool of keep-alive storage connections, read by the event loop directly."""

    def __init__(self, *, ssl_setting: bool | ssl.SSLContext, connect_timeout_s: float | None) -> None:
        self._context: ssl.SSLContext | None = None
        self._ssl_setting = ssl_setting
        self._connect_timeout_s = connect_timeout_s
        self._idle: dict[_Origin, list[_Connection]] = {}
        self._unframed: set[_Origin] = set()
        self._resolved: dict[tuple[str, int], list[_Address]] = {}
        self._busy: set[_Connection] = set()
        """Connections an answer is using (closed by :meth:`close` too: none outlives the pool)."""
        self._closed = False

    def serves(self, url: yarl.URL) -> bool:
        """Whether a GET of ``url`` is worth trying here (http/https, no earlier unframed answer)."""
        origin = _origin_of(url)
        return origin is not None and origin not in self._unframed

    def close(self) -> None:
        """Close every connection, idle or not (an answer still being read fails)."""
        self._closed = True
        for conns in self._idle.values():
            for conn in conns:
                conn.close()
        self._idle.clear()
        for conn in self._busy:
            conn.close()
        self._busy.clear()

    async def get(
        self, url: yarl.URL, headers: dict[str, str], *, read_timeout_s: float | None
    ) -> SocketAnswer:
        """Send ``GET url`` and read the answer's head. Raises :class:`Unframed` (nothing sent is
        lost: the caller repeats it through aiohttp) or :class:`SocketGetError`."""
        origin = _origin_of(url)
        if origin is None or origin in self._unframed:
            raise Unframed(str(url.scheme))
        target = url.raw_path_qs or "/"
        if not _sendable_target(target):
            raise SocketGetError("the storage URL holds characters a request line cannot carry")
        host = url.raw_host or ""
        host_header = f"[{host}]" if ":" in host else host
        if not url.is_default_port():
            host_header += f":{origin.port}"
        lines = [f"GET {target} HTTP/1.1", f"Host: {host_header}", f"User-Agent: {USER_AGENT}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        if any(c in value for value in lines[3:] for c in "\r\n\0"):
            raise SocketGetError("a request header holds a line break")
        request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        if self._closed:
            raise SocketGetError("the connection pool is closed")
        for _attempt in range(2):
            conn = await self._connection(origin)
            self._busy.add(conn)
            try:
                await conn.send(request, read_timeout_s)
                head = await self._read_head(conn, read_timeout_s)
            except SocketGetError:
                self._drop(conn)
                if conn.reused:  # an idle connection the server had closed: once more on a new one
                    continue
                raise
            except BaseException:
                self._drop(conn)
                raise
            break
        try:
            status, reason, keep_alive, parsed = _parse_head(head)
            if 300 <= status < 400:
                raise Unframed(f"a redirect ({status}): aiohttp follows it")
            length = parsed.get("Content-Length")
            if (
                "Transfer-Encoding" in parsed
                or length is None
                or not length.isdigit()
                or len(parsed.getall("Content-Length")) > 1
                or status < 200
            ):
                self._unframed.add(origin)
                raise Unframed(f"answer framed otherwise (status {status}, Content-Length {length!r})")
        except BaseException:
            self._drop(conn)
            raise
        return SocketAnswer(
            status, reason, CIMultiDictProxy(parsed), int(length), conn, keep_alive, read_timeout_s
        )

    def release(self, answer: SocketAnswer) -> None:
        """Give the answer's connection back (kept for the next GET when its body was read whole)."""
        conn = answer._conn
        self._busy.discard(conn)
        if answer.reusable and not self._closed:
            idle = self._idle.setdefault(conn.origin, [])
            if len(idle) < _MAX_IDLE_PER_ORIGIN:
                conn.reused = True
                idle.append(conn)
                return
        conn.close()

    def _drop(self, conn: _Connection) -> None:
        self._busy.discard(conn)
        conn.close()

    def discard(self, answer: SocketAnswer) -> None:
        """Close the answer's connection: never reused."""
        self._drop(answer._conn)

    async def _read_head(self, conn: _Connection, timeout_s: float | None) -> bytes:
        data = bytearray(conn.spare)
        conn.spare = b""
        buf = bytearray(_HEAD_READ_BYTES)
        start = 0
        while True:
            end = data.find(b"\r\n\r\n", max(0, start - 3))
            if end >= 0:
                conn.spare = bytes(data[end + 4 :])
                return bytes(data[:end])
            if len(data) > _MAX_HEAD_BYTES:
                raise SocketGetError("response head too long")
            start = len(data)
            n = await conn.read_into(memoryview(buf), timeout_s)
            if n == 0:
                raise SocketGetError("connection closed before a response")
            data += buf[:n]

    async def _connection(self, origin: _Origin) -> _Connection:
        idle = self._idle.get(origin)
        while idle:
            conn = idle.pop()
            if conn.idle_and_open:
                return conn
            conn.close()
        return await self._connect(origin)

    async def _connect(self, origin: _Origin) -> _Connection:
        loop = asyncio.get_running_loop()
        timeout_s = self._connect_timeout_s
        last: BaseException | None = None
        for family, type_, proto, address in await self._addresses(origin, loop):
            sock = socket.socket(family, type_, proto)
            try:
                sock.setblocking(False)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                await asyncio.wait_for(loop.sock_connect(sock, address), timeout_s)
            except (OSError, asyncio.TimeoutError) as exc:
                sock.close()
                last = exc
                continue
            except BaseException:
                sock.close()
                raise
            conn = _Connection(loop, sock, origin)
            if origin.scheme == "https":
                if self._context is None:
                    self._context = _client_context(self._ssl_setting)
                try:
                    await conn.handshake(self._context, timeout_s)
                except BaseException:
                    conn.close()
                    raise
            return conn
        raise SocketGetError(f"cannot connect to {origin.host}:{origin.port}: {last}")

    async def _addresses(self, origin: _Origin, loop: asyncio.AbstractEventLoop) -> list[_Address]:
        """Where ``origin`` listens: an IP literal as is, a name resolved once per run (as
        aiohttp's DNS cache does; each lookup takes a resolver thread)."""
        found = self._resolved.get((origin.host, origin.port))
        if found is not None:
            return found
        try:
            ip = ipaddress.ip_address(origin.host)
        except ValueError:
            try:
                infos = await asyncio.wait_for(
                    loop.getaddrinfo(origin.host, origin.port, type=socket.SOCK_STREAM),
                    self._connect_timeout_s,
                )
            except (OSError, asyncio.TimeoutError) as exc:
                raise SocketGetError(f"cannot resolve {origin.host}: {exc}") from exc
            found = [(family, type_, proto, address) for family, type_, proto, _name, address in infos]
        else:
            family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
            found = [(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, (origin.host, origin.port))]
        self._resolved[(origin.host, origin.port)] = found
        return found


def _sendable_target(target: str) -> bool:
    """Whether a request target may be sent as is: printable ASCII (0x21-0x7E) only, so no space,
    CR, LF or NUL can split the request line (no smuggling). Three C-level checks per GET."""
    return target.isascii() and target.isprintable() and " " not in target


def _origin_of(url: yarl.URL) -> _Origin | None:
    if url.scheme not in ("http", "https") or not url.raw_host or url.port is None:
        return None
    return _Origin(url.scheme, url.raw_host, url.port)
