"""Which of a stranger's attachments Hubbub keeps, and the names it keeps them under.

An attachment is where a mail can do the most harm: a program that runs when
an agent opens it, an archive that expands until the disk is full, a name
that climbs out of its folder ("../../x") or hides its real extension
behind a right-to-left override. The checks here decide from the bytes (as
`sniff` reads them) and the name, and never decompress anything.

This lives apart from `mime`, which finds the attachments in the message
structure, because the refusal rules are a policy of their own that grows
(new executable types, new archive formats) independently of MIME parsing.
"""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from typing import TYPE_CHECKING, Final

from hubbub.connectors.email.sniff import EXECUTABLE_TYPES, GZIP, ZIP_TYPES

if TYPE_CHECKING:
    from hubbub.connectors.email.mime import Limits

MIB: Final = 1024 * 1024

_EXECUTABLE_EXTENSIONS: Final = frozenset(
    "exe bat cmd com scr pif msi msp js jse vbs vbe wsf wsh hta cpl jar ps1 lnk reg dll"  # noqa: SIM905
    " scf app gadget application".split()
)
_GZIP_MINIMUM: Final = 18
_MAX_FILENAME: Final = 150
_MAX_EXTENSION: Final = 10
# Control, format (bidirectional overrides like U+202E), surrogate, private use, unassigned.
_UNSAFE_CATEGORIES: Final = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})
_DEFAULT_EXTENSIONS: Final = {
    "message/rfc822": ".eml",
    "message/global": ".eml",
    "message/delivery-status": ".txt",
    "text/rfc822-headers": ".txt",
    "text/calendar": ".ics",
}


def rejection_reason(
    content: bytes, *, filename: str, sniffed_type: str, accepted_bytes: int, limits: Limits
) -> str:
    """Why this attachment must not be kept, or "" when it may be.

    `accepted_bytes` is what the same mail's attachments kept so far add up to;
    `filename` is the name as `safe_filename` made it.
    """
    if len(content) > limits.max_attachment_bytes:
        return f"over the {_megabytes(limits.max_attachment_bytes)} limit"
    if accepted_bytes + len(content) > limits.max_total_attachment_bytes:
        return f"over the {_megabytes(limits.max_total_attachment_bytes)} total for one email"
    if sniffed_type in EXECUTABLE_TYPES or _is_executable_name(filename):
        return "executable file type"
    if sniffed_type in ZIP_TYPES:
        return _zip_rejection(content, limits)
    if sniffed_type == GZIP:
        return _gzip_rejection(content, limits)
    return ""


def safe_filename(name: str, content_type: str) -> str:
    """A name that is only a name: no folders, no control or direction-changing
    characters, no leading dots, at most 150 characters with the extension kept."""
    base = re.split(r"[/\\]", name)[-1]
    kept = "".join(ch for ch in base if unicodedata.category(ch) not in _UNSAFE_CATEGORIES)
    # Every control character and surrogate is gone already (categories Cc
    # and Cs), so collapsing the white space is all the cleaning left.
    kept = " ".join(kept.split()).strip(" .")
    if not kept:
        return "attachment" + _DEFAULT_EXTENSIONS.get(content_type, "")
    if len(kept) <= _MAX_FILENAME:
        return kept
    stem, dot, extension = kept.rpartition(".")
    if dot and 0 < len(extension) <= _MAX_EXTENSION:
        return stem[: _MAX_FILENAME - len(extension) - 1] + "." + extension
    return kept[:_MAX_FILENAME]


def _zip_rejection(content: bytes, limits: Limits) -> str:
    # Only the central directory is read: nothing is ever decompressed here.
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            entries = archive.infolist()
    except Exception:
        return "a compressed archive that could not be read"
    expanded = sum(max(entry.file_size, 0) for entry in entries)
    rejected = _expansion_rejection(expanded, len(content), limits)
    if rejected:
        return rejected
    for entry in entries:
        if _is_executable_name(entry.filename):
            name = safe_filename(entry.filename, "")
            return f"a compressed archive that contains an executable file ({name})"
    return ""


def _gzip_rejection(content: bytes, limits: Limits) -> str:
    # A gzip member ends with ISIZE: the uncompressed size modulo 2**32.
    if len(content) < _GZIP_MINIMUM:
        return "a compressed archive that could not be read"
    expanded = int.from_bytes(content[-4:], "little")
    return _expansion_rejection(expanded, len(content), limits)


def _expansion_rejection(expanded: int, compressed: int, limits: Limits) -> str:
    if expanded > limits.max_zip_ratio * max(compressed, 1):
        return (
            f"a compressed archive that expands more than {limits.max_zip_ratio} times (zip bomb)"
        )
    if expanded > limits.max_zip_uncompressed:
        return (
            "a compressed archive that expands to more than "
            f"{_megabytes(limits.max_zip_uncompressed)}"
        )
    return ""


def _is_executable_name(filename: str) -> bool:
    # Windows ignores trailing dots and spaces: "setup.exe. " runs as setup.exe.
    name = filename.strip(" .")
    extension = name.rsplit(".", 1)[-1] if "." in name else ""
    return extension.lower() in _EXECUTABLE_EXTENSIONS


def _megabytes(size: int) -> str:
    return f"{size / MIB:g} MB"
