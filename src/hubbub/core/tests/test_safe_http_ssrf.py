"""SSRF: what an attacker who controls a URL (a feed, an instance, a redirect) cannot reach.

test_safe_http.py covers the address classifier, a few refusals and the
mechanics (pinning, redirects, caps, TLS). These are the attacks spelled
out one by one, against `request`, `stream` and `open_connection`, and
through the feed connector, whose URL any workspace admin types in. Every
refusal must happen before a connection is attempted.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest

from hubbub.connectors import polling
from hubbub.connectors.base import ConnectorError, SourceConfig
from hubbub.connectors.hackernews import connector as hackernews
from hubbub.connectors.rss import connector as rss
from hubbub.connectors.rss.tests.fake import FakeFeeds, Feed, forum_entries, running_feeds
from hubbub.core import safe_http
from hubbub.core.safe_http import BlockedAddress, FetchFailed, UnsafeUrl
from hubbub.core.tests.test_safe_http import Origin, running
from hubbub.listening.models import SourceKind, SourceStatus
from hubbub.listening.tests.factories import SourceFactory

METADATA = "http://169.254.169.254/latest/meta-data/iam/security-credentials/"


@pytest.fixture
def attempts(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every TCP connection attempted (the test network guard still applies)."""
    tried: list[object] = []
    guarded = socket.socket.connect

    def connect(self: socket.socket, address: Any) -> Any:
        tried.append(address)
        return guarded(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return tried


@pytest.fixture
def names(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Made-up host names and their addresses (DNS cannot run here); others resolve as usual."""
    made_up: dict[str, list[str]] = {}
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in made_up:
            return real(host, port, *args, **kwargs)
        return [
            (
                socket.AF_INET6 if ":" in address else socket.AF_INET,
                socket.SOCK_STREAM,
                socket.IPPROTO_TCP,
                "",
                (address, port),
            )
            for address in made_up[host]
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return made_up


# --- addresses that are not public, however they are written ---


BLOCKED_URLS = [
    "http://127.0.0.1/",
    "http://127.255.255.254:8080/admin",
    "http://[::1]/",
    "http://10.0.0.1/",
    "http://10.255.255.254/",
    "http://172.16.0.1/",
    "http://172.31.255.254/",
    "http://192.168.0.1/",
    "http://192.168.255.254/",
    METADATA,
    "http://[fd00:ec2::254]/latest/meta-data/",  # EC2's metadata service over IPv6
    "http://100.100.100.200/latest/meta-data/",  # Alibaba Cloud's, in the shared range
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:169.254.169.254]/latest/meta-data/",
    "http://[::ffff:a9fe:a9fe]/latest/meta-data/",  # the same, in hex
    "http://[::ffff:10.0.0.1]/",
    "http://[::127.0.0.1]/",  # IPv4-compatible (deprecated) form
    "http://[fe80::1%25eth0]/",  # link-local with a zone
    "http://0.0.0.0/",
    "http://[::]/",
]


@pytest.mark.parametrize("url", BLOCKED_URLS)
def test_a_literal_address_that_is_not_public_is_refused_before_connecting(
    url: str, attempts: list[object]
) -> None:
    with pytest.raises(BlockedAddress):
        safe_http.request("GET", url)
    assert attempts == []


@pytest.mark.parametrize("url", BLOCKED_URLS[:10])
def test_streams_and_websocket_connections_refuse_them_too(
    url: str, attempts: list[object]
) -> None:
    with pytest.raises(BlockedAddress), safe_http.stream("GET", url):
        pass  # pragma: no cover
    with pytest.raises(BlockedAddress):
        safe_http.open_connection(url.replace("http://", "wss://"))
    assert attempts == []


@pytest.mark.parametrize(
    "host", ["2130706433", "0x7f000001", "017700000001", "127.1", "0x7f.1", "0"]
)
def test_other_spellings_of_loopback_are_refused_after_resolving(
    host: str, attempts: list[object]
) -> None:
    # The system resolver reads these the way inet_aton does: 127.0.0.1 (or 0.0.0.0).
    with pytest.raises(BlockedAddress, match=r"resolves to (127\.0\.0\.1|0\.0\.0\.0)"):
        safe_http.request("GET", f"http://{host}/")
    assert attempts == []


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "::1",
        "172.16.5.4",
        "192.168.1.10",
        "169.254.169.254",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "fd00::1",
    ],
)
def test_a_name_that_resolves_to_such_an_address_is_refused(
    address: str, names: dict[str, list[str]], attempts: list[object]
) -> None:
    names["feeds.attacker.test"] = [address]
    with pytest.raises(BlockedAddress, match=r"^feeds\.attacker\.test resolves to "):
        safe_http.request("GET", "https://feeds.attacker.test/rss")
    assert attempts == []


# --- redirects: allowing the first hop allows nothing else ---


@pytest.fixture
def first_hop(names: dict[str, list[str]]) -> Iterator[Origin]:
    """The local test server under the name feed.test, the only name allowed."""
    names["feed.test"] = ["127.0.0.1"]
    names["internal.test"] = ["10.1.2.3"]
    with running(Origin()) as server:
        yield server


def redirect_from_first_hop(server: Origin, target: str) -> None:
    url = server.url(f"/redirect?to={quote(target, safe='')}", host="feed.test")
    safe_http.request("GET", url, allow_hosts={"feed.test"})


@pytest.mark.parametrize(
    "target",
    [
        "http://localhost:{port}/hello",  # the same server, under a name not allowed
        "http://127.0.0.1:{port}/hello",  # the same server, by its address
        "http://[::ffff:127.0.0.1]:{port}/hello",
        "http://internal.test/",  # a name for a private address
        "http://192.168.0.1/",
        "http://172.16.0.1/",
        METADATA,
    ],
)
def test_a_redirect_from_an_allowed_host_to_a_blocked_one_is_refused(
    first_hop: Origin, target: str
) -> None:
    with pytest.raises(BlockedAddress):
        redirect_from_first_hop(first_hop, target.format(port=first_hop.port))
    assert [seen.path for seen in first_hop.seen] == ["/redirect"]


@pytest.mark.parametrize(
    "target",
    [
        "http://8.8.8.8:8080/",  # a public address on a port that is not the web's
        "gopher://127.0.0.1:70/_",
        "ftp://8.8.8.8/",
        "dict://127.0.0.1:11211/stat",
        "http://admin:hunter2@8.8.8.8/",
    ],
)
def test_a_redirect_to_a_forbidden_port_scheme_or_credentials_is_refused(
    first_hop: Origin, target: str
) -> None:
    with pytest.raises(UnsafeUrl) as refused:
        redirect_from_first_hop(first_hop, target)
    assert "hunter2" not in str(refused.value)
    assert len(first_hop.seen) == 1


# --- ports, schemes, credentials ---


@pytest.mark.parametrize(
    "url",
    [
        "http://8.8.8.8:22/",
        "https://8.8.8.8:8443/",
        "http://8.8.8.8:6379/",
        "http://[2606:4700::1111]:25/",
        "http://public.test:8080/",
    ],
)
def test_a_public_address_on_a_port_other_than_80_or_443_is_refused(
    url: str, names: dict[str, list[str]], attempts: list[object]
) -> None:
    names["public.test"] = ["8.8.8.8"]
    with pytest.raises(UnsafeUrl, match="Hubbub connects to ports 80 and 443 only") as refused:
        safe_http.request("GET", url)
    assert not isinstance(refused.value, BlockedAddress)
    with pytest.raises(UnsafeUrl):
        safe_http.check_url(url)
    assert attempts == []


@pytest.mark.parametrize("url", ["http://8.8.8.8/", "https://8.8.8.8:443/", "http://8.8.8.8:80/"])
def test_web_ports_on_a_public_address_pass_the_guard(url: str, attempts: list[object]) -> None:
    # The guard lets them through; the tests' own network block then stops the connection.
    with pytest.raises(FetchFailed, match="blocked in tests"):
        safe_http.request("GET", url, timeout=2)
    assert attempts


@pytest.mark.parametrize(
    "url",
    [
        "dict://127.0.0.1:11211/",
        "ldap://127.0.0.1/",
        "jar:http://8.8.8.8/x.jar!/",
        "data:text/plain,hello",
        "javascript:alert(1)",
        "ws://8.8.8.8/",  # WebSockets go through open_connection, not request
    ],
)
def test_schemes_other_than_http_and_https_are_refused(url: str, attempts: list[object]) -> None:
    with pytest.raises(UnsafeUrl):
        safe_http.request("GET", url)
    assert attempts == []


@pytest.mark.parametrize(
    "url",
    [
        "http://user@example.com/",
        "http://:hunter2@example.com/",
        "https://user%40corp:hunter2%21@example.com/feed",
    ],
)
def test_credentials_in_a_url_are_refused_without_repeating_them(
    url: str, attempts: list[object]
) -> None:
    with pytest.raises(UnsafeUrl, match="has a user name or password in it") as refused:
        safe_http.request("GET", url)
    assert "hunter2" not in str(refused.value)
    assert attempts == []


# --- through the connectors, whose URLs come from settings ---


def feed_source(url: str) -> SourceConfig:
    return SourceConfig(
        source_id=1, workspace_id=1, kind="rss", settings={"url": url}, credentials={}, cursor=""
    )


@pytest.mark.parametrize(
    "url",
    [METADATA, "http://localhost/feed", "http://[::ffff:127.0.0.1]/feed", "file:///etc/passwd"],
)
def test_a_feed_url_that_points_inside_is_a_permanent_error(
    url: str, attempts: list[object]
) -> None:
    for action in (rss.poll, rss.check):
        with pytest.raises(ConnectorError) as refused:
            action(feed_source(url))
        assert (refused.value.code, refused.value.transient) == ("unsafe_url", False)
    assert attempts == []


def test_a_hacker_news_base_url_that_points_inside_is_refused(attempts: list[object]) -> None:
    config = SourceConfig(
        source_id=1,
        workspace_id=1,
        kind="hackernews",
        settings={"base_url": "http://169.254.169.254", "query": "brightwave"},
        credentials={},
        cursor="",
    )
    with pytest.raises(ConnectorError) as refused:
        hackernews.poll(config)
    assert refused.value.code == "unsafe_url"
    assert attempts == []


@pytest.fixture
def feeds(settings: Any) -> Iterator[FakeFeeds]:
    """A feed server the operator allowed (127.0.0.1 only)."""
    settings.HUBBUB_SAFE_HTTP_ALLOW = ["127.0.0.1"]
    with running_feeds() as fake:
        yield fake


@pytest.mark.parametrize("target", [METADATA, "http://10.0.0.1/", "http://[::1]/feed"])
def test_an_allowed_feed_server_cannot_redirect_the_fetch_inside(
    feeds: FakeFeeds, target: str
) -> None:
    feeds.redirects["/feed"] = (302, target)
    with pytest.raises(ConnectorError) as refused:
        rss.poll(feed_source(feeds.at("/feed")))
    assert (refused.value.code, refused.value.transient) == ("unsafe_url", False)


def test_links_inside_a_feed_are_never_fetched(feeds: FakeFeeds) -> None:
    (entry,) = forum_entries(1)
    entry.link = METADATA
    feeds.feeds["/feed"] = Feed("rss", "Forum", [entry])
    (post,) = rss.poll(feed_source(feeds.at("/feed"))).posts
    assert post.url == METADATA  # kept as text for a person to see, not followed
    assert [seen.path for seen in feeds.seen] == ["/feed"]


@pytest.mark.django_db(transaction=True)
def test_a_followed_feed_pointing_at_the_metadata_service_fails_and_stops(
    committed_cast: Any, attempts: list[object]
) -> None:
    source = SourceFactory(
        workspace=committed_cast.brightwave, kind=SourceKind.RSS, settings={"url": METADATA}
    )
    stop = threading.Event()
    polling.run(source.pk, stop, rss.poll, interval=0.01)  # returns: the error is permanent
    source.refresh_from_db()
    assert source.status == SourceStatus.FAILING
    assert source.last_error.startswith("169.254.169.254 is a link-local address")
    assert attempts == []
