"""An agent's reply as an email that threads under the customer's message.

Mail clients thread by In-Reply-To and References (RFC 5322 §3.6.4), so a
reply carries the parent's id and a trimmed chain of its ancestors. The
Message-ID can be chosen by the caller: it is stored before sending, so a
retried send goes out with the same id and the customer's client shows one
mail, not two.

Every header value here comes from people (names, subjects) or from
configuration: a line break in one would let its author add headers of their
own ("Bob\\r\\nBcc: everyone@…"). Names and subjects have them folded into
spaces; addresses, ids and header names that contain them are refused.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.headerregistry import Address as HeaderAddress
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Final

from hubbub.connectors.email.mime import Address

# The first id names the thread's start; the recent ones carry the threading.
_KEPT_RECENT_REFERENCES: Final = 9
_MAX_SUBJECT: Final = 300

_DOMAIN_PATTERN: Final = r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?"
_DOMAIN = re.compile(_DOMAIN_PATTERN)
_ADDRESS = re.compile(r"[^\s@<>()\[\],;:\"\\]{1,64}@" + _DOMAIN_PATTERN)
_MESSAGE_ID = re.compile(r"[\x21-\x3b\x3d\x3f-\x7e]{1,250}")
_HEADER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,75}")
_LINE_BREAKS_AND_CONTROLS = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\x85]+")
_REPLY_PREFIX = re.compile(r"re\s*:", re.IGNORECASE)
_URL = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)
_URL_TRAILING_PUNCTUATION = ".,;:!?)]}'\""
_SIGNATURE_SEPARATOR = re.compile(r"^-- ?$", re.MULTILINE)
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n+")

# Headers the reply itself sets; extra_headers may not replace them.
_RESERVED_HEADERS: Final = frozenset(
    {
        "from",
        "to",
        "cc",
        "bcc",
        "reply-to",
        "sender",
        "subject",
        "date",
        "message-id",
        "in-reply-to",
        "references",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
        "auto-submitted",
    }
)


def new_message_id(domain: str) -> str:
    """A fresh, globally unique Message-ID at `domain`, without angle brackets."""
    return make_msgid(domain=_checked_domain(domain))[1:-1]


def compose_reply(
    *,
    sender_name: str,
    sender_address: str,
    reply_to: str = "",
    to: Address,
    subject: str,
    body_text: str,
    message_id_domain: str,
    in_reply_to: str = "",
    references: tuple[str, ...] = (),
    extra_headers: Mapping[str, str] | None = None,
    date: datetime | None = None,
    message_id: str | None = None,
) -> EmailMessage:
    """An agent's reply: multipart/alternative (UTF-8 text and its HTML rendering),
    threaded under `in_reply_to`.

    `references` is the parent's References followed by the parent's id (the
    parent's id is appended when missing); the first and the last nine are
    kept. Pass `message_id` to keep the id stable across retries. A human
    wrote this mail, so Auto-Submitted is not set. Raises ValueError for an
    address, id, domain or header name that is not valid (for instance one
    that contains a line break).
    """
    message = EmailMessage()
    message["From"] = _mailbox(sender_name, sender_address)
    message["To"] = _mailbox(to.name, to.address)
    if reply_to:
        message["Reply-To"] = _mailbox("", reply_to)
    message["Subject"] = reply_subject(subject)
    message["Date"] = format_datetime(_utc(date or datetime.now(UTC)))
    message["Message-ID"] = f"<{_checked_id(message_id or new_message_id(message_id_domain))}>"
    parent = _checked_id(in_reply_to) if in_reply_to else ""
    if parent:
        message["In-Reply-To"] = f"<{parent}>"
    chain = thread_references(references, parent)
    if chain:
        message["References"] = " ".join(f"<{reference}>" for reference in chain)
    for name, value in (extra_headers or {}).items():
        message[_checked_header_name(name)] = _one_line(value)
    text = _normalised_body(body_text)
    message.set_content(text, subtype="plain", charset="utf-8")
    message.add_alternative(render_html(text), subtype="html", charset="utf-8")
    for part in message.iter_parts():
        # The stdlib copies MIME-Version into the parts; it belongs on the message only.
        del part["MIME-Version"]
    return message


def reply_subject(subject: str) -> str:
    """The customer's subject with "Re: " in front, unless it already starts with Re:."""
    cleaned = _one_line(subject)[:_MAX_SUBJECT]
    if _REPLY_PREFIX.match(cleaned):
        return cleaned
    return f"Re: {cleaned}".strip()


def thread_references(references: tuple[str, ...], parent: str) -> tuple[str, ...]:
    """The References of a reply: the ancestors, then the parent last, deduplicated,
    kept to the first id and the last nine (RFC 5322 §3.6.4, shortened)."""
    ancestors = [_checked_id(reference) for reference in references if reference.strip()]
    chain = [reference for reference in ancestors if reference != parent]
    unique = list(dict.fromkeys([*chain, parent] if parent else chain))
    if len(unique) <= 1 + _KEPT_RECENT_REFERENCES:
        return tuple(unique)
    return (unique[0], *unique[-_KEPT_RECENT_REFERENCES:])


def render_html(text: str) -> str:
    """The HTML twin of a plain-text reply: escaped, paragraphs from blank lines,
    <br> for single line breaks, http(s) links clickable, the signature (after
    a "-- " line) in a muted paragraph."""
    body, signature = _split_signature(text)
    paragraphs = [_paragraph(chunk) for chunk in _PARAGRAPH_BREAK.split(body.strip()) if chunk]
    if signature.strip():
        paragraphs.append(
            f'<p style="color:#6b7280;font-size:0.9em">{_lines(signature.strip())}</p>'
        )
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"></head>'
        '<body><div style="font-family:sans-serif;font-size:14px;line-height:1.5">'
        + "".join(paragraphs)
        + "</div></body></html>"
    )


def _split_signature(text: str) -> tuple[str, str]:
    # RFC 3676's signature separator is "-- " on a line of its own; the last one wins.
    separators = list(_SIGNATURE_SEPARATOR.finditer(text))
    if not separators:
        return text, ""
    last = separators[-1]
    return text[: last.start()], text[last.end() :]


def _paragraph(chunk: str) -> str:
    return f"<p>{_lines(chunk.strip())}</p>"


def _lines(text: str) -> str:
    return "<br>\n".join(_linkified(line) for line in text.split("\n"))


def _linkified(line: str) -> str:
    """Escape a line, turning http(s) URLs into links (and nothing else)."""
    pieces: list[str] = []
    position = 0
    for match in _URL.finditer(line):
        url = match.group(0).rstrip(_URL_TRAILING_PUNCTUATION)
        pieces.append(html.escape(line[position : match.start()]))
        escaped = html.escape(url, quote=True)
        pieces.append(f'<a href="{escaped}" rel="noopener noreferrer">{escaped}</a>')
        position = match.start() + len(url)
    pieces.append(html.escape(line[position:]))
    return "".join(pieces)


def _mailbox(name: str, address: str) -> HeaderAddress:
    checked = _ascii_address(address.strip())
    if not checked.isascii() or not _ADDRESS.fullmatch(checked):
        # A non-ASCII local part would need SMTPUTF8, which is not assumed.
        raise ValueError(f"not an email address: {address!r}")
    try:
        return HeaderAddress(display_name=_one_line(name), addr_spec=checked)
    except Exception as error:  # the header parser raises its own error types
        raise ValueError(f"not an email address: {address!r}") from error


def _ascii_address(address: str) -> str:
    """`address` with an internationalised domain written in punycode (müller.de →
    xn--mller-kva.de), which every mail server accepts."""
    local_part, at, domain = address.rpartition("@")
    if not at or domain.isascii():
        return address
    try:
        return f"{local_part}@{domain.encode('idna').decode('ascii')}"
    except UnicodeError as error:
        raise ValueError(f"not an email address: {address!r}") from error


def _checked_id(message_id: str) -> str:
    bare = message_id.strip().removeprefix("<").removesuffix(">")
    if not _MESSAGE_ID.fullmatch(bare):
        raise ValueError(f"not a Message-ID: {message_id!r}")
    return bare


def _checked_domain(domain: str) -> str:
    if not _DOMAIN.fullmatch(domain):
        raise ValueError(f"not a domain: {domain!r}")
    return domain


def _checked_header_name(name: str) -> str:
    if not _HEADER_NAME.fullmatch(name) or name.lower() in _RESERVED_HEADERS:
        raise ValueError(f"not an extra header this reply may carry: {name!r}")
    return name


def _one_line(value: str) -> str:
    """A header value on one line: line breaks and control characters become spaces."""
    return " ".join(_LINE_BREAKS_AND_CONTROLS.sub(" ", value).split())


def _normalised_body(text: str) -> str:
    body = text.replace("\r\n", "\n").replace("\r", "\n")
    return body if body.endswith("\n") else body + "\n"


def _utc(moment: datetime) -> datetime:
    # A naive datetime is taken to be UTC already.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
