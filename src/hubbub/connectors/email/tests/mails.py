"""Mail to test with: the recorded samples, builders for messages a test needs,
and a check that reads HTML the way a browser decides what to fetch.

Shared by the specifications of `parse_email` (test_mime), of what it makes
of HTML (test_html) and of attachments (test_attachments).
"""

from __future__ import annotations

import base64
import io
import zipfile
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path

from hubbub.connectors.email.mime import ParsedAttachment, ParsedEmail, parse_email

SAMPLES = Path(__file__).parent / "samples"
SAMPLE_NAMES = sorted(path.name for path in SAMPLES.glob("*.eml"))
# A 16×16 red square, the same one the samples carry.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAIAAACQkWg2AAAAFklEQVR4nGM4ISdHEmIY1TCqYfhq"
    "AADkYgQQ60fIxgAAAABJRU5ErkJggg=="
)


def sample(name: str) -> ParsedEmail:
    return parse_email((SAMPLES / name).read_bytes())


def mail(
    *,
    text: str | None = "Hello",
    html: str | None = None,
    headers: dict[str, str] | None = None,
    attachments: tuple[tuple[bytes, str, str], ...] = (),
) -> bytes:
    """A message as a mail client would send it: text, HTML and attachments
    given as (content, MIME type, filename)."""
    message = EmailMessage()
    message["From"] = "Customer <customer@example.com>"
    message["To"] = "support@acme.test"
    message["Subject"] = "Help"
    message["Message-ID"] = "<m1@example.com>"
    for name, value in (headers or {}).items():
        del message[name]
        message[name] = value
    if text is not None:
        message.set_content(text)
    if html is not None:
        if text is None:
            message.set_content(html, subtype="html")
        else:
            message.add_alternative(html, subtype="html")
    for content, mime_type, filename in attachments:
        maintype, subtype = mime_type.split("/")
        message.add_attachment(content, maintype=maintype, subtype=subtype, filename=filename)
    return message.as_bytes()


def raw_mail(headers: str, body: str = "Hello\n") -> bytes:
    return (headers.strip("\n") + "\n\n" + body).encode()


def zip_of(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


class _AttributeCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.extend((tag, name) for name, _ in attrs if name in _LOADING_ATTRIBUTES)


_LOADING_ATTRIBUTES = {"src", "srcset", "background", "poster", "dynsrc", "lowsrc", "style"}


def loading_attributes(html: str) -> list[tuple[str, str]]:
    """(tag, attribute) of everything in `html` a browser would fetch on its own,
    as an independent parser (the stdlib's) reads it."""
    collector = _AttributeCollector()
    collector.feed(html)
    collector.close()
    return collector.found


def attachment_named(parsed: ParsedEmail, filename: str) -> ParsedAttachment:
    return next(a for a in parsed.attachments if a.filename == filename)
