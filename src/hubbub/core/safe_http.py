"""Server-side HTTP to URLs that come from users or configuration, guarded against SSRF.

A Mastodon instance's address, an RSS feed, a webhook: whoever typed the URL
could point it at something only Hubbub's server can reach (the cloud
metadata service at 169.254.169.254, a database on 10.0.0.5, an admin page on
localhost). Every such fetch goes through `request`, which

- accepts only http and https URLs without a user name or password in them;
- resolves the host name once and refuses it if any of its addresses is not
  public, unless the operator allowed it (HUBBUB_SAFE_HTTP_ALLOW);
- connects to the very address it checked (pins it), so a DNS answer that
  changes between the check and the connection (DNS rebinding) cannot send it
  elsewhere, while the Host header and the TLS certificate check still use
  the host name;
- follows redirects itself, checking every hop like the first URL;
- caps the size of the body and the time the whole call takes.
"""

from __future__ import annotations

import email.message
import ipaddress
import json
import socket
import ssl
import threading
import time
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from django.conf import settings

from hubbub.core.errors import HubbubError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# Web ports: anything else on a public host is more likely a probe than a feed.
_PORTS = frozenset({80, 443})
# The caller's credentials for one origin: never sent on to another after a redirect.
_CREDENTIAL_HEADERS = ("authorization", "proxy-authorization", "cookie")
# NAT64 (RFC 6052) maps all of IPv4, private ranges included, into this prefix.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class FetchError(HubbubError):
    """A server-side fetch did not produce a response Hubbub can use."""

    status = 502
    default_code = "fetch_failed"


class UnsafeUrl(FetchError):
    """The URL is not one Hubbub fetches (scheme, credentials in it, no host)."""

    status = 422
    default_code = "unsafe_url"


class BlockedAddress(UnsafeUrl):
    """The host is, or resolves to, an address that is not public and not allowed."""

    default_code = "blocked_address"


class FetchFailed(FetchError):
    """DNS, connection, TLS or HTTP trouble, or too many redirects."""


class ResponseTooLarge(FetchError):
    default_code = "response_too_large"


class FetchTimedOut(FetchError):
    status = 504
    default_code = "fetch_timed_out"


@dataclass(frozen=True, slots=True)
class SafeResponse:
    """A response read to its end; `url` is the final URL, after any redirects."""

    status_code: int
    headers: httpx.Headers
    content: bytes
    url: str

    @property
    def text(self) -> str:
        """The body decoded with the charset the server declared, else UTF-8."""
        message = email.message.Message()
        message["content-type"] = self.headers.get("content-type", "")
        charset = message.get_content_charset() or "utf-8"
        try:
            return self.content.decode(charset, errors="replace")
        except LookupError:  # A charset Python does not know.
            return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON; raises ValueError if it is not JSON."""
        return json.loads(self.content)


def request(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    json: Any = None,
    data: Mapping[str, Any] | None = None,
    content: bytes | None = None,
    timeout: float = 10.0,
    max_bytes: int = 5_000_000,
    max_redirects: int = 3,
    allow_hosts: Collection[str] | None = None,
) -> SafeResponse:
    """Make one HTTP request to a URL Hubbub did not choose itself, and read the whole answer.

    Send a body as `json`, form fields (`data`) or exact bytes (`content`, for
    signed webhooks). Redirects are followed for GET and HEAD only, at most
    `max_redirects` of them, each checked like the first URL; any other
    method gets the 3xx response back. Authorization and Cookie headers are
    dropped when a redirect leaves the origin.

    `timeout` bounds the whole call, redirects and body included: each network
    wait is capped at the time left, and the time left is checked between
    waits. (A DNS lookup is bounded only by the system resolver.) A server
    that sends the body slowly is cut off at the deadline, not when it pauses.

    `allow_hosts` adds host names, addresses and ranges to the operator's
    HUBBUB_SAFE_HTTP_ALLOW: those may be private. The address is pinned
    either way.

    Raises UnsafeUrl (BlockedAddress for an address that is not public),
    ResponseTooLarge, FetchTimedOut, or FetchFailed for anything else (DNS,
    connection, TLS, too many redirects); all of them are FetchError.
    """
    method = method.upper()
    allowed = _allow_list(allow_hosts)
    target = _parse(url)
    deadline = _Deadline(timeout, target.url.host)
    outgoing = httpx.Headers(headers)
    body = _Body(json=json, data=data, content=content)
    for _ in range(max_redirects + 1):
        with _open(
            method, target, headers=outgoing, body=body, allowed=allowed, deadline=deadline
        ) as response:
            location = _redirect_location(method, response)
            if location is None:
                return SafeResponse(
                    status_code=response.status_code,
                    headers=response.headers,
                    content=_read_capped(response, target, max_bytes=max_bytes, deadline=deadline),
                    url=str(target.url),
                )
        following = _parse(target.url.join(location))
        if following.origin != target.origin:
            outgoing = _without_credentials(outgoing)
        target, body = following, _Body()
    raise FetchFailed(
        f"{deadline.host} redirected more than {max_redirects} times.",
        code="too_many_redirects",
    )


@contextmanager
def stream(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    connect_timeout: float = 10.0,
    read_timeout: float = 60.0,
    allow_hosts: Collection[str] | None = None,
) -> Iterator[httpx.Response]:
    """A response to read as it arrives (server-sent events): checked and pinned like
    `request`, but open-ended. Each wait for data is capped at `read_timeout`
    (a stream with heartbeats never waits that long). Redirects are not
    followed: the caller gets the 3xx response. Raises what `request` raises.
    """
    target = _parse(url)
    deadline = _Deadline(connect_timeout, target.url.host)
    timeouts = httpx.Timeout(connect_timeout, read=read_timeout)
    with _open(
        method.upper(),
        target,
        headers=httpx.Headers(headers),
        body=_Body(),
        allowed=_allow_list(allow_hosts),
        deadline=deadline,
        timeouts=timeouts,
    ) as response:
        try:
            yield response
        except httpx.TimeoutException as error:
            raise FetchTimedOut(
                f"{target.url.host} sent nothing for {read_timeout:g} seconds."
            ) from error
        except httpx.HTTPError as error:
            raise FetchFailed(f"The stream from {target.url.host} broke: {error}") from error


def open_connection(
    url: str, *, timeout: float = 10.0, allow_hosts: Collection[str] | None = None
) -> tuple[socket.socket, str]:
    """A TCP connection to a checked address of the URL's host, for a WebSocket client.

    ws:// and wss:// are checked as http:// and https://. Returns the
    connected socket and the host name that TLS must verify (the caller
    wraps the socket, or hands it to its WebSocket library with that name).
    """
    scheme, _, rest = url.partition("://")
    web = {"ws": "http", "wss": "https"}.get(scheme.lower(), scheme)
    target = _parse(f"{web}://{rest}")
    allowed = _allow_list(allow_hosts)
    addresses = _resolve(target)
    _check_addresses(target, addresses, allowed)
    failure: OSError | None = None
    for address in addresses:
        try:
            connection = socket.create_connection((str(address), target.port), timeout=timeout)
        except OSError as error:
            failure = error
            continue
        connection.settimeout(None)
        return connection, target.host
    raise FetchFailed(f"Could not connect to {target.url.host}: {failure}")


def check_url(url: str, *, allow_hosts: Collection[str] | None = None) -> None:
    """Raise UnsafeUrl (or BlockedAddress) unless `request` would connect to `url` now.

    For telling a user at once that the URL they saved will not work.
    `request` checks again on every fetch, because DNS answers change.
    Raises FetchFailed if the host name does not resolve.
    """
    target = _parse(url)
    _check_addresses(target, _resolve(target), _allow_list(allow_hosts))


def is_public_address(address: IPAddress) -> bool:
    """Whether `address` is a public unicast address: one anyone on the internet can reach.

    Python's `is_global` alone is not enough: it counts multicast, the old
    IPv6 site-local range, and IPv6 forms that carry an IPv4 address (mapped,
    6to4, NAT64) as global whatever the IPv4 address inside them.
    """
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return is_public_address(embedded)
        if address.is_site_local:
            return False
    return address.is_global and not (address.is_multicast or address.is_reserved)


@dataclass(frozen=True, slots=True)
class _Target:
    url: httpx.URL
    host: str  # ASCII (IDNA) form, IPv6 without brackets: what DNS and TLS see.
    port: int

    @property
    def origin(self) -> tuple[str, str, int]:
        return (self.url.scheme, self.host, self.port)


@dataclass(frozen=True, slots=True)
class _Body:
    json: Any = None
    data: Mapping[str, Any] | None = None
    content: bytes | None = None


@dataclass(frozen=True, slots=True)
class _AllowList:
    names: frozenset[str]
    networks: tuple[IPNetwork, ...]

    def allows_name(self, target: _Target) -> bool:
        return bool({target.host.rstrip("."), target.url.host.rstrip(".")} & self.names)

    def allows_address(self, address: IPAddress) -> bool:
        return any(address in network for network in self.networks)


class _Deadline:
    def __init__(self, seconds: float, host: str) -> None:
        self.seconds = seconds
        self.host = host
        self._end = time.monotonic() + seconds

    def remaining(self) -> float:
        """Seconds left; raises FetchTimedOut when there are none."""
        left = self._end - time.monotonic()
        if left <= 0:
            raise self.expired()
        return left

    def expired(self) -> FetchTimedOut:
        return FetchTimedOut(
            f"{self.host} gave no complete answer within {self.seconds:g} seconds."
        )


def _parse(url: str | httpx.URL) -> _Target:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as error:
        raise UnsafeUrl(f"That is not a valid URL: {error}") from error
    if parsed.scheme not in {"http", "https"}:
        kind = f"{parsed.scheme}:" if parsed.scheme else "Relative"
        raise UnsafeUrl(f"{kind} URLs are not fetched; Hubbub fetches http:// and https:// only.")
    # Messages name the host, never the whole URL: paths and query strings
    # of webhook URLs hold secrets, and these messages get logged.
    if parsed.userinfo:
        raise UnsafeUrl(
            f"The URL for {parsed.host} has a user name or password in it; "
            "Hubbub does not send credentials that way."
        )
    host = parsed.raw_host.decode("ascii")
    if not host:
        raise UnsafeUrl("That URL has no host name.")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    return _Target(url=parsed.copy_with(fragment=None), host=host, port=port)


def _allow_list(extra: Collection[str] | None) -> _AllowList:
    """HUBBUB_SAFE_HTTP_ALLOW plus the caller's `allow_hosts`: names, addresses and ranges."""
    names: set[str] = set()
    networks: list[IPNetwork] = []
    for entry in (*settings.HUBBUB_SAFE_HTTP_ALLOW, *(extra or ())):
        item = entry.strip().lower().rstrip(".")
        try:
            networks.append(ipaddress.ip_network(item.strip("[]"), strict=False))
        except ValueError:
            if "/" in item:
                raise ValueError(
                    f"{entry!r} (HUBBUB_SAFE_HTTP_ALLOW or allow_hosts) is not an address range"
                ) from None
            names.add(item)
    return _AllowList(names=frozenset(names), networks=tuple(networks))


def _resolve(target: _Target) -> list[IPAddress]:
    """The host's addresses, in the resolver's order of preference."""
    try:
        return [ipaddress.ip_address(target.host)]
    except ValueError:
        pass
    try:
        answers = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise FetchFailed(
            f"{target.url.host} could not be resolved: {error}", code="unresolvable"
        ) from error
    addresses = list(
        dict.fromkeys(
            ipaddress.ip_address(str(answer[4][0]))
            for answer in answers
            if answer[0] in (socket.AF_INET, socket.AF_INET6)
        )
    )
    if not addresses:
        raise FetchFailed(f"{target.url.host} has no IP address.", code="unresolvable")
    return addresses


def _check_addresses(target: _Target, addresses: list[IPAddress], allowed: _AllowList) -> None:
    """Raise BlockedAddress unless every address may be connected to (and UnsafeUrl for a
    port other than 80 and 443, unless allowed).

    Every address, not just the one we will use: a name with one public and
    one private address is a rebinding trick or a mistake, either way not
    something to connect to.
    """
    if allowed.allows_name(target):
        return
    for address in addresses:
        if not (is_public_address(address) or allowed.allows_address(address)):
            host = target.url.host
            where = f"{host} is" if host == str(address) else f"{host} resolves to {address},"
            raise BlockedAddress(
                f"{where} {_kind(address)}; Hubbub only connects to public addresses "
                "(an operator can allow others with HUBBUB_SAFE_HTTP_ALLOW)."
            )
    if target.port not in _PORTS and not all(allowed.allows_address(a) for a in addresses):
        raise UnsafeUrl(
            f"{target.url.host} on port {target.port}: Hubbub connects to ports 80 and 443 "
            "only (an operator can allow a host with HUBBUB_SAFE_HTTP_ALLOW)."
        )


def _kind(address: IPAddress) -> str:
    if isinstance(address, ipaddress.IPv6Address):
        address = _embedded_ipv4(address) or address
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_private:
        return "a private address"
    return "not a public address"


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for, where packets to it end up there."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)
    return None


@contextmanager
def _open(
    method: str,
    target: _Target,
    *,
    headers: httpx.Headers,
    body: _Body,
    allowed: _AllowList,
    deadline: _Deadline,
    timeouts: httpx.Timeout | None = None,
) -> Iterator[httpx.Response]:
    """Send one request to a checked address of `target`, and stream its response.

    `timeouts` replaces the deadline's for a response read as a stream.
    """
    with _translating_errors(target, deadline):
        addresses = _resolve(target)
        _check_addresses(target, addresses, allowed)
        failures: list[httpx.ConnectError] = []
        # Like a browser, go on to the next address when one cannot be reached
        # (an IPv6 address on a server without IPv6, say): nothing was sent yet.
        for address in addresses:
            # A client per hop: a pooled connection was verified for one host name only.
            with httpx.Client(trust_env=False, verify=_tls_context()) as client:
                pinned = _pinned_request(
                    client, method, target, address, headers, body, timeouts or deadline.remaining()
                )
                try:
                    response = client.send(pinned, stream=True)
                except httpx.ConnectError as error:
                    failures.append(error)
                    continue
                try:
                    yield response
                finally:
                    response.close()
                return
        raise failures[-1]


def _pinned_request(
    client: httpx.Client,
    method: str,
    target: _Target,
    address: IPAddress,
    headers: httpx.Headers,
    body: _Body,
    timeout: float | httpx.Timeout,
) -> httpx.Request:
    """A request sent to `address` that otherwise reads as one to `target`'s host name.

    The URL names the address, so httpx connects there without resolving
    anything. The Host header carries the name for virtual hosting, and
    `sni_hostname` the name for TLS: httpcore passes it to
    `ssl_context.wrap_socket(server_hostname=...)`, which both sends it as SNI
    and checks the certificate against it.
    """
    named = httpx.Headers(headers)
    named["Host"] = target.url.netloc.decode("ascii")
    return client.build_request(
        method,
        target.url.copy_with(host=str(address)),
        headers=named,
        json=body.json,
        data=body.data,
        content=body.content,
        timeout=timeout,
        extensions={"sni_hostname": target.host},
    )


@contextmanager
def _translating_errors(target: _Target, deadline: _Deadline) -> Iterator[None]:
    try:
        yield
    except httpx.TimeoutException as error:
        raise deadline.expired() from error
    except httpx.HTTPError as error:
        raise FetchFailed(f"Could not fetch from {target.url.host}: {error}") from error


_contexts = threading.local()


def _tls_context() -> ssl.SSLContext:
    """The certificate authorities fetches trust: httpx's default (certifi).

    One context per thread: httpcore sets ALPN on the context for each
    connection, which is not safe on a context shared between threads, and
    loading the certificate bundle anew costs tens of milliseconds a request.
    Tests replace this to trust their own certificate.
    """
    context: ssl.SSLContext | None = getattr(_contexts, "context", None)
    if context is None:
        context = _contexts.context = httpx.create_ssl_context()
    return context


def _redirect_location(method: str, response: httpx.Response) -> str | None:
    if method not in {"GET", "HEAD"} or response.status_code not in _REDIRECT_STATUSES:
        return None
    location: str | None = response.headers.get("location")
    return location


def _read_capped(
    response: httpx.Response, target: _Target, *, max_bytes: int, deadline: _Deadline
) -> bytes:
    """The decoded body; more than `max_bytes` of it raises ResponseTooLarge."""
    too_large = ResponseTooLarge(
        f"{target.url.host} sent more than {max_bytes:,} bytes, the most Hubbub reads here."
    )
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise too_large
    received = bytearray()
    for chunk in response.iter_bytes():
        received += chunk
        if len(received) > max_bytes:
            raise too_large
        deadline.remaining()
    return bytes(received)


def _without_credentials(headers: httpx.Headers) -> httpx.Headers:
    kept = httpx.Headers(headers)
    for name in _CREDENTIAL_HEADERS:
        kept.pop(name, None)
    return kept
