"""TCP and TLS to a mail server an admin named, guarded like every other outbound connection.

The IMAP and SMTP hosts are typed into a settings page, so Hubbub must not
become a way to reach what only its server can reach (the cloud metadata
service, a database on 10.0.0.5, an admin port on localhost). The rules are
`core.safe_http`'s, with mail ports instead of web ports:

- the host is resolved once, and refused if any of its addresses is not
  public, unless the operator allowed the host, its address or its range
  (HUBBUB_SAFE_HTTP_ALLOW) or the caller did (`allow_hosts`);
- only the mail ports are used (25, 465, 587, 143, 993, 2525), except on a
  host allowed explicitly, where any port is (the tests' servers listen on
  random high ports of loopback);
- the socket connects to the very address that was checked (pinned), so a
  DNS answer that changes in between cannot send it elsewhere;
- TLS checks the certificate against the host NAME the admin typed, never
  against the pinned address.

Every refusal happens before anything is connected.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Collection
from enum import StrEnum

import httpx

from hubbub.connectors.base import ConnectorError
from hubbub.core import safe_http

MAIL_PORTS = frozenset({25, 465, 587, 143, 993, 2525})
# getaddrinfo's answers that mean the name has no address (rather than "DNS did not answer").
_NO_SUCH_NAME = frozenset({socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)})


class MailSecurity(StrEnum):
    """How a mail connection is encrypted."""

    TLS = "tls"  # TLS from the first byte (IMAP 993, SMTP 465).
    STARTTLS = "starttls"  # Plain text, then upgraded before the login (IMAP 143, SMTP 587).
    NONE = "none"  # Never encrypted: for a server on the same machine or network only.


class MailConnectionError(ConnectorError):
    """No usable connection to the mail server.

    `code` says why: "blocked_address", "blocked_port", "invalid_host",
    "unresolvable" (permanent until someone fixes the settings, except when DNS
    did not answer), "unreachable", "timed_out" (transient), or "tls_failed"
    (permanent for a certificate that does not fit, transient for a broken
    handshake).
    """


def connect_checked(
    host: str, port: int, *, timeout: float, allow_hosts: Collection[str] = ()
) -> socket.socket:
    """A TCP connection to a checked, pinned address of `host`, in blocking mode with `timeout`.

    Tries each checked address in the resolver's order until one answers.
    Raises MailConnectionError.
    """
    addresses = check_mail_host(host, port, allow_hosts=allow_hosts)
    failure: OSError | None = None
    for address in addresses:
        try:
            return socket.create_connection((str(address), port), timeout=timeout)
        except OSError as error:
            failure = error
    raise _connection_failed(host, port, failure, timeout)


def check_mail_host(
    host: str, port: int, *, allow_hosts: Collection[str] = ()
) -> list[safe_http.IPAddress]:
    """The addresses of `host` that `connect_checked` may use; raises MailConnectionError.

    Also for telling an admin at once that the host they saved will not be
    connected to. It resolves the name, so it can fail on DNS.
    """
    target = _target(host, port)
    try:
        addresses = safe_http._resolve(target)
    except safe_http.FetchError as error:
        raise _unresolvable(host, error) from error
    _check_addresses(target, addresses, safe_http._allow_list(allow_hosts))
    return addresses


def tls_context() -> ssl.SSLContext:
    """The certificate authorities mail connections trust: the system's.

    A function so that tests can trust their own authority instead.
    """
    return ssl.create_default_context(purpose=ssl.Purpose.SERVER_AUTH)


def wrap_tls(sock: socket.socket, host: str) -> ssl.SSLSocket:
    """`sock` with TLS on it, the certificate checked against `host` (the name, not the address).

    Closes the socket and raises MailConnectionError if the handshake fails.
    """
    try:
        return tls_context().wrap_socket(sock, server_hostname=host)
    except (OSError, ssl.SSLError) as error:
        sock.close()
        raise tls_failed(host, error) from error


def tls_failed(host: str, error: OSError) -> MailConnectionError:
    """The error for a TLS handshake with `host` that went wrong."""
    if isinstance(error, ssl.SSLCertVerificationError):
        return MailConnectionError(
            f"The mail server {host} showed a certificate Hubbub cannot trust "
            f"({error.verify_message}).",
            transient=False,
            code="tls_failed",
        )
    if isinstance(error, TimeoutError):
        return MailConnectionError(
            f"The mail server {host} did not finish the TLS handshake in time.",
            transient=True,
            code="timed_out",
        )
    return MailConnectionError(
        f"The TLS handshake with the mail server {host} failed ({error}).",
        transient=True,
        code="tls_failed",
    )


def _target(host: str, port: int) -> safe_http._Target:
    """`host` as safe_http sees it: the ASCII (IDNA) name, or the address."""
    name = host.strip()
    # Characters that would make the name mean something else in a URL are not
    # part of any host name; refusing them here keeps the check honest.
    if not name or any(c.isspace() or c in "/\\@?#%" for c in name):
        raise _invalid_host(host)
    if not 0 < port < 65536:
        raise MailConnectionError(
            f"{port} is not a port number.", transient=False, code="blocked_port"
        )
    try:
        url = httpx.URL(scheme="imap", host=name, port=port)
        ascii_host = url.raw_host.decode("ascii")
    except (httpx.InvalidURL, UnicodeError) as error:
        raise _invalid_host(host) from error
    return safe_http._Target(url=url, host=ascii_host, port=port)


def _invalid_host(host: str) -> MailConnectionError:
    return MailConnectionError(
        f"{host!r} is not a host name or address.", transient=False, code="invalid_host"
    )


def _unresolvable(host: str, error: safe_http.FetchError) -> MailConnectionError:
    """Permanent when DNS says the name does not exist; transient when DNS did not answer."""
    cause = error.__cause__
    no_such_name = isinstance(cause, socket.gaierror) and cause.errno in _NO_SUCH_NAME
    return MailConnectionError(
        f"The mail server {host} could not be found: check the host name."
        if no_such_name
        else f"The mail server {host} could not be looked up in DNS just now.",
        transient=not no_such_name,
        code="unresolvable",
    )


def _check_addresses(
    target: safe_http._Target,
    addresses: list[safe_http.IPAddress],
    allowed: safe_http._AllowList,
) -> None:
    """Refuse an address that is not public, or a port that is not a mail port, unless allowed.

    Every address, not just the one we will use: a name with one public and
    one private address is a rebinding trick or a mistake.
    """
    if allowed.allows_name(target):
        return
    host = target.url.host
    for address in addresses:
        if not (safe_http.is_public_address(address) or allowed.allows_address(address)):
            where = f"{host} is" if host == str(address) else f"{host} resolves to {address},"
            raise MailConnectionError(
                f"{where} {safe_http._kind(address)}; Hubbub only connects to public mail "
                "servers (an operator can allow others with HUBBUB_SAFE_HTTP_ALLOW).",
                transient=False,
                code="blocked_address",
            )
    if target.port not in MAIL_PORTS and not all(allowed.allows_address(a) for a in addresses):
        ports = ", ".join(str(port) for port in sorted(MAIL_PORTS))
        raise MailConnectionError(
            f"{host} on port {target.port}: Hubbub connects to the mail ports only ({ports}; "
            "an operator can allow a host with HUBBUB_SAFE_HTTP_ALLOW).",
            transient=False,
            code="blocked_port",
        )


def _connection_failed(
    host: str, port: int, error: OSError | None, timeout: float
) -> MailConnectionError:
    if isinstance(error, TimeoutError):
        return MailConnectionError(
            f"The mail server {host} did not answer on port {port} within {timeout:g} seconds.",
            transient=True,
            code="timed_out",
        )
    reason = error.strerror if error is not None and error.strerror else str(error)
    return MailConnectionError(
        f"Could not connect to the mail server {host} on port {port} ({reason}).",
        transient=True,
        code="unreachable",
    )
