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
* caps the body (declared and streamed) and the total time, and refuses HTML
  when a caller asks for a data file.

This module is the bottom layer: stdlib and third-party only, nothing from the apps.
Errors are :class:`FetchError` subclasses whose message is safe to show; callers
with their own wording (calendar import) read the attributes instead.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import quote, urljoin, urlsplit

__all__ = [
    "MAX_REDIRECTS",
    "BadAddress",
    "FetchError",
    "HTTPStatusError",
    "PrivateAddress",
    "Target",
    "TooLarge",
    "TooManyRedirects",
    "UnwantedContent",
    "check_url",
    "fetch",
    "is_public_address",
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


def is_public_address(address: str | ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether an IP address is a public, routable unicast address.

    False for private, loopback, link-local, multicast, reserved, unspecified
    and shared (CGNAT) addresses, IPv4 and IPv6, including IPv4 addresses
    wrapped in IPv6 (IPv4-mapped, NAT64 well-known prefix, 6to4).
    """
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address):
        ip = ipaddress.IPv6Address(int(ip))  # drop any %scope
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        elif ip in _NAT64:
            ip = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        elif ip.sixtofour is not None:
            ip = ip.sixtofour
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


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
    port = port or (443 if scheme == "https" else 80)
    # Pasted addresses may hold spaces or non-ASCII text; keep existing escapes.
    path = quote(parts.path or "/", safe="/:@!$&'()*+,;=%~")
    if parts.query:
        path += "?" + quote(parts.query, safe="/:@!$&'()*+,;=%~?")
    try:
        addresses = _resolve(host, port)
    except (OSError, UnicodeError) as error:
        raise BadAddress(
            f'Could not find the server "{host}". Check the address for typos.',
            reason="unresolved",
        ) from error
    if not addresses:
        raise BadAddress(f'Could not find the server "{host}".', reason="unresolved")
    if not allow_private and not all(is_public_address(a) for a in addresses):
        raise PrivateAddress(host)
    return Target(url, scheme, host, port, path, tuple(addresses))


# --------------------------------------------------------------------------
# Pinned connections
# --------------------------------------------------------------------------


def _ssl_context() -> ssl.SSLContext:
    return ssl.create_default_context()


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to vetted addresses while sending the original Host header."""

    def __init__(self, host: str, port: int, *, addresses: tuple[str, ...], timeout: float):
        super().__init__(host, port, timeout=timeout)
        self._addresses = addresses

    def connect(self) -> None:
        error: OSError | None = None
        for address in self._addresses:
            try:
                self.sock = socket.create_connection((address, self.port), self.timeout)
            except OSError as exc:
                error = exc
                continue
            return
        raise error or OSError("no address to connect to")


class _PinnedHTTPSConnection(_PinnedHTTPConnection):
    default_port = 443

    def __init__(self, host: str, port: int, *, addresses: tuple[str, ...], timeout: float):
        super().__init__(host, port, addresses=addresses, timeout=timeout)
        self._context = _ssl_context()

    def connect(self) -> None:
        super().connect()
        # SNI and certificate check use the name from the URL, not the IP.
        self.sock = self._context.wrap_socket(self.sock, server_hostname=self.host)


def _looks_like_html(body: bytes) -> bool:
    return body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"<"


def fetch(
    url: str,
    *,
    max_bytes: int,
    timeout: float = 10.0,
    allow_private: bool = False,
    accept: str = "*/*",
    refuse_html: bool = True,
    user_agent: str = "Onehand",
    schemes: tuple[str, ...] = ("http", "https", "webcal"),
) -> bytes:
    """GET ``url`` through the guard and return the body.

    ``timeout`` bounds each network operation; the whole download (all hops)
    must finish within three times that.  Raises :class:`FetchError`.
    """
    deadline = time.monotonic() + 3 * timeout
    for _hop in range(MAX_REDIRECTS + 1):
        target = check_url(url, allow_private=allow_private, schemes=schemes)
        host = target.host
        connection_class = (
            _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
        )
        connection = connection_class(
            host, target.port, addresses=target.addresses, timeout=timeout
        )
        chunks: list[bytes] = []
        try:
            try:
                connection.request(
                    "GET",
                    target.path,
                    headers={
                        "Accept": accept,
                        "Accept-Encoding": "identity",
                        "User-Agent": user_agent,
                    },
                )
                response = connection.getresponse()
                status = response.status
                location = response.getheader("Location")
                if status in REDIRECT_STATUSES and location:
                    url = urljoin(url, location.strip())
                    continue
                if not 200 <= status < 300:
                    raise HTTPStatusError(status, host)
                content_type = (response.getheader("Content-Type") or "").lower()
                if refuse_html and "html" in content_type.split(";", 1)[0]:
                    raise UnwantedContent
                length = response.getheader("Content-Length")
                if length and length.strip().isdigit() and int(length) > max_bytes:
                    raise TooLarge(int(length), max_bytes)
                total = 0
                while chunk := response.read(64 * 1024):
                    total += len(chunk)
                    if total > max_bytes:
                        raise TooLarge(None, max_bytes)
                    if time.monotonic() > deadline:
                        raise TimeoutError
                    chunks.append(chunk)
            except ssl.SSLCertVerificationError as error:
                raise FetchError(
                    f'The secure connection to "{host}" failed: its certificate '
                    "could not be verified."
                ) from error
            except ssl.SSLError as error:
                raise FetchError(f'The secure connection to "{host}" failed.') from error
            except TimeoutError as error:
                raise FetchError(
                    f'The server "{host}" did not answer in time. Try again later.'
                ) from error
            except ConnectionRefusedError as error:
                raise FetchError(
                    f'Could not connect to "{host}" (connection refused). Check the address.'
                ) from error
            except http.client.HTTPException as error:
                raise FetchError(
                    f'The server "{host}" did not give a valid web (HTTP) answer.'
                ) from error
            except OSError as error:
                reason = error.strerror or type(error).__name__
                raise FetchError(f'Could not connect to "{host}" ({reason}).') from error
        finally:
            connection.close()
        body = b"".join(chunks)
        if refuse_html and _looks_like_html(body):
            raise UnwantedContent
        return body
    raise TooManyRedirects(MAX_REDIRECTS)


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
