"""Raw email bytes as a `ParsedEmail` that is safe to store, show and answer.

Every byte of an inbound mail is written by a stranger, so this module reads
it defensively: `parse_email` never raises, whatever it is given. What it
cannot read is neutralised and recorded in `ParsedEmail.problems` (a broken
header is read as plain text, an unknown charset with replacements, a
dangerous attachment kept as a name and a reason, without its content) so an
agent can see what was changed and why.

The markup of an HTML part is made safe and quiet in `html`; what may be
kept of an attachment, and under which name, is decided in `attachments`.
This module walks the message and reads its headers, text and structure;
other code imports only this one, whose public names are listed in `__all__`.
"""

from __future__ import annotations

import codecs
import email.parser
import email.policy
import io
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.generator import BytesGenerator
from email.header import decode_header, make_header
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any, Final, TypeVar

from hubbub.connectors.email.attachments import MIB, rejection_reason, safe_filename
from hubbub.connectors.email.html import html_with_remote, sanitise_html, text_of_html
from hubbub.connectors.email.sniff import sniff

__all__ = [
    "MIB",
    "Address",
    "Limits",
    "ParsedAttachment",
    "ParsedEmail",
    "html_with_remote",
    "normalize_subject",
    "parse_email",
]

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Limits:
    """How much of a stranger's mail Hubbub is willing to read and keep."""

    max_attachment_bytes: int = 10 * MIB
    max_total_attachment_bytes: int = 25 * MIB
    max_parts: int = 200
    max_depth: int = 10
    max_zip_ratio: int = 100
    max_zip_uncompressed: int = 100 * MIB
    max_text_chars: int = 100_000
    max_html_chars: int = 500_000


@dataclass(frozen=True, slots=True)
class Address:
    """A mailbox: display name and lowercased address ("" when it was not a valid one)."""

    name: str
    address: str


@dataclass(frozen=True, slots=True)
class ParsedAttachment:
    """One attached file. `content` is empty when `rejected` says why it was refused."""

    filename: str
    declared_type: str
    sniffed_type: str
    size: int
    content: bytes
    content_id: str
    inline: bool
    rejected: str


@dataclass(frozen=True, slots=True)
class ParsedEmail:
    """What Hubbub keeps of one inbound mail; every field is safe to store and show."""

    message_id: str
    in_reply_to: str
    references: tuple[str, ...]
    subject: str
    sender: Address
    reply_to: Address | None
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    delivered_to: tuple[str, ...]
    date: datetime | None
    text: str
    html: str
    has_remote_content: bool
    remote_hosts: tuple[str, ...]
    attachments: tuple[ParsedAttachment, ...]
    auto_reply: str
    is_bounce: bool
    bounced_message_id: str
    problems: tuple[str, ...]
    size: int


def parse_email(raw: bytes, *, limits: Limits = Limits()) -> ParsedEmail:
    """Read one raw RFC 5322 message. Never raises, whatever the bytes are.

    Anything that had to be dropped, replaced or refused is described in
    `problems`; a message that cannot be read at all still comes back, with
    its bytes as text.
    """
    try:
        return _parse(raw, limits)
    except Exception as error:
        # The last line of defence: the stdlib parser has had crash bugs on
        # hostile input, and one bad mail must never stop a mailbox sync.
        return _unreadable(raw, error, limits)


_PREFIX = re.compile(
    r"^\s*(?:\[[^\]]{0,100}\]\s*|(?:re|fwd?|aw|sv|vs|wg|antw|r|tr|rv|odp|vb)"
    r"\s*(?:\[\d+\]|\(\d+\))?\s*[:：]\s*)",
    re.IGNORECASE,
)


def normalize_subject(subject: str) -> str:
    """A subject as it reads in every mail of one thread: without Re:/Fwd:/AW:/SV:
    (and RE[2]:) prefixes or [list] tags, whitespace collapsed, casefolded."""
    text = _collapse(subject)
    while True:
        shorter = _PREFIX.sub("", text, count=1)
        if shorter == text:
            return text.strip().casefold()
        text = shorter


# --- Structure -------------------------------------------------------------


@dataclass(slots=True)
class _Reading:
    """What the walk over the MIME tree has found so far (private, mutable)."""

    limits: Limits
    problems: list[str]
    texts: list[str]
    htmls: list[str]
    attachments: list[ParsedAttachment]
    accepted_bytes: int = 0
    bounced_message_id: str = ""


def _parse(raw: bytes, limits: Limits) -> ParsedEmail:
    problems: list[str] = []
    message = _read_structure(raw, problems)
    reading = _Reading(limits=limits, problems=problems, texts=[], htmls=[], attachments=[])
    _walk(message, reading)
    for defect in _defects(message):
        problems.append(f"MIME structure defect: {defect}")
    html = sanitise_html(
        "\n".join(reading.htmls), max_chars=limits.max_html_chars, content_id=_strip_brackets
    )
    problems.extend(html.problems)
    text = "\n\n".join(t for t in reading.texts if t.strip()) or text_of_html(html.markup)
    sender = _first(_addresses(message, "from")) or Address(name="", address="")
    auto_reply, is_bounce = _automatic(message)
    delivered_to = _delivered_to(message)
    return ParsedEmail(
        message_id=_first(_message_ids(message, "message-id")) or "",
        in_reply_to=_first(_message_ids(message, "in-reply-to")) or "",
        references=_kept_references(_message_ids(message, "references")),
        subject=_header_text(message, "subject")[:_MAX_SUBJECT],
        sender=sender,
        reply_to=_first(_addresses(message, "reply-to")),
        to=tuple(_addresses(message, "to")),
        cc=tuple(_addresses(message, "cc")),
        delivered_to=delivered_to,
        date=_date(message),
        text=_capped(text, limits.max_text_chars, "text", problems),
        html=html.markup,
        has_remote_content=html.remote_images > 0,
        remote_hosts=html.remote_hosts,
        attachments=tuple(reading.attachments),
        auto_reply=auto_reply,
        is_bounce=is_bounce,
        bounced_message_id=reading.bounced_message_id if is_bounce else "",
        problems=tuple(dict.fromkeys(problems)),
        size=len(raw),
    )


def _read_structure(raw: bytes, problems: list[str]) -> Message:
    try:
        return email.parser.BytesParser(policy=email.policy.default).parsebytes(raw)
    except Exception as error:
        # Typically a RecursionError from thousands of nested multiparts.
        problems.append(
            f"MIME structure could not be read ({type(error).__name__}); body kept as text"
        )
        return email.parser.BytesParser(policy=email.policy.default).parsebytes(
            raw, headersonly=True
        )


def _unreadable(raw: bytes, error: Exception, limits: Limits) -> ParsedEmail:
    return ParsedEmail(
        message_id="",
        in_reply_to="",
        references=(),
        subject="",
        sender=Address(name="", address=""),
        reply_to=None,
        to=(),
        cc=(),
        delivered_to=(),
        date=None,
        text=_printable(_decode_text(raw, "utf-8", [])[: limits.max_text_chars]),
        html="",
        has_remote_content=False,
        remote_hosts=(),
        attachments=(),
        auto_reply="",
        is_bounce=False,
        bounced_message_id="",
        problems=(f"the message could not be read ({type(error).__name__}); kept as text",),
        size=len(raw),
    )


def _walk(message: Message, reading: _Reading) -> None:
    """Visit the MIME tree depth-first without recursion, within the part and depth limits."""
    limits = reading.limits
    stack: list[tuple[Message, int]] = [(message, 0)]
    seen = 0
    while stack:
        part, depth = stack.pop()
        seen += 1
        if seen > limits.max_parts:
            reading.problems.append(
                f"more than {limits.max_parts} MIME parts; the rest was not read"
            )
            return
        content_type = _content_type(part)
        children = _children(part)
        if content_type.startswith("message/") or not children:
            _read_leaf(part, content_type, reading)
        elif depth >= limits.max_depth:
            reading.problems.append(
                f"MIME parts nested deeper than {limits.max_depth} levels were not read"
            )
        else:
            stack.extend((child, depth + 1) for child in reversed(children))


def _read_leaf(part: Message, content_type: str, reading: _Reading) -> None:
    disposition = _disposition(part)
    raw_filename = _filename(part)
    if content_type.startswith("multipart/"):
        # A multipart without a usable boundary: its payload is all there is.
        reading.problems.append(f"a {content_type} part without a usable boundary was read as text")
        content_type = "text/plain"
    is_body = content_type in ("text/plain", "text/html") and disposition != "attachment"
    if is_body and not raw_filename:
        body = _decode_text(_payload(part), _charset(part), reading.problems)
        (reading.texts if content_type == "text/plain" else reading.htmls).append(body)
        return
    content = _message_body(part) if content_type.startswith("message/") else _payload(part)
    if content_type in ("message/rfc822", "message/global", "text/rfc822-headers"):
        reading.bounced_message_id = reading.bounced_message_id or _embedded_message_id(content)
    content_id = _strip_brackets(_header_text(part, "content-id"))[:_MAX_ID]
    reading.attachments.append(
        _attachment(
            content=content,
            filename=safe_filename(raw_filename, content_type),
            declared_type=content_type,
            content_id=content_id,
            inline=disposition == "inline" or (disposition is None and bool(content_id)),
            reading=reading,
        )
    )


def _attachment(
    *,
    content: bytes,
    filename: str,
    declared_type: str,
    content_id: str,
    inline: bool,
    reading: _Reading,
) -> ParsedAttachment:
    sniffed_type = sniff(content, filename=filename)
    rejected = rejection_reason(
        content,
        filename=filename,
        sniffed_type=sniffed_type,
        accepted_bytes=reading.accepted_bytes,
        limits=reading.limits,
    )
    if rejected:
        reading.problems.append(f"attachment {filename} refused: {rejected}")
    else:
        reading.accepted_bytes += len(content)
    return ParsedAttachment(
        filename=filename,
        declared_type=declared_type,
        sniffed_type=sniffed_type,
        size=len(content),
        content=b"" if rejected else content,
        content_id=content_id,
        inline=inline,
        rejected=rejected,
    )


def _content_type(part: Message) -> str:
    try:
        return part.get_content_type()
    except Exception:
        return "application/octet-stream"


def _disposition(part: Message) -> str | None:
    try:
        return part.get_content_disposition()
    except Exception:
        return "attachment"


def _children(part: Message) -> list[Message]:
    """The parts inside a multipart or message/* part; none for a leaf."""
    try:
        payload = part.get_payload() if part.is_multipart() else None
    except Exception:
        return []
    return [child for child in payload if isinstance(child, Message)] if payload else []


def _payload(part: Message) -> bytes:
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        return b""
    return payload if isinstance(payload, bytes) else b""


def _message_body(part: Message) -> bytes:
    """The body of a message/* part (an attached mail, a delivery status) as bytes."""
    children = _children(part)
    if not children:
        return _payload(part)
    return b"\n".join(_serialised(child) for child in children)


def _serialised(message: Message) -> bytes:
    # compat32 writes headers back as they came; policy.default would refold
    # them and can raise on the broken ones.
    buffer = io.BytesIO()
    try:
        BytesGenerator(buffer, mangle_from_=False, policy=email.policy.compat32).flatten(message)
    except Exception:
        return b""
    return buffer.getvalue()


def _embedded_message_id(content: bytes) -> str:
    try:
        headers = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(content)
    except Exception:
        return ""
    return _first(_message_ids(headers, "message-id")) or ""


def _defects(message: Message) -> list[str]:
    found: list[str] = []
    for part in _parts(message):
        found.extend(_describe_defect(defect) for defect in getattr(part, "defects", ()))
    return found[:_MAX_DEFECTS]


def _parts(message: Message) -> list[Message]:
    """Every part of the tree, iteratively and capped (Message.walk recurses)."""
    found: list[Message] = []
    stack = [message]
    while stack and len(found) < _MAX_PARTS_FOR_DEFECTS:
        part = stack.pop()
        found.append(part)
        stack.extend(_children(part))
    return found


def _describe_defect(defect: object) -> str:
    words = re.sub(r"(?<!^)(?=[A-Z])", " ", type(defect).__name__).lower()
    return words.removesuffix(" defect")


def _filename(part: Message) -> str:
    try:
        name = part.get_filename()
    except Exception:
        return ""
    return _fix_surrogates(name) if isinstance(name, str) else ""


# --- Text ------------------------------------------------------------------


def _charset(part: Message) -> str:
    try:
        charset = part.get_content_charset()
    except Exception:
        return ""
    return charset if isinstance(charset, str) else ""


def _decode_text(data: bytes, declared: str, problems: list[str]) -> str:
    """Declared charset, then UTF-8, then Windows-1252 with replacements."""
    label = _printable(declared.strip().lower())[:_MAX_CHARSET_LABEL]
    codec = _text_codec(label or "us-ascii")
    if codec:
        try:
            return _printable(data.decode(codec))
        except (UnicodeDecodeError, ValueError):
            reason = (
                f"text declared as {label} was not" if label else "text with no charset was not"
            )
            reason += f" valid {label or 'ASCII'}"
    else:
        reason = f"unknown charset {label}"
    try:
        decoded, fallback = data.decode("utf-8"), "read as UTF-8"
    except UnicodeDecodeError:
        decoded = data.decode("cp1252", errors="replace")
        fallback = "read as Windows-1252 with replacements"
    # Undeclared UTF-8 is everyday mail, not a problem worth recording.
    if label or fallback != "read as UTF-8":
        problems.append(f"{reason}, {fallback}")
    return _printable(decoded)


def _text_codec(label: str) -> str:
    """The Python codec for a charset label, or "" when unknown or not a text encoding
    (codecs.lookup also knows "zlib" and "base64", which are not charsets)."""
    try:
        info = codecs.lookup(label)
    except (LookupError, ValueError):
        return ""
    return info.name if getattr(info, "_is_text_encoding", True) else ""


def _printable(text: str) -> str:
    """Text without control characters other than tab and newline, and with
    line endings as newlines."""
    text = _fix_surrogates(text).replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", text)


def _capped(text: str, limit: int, what: str, problems: list[str]) -> str:
    if len(text) <= limit:
        return text
    problems.append(f"the {what} was cut at {limit:,} characters")
    return text[:limit]


def _collapse(text: str) -> str:
    return " ".join(_printable(text).split())


def _fix_surrogates(text: str) -> str:
    # The parser keeps undecodable header bytes as lone surrogates; most are
    # raw UTF-8, and anything else becomes U+FFFD.
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")


# --- Headers ---------------------------------------------------------------


def _header_values(message: Message, name: str) -> list[Any]:
    """Every header called `name`, parsed by policy.default or, if that raises on
    a broken value, as compat32 reads it (a plain decoded string)."""
    values: list[Any] = []
    for raw_name, raw_value in message.raw_items():
        if raw_name.lower() != name:
            continue
        try:
            values.append(email.policy.default.header_fetch_parse(raw_name, raw_value))
        except Exception:
            values.append(_compat_text(raw_value))
    return values


def _compat_text(raw_value: str) -> str:
    try:
        return str(make_header(decode_header(raw_value)))
    except Exception:
        return str(raw_value)


def _header_text(message: Message, name: str) -> str:
    """The first header called `name` as one line of printable text ("" if absent)."""
    values = _header_values(message, name)
    return _collapse(str(values[0])) if values else ""


def _strip_brackets(value: str) -> str:
    """A Content-ID as Hubbub keeps it: printable, without its angle brackets.
    `html` reads the text after "cid:" with this too, so the two always match."""
    return _printable(value).strip().strip("<>").strip()


def _message_ids(message: Message, name: str) -> list[str]:
    """Message ids without angle brackets, in order, deduplicated."""
    found: list[str] = []
    for raw_name, raw_value in message.raw_items():
        if raw_name.lower() != name:
            continue
        value = _fix_surrogates(str(raw_value))
        ids = _BRACKETED_ID.findall(value) or _BARE_ID.findall(value)[:1]
        found.extend(i for i in ids if len(i) <= _MAX_ID)
    return list(dict.fromkeys(found))


def _kept_references(ids: list[str]) -> tuple[str, ...]:
    # The first id names the thread's start, the last ones its recent mails.
    if len(ids) <= _MAX_REFERENCES:
        return tuple(ids)
    return (ids[0], *ids[-(_MAX_REFERENCES - 1) :])


def _addresses(message: Message, name: str) -> list[Address]:
    found: list[Address] = []
    for display_name, addr_spec in _address_pairs(message, name):
        address = Address(
            name=_collapse(display_name)[:_MAX_NAME], address=_valid_address(addr_spec)
        )
        # Garbage and empty groups ("undisclosed-recipients:;") name nobody.
        if address.name or address.address:
            found.append(address)
    return found


def _address_pairs(message: Message, name: str) -> list[tuple[str, str]]:
    """(display name, addr-spec) of every mailbox in the headers called `name`."""
    pairs: list[tuple[str, str]] = []
    for raw_name, raw_value in message.raw_items():
        if raw_name.lower() == name:
            pairs.extend(_mailboxes(raw_name, raw_value))
    return pairs


def _mailboxes(raw_name: str, raw_value: str) -> list[tuple[str, str]]:
    text = _compat_text(raw_value)
    try:
        header = email.policy.default.header_fetch_parse(raw_name, raw_value)
        parsed = [(a.display_name, a.addr_spec) for a in header.addresses]
        defects = header.defects
    except Exception:
        parsed, defects = [], (True,)
    single = _SINGLE_MAILBOX.fullmatch(text)
    if defects and single:
        # The stdlib's recovery from a broken address loses the name (and
        # sometimes takes it for the address); a lone "Name <address>" is
        # read literally instead, and the address then validated.
        return [(single.group(1), single.group(2))]
    if parsed or not defects:
        return parsed
    try:
        return getaddresses([text])
    except Exception:
        return []


def _valid_address(addr_spec: str) -> str:
    address = _fix_surrogates(addr_spec).strip().lower()
    if len(address) > _MAX_ADDRESS or not _ADDRESS.fullmatch(address):
        return ""
    return address


def _first(items: list[_T]) -> _T | None:
    return items[0] if items else None


def _delivered_to(message: Message) -> tuple[str, ...]:
    found = [a.address for name in ("to", "cc") for a in _addresses(message, name)]
    for name in ("delivered-to", "x-original-to"):
        found.extend(_valid_address(addr_spec) for _, addr_spec in _address_pairs(message, name))
    return tuple(dict.fromkeys(a for a in found if a))


def _date(message: Message) -> datetime | None:
    values = _header_values(message, "date")
    if not values:
        return None
    try:
        parsed = getattr(values[0], "datetime", None) or parsedate_to_datetime(str(values[0]))
        if not isinstance(parsed, datetime):
            return None
        # "-0000" means "time zone unknown"; the instant is read as UTC.
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
    except Exception:
        return None


# --- Automatic mail --------------------------------------------------------

_BULK_PRECEDENCE: Final = frozenset({"bulk", "junk", "list", "auto_reply"})
_SUPPRESS_VALUES: Final = frozenset({"all", "oof", "autoreply"})
_MAILER_DAEMONS: Final = frozenset({"mailer-daemon", "postmaster"})


def _automatic(message: Message) -> tuple[str, bool]:
    """(why this mail must never get an automatic answer or "", whether it is a bounce)."""
    content_type = message.get_content_type()
    report_type = _param(message, "report-type").lower()
    if content_type == "multipart/report" and report_type == "delivery-status":
        return "delivery failure report (bounce)", True
    for _, addr_spec in _address_pairs(message, "from"):
        local_part = addr_spec.split("@")[0].strip().lower()
        if local_part in _MAILER_DAEMONS:
            return f"delivery failure report (bounce) from {local_part.upper()}", True
    return _automatic_by_headers(message), False


def _automatic_by_headers(message: Message) -> str:
    auto_submitted = _header_text(message, "auto-submitted").strip().lower()
    if auto_submitted and auto_submitted.split(";")[0].strip() != "no":
        return f"automatic message (Auto-Submitted: {auto_submitted[:40]})"
    precedence = _header_text(message, "precedence").strip().lower()
    if precedence == "list":
        return "mailing list"
    if precedence in _BULK_PRECEDENCE:
        return f"bulk mail (Precedence: {precedence})"
    for name in ("x-autoreply", "x-autorespond"):
        if _header_values(message, name):
            return f"automatic reply ({name.title()})"
    suppress = {
        v.strip().lower() for v in _header_text(message, "x-auto-response-suppress").split(",")
    }
    if suppress & _SUPPRESS_VALUES:
        return "the sender asked for no automatic replies (X-Auto-Response-Suppress)"
    if _header_values(message, "list-id") or _header_values(message, "list-unsubscribe"):
        return "mailing list"
    if _header_text(message, "return-path").strip() == "<>":
        return "sent with an empty return path (an automatic message or bounce)"
    return ""


def _param(message: Message, name: str) -> str:
    try:
        value = message.get_param(name)
    except Exception:
        return ""
    return value if isinstance(value, str) else ""


_MAX_REFERENCES: Final = 100
_MAX_SUBJECT: Final = 300
_MAX_ID: Final = 250
_MAX_NAME: Final = 200
_MAX_ADDRESS: Final = 254
_MAX_CHARSET_LABEL: Final = 40
_MAX_DEFECTS: Final = 20
_MAX_PARTS_FOR_DEFECTS: Final = 1000
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_SINGLE_MAILBOX = re.compile(r'\s*"?([^"<>,]*?)"?\s*<([^<>]*)>\s*')
_BRACKETED_ID = re.compile(r"<([\x21-\x3b\x3d\x3f-\x7e]+)>")
_BARE_ID = re.compile(r"[\x21-\x3b\x3d\x3f-\x7e]+@[\x21-\x3b\x3d\x3f-\x7e]+")
_ADDRESS = re.compile(
    r"[^\x00-\x20\x7f@<>()\[\],;:\"\\]{1,64}@(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+[^\W\d_][\w-]{0,62}"
)
