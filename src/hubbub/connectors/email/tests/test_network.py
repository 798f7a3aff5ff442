"""Connections to mail servers: public hosts on mail ports unless allowed, pinned, TLS by name.

The refusals are checked with a record of every connect() the test makes:
a refused host must not have been connected to at all.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from hubbub.connectors.email import network
from hubbub.connectors.email.network import (
    MAIL_PORTS,
    MailConnectionError,
    check_mail_host,
    connect_checked,
    wrap_tls,
)
from hubbub.connectors.email.testing import SmtpSink, make_certificate, trusting

LOOPBACK = ("127.0.0.1",)


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every address a socket of this test tried to connect to."""
    attempted: list[Any] = []
    guarded = socket.socket.connect

    def recording(self: socket.socket, address: Any) -> None:
        attempted.append(address)
        guarded(self, address)

    monkeypatch.setattr(socket.socket, "connect", recording)
    return attempted


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Names the tests make up: a list of addresses, or a gaierror to raise; lookups counted."""
    names: dict[str, Any] = {}
    lookups: list[str] = []
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in names:
            return real(host, port, *args, **kwargs)
        lookups.append(host)
        if isinstance(names[host], socket.gaierror):
            raise names[host]
        return [
            (
                socket.AF_INET6 if ":" in address else socket.AF_INET,
                socket.SOCK_STREAM,
                socket.IPPROTO_TCP,
                "",
                (address, port),
            )
            for address in names[host]
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    names["looked up"] = lookups
    return names


@pytest.fixture
def listener() -> Iterator[int]:
    """A loopback port that accepts connections (and says nothing)."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server.getsockname()[1]


@pytest.mark.parametrize(
    ("host", "kind"),
    [
        ("10.0.0.1", "a private address"),
        ("169.254.169.254", "a link-local address"),
        ("::1", "a loopback address"),
        ("127.0.0.1", "a loopback address"),
        ("[::ffff:10.0.0.1]", "a private address"),
    ],
)
def test_a_server_at_an_address_that_is_not_public_is_refused_before_connecting(
    host: str, kind: str, connections: list[Any]
) -> None:
    with pytest.raises(MailConnectionError) as refused:
        connect_checked(host, 993, timeout=2)

    assert refused.value.code == "blocked_address"
    assert not refused.value.transient
    assert kind in refused.value.message
    assert "HUBBUB_SAFE_HTTP_ALLOW" in refused.value.message
    assert connections == []


def test_a_name_that_resolves_to_a_private_address_is_refused(
    fake_dns: dict[str, Any], connections: list[Any]
) -> None:
    fake_dns["mail.internal.test"] = ["10.1.2.3"]

    with pytest.raises(MailConnectionError) as refused:
        connect_checked("mail.internal.test", 587, timeout=2)

    assert refused.value.code == "blocked_address"
    assert "mail.internal.test resolves to 10.1.2.3" in refused.value.message
    assert connections == []


def test_a_name_with_a_public_and_a_private_address_is_refused(
    fake_dns: dict[str, Any], connections: list[Any]
) -> None:
    fake_dns["mail.rebinding.test"] = ["93.184.216.34", "192.168.1.10"]

    with pytest.raises(MailConnectionError) as refused:
        connect_checked("mail.rebinding.test", 993, timeout=2)

    assert refused.value.code == "blocked_address"
    assert connections == []


@pytest.mark.parametrize("port", [22, 80, 443, 3306, 6379])
def test_a_public_host_is_refused_on_a_port_that_is_not_for_mail(
    port: int, fake_dns: dict[str, Any], connections: list[Any]
) -> None:
    fake_dns["mail.example.test"] = ["93.184.216.34"]

    with pytest.raises(MailConnectionError) as refused:
        connect_checked("mail.example.test", port, timeout=2)

    assert refused.value.code == "blocked_port"
    assert not refused.value.transient
    assert connections == []


@pytest.mark.parametrize("port", sorted(MAIL_PORTS))
def test_a_public_host_passes_the_check_on_every_mail_port(
    port: int, fake_dns: dict[str, Any]
) -> None:
    fake_dns["mail.example.test"] = ["93.184.216.34", "2606:2800:220:1::1"]

    addresses = check_mail_host("mail.example.test", port)

    assert [str(address) for address in addresses] == ["93.184.216.34", "2606:2800:220:1::1"]


def test_an_allowed_loopback_address_is_connected_to_on_any_port(
    listener: int, connections: list[Any]
) -> None:
    with connect_checked("127.0.0.1", listener, timeout=2, allow_hosts=LOOPBACK) as connection:
        assert connection.getpeername() == ("127.0.0.1", listener)

    assert connections == [("127.0.0.1", listener)]


def test_the_operators_allow_list_admits_a_private_range(listener: int, settings: Any) -> None:
    settings.HUBBUB_SAFE_HTTP_ALLOW = ["127.0.0.0/8"]

    with connect_checked("127.0.0.1", listener, timeout=2) as connection:
        assert connection.getpeername() == ("127.0.0.1", listener)


def test_an_allowed_name_is_resolved_once_and_its_checked_address_is_the_one_connected_to(
    listener: int, fake_dns: dict[str, Any], connections: list[Any]
) -> None:
    fake_dns["mail.hubbub.test"] = ["127.0.0.1"]

    with connect_checked(
        "mail.hubbub.test", listener, timeout=2, allow_hosts=["mail.hubbub.test"]
    ) as connection:
        assert connection.getpeername() == ("127.0.0.1", listener)

    assert fake_dns["looked up"] == ["mail.hubbub.test"]
    assert connections == [("127.0.0.1", listener)]


def test_a_port_where_nothing_listens_is_a_transient_error() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        closed_port = server.getsockname()[1]

    with pytest.raises(MailConnectionError) as failed:
        connect_checked("127.0.0.1", closed_port, timeout=2, allow_hosts=LOOPBACK)

    assert failed.value.transient
    assert failed.value.code == "unreachable"
    assert f"port {closed_port}" in failed.value.message


@pytest.mark.parametrize("host", ["", "mail.example.com/admin", "user@10.0.0.1", "mail example"])
def test_a_host_that_is_not_a_host_name_is_refused(host: str, connections: list[Any]) -> None:
    with pytest.raises(MailConnectionError) as refused:
        connect_checked(host, 993, timeout=2)

    assert refused.value.code == "invalid_host"
    assert connections == []


def test_a_name_that_does_not_exist_is_permanent_and_a_dns_outage_transient(
    fake_dns: dict[str, Any],
) -> None:
    fake_dns["mail.typo.test"] = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    fake_dns["mail.flaky.test"] = socket.gaierror(socket.EAI_AGAIN, "Temporary failure")

    with pytest.raises(MailConnectionError) as missing:
        connect_checked("mail.typo.test", 993, timeout=2)
    with pytest.raises(MailConnectionError) as outage:
        connect_checked("mail.flaky.test", 993, timeout=2)

    assert (missing.value.code, missing.value.transient) == ("unresolvable", False)
    assert "check the host name" in missing.value.message
    assert (outage.value.code, outage.value.transient) == ("unresolvable", True)


# TLS: the certificate is checked against the host name typed, not the pinned address.


def greeting_over_tls(host: str, port: int) -> bytes:
    sock = connect_checked(host, port, timeout=5, allow_hosts=[host])
    with wrap_tls(sock, host) as tls:
        return tls.recv(100)


def test_tls_checks_the_certificate_against_the_host_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    certificate = make_certificate("localhost")
    trusting(monkeypatch, certificate)
    with SmtpSink(certificate=certificate, implicit_tls=True) as server:
        # The socket is connected to 127.0.0.1, which the certificate does not name.
        assert greeting_over_tls("localhost", server.port).startswith(b"220 ")

        with pytest.raises(MailConnectionError) as by_address:
            greeting_over_tls("127.0.0.1", server.port)

    assert by_address.value.code == "tls_failed"
    assert not by_address.value.transient


def test_a_certificate_for_another_name_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    certificate = make_certificate("mail.elsewhere.test")
    trusting(monkeypatch, certificate)
    with (
        SmtpSink(certificate=certificate, implicit_tls=True) as server,
        pytest.raises(MailConnectionError) as refused,
    ):
        greeting_over_tls("localhost", server.port)

    assert refused.value.code == "tls_failed"
    assert "certificate" in refused.value.message


def test_a_certificate_no_trusted_authority_signed_is_refused() -> None:
    with (
        SmtpSink(certificate=make_certificate("localhost"), implicit_tls=True) as server,
        pytest.raises(MailConnectionError) as refused,
    ):
        greeting_over_tls("localhost", server.port)

    assert refused.value.code == "tls_failed"
    assert not refused.value.transient


def test_the_default_tls_context_verifies_certificates_and_names() -> None:
    context = network.tls_context()

    assert context.check_hostname
    assert context.verify_mode.name == "CERT_REQUIRED"
