"""Server-side fetches reach public addresses only, pinned, capped in size and time."""

from __future__ import annotations

import datetime
import ipaddress
import json
import re
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.test import override_settings

from hubbub.core import safe_http
from hubbub.core.safe_http import (
    BlockedAddress,
    FetchFailed,
    FetchTimedOut,
    ResponseTooLarge,
    UnsafeUrl,
)

LOOPBACK = {"127.0.0.1"}


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class Handler(BaseHTTPRequestHandler):
    """A test origin; the path picks the behaviour, `?to=` and `?size=` tune it."""

    server: Origin

    def do_GET(self) -> None:
        self.route()

    def do_HEAD(self) -> None:
        self.route()

    def do_POST(self) -> None:
        self.route()

    def route(self) -> None:
        parts = urlsplit(self.path)
        query = {key: values[0] for key, values in parse_qs(parts.query).items()}
        length = int(self.headers.get("content-length") or 0)
        self.server.seen.append(
            Seen(
                method=self.command,
                path=parts.path,
                headers={key.lower(): value for key, value in self.headers.items()},
                body=self.rfile.read(length),
            )
        )
        routes: dict[str, Callable[[dict[str, str]], None]] = {
            "/hello": lambda _: self.answer(b"hello", content_type="text/plain; charset=utf-8"),
            "/echo": lambda _: self.answer(b'{"ok": true}', content_type="application/json"),
            "/redirect": lambda q: self.redirect(q["to"]),
            "/loop": lambda _: self.redirect("/loop"),
            "/big": lambda q: self.answer(b"x" * int(q["size"])),
            "/unsized": lambda q: self.answer(b"x" * int(q["size"]), declare_length=False),
            "/slow": lambda _: self.slow(),
            "/drip": lambda _: self.drip(),
        }
        routes[parts.path](query)

    def answer(
        self,
        body: bytes,
        *,
        content_type: str = "application/octet-stream",
        declare_length: bool = True,
    ) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        if declare_length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        # Without a length, HTTP/1.0 ends the body by closing the connection.
        self.wfile.write(body)

    def redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def slow(self) -> None:
        # Long enough to miss any deadline a test sets; short enough not to hang a broken run.
        self.server.stopping.wait(5)
        self.answer(b"late")

    def drip(self) -> None:
        """A byte every 50 ms for 5 s: never quiet long enough for a per-read timeout."""
        self.send_response(200)
        self.end_headers()
        try:
            for _ in range(100):
                if self.server.stopping.wait(0.05):
                    return
                self.wfile.write(b"x")
                self.wfile.flush()
        except OSError:
            return  # The client gave up, as it should.

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Origin(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, *, tls: ssl.SSLContext | None = None) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        if tls is not None:
            self.socket = tls.wrap_socket(self.socket, server_side=True)
        self.seen: list[Seen] = []
        self.stopping = threading.Event()

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def url(self, path: str, *, host: str = "127.0.0.1", scheme: str = "http") -> str:
        return f"{scheme}://{host}:{self.port}{path}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # Clients that hang up or refuse the certificate are part of the tests.


@contextmanager
def running(server: Origin) -> Iterator[Origin]:
    # A short poll interval: shutdown() waits up to one interval.
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        yield server
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()


@pytest.fixture
def origin() -> Iterator[Origin]:
    with running(Origin()) as server:
        yield server


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Names the tests make up, with the addresses they resolve to; the rest resolve as usual.

    Each lookup of a made-up name is recorded under "looked up".
    """
    names: dict[str, list[str]] = {"looked up": []}
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in names:
            return real(host, port, *args, **kwargs)
        names["looked up"].append(host)
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
    return names


# The address classifier.


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("127.0.0.1", False),
        ("127.8.8.8", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),  # noqa: S104 (an address to classify, not to bind)
        ("224.0.0.1", False),
        ("255.255.255.255", False),
        ("::1", False),
        ("::", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("fec0::1", False),
        ("ff02::1", False),
        ("::ffff:10.0.0.1", False),
        ("::ffff:127.0.0.1", False),
        ("2002:a00:1::", False),  # 6to4 for 10.0.0.1
        ("64:ff9b::a00:1", False),  # NAT64 for 10.0.0.1
        ("8.8.8.8", True),
        ("1.1.1.1", True),
        ("2606:4700::1111", True),
        ("::ffff:8.8.8.8", True),
        ("64:ff9b::808:808", True),  # NAT64 for 8.8.8.8
    ],
)
def test_only_public_unicast_addresses_count_as_public(address: str, public: bool) -> None:
    assert safe_http.is_public_address(ipaddress.ip_address(address)) is public


# URLs refused before any connection.


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "gopher://127.0.0.1:70/_",
        "ftp://example.com/",
        "/relative",
        "http:///x",
    ],
)
def test_only_http_and_https_urls_with_a_host_are_fetched(url: str) -> None:
    with pytest.raises(UnsafeUrl):
        safe_http.request("GET", url)


def test_a_url_with_credentials_is_refused_without_repeating_them() -> None:
    with pytest.raises(UnsafeUrl) as refused:
        safe_http.request("GET", "http://user:hunter2@example.com/")
    assert "hunter2" not in str(refused.value)


def test_a_name_for_loopback_is_refused() -> None:
    with pytest.raises(
        BlockedAddress, match=re.escape("localhost resolves to 127.0.0.1, a loopback")
    ):
        safe_http.request("GET", "http://localhost/")


def test_the_cloud_metadata_address_is_refused() -> None:
    with pytest.raises(BlockedAddress, match=re.escape("169.254.169.254 is a link-local address")):
        safe_http.request("GET", "http://169.254.169.254/latest/meta-data/")


def test_a_name_for_a_private_address_is_refused_with_the_reason(
    fake_dns: dict[str, list[str]],
) -> None:
    fake_dns["example.test"] = ["10.0.0.5"]
    with pytest.raises(BlockedAddress) as refused:
        safe_http.request("GET", "https://example.test/feed")
    assert str(refused.value).startswith(
        "example.test resolves to 10.0.0.5, a private address; "
        "Hubbub only connects to public addresses"
    )
    assert refused.value.code == "blocked_address"


def test_a_name_with_one_private_address_among_public_ones_is_refused(
    fake_dns: dict[str, list[str]],
) -> None:
    fake_dns["mixed.test"] = ["8.8.8.8", "10.0.0.1"]
    with pytest.raises(BlockedAddress, match=re.escape("10.0.0.1")):
        safe_http.request("GET", "http://mixed.test/")


def test_check_url_answers_without_fetching() -> None:
    safe_http.check_url("https://8.8.8.8/")
    with pytest.raises(BlockedAddress):
        safe_http.check_url("http://10.0.0.1/")


# Allowing private hosts.


def test_a_loopback_server_is_refused_without_the_allow_list(origin: Origin) -> None:
    with pytest.raises(BlockedAddress):
        safe_http.request("GET", origin.url("/hello"))
    assert origin.seen == []


def test_allow_hosts_lets_a_private_address_through(origin: Origin) -> None:
    response = safe_http.request("GET", origin.url("/hello"), allow_hosts=LOOPBACK)
    assert response.status_code == 200
    assert response.text == "hello"
    assert response.url == origin.url("/hello")


def test_the_operator_setting_allows_address_ranges(origin: Origin) -> None:
    with override_settings(HUBBUB_SAFE_HTTP_ALLOW=["127.0.0.0/8"]):
        response = safe_http.request("GET", origin.url("/echo"))
    assert response.json() == {"ok": True}


def test_an_allowed_name_is_allowed_whatever_it_resolves_to(origin: Origin) -> None:
    response = safe_http.request(
        "GET", origin.url("/hello", host="localhost"), allow_hosts={"localhost"}
    )
    assert response.status_code == 200


# Pinning: the checked address is the one connected to, under the original name.


def test_a_post_reaches_the_server_under_the_original_host_name(origin: Origin) -> None:
    response = safe_http.request(
        "POST",
        origin.url("/echo", host="localhost"),
        json={"text": "hi"},
        allow_hosts={"localhost"},
    )
    assert response.status_code == 200
    [seen] = origin.seen
    assert seen.method == "POST"
    assert seen.headers["host"] == f"localhost:{origin.port}"
    assert json.loads(seen.body) == {"text": "hi"}


def test_the_name_is_resolved_once_and_the_checked_address_is_used(
    origin: Origin, fake_dns: dict[str, list[str]]
) -> None:
    fake_dns["feed.test"] = ["127.0.0.1"]
    safe_http.request("GET", origin.url("/hello", host="feed.test"), allow_hosts=LOOPBACK)
    assert fake_dns["looked up"] == ["feed.test"]
    assert origin.seen[0].headers["host"] == f"feed.test:{origin.port}"


def test_an_unreachable_address_falls_back_to_the_next_one(
    origin: Origin, fake_dns: dict[str, list[str]]
) -> None:
    # Nothing listens on ::1 at this port (the origin listens on IPv4 only).
    fake_dns["dual.test"] = ["::1", "127.0.0.1"]
    response = safe_http.request(
        "GET", origin.url("/hello", host="dual.test"), allow_hosts={"127.0.0.1", "::1"}
    )
    assert response.text == "hello"


# Redirects.


@pytest.mark.parametrize(
    "target",
    [
        "http://10.0.0.1/",
        "http://[::1]/",
        "http://169.254.169.254/latest/meta-data",
    ],
)
def test_a_redirect_to_a_private_address_is_refused_at_the_hop(origin: Origin, target: str) -> None:
    with pytest.raises(BlockedAddress):
        safe_http.request("GET", origin.url(f"/redirect?to={target}"), allow_hosts=LOOPBACK)


def test_a_redirect_to_another_scheme_is_refused(origin: Origin) -> None:
    with pytest.raises(UnsafeUrl, match=r"^file:"):
        safe_http.request(
            "GET", origin.url("/redirect?to=file:///etc/passwd"), allow_hosts=LOOPBACK
        )


def test_redirects_between_allowed_addresses_are_followed(origin: Origin) -> None:
    response = safe_http.request("GET", origin.url("/redirect?to=/hello"), allow_hosts=LOOPBACK)
    assert response.text == "hello"
    assert response.url == origin.url("/hello")


def test_redirects_stop_after_max_redirects(origin: Origin) -> None:
    with pytest.raises(FetchFailed) as refused:
        safe_http.request("GET", origin.url("/loop"), max_redirects=3, allow_hosts=LOOPBACK)
    assert refused.value.code == "too_many_redirects"
    assert len(origin.seen) == 4


def test_a_post_gets_the_redirect_back_instead_of_following_it(origin: Origin) -> None:
    response = safe_http.request(
        "POST", origin.url("/redirect?to=/echo"), json={}, allow_hosts=LOOPBACK
    )
    assert response.status_code == 302
    assert [seen.path for seen in origin.seen] == ["/redirect"]


def test_credentials_are_not_sent_on_to_another_origin(origin: Origin) -> None:
    elsewhere = origin.url("/echo", host="localhost")
    safe_http.request(
        "GET",
        origin.url(f"/redirect?to={elsewhere}"),
        headers={"Authorization": "Bearer secret"},
        allow_hosts={"127.0.0.1", "localhost"},
    )
    first, second = origin.seen
    assert first.headers["authorization"] == "Bearer secret"
    assert "authorization" not in second.headers


def test_credentials_follow_a_redirect_within_the_origin(origin: Origin) -> None:
    safe_http.request(
        "GET",
        origin.url("/redirect?to=/echo"),
        headers={"Authorization": "Bearer secret"},
        allow_hosts=LOOPBACK,
    )
    assert origin.seen[1].headers["authorization"] == "Bearer secret"


# Size and time caps.


@pytest.mark.parametrize("path", ["/big", "/unsized"])
def test_a_body_over_max_bytes_is_refused(origin: Origin, path: str) -> None:
    with pytest.raises(ResponseTooLarge):
        safe_http.request(
            "GET", origin.url(f"{path}?size=2000"), max_bytes=1000, allow_hosts=LOOPBACK
        )


@pytest.mark.parametrize("path", ["/big", "/unsized"])
def test_a_body_up_to_max_bytes_is_read_whole(origin: Origin, path: str) -> None:
    response = safe_http.request(
        "GET", origin.url(f"{path}?size=1000"), max_bytes=1000, allow_hosts=LOOPBACK
    )
    assert response.content == b"x" * 1000


def test_a_server_that_does_not_answer_times_out(origin: Origin) -> None:
    with pytest.raises(FetchTimedOut):
        safe_http.request("GET", origin.url("/slow"), timeout=0.5, allow_hosts=LOOPBACK)


def test_a_server_that_drips_its_body_is_cut_off_at_the_deadline(origin: Origin) -> None:
    with pytest.raises(FetchTimedOut):
        safe_http.request("GET", origin.url("/drip"), timeout=0.5, allow_hosts=LOOPBACK)


# TLS: the certificate is checked against the host name, not the pinned address.


def self_signed(name: str) -> tuple[bytes, bytes]:
    """A certificate for `name` and its key, both PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return certificate.public_bytes(serialization.Encoding.PEM), key_pem


@pytest.fixture
def tls_origin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[str], Origin]]:
    """Start an HTTPS origin with a certificate for the given name, which fetches trust."""
    with ExitStack() as stack:

        def serve_as(name: str) -> Origin:
            certificate, key = self_signed(name)
            (tmp_path / "cert.pem").write_bytes(certificate)
            (tmp_path / "key.pem").write_bytes(key)
            server_side = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            server_side.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
            # Fetches trust the public authorities only; this test's certificate instead.
            monkeypatch.setattr(
                safe_http,
                "_tls_context",
                lambda: ssl.create_default_context(cadata=certificate.decode()),
            )
            return stack.enter_context(running(Origin(tls=server_side)))

        yield serve_as


def test_tls_verifies_the_certificate_for_the_host_name(
    tls_origin: Callable[[str], Origin], fake_dns: dict[str, list[str]]
) -> None:
    origin = tls_origin("feed.test")
    fake_dns["feed.test"] = ["127.0.0.1"]
    response = safe_http.request(
        "GET", origin.url("/hello", host="feed.test", scheme="https"), allow_hosts=LOOPBACK
    )
    assert response.text == "hello"


def test_a_certificate_for_another_name_is_refused(
    tls_origin: Callable[[str], Origin], fake_dns: dict[str, list[str]]
) -> None:
    origin = tls_origin("other.test")
    fake_dns["feed.test"] = ["127.0.0.1"]
    with pytest.raises(FetchFailed, match="certificate"):
        safe_http.request(
            "GET", origin.url("/hello", host="feed.test", scheme="https"), allow_hosts=LOOPBACK
        )
