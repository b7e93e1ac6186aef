"""The one hardened HTTP(S) client for addresses people give us (calendar feeds, CalDAV).

Server-side request forgery is the risk: a person pastes an address and our server
fetches it from inside our network. Every hop of a fetch therefore:

* accepts only the allowed schemes (``webcal`` is fetched as ``https``) and no
  user name or password in the address;
* resolves the host once and refuses private, loopback, link-local, multicast,
  reserved, unspecified and shared (CGNAT) addresses, IPv4 and IPv6, including IPv4
  wrapped in IPv6, unless the caller allows private addresses (development, tests);
* connects to exactly the vetted address (the connection is pinned, so DNS
  rebinding between the check and the connect can't slip past it) while TLS
  checks the certificate of the name in the address;
* follows at most :data:`MAX_REDIRECTS` redirects, each checked like the first;
* caps the body (declared and streamed) and refuses HTML when a caller asks for a
  data file;
* bounds the whole exchange (every hop: connect, TLS, headers, body) by one hard
  deadline: a timer shuts the socket down when it passes, so a server that drips one
  byte (or one header line, or one chunk) every few seconds is cut off on time.  A
  per-read timeout alone never fires against such a server.  Only the name look-up
  (the system resolver) is outside the deadline.

This module is the bottom layer: stdlib and third-party only, nothing from the apps.
Errors are :class:`FetchError` subclasses whose message is safe to show; callers
with their own wording (calendar import) read the attributes instead.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import quote, urljoin, urlsplit

__all__ = [
    "MAX_REDIRECTS",
    "BadAddress",
    "FetchError",
    "HTTPStatusError",
    "NoAnswer",
    "PrivateAddress",
    "Target",
    "TooLarge",
    "TooManyRedirects",
    "UnwantedContent",
    "check_url",
    "fetch",
    "is_public_address",
    "post",
]

MAX_REDIRECTS = 3
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


class FetchError(Exception):
    """An address could not be fetched; the message is safe to show."""


class BadAddress(FetchError):
    """The address itself is unusable (scheme, syntax, credentials, unknown host)."""

    def __init__(self, message: str, *, reason: str = "invalid"):
        super().__init__(message)
        self.reason = reason  # "scheme", "credentials", "invalid", "unresolved"


class PrivateAddress(FetchError):
    def __init__(self, host: str):
        super().__init__(f'The address "{host}" points to a private or local network.')
        self.host = host


class TooLarge(FetchError):
    def __init__(self, size: int | None, limit: int):
        got = f" ({_megabytes(size)})" if size is not None else ""
        super().__init__(f"The answer is too big{got}. The limit is {_megabytes(limit)}.")
        self.size = size
        self.limit = limit


class HTTPStatusError(FetchError):
    def __init__(self, status: int, host: str):
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = ""
        self.code = f"HTTP {status} {phrase}".strip()
        super().__init__(f"The server {host} answered with an error ({self.code}).")
        self.status = status
        self.host = host


class NoAnswer(FetchError):
    """A POST was sent but no answer came (timeout, dropped): the server may have taken it,
    so sending it again may duplicate it."""

    def __init__(self, host: str):
        super().__init__(f'Sent to "{host}", but it did not confirm in time.')
        self.host = host


class UnwantedContent(FetchError):
    """The answer is a web page (HTML) where a data file was expected."""

    def __init__(self):
        super().__init__("The address answered with a web page, not a file.")


class TooManyRedirects(FetchError):
    def __init__(self, limit: int):
        super().__init__(f"The address redirected more than {limit} times.")
        self.limit = limit


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def _short(text: str, limit: int = 60) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --------------------------------------------------------------------------
# The address check
# --------------------------------------------------------------------------

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# IANA special-purpose blocks some Python versions still call global (their `is_global` table
# lags the registry): IETF protocol assignments, the old 6to4 relay, IPv6 benchmarking,
# documentation, segment routing, ORCHIDs and the local-use NAT64 prefix.
_SPECIAL_PURPOSE = tuple(
    ipaddress.ip_network(block)
    for block in (
        "0.0.0.0/8",
        "192.0.0.0/24",
        "192.88.99.0/24",
        "198.18.0.0/15",
        "240.0.0.0/4",
        "64:ff9b:1::/48",
        "100::/64",
        "2001::/23",
        "2001:db8::/32",
        "3fff::/20",
        "5f00::/16",
    )
)
# What tests and development may reach on top of public addresses (ONEHAND_ICS_ALLOW_PRIVATE).
_LOCAL = tuple(
    ipaddress.ip_network(block)
    for block in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
)


def is_public_address(address: str | ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether an IP address is a public, routable unicast address.

    False for private, loopback, link-local, multicast, reserved, unspecified
    and shared (CGNAT) addresses, IPv4 and IPv6, including IPv4 addresses
    wrapped in IPv6 (IPv4-mapped, NAT64 well-known prefix, 6to4).
    """
    ip = _unwrapped(address)
    return not (
        any(ip in block for block in _SPECIAL_PURPOSE if block.version == ip.version)
        or ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


def _unwrapped(address: str | ipaddress.IPv4Address | ipaddress.IPv6Address):
    """The address, or the IPv4 address wrapped in it (IPv4-mapped, NAT64, 6to4)."""
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address):
        ip = ipaddress.IPv6Address(int(ip))  # drop any %scope
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        elif ip in _NAT64:
            ip = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        elif ip.sixtofour is not None:
            ip = ip.sixtofour
    return ip


def _allowed(address: str, *, allow_private: bool) -> bool:
    """Public; with ``allow_private`` (tests, development) also loopback and private ranges,
    never the other special-purpose blocks."""
    if is_public_address(address):
        return True
    if not allow_private:
        return False
    ip = _unwrapped(address)
    return ip.is_loopback or any(ip in block for block in _LOCAL if block.version == ip.version)


def _resolve(host: str, port: int) -> list[str]:
    """All addresses of ``host`` (a name or an IP literal)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[str] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        if sockaddr[0] not in addresses:
            addresses.append(sockaddr[0])
    return addresses


@dataclass(frozen=True)
class Target:
    """A checked address: connect only to ``addresses``, send ``host`` as the name."""

    url: str
    scheme: str  # "http" or "https"
    host: str  # ASCII (IDNA) host name or IP literal
    port: int
    path: str  # path and query, escaped
    addresses: tuple[str, ...]  # vetted IP addresses, in resolver order


def check_url(
    url: str,
    *,
    allow_private: bool,
    schemes: tuple[str, ...] = ("http", "https", "webcal"),
) -> Target:
    """Parse, resolve once and vet an address; raise :class:`FetchError` subclasses."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        host = parts.hostname
        port = parts.port
    except ValueError as error:
        raise BadAddress(f'"{_short(url)}" is not a valid address.') from error
    if scheme not in schemes:
        raise BadAddress("That kind of address is not supported.", reason="scheme")
    if scheme == "webcal":
        scheme = "https"
    if not host:
        raise BadAddress(f'"{_short(url)}" is not a valid address.')
    if parts.username is not None or parts.password is not None:
        raise BadAddress(
            "Addresses with a user name or password are not supported.", reason="credentials"
        )
    try:
        host = host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError as error:
        raise BadAddress(f'"{_short(host)}" is not a valid host name.') from error
    if port == 0:
        raise BadAddress(f'"{_short(url)}" is not a valid address (port 0).')
    port = port or (443 if scheme == "https" else 80)
    # Pasted addresses may hold spaces or non-ASCII text; keep existing escapes.
    path = quote(parts.path or "/", safe="/:@!$&'()*+,;=%~")
    if parts.query:
        path += "?" + quote(parts.query, safe="/:@!$&'()*+,;=%~?")
    try:
        addresses = _resolve(host, port)
    except (OSError, UnicodeError, ValueError) as error:
        raise BadAddress(
            f'Could not find the server "{host}". Check the address for typos.',
            reason="unresolved",
        ) from error
    if not addresses:
        raise BadAddress(f'Could not find the server "{host}".', reason="unresolved")
    if not all(_allowed(a, allow_private=allow_private) for a in addresses):
        raise PrivateAddress(host)
    return Target(url, scheme, host, port, path, tuple(addresses))


# --------------------------------------------------------------------------
# Pinned connections
# --------------------------------------------------------------------------


def _ssl_context() -> ssl.SSLContext:
    return ssl.create_default_context()


class _Deadline:
    """One hard deadline for a whole fetch: at that moment the open socket is shut down.

    A blocked ``recv`` (plain or TLS) then returns at once; :attr:`expired` tells the
    caller that the short or failed read was the deadline, not the server.
    """

    def __init__(self, seconds: float):
        self.at = time.monotonic() + seconds
        self.expired = False
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def remaining(self) -> float:
        left = self.at - time.monotonic()
        if left <= 0:
            self.expired = True
            raise TimeoutError
        return left

    def watch(self, sock: socket.socket | None) -> None:
        with self._lock:
            self._sock = sock
            if self.expired and sock is not None:
                _shut(sock)

    def _fire(self) -> None:
        with self._lock:
            self.expired = True
            if self._sock is not None:
                _shut(self._sock)

    def cancel(self) -> None:
        self._timer.cancel()


def _shut(sock: socket.socket) -> None:
    # The plain-socket shutdown, also for a TLS socket (same descriptor): no TLS
    # close_notify exchange, which could itself block.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to vetted addresses while sending the original Host header."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        addresses: tuple[str, ...],
        timeout: float,
        deadline: _Deadline,
    ):
        super().__init__(host, port, timeout=timeout)
        self._addresses = addresses
        self._deadline = deadline

    def connect(self) -> None:
        error: OSError | None = None
        for address in self._addresses:
            try:
                wait = min(self.timeout, self._deadline.remaining())
                self.sock = socket.create_connection((address, self.port), wait)
            except OSError as exc:
                error = exc
                continue
            self._deadline.watch(self.sock)
            return
        raise error or OSError("no address to connect to")


class _PinnedHTTPSConnection(_PinnedHTTPConnection):
    default_port = 443

    def __init__(self, host: str, port: int, **kwargs):
        super().__init__(host, port, **kwargs)
        self._context = _ssl_context()

    def connect(self) -> None:
        super().connect()
        # SNI and certificate check use the name from the URL, not the IP.
        self.sock = self._context.wrap_socket(self.sock, server_hostname=self.host)
        self._deadline.watch(self.sock)


def _looks_like_html(body: bytes) -> bool:
    return body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"<"


def fetch(
    url: str,
    *,
    max_bytes: int,
    timeout: float = 10.0,
    total_timeout: float | None = None,
    allow_private: bool = False,
    accept: str = "*/*",
    refuse_html: bool = True,
    user_agent: str = "Onehand",
    schemes: tuple[str, ...] = ("http", "https", "webcal"),
) -> bytes:
    """GET ``url`` through the guard and return the body.

    ``timeout`` bounds each network operation; the whole exchange (all hops, from
    connecting to the last byte) ends at ``total_timeout`` (default three times
    ``timeout``) whatever the server does.  Raises :class:`FetchError`.
    """
    deadline = _Deadline(3 * timeout if total_timeout is None else total_timeout)
    host = ""
    try:
        for _hop in range(MAX_REDIRECTS + 1):
            target = check_url(url, allow_private=allow_private, schemes=schemes)
            host = target.host
            try:
                body, location = _exchange(
                    target,
                    max_bytes=max_bytes,
                    timeout=timeout,
                    deadline=deadline,
                    accept=accept,
                    refuse_html=refuse_html,
                    user_agent=user_agent,
                )
            except FetchError:
                if deadline.expired:
                    raise _too_slow(host) from None
                raise
            except Exception as error:
                if deadline.expired:
                    raise _too_slow(host) from error
                raise _network_error(error, host) from error
            if deadline.expired:  # a body cut short by the deadline is not a body
                raise _too_slow(host)
            if location is not None:
                url = urljoin(url, location.strip())
                continue
            if refuse_html and _looks_like_html(body):
                raise UnwantedContent
            return body
    finally:
        deadline.cancel()
    raise TooManyRedirects(MAX_REDIRECTS)


def post(
    url: str,
    *,
    body: bytes,
    content_type: str,
    max_bytes: int = 64 * 1024,
    timeout: float = 10.0,
    allow_private: bool = False,
    user_agent: str = "Onehand",
    schemes: tuple[str, ...] = ("https",),
) -> bytes:
    """POST ``body`` to ``url`` through the same guard as :func:`fetch` (one vetted, pinned
    address, one overall deadline of three times ``timeout``, a capped answer) and return
    the answer's body. Redirects are not followed (a webhook that moved is an error: the
    body must not be re-sent elsewhere). Raises :class:`FetchError`; an HTTP error answer is
    :class:`HTTPStatusError` with its ``status``."""
    deadline = _Deadline(3 * timeout)
    target = check_url(url, allow_private=allow_private, schemes=schemes)
    try:
        answer, location = _exchange(
            target,
            max_bytes=max_bytes,
            timeout=timeout,
            deadline=deadline,
            accept="*/*",
            refuse_html=False,
            user_agent=user_agent,
            method="POST",
            body=body,
            content_type=content_type,
        )
    except NoAnswer:
        raise
    except FetchError:
        if deadline.expired:
            raise _too_slow(target.host) from None
        raise
    except Exception as error:
        if deadline.expired:
            raise _too_slow(target.host) from error
        raise _network_error(error, target.host) from error
    finally:
        deadline.cancel()
    if location is not None:
        raise HTTPStatusError(307, target.host)
    return answer


def _too_slow(host: str) -> FetchError:
    return FetchError(f'The server "{host}" did not answer in time. Try again later.')


def _network_error(error: Exception, host: str) -> FetchError:
    if isinstance(error, ssl.SSLCertVerificationError):
        return FetchError(
            f'The secure connection to "{host}" failed: its certificate could not be verified.'
        )
    if isinstance(error, ssl.SSLError):
        return FetchError(f'The secure connection to "{host}" failed.')
    if isinstance(error, TimeoutError):
        return _too_slow(host)
    if isinstance(error, ConnectionRefusedError):
        return FetchError(f'Could not connect to "{host}" (connection refused). Check the address.')
    if isinstance(error, http.client.HTTPException):
        return FetchError(f'The server "{host}" did not give a valid web (HTTP) answer.')
    if isinstance(error, OSError):
        reason = error.strerror or type(error).__name__
        return FetchError(f'Could not connect to "{host}" ({reason}).')
    raise error


def _exchange(
    target: Target,
    *,
    max_bytes: int,
    timeout: float,
    deadline: _Deadline,
    accept: str,
    refuse_html: bool,
    user_agent: str,
    method: str = "GET",
    body: bytes | None = None,
    content_type: str = "",
) -> tuple[bytes, str | None]:
    """One request and answer: (body, None), or (b"", Location) for a redirect."""
    connection_class = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = connection_class(
        target.host, target.port, addresses=target.addresses, timeout=timeout, deadline=deadline
    )
    try:
        headers = {"Accept": accept, "Accept-Encoding": "identity", "User-Agent": user_agent}
        if content_type:
            headers["Content-Type"] = content_type
        connection.request(method, target.path, body=body, headers=headers)
        try:
            response = connection.getresponse()
        except Exception as error:
            if method == "POST":
                # Sent: the server may have taken it; a caller must not simply send it again.
                raise NoAnswer(target.host) from error
            raise
        status = response.status
        location = response.getheader("Location")
        if status in REDIRECT_STATUSES and location:
            return b"", location
        if not 200 <= status < 300:
            raise HTTPStatusError(status, target.host)
        content_type = (response.getheader("Content-Type") or "").lower()
        if refuse_html and "html" in content_type.split(";", 1)[0]:
            raise UnwantedContent
        length = response.getheader("Content-Length")
        if length and length.strip().isdigit() and int(length) > max_bytes:
            raise TooLarge(int(length), max_bytes)
        chunks: list[bytes] = []
        total = 0
        while chunk := response.read(64 * 1024):
            total += len(chunk)
            if total > max_bytes:
                raise TooLarge(None, max_bytes)
            deadline.remaining()
            chunks.append(chunk)
        return b"".join(chunks), None
    finally:
        deadline.watch(None)
        connection.close()


def pinned_resolver(target: Target) -> str:
    """A niquests/urllib3-future resolver spec that answers only ``target.host``.

    Handing it to a ``niquests.Session(resolver=...)`` pins that client to the
    vetted addresses; any other host name or address (a redirect elsewhere) fails to
    resolve.  An IP literal is listed as itself: the resolver answers nothing else.
    """
    hosts = ",".join(
        f"{target.host}:{f'[{address}]' if ':' in address else address}"
        for address in target.addresses
    )
    return f"in-memory://default/?hosts={hosts}"
