"""What `parse_email` makes of a stranger's HTML: the specification of `html`.

Sanitised markup keeps its formatting, loses everything that runs or loads,
and keeps remote images as `data-remote-src` until `html_with_remote` lets
them load; cid: images point at their attachment.
"""

from __future__ import annotations

import base64

import pytest

from hubbub.connectors.email.mime import Limits, html_with_remote, parse_email
from hubbub.connectors.email.tests.mails import (
    PNG,
    attachment_named,
    loading_attributes,
    mail,
    sample,
)


def test_safe_formatting_survives_sanitising() -> None:
    parsed = parse_email(
        mail(
            html="<h2>Title</h2><p><b>b</b> <i>i</i> <u>u</u> <strong>s</strong> <em>e</em></p>"
            "<blockquote>quote</blockquote><pre><code>code</code></pre><hr>"
            '<table><tr><th colspan="2">head</th></tr><tr><td rowspan="2">cell</td></tr></table>'
            '<a href="https://acme.test/help" title="Help">help</a> '
            '<a href="mailto:help@acme.test">mail us</a>'
        )
    )

    assert "<h2>Title</h2>" in parsed.html
    assert "<b>b</b> <i>i</i> <u>u</u> <strong>s</strong> <em>e</em>" in parsed.html
    assert "<blockquote>quote</blockquote><pre><code>code</code></pre><hr>" in parsed.html
    assert '<th colspan="2">head</th>' in parsed.html
    assert '<td rowspan="2">cell</td>' in parsed.html
    assert (
        '<a href="https://acme.test/help" title="Help" rel="noopener noreferrer nofollow">help</a>'
        in parsed.html
    )
    assert '<a href="mailto:help@acme.test" rel="noopener noreferrer nofollow">' in parsed.html


def test_scripts_styles_frames_forms_and_event_handlers_are_removed() -> None:
    parsed = sample("hostile_html.eml")
    lowered = parsed.html.lower()

    for banned in (
        "<script", "<style", "<iframe", "<form", "<input", "<button", "<object", "<embed",
        "<video", "<svg", "<math", "<base", "<meta", "<link", "onerror", "onload", "onclick",
        "style=", "alert(", "document.cookie", "url(", "@import",
    ):  # fmt: skip
        assert banned not in lowered, banned
    assert "Dear customer," in parsed.text
    assert "Thank you," in parsed.text


def test_links_keep_only_http_https_and_mailto_however_the_scheme_is_spelled() -> None:
    parsed = sample("hostile_html.eml")
    lowered = parsed.html.lower()

    for banned in ("javascript", "vbscript", "data:", "&#"):
        assert banned not in lowered, banned
    assert parsed.html.count("<a ") == 7
    assert parsed.html.count("href=") == 1
    assert 'href="https://bank.example/help"' in parsed.html


@pytest.mark.parametrize(
    "image",
    [
        '<img src="https://tracker.example/a.gif">',
        '<IMG SRC="https://tracker.example/a.gif">',
        '<img src="HTTPS://Tracker.Example/a.gif">',
        '<img src=" https://tracker.example/a.gif ">',
        '<img src="&#104;&#116;&#116;&#112;&#115;://tracker.example/a.gif">',
        '<img src="&#x68;ttps&colon;//tracker.example/a.gif">',
        "<img src=https://tracker.example/a.gif>",
    ],
)
def test_a_remote_image_does_not_load_however_its_src_is_written(image: str) -> None:
    parsed = parse_email(mail(html=f"<p>hi</p>{image}"))

    assert loading_attributes(parsed.html) == []
    assert parsed.html.lower().count('data-remote-src="') == 1
    assert parsed.has_remote_content
    assert parsed.remote_hosts == ("tracker.example",)
    assert "1 remote image blocked" in parsed.problems


@pytest.mark.parametrize(
    "markup",
    [
        '<img srcset="https://tracker.example/a.gif 1x">',
        '<img dynsrc="https://tracker.example/a.avi" lowsrc="https://tracker.example/b.gif">',
        '<table background="https://tracker.example/t.gif"><tr><td>x</td></tr></table>',
        '<body background="https://tracker.example/b.gif">x</body>',
        '<p style="background:url(https://tracker.example/s.gif)">x</p>',
        "<style>p { background: url('https://tracker.example/c.gif') }</style>",
        '<img src="//tracker.example/protocol-relative.gif">',
        '<img src="/\\tracker.example/backslash.gif">',
        '<img src="/local/path.gif">',
        '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">',
        '<input type="image" src="https://tracker.example/i.gif">',
        '<video poster="https://tracker.example/p.jpg"></video>',
        '<svg><image href="https://tracker.example/s.png"/></svg>',
        '<link rel="stylesheet" href="https://tracker.example/x.css">',
        '<iframe src="https://tracker.example/f"></iframe>',
    ],
)
def test_other_ways_to_load_something_are_removed_entirely(markup: str) -> None:
    parsed = parse_email(mail(html=f"<p>hi</p>{markup}"))

    assert "tracker.example" not in parsed.html
    assert loading_attributes(parsed.html) == []
    assert not parsed.has_remote_content


def test_data_attributes_in_the_mail_are_removed_so_none_can_be_smuggled_in() -> None:
    parsed = parse_email(
        mail(html='<img data-remote-src="javascript:alert(1)" data-cid="x" alt="a"><p>hi</p>')
    )

    assert "data-" not in parsed.html
    assert "javascript" not in parsed.html
    assert html_with_remote(parsed.html) == parsed.html


def test_cid_images_point_at_their_attachment_by_content_id() -> None:
    parsed = sample("outlook_html_tracking.eml")

    assert (
        '<img width="120" height="40" data-cid="image001.png@01DA7517.5A2B3C40" '
        'alt="Nordlicht logo">'
    ) in parsed.html
    logo = attachment_named(parsed, "image001.png")
    assert logo.content_id == "image001.png@01DA7517.5A2B3C40"
    assert logo.inline


def test_a_cid_image_matches_its_attachment_even_with_control_characters_in_the_src() -> None:
    # The src is read exactly as the Content-ID header is, so the two always agree.
    raw = (
        b"Content-Type: multipart/related; boundary=b\n\n"
        b"--b\nContent-Type: text/html\n\n"
        b'<p>Our logo</p><img src="cid:&#1;&lt;logo@acme.test&gt; " alt="logo">\n'
        b"--b\nContent-Type: image/png\nContent-ID: <logo@acme.test>\n"
        b"Content-Transfer-Encoding: base64\n\n" + base64.b64encode(PNG) + b"\n--b--\n"
    )

    parsed = parse_email(raw)

    (logo,) = parsed.attachments
    assert logo.content_id == "logo@acme.test"
    assert f'data-cid="{logo.content_id}"' in parsed.html
    assert not parsed.has_remote_content


def test_tracking_pixels_and_hidden_images_count_as_remote_content() -> None:
    parsed = sample("outlook_html_tracking.eml")

    assert parsed.has_remote_content
    assert parsed.remote_hosts == (
        "cdn.nordlicht.example",
        "t.mailtrack.example",
        "pixel.adsnoop.example",
    )
    assert "3 remote images blocked (1 of them tracking pixels)" in parsed.problems
    assert 'data-remote-src="https://t.mailtrack.example/open?u=8842&amp;m=31"' in parsed.html
    assert 'data-remote-src="https://pixel.adsnoop.example/o.gif"' in parsed.html
    assert loading_attributes(parsed.html) == []
    assert "paper.jpg" not in parsed.html
    assert "cell.png" not in parsed.html


def test_a_mail_without_remote_images_says_so() -> None:
    parsed = sample("base64_qp.eml")

    assert not parsed.has_remote_content
    assert parsed.remote_hosts == ()


def test_allowing_remote_content_turns_remote_images_back_on() -> None:
    parsed = sample("outlook_html_tracking.eml")

    shown = html_with_remote(parsed.html)

    assert 'src="https://cdn.nordlicht.example/spring/banner.jpg"' in shown
    assert 'src="https://t.mailtrack.example/open?u=8842&amp;m=31"' in shown
    assert "data-remote-src" not in shown
    assert 'data-cid="image001.png@01DA7517.5A2B3C40"' in shown


@pytest.mark.parametrize(
    "hostile",
    [
        '<img data-remote-src="javascript:alert(1)">',
        '<img data-remote-src="data:text/html,<script>alert(1)</script>">',
        '<img data-remote-src=" jAvAsCrIpT:alert(1)">',
        '<img data-remote-src="https://ok.example/a.png" onerror="alert(1)">',
        '<img src="x" data-remote-src="vbscript:x"><script>alert(1)</script>',
    ],
)
def test_allowing_remote_content_is_safe_on_hostile_html(hostile: str) -> None:
    shown = html_with_remote(hostile).lower()

    for banned in ("javascript", "vbscript", "data:", "<script", "onerror", 'src="x"'):
        assert banned not in shown


def test_long_html_is_cut_and_stays_well_formed() -> None:
    parsed = parse_email(
        mail(text=None, html="<p>paragraph <b>bold</b></p>" * 1000),
        limits=Limits(max_html_chars=1000),
    )

    assert len(parsed.html) <= 1000
    assert parsed.html.endswith("</p>")
    assert "the HTML was cut at 1,000 characters" in parsed.problems
